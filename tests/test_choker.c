/*
 * Tests for the choker, driven by fake swarms: tit-for-tat while leeching,
 * anti-snubbing, stability, optimistic rotation and its bias toward new
 * peers, rotation while seeding, and a 10,000-peer round.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "choker.h"
#include "error.h"

#define MIN 60000u

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

static void *
id_of(size_t i)
{
	return (void *)(uintptr_t)(i + 1);
}

/* n interested leechers connected long before t = 10 min, all choked. */
static struct choker_peer *
swarm_new(size_t n)
{
	struct choker_peer *p = calloc(n, sizeof *p);
	size_t i;

	cr_assert_not_null(p);
	for (i = 0; i < n; i++) {
		p[i].id = id_of(i);
		p[i].interested = 1;
		p[i].connected_ms = 0;
		p[i].since_ms = 0;
	}
	return p;
}

/* What the torrent does with an answer: unchoke those named, choke the rest. */
static void
apply(struct choker_peer *p, size_t n, const size_t *out, int k, uint64_t now)
{
	char *on = calloc(n ? n : 1, 1);
	size_t i;
	int j;

	cr_assert_not_null(on);
	for (j = 0; j < k; j++) {
		cr_assert_lt(out[j], n);
		cr_assert_eq(on[out[j]], 0, "peer %zu named twice", out[j]);
		on[out[j]] = 1;
	}
	for (i = 0; i < n; i++) {
		if (p[i].unchoked != on[i]) {
			p[i].unchoked = on[i];
			p[i].since_ms = now;
		}
	}
	free(on);
}

static int
in_set(const size_t *out, int k, size_t idx)
{
	int j;

	for (j = 0; j < k; j++)
		if (out[j] == idx)
			return 1;
	return 0;
}

/* The `want` fastest by down_rate, fastest first, among interested non-snubbed non-seeds. */
static size_t
top_by_down(const struct choker_peer *p, size_t n, size_t *best, size_t want)
{
	size_t i, j, m = 0;

	for (i = 0; i < n; i++) {
		if (!p[i].interested || p[i].is_seed || p[i].snubbed)
			continue;
		if (m == want && p[best[want - 1]].down_rate >= p[i].down_rate)
			continue;
		j = m < want ? m++ : want - 1;
		for (; j > 0 && p[best[j - 1]].down_rate < p[i].down_rate; j--)
			best[j] = best[j - 1];
		best[j] = i;
	}
	return m;
}

Test(choker, leeching_picks_top_uploaders)
{
	struct choker *ch = choker_new(CHOKER_DEFAULT_SLOTS, 1);
	struct choker_peer *p = swarm_new(30);
	size_t out[CHOKER_DEFAULT_SLOTS + 1], best[4];
	int k, j;

	test_srand(7);
	for (j = 0; j < 30; j++)
		p[j].down_rate = 1000 + test_rand() % 1000000;
	cr_assert_eq(top_by_down(p, 30, best, 4), 4);

	k = choker_run(ch, p, 30, 10 * MIN, 0, out);
	cr_assert_eq(k, 5);
	for (j = 0; j < 4; j++)
		cr_assert(in_set(out, 4, best[j]), "top uploader %zu has no regular slot", best[j]);
	cr_assert_not(in_set(out, 4, out[4]));
	cr_assert_eq(choker_optimistic(ch), p[out[4]].id);
	choker_free(ch);
	free(p);
}

Test(choker, snubbed_peer_loses_slot_but_may_be_optimistic)
{
	struct choker *ch = choker_new(4, 2);
	struct choker_peer *p = swarm_new(5);
	size_t out[5];
	uint64_t now = 10 * MIN;
	int k, j;

	for (j = 0; j < 5; j++)
		p[j].down_rate = (uint64_t)(j + 1) * 100000;
	k = choker_run(ch, p, 5, now, 0, out);
	cr_assert_eq(k, 5);
	apply(p, 5, out, k, now);
	/* The fastest one stops sending: it must give its regular slot up at once. */
	p[4].snubbed = 1;
	now += CHOKER_ROUND_MS;
	k = choker_run(ch, p, 5, now, 0, out);
	cr_assert_eq(k, 5);
	cr_assert_not(in_set(out, 4, 4), "snubbed peer kept a regular slot");
	/* The only peer without a regular slot is the snubbed one: it gets the optimistic one. */
	cr_assert_eq(out[4], 4);
	cr_assert_eq(choker_optimistic(ch), p[4].id);

	/* With nobody else eligible, a snubbed peer still never takes a regular slot. */
	for (j = 0; j < 4; j++)
		p[j].snubbed = 1;
	now += CHOKER_ROUND_MS;
	k = choker_run(ch, p, 5, now, 0, out);
	cr_assert_eq(k, 1);
	choker_free(ch);
	free(p);
}

