/*
 * Tests for the piece picker, driven by fake swarms: rarest first, random
 * first pieces, partial pieces, priorities, deadlines, failed pieces,
 * endgame, and a 10,000-peer simulation that downloads everything.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "picker.h"
#include "torrent.h"

#define B PICKER_BLOCK_SIZE

/* The tests' own generator, so fake swarms are the same on every run. */
static uint64_t test_rng_state;

static void
test_srand(uint64_t s)
{
	test_rng_state = s * 2654435761u + 1;
}

static uint32_t
test_rand(void)
{
	uint64_t x = test_rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	test_rng_state = x;
	return (uint32_t)(x >> 11);
}

static void
set_bit(uint8_t *bits, uint32_t i)
{
	bits[i / 8] |= (uint8_t)(0x80u >> (i % 8));
}

static int
get_bit(const uint8_t *bits, uint32_t i)
{
	return (bits[i / 8] >> (7 - i % 8)) & 1;
}

/* Bits for n pieces, each set with probability pct/100. */
static uint8_t *
random_bits(uint32_t n, unsigned pct)
{
	uint8_t *bits = calloc((n + 7) / 8, 1);
	uint32_t i;

	cr_assert_not_null(bits);
	for (i = 0; i < n; i++)
		if (test_rand() % 100 < pct)
			set_bit(bits, i);
	return bits;
}

static uint8_t *
all_bits_but(uint32_t n, uint32_t missing)
{
	uint8_t *bits = calloc((n + 7) / 8, 1);
	uint32_t i;

	cr_assert_not_null(bits);
	for (i = 0; i < n; i++)
		if (i != missing)
			set_bit(bits, i);
	return bits;
}

Test(picker, geometry_and_bad_sizes)
{
	struct picker *p;

	cr_assert_null(picker_new(0, B, 0, 1));
	cr_assert_null(picker_new(4, 0, 10, 1));
	cr_assert_null(picker_new(4, B, 3 * (uint64_t)B, 1));	  /* last piece would be empty */
	cr_assert_null(picker_new(4, B, 4 * (uint64_t)B + 1, 1)); /* does not fit */
	cr_assert_null(
	    picker_new(PICKER_MAX_PIECES + 1, B, (uint64_t)B * (PICKER_MAX_PIECES + 1), 1));
	p = picker_new(3, 40000, 2 * 40000 + 100, 1);
	cr_assert_not_null(p);
	cr_assert_eq(picker_piece_size(p, 0), 40000);
	cr_assert_eq(picker_piece_size(p, 2), 100);
	cr_assert_eq(picker_piece_size(p, 3), 0);
	cr_assert_eq(picker_block_count(p, 0), 3);
	cr_assert_eq(picker_block_count(p, 2), 1);
	cr_assert_eq(picker_priority(p, 1), PICKER_PRIO_NORMAL);
	picker_free(p);
	picker_free(NULL);
}

Test(picker, block_lengths_in_picks)
{
	struct picker *p = picker_new(2, 40000, 40000 + 100, 1);
	struct picker_block out[8];
	int n, i;
	uint32_t sum = 0;

	picker_peer_bitfield(p, NULL);
	n = picker_pick(p, NULL, 8, out, 0);
	cr_assert_eq(n, 4);
	for (i = 0; i < n; i++) {
		cr_assert_eq(out[i].begin, out[i].block * B);
		sum += out[i].length;
	}
	cr_assert_eq(sum, 40000 + 100);
	picker_free(p);
}

Test(picker, availability_counts)
{
	struct picker *p = picker_new(10, B, 10 * (uint64_t)B, 1);
	uint8_t bits[2] = {0xa0, 0x40}; /* pieces 0, 2, 9 */

	picker_peer_bitfield(p, bits);
	picker_peer_bitfield(p, NULL);
	cr_assert_eq(picker_peer_have(p, 2), 0);
	cr_assert_eq(picker_peer_have(p, 10), -ERR_INVALID);
	cr_assert_eq(picker_availability(p, 0), 2);
	cr_assert_eq(picker_availability(p, 1), 1);
	cr_assert_eq(picker_availability(p, 2), 3);
	cr_assert_eq(picker_availability(p, 9), 2);
	picker_peer_gone(p, bits);
	picker_peer_gone(p, NULL);
	picker_peer_gone(p, NULL); /* more departures than arrivals: clamps at 0 */
	cr_assert_eq(picker_availability(p, 2), 0);
	cr_assert_eq(picker_availability(p, 0), 0);
	picker_free(p);
}

Test(picker, nothing_offered_that_no_peer_has)
{
	struct picker *p = picker_new(10, B, 10 * (uint64_t)B, 1);
	struct picker_block out[4];
	int i;

	for (i = 0; i < 4; i++)
		picker_set_have(p, (uint32_t)i);
	cr_assert_eq(picker_pick(p, NULL, 4, out, 0), 0);
	picker_peer_have(p, 7);
	cr_assert_eq(picker_pick(p, NULL, 4, out, 0), 1);
	cr_assert_eq(out[0].piece, 7);
	picker_free(p);
}

