/*
 * udptrk: BEP 15 datagrams, encoded and decoded by hand in big-endian order
 * (no structs overlaid on the wire, so no alignment or padding surprises).
 *
 * The decoder checks the transaction id before anything else that could
 * be the tracker's fault: anyone can send us a datagram, and one that does
 * not answer our request must not fail the announce it did not belong to.
 * Peers and intervals go through the same helpers as the HTTP reply, so
 * both tracker kinds are held to the same limits.
 */
#include "udptrk.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Longest DNS name; longer hosts cannot be resolved anyway. */
#define HOST_MAX 253u

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

void
udptrk_encode_connect(uint8_t out[UDPTRK_CONNECT_LEN], uint32_t tid)
{
	put64(out, UDPTRK_PROTOCOL_ID);
	put32(out + 8, UDPTRK_ACTION_CONNECT);
	put32(out + 12, tid);
}

int
udptrk_encode_announce(uint8_t out[UDPTRK_ANNOUNCE_LEN], uint64_t conn_id, uint32_t tid,
		       const struct announce_req *req)
{
	if ((unsigned)req->event > ANNOUNCE_EVENT_STOPPED)
		return -ERR_INVALID;
	put64(out, conn_id);
	put32(out + 8, UDPTRK_ACTION_ANNOUNCE);
	put32(out + 12, tid);
	memcpy(out + 16, req->info_hash, 20);
	memcpy(out + 36, req->peer_id, 20);
	put64(out + 56, req->downloaded);
	put64(out + 64, req->left);
	put64(out + 72, req->uploaded);
	put32(out + 80, (uint32_t)req->event); /* numbered as BEP 15 wants */
	put32(out + 84, 0);		       /* IP: let the tracker use the source address */
	put32(out + 88, req->key);
	put32(out + 92, req->numwant < 0 ? UINT32_MAX : (uint32_t)req->numwant);
	out[96] = (uint8_t)(req->port >> 8);
	out[97] = (uint8_t)req->port;
	return 0;
}

void
udptrk_reply_free(struct udptrk_reply *r)
{
	if (r == NULL)
		return;
	announce_reply_free(&r->ann);
	r->action = UDPTRK_ACTION_CONNECT;
	r->conn_id = 0;
}

/* Counts are signed 32-bit on the wire; a negative one means nothing. */
static int64_t
count_of(const uint8_t *p)
{
	int64_t v = (int32_t)get32(p);

	return v < 0 ? -1 : v;
}

static int
decode_announce(const uint8_t *p, size_t n, int family, struct announce_reply *r, struct error *err)
{
	size_t addrlen = family == AF_INET ? 4 : 16, entry = addrlen + 2, npeers, i;

	if (n < UDPTRK_ANNOUNCE_REPLY_MIN)
		return error_set(err, ERR_SYNTAX, (long long)n,
				 "UDP announce response of %zu bytes is shorter than %u", n,
				 UDPTRK_ANNOUNCE_REPLY_MIN);
	if ((n - UDPTRK_ANNOUNCE_REPLY_MIN) % entry != 0)
		return error_set(err, ERR_SYNTAX, (long long)UDPTRK_ANNOUNCE_REPLY_MIN,
				 "UDP announce response: %zu peer bytes, not a multiple of %zu",
				 n - UDPTRK_ANNOUNCE_REPLY_MIN, entry);
	r->interval = announce_clamp_interval((int32_t)get32(p + 8));
	r->incomplete = count_of(p + 12);
	r->complete = count_of(p + 16);
	npeers = (n - UDPTRK_ANNOUNCE_REPLY_MIN) / entry;
	if (npeers > ANNOUNCE_MAX_PEERS) {
		r->nskipped = npeers - ANNOUNCE_MAX_PEERS;
		npeers = ANNOUNCE_MAX_PEERS;
	}
	if (npeers > 0 && (r->peers = calloc(npeers, sizeof *r->peers)) == NULL)
		return error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
	for (i = 0; i < npeers; i++) {
		const uint8_t *e = p + UDPTRK_ANNOUNCE_REPLY_MIN + i * entry;
		uint16_t port = (uint16_t)(e[addrlen] << 8 | e[addrlen + 1]);

		if (announce_peer_set(&r->peers[r->npeers], e, addrlen, port) < 0)
			r->nskipped++;
		else
			r->npeers++;
	}
	return 0;
}

static int
decode_error(const uint8_t *p, size_t n, struct announce_reply *r, struct error *err)
{
	size_t len = n - 8;

	/* Some trackers NUL-terminate the message; the terminator is not text. */
	while (len > 0 && p[8 + len - 1] == '\0')
		len--;
	if ((r->failure = announce_copy_text(p + 8, len)) == NULL)
		return error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
	return 0;
}

int
udptrk_decode(const uint8_t *p, size_t n, enum udptrk_action expect, uint32_t tid, int family,
	      struct udptrk_reply *out, struct error *err)
{
	uint32_t action;
	int rc;

