/*
 * Tests for fuse/chunks.c: which chunk a range falls in (and ranges that
 * span two, or run past the end), loading a chunk once and answering later
 * requests from it, least-recently-used eviction, a short last chunk,
 * alignment of the buffers, a failed load that must not leave a slot
 * claiming the chunk, and loads on a real worker pool: loading slots are
 * never evicted, completions run on the loop thread. The data source is a
 * fake that counts its calls.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "chunks.h"
#include "loop.h"

#define CH    8192u
#define TOTAL (5u * CH + 1000u) /* five whole chunks and a short one */

struct src {
	atomic_uint calls;
	uint64_t last_off;
	size_t last_len;
	int fail; /* the next fill fails with this */
	/* Completions seen, in order. */
	uint64_t done_start[16];
	int done_rc[16];
	unsigned ndone;
};

static uint8_t
byte_at(uint64_t off)
{
	return (uint8_t)(off * 31u + off / 251u);
}

static int
fake_fill(void *arg, uint64_t off, void *buf, size_t len)
{
	struct src *s = arg;
	uint8_t *p = buf;
	size_t i;

	s->calls++;
	s->last_off = off;
	s->last_len = len;
	if (s->fail) {
		int rc = s->fail;

		s->fail = 0;
		memset(buf, 0xee, len);
		return rc;
	}
	for (i = 0; i < len; i++)
		p[i] = byte_at(off + i);
	return 0;
}

static void
fake_loaded(void *arg, uint64_t start, int rc)
{
	struct src *s = arg;

	cr_assert_lt(s->ndone, 16u);
	s->done_start[s->ndone] = start;
	s->done_rc[s->ndone++] = rc;
}

static void
expect_bytes(const uint8_t *p, uint64_t off, size_t len)
{
	size_t i;

	cr_assert_not_null(p, "no data at %llu", (unsigned long long)off);
	for (i = 0; i < len; i++)
		if (p[i] != byte_at(off + i))
			cr_assert_fail("byte %llu differs", (unsigned long long)(off + i));
}

/* Synchronous use (no pool): find, load if absent, find again. */
static const uint8_t *
get(struct chunks *c, uint64_t off, size_t len, int *rc)
{
	enum chunks_state state;
	const uint8_t *p;
	uint64_t start;
	size_t clen;

	*rc = 0;
	if ((p = chunks_find(c, off, len, &state)) != NULL)
		return p;
	cr_assert_eq(state, CHUNKS_ABSENT);
	cr_assert_eq(chunks_span(c, off, len, &start, &clen), 0);
	if ((*rc = chunks_load(c, start)) < 0)
		return NULL;
	return chunks_find(c, off, len, &state);
}

Test(chunks, rejects_bad_sizes)
{
	struct src s = {0};

	cr_assert_null(chunks_new(0, CH, TOTAL, NULL, fake_fill, fake_loaded, &s));
	cr_assert_null(chunks_new(2, 1000, TOTAL, NULL, fake_fill, fake_loaded, &s));
	cr_assert_null(chunks_new(2, CH, 0, NULL, fake_fill, fake_loaded, &s));
	cr_assert_null(chunks_new(2, CH, TOTAL, NULL, NULL, fake_loaded, &s));
	cr_assert_null(chunks_new(2, CH, TOTAL, NULL, fake_fill, NULL, &s));
}

Test(chunks, span_finds_the_chunk_or_refuses)
{
	struct src s = {0};
	struct chunks *c = chunks_new(2, CH, TOTAL, NULL, fake_fill, fake_loaded, &s);
	uint64_t start;
	size_t len;

	cr_assert_not_null(c);
	cr_assert_eq(chunks_span(c, 0, CH, &start, &len), 0);
	cr_assert_eq(start, 0);
	cr_assert_eq(len, CH);
	cr_assert_eq(chunks_span(c, CH + 5, 100, &start, &len), 0);
	cr_assert_eq(start, CH);
	cr_assert_eq(chunks_span(c, CH - 1, 2, &start, &len), -1, "spans two chunks");
	cr_assert_eq(chunks_span(c, 5u * CH + 10, 990, &start, &len), 0);
	cr_assert_eq(start, 5u * CH);
	cr_assert_eq(len, 1000u, "the last chunk is short");
	cr_assert_eq(chunks_span(c, 5u * CH + 10, 991, &start, &len), -1, "past the end");
	cr_assert_eq(chunks_span(c, TOTAL, 1, &start, &len), -1);
	cr_assert_eq(chunks_span(c, UINT64_MAX, 1, &start, &len), -1);
	cr_assert_eq(chunks_span(c, 0, 0, &start, &len), -1);
	cr_assert_eq(chunks_load(c, 100), -EINVAL, "not a chunk boundary");
	cr_assert_eq(chunks_load(c, 6u * CH), -EINVAL, "past the end");
	cr_assert_eq(s.calls, 0u);
	chunks_free(c);
}