Test(choker, uninterested_and_seeds_never_unchoked)
{
	struct choker *ch = choker_new(4, 3);
	struct choker_peer *p = swarm_new(60);
	size_t out[5];
	uint64_t now = 10 * MIN;
	int k, j, round, seeding;

	test_srand(11);
	for (j = 0; j < 60; j++) {
		p[j].interested = test_rand() % 3 == 0;
		p[j].is_seed = !p[j].interested && test_rand() % 2;
		p[j].down_rate = test_rand() % 100000;
		p[j].up_rate = test_rand() % 100000;
		p[j].connected_ms = now - test_rand() % (2 * MIN);
	}
	/* A seed claiming interest is broken; it still gets nothing. */
	p[0].interested = 1;
	p[0].is_seed = 1;
	p[0].down_rate = 10000000;
	for (round = 0; round < 200; round++) {
		seeding = round >= 100;
		k = choker_run(ch, p, 60, now, seeding, out);
		cr_assert_eq(k, 5);
		for (j = 0; j < k; j++)
			cr_assert(p[out[j]].interested && !p[out[j]].is_seed,
				  "round %d unchoked peer %zu", round, out[j]);
		apply(p, 60, out, k, now);
		now += CHOKER_ROUND_MS;
	}
	/* Nobody interested: nobody unchoked, no optimistic peer. */
	for (j = 0; j < 60; j++)
		p[j].interested = 0;
	cr_assert_eq(choker_run(ch, p, 60, now, 0, out), 0);
	cr_assert_null(choker_optimistic(ch));
	cr_assert_eq(choker_run(ch, p, 0, now, 1, out), 0);
	choker_free(ch);
	free(p);
}

Test(choker, holders_are_not_displaced_by_jitter)
{
	struct choker *ch = choker_new(4, 4);
	struct choker_peer *p = swarm_new(12);
	size_t out[5], prev[4];
	uint64_t now = 10 * MIN;
	int k, j, round;

	/* Everybody about equally fast: rates jitter by +-10% each round. */
	test_srand(5);
	for (round = 0; round < 30; round++) {
		for (j = 0; j < 12; j++)
			p[j].down_rate = 90000 + test_rand() % 20000;
		k = choker_run(ch, p, 12, now, 0, out);
		cr_assert_eq(k, 5);
		if (round > 0)
			for (j = 0; j < 4; j++)
				cr_assert(in_set(prev, 4, out[j]), "round %d: slots flapped",
					  round);
		memcpy(prev, out, sizeof prev);
		apply(p, 12, out, k, now);
		now += CHOKER_ROUND_MS;
	}

	/* 10% faster is not enough to take a slot; 60% faster is. */
	for (j = 0; j < 12; j++)
		p[j].down_rate =
		    p[j].unchoked && (void *)p[j].id != choker_optimistic(ch) ? 100000 : 50000;
	for (j = 0; j < 12 && (p[j].unchoked); j++)
		;
	cr_assert_lt(j, 12);
	p[j].down_rate = 110000;
	k = choker_run(ch, p, 12, now, 0, out);
	cr_assert_not(in_set(out, 4, (size_t)j));
	p[j].down_rate = 160000;
	k = choker_run(ch, p, 12, now, 0, out);
	cr_assert(in_set(out, 4, (size_t)j));
	choker_free(ch);
	free(p);
}

