/*
 * announce: builds HTTP tracker announce URLs and decodes tracker replies.
 *
 * The tracker is an untrusted peer like any other. Its reply is decoded with
 * tight bencode limits, every value it controls is bounded before use
 * (intervals clamped, texts truncated and made printable, peer lists capped),
 * and peers are only ever numeric addresses: a peer given by hostname would
 * need a DNS lookup, which the engine's loop must never do inline, and it
 * would let a tracker aim our connections at arbitrary names.
 *
 * Error policy: a reply that is malformed as a whole (bad bencode, a
 * compact list with a partial entry, a key of the wrong type) is refused, as
 * we cannot tell what else is wrong in it; one bad entry in a dictionary-form
 * peer list is only skipped, since the other entries are still sound.
 */
#include "announce.h"
#include "bencode.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Depth 3 is all a reply needs (dict > list > dict); extensions get some room. */
#define REPLY_MAX_DEPTH 16u
#define REPLY_MAX_NODES (1u << 18)

/* Text form of an address: INET6_ADDRSTRLEN covers the longest IPv6 notation. */
#define IP_TEXT_MAX INET6_ADDRSTRLEN

static int
has_prefix_nocase(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++) {
		char c = *s;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != *prefix)
			return 0;
	}
	return 1;
}

static const char *
event_name(enum announce_event ev)
{
	switch (ev) {
	case ANNOUNCE_EVENT_NONE:
		return "";
	case ANNOUNCE_EVENT_COMPLETED:
		return "completed";
	case ANNOUNCE_EVENT_STARTED:
		return "started";
	case ANNOUNCE_EVENT_STOPPED:
		return "stopped";
	}
	return NULL;
}

