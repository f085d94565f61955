/*
 * Tests for layout: hand-checked small layouts for the edge cases, then a
 * randomized cross-check of the segment iterator, file_at and
 * file_range_to_pieces against a byte-by-byte reference.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "layout.h"

static struct layout L;

static void
setup(uint64_t total, uint32_t piece_len, const uint64_t *lens, size_t n)
{
	struct error err = {0};
	int rc = layout_init(&L, total, piece_len, lens, n, &err);

	cr_assert_eq(rc, 0, "layout_init: %s", err.msg);
}

static void
teardown(void)
{
	layout_free(&L);
}

TestSuite(layout, .fini = teardown);

Test(layout, rejects_bad_input)
{
	uint64_t lens[] = {10, 20};
	uint64_t huge[] = {UINT64_MAX, 2};
	struct error err = {0};

	cr_assert_eq(layout_init(&L, 30, 0, lens, 2, &err), -ERR_INVALID);
	cr_assert_eq(err.code, ERR_INVALID);
	cr_assert_eq(layout_init(&L, 31, 16, lens, 2, &err), -ERR_INVALID);
	cr_assert_eq(layout_init(&L, 29, 16, lens, 2, &err), -ERR_INVALID);
	cr_assert_eq(layout_init(&L, 0, 16, lens, 0, &err), -ERR_INVALID);
	cr_assert_eq(layout_init(&L, 30, 16, lens, 0, NULL), -ERR_INVALID);
	/* Lengths that would wrap around when summed. */
	cr_assert_eq(layout_init(&L, 1, 16, huge, 2, &err), -ERR_INVALID);
	cr_assert_eq(layout_init(&L, UINT64_MAX, 16, huge, 1, &err), -ERR_LIMIT);
	/* 2^40 bytes in 1-byte pieces is more than 2^32 pieces. */
	uint64_t big = 1ull << 40;
	cr_assert_eq(layout_init(&L, big, 1, &big, 1, &err), -ERR_LIMIT);
	cr_assert_null(L.offset);
	layout_free(NULL);
}

Test(layout, one_byte_torrent)
{
	uint64_t lens[] = {1};
	size_t f = 99, first, last;
	uint32_t p0, p1;

	setup(1, 16384, lens, 1);
	cr_assert_eq(layout_piece_count(&L), 1);
	cr_assert_eq(layout_piece_size(&L, 0), 1);
	cr_assert_eq(layout_piece_size(&L, 1), 0);
	cr_assert_eq(layout_block_count(&L, 0), 1);
	cr_assert_eq(layout_block_size(&L, 0, 0), 1);
	cr_assert_eq(layout_block_size(&L, 0, 1), 0);
	cr_assert_eq(layout_file_at(&L, 0, &f), 0);
	cr_assert_eq(f, 0);
	cr_assert_eq(layout_file_at(&L, 1, &f), -ERR_INVALID);
	cr_assert_eq(layout_piece_files(&L, 0, &first, &last), 0);
	cr_assert_eq(first, 0);
	cr_assert_eq(last, 0);
	cr_assert_eq(layout_file_range_to_pieces(&L, 0, 0, 4096, &p0, &p1), 0);
	cr_assert_eq(p0, 0);
	cr_assert_eq(p1, 0);
	cr_assert_eq(layout_file_range_to_pieces(&L, 0, 1, 1, &p0, &p1), -ERR_INVALID);
}

Test(layout, exact_multiple_of_piece_length)
{
	uint64_t lens[] = {3 * 32768};

	setup(3 * 32768, 32768, lens, 1);
	cr_assert_eq(layout_piece_count(&L), 3);
	for (uint32_t p = 0; p < 3; p++) {
		cr_assert_eq(layout_piece_size(&L, p), 32768);
		cr_assert_eq(layout_piece_offset(&L, p), (uint64_t)p * 32768);
		cr_assert_eq(layout_block_count(&L, p), 2);
		cr_assert_eq(layout_block_size(&L, p, 1), LAYOUT_BLOCK_SIZE);
	}
}

