/*
 * http: asynchronous HTTP(S) GET on the poll loop, through libcurl's multi
 * interface. The only module that includes libcurl. Trackers use it; it
 * knows nothing about BitTorrent.
 *
 * libcurl's sockets join the loop through CURLMOPT_SOCKETFUNCTION and its
 * timeouts through CURLMOPT_TIMERFUNCTION, so no request ever blocks the
 * loop (Debian's libcurl resolves names on its own thread).
 */
#ifndef PIECES_HTTP_H
#define PIECES_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct http;
struct http_req;

/*
 * Called once per request, on the loop thread, after the transfer ended.
 * status is 0 when an HTTP reply arrived (whatever its code) or a negative
 * ERR_* code with errmsg saying why (connection refused, timeout, reply too
 * large). body is valid only during the call. The callback may start new
 * requests; it must not free the struct http.
 */
typedef void (*http_done_cb)(void *arg, int status, long code, const uint8_t *body, size_t len,
			     const char *errmsg);

/* Process-wide libcurl setup; call once from main() before any thread starts. */
int http_global_init(void);
void http_global_cleanup(void);

struct http *http_new(struct loop *loop);
/* Cancels every request still running (their callbacks are not called). */
void http_free(struct http *h);

/*
 * Starts a GET. max_body caps the reply (larger replies fail), timeout_ms
 * bounds the whole transfer. NULL on failure to start (errno-style code in
 * *rc when rc is not NULL).
 */
struct http_req *http_get(struct http *h, const char *url, size_t max_body, long timeout_ms,
			  http_done_cb cb, void *arg);
/* Aborts a running request; its callback is not called. */
void http_cancel(struct http_req *r);
/* Sends every later request from this local address (NULL: any). */
int http_set_local_address(struct http *h, const char *addr);
/*
 * HTTPS: trust the CA certificates in the PEM file at path for later
 * requests, instead of the system's store (NULL: the system's again).
 * 0, or -ERR_NOMEM.
 */
int http_set_ca_file(struct http *h, const char *path);
/* Requests currently running. */
unsigned http_active(const struct http *h);

#endif
