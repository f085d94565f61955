/* Unit tests for src/udptrk.c: BEP 15 packets, back-off, connection ids, URLs. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "udptrk.h"

#define TID	  0xdeadbeefu
#define TID_BYTES 0xde, 0xad, 0xbe, 0xef

static void
peer_is(const struct announce_peer *p, const char *want)
{
	char s[ANNOUNCE_PEER_STRLEN];

	cr_assert_eq(announce_peer_str(p, s, sizeof s), 0);
	cr_assert_str_eq(s, want);
}

Test(udptrk_encode, connect)
{
	static const uint8_t want[16] = {0x00, 0x00, 0x04, 0x17, 0x27, 0x10,	 0x19,
					 0x80, 0x00, 0x00, 0x00, 0x00, TID_BYTES};
	uint8_t out[UDPTRK_CONNECT_LEN];

	udptrk_encode_connect(out, TID);
	cr_assert_arr_eq(out, want, sizeof want);
}

static void
fill_req(struct announce_req *r)
{
	memset(r, 0, sizeof *r);
	memset(r->info_hash, 0xaa, sizeof r->info_hash);
	memcpy(r->peer_id, "-PC0001-123456789012", 20);
	r->downloaded = 1000;
	r->left = 0x100000001ull;
	r->uploaded = 5;
	r->event = ANNOUNCE_EVENT_STARTED;
	r->key = 0xcafebabe;
	r->numwant = -1;
	r->port = 6881;
	r->compact = 1;
	r->tracker_id = "ignored over UDP";
}

Test(udptrk_encode, announce)
{
	static const uint8_t want[98] = {
	    /* connection id */
	    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	    /* action 1, transaction id */
	    0x00, 0x00, 0x00, 0x01, TID_BYTES,
	    /* info_hash */
	    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
	    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
	    /* peer_id */
	    '-', 'P', 'C', '0', '0', '0', '1', '-', '1', '2', '3', '4', '5', '6', '7', '8', '9',
	    '0', '1', '2',
	    /* downloaded 1000, left 2^32+1, uploaded 5 */
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
	    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
	    /* event started = 2, ip 0 */
	    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	    /* key, num_want -1, port 6881 */
	    0xca, 0xfe, 0xba, 0xbe, 0xff, 0xff, 0xff, 0xff, 0x1a, 0xe1};
	struct announce_req r;
	uint8_t out[UDPTRK_ANNOUNCE_LEN];

	fill_req(&r);
	memset(out, 0x55, sizeof out);
	cr_assert_eq(udptrk_encode_announce(out, 0x0102030405060708ull, TID, &r), 0);
	cr_assert_arr_eq(out, want, sizeof want);

	/* Explicit num_want, the other events. */
	r.numwant = 50;
	r.event = ANNOUNCE_EVENT_STOPPED;
	cr_assert_eq(udptrk_encode_announce(out, 0, TID, &r), 0);
	cr_assert_eq(out[83], 3);
	cr_assert_arr_eq(out + 92, ((uint8_t[]){0, 0, 0, 50}), 4);
	r.event = ANNOUNCE_EVENT_COMPLETED;
	cr_assert_eq(udptrk_encode_announce(out, 0, TID, &r), 0);
	cr_assert_eq(out[83], 1);
	r.event = ANNOUNCE_EVENT_NONE;
	cr_assert_eq(udptrk_encode_announce(out, 0, TID, &r), 0);
	cr_assert_eq(out[83], 0);
	r.event = (enum announce_event)4;
	cr_assert_eq(udptrk_encode_announce(out, 0, TID, &r), -ERR_INVALID);
}

/* Decoding ---------------------------------------------------------------- */

static int
decode(const uint8_t *p, size_t n, enum udptrk_action expect, int family, struct udptrk_reply *r,
       struct error *err)
{
	memset(err, 0, sizeof *err);
	return udptrk_decode(p, n, expect, TID, family, r, err);
}

static void
refused(const uint8_t *p, size_t n, enum udptrk_action expect, int family, int code)
{
	struct udptrk_reply r;
	struct error err;
	int rc = decode(p, n, expect, family, &r, &err);

	cr_assert_eq(rc, -code, "rc %d, want %d (%s)", rc, -code, err.msg);
	cr_assert_eq(err.code, code);
	cr_assert_null(r.ann.peers);
	cr_assert_null(r.ann.failure);
	udptrk_reply_free(&r);
}