/* Rarest first on a fake swarm: each pick is a rarest piece the peer has. */
Test(picker, rarest_first_fake_swarm)
{
	enum { N = 200, PEERS = 60 };
	struct picker *p = picker_new(N, B, N * (uint64_t)B, 42);
	uint8_t *bits[PEERS];
	uint8_t *mine;
	uint8_t requested[N] = {0};
	struct picker_block out;
	uint32_t i, last = 0, picks = 0, min;
	int k;

	test_srand(7);
	for (i = 0; i < PEERS; i++) {
		bits[i] = random_bits(N, 5 + test_rand() % 90);
		picker_peer_bitfield(p, bits[i]);
	}
	for (i = 0; i < 4; i++) { /* past the random first pieces */
		picker_set_have(p, i);
		requested[i] = 1;
	}
	mine = random_bits(N, 70);
	for (;;) {
		k = picker_pick(p, mine, 1, &out, 0);
		if (k == 0)
			break;
		cr_assert_eq(k, 1);
		cr_assert(get_bit(mine, out.piece));
		cr_assert_not(requested[out.piece]);
		min = UINT32_MAX;
		for (i = 0; i < N; i++)
			if (!requested[i] && get_bit(mine, i) && picker_availability(p, i) > 0 &&
			    picker_availability(p, i) < min)
				min = picker_availability(p, i);
		cr_assert_eq(picker_availability(p, out.piece), min, "piece %u avail %u, min %u",
			     out.piece, picker_availability(p, out.piece), min);
		cr_assert_geq(min, last);
		last = min;
		requested[out.piece] = 1;
		cr_assert_eq(picker_block_requested(p, out.piece, 0), 0);
		picks++;
	}
	/* Every wanted piece the peer has was offered exactly once. */
	for (i = 4; i < N; i++)
		cr_assert_eq(requested[i], get_bit(mine, i) && picker_availability(p, i) > 0);
	cr_assert_gt(picks, 50);
	for (i = 0; i < PEERS; i++)
		free(bits[i]);
	free(mine);
	picker_free(p);
}

static void
first_picks(uint64_t seed, uint32_t *order, int n)
{
	enum { N = 500 };
	struct picker *p = picker_new(N, B, N * (uint64_t)B, seed);
	struct picker_block out;
	int i;

	picker_peer_bitfield(p, NULL);
	for (i = 0; i < 4; i++)
		picker_set_have(p, (uint32_t)i);
	for (i = 0; i < n; i++) {
		cr_assert_eq(picker_pick(p, NULL, 1, &out, 0), 1);
		order[i] = out.piece;
		picker_block_requested(p, out.piece, 0);
	}
	picker_free(p);
}

/* Equal rarity: the tie-break is random but repeatable from the seed. */
Test(picker, tie_break_depends_on_seed_only)
{
	uint32_t a[20], b[20], c[20];
	int i, same_ac = 1, sequential = 1;

	first_picks(1, a, 20);
	first_picks(1, b, 20);
	first_picks(2, c, 20);
	cr_assert_eq(memcmp(a, b, sizeof a), 0);
	for (i = 0; i < 20; i++) {
		if (a[i] != c[i])
			same_ac = 0;
		if (i > 0 && a[i] != a[i - 1] + 1)
			sequential = 0;
	}
	cr_assert_not(same_ac);
	cr_assert_not(sequential);
}

/* Until 4 pieces are complete, pieces are chosen at random, not rarest first. */
Test(picker, random_first_pieces)
{
	enum { N = 1000, RARE = 500 };
	uint8_t *most = all_bits_but(N, RARE);
	struct picker_block out;
	unsigned seed, rare_first = 0;
	uint32_t i;

	for (seed = 1; seed <= 20; seed++) {
		struct picker *p = picker_new(N, B, N * (uint64_t)B, seed);

		picker_peer_bitfield(p, NULL);
		picker_peer_bitfield(p, most); /* piece RARE has availability 1, others 2 */
		cr_assert_eq(picker_pick(p, NULL, 1, &out, 0), 1);
		rare_first += out.piece == RARE;
		for (i = 0; i < 4; i++)
			picker_set_have(p, i == RARE ? 999 : i);
		cr_assert_eq(picker_pick(p, NULL, 1, &out, 0), 1);
		cr_assert_eq(out.piece, RARE, "seed %u", seed);
		picker_free(p);
	}
	cr_assert_leq(rare_first, 2);
	free(most);
}

/* Setup: 8 pieces of 4 blocks, pieces 0..3 had, piece 6 the rarest. */
static struct picker *
eight_pieces(void)
{
	struct picker *p = picker_new(8, 4 * B, 8 * 4 * (uint64_t)B, 3);
	uint8_t *most = all_bits_but(8, 6);
	uint32_t i;

	picker_peer_bitfield(p, NULL);
	picker_peer_bitfield(p, most);
	for (i = 0; i < 4; i++)
		picker_set_have(p, i);
	free(most);
	return p;
}

Test(picker, partial_pieces_first)
{
	struct picker *p = eight_pieces();
	struct picker_block out[8];
	int n, i;

	cr_assert_eq(picker_pick(p, NULL, 1, out, 0), 1);
	cr_assert_eq(out[0].piece, 6);
	/* Start piece 5, which is common: it is finished before the rare piece 6 starts. */
	cr_assert_eq(picker_block_requested(p, 5, 2), 0);
	n = picker_pick(p, NULL, 8, out, 0);
	cr_assert_eq(n, 8);
	cr_assert_eq(out[0].piece, 5);
	cr_assert_eq(out[0].block, 0);
	cr_assert_eq(out[1].block, 1);
	cr_assert_eq(out[2].block, 3);
	for (i = 3; i < 7; i++) {
		cr_assert_eq(out[i].piece, 6);
		cr_assert_eq(out[i].block, (uint32_t)i - 3);
	}
	picker_free(p);
}

