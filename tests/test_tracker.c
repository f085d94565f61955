/*
 * Tests for src/tracker.c: announces over HTTP and UDP against a real
 * opentracker, and against fake trackers served inside this process on
 * the same loop (an HTTP server with canned replies, a UDP socket that
 * answers once or never). Everything listens on 127.0.0.1 only; every wait
 * is bounded by a loop timer, and the opentracker child is killed by PID
 * (and runs under timeout(1) with a parent-death signal as a backstop).
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tracker.h"
#include "udptrk.h"

static struct loop *L;
static struct http *H;
static struct loop_pool *P;

/* ---- bounded waiting ---- */

static void
on_deadline(struct loop_timer *timer, void *arg)
{
	*(int *)arg = 1;
}

/* Runs the loop until cond holds or ms have passed. */
#define WAIT_UNTIL(cond, ms)                                                                       \
	do {                                                                                       \
		int expired_ = 0;                                                                  \
		struct loop_timer *d_ = loop_timer_new(L, on_deadline, &expired_);                 \
		cr_assert_not_null(d_);                                                            \
		loop_update_time(L);                                                               \
		loop_timer_start(d_, (ms));                                                        \
		while (!(cond) && !expired_)                                                       \
			cr_assert_eq(loop_run_once(L, -1), 0);                                     \
		loop_timer_free(d_);                                                               \
	} while (0)

#define RUN_FOR(ms) WAIT_UNTIL(0, (ms))

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- a client: one tracker object and what it reported ---- */

struct client {
	struct tracker *t;
	int infos, warnings, errors;
	char last_info[512];
	char last_error[512];
	uint16_t peer_ports[256];
	size_t npeers;
	int done;
	uint64_t left;
};

static void
c_stats(void *arg, uint64_t *up, uint64_t *down, uint64_t *left)
{
	struct client *c = arg;

	*up = 0;
	*down = 0;
	*left = c->left;
}

static void
c_peers(void *arg, const struct announce_peer *p, size_t n)
{
	struct client *c = arg;
	static const uint8_t lo[4] = {127, 0, 0, 1};

	for (size_t i = 0; i < n; i++) {
		if (p[i].family != AF_INET || memcmp(p[i].addr, lo, 4) != 0)
			continue;
		if (c->npeers < sizeof c->peer_ports / sizeof c->peer_ports[0])
			c->peer_ports[c->npeers++] = p[i].port;
	}
}

static void
c_log(void *arg, enum tracker_log_level level, const char *msg)
{
	struct client *c = arg;

	if (level == TRACKER_LOG_INFO) {
		c->infos++;
		snprintf(c->last_info, sizeof c->last_info, "%s", msg);
	} else if (level == TRACKER_LOG_WARNING) {
		c->warnings++;
	} else {
		c->errors++;
		snprintf(c->last_error, sizeof c->last_error, "%s", msg);
	}
}

static void
c_done(void *arg)
{
	struct client *c = arg;

	c->done++;
}

static const struct tracker_ops client_ops = {c_stats, c_peers, c_log};

static int
has_peer(const struct client *c, uint16_t port)
{
	for (size_t i = 0; i < c->npeers; i++)
		if (c->peer_ports[i] == port)
			return 1;
	return 0;
}

static const uint8_t HASH[20] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23,
				 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67};

/* Starts a client announcing to the given URLs: one tier each, or all in one tier. */
static void
client_new(struct client *c, char id, uint16_t port, int one_tier, const char *url0,
	   const char *url1)
{
	static char *urls[2][2];
	struct metainfo_tier tiers[2];
	struct tracker_config cfg;
	size_t n = url1 != NULL ? 2 : 1;

	memset(c, 0, sizeof *c);
	c->left = 1000;
	urls[0][0] = (char *)url0;
	urls[0][1] = (char *)url1;
	urls[1][0] = (char *)url1;
	memset(&cfg, 0, sizeof cfg);
	if (one_tier) {
		tiers[0].urls = urls[0];
		tiers[0].nurls = n;
		cfg.ntiers = 1;
	} else {
		tiers[0].urls = urls[0];
		tiers[0].nurls = 1;
		tiers[1].urls = urls[1];
		tiers[1].nurls = 1;
		cfg.ntiers = n;
	}
	cfg.tiers = tiers;
	memcpy(cfg.info_hash, HASH, 20);
	memset(cfg.peer_id, id, 20);
	cfg.port = port;
	cfg.numwant = 50;
	c->t = tracker_new(L, H, P, &cfg, &client_ops, c);
	cr_assert_not_null(c->t);
}

