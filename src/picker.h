/*
 * picker: decides which blocks to request next, for the download engine and
 * for the FUSE layer (which raises priorities and sets deadlines for pieces a
 * reader is waiting on). It sees the swarm only through this API: the caller
 * reports what peers have and what happened to each request; the picker
 * never touches a socket, a clock or the disk.
 *
 * Pieces are split into PICKER_BLOCK_SIZE blocks (the last block of a piece,
 * and the last piece, may be short). A piece is "fresh" until one of its
 * blocks is requested or received, then "partial" (per-block state exists
 * only for partial pieces), then, once the caller has verified it, "have".
 * Each block of a partial piece is missing, requested (with a count of
 * outstanding requests) or received.
 *
 * Order of picking (picker_pick):
 *  1. pieces with a deadline, earliest first, whatever their rarity;
 *  2. then, priority 7 down to 1 (0 = never download):
 *     a. partial pieces, to finish them and free their memory,
 *     b. while fewer than PICKER_RANDOM_FIRST pieces are complete, a few
 *        random pieces, so that we soon have something to trade,
 *     c. rarest first (fewest peers have it), ties broken at random;
 *  3. in endgame only (see below), duplicate requests.
 *
 * Endgame: when every block we still want is already requested (or
 * received), picker_pick also returns blocks already requested from other
 * peers, fewest outstanding requests first, while a block has fewer than
 * PICKER_MAX_DUPLICATES requests out. Blocks of a piece whose deadline has
 * passed are duplicated the same way at any time: all urgent ones
 * (PICKER_PRIO_MAX), and the PICKER_DUP_DEADLINES earliest of the others. The picker only counts
 * requests per block; it does not know which peer holds them, so the caller
 * passes a skip() callback in struct picker_peer ("is this block already
 * requested from this peer?"), which it can answer from its own per-peer
 * queue. Without one, a duplicate may name a block this peer already has in
 * flight, and the caller must drop it. When a block arrives, the caller
 * cancels the other outstanding requests for it.
 *
 * The caller must call picker_block_requested() for each block it actually
 * requests before the next pick: picking changes no state, so until then the
 * same blocks would be offered again.
 *
 * Cost (N pieces, P partial pieces, D pieces with deadlines):
 *  - peer_have, set_have, set_priority, block_*: O(1) (set_have, set_deadline
 *    and piece_failed add O(D) to drop a deadline);
 *  - peer_bitfield/peer_gone: O(N);
 *  - pick: O(D + 7P + 7 * 16 words of bucket bitmap + pieces looked at):
 *    fresh pieces sit in doubly linked lists bucketed by (priority,
 *    availability), so the scan starts at the rarest piece; the only wasted
 *    steps are fresh pieces this peer lacks that are rarer than the ones it
 *    has. Availability above PICKER_AVAIL_BUCKETS - 2 shares one bucket: the
 *    order among very common pieces does not matter.
 * Memory: 18 bytes per piece plus one byte per block of partial pieces.
 */
#ifndef PIECES_PICKER_H
#define PIECES_PICKER_H

#include <stddef.h>
#include <stdint.h>

#define PICKER_BLOCK_SIZE     16384u
#define PICKER_PRIO_SKIP      0
#define PICKER_PRIO_NORMAL    1
#define PICKER_PRIO_MAX	      7
#define PICKER_RANDOM_FIRST   4	  /* random order until this many pieces are complete */
#define PICKER_MAX_DUPLICATES 4	  /* endgame stops duplicating a block at this many requests */
#define PICKER_DUP_DEADLINES  2	  /* overdue deadline pieces duplicated at a time */
#define PICKER_MAX_REQUESTS   254 /* outstanding requests one block can count */
#define PICKER_MAX_PIECES     (1u << 22)
#define PICKER_AVAIL_BUCKETS  1024u

/* picker_block_received() results besides errors. */
#define PICKER_INCOMPLETE 0 /* stored; the piece still lacks blocks */
#define PICKER_COMPLETE	  1 /* every block is in: verify the piece now */
#define PICKER_DUPLICATE  2 /* we already had this block: discard the data */

struct picker;

struct picker_block {
	uint32_t piece;
	uint32_t block;	 /* index of the block within the piece */
	uint32_t begin;	 /* byte offset within the piece */
	uint32_t length; /* bytes; PICKER_BLOCK_SIZE except at the end of a piece */
};

/* The peer we pick for. */
struct picker_peer {
	const uint8_t *bits; /* its bitfield (BEP 3 bit order), or NULL when it has every piece */
	/* Optional: nonzero means "do not return this block", e.g. already requested from
	 * this peer. Called for each candidate block. PICKER_SKIP_PIECE skips the rest of
	 * the piece as well, which saves a call per block when a whole piece is unwanted. */
	int (*skip)(void *ctx, uint32_t piece, uint32_t block);
	void *ctx;
	/* Nonzero: offer only pieces already started and pieces with a deadline, e.g.
	 * when the caller has no memory left to assemble another piece. */
	int partials_only;
};

#define PICKER_SKIP_BLOCK 1
#define PICKER_SKIP_PIECE 2