Test(picker, higher_priority_first_and_zero_never)
{
	struct picker *p = eight_pieces();
	struct picker_block out[32];
	int n, i;

	cr_assert_eq(picker_set_priority(p, 4, 7), 0);
	cr_assert_eq(picker_set_priority(p, 7, 3), 0);
	cr_assert_eq(picker_set_priority(p, 6, PICKER_PRIO_SKIP), 0);
	cr_assert_eq(picker_set_priority(p, 5, 8), -ERR_INVALID);
	n = picker_pick(p, NULL, 32, out, 0);
	cr_assert_eq(n, 12);
	for (i = 0; i < 4; i++)
		cr_assert_eq(out[i].piece, 4);
	for (i = 4; i < 8; i++)
		cr_assert_eq(out[i].piece, 7);
	for (i = 8; i < 12; i++)
		cr_assert_eq(out[i].piece, 5);
	/* Skipped even once everything else is requested, and not needed to complete. */
	for (i = 0; i < n; i++)
		picker_block_requested(p, out[i].piece, out[i].block);
	cr_assert(picker_in_endgame(p));
	for (i = 0; i < n; i++)
		picker_block_received(p, out[i].piece, out[i].block);
	cr_assert_eq(picker_pick(p, NULL, 32, out, 0), 0);
	picker_set_have(p, 4);
	picker_set_have(p, 5);
	picker_set_have(p, 7);
	cr_assert(picker_complete(p));
	cr_assert_not(picker_in_endgame(p));
	/* Raising it again makes it wanted. */
	picker_set_priority(p, 6, 1);
	cr_assert_not(picker_complete(p));
	cr_assert_eq(picker_pick(p, NULL, 32, out, 0), 4);
	cr_assert_eq(out[0].piece, 6);
	picker_free(p);
}

Test(picker, deadlines_first_in_order)
{
	enum { N = 20 };
	struct picker *p = picker_new(N, 2 * B, N * 2 * (uint64_t)B, 5);
	uint8_t *lacks13 = all_bits_but(N, 13), *lacks9 = all_bits_but(N, 9);
	struct picker_block out[64];
	uint32_t expect[] = {4, 4, 11, 11, 15, 15, 2, 2};
	int n, i;

	picker_peer_bitfield(p, NULL);
	for (i = 0; i < 3; i++)
		picker_peer_bitfield(p, lacks9); /* 9 is the rarest */
	for (i = 16; i < 20; i++)
		picker_set_have(p, (uint32_t)i);
	picker_set_priority(p, 2, 7);
	cr_assert_eq(picker_set_deadline(p, 15, 300), 0);
	cr_assert_eq(picker_set_deadline(p, 4, 100), 0);
	cr_assert_eq(picker_set_deadline(p, 11, 200), 0);
	cr_assert_eq(picker_set_deadline(p, 13, 50), 0); /* the peer lacks it */
	cr_assert_eq(picker_set_deadline(p, 16, 10), 0); /* had: ignored */
	picker_set_priority(p, 7, 0);
	cr_assert_eq(picker_set_deadline(p, 7, 10), 0); /* priority 0 wins */
	n = picker_pick(p, lacks13, 8, out, 0);
	cr_assert_eq(n, 8);
	for (i = 0; i < 8; i++)
		cr_assert_eq(out[i].piece, expect[i], "pick %d: piece %u", i, out[i].piece);
	/* Moving and clearing deadlines reorders them. */
	cr_assert_eq(picker_set_deadline(p, 11, 0), 0);
	cr_assert_eq(picker_set_deadline(p, 4, 400), 0);
	n = picker_pick(p, lacks13, 6, out, 0);
	cr_assert_eq(n, 6);
	cr_assert_eq(out[0].piece, 15);
	cr_assert_eq(out[2].piece, 4);
	cr_assert_eq(out[4].piece, 2);
	/* The peer that has 13 gets it first. */
	cr_assert_eq(picker_pick(p, NULL, 1, out, 0), 1);
	cr_assert_eq(out[0].piece, 13);
	/* Once had, a deadline piece is no longer offered. */
	picker_set_have(p, 13);
	cr_assert_eq(picker_pick(p, NULL, 1, out, 0), 1);
	cr_assert_eq(out[0].piece, 15);
	free(lacks13);
	free(lacks9);
	picker_free(p);
}

/* The engine shortens its request queues while this is nonzero (a reader waits). */
Test(picker, deadline_count_follows_deadlines_and_verified_pieces)
{
	struct picker *p = picker_new(8, 2 * B, 8 * 2 * (uint64_t)B, 5);

	cr_assert_eq(picker_deadline_count(p), 0);
	cr_assert_eq(picker_set_deadline(p, 1, 100), 0);
	cr_assert_eq(picker_set_deadline(p, 2, 200), 0);
	cr_assert_eq(picker_set_deadline(p, 2, 300), 0); /* moved, not added */
	cr_assert_eq(picker_deadline_count(p), 2);
	picker_set_have(p, 3);
	cr_assert_eq(picker_set_deadline(p, 3, 100), 0); /* had: ignored */
	cr_assert_eq(picker_deadline_count(p), 2);
	picker_set_have(p, 1); /* verified: nobody waits for it any more */
	cr_assert_eq(picker_deadline_count(p), 1);
	cr_assert_eq(picker_set_deadline(p, 2, 0), 0); /* the reader moved on */
	cr_assert_eq(picker_deadline_count(p), 0);
	picker_free(p);
}

