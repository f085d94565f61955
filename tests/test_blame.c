/*
 * Unit tests for blame: which peer is banned when pieces fail verification.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "blame.h"

#define NBLOCKS 4

static char bans[8][INET6_ADDRSTRLEN];
static unsigned nbans;

static void
on_ban(void *arg, const char *ip, const char *why)
{
	(void)arg;
	cr_assert_not_null(why);
	cr_assert_lt(nbans, 8u);
	snprintf(bans[nbans++], sizeof bans[0], "%s", ip);
}

static int
was_banned(const char *ip)
{
	for (unsigned i = 0; i < nbans; i++)
		if (strcmp(bans[i], ip) == 0)
			return 1;
	return 0;
}

static struct blame *B;

static void
setup(void)
{
	nbans = 0;
	B = blame_new(on_ban, NULL);
	cr_assert_not_null(B);
}

static void
teardown(void)
{
	blame_free(B);
}

TestSuite(blame, .init = setup, .fini = teardown);

static const char SRC[3][INET6_ADDRSTRLEN] = {"10.0.0.1", "10.0.0.2", "fd00::3"};

/* Digests of NBLOCKS blocks, each block's content named by one byte. */
static void
digests_of(const uint8_t content[NBLOCKS], uint8_t out[NBLOCKS * BLAME_DIGEST_LEN])
{
	uint8_t block[64];

	for (int i = 0; i < NBLOCKS; i++) {
		memset(block, content[i], sizeof block);
		blame_block_digest(block, sizeof block, out + i * BLAME_DIGEST_LEN);
	}
}

/* A piece whose block i came from SRC[first + owner[i]]. */
static void
piece_event(int passed, uint32_t piece, unsigned first, unsigned nsources,
	    const uint8_t owner[NBLOCKS], const uint8_t content[NBLOCKS])
{
	uint8_t dig[NBLOCKS * BLAME_DIGEST_LEN];
	struct blame_piece p = {
	    .piece = piece,
	    .nsources = nsources,
	    .sources = SRC + first,
	    .nblocks = NBLOCKS,
	    .owner = owner,
	    .digests = dig,
	};

	digests_of(content, dig);
	if (passed)
		blame_passed(B, &p);
	else
		blame_failed(B, &p);
}

static const uint8_t ALONE[NBLOCKS] = {0, 0, 0, 0};
static const uint8_t SHARED[NBLOCKS] = {0, 1, 0, 1};
static const uint8_t GOOD[NBLOCKS] = {1, 2, 3, 4};
static const uint8_t BAD_FROM_0[NBLOCKS] = {9, 2, 9, 4}; /* blocks 0 and 2 wrong */

Test(blame, a_peer_alone_in_four_failed_pieces_is_banned_on_the_fourth)
{
	for (uint32_t i = 0; i < 3; i++) {
		piece_event(0, i, 0, 1, ALONE, BAD_FROM_0);
		cr_assert_not(blame_banned(B, SRC[0]), "banned after %u", i + 1);
	}
	piece_event(0, 3, 0, 1, ALONE, BAD_FROM_0);
	cr_assert(blame_banned(B, SRC[0]));
	cr_assert_eq(nbans, 1);
	cr_assert_str_eq(bans[0], SRC[0]);
}

Test(blame, verified_pieces_earn_trust_up_to_a_cap)
{
	for (uint32_t i = 0; i < 20; i++)
		piece_event(1, i, 0, 1, ALONE, GOOD);
	cr_assert_eq(blame_trust(B, SRC[0]), BLAME_TRUST_MAX);
	/* From the cap, 2 points a failure: the eighth takes it from 8 to -8. */
	for (uint32_t i = 0; i < 7; i++)
		piece_event(0, 100 + i, 0, 1, ALONE, BAD_FROM_0);
	cr_assert_not(blame_banned(B, SRC[0]));
	piece_event(0, 200, 0, 1, ALONE, BAD_FROM_0);
	cr_assert(blame_banned(B, SRC[0]));
}

Test(blame, shared_failures_alone_never_ban_peers_that_look_the_same)
{
	/* Two peers in every failed piece and nothing else known of them. */
	for (uint32_t i = 0; i < 20; i++)
		piece_event(0, i, 0, 2, SHARED, BAD_FROM_0);
	cr_assert_eq(nbans, 0);
	cr_assert_not(blame_banned(B, SRC[0]));
	cr_assert_not(blame_banned(B, SRC[1]));
}

