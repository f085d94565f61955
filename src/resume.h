/*
 * resume: remembers which pieces of a torrent are verified on disk, so a
 * restart need not hash the whole download again.
 *
 * The file is a bencoded dictionary (keys in this order):
 *   downloaded     int >= 0, bytes downloaded (statistics only)
 *   files          list, one [size, mtime_sec, mtime_nsec] per file of the
 *                  torrent, as seen when `have` was saved; [-1, 0, 0] for a
 *                  file that did not exist (or a padding file)
 *   have           string, the verified-pieces bitfield, BEP 3 bit order
 *   info-hash      string, 20 bytes
 *   piece-count    int
 *   pieces-resume  int, the format version: 1
 *   uploaded       int >= 0, bytes uploaded (statistics only)
 * Unknown keys are ignored, for later additions.
 *
 * The bitfield is trusted only when every file still has the recorded size
 * and mtime (resume_matches()); otherwise the engine runs storage_recheck().
 *
 * Rules for the engine, which this module cannot enforce:
 *  - Add a piece to the bitfield being saved only after its data has been
 *    written (storage_write() returned 0) and verified.
 *  - Take the file stats (resume_snapshot_files()) AFTER the writes of every
 *    piece in the bitfield; stats taken earlier would not match the files.
 *  - To survive power loss (not just kill -9), call storage_sync() before
 *    resume_save(): the saved file must not claim data the disk lost.
 *  - Only one resume_save() per path at a time.
 */
#ifndef PIECES_RESUME_H
#define PIECES_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "sha1.h"
#include "storage.h"

#define RESUME_VERSION 1
/* Larger resume files are refused before being read. */
#define RESUME_MAX_FILE_SIZE (128u << 20)

struct resume_file {
	int64_t size; /* -1: the file did not exist */
	int64_t mtime_sec;
	int64_t mtime_nsec; /* 0 .. 999999999 */
};

struct resume_state {
	uint8_t info_hash[SHA1_LEN];
	uint32_t piece_count;
	uint8_t *have; /* (piece_count + 7) / 8 bytes, spare bits zero */
	size_t nfiles;
	struct resume_file *files; /* nfiles entries */
	uint64_t uploaded;
	uint64_t downloaded;
};

/* Bytes in the bitfield of piece_count pieces. */
size_t resume_have_len(uint32_t piece_count);

/*
 * Prepares a state for a torrent: an empty bitfield, every file absent,
 * zero counters. Used both to build a state to save and to say what a file
 * being loaded must describe. 0, -ERR_INVALID (0 pieces, too many files) or
 * -ERR_NOMEM.
 */
int resume_state_init(struct resume_state *rs, const uint8_t info_hash[SHA1_LEN],
		      uint32_t piece_count, size_t nfiles);
/* Frees the arrays and zeroes *rs. NULL is a no-op. */
void resume_state_free(struct resume_state *rs);

/*
 * Records the current size and mtime of every file of st into rs->files
 * (rs->nfiles must equal storage_file_count(st)); a file that cannot be
 * stat()ed is recorded as absent. See the rules above for when to call it.
 * 0, or -ERR_INVALID on a file count mismatch.
 */
int resume_snapshot_files(struct resume_state *rs, struct storage *st);

/* Appends the bencoded state to out (whose maximum must allow it). */
int resume_encode(const struct resume_state *rs, struct buf *out);

/*
 * Writes the state to path atomically: the bytes go to "path.tmp", which is
 * fsync()ed and renamed over path, then the folder is fsync()ed. A crash at
 * any moment leaves either the old file or the new one, never a torn one
 * (a stale path.tmp may remain; the next save replaces it). 0, or -ERR_IO /
 * -ERR_NOMEM / -ERR_LIMIT with err filled (messages do not repeat path).
 */
int resume_save(const char *path, const struct resume_state *rs, struct error *err);

/*
 * Parses an untrusted resume file. rs must come from resume_state_init()
 * with the torrent's info-hash, piece count and file count: the file must
 * agree on all three. On success rs->have, files, uploaded and downloaded
 * are replaced; on error rs is unchanged and err names the problem and its
 * byte offset. Codes: ERR_SYNTAX (not bencode), ERR_UNSUPPORTED (another
 * version), ERR_INVALID (wrong torrent, bad bitfield length or spare bits,
 * wrong file list, bad values), ERR_LIMIT, ERR_NOMEM.
 */
int resume_parse(const uint8_t *p, size_t n, struct resume_state *rs, struct error *err);
/* Reads path (at most RESUME_MAX_FILE_SIZE bytes) and parses it; ERR_IO if unreadable. */
int resume_load(const char *path, struct resume_state *rs, struct error *err);

/*
 * 1 when every file of st has the size and mtime recorded in rs (absent
 * files still absent), so rs->have can be trusted without a recheck; 0
 * otherwise, including any stat error or a file count mismatch.
 */
int resume_matches(const struct resume_state *rs, struct storage *st);

#endif
