/*
 * Tests for the token buckets: long simulated runs stay on the rate, the
 * burst bound holds, wait_ms is exact, unlimited lets everything through,
 * and the CLI rate strings parse (or fail) as documented.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "error.h"
#include "ratelimit.h"

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

/*
 * A greedy sender for 60 simulated seconds: asks for random amounts, takes
 * what it is given, and when short sleeps exactly wait_ms for the rest.
 */
static uint64_t
simulate(struct ratelimit *rl, uint64_t start, uint64_t dur_ms, uint32_t max_req)
{
	uint64_t now = start, sent = 0, want, got, w;

	ratelimit_refill(rl, now);
	while (now < start + dur_ms) {
		want = 1 + test_rand() % max_req;
		for (;;) {
			ratelimit_refill(rl, now);
			got = ratelimit_take(rl, want);
			sent += got;
			want -= got;
			if (want == 0)
				break;
			w = ratelimit_wait_ms(rl, want);
			cr_assert_gt(w, 0, "short but no wait");
			now += w;
			if (now >= start + dur_ms)
				return sent;
		}
	}
	return sent;
}

Test(ratelimit, long_run_stays_on_rate)
{
	static const uint64_t rates[] = {500, 3000, 50000, 1000 * 1000, 12345678};
	struct ratelimit rl;
	uint64_t sent, ideal;
	size_t i;

	test_srand(1);
	for (i = 0; i < sizeof rates / sizeof rates[0]; i++) {
		ratelimit_init(&rl, rates[i], 0);
		sent = simulate(&rl, 1000000, 60000, 65536);
		ideal = rates[i] * 60;
		cr_assert_leq(sent, ideal + rl.burst, "rate %llu: sent %llu",
			      (unsigned long long)rates[i], (unsigned long long)sent);
		cr_assert_geq(sent, ideal - ideal / 100, "rate %llu: sent %llu",
			      (unsigned long long)rates[i], (unsigned long long)sent);
	}
}

Test(ratelimit, frequent_small_refills_do_not_lose_the_fraction)
{
	struct ratelimit rl;
	uint64_t now, sent = 0;

	/* 0.5 byte per ms: without the carried remainder every refill would earn 0. */
	ratelimit_init(&rl, 500, 0);
	ratelimit_refill(&rl, 5000);
	ratelimit_take(&rl, UINT64_MAX);
	for (now = 5001; now <= 65000; now++) {
		ratelimit_refill(&rl, now);
		sent += ratelimit_take(&rl, 7);
	}
	cr_assert_eq(sent, 30000);
}

Test(ratelimit, burst_bounds_any_window)
{
	struct ratelimit rl;

	ratelimit_init(&rl, 100000, 20000);
	cr_assert_eq(rl.tokens, 20000, "starts full");
	/* A long idle period earns no more than the burst. */
	ratelimit_refill(&rl, 1000000000);
	cr_assert_eq(ratelimit_take(&rl, 1 << 20), 20000);
	cr_assert_eq(ratelimit_take(&rl, 1), 0);
	ratelimit_refill(&rl, 1000000000 + 100);
	cr_assert_eq(ratelimit_take(&rl, 1 << 20), 10000);
	/* A clock going backwards earns nothing and does not move last_ms back. */
	ratelimit_refill(&rl, 5);
	cr_assert_eq(ratelimit_take(&rl, 1), 0);
	ratelimit_refill(&rl, 1000000000 + 110);
	cr_assert_eq(ratelimit_take(&rl, 1 << 20), 1000);
	/* Partly full plus a short refill: still capped at the burst. */
	ratelimit_refill(&rl, 1000000000 + 400);
	cr_assert_eq(ratelimit_take(&rl, 5000), 5000);
	ratelimit_refill(&rl, 1000000000 + 500);
	cr_assert_eq(rl.tokens, 20000);

	/* The largest rate after the longest idle time: no overflow, just a full bucket. */
	ratelimit_init(&rl, RATELIMIT_MAX_RATE, RATELIMIT_MAX_RATE);
	ratelimit_refill(&rl, 1000);
	ratelimit_take(&rl, UINT64_MAX);
	/* rate * elapsed would be 2^64 + 2^40 here, wrapping to a small number. */
	ratelimit_refill(&rl, 1000 + (1ull << 24) + 1);
	cr_assert_eq(rl.tokens, RATELIMIT_MAX_RATE);
	ratelimit_take(&rl, UINT64_MAX);
	ratelimit_refill(&rl, 1000 + (1ull << 24) + 2);
	cr_assert_eq(rl.tokens, RATELIMIT_MAX_RATE / 1000);
	cr_assert_eq(rl.frac, RATELIMIT_MAX_RATE % 1000);
}

Test(ratelimit, default_burst)
{
	struct ratelimit rl;

	ratelimit_init(&rl, 1000, 0);
	cr_assert_eq(rl.burst, RATELIMIT_MIN_BURST, "must hold a whole block");
	ratelimit_init(&rl, 10 * 1000 * 1000, 0);
	cr_assert_eq(rl.burst, 1000 * 1000);
	ratelimit_init(&rl, UINT64_MAX, UINT64_MAX);
	cr_assert_eq(rl.rate, RATELIMIT_MAX_RATE);
	cr_assert_eq(rl.burst, RATELIMIT_MAX_RATE);
}

Test(ratelimit, unlimited_passes_everything)
{
	struct ratelimit rl;

	ratelimit_init(&rl, 0, 0);
	ratelimit_refill(&rl, 10);
	cr_assert_eq(ratelimit_take(&rl, UINT64_MAX), UINT64_MAX);
	cr_assert_eq(ratelimit_take(&rl, 1 << 30), 1 << 30);
	cr_assert_eq(ratelimit_wait_ms(&rl, UINT64_MAX), 0);
}