Test(chunks, loads_a_chunk_once_and_answers_from_it)
{
	struct src s = {0};
	struct chunks *c = chunks_new(2, CH, TOTAL, NULL, fake_fill, fake_loaded, &s);
	const uint8_t *p;
	uint64_t off;
	int rc;

	cr_assert_not_null(c);
	for (off = CH; off < 2u * CH; off += 1024) {
		p = get(c, off, 1024, &rc);
		expect_bytes(p, off, 1024);
		cr_assert_eq((uintptr_t)(p - (off - CH)) % CHUNKS_ALIGN, 0, "aligned buffer");
	}
	cr_assert_eq(s.calls, 1u, "one fill for eight requests");
	cr_assert_eq(s.last_off, CH);
	cr_assert_eq(s.last_len, CH, "the whole chunk");
	cr_assert_eq(s.ndone, 1u, "loaded() runs without a pool too");
	cr_assert_eq(s.done_start[0], CH);
	cr_assert_eq(chunks_state_of(c, CH), CHUNKS_READY);
	cr_assert_eq(chunks_load(c, CH), -EINVAL, "already there");
	cr_assert_eq(chunks_loads(c), 1u);
	cr_assert_eq(chunks_hits(c), 8u);
	chunks_free(c);
}

Test(chunks, evicts_the_least_recently_used)
{
	struct src s = {0};
	struct chunks *c = chunks_new(2, CH, TOTAL, NULL, fake_fill, fake_loaded, &s);
	int rc;

	cr_assert_not_null(c);
	expect_bytes(get(c, 0, 10, &rc), 0, 10);	     /* load 0 */
	expect_bytes(get(c, CH, 10, &rc), CH, 10);	     /* load 1 */
	expect_bytes(get(c, 20, 10, &rc), 20, 10);	     /* hit 0: 1 is older */
	expect_bytes(get(c, 2u * CH, 10, &rc), 2u * CH, 10); /* load 2, evicts 1 */
	cr_assert_eq(s.calls, 3u);
	cr_assert_eq(chunks_state_of(c, CH), CHUNKS_ABSENT);
	expect_bytes(get(c, 30, 10, &rc), 30, 10); /* 0 still there */
	cr_assert_eq(s.calls, 3u);
	expect_bytes(get(c, CH + 40, 10, &rc), CH + 40, 10); /* 1 again: evicts 2 */
	cr_assert_eq(s.calls, 4u);
	expect_bytes(get(c, 5u * CH + 900, 100, &rc), 5u * CH + 900, 100);
	cr_assert_eq(s.last_len, 1000u, "the short last chunk is filled to its end only");
	chunks_free(c);
}

Test(chunks, a_failed_load_is_not_remembered)
{
	struct src s = {0};
	struct chunks *c = chunks_new(1, CH, TOTAL, NULL, fake_fill, fake_loaded, &s);
	enum chunks_state state;
	int rc;

	cr_assert_not_null(c);
	expect_bytes(get(c, 3u * CH, 10, &rc), 3u * CH, 10);
	s.fail = -EIO;
	cr_assert_null(get(c, 4u * CH, 10, &rc));
	cr_assert_eq(rc, -EIO);
	cr_assert_eq(s.done_rc[1], -EIO, "loaded() is told");
	/* Neither the failed chunk nor the one its slot held may be served now. */
	cr_assert_null(chunks_find(c, 4u * CH, 10, &state));
	cr_assert_eq(state, CHUNKS_ABSENT);
	cr_assert_null(chunks_find(c, 3u * CH, 10, &state));
	expect_bytes(get(c, 4u * CH, 10, &rc), 4u * CH, 10);
	cr_assert_eq(s.calls, 3u, "loaded again after the failure");
	chunks_free(c);
	chunks_free(NULL);
}

