/*
 * announce: the HTTP(S) tracker protocol as pure codecs (BEP 3, with the
 * compact peer lists of BEP 23 and the `peers6` key of BEP 7). It builds the
 * announce URL and decodes the bencoded reply; fetching the URL is someone
 * else's job (the libcurl glue), and so is deciding what to do with peers.
 *
 * The peer and reply structures are shared with udptrk (BEP 15), so the
 * tracker logic above both handles one result type.
 */
#ifndef PIECES_ANNOUNCE_H
#define PIECES_ANNOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "sha1.h"

/* A reply holding more peers than this keeps the first ones only. */
#define ANNOUNCE_MAX_PEERS 2000u
/* A reply body larger than this is refused before decoding; size the fetch buffer by it. */
#define ANNOUNCE_MAX_REPLY (1u << 20)
/* Tracker texts (failure reason, warning) are truncated to this many bytes. */
#define ANNOUNCE_MAX_MESSAGE 1024u
/* A longer `tracker id` is ignored rather than echoed back. */
#define ANNOUNCE_MAX_TRACKER_ID 256u

/*
 * Re-announce intervals in seconds. A hostile or broken tracker must not be
 * able to make us announce in a busy loop (interval 0) nor forget a torrent
 * for years, so every interval a tracker sends is clamped to [MIN, MAX];
 * a missing interval means DEFAULT.
 */
#define ANNOUNCE_INTERVAL_MIN	  30u
#define ANNOUNCE_INTERVAL_MAX	  86400u
#define ANNOUNCE_INTERVAL_DEFAULT 1800u

/* Room for "[v6-address]:65535" and the NUL. */
#define ANNOUNCE_PEER_STRLEN 64u

/* Numbered as in the UDP protocol (BEP 15), which sends the number itself. */
enum announce_event {
	ANNOUNCE_EVENT_NONE = 0,
	ANNOUNCE_EVENT_COMPLETED = 1,
	ANNOUNCE_EVENT_STARTED = 2,
	ANNOUNCE_EVENT_STOPPED = 3,
};

struct announce_req {
	uint8_t info_hash[SHA1_LEN];
	uint8_t peer_id[20];
	uint16_t port;
	uint64_t uploaded;
	uint64_t downloaded;
	uint64_t left;
	enum announce_event event;
	int numwant;		/* < 0: let the tracker choose (omitted / -1 over UDP) */
	int compact;		/* nonzero: ask for BEP 23 compact lists (normally 1) */
	uint32_t key;		/* random per session, lets the tracker recognise us across IPs */
	const char *tracker_id; /* from an earlier reply, or NULL; HTTP only */
};

struct announce_peer {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; an IPv4 address uses the first 4 bytes */
	uint16_t port;	  /* host order, never 0 */
};

/*
 * A decoded reply; owns all its memory (announce_reply_free). When failure
 * is non-NULL the tracker refused the announce: only failure, interval and
 * min_interval mean anything then.
 */
struct announce_reply {
	char *failure;		     /* "failure reason", printable, or NULL */
	char *warning;		     /* "warning message", printable, or NULL */
	char *tracker_id;	     /* to send back on later announces, or NULL */
	uint32_t interval;	     /* seconds, clamped; raised to min_interval when below it */
	uint32_t min_interval;	     /* seconds, clamped; 0 when the tracker sent none */
	int64_t complete;	     /* seeders, -1 when unknown */
	int64_t incomplete;	     /* leechers, -1 when unknown */
	struct announce_peer *peers; /* IPv4 ones first, then IPv6 */
	size_t npeers;
	size_t nskipped; /* entries dropped: port 0, hostnames, bad addresses, over the cap */
};

/*
 * Appends announce_url plus the announce query to out: '?' or '&' as the
 * URL already has a query or not, a fragment dropped, binary fields
 * percent-encoded (RFC 3986 unreserved bytes as-is, all else %XX). Refuses
 * (ERR_UNSUPPORTED) any scheme but http:// and https://, and (ERR_INVALID)
 * URLs with spaces or control bytes or a bad event. On error out is left as
 * it was. err may be NULL.
 */
int announce_build_url(struct buf *out, const char *announce_url, const struct announce_req *req,
		       struct error *err);

/*
 * Decodes a tracker reply body. Returns 0 and fills *out (also when the
 * tracker sent a failure reason: check out->failure), or a negative ERR_*
 * with err set and *out empty: ERR_LIMIT for a body over ANNOUNCE_MAX_REPLY,
 * ERR_SYNTAX for bad bencode or a compact list whose length is not a
 * multiple of 6 (18 for peers6), ERR_INVALID for a known key of the wrong
 * type or a root that is not a dictionary. Single bad entries of a
 * dictionary-form peer list (hostnames, bad ports) are skipped, not fatal:
 * we never resolve peer hostnames. Trailing whitespace is tolerated.
 */
int announce_parse_reply(const uint8_t *p, size_t n, struct announce_reply *out, struct error *err);
/* Frees the members and leaves *r empty; NULL is a no-op. */
void announce_reply_free(struct announce_reply *r);

/*
 * Clamps a tracker-supplied interval to [ANNOUNCE_INTERVAL_MIN,
 * ANNOUNCE_INTERVAL_MAX] (negative values included). Shared with udptrk.
 */
uint32_t announce_clamp_interval(int64_t seconds);

/*
 * Fills *peer from a raw address (4 or 16 bytes) and a port. An IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d) becomes AF_INET. Returns 0, or -ERR_INVALID
 * for port 0 or the unspecified address (callers skip those).
 */
int announce_peer_set(struct announce_peer *peer, const uint8_t *addr, size_t addrlen,
		      uint16_t port);

/*
 * Copies tracker text (a failure or warning) for display: truncated to
 * ANNOUNCE_MAX_MESSAGE bytes, NUL and control bytes (terminal escapes)
 * replaced by '?'. malloc'ed, NULL when out of memory. Shared with udptrk.
 */
char *announce_copy_text(const uint8_t *p, size_t n);

/* "1.2.3.4:6881" or "[::1]:6881". 0, -ERR_LIMIT if outlen is too small, -ERR_INVALID. */
int announce_peer_str(const struct announce_peer *peer, char *out, size_t outlen);

#endif