	memset(out, 0, sizeof *out);
	out->ann.complete = -1;
	out->ann.incomplete = -1;
	out->ann.interval = ANNOUNCE_INTERVAL_DEFAULT;
	if (expect != UDPTRK_ACTION_CONNECT && expect != UDPTRK_ACTION_ANNOUNCE)
		return error_set(err, ERR_UNSUPPORTED, ERROR_NO_OFFSET,
				 "cannot decode UDP tracker action %d", (int)expect);
	if (family != AF_INET && family != AF_INET6)
		return error_set(err, ERR_UNSUPPORTED, ERROR_NO_OFFSET, "unknown address family %d",
				 family);
	if (n < 8)
		return error_set(err, ERR_SYNTAX, (long long)n,
				 "UDP tracker datagram of %zu bytes is too short", n);
	if (get32(p + 4) != tid)
		return error_set(err, UDPTRK_ERR_STRAY, 4,
				 "UDP tracker datagram for another transaction");
	action = get32(p);
	if (action == UDPTRK_ACTION_ERROR) {
		out->action = UDPTRK_ACTION_ERROR;
		rc = decode_error(p, n, &out->ann, err);
	} else if (action != (uint32_t)expect) {
		rc = error_set(err, ERR_INVALID, 0, "UDP tracker answered action %u, expected %d",
			       action, (int)expect);
	} else if (action == UDPTRK_ACTION_CONNECT) {
		out->action = UDPTRK_ACTION_CONNECT;
		/* BEP 15 asks for "at least" 16 bytes: later extensions may append. */
		if (n < UDPTRK_CONNECT_LEN) {
			rc = error_set(err, ERR_SYNTAX, (long long)n,
				       "UDP connect response of %zu bytes is shorter than %u", n,
				       UDPTRK_CONNECT_LEN);
		} else {
			out->conn_id = get64(p + 8);
			rc = 0;
		}
	} else {
		out->action = UDPTRK_ACTION_ANNOUNCE;
		rc = decode_announce(p, n, family, &out->ann, err);
	}
	if (rc < 0)
		udptrk_reply_free(out);
	return rc;
}

int64_t
udptrk_timeout_ms(unsigned attempt)
{
	if (attempt > UDPTRK_MAX_RETRIES)
		return -1;
	return (int64_t)15000 << attempt;
}

int
udptrk_conn_valid(uint64_t obtained_ms, uint64_t now_ms)
{
	/* A clock that seems to run backwards proves nothing: ask for a fresh id. */
	return now_ms >= obtained_ms && now_ms - obtained_ms < UDPTRK_CONN_TTL_MS;
}

static int
is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

int
udptrk_parse_url(const char *url, char *host, size_t hostlen, uint16_t *port, struct error *err)
{
	static const char scheme[] = "udp://";
	const char *h, *hend, *s;
	uint8_t scratch[16];
	char tmp[INET6_ADDRSTRLEN];
	size_t len, i;
	unsigned long v = 0;

	for (i = 0; i < sizeof scheme - 1; i++) {
		char c = url[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != scheme[i])
			return error_set(err, ERR_UNSUPPORTED, 0, "not a udp:// tracker URL");
	}
	h = url + sizeof scheme - 1;
	if (*h == '[') {
		h++;
		if ((hend = strchr(h, ']')) == NULL)
			return error_set(err, ERR_INVALID, (long long)(h - url),
					 "unterminated '[' in tracker URL");
		len = (size_t)(hend - h);
		if (len == 0 || len >= sizeof tmp)
			return error_set(err, ERR_INVALID, (long long)(h - url),
					 "bad IPv6 address in tracker URL");
		memcpy(tmp, h, len);
		tmp[len] = '\0';
		if (inet_pton(AF_INET6, tmp, scratch) != 1)
			return error_set(err, ERR_INVALID, (long long)(h - url),
					 "bad IPv6 address in tracker URL");
		s = hend + 1;
	} else {
		for (hend = h; is_host_char(*hend); hend++)
			;
		len = (size_t)(hend - h);
		if (len == 0)
			return error_set(err, ERR_INVALID, (long long)(h - url),
					 "no host in tracker URL");
		if (len > HOST_MAX)
			return error_set(err, ERR_INVALID, (long long)(h - url),
					 "host name in tracker URL is too long");
		s = hend;
	}
	if (*s != ':')
		return error_set(err, ERR_INVALID, (long long)(s - url),
				 "expected ':port' at offset %lld of tracker URL",
				 (long long)(s - url));
	/* Five digits at most, so v cannot overflow before the range check. */
	for (s++, i = 0; *s >= '0' && *s <= '9' && i < 6; s++, i++)
		v = v * 10 + (unsigned long)(*s - '0');
	if (i == 0 || i > 5 || v < 1 || v > 65535)
		return error_set(err, ERR_INVALID, (long long)(s - url), "bad port in tracker URL");
	if (*s != '\0' && *s != '/' && *s != '?')
		return error_set(err, ERR_INVALID, (long long)(s - url),
				 "unexpected character after the port in tracker URL");
	if (len >= hostlen)
		return error_set(err, ERR_LIMIT, ERROR_NO_OFFSET,
				 "tracker host does not fit in %zu bytes", hostlen);
	memcpy(host, h, len);
	host[len] = '\0';
	*port = (uint16_t)v;
	return 0;
}