Test(layout, short_last_piece_and_block)
{
	/* 2 full pieces of 64 KiB, then 20000 bytes: blocks 16384 + 3616. */
	uint64_t total = 2 * 65536 + 20000;

	setup(total, 65536, &total, 1);
	cr_assert_eq(layout_piece_count(&L), 3);
	cr_assert_eq(layout_piece_size(&L, 2), 20000);
	cr_assert_eq(layout_block_count(&L, 0), 4);
	cr_assert_eq(layout_block_count(&L, 2), 2);
	cr_assert_eq(layout_block_size(&L, 2, 0), 16384);
	cr_assert_eq(layout_block_size(&L, 2, 1), 3616);
	cr_assert_eq(layout_block_size(&L, 2, 2), 0);
	cr_assert_eq(layout_block_size(&L, 3, 0), 0);
}

Test(layout, piece_smaller_than_block)
{
	uint64_t lens[] = {10000};

	setup(10000, 4096, lens, 1);
	cr_assert_eq(layout_piece_count(&L), 3);
	cr_assert_eq(layout_block_count(&L, 0), 1);
	cr_assert_eq(layout_block_size(&L, 0, 0), 4096);
	cr_assert_eq(layout_block_size(&L, 2, 0), 10000 - 8192);
}

Test(layout, zero_length_files_are_skipped)
{
	/* offsets: a=0 (0), b=0 (5), c=5 (0), d=5 (0), e=5 (3), f=8 (0) */
	uint64_t lens[] = {0, 5, 0, 0, 3, 0};
	size_t f, first, last;
	struct layout_iter it;
	struct layout_seg s;
	uint32_t p0, p1;

	setup(8, 4, lens, 6);
	cr_assert_eq(layout_file_at(&L, 0, &f), 0);
	cr_assert_eq(f, 1);
	cr_assert_eq(layout_file_at(&L, 4, &f), 0);
	cr_assert_eq(f, 1);
	cr_assert_eq(layout_file_at(&L, 5, &f), 0);
	cr_assert_eq(f, 4);
	cr_assert_eq(layout_file_at(&L, 7, &f), 0);
	cr_assert_eq(f, 4);
	cr_assert_eq(layout_file_at(&L, 8, &f), -ERR_INVALID);

	cr_assert_eq(layout_piece_files(&L, 1, &first, &last), 0);
	cr_assert_eq(first, 1);
	cr_assert_eq(last, 4);

	cr_assert_eq(layout_iter_init(&it, &L, 0, 8), 0);
	cr_assert(layout_iter_next(&it, &s));
	cr_assert_eq(s.file, 1);
	cr_assert_eq(s.file_off, 0);
	cr_assert_eq(s.len, 5);
	cr_assert_eq(s.range_off, 0);
	cr_assert(layout_iter_next(&it, &s));
	cr_assert_eq(s.file, 4);
	cr_assert_eq(s.file_off, 0);
	cr_assert_eq(s.len, 3);
	cr_assert_eq(s.range_off, 5);
	cr_assert_not(layout_iter_next(&it, &s));

	cr_assert_eq(layout_file_range_to_pieces(&L, 0, 0, 10, &p0, &p1), -ERR_INVALID);
	cr_assert_eq(layout_file_range_to_pieces(&L, 5, 0, 10, &p0, &p1), -ERR_INVALID);
	cr_assert_eq(layout_file_range_to_pieces(&L, 4, 0, 10, &p0, &p1), 0);
	cr_assert_eq(p0, 1);
	cr_assert_eq(p1, 1);
	cr_assert_eq(layout_file_range_to_pieces(&L, 1, 3, 1, &p0, &p1), 0);
	cr_assert_eq(p0, 0);
	cr_assert_eq(p1, 0);
	cr_assert_eq(layout_file_range_to_pieces(&L, 6, 0, 1, &p0, &p1), -ERR_INVALID);
}

Test(layout, piece_spanning_many_small_files)
{
	uint64_t lens[100];
	size_t first, last;
	struct layout_iter it;
	struct layout_seg s;
	size_t n = 0;

	for (size_t i = 0; i < 100; i++)
		lens[i] = 100; /* each far smaller than a block */
	setup(10000, 65536, lens, 100);
	cr_assert_eq(layout_piece_count(&L), 1);
	cr_assert_eq(layout_piece_files(&L, 0, &first, &last), 0);
	cr_assert_eq(first, 0);
	cr_assert_eq(last, 99);
	/* The second block-sized chunk of the piece: 10000 bytes total so one block. */
	cr_assert_eq(layout_block_count(&L, 0), 1);
	cr_assert_eq(layout_iter_init(&it, &L, 150, 300), 0);
	while (layout_iter_next(&it, &s)) {
		cr_assert_eq(s.file, 1 + n);
		cr_assert_eq(s.file_off, n == 0 ? 50 : 0);
		cr_assert_eq(s.len, n == 0 || n == 3 ? 50 : 100);
		n++;
	}
	cr_assert_eq(n, 4);
}