/*
 * The queue depth feeds back on itself: a queue of q blocks on a link with
 * round trip rtt carries at most q blocks per rtt, and that rate sizes the
 * next queue. Played out second by second (the engine's rate is a running
 * average, halved each second), the queue must let a long link (300 ms,
 * longer than the 0.25 s of backlog asked for) fill up to its own rate,
 * not shrink to the minimum; on a short one it must stay small.
 */
static double
settle_rate(double link, double rtt, double rtt_known)
{
	double rate = 0;
	int s;

	for (s = 0; s < 20; s++) {
		unsigned q = picker_queue_depth(rate, rtt_known, 0.25, 32, 2048);
		double carried = (double)q * B / rtt;

		rate = rate * 0.5 + (carried < link ? carried : link) * 0.5;
	}
	return rate;
}

Test(picker, queue_depth_fills_a_long_link)
{
	double link = 3e6; /* bytes/s */

	/* Knowing the round trip: the link fills. */
	cr_assert_gt(settle_rate(link, 0.3, 0.3), 0.95 * link);
	/* Without it, 32 blocks per 300 ms (about 1.7 MB/s) is all it gets. */
	cr_assert_lt(settle_rate(link, 0.3, 0.0), 0.6 * link);
	/* A short link fills either way, with about 0.25 s of its rate queued. */
	cr_assert_gt(settle_rate(link, 0.01, 0.01), 0.95 * link);
	cr_assert_eq(picker_queue_depth(link, 0.01, 0.25, 32, 2048), (unsigned)(link * 0.26 / B));
	/* Clamped both ways. */
	cr_assert_eq(picker_queue_depth(0, 0.3, 0.25, 32, 2048), 32);
	cr_assert_eq(picker_queue_depth(1e9, 0.3, 0.25, 32, 2048), 2048);
}

/*
 * A new peer 300 ms away, its rate not known yet: the probe queue, grown
 * by one per block answered without backlog, must fill the link within a
 * few round trips, and stop growing once answers wait at the peer.
 */
Test(picker, queue_probe_fills_a_new_long_link)
{
	double link = 8e6, rtt = 0.3; /* bytes/s, s */
	unsigned probe = 0, q = 32, round, i;

	for (round = 0; round < 6; round++) {
		/* q blocks in flight: what the link cannot carry in a round trip waits. */
		double backlog = (double)q * B / link - rtt;
		uint64_t ms = backlog > 0 ? (uint64_t)(backlog * 1000) : 0;

		for (i = 0; i < q; i++)
			probe = picker_queue_probe(probe, ms, 0.25, 2048);
		q = probe > 32 ? probe : 32;
	}
	cr_assert_geq((double)q * B / rtt, link, "queue %u blocks does not fill the link", q);
	cr_assert_leq((double)q * B / link - rtt, 2 * 0.25, "queue %u blocks: backlog past 0.5 s",
		      q);

	/* One step at a time: grow, hold, drop; never past hi. */
	cr_assert_eq(picker_queue_probe(10, 0, 0.25, 2048), 11);
	cr_assert_eq(picker_queue_probe(10, 200, 0.25, 2048), 10);
	cr_assert_eq(picker_queue_probe(10, 300, 0.25, 2048), 0);
	cr_assert_eq(picker_queue_probe(2048, 0, 0.25, 2048), 2048);
}

static int
skip_piece4(void *ctx, uint32_t piece, uint32_t block)
{
	(void)ctx;
	(void)block;
	return piece == 4;
}

Test(picker, overdue_deadline_duplicates)
{
	enum { N = 10 };
	struct picker *p = picker_new(N, 2 * B, N * 2 * (uint64_t)B, 5);
	struct picker_block out[8];
	struct picker_peer skipper = {.bits = NULL, .skip = skip_piece4};
	int n;

	picker_peer_bitfield(p, NULL);
	picker_set_deadline(p, 4, 100);
	cr_assert_eq(picker_block_requested(p, 4, 0), 0);
	cr_assert_eq(picker_block_requested(p, 4, 1), 0);
	n = picker_pick(p, NULL, 8, out, 50);
	cr_assert_eq(n, 8);
	for (int i = 0; i < n; i++)
		cr_assert_neq(out[i].piece, 4);
	/* Past the deadline, its outstanding blocks are asked of other peers too. */
	n = picker_pick(p, NULL, 8, out, 150);
	cr_assert_eq(out[0].piece, 4);
	cr_assert_eq(out[0].block, 0);
	cr_assert_eq(out[1].piece, 4);
	cr_assert_eq(out[1].block, 1);
	cr_assert_neq(out[2].piece, 4);
	/* ... but not of a peer that already has them in flight. */
	n = picker_pick_peer(p, &skipper, 8, out, 150);
	cr_assert_eq(n, 8);
	cr_assert_neq(out[0].piece, 4);
	picker_free(p);
}

/* Picks up to 16 blocks at now_ms; counts[piece] = how many of them are of that piece. */
static int
count_picks(struct picker *p, uint64_t now_ms, struct picker_block *out, int *counts, int npieces)
{
	int n = picker_pick(p, NULL, 16, out, now_ms), i;

	memset(counts, 0, (size_t)npieces * sizeof *counts);
	for (i = 0; i < n; i++)
		counts[out[i].piece]++;
	return n;
}