Test(choker, optimistic_rotates_every_three_rounds_and_reaches_everyone)
{
	struct choker *ch = choker_new(4, 6);
	struct choker_peer *p = swarm_new(20);
	size_t out[5];
	uint64_t now = 10 * MIN;
	void *opt = NULL;
	int k, j, round, reached[20] = {0}, changes = 0;

	for (j = 0; j < 20; j++)
		p[j].down_rate = j < 4 ? 1000000 : 100;
	for (round = 0; round < 300; round++) {
		k = choker_run(ch, p, 20, now, 0, out);
		cr_assert_eq(k, 5);
		for (j = 0; j < 4; j++)
			cr_assert_lt(out[j], 4, "a slow peer won a regular slot");
		cr_assert_geq(out[4], 4);
		cr_assert_eq(choker_optimistic(ch), p[out[4]].id);
		if (round > 0) {
			if (round % 3 == 0) {
				cr_assert_neq(choker_optimistic(ch), opt, "round %d: no rotation",
					      round);
				changes++;
			} else {
				cr_assert_eq(choker_optimistic(ch), opt, "round %d: early rotation",
					     round);
			}
		}
		opt = choker_optimistic(ch);
		reached[out[4]] = 1;
		apply(p, 20, out, k, now);
		now += CHOKER_ROUND_MS;
	}
	cr_assert_eq(changes, 99);
	for (j = 4; j < 20; j++)
		cr_assert(reached[j], "peer %d never optimistically unchoked", j);
	choker_free(ch);
	free(p);
}

Test(choker, optimistic_replaced_when_it_leaves_or_is_promoted)
{
	struct choker *ch = choker_new(1, 8);
	struct choker_peer *p = swarm_new(6);
	size_t out[2];
	uint64_t now = 10 * MIN;
	void *opt;
	int k, j;

	for (j = 0; j < 6; j++)
		p[j].down_rate = j == 0 ? 500000 : 1000;
	k = choker_run(ch, p, 6, now, 0, out);
	cr_assert_eq(k, 2);
	cr_assert_eq(out[0], 0);
	apply(p, 6, out, k, now);
	opt = choker_optimistic(ch);

	/* It stops being interested 10 s later: replaced now, not at 30 s. */
	p[out[1]].interested = 0;
	now += CHOKER_ROUND_MS;
	k = choker_run(ch, p, 6, now, 0, out);
	cr_assert_eq(k, 2);
	cr_assert_neq(choker_optimistic(ch), opt);
	apply(p, 6, out, k, now);

	/* The optimistic peer turns out to be the fastest: it takes the regular slot and
	 * someone else becomes optimistic. */
	opt = choker_optimistic(ch);
	p[out[1]].down_rate = 5000000;
	j = (int)out[1];
	now += CHOKER_ROUND_MS;
	k = choker_run(ch, p, 6, now, 0, out);
	cr_assert_eq(k, 2);
	cr_assert_eq(out[0], (size_t)j);
	cr_assert_neq(choker_optimistic(ch), opt);
	cr_assert_neq(out[1], (size_t)j);
	choker_free(ch);
	free(p);
}

Test(choker, new_peers_three_times_as_likely)
{
	struct choker *ch = choker_new(0, 9);
	struct choker_peer *p = swarm_new(100);
	size_t out[1];
	uint64_t now = 10 * MIN, fresh = 0, old = 0;
	double ratio;
	int k, j, round;

	for (round = 0; round < 6000; round++) {
		/* Half of the swarm stays "just connected", half connected long ago. */
		for (j = 0; j < 50; j++)
			p[j].connected_ms = now - 1000;
		k = choker_run(ch, p, 100, now, 0, out);
		cr_assert_eq(k, 1);
		if (out[0] < 50)
			fresh++;
		else
			old++;
		now += CHOKER_OPTIMISTIC_MS;
	}
	ratio = (double)fresh / (double)old;
	cr_assert(ratio > 2.4 && ratio < 3.75, "new/old ratio %.2f", ratio);
	choker_free(ch);
	free(p);
}

