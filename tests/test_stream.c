/*
 * Tests for fuse/stream.c: per-piece holder counts (overlapping holds,
 * deadlines, verified pieces), readers' first/last pieces, readahead windows
 * that follow a sequential reader, jump on a seek and size themselves from
 * the read rate, and a randomised check of the hash table against a plain
 * array model. The engine is a fake that records what it was told.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

#define NPIECES 16384u
#define PLEN	65536u
#define KB	1024ull
#define MB	(1024ull * 1024ull)

struct fake {
	unsigned prio[NPIECES];
	uint64_t deadline[NPIECES];
	int have[NPIECES];
	unsigned prio_calls;
};

static void
fake_set_priority(void *ctx, uint32_t piece, unsigned prio)
{
	struct fake *f = ctx;

	cr_assert_lt(piece, NPIECES);
	f->prio[piece] = prio;
	f->prio_calls++;
}

static void
fake_set_deadline(void *ctx, uint32_t piece, uint64_t deadline_ms)
{
	struct fake *f = ctx;

	cr_assert_lt(piece, NPIECES);
	f->deadline[piece] = deadline_ms;
}

static int
fake_has_piece(void *ctx, uint32_t piece)
{
	struct fake *f = ctx;

	return f->have[piece];
}

static const struct stream_ops fake_ops = {
    .set_priority = fake_set_priority,
    .set_deadline = fake_set_deadline,
    .has_piece = fake_has_piece,
};

static struct fake *
fake_new(unsigned base)
{
	struct fake *f = calloc(1, sizeof *f);
	uint32_t i;

	cr_assert_not_null(f);
	for (i = 0; i < NPIECES; i++)
		f->prio[i] = base;
	return f;
}

static struct stream *
new_stream(struct fake *f, unsigned base)
{
	struct stream *s = stream_new(NPIECES, PLEN, (uint64_t)NPIECES * PLEN, base, &fake_ops, f);

	cr_assert_not_null(s);
	return s;
}

/* Every piece outside [first, end) is at base priority with no deadline. */
static void
assert_only(const struct fake *f, unsigned base, uint32_t first, uint32_t end)
{
	uint32_t i;

	for (i = 0; i < NPIECES; i++) {
		if (i >= first && i < end)
			continue;
		cr_assert_eq(f->prio[i], base, "piece %u has priority %u", i, f->prio[i]);
		cr_assert_eq(f->deadline[i], 0, "piece %u keeps a deadline", i);
	}
}

Test(stream, rejects_bad_geometry)
{
	struct fake *f = fake_new(1);

	cr_assert_null(stream_new(0, PLEN, 0, 1, &fake_ops, f));
	cr_assert_null(stream_new(10, PLEN, 20ull * PLEN, 1, &fake_ops, f));
	cr_assert_null(stream_new(10, 0, 10, 1, &fake_ops, f));
	cr_assert_null(stream_new(10, PLEN, 10ull * PLEN, STREAM_PRIO_AHEAD, &fake_ops, f));
	free(f);
}

Test(stream, overlapping_holds_count)
{
	struct fake *f = fake_new(1);
	struct stream *s = new_stream(f, 1);

	cr_assert_eq(stream_hold(s, 0, 3, 7, 1000), 4);
	cr_assert_eq(stream_hold(s, 2, 5, 6, 0), 2); /* 4 and 5 raised; 2 and 3 stay at 7 */
	cr_assert_eq(f->prio[1], 7);
	cr_assert_eq(f->prio[3], 7);
	cr_assert_eq(f->prio[5], 6);
	cr_assert_eq(f->deadline[0], 1000);
	cr_assert_eq(f->deadline[5], 0);
	cr_assert_eq(stream_held_count(s), 6);
	/* The same range held twice: one release leaves it raised. */
	cr_assert_eq(stream_hold(s, 4, 5, 6, 0), 0);
	stream_release(s, 4, 5, 6);
	cr_assert_eq(f->prio[4], 6);

	stream_release(s, 0, 3, 7);
	cr_assert_eq(f->prio[0], 1);
	cr_assert_eq(f->deadline[0], 0);
	cr_assert_eq(f->prio[2], 6, "the other holder keeps piece 2 raised");
	cr_assert_eq(stream_priority(s, 3), 6);
	stream_release(s, 2, 5, 6);
	assert_only(f, 1, 0, 0);
	cr_assert_eq(stream_held_count(s), 0);
	stream_free(s);
	free(f);
}