Test(udptrk_decode, connect)
{
	static const uint8_t pkt[17] = {0,    0,    0,	  0,	TID_BYTES, 0x81, 0x82,
					0x83, 0x84, 0x85, 0x86, 0x87,	   0x88, 0x99};
	struct udptrk_reply r;
	struct error err;

	cr_assert_eq(decode(pkt, 16, UDPTRK_ACTION_CONNECT, AF_INET, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(r.action, UDPTRK_ACTION_CONNECT);
	cr_assert_eq(r.conn_id, 0x8182838485868788ull);
	udptrk_reply_free(&r);
	/* "At least 16 bytes": extra bytes are allowed. */
	cr_assert_eq(decode(pkt, 17, UDPTRK_ACTION_CONNECT, AF_INET6, &r, &err), 0);
	cr_assert_eq(r.conn_id, 0x8182838485868788ull);
	udptrk_reply_free(&r);
	refused(pkt, 15, UDPTRK_ACTION_CONNECT, AF_INET, ERR_SYNTAX);
	refused(pkt, 7, UDPTRK_ACTION_CONNECT, AF_INET, ERR_SYNTAX);
	refused(pkt, 0, UDPTRK_ACTION_CONNECT, AF_INET, ERR_SYNTAX);
	/* Our transaction, but a connect answer to an announce. */
	refused(pkt, 16, UDPTRK_ACTION_ANNOUNCE, AF_INET, ERR_INVALID);
}

Test(udptrk_decode, stray_transaction)
{
	static const uint8_t pkt[16] = {0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xee, 1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t errpkt[12] = {0, 0, 0, 3, 0, 0, 0, 0, 'n', 'o', 'p', 'e'};
	struct udptrk_reply r;
	struct error err;

	cr_assert_eq(decode(pkt, sizeof pkt, UDPTRK_ACTION_CONNECT, AF_INET, &r, &err),
		     -UDPTRK_ERR_STRAY);
	cr_assert_eq(err.code, UDPTRK_ERR_STRAY);
	cr_assert_eq(r.conn_id, 0);
	/* Even an error is ignored when it is not about our request. */
	cr_assert_eq(decode(errpkt, sizeof errpkt, UDPTRK_ACTION_ANNOUNCE, AF_INET, &r, &err),
		     -UDPTRK_ERR_STRAY);
	cr_assert_null(r.ann.failure);
	/* The stray code collides with no ERR_* code. */
	cr_assert_neq(UDPTRK_ERR_STRAY, ERR_SYNTAX);
	cr_assert_gt(UDPTRK_ERR_STRAY, ERR_NOMEM);
}

Test(udptrk_decode, error_action)
{
	static const uint8_t pkt[] = {0,   0,	0,   3,	  TID_BYTES, 'n', 'o', ' ', 's', 'u', 'c',
				      'h', ' ', 't', 'o', 'r',	     'r', 'e', 'n', 't', 0,   0};
	static const uint8_t nasty[] = {0, 0, 0, 3, TID_BYTES, 0x1b, '[', '2', 'J', 0, 'x', '\n'};
	static const uint8_t empty[] = {0, 0, 0, 3, TID_BYTES};
	struct udptrk_reply r;
	struct error err;

	cr_assert_eq(decode(pkt, sizeof pkt, UDPTRK_ACTION_ANNOUNCE, AF_INET, &r, &err), 0);
	cr_assert_eq(r.action, UDPTRK_ACTION_ERROR);
	cr_assert_str_eq(r.ann.failure, "no such torrent");
	cr_assert_eq(r.ann.npeers, 0);
	udptrk_reply_free(&r);
	cr_assert_null(r.ann.failure);
	cr_assert_eq(decode(nasty, sizeof nasty, UDPTRK_ACTION_CONNECT, AF_INET, &r, &err), 0);
	cr_assert_eq(r.action, UDPTRK_ACTION_ERROR);
	cr_assert_str_eq(r.ann.failure, "?[2J?x?");
	udptrk_reply_free(&r);
	cr_assert_eq(decode(empty, sizeof empty, UDPTRK_ACTION_CONNECT, AF_INET, &r, &err), 0);
	cr_assert_str_eq(r.ann.failure, "");
	udptrk_reply_free(&r);
}

Test(udptrk_decode, error_message_capped)
{
	static uint8_t pkt[8 + 5000];
	struct udptrk_reply r;
	struct error err;

	memset(pkt, 'e', sizeof pkt);
	memcpy(pkt, (uint8_t[]){0, 0, 0, 3, TID_BYTES}, 8);
	cr_assert_eq(decode(pkt, sizeof pkt, UDPTRK_ACTION_ANNOUNCE, AF_INET, &r, &err), 0);
	cr_assert_eq(strlen(r.ann.failure), ANNOUNCE_MAX_MESSAGE);
	udptrk_reply_free(&r);
}

Test(udptrk_decode, announce_v4)
{
	static const uint8_t pkt[] = {
	    0,	0,    0,    1,	TID_BYTES, 0,	 0,   0x07, 0x08, /* interval 1800 */
	    0,	0,    0,    7,					  /* leechers */
	    0,	0,    0,    42,					  /* seeders */
	    10, 0,    0,    1,	0x1a,	   0xe1, 192, 168,  1,
	    2,	0x00, 0x50, 1,	2,	   3,	 4,   0x00, 0x00, /* port 0: skipped */
	    0,	0,    0,    0,	0x1a,	   0xe1			  /* 0.0.0.0: skipped */
	};
	struct udptrk_reply r;
	struct error err;

	cr_assert_eq(decode(pkt, sizeof pkt, UDPTRK_ACTION_ANNOUNCE, AF_INET, &r, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(r.action, UDPTRK_ACTION_ANNOUNCE);
	cr_assert_eq(r.ann.interval, 1800);
	cr_assert_eq(r.ann.incomplete, 7);
	cr_assert_eq(r.ann.complete, 42);
	cr_assert_null(r.ann.failure);
	cr_assert_eq(r.ann.npeers, 2);
	cr_assert_eq(r.ann.nskipped, 2);
	peer_is(&r.ann.peers[0], "10.0.0.1:6881");
	peer_is(&r.ann.peers[1], "192.168.1.2:80");
	udptrk_reply_free(&r);
	cr_assert_null(r.ann.peers);

	/* Header only: no peers, fine. */
	cr_assert_eq(decode(pkt, 20, UDPTRK_ACTION_ANNOUNCE, AF_INET, &r, &err), 0);
	cr_assert_eq(r.ann.npeers, 0);
	cr_assert_null(r.ann.peers);
	udptrk_reply_free(&r);
	refused(pkt, 19, UDPTRK_ACTION_ANNOUNCE, AF_INET, ERR_SYNTAX);
	refused(pkt, 27, UDPTRK_ACTION_ANNOUNCE, AF_INET, ERR_SYNTAX);
	refused(pkt, 20 + 12 + 5, UDPTRK_ACTION_ANNOUNCE, AF_INET, ERR_SYNTAX);
	/* 6-byte entries on an IPv6 socket are a partial 18-byte entry. */
	refused(pkt, 26, UDPTRK_ACTION_ANNOUNCE, AF_INET6, ERR_SYNTAX);
	/* An announce answer to a connect. */
	refused(pkt, sizeof pkt, UDPTRK_ACTION_CONNECT, AF_INET, ERR_INVALID);
	refused(pkt, sizeof pkt, UDPTRK_ACTION_SCRAPE, AF_INET, ERR_UNSUPPORTED);
	refused(pkt, sizeof pkt, UDPTRK_ACTION_ANNOUNCE, AF_UNIX, ERR_UNSUPPORTED);
}

Test(udptrk_decode, announce_v6)
{
	static const uint8_t pkt[] = {0, 0, 0, 1, TID_BYTES, 0, 0, 0, 0x3c, 0, 0, 0, 0, 0, 0, 0, 1,
				      /* ::1 port 6881 */
				      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe1,
				      /* 2001:db8::beef port 51413 */
				      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe,
				      0xef, 0xc8, 0xd5,
				      /* ::ffff:1.2.3.4 port 80: folded to IPv4 */
				      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4, 0, 80};
	struct udptrk_reply r;
	struct error err;

	cr_assert_eq(decode(pkt, sizeof pkt, UDPTRK_ACTION_ANNOUNCE, AF_INET6, &r, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(r.ann.interval, 60);
	cr_assert_eq(r.ann.incomplete, 0);
	cr_assert_eq(r.ann.complete, 1);
	cr_assert_eq(r.ann.npeers, 3);
	cr_assert_eq(r.ann.peers[0].family, AF_INET6);
	peer_is(&r.ann.peers[0], "[::1]:6881");
	peer_is(&r.ann.peers[1], "[2001:db8::beef]:51413");
	cr_assert_eq(r.ann.peers[2].family, AF_INET);
	peer_is(&r.ann.peers[2], "1.2.3.4:80");
	udptrk_reply_free(&r);
	/* The same bytes read as IPv4 are 9 entries of 6: well-formed, other peers. */
	cr_assert_eq(decode(pkt, sizeof pkt, UDPTRK_ACTION_ANNOUNCE, AF_INET, &r, &err), 0);
	cr_assert_eq(r.ann.npeers + r.ann.nskipped, 9);
	udptrk_reply_free(&r);
	refused(pkt, sizeof pkt - 1, UDPTRK_ACTION_ANNOUNCE, AF_INET6, ERR_SYNTAX);
}

Test(udptrk_decode, hostile_numbers)
{
	static const uint8_t pkt[] = {0,    0,	  0,	1,    TID_BYTES, 0xff, 0xff, 0xff, 0xff,
				      0x80, 0x00, 0x00, 0x00, 0xff,	 0xff, 0xff, 0xff};
	static const uint8_t huge[] = {0, 0, 0, 1, TID_BYTES, 0x7f, 0xff, 0xff, 0xff,
				       0, 0, 0, 0, 0,	      0,    0,	  0};
	struct udptrk_reply r;
	struct error err;

	cr_assert_eq(decode(pkt, sizeof pkt, UDPTRK_ACTION_ANNOUNCE, AF_INET, &r, &err), 0);
	cr_assert_eq(r.ann.interval, ANNOUNCE_INTERVAL_MIN, "interval -1 not clamped");
	cr_assert_eq(r.ann.incomplete, -1);
	cr_assert_eq(r.ann.complete, -1);
	udptrk_reply_free(&r);
	cr_assert_eq(decode(huge, sizeof huge, UDPTRK_ACTION_ANNOUNCE, AF_INET, &r, &err), 0);
	cr_assert_eq(r.ann.interval, ANNOUNCE_INTERVAL_MAX);
	cr_assert_eq(r.ann.complete, 0);
	udptrk_reply_free(&r);
}

Test(udptrk_decode, peer_cap)
{
	static uint8_t pkt[20 + 6 * 2100];
	struct udptrk_reply r;
	struct error err;
	size_t i;

	memcpy(pkt, (uint8_t[]){0, 0, 0, 1, TID_BYTES}, 8);
	for (i = 0; i < 2100; i++) {
		uint8_t *e = pkt + 20 + 6 * i;

		e[0] = 10;
		e[2] = (uint8_t)(i >> 8);
		e[3] = (uint8_t)i;
		e[5] = 1;
	}
	cr_assert_eq(decode(pkt, sizeof pkt, UDPTRK_ACTION_ANNOUNCE, AF_INET, &r, &err), 0);
	cr_assert_eq(r.ann.npeers, ANNOUNCE_MAX_PEERS);
	cr_assert_eq(r.ann.nskipped, 100);
	peer_is(&r.ann.peers[ANNOUNCE_MAX_PEERS - 1], "10.0.7.207:1");
	udptrk_reply_free(&r);
	udptrk_reply_free(NULL);
}

/* Timing ------------------------------------------------------------------ */

Test(udptrk_timing, backoff_table)
{
	static const int64_t want[] = {15000,  30000,  60000,	120000, 240000,
				       480000, 960000, 1920000, 3840000};
	unsigned n;

	for (n = 0; n <= UDPTRK_MAX_RETRIES; n++)
		cr_assert_eq(udptrk_timeout_ms(n), want[n], "n=%u", n);
	cr_assert_eq(udptrk_timeout_ms(9), -1);
	cr_assert_eq(udptrk_timeout_ms(64), -1);
	cr_assert_eq(udptrk_timeout_ms(~0u), -1);
}

Test(udptrk_timing, connection_id_lifetime)
{
	cr_assert_eq(udptrk_conn_valid(1000, 1000), 1);
	cr_assert_eq(udptrk_conn_valid(1000, 60999), 1);
	cr_assert_eq(udptrk_conn_valid(1000, 61000), 0);
	cr_assert_eq(udptrk_conn_valid(1000, 999), 0);
	cr_assert_eq(udptrk_conn_valid(0, UINT64_MAX), 0);
}

/* URLs -------------------------------------------------------------------- */

static void
url_ok(const char *url, const char *host, uint16_t port)
{
	char h[256];
	uint16_t p = 0;
	struct error err = {0};

	cr_assert_eq(udptrk_parse_url(url, h, sizeof h, &p, &err), 0, "%s: %s", url, err.msg);
	cr_assert_str_eq(h, host);
	cr_assert_eq(p, port, "%s: port %u", url, p);
}

static void
url_bad(const char *url, int code)
{
	char h[256] = "untouched";
	uint16_t p = 7;
	struct error err = {0};

	cr_assert_eq(udptrk_parse_url(url, h, sizeof h, &p, &err), -code, "%s accepted", url);
	cr_assert_eq(err.code, code, "%s: %s", url, err.msg);
	cr_assert_str_eq(h, "untouched");
	cr_assert_eq(p, 7);
}

Test(udptrk_url, good)
{
	url_ok("udp://tracker.opentrackr.org:1337/announce", "tracker.opentrackr.org", 1337);
	url_ok("udp://open.demonii.com:1337", "open.demonii.com", 1337);
	url_ok("UDP://1.2.3.4:80/", "1.2.3.4", 80);
	url_ok("udp://[2001:db8::1]:6969/announce?x=1", "2001:db8::1", 6969);
	url_ok("udp://[::1]:1", "::1", 1);
	url_ok("udp://t_x-y.example:65535?passkey=1", "t_x-y.example", 65535);
}

Test(udptrk_url, bad)
{
	char h[8];
	uint16_t p;
	struct error err;

	url_bad("http://t.example:80/announce", ERR_UNSUPPORTED);
	url_bad("udp:/t.example:80", ERR_UNSUPPORTED);
	url_bad("", ERR_UNSUPPORTED);
	url_bad("udp://t.example", ERR_INVALID);
	url_bad("udp://t.example/announce", ERR_INVALID);
	url_bad("udp://t.example:", ERR_INVALID);
	url_bad("udp://t.example:0", ERR_INVALID);
	url_bad("udp://t.example:65536", ERR_INVALID);
	url_bad("udp://t.example:99999", ERR_INVALID);
	url_bad("udp://t.example:123456", ERR_INVALID);
	url_bad("udp://t.example:000000080", ERR_INVALID);
	url_bad("udp://t.example:-80", ERR_INVALID);
	url_bad("udp://t.example:80x", ERR_INVALID);
	url_bad("udp://t.example:80#frag", ERR_INVALID);
	url_bad("udp://:80", ERR_INVALID);
	url_bad("udp://user@t.example:80", ERR_INVALID);
	url_bad("udp://t example:80", ERR_INVALID);
	url_bad("udp://[::1:80", ERR_INVALID);
	url_bad("udp://[]:80", ERR_INVALID);
	url_bad("udp://[zz::1]:80", ERR_INVALID);
	url_bad("udp://[1.2.3.4]:80", ERR_INVALID);
	url_bad("udp://[fe80::1%eth0]:80", ERR_INVALID);
	url_bad("udp://[::1]80", ERR_INVALID);
	url_bad("udp://::1:80", ERR_INVALID);

	/* The host must fit, NUL included. */
	cr_assert_eq(udptrk_parse_url("udp://abcdefg:1", h, sizeof h, &p, &err), 0);
	cr_assert_str_eq(h, "abcdefg");
	cr_assert_eq(udptrk_parse_url("udp://abcdefgh:1", h, sizeof h, &p, &err), -ERR_LIMIT);
	cr_assert_eq(udptrk_parse_url("udp://abcdefgh:1", h, sizeof h, &p, NULL), -ERR_LIMIT);
}