Test(layout, iter_bounds)
{
	uint64_t lens[] = {10, 10};
	struct layout_iter it;
	struct layout_seg s;

	setup(20, 8, lens, 2);
	cr_assert_eq(layout_iter_init(&it, &L, 0, 21), -ERR_INVALID);
	cr_assert_eq(layout_iter_init(&it, &L, 21, 0), -ERR_INVALID);
	cr_assert_eq(layout_iter_init(&it, &L, 5, UINT64_MAX), -ERR_INVALID);
	cr_assert_eq(layout_iter_init(&it, &L, 20, 0), 0);
	cr_assert_not(layout_iter_next(&it, &s));
	cr_assert_eq(layout_iter_init(&it, &L, 19, 1), 0);
	cr_assert(layout_iter_next(&it, &s));
	cr_assert_eq(s.file, 1);
	cr_assert_eq(s.file_off, 9);
	cr_assert_eq(s.len, 1);
	cr_assert_not(layout_iter_next(&it, &s));
}

/* Tiny deterministic PRNG so the test is reproducible everywhere. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

Test(layout, randomized_against_bytewise_reference)
{
	for (int round = 0; round < 300; round++) {
		size_t nfiles = 1 + rng() % 12;
		uint64_t lens[12], total = 0;
		size_t owner[2000]; /* owner[b] = file holding stream byte b */
		uint64_t owner_off[2000];
		uint32_t piece_len = 1 + (uint32_t)(rng() % 200);

		for (size_t i = 0; i < nfiles; i++) {
			/* Plenty of zeros and tiny files. */
			uint64_t r = rng() % 4;
			lens[i] = r == 0 ? 0 : rng() % (r == 1 ? 3 : 150);
			total += lens[i];
		}
		if (total == 0) {
			lens[nfiles - 1] = 1;
			total = 1;
		}
		for (size_t i = 0, b = 0; i < nfiles; i++)
			for (uint64_t k = 0; k < lens[i]; k++, b++) {
				owner[b] = i;
				owner_off[b] = k;
			}
		setup(total, piece_len, lens, nfiles);
		cr_assert_eq(layout_piece_count(&L), (total + piece_len - 1) / piece_len);

		uint64_t sum = 0;
		for (uint32_t p = 0; p < layout_piece_count(&L); p++)
			sum += layout_piece_size(&L, p);
		cr_assert_eq(sum, total);

		for (uint64_t b = 0; b < total; b++) {
			size_t f;

			cr_assert_eq(layout_file_at(&L, b, &f), 0);
			cr_assert_eq(f, owner[b], "round %d byte %llu", round,
				     (unsigned long long)b);
		}

		for (int q = 0; q < 40; q++) {
			uint64_t off = rng() % (total + 1);
			uint64_t len = rng() % (total - off + 1);
			struct layout_iter it;
			struct layout_seg s;
			uint64_t b = off;

			cr_assert_eq(layout_iter_init(&it, &L, off, len), 0);
			while (layout_iter_next(&it, &s)) {
				cr_assert_gt(s.len, 0);
				cr_assert_eq(s.range_off, b - off);
				for (uint64_t k = 0; k < s.len; k++, b++) {
					cr_assert_eq(s.file, owner[b]);
					cr_assert_eq(s.file_off, owner_off[b] - k);
				}
			}
			cr_assert_eq(b, off + len, "round %d: iterator covered %llu of %llu", round,
				     (unsigned long long)(b - off), (unsigned long long)len);

			/* Same range seen from the file holding its first byte. */
			if (len > 0) {
				size_t f = owner[off];
				uint64_t foff = owner_off[off];
				uint64_t in_file = lens[f] - foff < len ? lens[f] - foff : len;
				uint32_t p0, p1;

				cr_assert_eq(
				    layout_file_range_to_pieces(&L, f, foff, len, &p0, &p1), 0);
				cr_assert_eq(p0, off / piece_len);
				cr_assert_eq(p1, (off + in_file - 1) / piece_len);
			}
		}
		layout_free(&L);
	}
}
