/*
 * http: libcurl multi driven by the poll loop (the socket-action pattern).
 *
 * curl tells us which sockets to watch (sock_cb) and when to call it back
 * (timer_cb); we translate that into loop_io and loop_timer objects. We
 * never call curl_multi_* from inside those two callbacks, only from our
 * own io/timer callbacks, as libcurl requires. Completed transfers are
 * collected with curl_multi_info_read after each socket action.
 */
#include "config.h"

#include "http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"

struct http {
	struct loop *loop;
	CURLM *multi;
	struct loop_timer *timer;
	struct http_req *reqs; /* doubly linked list of running requests */
	unsigned active;
	char iface[80]; /* CURLOPT_INTERFACE value, "" for none */
	char *ca_file;	/* CURLOPT_CAINFO value, NULL for libcurl's default */
};

struct http_req {
	struct http *h;
	CURL *easy;
	struct buf body;
	http_done_cb cb;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
	struct http_req *prev, *next;
};

/* Per-socket state curl keeps for us via curl_multi_assign. */
struct http_sock {
	struct loop_io *io;
};

int
http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -ERR_IO;
}

void
http_global_cleanup(void)
{
	curl_global_cleanup();
}

static void
req_unlink_free(struct http_req *r)
{
	struct http *h = r->h;

	if (r->prev)
		r->prev->next = r->next;
	else
		h->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	curl_multi_remove_handle(h->multi, r->easy);
	curl_easy_cleanup(r->easy);
	buf_free(&r->body);
	h->active--;
	free(r);
}

static void
check_done(struct http *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		struct http_req *r = NULL;
		long code = 0;
		int status = 0;
		const char *errmsg = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r == NULL)
			continue;
		if (msg->data.result != CURLE_OK) {
			status = msg->data.result == CURLE_WRITE_ERROR ? -ERR_LIMIT : -ERR_IO;
			errmsg = msg->data.result == CURLE_WRITE_ERROR ? "reply too large"
				 : r->errbuf[0]			       ? r->errbuf
						: curl_easy_strerror(msg->data.result);
		} else {
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
		}
		/* Detach before the callback so it may start new requests freely. */
		{
			http_done_cb cb = r->cb;
			void *arg = r->arg;
			struct buf body = r->body;
			char err[CURL_ERROR_SIZE];

			if (errmsg != NULL)
				snprintf(err, sizeof err, "%s", errmsg);
			buf_init(&r->body, 0);
			req_unlink_free(r);
			cb(arg, status, code, body.data, body.len, errmsg ? err : NULL);
			buf_free(&body);
		}
	}
}

static void
on_io(struct loop_io *io, int fd, short revents, void *arg)
{
	struct http *h = arg;
	int running, flags = 0;

	if (revents & POLLIN)
		flags |= CURL_CSELECT_IN;
	if (revents & POLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (revents & (POLLERR | POLLHUP | POLLNVAL))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(h->multi, fd, flags, &running);
	check_done(h);
}

static void
on_timer(struct loop_timer *t, void *arg)
{
	struct http *h = arg;
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

static int
sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http *h = userp;
	struct http_sock *hs = socketp;
	short events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (hs != NULL) {
			loop_io_del(hs->io);
			free(hs);
			curl_multi_assign(h->multi, s, NULL);
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= POLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= POLLOUT;
	if (hs == NULL) {
		if ((hs = calloc(1, sizeof *hs)) == NULL)
			return -1;
		if ((hs->io = loop_io_add(h->loop, s, events, on_io, h)) == NULL) {
			free(hs);
			return -1;
		}
		curl_multi_assign(h->multi, s, hs);
	} else {
		loop_io_set_events(hs->io, events);
	}
	return 0;
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *h = userp;

	if (timeout_ms < 0)
		loop_timer_stop(h->timer);
	else
		loop_timer_start(h->timer, (uint64_t)timeout_ms);
	return 0;
}

static size_t
write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct http_req *r = arg;

	/* size is always 1 for write callbacks; returning less aborts. */
	if (buf_append(&r->body, p, size * n) < 0)
		return 0;
	return size * n;
}

struct http *
http_new(struct loop *loop)
{
	struct http *h = calloc(1, sizeof *h);

	if (h == NULL)
		return NULL;
	h->loop = loop;
	h->multi = curl_multi_init();
	h->timer = loop_timer_new(loop, on_timer, h);
	if (h->multi == NULL || h->timer == NULL) {
		http_free(h);
		return NULL;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return h;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	while (h->reqs != NULL)
		req_unlink_free(h->reqs);
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);
	loop_timer_free(h->timer);
	free(h->ca_file);
	free(h);
}

struct http_req *
http_get(struct http *h, const char *url, size_t max_body, long timeout_ms, http_done_cb cb,
	 void *arg)
{
	struct http_req *r = calloc(1, sizeof *r);

	if (r == NULL)
		return NULL;
	if ((r->easy = curl_easy_init()) == NULL) {
		free(r);
		return NULL;
	}
	r->h = h;
	r->cb = cb;
	r->arg = arg;
	buf_init(&r->body, max_body);
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS,
			 timeout_ms < 15000 ? timeout_ms : 15000L);
	curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(r->easy, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(r->easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "pieces/" PACKAGE_VERSION);
	if (h->iface[0] != '\0')
		curl_easy_setopt(r->easy, CURLOPT_INTERFACE, h->iface);
#if LIBCURL_VERSION_NUM >= 0x075500
	if (h->ca_file != NULL)
		curl_easy_setopt(r->easy, CURLOPT_CAINFO, h->ca_file);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
	if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK) {
		curl_easy_cleanup(r->easy);
		buf_free(&r->body);
		free(r);
		return NULL;
	}
	r->next = h->reqs;
	if (h->reqs)
		h->reqs->prev = r;
	h->reqs = r;
	h->active++;
	return r;
}

void
http_cancel(struct http_req *r)
{
	if (r != NULL)
		req_unlink_free(r);
}

int
http_set_local_address(struct http *h, const char *addr)
{
	if (addr == NULL) {
		h->iface[0] = '\0';
		return 0;
	}
	/* "host!" makes libcurl take it as an address, never an interface name. */
	if ((size_t)snprintf(h->iface, sizeof h->iface, "host!%s", addr) >= sizeof h->iface) {
		h->iface[0] = '\0';
		return -ERR_LIMIT;
	}
	return 0;
}

int
http_set_ca_file(struct http *h, const char *path)
{
	char *copy = NULL;

	if (path != NULL && (copy = strdup(path)) == NULL)
		return -ERR_NOMEM;
	free(h->ca_file);
	h->ca_file = copy;
	return 0;
}

unsigned
http_active(const struct http *h)
{
	return h->active;
}
