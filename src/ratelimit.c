/*
 * ratelimit: token buckets for the global upload and download limits (see
 * ratelimit.h for the contract), plus the parser for the CLI's rate strings.
 *
 * Time is whole milliseconds from the caller's monotonic clock, so a refill
 * earns rate * elapsed / 1000 bytes. The remainder of that division is kept
 * in thousandths of a byte (frac) instead of being dropped: a loop that
 * refills every millisecond at 500 bytes/s would otherwise earn nothing at
 * all. All products are bounded: rate and burst are clamped to
 * RATELIMIT_MAX_RATE (2^40) and a refill after a long idle period just fills
 * the bucket, so rate * elapsed stays below 2^51.
 */
#include "ratelimit.h"

static uint64_t
clamp(uint64_t v)
{
	return v > RATELIMIT_MAX_RATE ? RATELIMIT_MAX_RATE : v;
}

static uint64_t
default_burst(uint64_t rate)
{
	return rate / 10 > RATELIMIT_MIN_BURST ? rate / 10 : RATELIMIT_MIN_BURST;
}

void
ratelimit_init(struct ratelimit *rl, uint64_t rate, uint64_t burst)
{
	rl->rate = clamp(rate);
	rl->burst = burst != 0 ? clamp(burst) : default_burst(rl->rate);
	rl->tokens = rl->burst;
	rl->frac = 0;
	rl->last_ms = 0;
}

void
ratelimit_set_rate(struct ratelimit *rl, uint64_t rate, uint64_t burst)
{
	int was_unlimited = rl->rate == 0;

	rl->rate = clamp(rate);
	rl->burst = burst != 0 ? clamp(burst) : default_burst(rl->rate);
	/* While unlimited the bucket was not kept up to date, so its count means nothing. */
	if (was_unlimited || rl->tokens > rl->burst)
		rl->tokens = rl->burst;
	if (rl->tokens == rl->burst)
		rl->frac = 0;
}

void
ratelimit_refill(struct ratelimit *rl, uint64_t now_ms)
{
	uint64_t el, acc;

	if (now_ms <= rl->last_ms)
		return;
	el = now_ms - rl->last_ms;
	rl->last_ms = now_ms;
	if (rl->rate == 0 || rl->tokens == rl->burst)
		return;
	/* Past this the bucket is full anyway; the test keeps rate * el from overflowing. */
	if (el > 1000 * (rl->burst / rl->rate + 1)) {
		rl->tokens = rl->burst;
		rl->frac = 0;
		return;
	}
	acc = rl->rate * el + rl->frac;
	rl->tokens += acc / 1000;
	rl->frac = acc % 1000;
	if (rl->tokens >= rl->burst) {
		rl->tokens = rl->burst;
		rl->frac = 0;
	}
}

uint64_t
ratelimit_take(struct ratelimit *rl, uint64_t want)
{
	uint64_t n;

	if (rl->rate == 0)
		return want;
	n = want < rl->tokens ? want : rl->tokens;
	rl->tokens -= n;
	return n;
}

uint64_t
ratelimit_wait_ms(const struct ratelimit *rl, uint64_t want)
{
	uint64_t need, milli;

	if (rl->rate == 0)
		return 0;
	if (want > rl->burst)
		want = rl->burst;
	if (want <= rl->tokens)
		return 0;
	need = want - rl->tokens;
	/* Smallest ms with rate * ms + frac >= need * 1000, matching refill's arithmetic. */
	milli = need * 1000 - rl->frac;
	return (milli + rl->rate - 1) / rl->rate;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
ratelimit_parse(const char *s, uint64_t *out, struct error *err)
{
	/* Integer digits saturate here; anything that large is over the limit anyway. */
	const uint64_t big = RATELIMIT_MAX_RATE * 16;
	uint64_t ip = 0, fp = 0, pow10 = 1, mult = 1, v;
	const char *p = s;
	int ndigits = 0, nfrac = 0;

	for (; is_digit(*p); p++, ndigits++) {
		ip = ip * 10 + (uint64_t)(*p - '0');
		if (ip > big)
			ip = big;
	}
	if (*p == '.') {
		p++;
		for (; is_digit(*p); p++, nfrac++) {
			/* Nine decimals are finer than a byte even in G; later ones are dropped. */
			if (nfrac < 9) {
				fp = fp * 10 + (uint64_t)(*p - '0');
				pow10 *= 10;
			}
		}
		if (nfrac == 0)
			return error_set(err, ERR_SYNTAX, p - s, "expected a digit after '.'");
	}
	if (ndigits == 0 && nfrac == 0)
		return error_set(err, ERR_SYNTAX, p - s, "expected a number");

	switch (*p) {
	case 'k':
	case 'K':
		mult = 1024;
		break;
	case 'm':
	case 'M':
		mult = 1024 * 1024;
		break;
	case 'g':
	case 'G':
		mult = 1024 * 1024 * 1024;
		break;
	}
	if (mult != 1) {
		p++;
		if (*p == 'i' || *p == 'I')
			p++;
	}
	if (*p == 'b')
		return error_set(err, ERR_SYNTAX, p - s, "'b' means bits; write B for bytes");
	if (*p == 'B')
		p++;
	if (p[0] == '/' && (p[1] == 's' || p[1] == 'S'))
		p += 2;
	if (*p != '\0')
		return error_set(err, ERR_SYNTAX, p - s, "unexpected character in rate");

	if (ip > RATELIMIT_MAX_RATE / mult)
		return error_set(err, ERR_LIMIT, ERROR_NO_OFFSET, "rate above %llu bytes/s",
				 (unsigned long long)RATELIMIT_MAX_RATE);
	/* fp < 10^9 and mult <= 2^30, so this product is below 2^60. */
	v = ip * mult + (fp * mult + pow10 / 2) / pow10;
	if (v > RATELIMIT_MAX_RATE)
		return error_set(err, ERR_LIMIT, ERROR_NO_OFFSET, "rate above %llu bytes/s",
				 (unsigned long long)RATELIMIT_MAX_RATE);
	if (v == 0 && (ip != 0 || fp != 0))
		return error_set(err, ERR_INVALID, ERROR_NO_OFFSET,
				 "rate rounds to 0 bytes/s (0 means unlimited)");
	*out = v;
	return 0;
}