/*
 * A picker for piece_count pieces of piece_len bytes, total_len bytes in all
 * (the last piece holds the rest). Every piece starts at normal priority,
 * missing, with availability 0. seed makes the random choices repeatable.
 * NULL on inconsistent sizes, more than PICKER_MAX_PIECES pieces, or no memory.
 */
struct picker *picker_new(uint32_t piece_count, uint32_t piece_len, uint64_t total_len,
			  uint64_t seed);
void picker_free(struct picker *p);

/*
 * Availability. Fresh pieces are only offered once some peer was reported
 * to have them, so report a peer's pieces before picking for it. bits NULL
 * means every piece (a seed, or BEP 6 have-all). peer_gone takes the bits
 * the departing peer had. Counts never go below zero.
 * Return 0, or -ERR_INVALID for a piece out of range.
 */
int picker_peer_have(struct picker *p, uint32_t piece);
void picker_peer_bitfield(struct picker *p, const uint8_t *bits);
void picker_peer_gone(struct picker *p, const uint8_t *bits);

/*
 * Piece state. set_have: the piece is verified (its block state is freed, its
 * deadline dropped; it is never picked again). piece_failed: the hash check
 * failed, or a piece we had failed a re-check: all its blocks are missing
 * again. Return 0 or -ERR_INVALID.
 */
int picker_set_have(struct picker *p, uint32_t piece);
int picker_piece_failed(struct picker *p, uint32_t piece);

/*
 * prio 0 (skip: never picked, even with a deadline) .. 7 (urgent); normal is
 * 1. deadline_ms is an absolute time on the caller's clock (the now_ms passed
 * to picker_pick); 0 clears it. A deadline on a piece we have is ignored.
 * Return 0, -ERR_INVALID or -ERR_NOMEM.
 */
int picker_set_priority(struct picker *p, uint32_t piece, unsigned prio);
int picker_set_deadline(struct picker *p, uint32_t piece, uint64_t deadline_ms);

/*
 * Writes up to max blocks the peer has and we should request into out, in
 * the order described above, and returns how many (0 when there is nothing
 * to ask this peer for). It cannot fail: picking allocates nothing.
 * picker_pick(p, bits, ...) is picker_pick_peer with no skip callback; a NULL
 * peer has every piece.
 */
int picker_pick(struct picker *p, const uint8_t *peer_bits, uint32_t max, struct picker_block *out,
		uint64_t now_ms);
int picker_pick_peer(struct picker *p, const struct picker_peer *peer, uint32_t max,
		     struct picker_block *out, uint64_t now_ms);

/*
 * Request bookkeeping. requested: one more request is outstanding (0,
 * -ERR_INVALID for a block already received or of a piece we have,
 * -ERR_LIMIT past PICKER_MAX_REQUESTS, -ERR_NOMEM). received: returns
 * PICKER_COMPLETE when this block completed the piece, PICKER_INCOMPLETE, or
 * PICKER_DUPLICATE (data we already have; unrequested blocks are accepted).
 * cancelled/timed_out: one request fewer; at zero the block is missing
 * again. They are no-ops for blocks no longer outstanding (received, or
 * reset by piece_failed), so late cancels are harmless.
 */
int picker_block_requested(struct picker *p, uint32_t piece, uint32_t block);
int picker_block_received(struct picker *p, uint32_t piece, uint32_t block);
int picker_block_cancelled(struct picker *p, uint32_t piece, uint32_t block);
int picker_block_timed_out(struct picker *p, uint32_t piece, uint32_t block);

/* Nonzero when pieces are still wanted but every block of them is requested or received. */
int picker_in_endgame(const struct picker *p);
/* Nonzero when every piece of priority > 0 is had. */
int picker_complete(const struct picker *p);
/* Pieces we lack that have a deadline: someone is waiting for data. */
uint32_t picker_deadline_count(const struct picker *p);
/*
 * Requests to keep in flight to a peer sending `rate` bytes/s whose round
 * trip is about rtt_s, so that `seconds` of its rate wait at the peer on
 * top of what is on the way: rate * (rtt_s + seconds) in blocks, clamped
 * to [lo, hi].
 */
unsigned picker_queue_depth(double rate, double rtt_s, double seconds, unsigned lo, unsigned hi);
/*
 * A peer's probe queue after one of its blocks came backlog_ms later than
 * its quickest answer ever did: one more while that is under half of
 * `seconds` (the link is not full yet: a queue grown by one per answer
 * doubles every round trip, the way TCP's slow start does), none once it
 * is over `seconds`, unchanged between. Never above hi.
 */
unsigned picker_queue_probe(unsigned probe, uint64_t backlog_ms, double seconds, unsigned hi);

/* Queries; out-of-range pieces give 0. */
int picker_has(const struct picker *p, uint32_t piece);
uint32_t picker_have_count(const struct picker *p);
uint32_t picker_availability(const struct picker *p, uint32_t piece);
unsigned picker_priority(const struct picker *p, uint32_t piece);
uint32_t picker_piece_size(const struct picker *p, uint32_t piece);
uint32_t picker_block_count(const struct picker *p, uint32_t piece);

#endif
