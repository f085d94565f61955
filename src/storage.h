/*
 * storage: the torrent's byte stream on disk, as the files of the torrent
 * under a download folder.
 *
 * Every call is blocking and thread-safe: the engine runs them on the
 * loop's worker pool, never on the loop thread. Files are opened lazily and
 * kept in a small LRU cache of descriptors shared by all threads.
 *
 * Return values: storage_open() returns 0 or -ERR_* with a struct error
 * filled, like the rest of the library. Every other call is system-facing
 * and returns 0 (or the result documented) or -errno, so the engine can
 * strerror(-rc) and the FUSE layer can reply with it as is. A range or
 * index outside the torrent is -EINVAL.
 *
 * Safety: paths come from the metainfo, which has refused `..`, absolute
 * paths and empty components. Storage also refuses to follow symlinks
 * anywhere below the download folder: each path component is opened with
 * openat() relative to the folder's descriptor and O_NOFOLLOW, so a symlink
 * planted inside the folder (as a directory or as a file) makes the
 * operation fail with -ELOOP or -ENOTDIR instead of redirecting writes
 * outside. Non-regular files (FIFOs, devices) are refused with -EINVAL.
 * The download folder itself, as given by the user, may be a symlink.
 *
 * Sparse semantics: data is written where it belongs and nothing is
 * pre-allocated. The first write to a file sets its length to the full
 * length with ftruncate() (which keeps it sparse). Reads of a file that does
 * not exist yet, of holes, or past a file's current end return zeros:
 * storage cannot tell "not downloaded" from "downloaded zeros"; the
 * engine's verified-pieces bitfield is the authority.
 *
 * BEP 47 padding files (pad = 1) are never created: writes to them are
 * dropped and reads of them return zeros.
 *
 * Limitation: a file deleted or replaced behind storage's back while its
 * descriptor is cached keeps receiving writes in the old inode until the
 * descriptor is evicted or the storage closed. The data is then lost, but
 * resume_matches() sees the change at the next start and forces a recheck.
 */
#ifndef PIECES_STORAGE_H
#define PIECES_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "metainfo.h"
#include "sha1.h"

/* Descriptors kept open at most, across all threads. */
#define STORAGE_MAX_FDS 64
/* Bytes read at once while hashing; a piece is hashed in chunks of this. */
#define STORAGE_CHUNK (1u << 20)
/* storage_recheck() never starts more threads than this. */
#define STORAGE_MAX_THREADS 64

struct storage;

/*
 * Creates the download folder `dir` if missing (with its parents, like
 * mkdir -p) and creates every non-padding 0-byte file of the torrent (empty,
 * with its parent folders), since no write will ever reach them. Other files
 * are created on their first write. mi must outlive the storage (the paths,
 * lengths and piece hashes are used in place). Returns 0 with *out set, or
 * -ERR_IO / -ERR_INVALID / -ERR_NOMEM with err filled.
 */
int storage_open(struct storage **out, const struct metainfo *mi, const char *dir,
		 struct error *err);
/* Closes every cached descriptor (without fsync) and frees. NULL is a no-op. */
void storage_close(struct storage *st);

/*
 * Writes len bytes at `offset` in the torrent's byte stream, across file
 * boundaries, creating files and their folders as needed. When this
 * returns 0 every byte has been handed to the kernel (pwrite returned); it
 * is not on stable storage until storage_sync().
 */
int storage_write(struct storage *st, uint64_t offset, const void *p, size_t len);
/* Reads len bytes at `offset`; missing data reads as zeros (see above). */
int storage_read(struct storage *st, uint64_t offset, void *p, size_t len);
/*
 * The same, except that the part aligned to 4 KiB both in p and in its
 * file (with at least 64 KiB of it) bypasses the page cache (O_DIRECT). For
 * data read once that was written with O_DIRECT (whole pieces): it is not
 * in the cache, and the disk filling p costs less CPU than the kernel
 * filling the cache and copying it out. Falls back to storage_read()'s way
 * where O_DIRECT is refused.
 */
int storage_read_direct(struct storage *st, uint64_t offset, void *p, size_t len);

/*
 * A descriptor lent so a caller can hand file data to the kernel without
 * copying it through user space (splice). Valid until storage_give_back().
 */
struct storage_loan {
	int fd;
	uint64_t file_off; /* where the lent range starts in fd */
	size_t file;	   /* for storage_give_back() */
	int owned;	   /* for storage_give_back() */
};

/*
 * Lends the descriptor of the file that holds [offset, offset+len), which
 * must lie within one file. Returns 0 with *loan filled; 1 when those
 * bytes are not all in the file (padding, a missing or short file: use
 * storage_read(), which reads them as zeros); -EXDEV when the range spans
 * files; or -errno.
 */
int storage_lend(struct storage *st, uint64_t offset, uint64_t len, struct storage_loan *loan);
void storage_give_back(struct storage *st, struct storage_loan *loan);

/* SHA-1 of the piece as it is on disk, read STORAGE_CHUNK bytes at a time. */
int storage_hash_piece(struct storage *st, uint32_t piece, uint8_t out[SHA1_LEN]);
/* 1 if the piece on disk matches its hash in the metainfo, 0 if not, or -errno. */
int storage_verify_piece(struct storage *st, uint32_t piece);

/*
 * Progress of storage_recheck(): `done` pieces of `total` handled so far.
 * Called from recheck's threads, one call at a time (serialized by a
 * mutex), so it must not block for long. Return 0 to go on, non-zero to
 * stop the recheck early.
 */
typedef int (*storage_progress_fn)(void *arg, uint32_t done, uint32_t total);

/*
 * Verifies every piece with nthreads threads (the caller's thread is one of
 * them; 0 means 1, capped at STORAGE_MAX_THREADS), each taking the next
 * piece index from a shared counter. Files are stat()ed first: a piece
 * touching a file that is absent or shorter than its length is marked
 * missing without reading anything. A piece whose read fails is marked
 * missing too (it will be downloaded again). have receives
 * (piece_count + 7) / 8 bytes in BEP 3 order (bit 7 of byte 0 is piece 0),
 * spare bits cleared. progress may be NULL.
 *
 * Returns 0, -ECANCELED when progress asked to stop (have then holds the
 * pieces verified so far), or -ENOMEM.
 */
int storage_recheck(struct storage *st, unsigned nthreads, uint8_t *have,
		    storage_progress_fn progress, void *arg);

/*
 * fsync()s every file written since the previous sync, including files
 * whose descriptor has since left the cache. Returns the first error.
 */
int storage_sync(struct storage *st);

/*
 * Current size and modification time (nanoseconds since the epoch) of file
 * `file` on disk, without following symlinks. -ENOENT when it does not exist
 * (always for padding files), -EINVAL for a bad index or a non-regular file.
 */
int storage_file_stat(struct storage *st, size_t file, uint64_t *size, int64_t *mtime_ns);

size_t storage_file_count(const struct storage *st);
uint32_t storage_piece_count(const struct storage *st);

#endif
