/*
 * Tests for fuse/chunks.c: which chunk a range falls in (and ranges that
 * span two, or run past the end), filling a chunk once and answering later
 * requests from it, least-recently-used eviction, a short last chunk,
 * alignment of the buffers, and a failed fill that must not leave a slot
 * claiming the chunk. The data source is a fake that counts its calls.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "chunks.h"

#define CH    8192u
#define TOTAL (5u * CH + 1000u) /* five whole chunks and a short one */

struct src {
	unsigned calls;
	uint64_t last_off;
	size_t last_len;
	int fail; /* next fill fails with this */
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
expect_bytes(const uint8_t *p, uint64_t off, size_t len)
{
	size_t i;

	cr_assert_not_null(p);
	for (i = 0; i < len; i++)
		if (p[i] != byte_at(off + i))
			cr_assert_fail("byte %llu differs", (unsigned long long)(off + i));
}

Test(chunks, rejects_bad_sizes)
{
	struct src s = {0};

	cr_assert_null(chunks_new(0, CH, TOTAL, fake_fill, &s));
	cr_assert_null(chunks_new(2, 1000, TOTAL, fake_fill, &s));
	cr_assert_null(chunks_new(2, CH, 0, fake_fill, &s));
	cr_assert_null(chunks_new(2, CH, TOTAL, NULL, &s));
}

Test(chunks, span_finds_the_chunk_or_refuses)
{
	struct src s = {0};
	struct chunks *c = chunks_new(2, CH, TOTAL, fake_fill, &s);
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
	cr_assert_eq(s.calls, 0u);
	chunks_free(c);
}

Test(chunks, fills_a_chunk_once_and_answers_from_it)
{
	struct src s = {0};
	struct chunks *c = chunks_new(2, CH, TOTAL, fake_fill, &s);
	const uint8_t *p;
	uint64_t off;
	int err = 0;

	cr_assert_not_null(c);
	for (off = CH; off < 2u * CH; off += 1024) {
		p = chunks_get(c, off, 1024, &err);
		expect_bytes(p, off, 1024);
		cr_assert_eq((uintptr_t)(p - (off - CH)) % CHUNKS_ALIGN, 0, "aligned buffer");
	}
	cr_assert_eq(s.calls, 1u, "one fill for eight requests");
	cr_assert_eq(s.last_off, CH);
	cr_assert_eq(s.last_len, CH, "the whole chunk");
	cr_assert_eq(chunks_fills(c), 1u);
	cr_assert_eq(chunks_hits(c), 7u);
	cr_assert_null(chunks_get(c, CH - 1, 2, &err));
	cr_assert_eq(err, -EINVAL);
	chunks_free(c);
}

Test(chunks, evicts_the_least_recently_used)
{
	struct src s = {0};
	struct chunks *c = chunks_new(2, CH, TOTAL, fake_fill, &s);
	int err = 0;

	cr_assert_not_null(c);
	expect_bytes(chunks_get(c, 0, 10, &err), 0, 10);	     /* fill 0 */
	expect_bytes(chunks_get(c, CH, 10, &err), CH, 10);	     /* fill 1 */
	expect_bytes(chunks_get(c, 20, 10, &err), 20, 10);	     /* hit 0: 1 is older */
	expect_bytes(chunks_get(c, 2u * CH, 10, &err), 2u * CH, 10); /* fill 2, evicts 1 */
	cr_assert_eq(s.calls, 3u);
	expect_bytes(chunks_get(c, 30, 10, &err), 30, 10); /* 0 still there */
	cr_assert_eq(s.calls, 3u);
	expect_bytes(chunks_get(c, CH + 40, 10, &err), CH + 40, 10); /* 1 again: evicts 2 */
	cr_assert_eq(s.calls, 4u);
	expect_bytes(chunks_get(c, 5u * CH + 900, 100, &err), 5u * CH + 900, 100);
	cr_assert_eq(s.last_len, 1000u, "the short last chunk is filled to its end only");
	chunks_free(c);
}

Test(chunks, a_failed_fill_is_not_remembered)
{
	struct src s = {0};
	struct chunks *c = chunks_new(1, CH, TOTAL, fake_fill, &s);
	int err = 0;

	cr_assert_not_null(c);
	expect_bytes(chunks_get(c, 3u * CH, 10, &err), 3u * CH, 10);
	s.fail = -EIO;
	cr_assert_null(chunks_get(c, 4u * CH, 10, &err));
	cr_assert_eq(err, -EIO);
	/* Neither the failed chunk nor the one its slot held may be served now. */
	expect_bytes(chunks_get(c, 4u * CH, 10, &err), 4u * CH, 10);
	cr_assert_eq(s.calls, 3u, "refilled after the failure");
	expect_bytes(chunks_get(c, 3u * CH, 10, &err), 3u * CH, 10);
	cr_assert_eq(s.calls, 4u);
	chunks_free(c);
	chunks_free(NULL);
}