Test(ratelimit, wait_ms_is_exact)
{
	static const uint64_t rates[] = {1, 7, 333, 1000, 16384, 999999, 50000000};
	struct ratelimit rl, copy;
	uint64_t want, w, t0 = 777;
	size_t i;
	int trial;

	test_srand(2);
	for (i = 0; i < sizeof rates / sizeof rates[0]; i++) {
		for (trial = 0; trial < 200; trial++) {
			ratelimit_init(&rl, rates[i], 0);
			ratelimit_refill(&rl, t0);
			/* Leave a random level and a random fraction in the bucket. */
			ratelimit_take(&rl, UINT64_MAX);
			ratelimit_refill(&rl, t0 + test_rand() % 1000);
			ratelimit_take(&rl, test_rand() % 3000);
			want = 1 + test_rand() % (rl.burst + 5000);
			w = ratelimit_wait_ms(&rl, want);
			if (want > rl.burst)
				want = rl.burst;
			if (w == 0) {
				cr_assert_geq(rl.tokens, want);
				continue;
			}
			copy = rl;
			ratelimit_refill(&copy, rl.last_ms + w - 1);
			cr_assert_lt(copy.tokens, want, "rate %llu: ready a ms early",
				     (unsigned long long)rates[i]);
			copy = rl;
			ratelimit_refill(&copy, rl.last_ms + w);
			cr_assert_geq(copy.tokens, want, "rate %llu: not ready after wait",
				      (unsigned long long)rates[i]);
		}
	}
}

Test(ratelimit, set_rate)
{
	struct ratelimit rl;

	ratelimit_init(&rl, 0, 0);
	ratelimit_refill(&rl, 1000);
	ratelimit_set_rate(&rl, 100000, 0);
	cr_assert_eq(rl.burst, RATELIMIT_MIN_BURST);
	cr_assert_eq(ratelimit_take(&rl, 1 << 20), RATELIMIT_MIN_BURST, "starts full");
	ratelimit_refill(&rl, 1100);
	/* Lowering the burst drops what no longer fits. */
	ratelimit_set_rate(&rl, 100000, 4000);
	cr_assert_eq(rl.tokens, 4000);
	ratelimit_set_rate(&rl, 0, 0);
	cr_assert_eq(ratelimit_take(&rl, 1 << 20), 1 << 20);
}

struct parse_case {
	const char *s;
	uint64_t want;
};

Test(ratelimit, parse_good)
{
	static const struct parse_case cases[] = {
	    {"0", 0},
	    {"500", 500},
	    {"500B", 500},
	    {"500K", 500 * 1024},
	    {"800k", 800 * 1024},
	    {"2M", 2 * 1024 * 1024},
	    {"1.5M", 1572864},
	    {"0.5k", 512},
	    {"100KB/s", 100 * 1024},
	    {"100KiB/s", 100 * 1024},
	    {"2MiB", 2 * 1024 * 1024},
	    {"1G", 1024ull * 1024 * 1024},
	    {"3/s", 3},
	    {"1.0000000001K", 1024},
	    {"1024G", RATELIMIT_MAX_RATE},
	};
	struct error err;
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		v = 12345;
		cr_assert_eq(ratelimit_parse(cases[i].s, &v, &err), 0, "%s: %s", cases[i].s,
			     err.msg);
		cr_assert_eq(v, cases[i].want, "%s gave %llu", cases[i].s, (unsigned long long)v);
	}
}

Test(ratelimit, parse_bad)
{
	static const struct {
		const char *s;
		int code;
		long long offset;
	} cases[] = {
	    {"", ERR_SYNTAX, 0},
	    {"K", ERR_SYNTAX, 0},
	    {"abc", ERR_SYNTAX, 0},
	    {"-5K", ERR_SYNTAX, 0},
	    {" 5K", ERR_SYNTAX, 0},
	    {"5 K", ERR_SYNTAX, 1},
	    {"5.", ERR_SYNTAX, 2},
	    {".", ERR_SYNTAX, 1},
	    {"5KK", ERR_SYNTAX, 2},
	    {"5Kb", ERR_SYNTAX, 2},
	    {"5T", ERR_SYNTAX, 1},
	    {"5K/", ERR_SYNTAX, 2},
	    {"5K/h", ERR_SYNTAX, 2},
	    {"1.2.3", ERR_SYNTAX, 3},
	    {"5x", ERR_SYNTAX, 1},
	    {"0.4", ERR_INVALID, ERROR_NO_OFFSET},
	    {"1025G", ERR_LIMIT, ERROR_NO_OFFSET},
	    {"1099511627777", ERR_LIMIT, ERROR_NO_OFFSET},
	    {"99999999999999999999999999", ERR_LIMIT, ERROR_NO_OFFSET},
	    {"1024.5G", ERR_LIMIT, ERROR_NO_OFFSET},
	};
	struct error err;
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		v = 777;
		cr_assert_eq(ratelimit_parse(cases[i].s, &v, &err), -cases[i].code, "'%s'",
			     cases[i].s);
		cr_assert_eq(err.offset, cases[i].offset, "'%s' offset %lld", cases[i].s,
			     err.offset);
		cr_assert_eq(v, 777, "'%s' changed the output", cases[i].s);
	}
	cr_assert_eq(ratelimit_parse("nope", &v, NULL), -ERR_SYNTAX);
}