/* RFC 3986 unreserved characters travel as they are; everything else as %XX. */
static int
put_percent(struct buf *b, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		uint8_t c = p[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			rc = buf_putc(b, c);
		} else {
			char esc[3] = {'%', hex[c >> 4], hex[c & 15]};

			rc = buf_append(b, esc, sizeof esc);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int
announce_build_url(struct buf *out, const char *announce_url, const struct announce_req *req,
		   struct error *err)
{
	size_t start = out->len, ulen, skip, i;
	const char *ev, *query;
	char last;
	int rc;

	if (has_prefix_nocase(announce_url, "http://"))
		skip = 7;
	else if (has_prefix_nocase(announce_url, "https://"))
		skip = 8;
	else
		return error_set(err, ERR_UNSUPPORTED, 0, "not an http or https tracker URL");
	/* A fragment is never sent to the server, and our query must not land after it. */
	ulen = strcspn(announce_url, "#");
	if (ulen == skip || strchr("/?", announce_url[skip]) != NULL)
		return error_set(err, ERR_INVALID, (long long)skip, "tracker URL has no host");
	for (i = 0; i < ulen; i++) {
		unsigned char c = (unsigned char)announce_url[i];

		if (c <= 0x20 || c == 0x7f)
			return error_set(err, ERR_INVALID, (long long)i,
					 "space or control byte in tracker URL at offset %zu", i);
	}
	if ((ev = event_name(req->event)) == NULL)
		return error_set(err, ERR_INVALID, ERROR_NO_OFFSET, "bad announce event %d",
				 (int)req->event);

	query = memchr(announce_url, '?', ulen);
	last = announce_url[ulen - 1];
	if ((rc = buf_append(out, announce_url, ulen)) < 0)
		goto out;
	if (query == NULL)
		rc = buf_putc(out, '?');
	else if (last != '?' && last != '&')
		rc = buf_putc(out, '&');
	if (rc < 0 || (rc = buf_puts(out, "info_hash=")) < 0 ||
	    (rc = put_percent(out, req->info_hash, sizeof req->info_hash)) < 0 ||
	    (rc = buf_puts(out, "&peer_id=")) < 0 ||
	    (rc = put_percent(out, req->peer_id, sizeof req->peer_id)) < 0)
		goto out;
	rc = buf_printf(out, "&port=%u&uploaded=%llu&downloaded=%llu&left=%llu&compact=%d",
			(unsigned)req->port, (unsigned long long)req->uploaded,
			(unsigned long long)req->downloaded, (unsigned long long)req->left,
			req->compact ? 1 : 0);
	if (rc < 0)
		goto out;
	if (*ev != '\0' && (rc = buf_printf(out, "&event=%s", ev)) < 0)
		goto out;
	if (req->numwant >= 0 && (rc = buf_printf(out, "&numwant=%d", req->numwant)) < 0)
		goto out;
	if ((rc = buf_printf(out, "&key=%08X", (unsigned)req->key)) < 0)
		goto out;
	if (req->tracker_id != NULL && req->tracker_id[0] != '\0') {
		if ((rc = buf_puts(out, "&trackerid=")) < 0 ||
		    (rc = put_percent(out, (const uint8_t *)req->tracker_id,
				      strlen(req->tracker_id))) < 0)
			goto out;
	}
out:
	if (rc < 0) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		return error_set(err, -rc, ERROR_NO_OFFSET, "announce URL: %s",
				 rc == -ERR_LIMIT   ? "too long"
				 : rc == -ERR_NOMEM ? "out of memory"
						    : "cannot format");
	}
	return 0;
}

uint32_t
announce_clamp_interval(int64_t seconds)
{
	if (seconds < (int64_t)ANNOUNCE_INTERVAL_MIN)
		return ANNOUNCE_INTERVAL_MIN;
	if (seconds > (int64_t)ANNOUNCE_INTERVAL_MAX)
		return ANNOUNCE_INTERVAL_MAX;
	return (uint32_t)seconds;
}

int
announce_peer_set(struct announce_peer *peer, const uint8_t *addr, size_t addrlen, uint16_t port)
{
	static const uint8_t zero[16];
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(peer, 0, sizeof *peer);
	if (port == 0 || (addrlen != 4 && addrlen != 16))
		return -ERR_INVALID;
	/* 0.0.0.0 or :: would connect to ourselves: never a real peer. */
	if (memcmp(addr, zero, addrlen) == 0)
		return -ERR_INVALID;
	if (addrlen == 16 && memcmp(addr, v4mapped, sizeof v4mapped) == 0) {
		addr += sizeof v4mapped;
		addrlen = 4;
		if (memcmp(addr, zero, 4) == 0)
			return -ERR_INVALID;
	}
	peer->family = addrlen == 4 ? AF_INET : AF_INET6;
	memcpy(peer->addr, addr, addrlen);
	peer->port = port;
	return 0;
}

int
announce_peer_str(const struct announce_peer *peer, char *out, size_t outlen)
{
	char ip[IP_TEXT_MAX];
	int n;

	if (peer->family != AF_INET && peer->family != AF_INET6)
		return -ERR_INVALID;
	if (inet_ntop(peer->family, peer->addr, ip, sizeof ip) == NULL)
		return -ERR_INVALID;
	if (peer->family == AF_INET)
		n = snprintf(out, outlen, "%s:%u", ip, (unsigned)peer->port);
	else
		n = snprintf(out, outlen, "[%s]:%u", ip, (unsigned)peer->port);
	if (n < 0 || (size_t)n >= outlen)
		return -ERR_LIMIT;
	return 0;
}

void
announce_reply_free(struct announce_reply *r)
{
	if (r == NULL)
		return;
	free(r->failure);
	free(r->warning);
	free(r->tracker_id);
	free(r->peers);
	memset(r, 0, sizeof *r);
	r->complete = -1;
	r->incomplete = -1;
}

/* Reply decoding ---------------------------------------------------------- */

struct reply_ctx {
	const uint8_t *base; /* start of the reply, for error offsets */
	struct announce_reply *out;
	size_t cap; /* entries allocated in out->peers */
	struct error *err;
};

static long long
offset_of(const struct reply_ctx *c, const struct bencode *v)
{
	return (long long)(v->raw - c->base);
}

char *
announce_copy_text(const uint8_t *p, size_t n)
{
	char *s;
	size_t i;

	if (n > ANNOUNCE_MAX_MESSAGE)
		n = ANNOUNCE_MAX_MESSAGE;
	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		s[i] = (p[i] < 0x20 || p[i] == 0x7f) ? '?' : (char)p[i];
	s[n] = '\0';
	return s;
}

/* Looks up key; a present value of another type is an error, absence is not. */
static int
get_typed(struct reply_ctx *c, const struct bencode *dict, const char *key, enum bencode_type type,
	  struct bencode **v)
{
	*v = bencode_dict_get(dict, key);
	if (*v != NULL && (*v)->type != type)
		return error_set(c->err, ERR_INVALID, offset_of(c, *v),
				 "tracker reply: '%s' is a %s, not a %s", key,
				 bencode_type_name((*v)->type), bencode_type_name(type));
	return 0;
}

static int
get_text(struct reply_ctx *c, const struct bencode *dict, const char *key, char **dst)
{
	struct bencode *v;
	int rc;

	if ((rc = get_typed(c, dict, key, BENCODE_STR, &v)) < 0 || v == NULL)
		return rc;
	if ((*dst = announce_copy_text(v->u.str.p, v->u.str.len)) == NULL)
		return error_set(c->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
	return 0;
}

static int
get_int(struct reply_ctx *c, const struct bencode *dict, const char *key, int64_t *dst)
{
	struct bencode *v;
	int rc;

	if ((rc = get_typed(c, dict, key, BENCODE_INT, &v)) < 0)
		return rc;
	if (v != NULL)
		*dst = v->u.i;
	return 0;
}

/* Appends one peer unless it is unusable or the array is full; never fails. */
static void
add_peer(struct reply_ctx *c, const uint8_t *addr, size_t addrlen, uint16_t port)
{
	struct announce_reply *r = c->out;

	if (r->npeers >= c->cap || announce_peer_set(&r->peers[r->npeers], addr, addrlen, port) < 0)
		r->nskipped++;
	else
		r->npeers++;
}

static int
parse_compact(struct reply_ctx *c, const struct bencode *v, size_t addrlen, const char *key)
{
	const uint8_t *p = v->u.str.p;
	size_t entry = addrlen + 2, i;

	if (v->u.str.len % entry != 0)
		return error_set(c->err, ERR_SYNTAX, offset_of(c, v),
				 "tracker reply: '%s' is %zu bytes, not a multiple of %zu", key,
				 v->u.str.len, entry);
	for (i = 0; i < v->u.str.len; i += entry)
		add_peer(c, p + i, addrlen, (uint16_t)(p[i + addrlen] << 8 | p[i + addrlen + 1]));
	return 0;
}

/*
 * One entry of a BEP 3 dictionary peer list: {"ip": text, "port": int,
 * "peer id": 20 bytes}. Only numeric addresses are taken; the peer id is
 * not needed (the handshake carries it).
 */
static void
parse_dict_peer(struct reply_ctx *c, const struct bencode *d)
{
	struct bencode *ip = bencode_dict_get_type(d, "ip", BENCODE_STR);
	struct bencode *port = bencode_dict_get_type(d, "port", BENCODE_INT);
	char text[IP_TEXT_MAX];
	uint8_t addr[16];

	if (ip == NULL || port == NULL || port->u.i < 1 || port->u.i > 65535 ||
	    ip->u.str.len == 0 || ip->u.str.len >= sizeof text ||
	    memchr(ip->u.str.p, '\0', ip->u.str.len) != NULL) {
		c->out->nskipped++;
		return;
	}
	memcpy(text, ip->u.str.p, ip->u.str.len);
	text[ip->u.str.len] = '\0';
	if (inet_pton(AF_INET, text, addr) == 1)
		add_peer(c, addr, 4, (uint16_t)port->u.i);
	else if (inet_pton(AF_INET6, text, addr) == 1)
		add_peer(c, addr, 16, (uint16_t)port->u.i);
	else
		c->out->nskipped++; /* a hostname, or garbage */
}

static size_t
count_candidates(const struct bencode *peers, const struct bencode *peers6)
{
	size_t n = 0;

	if (peers != NULL)
		n += peers->type == BENCODE_LIST ? peers->u.list.n : peers->u.str.len / 6;
	if (peers6 != NULL)
		n += peers6->u.str.len / 18;
	return n < ANNOUNCE_MAX_PEERS ? n : ANNOUNCE_MAX_PEERS;
}

static int
parse_peers(struct reply_ctx *c, const struct bencode *root)
{
	struct bencode *peers = bencode_dict_get(root, "peers"), *peers6;
	size_t i;
	int rc;

	if (peers != NULL && peers->type != BENCODE_STR && peers->type != BENCODE_LIST)
		return error_set(c->err, ERR_INVALID, offset_of(c, peers),
				 "tracker reply: 'peers' is a %s, not a string or list",
				 bencode_type_name(peers->type));
	if ((rc = get_typed(c, root, "peers6", BENCODE_STR, &peers6)) < 0)
		return rc;
	if ((c->cap = count_candidates(peers, peers6)) > 0 &&
	    (c->out->peers = calloc(c->cap, sizeof *c->out->peers)) == NULL)
		return error_set(c->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
	if (peers != NULL && peers->type == BENCODE_STR &&
	    (rc = parse_compact(c, peers, 4, "peers")) < 0)
		return rc;
	if (peers != NULL && peers->type == BENCODE_LIST) {
		for (i = 0; i < peers->u.list.n; i++) {
			if (peers->u.list.items[i].type == BENCODE_DICT)
				parse_dict_peer(c, &peers->u.list.items[i]);
			else
				c->out->nskipped++;
		}
	}
	if (peers6 != NULL && (rc = parse_compact(c, peers6, 16, "peers6")) < 0)
		return rc;
	return 0;
}

static int
parse_fields(struct reply_ctx *c, const struct bencode *root)
{
	struct announce_reply *r = c->out;
	struct bencode *tid;
	int64_t interval = -1, min_interval = -1, count;
	int rc;

	if ((rc = get_text(c, root, "failure reason", &r->failure)) < 0 ||
	    (rc = get_int(c, root, "interval", &interval)) < 0 ||
	    (rc = get_int(c, root, "min interval", &min_interval)) < 0)
		return rc;
	r->interval = bencode_dict_get(root, "interval") != NULL ? announce_clamp_interval(interval)
								 : ANNOUNCE_INTERVAL_DEFAULT;
	if (bencode_dict_get(root, "min interval") != NULL)
		r->min_interval = announce_clamp_interval(min_interval);
	if (r->interval < r->min_interval)
		r->interval = r->min_interval;
	/* "No other keys are required" after a failure (BEP 3): ignore the rest. */
	if (r->failure != NULL)
		return 0;

	if ((rc = get_text(c, root, "warning message", &r->warning)) < 0)
		return rc;
	if ((rc = get_typed(c, root, "tracker id", BENCODE_STR, &tid)) < 0)
		return rc;
	/* Echoed back verbatim, so it must be a usable C string of sane length. */
	if (tid != NULL && tid->u.str.len > 0 && tid->u.str.len <= ANNOUNCE_MAX_TRACKER_ID &&
	    memchr(tid->u.str.p, '\0', tid->u.str.len) == NULL) {
		if ((r->tracker_id = malloc(tid->u.str.len + 1)) == NULL)
			return error_set(c->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		memcpy(r->tracker_id, tid->u.str.p, tid->u.str.len);
		r->tracker_id[tid->u.str.len] = '\0';
	}
	count = -1;
	if ((rc = get_int(c, root, "complete", &count)) < 0)
		return rc;
	r->complete = count < 0 ? -1 : count;
	count = -1;
	if ((rc = get_int(c, root, "incomplete", &count)) < 0)
		return rc;
	r->incomplete = count < 0 ? -1 : count;
	return parse_peers(c, root);
}

int
announce_parse_reply(const uint8_t *p, size_t n, struct announce_reply *out, struct error *err)
{
	const struct bencode_limits lim = {REPLY_MAX_DEPTH, REPLY_MAX_NODES};
	struct bencode *root = NULL;
	struct error local;
	struct reply_ctx c;
	size_t used, i;
	int rc = 0;

	memset(out, 0, sizeof *out);
	out->complete = -1;
	out->incomplete = -1;
	out->interval = ANNOUNCE_INTERVAL_DEFAULT;
	if (err == NULL)
		err = &local; /* we need the code bencode_decode sets */
	if (n > ANNOUNCE_MAX_REPLY) {
		rc = error_set(err, ERR_LIMIT, ERROR_NO_OFFSET,
			       "tracker reply of %zu bytes exceeds the %u byte limit", n,
			       ANNOUNCE_MAX_REPLY);
		goto out;
	}
	if ((root = bencode_decode_prefix(p, n, &lim, &used, err)) == NULL) {
		rc = -err->code;
		goto out;
	}
	/* Some trackers end the body with a newline; anything else is not ours to guess. */
	for (i = used; i < n; i++) {
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') {
			rc = error_set(err, ERR_SYNTAX, (long long)i,
				       "trailing data after the tracker reply at offset %zu", i);
			goto out;
		}
	}
	if (root->type != BENCODE_DICT) {
		rc = error_set(err, ERR_INVALID, 0, "tracker reply is a %s, not a dictionary",
			       bencode_type_name(root->type));
		goto out;
	}
	c.base = p;
	c.out = out;
	c.cap = 0;
	c.err = err;
	rc = parse_fields(&c, root);
out:
	bencode_free(root);
	if (rc < 0)
		announce_reply_free(out);
	return rc;
}
