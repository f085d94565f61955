/*
 * stream: which pieces the readers of a mounted torrent need soon, turned
 * into piece priorities and deadlines for the engine.
 *
 * Three kinds of wishes raise a piece above the background priority:
 *   - a parked read (data a reader is blocked on): STREAM_PRIO_READ with a
 *     deadline a few hundred milliseconds away;
 *   - a reader's readahead window (STREAM_PRIO_AHEAD, deadlines growing
 *     along the window at the reader's own pace);
 *   - the first and last pieces of a file just opened (STREAM_PRIO_AHEAD),
 *     where media containers keep their headers and indexes.
 * Wishes overlap (two readers of one file, a parked read inside a window),
 * so each piece keeps a count of holders per priority level: a piece goes
 * back to the background priority only when its last holder lets go, and
 * its effective priority is the highest level still held.
 *
 * Pure bookkeeping: the engine is reached only through struct stream_ops,
 * time is passed in, nothing here blocks or touches FUSE, so it can be unit
 * tested with a fake engine (tests/test_stream.c). Memory is proportional
 * to the number of held pieces, not to the torrent's size.
 */
#ifndef PIECES_STREAM_H
#define PIECES_STREAM_H

#include <stdint.h>

#define STREAM_PRIO_READ	7u
#define STREAM_PRIO_AHEAD	6u
#define STREAM_PRIO_LEVELS	8u	     /* priorities are 0 .. 7 */
#define STREAM_READ_DEADLINE_MS 300u	     /* a blocked read: due almost at once */
#define STREAM_EDGE_DEADLINE_MS 1000u	     /* first/last pieces of an opened file */
#define STREAM_EDGE_BYTES	(256u << 10) /* ... at least one piece at each end */
#define STREAM_WINDOW_SECS	4u	     /* readahead: this many seconds of reading */
#define STREAM_WINDOW_MIN	(8u << 20)   /* ... but at least this (and 2 pieces) */
#define STREAM_WINDOW_MAX	(256u << 20) /* ... and at most this (unless 2 pieces are more) */
#define STREAM_AHEAD_SLACK_MS	500u	     /* window deadlines: slack before the reader's ETA */
#define STREAM_RATE_FLOOR	(1u << 20)   /* bytes/s assumed while a rate is unknown/slow */
#define STREAM_SEQ_SLACK	(1u << 20)   /* a read this close to the last one is no seek */
#define STREAM_RATE_FIRST_MS	100u	     /* first rate sample after this long */
#define STREAM_RATE_PERIOD_MS	1000u	     /* then one sample per period */

struct stream_ops {
	void (*set_priority)(void *ctx, uint32_t piece, unsigned prio);
	/* deadline_ms is absolute on the caller's clock; 0 clears the deadline. */
	void (*set_deadline)(void *ctx, uint32_t piece, uint64_t deadline_ms);
	/* Nonzero when the piece is verified: such pieces are never held. */
	int (*has_piece)(void *ctx, uint32_t piece);
};

struct stream;
struct stream_reader;

/*
 * Bookkeeping for a torrent of piece_count pieces of piece_len bytes
 * (total bytes in all). base_prio is what a piece returns to when nothing
 * holds it (1 = normal, 0 = --on-demand). NULL on bad sizes or no memory.
 */
struct stream *stream_new(uint32_t piece_count, uint32_t piece_len, uint64_t total,
			  unsigned base_prio, const struct stream_ops *ops, void *ctx);
/* Frees; the engine's priorities are left as they are. NULL is a no-op. */
void stream_free(struct stream *s);

/*
 * Adds one holder at level prio (1 .. 7) to every piece of [first, last]
 * that is not verified, raising its priority when prio is above what it
 * had and, when deadline_ms is not 0, moving its deadline earlier (a held
 * piece keeps the earliest deadline any holder asked for until it is
 * released). Returns how many pieces are newly raised (so the caller knows
 * whether to kick the engine), or -ENOMEM (nothing changed then).
 */
int stream_hold(struct stream *s, uint32_t first, uint32_t last, unsigned prio,
		uint64_t deadline_ms);
/*
 * Removes one holder at level prio from every held piece of [first, last]:
 * the exact inverse of a stream_hold() with the same arguments. Pieces that
 * were verified in between are skipped (stream_piece_verified forgot them).
 */
void stream_release(struct stream *s, uint32_t first, uint32_t last, unsigned prio);
/* A piece was verified: forget its holders (the engine no longer picks it). */
void stream_piece_verified(struct stream *s, uint32_t piece);

/* Effective priority as set through the ops (base_prio when not held). */
unsigned stream_priority(const struct stream *s, uint32_t piece);
/* How many pieces are held right now (0 once every holder let go). */
uint32_t stream_held_count(const struct stream *s);

/*
 * A reader: one open file handle on the file occupying [start, start + len)
 * of the torrent's byte stream. Opening holds the file's first and last
 * pieces (STREAM_EDGE_BYTES at each end) with a deadline. NULL on no memory.
 * *raised (when not NULL) tells whether any piece was raised.
 */
struct stream_reader *stream_reader_new(struct stream *s, uint64_t start, uint64_t len,
					uint64_t now_ms, int *raised);
/*
 * The reader read [off, off + len) (torrent offsets): updates its rate
 * estimate and moves its readahead window to cover the next
 * rate * STREAM_WINDOW_SECS bytes after the read (clamped as above, never
 * past the file's end). A read far from the previous one is a seek: the
 * window jumps. Returns nonzero when pieces were newly raised.
 */
int stream_reader_read(struct stream_reader *r, uint64_t off, uint64_t len, uint64_t now_ms);
/* Releases everything the reader holds and frees it. NULL is a no-op. */
void stream_reader_free(struct stream_reader *r);

/* The window as pieces [*first, *end) (empty when equal), for tests and logs. */
void stream_reader_window(const struct stream_reader *r, uint32_t *first, uint32_t *end);
/* Observed read rate in bytes/s (0 until the first sample). */
double stream_reader_rate(const struct stream_reader *r);

#endif
