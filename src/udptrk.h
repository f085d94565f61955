/*
 * udptrk: the UDP tracker protocol (BEP 15) as a pure packet codec, plus
 * its retransmission schedule and URL parsing. Sockets, timers and DNS are
 * the caller's: this module only turns requests into datagrams and
 * datagrams into the same struct announce_reply the HTTP tracker yields.
 *
 * The exchange: send a connect request, get a connection id (valid for a
 * minute), send announce requests quoting it. Every request carries a
 * random transaction id that the response must echo; a datagram with
 * another id is a stray (late answer, spoofing) and is ignored.
 */
#ifndef PIECES_UDPTRK_H
#define PIECES_UDPTRK_H

#include <stddef.h>
#include <stdint.h>

#include "announce.h"
#include "error.h"

#define UDPTRK_PROTOCOL_ID  0x41727101980ULL
#define UDPTRK_CONNECT_LEN  16u /* connect request and (minimum) response */
#define UDPTRK_ANNOUNCE_LEN 98u /* announce request */
/* Announce response header: action, transaction id, interval, leechers, seeders. */
#define UDPTRK_ANNOUNCE_REPLY_MIN 20u
/* A receive buffer this large holds any UDP datagram. */
#define UDPTRK_RECV_MAX 65536u

/* Retransmissions after the first send; then the tracker is given up. */
#define UDPTRK_MAX_RETRIES 8u
/* How long a connection id may be used, from the moment it was received. */
#define UDPTRK_CONN_TTL_MS 60000u

/*
 * Returned negated by udptrk_decode for a datagram whose transaction id is
 * not the one we wait for: not an error of the tracker, just drop it and
 * keep waiting. Distinct from every ERR_* code.
 */
#define UDPTRK_ERR_STRAY 64

enum udptrk_action {
	UDPTRK_ACTION_CONNECT = 0,
	UDPTRK_ACTION_ANNOUNCE = 1,
	UDPTRK_ACTION_SCRAPE = 2,
	UDPTRK_ACTION_ERROR = 3,
};

struct udptrk_reply {
	enum udptrk_action action; /* the one expected, or UDPTRK_ACTION_ERROR */
	uint64_t conn_id;	   /* CONNECT: the connection id */
	/*
	 * ANNOUNCE: interval (clamped as for HTTP), complete = seeders,
	 * incomplete = leechers, peers. ERROR: failure holds the tracker's
	 * message (printable, at most ANNOUNCE_MAX_MESSAGE bytes).
	 */
	struct announce_reply ann;
};

/* Writes a connect request. */
void udptrk_encode_connect(uint8_t out[UDPTRK_CONNECT_LEN], uint32_t tid);

/*
 * Writes an announce request from the fields of req that UDP carries
 * (tracker_id and compact are HTTP only; numwant < 0 is sent as -1, the IP
 * field as 0). Returns 0, or -ERR_INVALID for an unknown event.
 */
int udptrk_encode_announce(uint8_t out[UDPTRK_ANNOUNCE_LEN], uint64_t conn_id, uint32_t tid,
			   const struct announce_req *req);

/*
 * Decodes a datagram answering a request of action `expect` (CONNECT or
 * ANNOUNCE) sent with transaction id tid. family (AF_INET or AF_INET6) is
 * that of the socket the tracker was reached on: it decides whether peers
 * are 6- or 18-byte entries. Returns:
 *   0                  *out filled; out->action is expect or ERROR
 *   -UDPTRK_ERR_STRAY  the transaction id differs: ignore the datagram
 *   -ERR_SYNTAX        too short, or a partial peer entry
 *   -ERR_INVALID       our transaction id but an unexpected action
 *   -ERR_UNSUPPORTED   expect or family is not one of the above
 * On failure *out is empty. Free with udptrk_reply_free.
 */
int udptrk_decode(const uint8_t *p, size_t n, enum udptrk_action expect, uint32_t tid, int family,
		  struct udptrk_reply *out, struct error *err);
void udptrk_reply_free(struct udptrk_reply *r);

/*
 * Time to wait for an answer after send number `attempt` (0 = first):
 * 15 * 2^attempt seconds, in ms, for attempt 0..UDPTRK_MAX_RETRIES; -1
 * beyond, meaning give up.
 */
int64_t udptrk_timeout_ms(unsigned attempt);

/* 1 if a connection id received at obtained_ms may still be used at now_ms. */
int udptrk_conn_valid(uint64_t obtained_ms, uint64_t now_ms);

/*
 * Splits "udp://host:port[/path]" into host (NUL-terminated, brackets of an
 * IPv6 literal removed) and port. The port is mandatory and 1..65535; the
 * host is a name, an IPv4 address or a bracketed IPv6 address. The path
 * is ignored. Returns 0, -ERR_UNSUPPORTED (not udp://), -ERR_INVALID,
 * or -ERR_LIMIT when the host does not fit in hostlen.
 */
int udptrk_parse_url(const char *url, char *host, size_t hostlen, uint16_t *port,
		     struct error *err);

#endif