Test(blame, shared_failures_ban_the_one_worse_off)
{
	/* 1 verified piece for the honest one, then shared failures. */
	piece_event(1, 50, 1, 1, ALONE, GOOD);
	for (uint32_t i = 0; i < 7; i++)
		piece_event(0, i, 0, 2, SHARED, BAD_FROM_0);
	cr_assert(blame_banned(B, SRC[0]));
	cr_assert_not(blame_banned(B, SRC[1]));
	cr_assert_eq(nbans, 1);
}

Test(blame, a_failed_piece_that_later_verifies_convicts_the_sender_of_the_bad_blocks)
{
	piece_event(0, 7, 0, 2, SHARED, BAD_FROM_0);
	cr_assert(blame_wants(B, 7));
	cr_assert_not(blame_wants(B, 8));
	cr_assert_eq(nbans, 0);
	/* Fetched again, from the honest peer alone this time, and good. */
	piece_event(1, 7, 1, 1, ALONE, GOOD);
	cr_assert(was_banned(SRC[0]), "the sender of blocks 0 and 2 is convicted");
	cr_assert_not(blame_banned(B, SRC[1]));
	cr_assert_eq(nbans, 1);
	cr_assert_not(blame_wants(B, 7), "the record is used up");
	/* The honest one got its charge back and a point for the new piece. */
	cr_assert_eq(blame_trust(B, SRC[1]), 1);
}

Test(blame, blocks_of_unknown_senders_convict_nobody)
{
	piece_event(0, 7, 0, 2, (const uint8_t[NBLOCKS]){BLAME_UNKNOWN, 1, BLAME_UNKNOWN, 1},
		    BAD_FROM_0);
	piece_event(1, 7, 1, 1, ALONE, GOOD);
	cr_assert_eq(nbans, 0);
}

Test(blame, a_failure_with_a_banned_contributor_costs_the_others_nothing)
{
	for (uint32_t i = 0; i < 4; i++)
		piece_event(0, i, 0, 1, ALONE, BAD_FROM_0);
	cr_assert(blame_banned(B, SRC[0]));
	/* Pieces it shared, verified after its ban. */
	for (uint32_t i = 10; i < 30; i++)
		piece_event(0, i, 0, 3, (const uint8_t[NBLOCKS]){0, 1, 2, 1}, BAD_FROM_0);
	cr_assert_eq(blame_trust(B, SRC[1]), 0);
	cr_assert_eq(blame_trust(B, SRC[2]), 0);
	cr_assert_eq(nbans, 1);
	cr_assert_not(blame_wants(B, 10), "nothing to prove: it is explained");
}

Test(blame, records_are_bounded_and_the_oldest_go_first)
{
	for (uint32_t i = 0; i < BLAME_RECORDS + 5; i++)
		piece_event(0, i, 0, 2, SHARED, BAD_FROM_0);
	for (uint32_t i = 0; i < 5; i++)
		cr_assert_not(blame_wants(B, i), "record %u kept", i);
	for (uint32_t i = 5; i < BLAME_RECORDS + 5; i++)
		cr_assert(blame_wants(B, i), "record %u dropped", i);
}

Test(blame, owner_indices_past_the_sources_are_ignored)
{
	/* A malformed owner table must not read past the sources. */
	piece_event(0, 3, 0, 2, (const uint8_t[NBLOCKS]){0, 5, 7, 1}, BAD_FROM_0);
	piece_event(1, 3, 1, 1, ALONE, GOOD);
	cr_assert(blame_banned(B, SRC[0]));
	cr_assert_not(blame_banned(B, SRC[1]));
}

Test(blame, the_address_table_is_bounded)
{
	char ip[INET6_ADDRSTRLEN];
	const char(*one)[INET6_ADDRSTRLEN] = (const char(*)[INET6_ADDRSTRLEN])ip;
	struct blame_piece p = {.nsources = 1, .sources = one, .nblocks = 0};

	for (unsigned i = 0; i < BLAME_MAX_ADDRS + 10; i++) {
		snprintf(ip, sizeof ip, "10.%u.%u.%u", i >> 16 & 255, i >> 8 & 255, i & 255);
		blame_passed(B, &p);
	}
	cr_assert_eq(blame_trust(B, "10.0.0.0"), 1);
	cr_assert_eq(blame_trust(B, ip), 0, "past the bound: not tracked");
}