Test(choker, seeding_serves_every_interested_peer)
{
	struct choker *ch = choker_new(4, 10);
	struct choker_peer *p = swarm_new(50);
	size_t out[5];
	uint64_t now = 10 * MIN;
	int k, j, round, served[50] = {0}, waited[50] = {0}, all_by = -1, worst = 0, nserved;

	test_srand(3);
	for (j = 0; j < 50; j++) {
		p[j].interested = j < 40;
		p[j].up_rate = test_rand() % 1000000;
	}
	for (round = 0; round < 300; round++) {
		k = choker_run(ch, p, 50, now, 1, out);
		cr_assert_eq(k, 5);
		apply(p, 50, out, k, now);
		nserved = 0;
		for (j = 0; j < 50; j++) {
			served[j] |= p[j].unchoked;
			nserved += served[j];
			waited[j] = p[j].unchoked ? 0 : waited[j] + 1;
			if (j < 40 && waited[j] > worst)
				worst = waited[j];
		}
		if (nserved == 40 && all_by < 0)
			all_by = round;
		/* Fast peers stay fast: rotation must happen anyway. */
		now += CHOKER_ROUND_MS;
	}
	for (j = 40; j < 50; j++)
		cr_assert_not(served[j]);
	/* 4 slots, 3-round turns: 36 waiting peers are all reached in about 27 rounds. */
	cr_assert(all_by >= 0 && all_by <= 30, "all served by round %d", all_by);
	cr_assert_leq(worst, 30, "a peer waited %d rounds", worst);
	choker_free(ch);
	free(p);
}

Test(choker, seeding_keeps_slots_when_nobody_waits)
{
	struct choker *ch = choker_new(4, 12);
	struct choker_peer *p = swarm_new(3);
	size_t out[5];
	uint64_t now = 10 * MIN;
	int k, round;

	for (round = 0; round < 20; round++) {
		k = choker_run(ch, p, 3, now, 1, out);
		cr_assert_eq(k, 3);
		apply(p, 3, out, k, now);
		now += CHOKER_ROUND_MS;
	}
	/* Unchoked in the first round and never choked since. */
	cr_assert_eq(p[0].since_ms, 10 * MIN);
	cr_assert_eq(p[1].since_ms, 10 * MIN);
	cr_assert_eq(p[2].since_ms, 10 * MIN);
	cr_assert_null(choker_optimistic(ch));
	choker_free(ch);
	free(p);
}

Test(choker, set_slots_and_limits)
{
	struct choker *ch = choker_new(100000, 13);
	struct choker_peer *p = swarm_new(20);
	size_t out[CHOKER_MAX_SLOTS + 1];

	cr_assert_eq(choker_slots(ch), CHOKER_MAX_SLOTS);
	choker_set_slots(ch, 8);
	cr_assert_eq(choker_slots(ch), 8);
	cr_assert_eq(choker_run(ch, p, 20, 10 * MIN, 0, out), 9);
	/* n is checked before the array is read. */
	cr_assert_eq(choker_run(ch, p, (size_t)CHOKER_MAX_PEERS + 1, 10 * MIN, 0, out), -ERR_LIMIT);
	choker_free(ch);
	choker_free(NULL);
	free(p);
}

static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

Test(choker, ten_thousand_peers)
{
	enum { N = 10000 };
	struct choker *ch = choker_new(4, 14);
	struct choker_peer *p = swarm_new(N);
	size_t out[5], best[4];
	uint64_t now = 10 * MIN;
	struct timespec t0;
	double worst = 0, ms;
	int k, j, round;

	test_srand(17);
	for (j = 0; j < N; j++) {
		p[j].interested = test_rand() % 5 < 3;
		p[j].snubbed = test_rand() % 10 == 0;
		/* Distinct rates, so the expected top 4 is unique. */
		p[j].down_rate = (uint64_t)(test_rand() % 1000) * N + (uint64_t)j;
		p[j].up_rate = test_rand() % 1000000;
		p[j].connected_ms = now - test_rand() % (5 * MIN);
	}
	cr_assert_eq(top_by_down(p, N, best, 4), 4);
	for (round = 0; round < 20; round++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		k = choker_run(ch, p, N, now, round >= 10, out);
		ms = ms_since(&t0);
		if (ms > worst)
			worst = ms;
		cr_assert_eq(k, 5);
		if (round == 0)
			for (j = 0; j < 4; j++)
				cr_assert(in_set(out, 4, best[j]));
		for (j = 0; j < k; j++)
			cr_assert(p[out[j]].interested);
		for (j = 0; j < 4 && round < 10; j++)
			cr_assert_not(p[out[j]].snubbed);
		apply(p, N, out, k, now);
		now += CHOKER_ROUND_MS;
	}
	/* A sort of ~6,000 candidates; generous for sanitizer builds on a busy machine. */
	cr_assert_lt(worst, 250.0, "slowest round took %.1f ms", worst);
	choker_free(ch);
	free(p);
}
