/*
 * ratelimit: a token bucket for --max-down / --max-up. The caller owns the
 * clock: it refills the bucket with its cached "now", takes what it may
 * move, and when the bucket is dry asks how long to wait so the loop can arm
 * a timer instead of sleeping. One bucket per direction, shared by all
 * peers; the loop's per-peer cap per wake-up keeps the sharing fair.
 *
 * Guarantee: over any interval of T ms starting from a full bucket, take()
 * hands out at most burst + rate * T / 1000 bytes, and sub-byte refills are
 * carried over (frac), so frequent small refills do not round the rate down.
 *
 * Burst: 0 asks for the default, max(RATELIMIT_MIN_BURST, rate / 10). A
 * bucket must hold a whole 16 KiB block, or a peer could be kept waiting for
 * a block that never fits; beyond that, a tenth of a second of traffic lets
 * each wake-up of the loop move a useful amount, while the overshoot in any
 * window stays below 0.1 s worth, invisible in a per-second rate display.
 * The average never drifts over the limit whatever the burst: the burst
 * only bounds how early the bytes may go.
 */
#ifndef PIECES_RATELIMIT_H
#define PIECES_RATELIMIT_H

#include <stdint.h>

#include "error.h"

#define RATELIMIT_MIN_BURST 16384u
#define RATELIMIT_MAX_RATE  (1ull << 40) /* 1 TiB/s; rates and bursts are clamped to it */

struct ratelimit {
	uint64_t rate;	  /* bytes/s; 0 = unlimited */
	uint64_t burst;	  /* bucket size, bytes */
	uint64_t tokens;  /* bytes that may go now, <= burst */
	uint64_t frac;	  /* refill remainder in thousandths of a byte, < 1000 */
	uint64_t last_ms; /* time of the last refill */
};

/* The bucket starts full; burst 0 means the default above. */
void ratelimit_init(struct ratelimit *rl, uint64_t rate, uint64_t burst);

/* Changes the limits on the fly (burst 0: default). Tokens beyond the new burst are dropped;
 * leaving "unlimited" starts with a full bucket. */
void ratelimit_set_rate(struct ratelimit *rl, uint64_t rate, uint64_t burst);

/* Adds the tokens earned since the last refill. A clock that goes backwards adds nothing. */
void ratelimit_refill(struct ratelimit *rl, uint64_t now_ms);

/* Removes and returns min(want, tokens): the bytes that may go now (want when unlimited). */
uint64_t ratelimit_take(struct ratelimit *rl, uint64_t want);

/*
 * Milliseconds after the last refill until min(want, burst) tokens are
 * there: 0 if they are already, and exact, so refilling at last_ms + wait
 * makes them available and at last_ms + wait - 1 does not.
 */
uint64_t ratelimit_wait_ms(const struct ratelimit *rl, uint64_t want);

/*
 * Parses a rate for the command line: a decimal number (fraction allowed:
 * "1.5M"), an optional unit and an optional "/s". Units are binary, as in
 * curl's and wget's --limit-rate: K = 1024, M = 1024^2, G = 1024^3 bytes,
 * either case, optionally written Ki/Mi/Gi and followed by "B" ("100KB/s",
 * "2MiB"); a bare "B" or no unit means bytes. A lowercase "b" is refused,
 * since it usually means bits. The result is rounded to whole bytes/s; "0"
 * means unlimited. Returns 0, -ERR_SYNTAX (with the offset of the first bad
 * character), -ERR_INVALID (a nonzero rate under 1 byte/s) or -ERR_LIMIT
 * (above RATELIMIT_MAX_RATE); *out is set only on success.
 */
int ratelimit_parse(const char *s, uint64_t *out, struct error *err);

#endif