Test(stream, earliest_deadline_wins)
{
	struct fake *f = fake_new(1);
	struct stream *s = new_stream(f, 1);

	stream_hold(s, 10, 10, 6, 5000);
	cr_assert_eq(f->deadline[10], 5000);
	cr_assert_eq(stream_hold(s, 10, 10, 7, 300), 1);
	cr_assert_eq(f->deadline[10], 300);
	stream_hold(s, 10, 10, 6, 9000);
	cr_assert_eq(f->deadline[10], 300);
	stream_release(s, 10, 10, 7);
	stream_release(s, 10, 10, 6);
	cr_assert_eq(f->deadline[10], 300, "still held once");
	stream_release(s, 10, 10, 6);
	cr_assert_eq(f->deadline[10], 0);
	cr_assert_eq(f->prio[10], 1);
	stream_free(s);
	free(f);
}

Test(stream, verified_pieces_are_skipped_and_forgotten)
{
	struct fake *f = fake_new(0);
	struct stream *s = new_stream(f, 0);

	f->have[3] = 1;
	cr_assert_eq(stream_hold(s, 2, 4, 7, 100), 2);
	cr_assert_eq(f->prio[3], 0, "verified pieces are left alone");
	cr_assert_eq(stream_held_count(s), 2);
	f->have[4] = 1;
	stream_piece_verified(s, 4);
	cr_assert_eq(stream_held_count(s), 1);
	stream_release(s, 2, 4, 7); /* piece 4 is skipped, 2 goes back */
	cr_assert_eq(f->prio[2], 0);
	cr_assert_eq(stream_held_count(s), 0);
	/* Releasing what was never held changes nothing. */
	stream_release(s, 100, 200, 6);
	cr_assert_eq(stream_held_count(s), 0);
	stream_free(s);
	free(f);
}

Test(stream, ranges_are_clamped)
{
	struct fake *f = fake_new(1);
	struct stream *s = new_stream(f, 1);

	cr_assert_eq(stream_hold(s, NPIECES - 2, NPIECES + 50, 6, 0), 2);
	cr_assert_eq(stream_hold(s, 5, 4, 6, 0), 0);
	cr_assert_eq(stream_hold(s, 1, 1, 0, 0), 0);
	cr_assert_eq(stream_hold(s, 1, 1, 8, 0), 0);
	stream_release(s, NPIECES - 2, UINT32_MAX, 6);
	assert_only(f, 1, 0, 0);
	stream_free(s);
	free(f);
}

Test(stream, open_holds_first_and_last_pieces)
{
	struct fake *f = fake_new(0);
	struct stream *s = new_stream(f, 0);
	/* A 10 MiB file starting in the middle of piece 100. */
	uint64_t start = 100ull * PLEN + 1000, len = 10 * MB;
	uint32_t last = (uint32_t)((start + len - 1) / PLEN);
	struct stream_reader *r;
	int raised;

	r = stream_reader_new(s, start, len, 50, &raised);
	cr_assert_not_null(r);
	cr_assert(raised);
	/* 256 KiB at each end: 5 pieces at the head (it starts mid-piece), 5 at the tail. */
	cr_assert_eq(f->prio[100], STREAM_PRIO_AHEAD);
	cr_assert_eq(f->prio[104], STREAM_PRIO_AHEAD);
	cr_assert_eq(f->prio[105], 0);
	cr_assert_eq(f->prio[last], STREAM_PRIO_AHEAD);
	cr_assert_eq(f->prio[last - 4], STREAM_PRIO_AHEAD);
	cr_assert_eq(f->prio[last - 5], 0);
	cr_assert_eq(f->deadline[100], 50 + STREAM_EDGE_DEADLINE_MS);
	stream_reader_free(r);
	assert_only(f, 0, 0, 0);
	cr_assert_eq(stream_held_count(s), 0);

	/* A file inside one piece: that piece, held twice, released twice. */
	r = stream_reader_new(s, 7ull * PLEN + 10, 100, 0, NULL);
	cr_assert_eq(f->prio[7], STREAM_PRIO_AHEAD);
	stream_reader_free(r);
	cr_assert_eq(f->prio[7], 0);
	/* An empty file holds nothing. */
	r = stream_reader_new(s, 7ull * PLEN, 0, 0, &raised);
	cr_assert_not_null(r);
	cr_assert_not(raised);
	cr_assert_eq(stream_reader_read(r, 7ull * PLEN, 0, 0), 0);
	cr_assert_eq(stream_held_count(s), 0);
	stream_reader_free(r);
	stream_free(s);
	free(f);
}

