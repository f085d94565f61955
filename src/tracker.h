/*
 * tracker: announces one torrent to its trackers (BEP 3 HTTP/HTTPS, BEP 15
 * UDP, BEP 12 tiers) on the poll loop, and hands the peers it learns to
 * the torrent. Re-announces on the tracker's interval; an unreachable
 * tracker is retried with back-off (never in a busy loop) and reported
 * through ops->log.
 *
 * Tiers: every tier is announced to independently, each through its
 * "current" URL (as Transmission does). Each tier's URLs are shuffled once;
 * a URL that fails hands over at once to the next one of its tier, a URL
 * that answers moves to the front of its tier. When every URL of a tier
 * has failed in a row, the tier waits 15 s, 30 s, 60 s ... (at most 30 min)
 * before it starts over. URLs other than http://, https:// and udp:// are
 * ignored.
 *
 * Everything here runs on the loop thread. ops callbacks are called from
 * the loop and may call tracker_announce_now/completed/stop, but must not
 * call tracker_free (except the stop `done` callback, see below).
 */
#ifndef PIECES_TRACKER_H
#define PIECES_TRACKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "announce.h"
#include "http.h"
#include "loop.h"
#include "metainfo.h"

struct tracker;

enum tracker_log_level {
	TRACKER_LOG_INFO,
	TRACKER_LOG_WARNING,
	TRACKER_LOG_ERROR,
};

struct tracker_ops {
	/* Current transfer totals for the next announce. */
	void (*stats)(void *arg, uint64_t *uploaded, uint64_t *downloaded, uint64_t *left);
	/* Peers from a reply (may be called many times; duplicates possible). */
	void (*peers)(void *arg, const struct announce_peer *peers, size_t n);
	/* Something the user may want to know: replies, failures, warnings. */
	void (*log)(void *arg, enum tracker_log_level level, const char *msg);
};

/* URLs beyond this many (over all tiers) are ignored. */
#define TRACKER_MAX_URLS 128u
/* A failing tier waits this long at first, doubling up to the maximum. */
#define TRACKER_BACKOFF_MIN_MS 15000u
#define TRACKER_BACKOFF_MAX_MS 1800000u
/* The HTTP announce timeout. */
#define TRACKER_HTTP_TIMEOUT_MS 30000u
/* tracker_announce_now() never announces more often than this, whatever min interval says. */
#define TRACKER_MIN_REANNOUNCE_MS 30000u
/*
 * UDP requests follow BEP 15's schedule (resend after 15 s, 30 s, 60 s ...)
 * but a regular announce gives up after this many sends of one request
 * (about 4 minutes) so a dead tracker does not hold its tier for hours;
 * `stopped` sends each request once and is bounded by the stop timeout.
 */
#define TRACKER_UDP_MAX_SENDS 4u

struct tracker_config {
	const struct metainfo_tier *tiers;
	size_t ntiers;
	uint8_t info_hash[20];
	uint8_t peer_id[20];
	uint16_t port; /* our listen port */
	int numwant;   /* peers to ask for; <0 lets the tracker choose */
	/* Local address for UDP announces (--bind); local_len 0 = any. */
	struct sockaddr_storage local;
	socklen_t local_len;
};

/*
 * Copies what it needs from cfg. pool resolves UDP tracker host names off
 * the loop (with pool NULL, UDP trackers fail). ops members may be NULL.
 * NULL with errno set on failure.
 */
struct tracker *tracker_new(struct loop *loop, struct http *http, struct loop_pool *pool,
			    const struct tracker_config *cfg, const struct tracker_ops *ops,
			    void *arg);
/* Sends `started` (from the next loop iteration) and keeps announcing on the interval. */
void tracker_start(struct tracker *t);
/*
 * Sends `completed` now (once per tracker object) to trackers that got
 * `started`; a tracker that has not yet got `started` learns it from the
 * `left` of its `started` announce instead.
 */
void tracker_completed(struct tracker *t);
/* Announces again soon (respecting the tracker's min interval), e.g. when short of peers. */
void tracker_announce_now(struct tracker *t);
/*
 * Cancels whatever is in flight, sends `stopped` to every tracker that
 * acknowledged `started`, waits at most timeout_ms for the replies, then
 * calls done(arg) exactly once, from a loop timer (never from within
 * tracker_stop, even when there is nothing to send). done may free the
 * tracker. Afterwards the tracker stays idle. Only the first call counts;
 * later ones are ignored (their done is never called).
 */
void tracker_stop(struct tracker *t, unsigned timeout_ms, void (*done)(void *arg), void *arg);
/*
 * Milliseconds until the next scheduled announce of any tier (0 when due),
 * or -1 when none is scheduled (not started, stopping, or all in flight).
 */
int64_t tracker_next_announce_ms(const struct tracker *t);
/*
 * Cancels everything and frees. Loop thread, any time, but not from inside
 * one of the tracker's own ops callbacks. NULL is a no-op.
 */
void tracker_free(struct tracker *t);

#endif