/* Stops c within timeout_ms (plus slack) and frees it; returns the time taken. */
static uint64_t
client_stop(struct client *c, unsigned timeout_ms)
{
	uint64_t t0 = mono_ms();

	tracker_stop(c->t, timeout_ms, c_done, c);
	cr_assert_eq(c->done, 0, "done must not be called from tracker_stop itself");
	WAIT_UNTIL(c->done, timeout_ms + 2000);
	cr_assert_eq(c->done, 1);
	tracker_free(c->t);
	c->t = NULL;
	return mono_ms() - t0;
}

/* ---- sockets ---- */

static int
bind_lo(int type, uint16_t port)
{
	struct sockaddr_in sa;
	int one = 1;
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static uint16_t
local_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;

	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

/* A port that is free for both TCP and UDP right now. */
static uint16_t
free_port(void)
{
	for (int tries = 0; tries < 50; tries++) {
		int tfd = bind_lo(SOCK_STREAM, 0);
		uint16_t port = local_port(tfd);
		int ufd = bind_lo(SOCK_DGRAM, port);

		close(tfd);
		if (ufd >= 0) {
			close(ufd);
			return port;
		}
	}
	cr_assert_fail("no free port");
	return 0;
}

/* ---- opentracker ---- */

static pid_t ot_pid = -1;
static char ot_dir[64];

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, 0644), 0);
}

/*
 * Sends one HTTP announce for HASH from a probe peer (port 1) with EVENT
 * ("" for none); whether opentracker took it: "interval" in the reply, not
 * a failure.
 */