Test(stream, window_follows_a_sequential_reader)
{
	struct fake *f = fake_new(1);
	struct stream *s = new_stream(f, 1);
	uint64_t len = (uint64_t)NPIECES * PLEN, off = 0, now = 1000;
	struct stream_reader *r = stream_reader_new(s, 0, len, now, NULL);
	uint32_t wf, we, i;

	/* First read: the minimum window (2 MiB = 32 pieces) right after it. */
	stream_reader_read(r, 0, 128 * KB, now);
	stream_reader_window(r, &wf, &we);
	cr_assert_eq(wf, 2);
	cr_assert_eq(we, 2 + STREAM_WINDOW_MIN / PLEN);
	cr_assert_eq(f->prio[wf], STREAM_PRIO_AHEAD);
	cr_assert_eq(f->prio[we - 1], STREAM_PRIO_AHEAD);
	cr_assert_eq(f->prio[we], 1);
	/* Deadlines grow along the window. */
	cr_assert_lt(f->deadline[wf], f->deadline[we - 1]);
	cr_assert_geq(f->deadline[wf], now + STREAM_AHEAD_SLACK_MS);

	/* Read 8 MiB/s for 3 s: the window grows to ~4 s of reading (32 MiB). */
	off = 128 * KB;
	for (i = 0; i < 3000 / 16; i++) {
		now += 16;
		stream_reader_read(r, off, 128 * KB, now);
		off += 128 * KB;
	}
	cr_assert_gt(stream_reader_rate(r), 6.0 * MB);
	cr_assert_lt(stream_reader_rate(r), 10.0 * MB);
	stream_reader_window(r, &wf, &we);
	cr_assert_eq(wf, off / PLEN);
	cr_assert_gt((uint64_t)(we - wf) * PLEN, 24 * MB);
	cr_assert_leq((uint64_t)(we - wf) * PLEN, 41 * MB);
	/* Everything behind the reader went back to normal (except the head held at open). */
	for (i = 5; i < wf; i++)
		cr_assert_eq(f->prio[i], 1, "piece %u behind the reader is still raised", i);
	cr_assert_eq(f->deadline[wf - 1], 0);
	stream_reader_free(r);
	assert_only(f, 1, 0, 0);
	cr_assert_eq(stream_held_count(s), 0);
	stream_free(s);
	free(f);
}

Test(stream, window_is_capped_and_stops_at_the_end_of_the_file)
{
	struct fake *f = fake_new(1);
	struct stream *s = new_stream(f, 1);
	uint64_t start = 1000ull * PLEN, len = 200ull * PLEN, now = 0, off;
	struct stream_reader *r = stream_reader_new(s, 0, (uint64_t)NPIECES * PLEN, now, NULL);
	uint32_t wf, we, i;

	/* 200 MB/s for 1.5 s: 4 s of that is more than STREAM_WINDOW_MAX. */
	for (off = 0, i = 0; i < 300; i++) {
		now += 5;
		stream_reader_read(r, off, MB, now);
		off += MB;
	}
	stream_reader_window(r, &wf, &we);
	cr_assert_eq((uint64_t)(we - wf) * PLEN, STREAM_WINDOW_MAX);
	stream_reader_free(r);

	/* A file of 200 pieces: the window never leaves it. */
	r = stream_reader_new(s, start, len, 0, NULL);
	stream_reader_read(r, start + len - 3 * PLEN, 4096, 0);
	stream_reader_window(r, &wf, &we);
	cr_assert_eq(wf, 1000 + 197);
	cr_assert_eq(we, 1200);
	cr_assert_eq(f->prio[1200], 1);
	/* Reading the last byte: no window at all. */
	stream_reader_read(r, start + len - 1, 1, 1);
	stream_reader_window(r, &wf, &we);
	cr_assert_eq(wf, we);
	stream_reader_free(r);
	assert_only(f, 1, 0, 0);
	stream_free(s);
	free(f);
}

Test(stream, seek_moves_the_window)
{
	struct fake *f = fake_new(0);
	struct stream *s = new_stream(f, 0);
	struct stream_reader *r = stream_reader_new(s, 0, (uint64_t)NPIECES * PLEN, 0, NULL);
	uint32_t wf, we, owf, owe, i;

	stream_reader_read(r, 100 * MB, 64 * KB, 0);
	stream_reader_window(r, &owf, &owe);
	cr_assert_eq(owf, 100 * MB / PLEN + 1);
	stream_reader_read(r, 50 * MB, 64 * KB, 10);
	stream_reader_window(r, &wf, &we);
	cr_assert_eq(wf, 50 * MB / PLEN + 1);
	for (i = owf; i < owe; i++)
		cr_assert_eq(f->prio[i], 0, "piece %u of the old window is still raised", i);
	for (i = wf; i < we; i++)
		cr_assert_eq(f->prio[i], STREAM_PRIO_AHEAD);
	/* A small step back (re-reading a bit) is no seek. */
	stream_reader_read(r, 50 * MB, 64 * KB, 20);
	stream_reader_window(r, &owf, &owe);
	cr_assert_eq(owf, wf);
	stream_reader_free(r);
	cr_assert_eq(stream_held_count(s), 0);
	stream_free(s);
	free(f);
}

