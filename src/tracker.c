/*
 * tracker: the announce scheduler of one torrent. It turns the torrent's
 * tiers of tracker URLs into announces on the poll loop: HTTP ones through
 * the libcurl glue (http.c), UDP ones over its own non-blocking sockets
 * with the BEP 15 codec (udptrk.c), and hands the peers to the torrent.
 *
 * Every tier runs on its own: a timer says when its current URL is due,
 * at most one announce per tier is in flight, and its result either moves
 * the URL to the front (success) or passes the turn to the next URL of the
 * tier, and after a whole round of failures, to a back-off timer. So a dead
 * tracker costs one attempt per back-off period, never a busy loop.
 *
 * The in-flight state lives in the URL (struct trk_url), not in the tier,
 * because `stopped` goes to every URL that acknowledged `started`, which
 * may be more than one per tier after a fail-over. Every announce ends in
 * url_finish(), which routes the result to the tier logic or, while
 * stopping, to the stop countdown.
 *
 * UDP host names are resolved on the worker pool; the job is allocated on
 * its own so the tracker can be freed while a resolution is still running
 * (the job is then orphaned and frees itself when it comes back).
 */
#include "tracker.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "udptrk.h"

/* Room for the longest DNS name (253) plus the NUL, rounded up. */
#define HOST_MAX 256u
/* An announce URL is the tracker URL plus a query of a few hundred bytes. */
#define URL_QUERY_MAX 1024u
/* Datagrams read per wake-up of one UDP socket, so one tracker cannot hog the loop. */
#define UDP_READS_PER_WAKEUP 16
/* One log line: a URL plus a tracker message of at most ANNOUNCE_MAX_MESSAGE bytes. */
#define LOG_MAX 2048u

enum trk_kind {
	TRK_HTTP,
	TRK_UDP,
};

struct trk_resolve;

struct trk_url {
	struct tracker *t;
	struct trk_tier *tier;
	char *url;
	enum trk_kind kind;
	int started;	  /* the tracker acknowledged `started` */
	char *tracker_id; /* HTTP: echoed back from the last reply */

	/* The announce in flight. */
	int busy;
	enum announce_event event;
	struct http_req *req;

	/* UDP only. */
	char host[HOST_MAX];
	uint16_t port;
	struct trk_resolve *resolve; /* running resolution, or NULL */
	int resolved;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int fd;
	struct loop_io *io;
	int have_conn;
	uint64_t conn_id;
	uint64_t conn_at;
	enum udptrk_action waiting; /* the reply we wait for */
	uint32_t tid;
	unsigned attempt;   /* sends of the current request so far, minus one */
	unsigned max_sends; /* per request */
	struct loop_timer *rtx;
};

struct trk_tier {
	struct tracker *t;
	struct trk_url **urls; /* shuffled once; the current URL is urls[cur] */
	size_t n;
	size_t cur;
	struct loop_timer *timer;
	uint64_t due;	/* when the timer fires, valid while armed */
	unsigned fails; /* rounds of the whole tier failed in a row */
	int have_success;
	uint64_t last_at; /* when the last announce started */
	uint32_t interval;
	uint32_t min_interval;
	int completed_pending;
	int soon; /* tracker_announce_now() came while an announce was in flight */
};

struct tracker {
	struct loop *loop;
	struct http *http;
	struct loop_pool *pool;
	struct tracker_ops ops;
	void *arg;
	uint8_t info_hash[20];
	uint8_t peer_id[20];
	uint16_t port;
	int numwant;
	uint32_t key;
	struct sockaddr_storage local;
	socklen_t local_len;

	struct trk_url *urls;
	size_t nurls;
	struct trk_tier *tiers;
	size_t ntiers;

	int started;
	int completed_called;
	int stopping;
	unsigned pending; /* `stopped` announces in flight */
	struct loop_timer *stop_timer;
	void (*stop_done)(void *arg);
	void *stop_arg;
};

struct trk_resolve {
	struct trk_url *u; /* NULL once the tracker has been freed */
	char host[HOST_MAX];
	char port[8];
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int rc;
	const char *errmsg;
};

static void url_begin(struct trk_url *u, enum announce_event event);
static void url_finish(struct trk_url *u, const struct announce_reply *rep, const char *why);
static void udp_ready(struct trk_url *u);