Test(picker, only_the_earliest_overdue_pieces_are_duplicated)
{
	enum { N = 10 };
	struct picker *p = picker_new(N, 2 * B, N * 2 * (uint64_t)B, 5);
	struct picker_block out[16];
	const uint32_t pieces[] = {6, 2, 8, 4}; /* deadlines 100, 110, 120, 130 */
	int n, i, dups[N] = {0};

	cr_assert_eq(PICKER_DUP_DEADLINES, 2);
	picker_peer_bitfield(p, NULL);
	for (i = 0; i < 4; i++) {
		cr_assert_eq(picker_set_deadline(p, pieces[i], 100 + 10 * (uint64_t)i), 0);
		cr_assert_eq(picker_block_requested(p, pieces[i], 0), 0);
		cr_assert_eq(picker_block_requested(p, pieces[i], 1), 0);
	}
	/* All four overdue: only the two earliest (6, then 2) are asked again. */
	n = count_picks(p, 1000, out, dups, N);
	cr_assert_gt(n, 4);
	cr_assert_eq(out[0].piece, 6);
	cr_assert_eq(out[2].piece, 2);
	cr_assert_eq(dups[6], 2);
	cr_assert_eq(dups[2], 2);
	cr_assert_eq(dups[8], 0, "a third overdue piece is not duplicated");
	cr_assert_eq(dups[4], 0);
	/* Once one of them is had, the next overdue piece takes its place. */
	cr_assert_eq(picker_block_received(p, 6, 0), PICKER_INCOMPLETE);
	cr_assert_eq(picker_block_received(p, 6, 1), PICKER_COMPLETE);
	picker_set_have(p, 6);
	count_picks(p, 1000, out, dups, N);
	cr_assert_eq(dups[2], 2);
	cr_assert_eq(dups[8], 2);
	cr_assert_eq(dups[4], 0);
	/* An urgent piece (a reader blocked on it) is duplicated whatever its place. */
	cr_assert_eq(picker_set_priority(p, 4, PICKER_PRIO_MAX), 0);
	count_picks(p, 1000, out, dups, N);
	cr_assert_eq(dups[2], 2);
	cr_assert_eq(dups[8], 2);
	cr_assert_eq(dups[4], 2);
	/* Deadlines not yet due are never duplicated. */
	n = picker_pick(p, NULL, 16, out, 105);
	for (i = 0; i < n; i++)
		cr_assert(out[i].piece != 2 && out[i].piece != 8 && out[i].piece != 4,
			  "piece %u duplicated before its deadline", out[i].piece);
	picker_free(p);
}

Test(picker, failed_piece_is_picked_again)
{
	struct picker *p = picker_new(1, 2 * B, 2 * B - 10, 9);
	struct picker_block out[4];

	picker_peer_have(p, 0);
	cr_assert_eq(picker_pick(p, NULL, 4, out, 0), 2);
	cr_assert_eq(out[1].length, B - 10);
	picker_block_requested(p, 0, 0);
	picker_block_requested(p, 0, 1);
	cr_assert_eq(picker_pick(p, NULL, 4, out, 0), 2); /* endgame duplicates */
	cr_assert_eq(picker_block_received(p, 0, 1), PICKER_INCOMPLETE);
	cr_assert_eq(picker_block_received(p, 0, 1), PICKER_DUPLICATE);
	cr_assert_eq(picker_block_received(p, 0, 0), PICKER_COMPLETE);
	cr_assert_eq(picker_pick(p, NULL, 4, out, 0), 0);
	cr_assert_eq(picker_piece_failed(p, 0), 0);
	cr_assert_not(picker_in_endgame(p));
	cr_assert_eq(picker_pick(p, NULL, 4, out, 0), 2);
	cr_assert_eq(out[0].block, 0);
	cr_assert_eq(out[1].block, 1);
	/* A late cancel from before the failure is harmless. */
	cr_assert_eq(picker_block_cancelled(p, 0, 0), 0);
	cr_assert_eq(picker_block_received(p, 0, 0), PICKER_INCOMPLETE);
	cr_assert_eq(picker_block_received(p, 0, 1), PICKER_COMPLETE);
	cr_assert_eq(picker_set_have(p, 0), 0);
	cr_assert(picker_complete(p));
	cr_assert_eq(picker_block_received(p, 0, 1), PICKER_DUPLICATE);
	cr_assert_eq(picker_pick(p, NULL, 4, out, 0), 0);
	/* A had piece that fails a re-check is wanted again. */
	cr_assert_eq(picker_piece_failed(p, 0), 0);
	cr_assert_eq(picker_have_count(p), 0);
	cr_assert_eq(picker_pick(p, NULL, 4, out, 0), 2);
	picker_free(p);
}

struct reqlist {
	uint32_t piece[16], block[16];
	int n;
};

static int
reqlist_has(void *ctx, uint32_t piece, uint32_t block)
{
	const struct reqlist *r = ctx;
	int i;

	for (i = 0; i < r->n; i++)
		if (r->piece[i] == piece && r->block[i] == block)
			return 1;
	return 0;
}