Test(stream, two_readers_do_not_undo_each_other)
{
	struct fake *f = fake_new(0);
	struct stream *s = new_stream(f, 0);
	uint64_t len = (uint64_t)NPIECES * PLEN;
	struct stream_reader *a = stream_reader_new(s, 0, len, 0, NULL);
	struct stream_reader *b = stream_reader_new(s, 0, len, 0, NULL);
	uint32_t af, ae, bf, be, i;

	stream_reader_read(a, 10 * MB, 64 * KB, 0);
	stream_reader_read(b, 11 * MB, 64 * KB, 0);
	stream_reader_window(a, &af, &ae);
	stream_reader_window(b, &bf, &be);
	cr_assert_lt(bf, ae, "the windows overlap");
	stream_reader_free(a);
	for (i = bf; i < be; i++)
		cr_assert_eq(f->prio[i], STREAM_PRIO_AHEAD, "piece %u lost b's priority", i);
	for (i = af; i < bf; i++)
		cr_assert_eq(f->prio[i], 0);
	/* A parked read inside b's window lifts to 7 and falls back to 6. */
	stream_hold(s, bf, bf, STREAM_PRIO_READ, 5);
	cr_assert_eq(f->prio[bf], STREAM_PRIO_READ);
	stream_release(s, bf, bf, STREAM_PRIO_READ);
	cr_assert_eq(f->prio[bf], STREAM_PRIO_AHEAD);
	stream_reader_free(b);
	assert_only(f, 0, 0, 0);
	cr_assert_eq(stream_held_count(s), 0);
	stream_free(s);
	free(f);
}

/* Random holds and releases against a plain array model of the counts. */
Test(stream, random_against_model)
{
	static uint32_t model[NPIECES][STREAM_PRIO_LEVELS];
	struct fake *f = fake_new(1);
	struct stream *s = new_stream(f, 1);
	struct {
		uint32_t first, last;
		unsigned prio;
	} held[512];
	size_t nheld = 0, k;
	uint64_t x = 88172645463325252ull;
	uint32_t i, step;

	memset(model, 0, sizeof model);
	for (step = 0; step < 20000; step++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (nheld < 512 && (x % 3 != 0 || nheld == 0)) {
			uint32_t first = (uint32_t)((x >> 8) % NPIECES);
			uint32_t n = (uint32_t)((x >> 24) % 40);
			unsigned prio = 2 + (unsigned)((x >> 40) % 6);

			if (first + n >= NPIECES)
				n = NPIECES - 1 - first;
			cr_assert_geq(stream_hold(s, first, first + n, prio, 0), 0);
			held[nheld].first = first;
			held[nheld].last = first + n;
			held[nheld].prio = prio;
			nheld++;
			for (i = first; i <= first + n; i++)
				model[i][prio]++;
		} else {
			k = (size_t)((x >> 16) % nheld);
			stream_release(s, held[k].first, held[k].last, held[k].prio);
			for (i = held[k].first; i <= held[k].last; i++)
				model[i][held[k].prio]--;
			held[k] = held[--nheld];
		}
		if (step % 997 == 0 || step == 19999) {
			uint32_t used = 0;

			for (i = 0; i < NPIECES; i++) {
				unsigned p, want = 1;

				for (p = STREAM_PRIO_LEVELS - 1; p > 1; p--)
					if (model[i][p] > 0) {
						want = p;
						break;
					}
				for (p = 0; p < STREAM_PRIO_LEVELS; p++)
					if (model[i][p] > 0) {
						used++;
						break;
					}
				cr_assert_eq(f->prio[i], want, "step %u piece %u", step, i);
				cr_assert_eq(stream_priority(s, i), want);
			}
			cr_assert_eq(stream_held_count(s), used);
		}
	}
	while (nheld > 0) {
		nheld--;
		stream_release(s, held[nheld].first, held[nheld].last, held[nheld].prio);
	}
	assert_only(f, 1, 0, 0);
	cr_assert_eq(stream_held_count(s), 0);
	stream_free(s);
	free(f);
}
