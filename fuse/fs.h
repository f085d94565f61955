/*
 * fs: the read-only FUSE filesystem of one torrent, served from the
 * engine's poll loop (libfuse low-level API, no threads, no session loop).
 *
 * The FUSE session fd is one more watcher on the loop: each wake-up reads
 * and dispatches a bounded number of requests. Metadata (lookup, getattr,
 * readdir, statfs, xattrs) is answered at once from the tree built from the
 * metainfo. A read of verified data is answered from disk; a read of
 * missing data is parked (at most FS_MAX_PARKED at a time) and answered
 * from fs_piece_verified() once every piece under it is verified, or with
 * EINTR when the kernel interrupts it, or EIO when the mount goes away.
 * docs/fuse.md describes the design.
 */
#ifndef PIECES_FS_H
#define PIECES_FS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "loop.h"
#include "metainfo.h"
#include "torrent.h"

#define FS_MAX_PARKED	 1024u /* parked reads at most; more are answered EIO */
#define FS_REQS_PER_WAKE 16    /* FUSE requests handled per loop wake-up */

struct fs_hooks {
	/* Messages for the user (the CLI decides where they go). */
	void (*log)(void *arg, enum torrent_log_level level, const char *msg);
	/* The kernel ended the session: unmounted (fusermount3 -u, umount) or aborted. */
	void (*unmounted)(void *arg);
	void *arg;
};

struct fs;

/*
 * A filesystem showing mi's files, reading and steering t (which must not
 * be started yet when on_demand is set: every piece then starts at
 * priority 0). mtime is shown as every node's time. NULL with err set.
 */
struct fs *fs_new(struct loop *loop, struct torrent *t, const struct metainfo *mi, int on_demand,
		  int64_t mtime, const struct fs_hooks *hooks, struct error *err);
/*
 * Mounts on mountpoint (read-only; opts are extra -o option strings for
 * libfuse, debug prints every request) and starts serving on the loop.
 * libfuse may print its own reason on stderr when mounting fails.
 * 0 or -ERR_* with err set.
 */
int fs_mount(struct fs *fs, const char *mountpoint, const char *const *opts, size_t nopts,
	     int debug, struct error *err);
/*
 * Leaves: answers every parked read with EIO, stops reading requests and
 * unmounts (lazily, as fusermount3 -u -z: a process still holding a file
 * open then gets ENOTCONN). Idempotent; fine after the kernel already
 * ended the session.
 */
void fs_unmount(struct fs *fs);
/* For torrent_ops.verified: answers the parked reads this piece completes. */
void fs_piece_verified(struct fs *fs, uint32_t piece);
/*
 * For torrent_ops.disk_error: the cache takes no more data for now. The
 * reads parked now fail with err (-errno) rather than wait, as do reads of
 * missing data while the engine pauses (torrent_write_error()); verified
 * data still reads.
 */
void fs_disk_error(struct fs *fs, int err);
/* Reads parked right now. */
unsigned fs_parked(const struct fs *fs);
/* Unmounts if still mounted, then frees. NULL is a no-op. */
void fs_free(struct fs *fs);

#endif