Test(picker, endgame_duplicates_and_completion)
{
	struct picker *p = picker_new(2, 2 * B, 4 * (uint64_t)B, 11);
	struct reqlist a = {.n = 0};
	struct picker_peer peer_a = {.bits = NULL, .skip = reqlist_has, .ctx = &a};
	struct picker_block out[8];
	int n, i;

	picker_peer_bitfield(p, NULL);
	cr_assert_not(picker_in_endgame(p));
	n = picker_pick_peer(p, &peer_a, 8, out, 0);
	cr_assert_eq(n, 4);
	for (i = 0; i < n; i++) {
		cr_assert_eq(picker_block_requested(p, out[i].piece, out[i].block), 0);
		a.piece[a.n] = out[i].piece;
		a.block[a.n++] = out[i].block;
	}
	cr_assert(picker_in_endgame(p));
	/* Peer A already asked for everything; peer B may duplicate it all. */
	cr_assert_eq(picker_pick_peer(p, &peer_a, 8, out, 0), 0);
	cr_assert_eq(picker_pick(p, NULL, 8, out, 0), 4);
	cr_assert_eq(picker_block_requested(p, 0, 0), 0); /* B asked for piece 0 block 0 */
	/* Fewest outstanding requests first: 0/0 now has two, so it comes last. */
	n = picker_pick(p, NULL, 8, out, 0);
	cr_assert_eq(n, 4);
	cr_assert_eq(out[3].piece, 0);
	cr_assert_eq(out[3].block, 0);
	/* No more duplicates once a block has PICKER_MAX_DUPLICATES requests out. */
	for (i = 2; i < PICKER_MAX_DUPLICATES; i++)
		picker_block_requested(p, 0, 0);
	n = picker_pick(p, NULL, 8, out, 0);
	cr_assert_eq(n, 3);
	for (i = 0; i < n; i++)
		cr_assert_not(out[i].piece == 0 && out[i].block == 0);
	/* The first copy wins; the rest are duplicates; cancels after that are no-ops. */
	cr_assert_eq(picker_block_received(p, 0, 0), PICKER_INCOMPLETE);
	cr_assert_eq(picker_block_received(p, 0, 0), PICKER_DUPLICATE);
	cr_assert_eq(picker_block_cancelled(p, 0, 0), 0);
	cr_assert_eq(picker_block_received(p, 0, 1), PICKER_COMPLETE);
	cr_assert_eq(picker_set_have(p, 0), 0);
	cr_assert(picker_in_endgame(p));
	cr_assert_eq(picker_block_received(p, 1, 1), PICKER_INCOMPLETE);
	/* A timed-out last request puts the block back to missing: endgame ends. */
	cr_assert_eq(picker_block_timed_out(p, 1, 0), 0);
	cr_assert_not(picker_in_endgame(p));
	n = picker_pick(p, NULL, 8, out, 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(out[0].piece, 1);
	cr_assert_eq(out[0].block, 0);
	cr_assert_eq(picker_block_received(p, 1, 0), PICKER_COMPLETE);
	picker_set_have(p, 1);
	cr_assert(picker_complete(p));
	cr_assert_not(picker_in_endgame(p));
	cr_assert_eq(picker_pick(p, NULL, 8, out, 0), 0);
	picker_free(p);
}

Test(picker, bookkeeping_errors)
{
	struct picker *p = picker_new(2, 2 * B, 3 * (uint64_t)B, 1);
	struct picker_block out[4];
	int i;

	cr_assert_eq(picker_block_requested(p, 2, 0), -ERR_INVALID);
	cr_assert_eq(picker_block_requested(p, 1, 1), -ERR_INVALID); /* last piece: 1 block */
	cr_assert_eq(picker_block_received(p, 0, 2), -ERR_INVALID);
	cr_assert_eq(picker_block_cancelled(p, 0, 5), -ERR_INVALID);
	cr_assert_eq(picker_set_have(p, 2), -ERR_INVALID);
	cr_assert_eq(picker_set_deadline(p, 2, 5), -ERR_INVALID);
	cr_assert_eq(picker_piece_failed(p, 2), -ERR_INVALID);
	cr_assert_eq(picker_block_cancelled(p, 0, 0), 0); /* never requested: no-op */
	cr_assert_eq(picker_block_received(p, 0, 0), PICKER_INCOMPLETE); /* unrequested is fine */
	cr_assert_eq(picker_block_requested(p, 0, 0), -ERR_INVALID);
	for (i = 0; i < PICKER_MAX_REQUESTS; i++)
		cr_assert_eq(picker_block_requested(p, 0, 1), 0);
	cr_assert_eq(picker_block_requested(p, 0, 1), -ERR_LIMIT);
	cr_assert_eq(picker_set_have(p, 0), 0);
	cr_assert_eq(picker_block_requested(p, 0, 1), -ERR_INVALID);
	/* A timed-out request comes back. */
	picker_peer_bitfield(p, NULL);
	cr_assert_eq(picker_block_requested(p, 1, 0), 0);
	cr_assert_eq(picker_pick(p, NULL, 4, out, 0), 1); /* endgame duplicate */
	cr_assert_eq(picker_block_requested(p, 1, 0), 0);
	cr_assert_eq(picker_block_timed_out(p, 1, 0), 0);
	cr_assert(picker_in_endgame(p)); /* one request still out */
	cr_assert_eq(picker_block_timed_out(p, 1, 0), 0);
	cr_assert_not(picker_in_endgame(p));
	cr_assert_eq(picker_pick(p, NULL, 4, out, 0), 1);
	cr_assert_eq(out[0].piece, 1);
	picker_free(p);
}

/* --- a 10,000-peer swarm ------------------------------------------------- */

#define SW_PEERS  10000
#define SW_PIECES 2000
#define SW_QUEUE  8
#define SW_ACTIVE 60

struct sim_peer {
	uint8_t *bits;
	struct reqlist q;
};

static void
sim_drop(struct sim_peer *sp, int i)
{
	sp->q.piece[i] = sp->q.piece[sp->q.n - 1];
	sp->q.block[i] = sp->q.block[sp->q.n - 1];
	sp->q.n--;
}

Test(picker, swarm_of_10000_peers_downloads_everything, .timeout = 120)
{
	const uint32_t piece_len = 2 * B;
	const uint64_t total = (uint64_t)SW_PIECES * piece_len - 5000;
	struct picker *p = picker_new(SW_PIECES, piece_len, total, 2024);
	struct sim_peer *peers = calloc(SW_PEERS, sizeof *peers);
	uint8_t *asked = calloc(SW_PIECES * 2, 1);
	uint8_t owners[SW_PIECES] = {0};
	struct picker_block out[SW_QUEUE];
	unsigned long rounds = 0, fails = 0, endgame_picks = 0, dups = 0;
	uint32_t i, piece;
	int j, n, rc;

	cr_assert_not_null(p);
	test_srand(99);
	for (i = 0; i < SW_PEERS; i++) {
		/* Mostly sparse peers, some near-seeds: availability varies a lot. */
		peers[i].bits = random_bits(SW_PIECES, i % 10 == 0 ? 60 : 1 + test_rand() % 8);
		for (piece = 0; piece < SW_PIECES; piece++)
			owners[piece] |= (uint8_t)get_bit(peers[i].bits, piece);
	}
	for (piece = 0; piece < SW_PIECES; piece++)
		if (!owners[piece])
			set_bit(peers[piece % SW_PEERS].bits, piece);
	for (i = 0; i < SW_PEERS; i++)
		picker_peer_bitfield(p, peers[i].bits);
	for (piece = 0; piece < SW_PIECES; piece += 13)
		picker_set_priority(p, piece, PICKER_PRIO_SKIP);

	while (!picker_complete(p)) {
		cr_assert_lt(++rounds, 200000, "swarm did not finish");
		for (j = 0; j < SW_ACTIVE; j++) {
			struct sim_peer *sp = &peers[test_rand() % SW_PEERS];
			struct picker_peer pp = {
			    .bits = sp->bits, .skip = reqlist_has, .ctx = &sp->q};
			int endgame = picker_in_endgame(p);

			n = picker_pick_peer(p, &pp, (uint32_t)(SW_QUEUE - sp->q.n), out, rounds);
			for (int k = 0; k < n; k++) {
				piece = out[k].piece;
				cr_assert_not(picker_has(p, piece), "picked piece %u we have",
					      piece);
				cr_assert(get_bit(sp->bits, piece));
				cr_assert_neq(picker_priority(p, piece), 0);
				cr_assert_eq(picker_block_requested(p, piece, out[k].block), 0);
				asked[piece * 2 + out[k].block] = 1;
				sp->q.piece[sp->q.n] = piece;
				sp->q.block[sp->q.n++] = out[k].block;
				endgame_picks += endgame;
			}
			/* Deliver some requests, lose a few, keep the rest in flight. */
			for (int k = sp->q.n - 1; k >= 0; k--) {
				unsigned r = test_rand() % 100;

				piece = sp->q.piece[k];
				if (r < 50) {
					rc = picker_block_received(p, piece, sp->q.block[k]);
					cr_assert_geq(rc, 0);
					dups += rc == PICKER_DUPLICATE;
					if (rc == PICKER_COMPLETE) {
						if (test_rand() % 25 == 0) {
							picker_piece_failed(p, piece);
							fails++;
						} else {
							picker_set_have(p, piece);
						}
					}
					sim_drop(sp, k);
				} else if (r < 53) {
					picker_block_timed_out(p, piece, sp->q.block[k]);
					sim_drop(sp, k);
				}
			}
			/* Now and then a peer disconnects and another with the same bits joins. */
			if (test_rand() % 200 == 0) {
				while (sp->q.n > 0) {
					picker_block_cancelled(p, sp->q.piece[0], sp->q.block[0]);
					sim_drop(sp, 0);
				}
				picker_peer_gone(p, sp->bits);
				picker_peer_bitfield(p, sp->bits);
			}
		}
	}
	for (piece = 0; piece < SW_PIECES; piece++) {
		int skip = piece % 13 == 0;

		cr_assert_eq(picker_has(p, piece), !skip);
		for (i = 0; i < picker_block_count(p, piece); i++)
			cr_assert_eq(asked[piece * 2 + i], !skip, "piece %u block %u", piece, i);
	}
	cr_assert_gt(fails, 0);
	cr_assert_gt(endgame_picks, 0);
	cr_assert_gt(dups, 0); /* duplicate requests did race */
	cr_assert_not(picker_in_endgame(p));
	for (i = 0; i < SW_PEERS; i++)
		free(peers[i].bits);
	free(peers);
	free(asked);
	picker_free(p);
}

/* 16 GiB of 16 KiB pieces: a million pieces must stay cheap to pick from. */
Test(picker, million_pieces, .timeout = 60)
{
	const uint32_t N = 1u << 20;
	struct picker *p = picker_new(N, B, (uint64_t)N * B, 77);
	uint8_t *rare, *common;
	struct picker_block out[16];
	uint32_t i, k, nrare = 0, done = 0;
	int n;

	cr_assert_not_null(p);
	test_srand(5);
	rare = random_bits(N, 1);
	common = malloc(N / 8);
	cr_assert_not_null(common);
	for (i = 0; i < N / 8; i++)
		common[i] = (uint8_t)~rare[i];
	for (i = 0; i < N; i++)
		nrare += (uint32_t)get_bit(rare, i);
	/* A seed and a peer with everything but the rare 1%. */
	picker_peer_bitfield(p, NULL);
	picker_peer_bitfield(p, common);
	for (i = 0; i < N && picker_have_count(p) < 4; i++)
		if (!get_bit(rare, i))
			picker_set_have(p, i);
	/* The seed is asked for the rare pieces first, every one of them. */
	while (done < nrare) {
		uint32_t left = nrare - done;

		n = picker_pick(p, NULL, 16, out, 0);
		cr_assert_eq(n, 16);
		for (k = 0; k < (uint32_t)n; k++) {
			cr_assert_eq(get_bit(rare, out[k].piece), k < left,
				     "piece %u, %u rare left", out[k].piece, left);
			cr_assert_eq(picker_block_requested(p, out[k].piece, 0), 0);
			cr_assert_eq(picker_block_received(p, out[k].piece, 0), PICKER_COMPLETE);
			picker_set_have(p, out[k].piece);
			done++;
		}
	}
	/* Then everything else, from either peer. */
	for (i = 0; i < 20000; i++) {
		n = picker_pick(p, i % 2 ? common : NULL, 16, out, 0);
		cr_assert_eq(n, 16);
		for (k = 0; k < (uint32_t)n; k++) {
			cr_assert_not(picker_has(p, out[k].piece));
			picker_block_requested(p, out[k].piece, 0);
			cr_assert_eq(picker_block_received(p, out[k].piece, 0), PICKER_COMPLETE);
			picker_set_have(p, out[k].piece);
		}
	}
	cr_assert_eq(picker_have_count(p), 4 + done + 20000 * 16);
	free(rare);
	free(common);
	picker_free(p);
}

static int skip_calls;

static int
skip_whole_piece(void *ctx, uint32_t piece, uint32_t block)
{
	skip_calls++;
	return piece == *(uint32_t *)ctx ? PICKER_SKIP_PIECE : 0;
}

Test(picker, skip_piece_and_partials_only)
{
	/* 4 pieces of 4 blocks each. */
	struct picker *p =
	    picker_new(4, 4 * PICKER_BLOCK_SIZE, 16 * (uint64_t)PICKER_BLOCK_SIZE, 3);
	struct picker_block out[16];
	uint32_t unwanted = 0;
	struct picker_peer peer = {NULL, skip_whole_piece, &unwanted, 0};
	int n, i;

	cr_assert_not_null(p);
	picker_peer_bitfield(p, NULL);
	/* A skipped piece costs one callback, not one per block. */
	skip_calls = 0;
	n = picker_pick_peer(p, &peer, 16, out, 0);
	cr_assert_eq(n, 12);
	for (i = 0; i < n; i++)
		cr_assert_neq(out[i].piece, 0);
	cr_assert_eq(skip_calls, 12 + 1);
	/* Start piece 2; with partials_only nothing else is offered. */
	cr_assert_eq(picker_block_requested(p, 2, 0), 0);
	peer.skip = NULL;
	peer.partials_only = 1;
	n = picker_pick_peer(p, &peer, 16, out, 0);
	cr_assert_eq(n, 3);
	for (i = 0; i < n; i++)
		cr_assert_eq(out[i].piece, 2);
	picker_free(p);
}

/* The piece budget the engine applies through skip_block (torrent.c). */
Test(budget, readahead_has_an_allowance_blocked_reads_have_no_limit)
{
	const unsigned top = PICKER_PRIO_MAX;
	const uint64_t full = TORRENT_PIECE_BUDGET, ahead_full = TORRENT_AHEAD_BUDGET;

	/* Within the budget: any piece. */
	cr_assert(torrent_budget_allows(0, 0, 1, 0));
	cr_assert(torrent_budget_allows(full - 1, 0, 1, 0));
	cr_assert(torrent_budget_allows(full - 1, full - 1, top - 1, 1));
	/* Past it: no background piece, whatever its priority. */
	cr_assert_not(torrent_budget_allows(full, 0, 1, 0));
	cr_assert_not(torrent_budget_allows(full, 0, top - 1, 0));
	cr_assert_not(torrent_budget_allows(full + ahead_full, ahead_full, 1, 0));
	/* Readahead: its own allowance, whatever the background holds... */
	cr_assert(torrent_budget_allows(full, 0, top - 1, 1));
	cr_assert(torrent_budget_allows(full + ahead_full - 1, ahead_full - 1, top - 1, 1));
	/* ... up to its ceiling. */
	cr_assert_not(torrent_budget_allows(ahead_full, ahead_full, top - 1, 1));
	cr_assert_not(torrent_budget_allows(full + ahead_full, ahead_full, top - 1, 1));
	cr_assert_not(torrent_budget_allows(UINT64_MAX / 2, UINT64_MAX / 4, top - 1, 1));
	/* A piece a read is blocked on: always. */
	cr_assert(torrent_budget_allows(full + ahead_full, ahead_full, top, 1));
	cr_assert(torrent_budget_allows(UINT64_MAX / 2, UINT64_MAX / 4, top, 1));
}

Test(budget, a_failed_write_pauses_requests_longer_each_time_in_a_row)
{
	cr_assert_eq(torrent_disk_pause_ms(0), TORRENT_DISK_PAUSE_MS);
	cr_assert_eq(torrent_disk_pause_ms(1), 2 * TORRENT_DISK_PAUSE_MS);
	cr_assert_eq(torrent_disk_pause_ms(3), 8 * TORRENT_DISK_PAUSE_MS);
	/* Capped, also for counts that would overflow a shift. */
	cr_assert_eq(torrent_disk_pause_ms(6), TORRENT_DISK_PAUSE_MAX);
	cr_assert_eq(torrent_disk_pause_ms(64), TORRENT_DISK_PAUSE_MAX);
	cr_assert_eq(torrent_disk_pause_ms(UINT_MAX), TORRENT_DISK_PAUSE_MAX);
}