Test(chunks, loads_on_a_pool_and_completes_on_the_loop)
{
	struct src s = {0};
	struct loop *L = loop_new();
	struct loop_pool *pool;
	struct chunks *c;
	enum chunks_state state;
	time_t deadline = time(NULL) + 10;

	cr_assert_not_null(L);
	pool = loop_pool_new(L, 1);
	cr_assert_not_null(pool);
	c = chunks_new(2, CH, TOTAL, pool, fake_fill, fake_loaded, &s);
	cr_assert_not_null(c);
	cr_assert_eq(chunks_load(c, 0), 0);
	cr_assert_eq(chunks_load(c, 2u * CH), 0);
	cr_assert_eq(chunks_state_of(c, 0), CHUNKS_LOADING);
	cr_assert_null(chunks_find(c, 0, 10, &state));
	cr_assert_eq(state, CHUNKS_LOADING);
	cr_assert_eq(chunks_load(c, 0), -EINVAL, "already loading");
	cr_assert_eq(chunks_load(c, CH), -EBUSY, "both slots are loading");
	cr_assert_eq(s.ndone, 0u, "completions wait for the loop");
	while (s.ndone < 2 && time(NULL) < deadline)
		cr_assert_eq(loop_run_once(L, 100), 0);
	cr_assert_eq(s.ndone, 2u);
	cr_assert_eq(s.done_start[0] + s.done_start[1], 2u * CH, "both chunks completed");
	cr_assert_eq(s.done_rc[0], 0);
	cr_assert_eq(s.done_rc[1], 0);
	expect_bytes(chunks_find(c, 2u * CH + 100, 500, &state), 2u * CH + 100, 500);
	expect_bytes(chunks_find(c, 0, CH, &state), 0, CH);
	/* Now a slot is free to reuse (the least recently used: chunk 2). */
	cr_assert_eq(chunks_load(c, 4u * CH), 0);
	cr_assert_eq(chunks_state_of(c, 2u * CH), CHUNKS_ABSENT);
	cr_assert_eq(chunks_state_of(c, 0), CHUNKS_READY);
	/* Teardown with a load in flight: the pool finishes it first. */
	loop_pool_free(pool);
	chunks_free(c);
	loop_free(L);
	cr_assert_eq(s.calls, 3u);
}

Test(chunks, put_copies_a_chunk_from_memory)
{
	struct src s = {0};
	struct chunks *c = chunks_new(2, CH, TOTAL, NULL, fake_fill, fake_loaded, &s);
	static uint8_t piece[2u * CH];
	enum chunks_state state;
	size_t i;
	int rc;

	cr_assert_not_null(c);
	for (i = 0; i < sizeof piece; i++)
		piece[i] = byte_at(2u * CH + i);
	cr_assert_eq(chunks_put(c, 2u * CH, piece), 0);
	cr_assert_eq(chunks_put(c, 3u * CH, piece + CH), 0);
	cr_assert_eq(chunks_put(c, 3u * CH, piece + CH), -EINVAL, "already there");
	cr_assert_eq(chunks_put(c, 100, piece), -EINVAL, "not a chunk boundary");
	memset(piece, 0, sizeof piece); /* copied, not borrowed */
	expect_bytes(chunks_find(c, 2u * CH + 7, 300, &state), 2u * CH + 7, 300);
	expect_bytes(chunks_find(c, 3u * CH, CH, &state), 3u * CH, CH);
	cr_assert_eq(s.calls, 0u, "nothing read");
	cr_assert_eq(chunks_puts(c), 2u);
	/* A put takes the least recently used slot, as a load does. */
	expect_bytes(get(c, 0, 10, &rc), 0, 10);
	cr_assert_eq(chunks_state_of(c, 2u * CH), CHUNKS_ABSENT);
	cr_assert_eq(chunks_state_of(c, 3u * CH), CHUNKS_READY);
	chunks_free(c);
}