static int
ot_announce(uint16_t port, const char *event)
{
	struct sockaddr_in sa;
	char req[512], reply[1024];
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int off;

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return 0;
	}
	off = snprintf(req, sizeof req, "GET /announce?info_hash=");
	for (int i = 0; i < 20; i++)
		off += snprintf(req + off, sizeof req - (size_t)off, "%%%02x", HASH[i]);
	snprintf(req + off, sizeof req - (size_t)off,
		 "&peer_id=-PROBE-0000000000000&port=1&uploaded=0&downloaded=0"
		 "&left=1&numwant=0&compact=1%s%s HTTP/1.0\r\n\r\n",
		 *event ? "&event=" : "", event);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return 0;
	}
	while (len < sizeof reply - 1 && (n = read(fd, reply + len, sizeof reply - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	reply[len] = '\0';
	return strstr(reply, "interval") != NULL && strstr(reply, "failure") == NULL;
}

/*
 * Whether opentracker takes an announce for HASH. Its whitelist is read by
 * a thread of its own after the sockets are up, so a tracker that accepts
 * connections may still refuse HASH for a moment. An announce with
 * event=stopped is answered without looking at the whitelist, so the probe
 * joins the swarm (as a peer on port 1 that wants no peers) and, once
 * taken, leaves it again with "stopped".
 */
static int
ot_http_ready(uint16_t port)
{
	if (!ot_announce(port, ""))
		return 0;
	return ot_announce(port, "stopped");
}

/*
 * Whether opentracker answers a UDP connect request. It binds its UDP
 * socket just after the TCP one: a datagram sent in between is lost.
 */
static int
ot_udp_ready(uint16_t port)
{
	struct sockaddr_in sa;
	uint8_t pkt[UDPTRK_CONNECT_LEN], reply[64];
	struct pollfd pfd;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ok = 0;

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	udptrk_encode_connect(pkt, 0x5052424f);
	if (sendto(fd, pkt, sizeof pkt, 0, (struct sockaddr *)&sa, sizeof sa) == sizeof pkt) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		ok = poll(&pfd, 1, 100) == 1 && recv(fd, reply, sizeof reply, 0) >= 16;
	}
	close(fd);
	return ok;
}

/*
 * Runs opentracker on 127.0.0.1 with HASH whitelisted. Run as root it
 * chroots into the directory before reading the whitelist, so the path in
 * the config is relative to that directory then, absolute otherwise.
 */
static uint16_t
ot_start(void)
{
	char hex[64], conf[160], confpath[128], portstr[8];
	uint16_t port = free_port();

	snprintf(ot_dir, sizeof ot_dir, "/tmp/pieces-ot-XXXXXX");
	cr_assert_not_null(mkdtemp(ot_dir));
	cr_assert_eq(chmod(ot_dir, 0755), 0);
	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", HASH[i]);
	hex[40] = '\n';
	hex[41] = '\0';
	write_file(ot_dir, "whitelist.txt", hex);
	snprintf(conf, sizeof conf, "access.whitelist %s/whitelist.txt\n",
		 geteuid() == 0 ? "" : ot_dir);
	write_file(ot_dir, "ot.conf", conf);
	snprintf(confpath, sizeof confpath, "%s/ot.conf", ot_dir);
	snprintf(portstr, sizeof portstr, "%u", (unsigned)port);

	ot_pid = fork();
	cr_assert_geq(ot_pid, 0);
	if (ot_pid == 0) {
		int null = open("/dev/null", O_RDWR);

		/* If this test process dies, timeout(1) gets SIGTERM and passes it on. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(null, 1);
		dup2(null, 2);
		execlp("timeout", "timeout", "60", "opentracker", "-f", confpath, "-p", portstr,
		       "-P", portstr, "-i", "127.0.0.1", "-d", ot_dir, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 300 && !(ot_http_ready(port) && ot_udp_ready(port)); i++) {
		int status;

		cr_assert_eq(waitpid(ot_pid, &status, WNOHANG), 0, "opentracker exited");
		usleep(10000);
	}
	cr_assert(ot_http_ready(port), "opentracker does not take announces on port %u", port);
	cr_assert(ot_udp_ready(port), "opentracker does not answer UDP on port %u", port);
	return port;
}

static void
ot_stop(void)
{
	char path[128];

	if (ot_pid > 0) {
		kill(ot_pid, SIGTERM);
		waitpid(ot_pid, NULL, 0);
		ot_pid = -1;
	}
	if (ot_dir[0] != '\0') {
		snprintf(path, sizeof path, "%s/whitelist.txt", ot_dir);
		unlink(path);
		snprintf(path, sizeof path, "%s/ot.conf", ot_dir);
		unlink(path);
		rmdir(ot_dir);
		ot_dir[0] = '\0';
	}
}

/* ---- a fake HTTP tracker on the loop ---- */

#define FAKE_CONNS 8
#define FAKE_REQS  16

struct fconn {
	int fd;
	struct loop_io *io;
	char buf[4096];
	size_t len;
};

struct fake_http {
	int lfd;
	struct loop_io *lio;
	uint16_t port;
	const char *body; /* reply to send; NULL: never answer */
	size_t body_len;
	int nreq;
	char req[FAKE_REQS][1024]; /* request lines */
	struct fconn conns[FAKE_CONNS];
};

static struct fake_http fake;

static void
fconn_close(struct fconn *fc)
{
	loop_io_del(fc->io);
	close(fc->fd);
	fc->io = NULL;
	fc->fd = -1;
}

static void
on_fconn(struct loop_io *io, int fd, short revents, void *arg)
{
	struct fconn *fc = arg;
	char head[256];
	ssize_t n = read(fd, fc->buf + fc->len, sizeof fc->buf - 1 - fc->len);
	char *end;

	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		fconn_close(fc);
		return;
	}
	fc->len += (size_t)n;
	fc->buf[fc->len] = '\0';
	if (strstr(fc->buf, "\r\n\r\n") == NULL)
		return;
	end = strstr(fc->buf, "\r\n");
	*end = '\0';
	if (fake.nreq < FAKE_REQS) {
		size_t len = strnlen(fc->buf, sizeof fake.req[0] - 1);

		memcpy(fake.req[fake.nreq], fc->buf, len);
		fake.req[fake.nreq][len] = '\0';
	}
	fake.nreq++;
	fc->len = 0;
	if (fake.body == NULL)
		return; /* hang: keep the connection open, say nothing */
	snprintf(head, sizeof head,
		 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		 fake.body_len);
	cr_assert_eq(write(fd, head, strlen(head)), (ssize_t)strlen(head));
	cr_assert_eq(write(fd, fake.body, fake.body_len), (ssize_t)fake.body_len);
	fconn_close(fc);
}

static void
on_fake_accept(struct loop_io *io, int fd, short revents, void *arg)
{
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (c < 0)
		return;
	for (int i = 0; i < FAKE_CONNS; i++) {
		if (fake.conns[i].fd < 0) {
			fake.conns[i].fd = c;
			fake.conns[i].len = 0;
			fake.conns[i].io = loop_io_add(L, c, POLLIN, on_fconn, &fake.conns[i]);
			cr_assert_not_null(fake.conns[i].io);
			return;
		}
	}
	close(c);
}

/* Bodies are string literals, which may hold NUL bytes (compact peers). */
#define fake_http_start(lit) fake_http_start_n((lit), sizeof(lit) - 1)

static void
fake_http_start_n(const char *body, size_t len)
{
	memset(&fake, 0, sizeof fake);
	for (int i = 0; i < FAKE_CONNS; i++)
		fake.conns[i].fd = -1;
	fake.body = body;
	fake.body_len = len;
	fake.lfd = bind_lo(SOCK_STREAM, 0);
	cr_assert_geq(fake.lfd, 0);
	cr_assert_eq(listen(fake.lfd, 8), 0);
	fake.port = local_port(fake.lfd);
	fake.lio = loop_io_add(L, fake.lfd, POLLIN, on_fake_accept, NULL);
	cr_assert_not_null(fake.lio);
}

static void
fake_http_stop(void)
{
	if (fake.lio == NULL)
		return;
	for (int i = 0; i < FAKE_CONNS; i++)
		if (fake.conns[i].fd >= 0)
			fconn_close(&fake.conns[i]);
	loop_io_del(fake.lio);
	close(fake.lfd);
	fake.lio = NULL;
}

/* ---- a fake UDP tracker: answers while `answer` is set, else stays silent ---- */

struct fake_udp {
	int fd;
	struct loop_io *io;
	uint16_t port;
	int answer;
	int ndgrams;
	int events[16]; /* event field of each announce received */
	int nannounces;
};

static struct fake_udp fudp;

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
on_fake_udp(struct loop_io *io, int fd, short revents, void *arg)
{
	uint8_t in[2048], out[20];
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof from;
	ssize_t n = recvfrom(fd, in, sizeof in, 0, (struct sockaddr *)&from, &fromlen);
	uint32_t action;

	if (n < 16)
		return;
	fudp.ndgrams++;
	action = rd32(in + 8);
	if (action == UDPTRK_ACTION_ANNOUNCE && n >= 98 && fudp.nannounces < 16)
		fudp.events[fudp.nannounces++] = (int)rd32(in + 80);
	if (!fudp.answer)
		return;
	if (action == UDPTRK_ACTION_CONNECT) {
		wr32(out, UDPTRK_ACTION_CONNECT);
		memcpy(out + 4, in + 12, 4);
		wr32(out + 8, 0x11223344);
		wr32(out + 12, 0x55667788);
		sendto(fd, out, 16, 0, (struct sockaddr *)&from, fromlen);
	} else if (action == UDPTRK_ACTION_ANNOUNCE) {
		wr32(out, UDPTRK_ACTION_ANNOUNCE);
		memcpy(out + 4, in + 12, 4);
		wr32(out + 8, 1800);
		wr32(out + 12, 1);
		wr32(out + 16, 0);
		sendto(fd, out, 20, 0, (struct sockaddr *)&from, fromlen);
	}
}

static void
fake_udp_start(int answer)
{
	memset(&fudp, 0, sizeof fudp);
	fudp.answer = answer;
	fudp.fd = bind_lo(SOCK_DGRAM, 0);
	cr_assert_geq(fudp.fd, 0);
	fudp.port = local_port(fudp.fd);
	fudp.io = loop_io_add(L, fudp.fd, POLLIN, on_fake_udp, NULL);
	cr_assert_not_null(fudp.io);
}

static void
fake_udp_stop(void)
{
	if (fudp.io == NULL)
		return;
	loop_io_del(fudp.io);
	close(fudp.fd);
	fudp.io = NULL;
}

/* ---- fixture ---- */

static void
setup(void)
{
	cr_assert_eq(http_global_init(), 0);
	L = loop_new();
	cr_assert_not_null(L);
	H = http_new(L);
	cr_assert_not_null(H);
	P = loop_pool_new(L, 2);
	cr_assert_not_null(P);
	fake.lio = NULL;
	fudp.io = NULL;
}

static void
teardown(void)
{
	ot_stop();
	fake_http_stop();
	fake_udp_stop();
	http_free(H);
	loop_pool_free(P);
	loop_run_once(L, 0);
	loop_free(L);
	http_global_cleanup();
}

TestSuite(tracker, .init = setup, .fini = teardown, .timeout = 30);

/* ---- against opentracker ---- */

static void
swarm_test(const char *scheme)
{
	struct client a, b, c;
	char url[128];
	uint16_t port = ot_start();

	snprintf(url, sizeof url, "%s://127.0.0.1:%u/announce", scheme, (unsigned)port);
	client_new(&a, 'a', 7001, 0, url, NULL);
	tracker_start(a.t);
	WAIT_UNTIL(a.infos > 0 || a.errors > 0, 5000);
	cr_assert_eq(a.errors, 0, "%s", a.last_error);
	cr_assert_eq(a.infos, 1);
	cr_assert(strstr(a.last_info, url) != NULL, "%s", a.last_info);

	client_new(&b, 'b', 7002, 0, url, NULL);
	tracker_start(b.t);
	WAIT_UNTIL(b.infos > 0 || b.errors > 0, 5000);
	cr_assert_eq(b.errors, 0, "%s", b.last_error);
	cr_assert(has_peer(&b, 7001), "b did not learn a's address");
	cr_assert(strstr(b.last_info, "peers (") != NULL, "%s", b.last_info);

	/* a leaves: opentracker must forget it. */
	cr_assert_lt(client_stop(&a, 3000), 3000);
	cr_assert_eq(a.errors, 0, "%s", a.last_error);
	cr_assert(strstr(a.last_info, "stopped") != NULL, "%s", a.last_info);

	client_new(&c, 'c', 7003, 0, url, NULL);
	tracker_start(c.t);
	WAIT_UNTIL(c.infos > 0 || c.errors > 0, 5000);
	cr_assert_eq(c.errors, 0, "%s", c.last_error);
	cr_assert(has_peer(&c, 7002));
	cr_assert_not(has_peer(&c, 7001), "a is still listed after `stopped`");

	client_stop(&b, 3000);
	client_stop(&c, 3000);
}

Test(tracker, opentracker_http)
{
	swarm_test("http");
}

Test(tracker, opentracker_udp)
{
	swarm_test("udp");
}

/* ---- fake HTTP tracker ---- */

Test(tracker, failure_reason_backs_off)
{
	struct client a;
	char url[128];
	int64_t next;

	fake_http_start("d14:failure reason10:not listede");
	snprintf(url, sizeof url, "http://127.0.0.1:%u/announce", (unsigned)fake.port);
	client_new(&a, 'a', 7001, 0, url, NULL);
	tracker_start(a.t);
	WAIT_UNTIL(a.errors > 0, 3000);
	cr_assert_eq(a.errors, 1);
	cr_assert(strstr(a.last_error, "not listed") != NULL, "%s", a.last_error);
	cr_assert(strstr(a.last_error, url) != NULL, "%s", a.last_error);
	next = tracker_next_announce_ms(a.t);
	cr_assert(next >= 14000 && next <= 15000, "next announce in %lld ms", (long long)next);
	/* Nothing was started, so nothing to stop. */
	RUN_FOR(500);
	cr_assert_eq(fake.nreq, 1);
	cr_assert_lt(client_stop(&a, 2000), 500);
	cr_assert_eq(fake.nreq, 1);
}

static int
req_has(int i, const char *s)
{
	return i < fake.nreq && strstr(fake.req[i], s) != NULL;
}

Test(tracker, events_interval_and_stop_over_http)
{
	struct client a;
	char url[128];
	int64_t next;

	fake_http_start("d8:intervali1800e12:min intervali60e10:tracker id3:xyz"
			"5:peers6:\x7f\x00\x00\x01\x1b\x59"
			"e");
	snprintf(url, sizeof url, "http://127.0.0.1:%u/announce?passkey=1", (unsigned)fake.port);
	client_new(&a, 'a', 7001, 0, url, NULL);
	tracker_start(a.t);
	WAIT_UNTIL(a.infos > 0 || a.errors > 0, 3000);
	cr_assert_eq(a.errors, 0, "%s", a.last_error);
	cr_assert(has_peer(&a, 7001));
	cr_assert(req_has(0, "event=started"), "%s", fake.req[0]);
	cr_assert(req_has(0, "passkey=1&"), "%s", fake.req[0]);
	cr_assert(req_has(0, "compact=1"), "%s", fake.req[0]);
	cr_assert(req_has(0, "numwant=50"), "%s", fake.req[0]);
	cr_assert(req_has(0, "&key="), "%s", fake.req[0]);
	next = tracker_next_announce_ms(a.t);
	cr_assert(next > 1790000 && next <= 1800000, "next %lld", (long long)next);

	/* completed goes out at once, once, with the tracker id echoed. */
	a.left = 0;
	tracker_completed(a.t);
	tracker_completed(a.t);
	WAIT_UNTIL(fake.nreq >= 2 && a.infos >= 2, 3000);
	cr_assert(req_has(1, "event=completed"), "%s", fake.req[1]);
	cr_assert(req_has(1, "trackerid=xyz"), "%s", fake.req[1]);
	cr_assert(req_has(1, "left=0"), "%s", fake.req[1]);
	RUN_FOR(300);
	cr_assert_eq(fake.nreq, 2);

	/* announce_now honours min interval (60 s) since the last announce. */
	tracker_announce_now(a.t);
	next = tracker_next_announce_ms(a.t);
	cr_assert(next > 55000 && next <= 60000, "next %lld", (long long)next);

	cr_assert_lt(client_stop(&a, 2000), 2000);
	cr_assert_eq(fake.nreq, 3);
	cr_assert(req_has(2, "event=stopped"), "%s", fake.req[2]);
	cr_assert(req_has(2, "numwant=0"), "%s", fake.req[2]);
}

Test(tracker, stop_is_bounded_when_the_tracker_hangs)
{
	struct client a;
	char url[128];
	uint64_t took;

	fake_http_start("d8:intervali1800ee");
	snprintf(url, sizeof url, "http://127.0.0.1:%u/announce", (unsigned)fake.port);
	client_new(&a, 'a', 7001, 0, url, NULL);
	tracker_start(a.t);
	WAIT_UNTIL(a.infos > 0 || a.errors > 0, 3000);
	cr_assert_eq(a.infos, 1, "%s", a.last_error);
	fake.body = NULL;
	took = client_stop(&a, 400);
	cr_assert(took >= 350 && took < 1500, "stop took %llu ms", (unsigned long long)took);
	cr_assert(req_has(1, "event=stopped"), "%s", fake.req[1]);
}

Test(tracker, unreachable_http_tracker)
{
	struct client a;
	char url[128];
	int fd = bind_lo(SOCK_STREAM, 0); /* bound, never listening: refused */
	int64_t next;

	cr_assert_geq(fd, 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%u/announce", (unsigned)local_port(fd));
	client_new(&a, 'a', 7001, 0, url, NULL);
	tracker_start(a.t);
	RUN_FOR(1200);
	cr_assert_eq(a.errors, 1, "attempts over 1.2 s: %d", a.errors);
	cr_assert(strstr(a.last_error, url) != NULL, "%s", a.last_error);
	next = tracker_next_announce_ms(a.t);
	cr_assert(next >= 13000 && next <= 15000, "next %lld", (long long)next);
	cr_assert_lt(client_stop(&a, 1000), 500);
	close(fd);
}

Test(tracker, tier_fails_over_to_the_next_url)
{
	struct client a;
	char bad[128], good[128];
	int fd = bind_lo(SOCK_STREAM, 0);

	fake_http_start("d8:intervali1800ee");
	snprintf(bad, sizeof bad, "http://127.0.0.1:%u/announce", (unsigned)local_port(fd));
	snprintf(good, sizeof good, "http://127.0.0.1:%u/announce", (unsigned)fake.port);
	client_new(&a, 'a', 7001, 1, bad, good);
	tracker_start(a.t);
	WAIT_UNTIL(a.infos > 0, 3000);
	cr_assert_eq(a.infos, 1);
	cr_assert_leq(a.errors, 1);
	cr_assert(strstr(a.last_info, good) != NULL, "%s", a.last_info);
	cr_assert(tracker_next_announce_ms(a.t) > 1000000);
	/* stopped goes to the URL that got started only. */
	cr_assert_lt(client_stop(&a, 2000), 2000);
	cr_assert_eq(fake.nreq, 2);
	cr_assert(req_has(1, "event=stopped"));
	close(fd);
}

Test(tracker, two_tiers_both_announced)
{
	struct client a;
	char u1[128], u2[128];

	fake_http_start("d8:intervali1800ee");
	snprintf(u1, sizeof u1, "http://127.0.0.1:%u/one", (unsigned)fake.port);
	snprintf(u2, sizeof u2, "http://127.0.0.1:%u/two", (unsigned)fake.port);
	client_new(&a, 'a', 7001, 0, u1, u2);
	tracker_start(a.t);
	WAIT_UNTIL(a.infos >= 2 || a.errors > 0, 3000);
	cr_assert_eq(a.infos, 2);
	cr_assert_eq(fake.nreq, 2);
	cr_assert_lt(client_stop(&a, 2000), 2000);
	cr_assert_eq(fake.nreq, 4);
}

Test(tracker, stop_before_start_and_unsupported_urls)
{
	struct client a;

	client_new(&a, 'a', 7001, 1, "wss://tracker.example/announce", "ftp://x/");
	tracker_start(a.t);
	cr_assert_eq(tracker_next_announce_ms(a.t), -1);
	RUN_FOR(100);
	cr_assert_eq(a.errors + a.infos, 0);
	cr_assert_lt(client_stop(&a, 5000), 500);
}

/* ---- UDP fakes ---- */

Test(tracker, silent_udp_tracker)
{
	struct client a;
	char url[128];

	fake_udp_start(0);
	snprintf(url, sizeof url, "udp://127.0.0.1:%u", (unsigned)fudp.port);
	client_new(&a, 'a', 7001, 0, url, NULL);
	tracker_start(a.t);
	RUN_FOR(1200);
	/* One connect request; BEP 15 resends only after 15 s. */
	cr_assert_eq(fudp.ndgrams, 1);
	cr_assert_eq(a.errors + a.infos, 0);
	cr_assert_lt(client_stop(&a, 1000), 500);
}

Test(tracker, refused_udp_tracker)
{
	struct client a;
	char url[128];
	int fd = bind_lo(SOCK_DGRAM, 0);
	uint16_t port = local_port(fd);
	int64_t next;

	close(fd); /* nothing listens there now: ICMP port unreachable */
	snprintf(url, sizeof url, "udp://127.0.0.1:%u/announce", (unsigned)port);
	client_new(&a, 'a', 7001, 0, url, NULL);
	tracker_start(a.t);
	RUN_FOR(1200);
	cr_assert_eq(a.errors, 1, "attempts over 1.2 s: %d", a.errors);
	cr_assert(strstr(a.last_error, url) != NULL, "%s", a.last_error);
	next = tracker_next_announce_ms(a.t);
	cr_assert(next >= 13000 && next <= 15000, "next %lld", (long long)next);
	cr_assert_lt(client_stop(&a, 1000), 500);
}

Test(tracker, udp_stop_is_bounded_when_the_tracker_goes_silent)
{
	struct client a;
	char url[128];
	uint64_t took;

	fake_udp_start(1);
	snprintf(url, sizeof url, "udp://127.0.0.1:%u", (unsigned)fudp.port);
	client_new(&a, 'a', 7001, 0, url, NULL);
	tracker_start(a.t);
	WAIT_UNTIL(a.infos > 0 || a.errors > 0, 3000);
	cr_assert_eq(a.infos, 1, "%s", a.last_error);
	cr_assert(strstr(a.last_info, "(0 seeders, 1 leechers)") != NULL, "%s", a.last_info);
	cr_assert_eq(fudp.nannounces, 1);
	cr_assert_eq(fudp.events[0], ANNOUNCE_EVENT_STARTED);
	fudp.answer = 0;
	took = client_stop(&a, 400);
	cr_assert(took >= 350 && took < 1500, "stop took %llu ms", (unsigned long long)took);
	/* The connection id is still fresh: the announce goes out directly. */
	cr_assert_eq(fudp.nannounces, 2);
	cr_assert_eq(fudp.events[1], ANNOUNCE_EVENT_STOPPED);
}