static void
random_bytes(void *p, size_t n)
{
	uint8_t *b = p;
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(b + got, n - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)r;
	}
	if (got < n) {
		/* No kernel randomness: ids only need to be unpredictable to
		 * off-path spoofers, so the clock is a poor but harmless last resort. */
		struct timespec ts;
		uint64_t x;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec;
		for (; got < n; got++, x = x * 6364136223846793005ull + 1442695040888963407ull)
			b[got] = (uint8_t)(x >> 56);
	}
}

static uint32_t
random32(void)
{
	uint32_t v;

	random_bytes(&v, sizeof v);
	return v;
}

static void tlog(struct tracker *t, enum tracker_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
tlog(struct tracker *t, enum tracker_log_level level, const char *fmt, ...)
{
	char msg[LOG_MAX];
	va_list ap;

	if (t->ops.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* URLs come from the torrent: keep terminal escapes out of the log. */
	for (char *p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	t->ops.log(t->arg, level, msg);
}

static void
fill_req(struct trk_url *u, struct announce_req *req)
{
	struct tracker *t = u->t;

	memset(req, 0, sizeof *req);
	memcpy(req->info_hash, t->info_hash, sizeof req->info_hash);
	memcpy(req->peer_id, t->peer_id, sizeof req->peer_id);
	req->port = t->port;
	if (t->ops.stats != NULL)
		t->ops.stats(t->arg, &req->uploaded, &req->downloaded, &req->left);
	req->event = u->event;
	/* A leaving client has no use for peers. */
	req->numwant = u->event == ANNOUNCE_EVENT_STOPPED ? 0 : t->numwant;
	req->compact = 1;
	req->key = t->key;
	req->tracker_id = u->tracker_id;
}

/* ---- UDP ---- */

static void
udp_close(struct trk_url *u)
{
	loop_io_del(u->io);
	u->io = NULL;
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	u->have_conn = 0;
}

/* After a timeout or a socket error: next time, resolve and connect afresh. */
static void
udp_reset(struct trk_url *u)
{
	loop_timer_stop(u->rtx);
	udp_close(u);
	u->resolved = 0;
}

static void
udp_fail(struct trk_url *u, const char *why)
{
	udp_reset(u);
	url_finish(u, NULL, why);
}

static void
udp_transmit(struct trk_url *u)
{
	uint8_t pkt[UDPTRK_ANNOUNCE_LEN];
	size_t len = UDPTRK_CONNECT_LEN;
	char why[128];

	if (u->waiting == UDPTRK_ACTION_CONNECT) {
		udptrk_encode_connect(pkt, u->tid);
	} else {
		struct announce_req req;

		fill_req(u, &req);
		if (udptrk_encode_announce(pkt, u->conn_id, u->tid, &req) < 0) {
			udp_fail(u, "cannot encode announce");
			return;
		}
		len = UDPTRK_ANNOUNCE_LEN;
	}
	/* A full send buffer just loses the datagram; the retransmit covers it. */
	if (send(u->fd, pkt, len, 0) < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR && errno != ENOBUFS) {
		snprintf(why, sizeof why, "send: %s", strerror(errno));
		udp_fail(u, why);
		return;
	}
	loop_timer_start(u->rtx, (uint64_t)udptrk_timeout_ms(u->attempt));
}

static void
udp_request(struct trk_url *u, enum udptrk_action action)
{
	u->waiting = action;
	u->tid = random32();
	u->attempt = 0;
	udp_transmit(u);
}

static void
on_udp_rtx(struct loop_timer *timer, void *arg)
{
	struct trk_url *u = arg;
	int64_t ms;

	if (!u->busy)
		return;
	u->attempt++;
	ms = udptrk_timeout_ms(u->attempt);
	if (ms < 0 || u->attempt >= u->max_sends) {
		udp_fail(u, "no reply (timed out)");
		return;
	}
	/* Same transaction id: a late answer to an earlier send still counts. */
	udp_transmit(u);
}

static void
udp_handle(struct trk_url *u, const uint8_t *p, size_t n, int *finished)
{
	struct udptrk_reply rep;
	struct error err = {0};
	char why[sizeof err.msg + 32];
	int rc;

	rc = udptrk_decode(p, n, u->waiting, u->tid, u->addr.ss_family, &rep, &err);
	if (rc == -UDPTRK_ERR_STRAY)
		return;
	*finished = 1;
	if (rc < 0) {
		snprintf(why, sizeof why, "bad reply: %s", err.msg);
		udp_fail(u, why);
		return;
	}
	if (rep.action == UDPTRK_ACTION_CONNECT) {
		*finished = 0;
		u->have_conn = 1;
		u->conn_id = rep.conn_id;
		u->conn_at = loop_now_ms(u->t->loop);
		udptrk_reply_free(&rep);
		loop_timer_stop(u->rtx);
		udp_request(u, UDPTRK_ACTION_ANNOUNCE);
		return;
	}
	loop_timer_stop(u->rtx);
	if (rep.action == UDPTRK_ACTION_ERROR && rep.ann.failure == NULL)
		url_finish(u, NULL, "error reply");
	else
		url_finish(u, &rep.ann, NULL);
	udptrk_reply_free(&rep);
}

static void
on_udp_io(struct loop_io *io, int fd, short revents, void *arg)
{
	struct trk_url *u = arg;
	uint8_t buf[UDPTRK_RECV_MAX];
	char why[128];

	for (int i = 0; i < UDP_READS_PER_WAKEUP; i++) {
		int finished = 0;
		ssize_t n = recv(fd, buf, sizeof buf, 0);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			/* ECONNREFUSED: an ICMP port unreachable came back. */
			snprintf(why, sizeof why, "%s", strerror(errno));
			if (u->busy)
				udp_fail(u, why);
			else
				udp_reset(u);
			return;
		}
		if (!u->busy)
			continue; /* late or stray: drain it */
		udp_handle(u, buf, (size_t)n, &finished);
		/* The result may have started another request on this socket
		 * (or closed it): leave the rest for the next wake-up. */
		if (finished)
			return;
	}
}

static int
udp_open(struct trk_url *u, char *why, size_t whylen)
{
	int fd = socket(u->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		goto fail;
	/* --bind: announce from that address, so the tracker hands it out. */
	if (u->t->local_len > 0 && u->t->local.ss_family == u->addr.ss_family &&
	    bind(fd, (const struct sockaddr *)&u->t->local, u->t->local_len) < 0)
		goto fail;
	/* connect() makes the kernel drop datagrams from anyone but the tracker. */
	if (connect(fd, (const struct sockaddr *)&u->addr, u->addrlen) < 0)
		goto fail;
	if ((u->io = loop_io_add(u->t->loop, fd, POLLIN, on_udp_io, u)) == NULL)
		goto fail;
	u->fd = fd;
	u->have_conn = 0;
	return 0;

fail:
	snprintf(why, whylen, "socket: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	return -ERR_IO;
}

static void
udp_ready(struct trk_url *u)
{
	char why[128];

	if (u->fd < 0 && udp_open(u, why, sizeof why) < 0) {
		udp_fail(u, why);
		return;
	}
	if (u->have_conn && udptrk_conn_valid(u->conn_at, loop_now_ms(u->t->loop)))
		udp_request(u, UDPTRK_ACTION_ANNOUNCE);
	else
		udp_request(u, UDPTRK_ACTION_CONNECT);
}

static void
resolve_work(void *arg)
{
	struct trk_resolve *job = arg;
	struct addrinfo hints, *res = NULL;
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(job->host, job->port, &hints, &res);
	if (rc != 0) {
		job->rc = -ERR_IO;
		job->errmsg = gai_strerror(rc);
		return;
	}
	if (res->ai_addrlen > sizeof job->addr) {
		job->rc = -ERR_UNSUPPORTED;
		job->errmsg = "unsupported address";
	} else {
		memcpy(&job->addr, res->ai_addr, res->ai_addrlen);
		job->addrlen = res->ai_addrlen;
		job->rc = 0;
	}
	freeaddrinfo(res);
}

static void
resolve_done(void *arg)
{
	struct trk_resolve *job = arg;
	struct trk_url *u = job->u;
	char why[HOST_MAX + 128];

	if (u == NULL)
		goto out;
	u->resolve = NULL;
	if (job->rc == 0) {
		u->addr = job->addr;
		u->addrlen = job->addrlen;
		u->resolved = 1;
	}
	/* The announce that asked for the name may have been cancelled meanwhile. */
	if (!u->busy)
		goto out;
	if (job->rc == 0) {
		udp_ready(u);
	} else {
		snprintf(why, sizeof why, "cannot resolve %s: %s", job->host, job->errmsg);
		url_finish(u, NULL, why);
	}
out:
	free(job);
}

static void
udp_begin(struct trk_url *u)
{
	struct trk_resolve *job;

	u->max_sends = u->event == ANNOUNCE_EVENT_STOPPED ? 1 : TRACKER_UDP_MAX_SENDS;
	if (u->resolved) {
		udp_ready(u);
		return;
	}
	if (u->resolve != NULL)
		return; /* resolve_done() carries on */
	if (u->t->pool == NULL) {
		url_finish(u, NULL, "no resolver for UDP trackers");
		return;
	}
	if ((job = calloc(1, sizeof *job)) == NULL) {
		url_finish(u, NULL, "out of memory");
		return;
	}
	job->u = u;
	snprintf(job->host, sizeof job->host, "%s", u->host);
	snprintf(job->port, sizeof job->port, "%u", (unsigned)u->port);
	if (loop_pool_submit(u->t->pool, resolve_work, resolve_done, job) < 0) {
		free(job);
		url_finish(u, NULL, "cannot start name resolution");
		return;
	}
	u->resolve = job;
}

/* ---- HTTP ---- */

static void
on_http_done(void *arg, int status, long code, const uint8_t *body, size_t len, const char *errmsg)
{
	struct trk_url *u = arg;
	struct announce_reply rep;
	struct error err = {0};
	char why[sizeof err.msg + 32];

	u->req = NULL;
	if (status < 0) {
		url_finish(u, NULL, errmsg != NULL ? errmsg : "request failed");
		return;
	}
	if (code != 200) {
		snprintf(why, sizeof why, "HTTP status %ld", code);
		url_finish(u, NULL, why);
		return;
	}
	if (announce_parse_reply(body, len, &rep, &err) < 0) {
		snprintf(why, sizeof why, "bad reply: %s", err.msg);
		url_finish(u, NULL, why);
		return;
	}
	url_finish(u, &rep, NULL);
	announce_reply_free(&rep);
}

static void
http_begin(struct trk_url *u)
{
	struct tracker *t = u->t;
	struct announce_req req;
	struct error err = {0};
	struct buf url;

	if (t->http == NULL) {
		url_finish(u, NULL, "no HTTP client");
		return;
	}
	buf_init(&url, strlen(u->url) + URL_QUERY_MAX);
	fill_req(u, &req);
	if (announce_build_url(&url, u->url, &req, &err) < 0) {
		buf_free(&url);
		url_finish(u, NULL, err.msg);
		return;
	}
	/* For `stopped` the stop timer cuts this shorter. */
	u->req = http_get(t->http, (const char *)url.data, ANNOUNCE_MAX_REPLY,
			  TRACKER_HTTP_TIMEOUT_MS, on_http_done, u);
	buf_free(&url);
	if (u->req == NULL)
		url_finish(u, NULL, "cannot start HTTP request");
}

/* ---- one announce to one URL ---- */

static void
url_begin(struct trk_url *u, enum announce_event event)
{
	u->busy = 1;
	u->event = event;
	if (u->kind == TRK_HTTP)
		http_begin(u);
	else
		udp_begin(u);
}

/* Abandons the announce in flight, if any, without a result. */
static void
url_cancel(struct trk_url *u)
{
	http_cancel(u->req);
	u->req = NULL;
	if (u->rtx != NULL)
		loop_timer_stop(u->rtx);
	/* A running resolution just stores its address when it returns. */
	u->busy = 0;
}

/* ---- tiers ---- */

static void
tier_arm(struct trk_tier *tier, uint64_t delay_ms)
{
	tier->due = loop_now_ms(tier->t->loop) + delay_ms;
	loop_timer_start(tier->timer, delay_ms);
}

static uint64_t
backoff_ms(unsigned fails)
{
	uint64_t ms = TRACKER_BACKOFF_MIN_MS;

	for (unsigned i = 1; i < fails && ms < TRACKER_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < TRACKER_BACKOFF_MAX_MS ? ms : TRACKER_BACKOFF_MAX_MS;
}

static uint64_t
soon_ms(const struct trk_tier *tier)
{
	uint64_t gap = (uint64_t)tier->min_interval * 1000u;

	return gap > TRACKER_MIN_REANNOUNCE_MS ? gap : TRACKER_MIN_REANNOUNCE_MS;
}

static void
on_tier_timer(struct loop_timer *timer, void *arg)
{
	struct trk_tier *tier = arg;
	struct trk_url *u = tier->urls[tier->cur];
	enum announce_event event = ANNOUNCE_EVENT_NONE;

	if (tier->t->stopping || u->busy)
		return;
	if (!u->started) {
		/* Its `left` already tells a new tracker whether we are done. */
		event = ANNOUNCE_EVENT_STARTED;
		tier->completed_pending = 0;
	} else if (tier->completed_pending) {
		event = ANNOUNCE_EVENT_COMPLETED;
	}
	tier->soon = 0;
	tier->last_at = loop_now_ms(tier->t->loop);
	url_begin(u, event);
}

static void
tier_success(struct trk_tier *tier, struct trk_url *u, const struct announce_reply *rep)
{
	struct tracker *t = tier->t;
	uint64_t delay;
	char seeders[24] = "?", leechers[24] = "?";
	size_t i;

	/* BEP 12: the URL that answered goes to the front of its tier. */
	for (i = tier->cur; i > 0; i--)
		tier->urls[i] = tier->urls[i - 1];
	tier->urls[0] = u;
	tier->cur = 0;
	tier->fails = 0;
	tier->have_success = 1;
	tier->interval = rep->interval;
	tier->min_interval = rep->min_interval;
	if (u->event == ANNOUNCE_EVENT_STARTED)
		u->started = 1;
	if (u->event == ANNOUNCE_EVENT_COMPLETED)
		tier->completed_pending = 0;
	if (rep->tracker_id != NULL) {
		char *id = strdup(rep->tracker_id);

		if (id != NULL) {
			free(u->tracker_id);
			u->tracker_id = id;
		}
	}
	if (tier->completed_pending)
		delay = 0;
	else if (tier->soon)
		delay = soon_ms(tier);
	else
		delay = (uint64_t)tier->interval * 1000u;
	tier->soon = 0;
	tier_arm(tier, delay);

	if (rep->warning != NULL)
		tlog(t, TRACKER_LOG_WARNING, "%s: warning: %s", u->url, rep->warning);
	if (rep->complete >= 0)
		snprintf(seeders, sizeof seeders, "%lld", (long long)rep->complete);
	if (rep->incomplete >= 0)
		snprintf(leechers, sizeof leechers, "%lld", (long long)rep->incomplete);
	tlog(t, TRACKER_LOG_INFO, "%s: %zu peers (%s seeders, %s leechers)", u->url, rep->npeers,
	     seeders, leechers);
	if (rep->npeers > 0 && t->ops.peers != NULL)
		t->ops.peers(t->arg, rep->peers, rep->npeers);
}

static void
tier_failure(struct trk_tier *tier, struct trk_url *u, const char *why)
{
	uint64_t delay = 0;

	if (++tier->cur >= tier->n) {
		tier->cur = 0;
		tier->fails++;
		delay = backoff_ms(tier->fails);
	}
	/* Even the hand-over to the next URL goes through the timer, so a
	 * tier of URLs failing on the spot cannot recurse. */
	tier_arm(tier, delay);
	tlog(tier->t, TRACKER_LOG_ERROR, "%s: %s", u->url, why);
}

/* ---- stopping ---- */

static void
on_stop_timer(struct loop_timer *timer, void *arg)
{
	struct tracker *t = arg;
	void (*done)(void *) = t->stop_done;

	for (size_t i = 0; i < t->nurls; i++)
		url_cancel(&t->urls[i]);
	t->pending = 0;
	t->stop_done = NULL;
	/* Last: done may free the tracker. */
	if (done != NULL)
		done(t->stop_arg);
}

static void
stop_result(struct trk_url *u, const struct announce_reply *rep, const char *why)
{
	struct tracker *t = u->t;

	u->started = 0;
	if (t->pending > 0 && --t->pending == 0)
		loop_timer_start(t->stop_timer, 0);
	if (why != NULL)
		tlog(t, TRACKER_LOG_WARNING, "%s: stopped: %s", u->url, why);
	else if (rep->failure != NULL)
		tlog(t, TRACKER_LOG_WARNING, "%s: stopped: %s", u->url, rep->failure);
	else
		tlog(t, TRACKER_LOG_INFO, "%s: stopped", u->url);
}

/*
 * The end of every announce: rep is the decoded reply (which may carry the
 * tracker's failure reason), or NULL with why saying what went wrong.
 */
static void
url_finish(struct trk_url *u, const struct announce_reply *rep, const char *why)
{
	u->busy = 0;
	if (u->event == ANNOUNCE_EVENT_STOPPED) {
		stop_result(u, rep, why);
		return;
	}
	if (why == NULL && rep->failure != NULL)
		why = rep->failure;
	if (why != NULL)
		tier_failure(u->tier, u, why);
	else
		tier_success(u->tier, u, rep);
}

/* ---- public API ---- */

static int
url_init(struct tracker *t, struct trk_url *u, struct trk_tier *tier, const char *url)
{
	u->t = t;
	u->tier = tier;
	u->fd = -1;
	if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) {
		u->kind = TRK_HTTP;
	} else if (udptrk_parse_url(url, u->host, sizeof u->host, &u->port, NULL) == 0) {
		u->kind = TRK_UDP;
		if ((u->rtx = loop_timer_new(t->loop, on_udp_rtx, u)) == NULL)
			return -ERR_NOMEM;
	} else {
		return -ERR_UNSUPPORTED;
	}
	if ((u->url = strdup(url)) == NULL)
		return -ERR_NOMEM;
	return 0;
}

static void
url_free(struct trk_url *u)
{
	http_cancel(u->req);
	if (u->resolve != NULL)
		u->resolve->u = NULL; /* resolve_done() frees the orphan */
	udp_close(u);
	loop_timer_free(u->rtx);
	free(u->tracker_id);
	free(u->url);
}

static void
shuffle(struct trk_url **v, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = random32() % i;
		struct trk_url *tmp = v[i - 1];

		v[i - 1] = v[j];
		v[j] = tmp;
	}
}

struct tracker *
tracker_new(struct loop *loop, struct http *http, struct loop_pool *pool,
	    const struct tracker_config *cfg, const struct tracker_ops *ops, void *arg)
{
	struct tracker *t = calloc(1, sizeof *t);
	size_t total = 0;
	int rc = -ERR_NOMEM;

	if (t == NULL)
		return NULL;
	t->loop = loop;
	t->http = http;
	t->pool = pool;
	if (ops != NULL)
		t->ops = *ops;
	t->arg = arg;
	memcpy(t->info_hash, cfg->info_hash, sizeof t->info_hash);
	memcpy(t->peer_id, cfg->peer_id, sizeof t->peer_id);
	t->port = cfg->port;
	t->numwant = cfg->numwant;
	t->local = cfg->local;
	t->local_len = cfg->local_len;
	t->key = random32();
	if ((t->stop_timer = loop_timer_new(loop, on_stop_timer, t)) == NULL)
		goto fail;

	for (size_t i = 0; i < cfg->ntiers; i++)
		total += cfg->tiers[i].nurls;
	if (total > TRACKER_MAX_URLS)
		total = TRACKER_MAX_URLS;
	if (total > 0) {
		t->urls = calloc(total, sizeof *t->urls);
		t->tiers = calloc(cfg->ntiers, sizeof *t->tiers);
		if (t->urls == NULL || t->tiers == NULL)
			goto fail;
	}
	for (size_t i = 0; i < cfg->ntiers && t->nurls < total; i++) {
		const struct metainfo_tier *src = &cfg->tiers[i];
		struct trk_tier *tier = &t->tiers[t->ntiers];

		if (src->nurls == 0)
			continue;
		tier->t = t;
		if ((tier->urls = calloc(src->nurls, sizeof *tier->urls)) == NULL)
			goto fail;
		t->ntiers++;
		for (size_t j = 0; j < src->nurls && t->nurls < total; j++) {
			struct trk_url *u = &t->urls[t->nurls];

			rc = url_init(t, u, tier, src->urls[j]);
			if (rc == -ERR_UNSUPPORTED) {
				memset(u, 0, sizeof *u);
				continue; /* wss://, typos: nothing we can announce to */
			}
			t->nurls++;
			if (rc < 0)
				goto fail;
			tier->urls[tier->n++] = u;
		}
		if (tier->n == 0) {
			free(tier->urls);
			memset(tier, 0, sizeof *tier);
			t->ntiers--;
			continue;
		}
		if ((tier->timer = loop_timer_new(loop, on_tier_timer, tier)) == NULL)
			goto fail;
		shuffle(tier->urls, tier->n);
	}
	return t;

fail:
	tracker_free(t);
	errno = ENOMEM;
	return NULL;
}

void
tracker_start(struct tracker *t)
{
	if (t->started || t->stopping)
		return;
	t->started = 1;
	for (size_t i = 0; i < t->ntiers; i++)
		tier_arm(&t->tiers[i], 0);
}

void
tracker_completed(struct tracker *t)
{
	if (t->completed_called || t->stopping)
		return;
	t->completed_called = 1;
	for (size_t i = 0; i < t->ntiers; i++) {
		struct trk_tier *tier = &t->tiers[i];

		tier->completed_pending = 1;
		/* A busy tier sends it after its reply; a failing one on its next try. */
		if (t->started && tier->fails == 0 && tier->have_success &&
		    !tier->urls[tier->cur]->busy)
			tier_arm(tier, 0);
	}
}

void
tracker_announce_now(struct tracker *t)
{
	uint64_t now = loop_now_ms(t->loop);

	if (!t->started || t->stopping)
		return;
	for (size_t i = 0; i < t->ntiers; i++) {
		struct trk_tier *tier = &t->tiers[i];
		uint64_t at;

		if (tier->urls[tier->cur]->busy) {
			tier->soon = 1;
			continue;
		}
		/* A failing tier keeps its back-off; a new one is due anyway. */
		if (tier->fails > 0 || !tier->have_success)
			continue;
		at = tier->last_at + soon_ms(tier);
		if (at < now)
			at = now;
		if (!loop_timer_armed(tier->timer) || at < tier->due)
			tier_arm(tier, at - now);
	}
}

void
tracker_stop(struct tracker *t, unsigned timeout_ms, void (*done)(void *arg), void *arg)
{
	if (t->stopping)
		return;
	t->stopping = 1;
	t->stop_done = done;
	t->stop_arg = arg;
	for (size_t i = 0; i < t->ntiers; i++)
		loop_timer_stop(t->tiers[i].timer);
	for (size_t i = 0; i < t->nurls; i++)
		url_cancel(&t->urls[i]);
	/* Count first: an announce can fail on the spot and count down. */
	for (size_t i = 0; i < t->nurls; i++)
		if (t->urls[i].started)
			t->pending++;
	loop_timer_start(t->stop_timer, t->pending > 0 ? timeout_ms : 0);
	for (size_t i = 0; i < t->nurls; i++)
		if (t->urls[i].started)
			url_begin(&t->urls[i], ANNOUNCE_EVENT_STOPPED);
}

int64_t
tracker_next_announce_ms(const struct tracker *t)
{
	uint64_t now = loop_now_ms(t->loop);
	int64_t best = -1;

	if (t->stopping)
		return -1;
	for (size_t i = 0; i < t->ntiers; i++) {
		const struct trk_tier *tier = &t->tiers[i];
		int64_t ms;

		if (!loop_timer_armed(tier->timer))
			continue;
		ms = tier->due > now ? (int64_t)(tier->due - now) : 0;
		if (best < 0 || ms < best)
			best = ms;
	}
	return best;
}

void
tracker_free(struct tracker *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nurls; i++)
		url_free(&t->urls[i]);
	for (size_t i = 0; i < t->ntiers; i++) {
		loop_timer_free(t->tiers[i].timer);
		free(t->tiers[i].urls);
	}
	loop_timer_free(t->stop_timer);
	free(t->tiers);
	free(t->urls);
	free(t);
}
