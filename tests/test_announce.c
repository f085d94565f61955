/* Unit tests for src/announce.c: announce URLs and HTTP tracker replies. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "announce.h"

/* The classic example hash: mixes unreserved letters with bytes to escape. */
static const uint8_t HASH[20] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf1, 0x23, 0x45,
				 0x67, 0x89, 0xab, 0xcd, 0xef, 0x12, 0x34, 0x56, 0x78, 0x9a};
#define HASH_ENC "%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A"
/* 20 bytes: reserved, unreserved, NUL and high bytes. */
static const char PEER_ID[20] = "-PC0001-ab+/ %~._\0\xff!";
#define PEER_ID_ENC "-PC0001-ab%2B%2F%20%25~._%00%FF%21"

static void
fill_req(struct announce_req *r)
{
	memset(r, 0, sizeof *r);
	memcpy(r->info_hash, HASH, 20);
	memcpy(r->peer_id, PEER_ID, 20);
	r->port = 6881;
	r->uploaded = 1;
	r->downloaded = 2;
	r->left = 3;
	r->event = ANNOUNCE_EVENT_STARTED;
	r->numwant = 50;
	r->compact = 1;
	r->key = 0xbeef;
}

static void
url_is(const char *base, const struct announce_req *r, const char *want)
{
	struct buf b;
	struct error err = {0};
	int rc;

	buf_init(&b, 4096);
	rc = announce_build_url(&b, base, r, &err);
	cr_assert_eq(rc, 0, "%s: %d %s", base, rc, err.msg);
	cr_assert_str_eq((char *)b.data, want);
	buf_free(&b);
}

static void
url_refused(const char *base, const struct announce_req *r, int code)
{
	struct buf b;
	struct error err = {0};

	buf_init(&b, 4096);
	buf_puts(&b, "keep");
	cr_assert_eq(announce_build_url(&b, base, r, &err), -code, "%s accepted", base);
	cr_assert_eq(err.code, code);
	cr_assert_str_eq((char *)b.data, "keep", "out was changed on error");
	cr_assert_eq(b.len, 4);
	buf_free(&b);
}

#define TAIL_FULL                                                                                  \
	"info_hash=" HASH_ENC "&peer_id=" PEER_ID_ENC                                              \
	"&port=6881&uploaded=1&downloaded=2&left=3&compact=1&event=started&numwant=50&key="        \
	"0000BEEF"

Test(announce_url, exact_encoding)
{
	struct announce_req r;

	fill_req(&r);
	url_is("http://tr.example/announce", &r, "http://tr.example/announce?" TAIL_FULL);
	url_is("HTTPS://tr.example:8443/a", &r, "HTTPS://tr.example:8443/a?" TAIL_FULL);
}

Test(announce_url, existing_query_and_fragment)
{
	struct announce_req r;

	fill_req(&r);
	url_is("https://t.example/ann?passkey=abc", &r,
	       "https://t.example/ann?passkey=abc&" TAIL_FULL);
	url_is("https://t.example/ann?passkey=abc&", &r,
	       "https://t.example/ann?passkey=abc&" TAIL_FULL);
	url_is("http://t.example/ann?", &r, "http://t.example/ann?" TAIL_FULL);
	url_is("http://t.example/ann#frag?x", &r, "http://t.example/ann?" TAIL_FULL);
}

Test(announce_url, events_numwant_compact_trackerid)
{
	struct announce_req r;

	fill_req(&r);
	r.event = ANNOUNCE_EVENT_NONE;
	r.numwant = -1;
	r.compact = 0;
	r.key = 0x89abcdef;
	r.uploaded = 18446744073709551615ull;
	r.port = 65535;
	r.tracker_id = "ab c&=\xc3\xa9";
	url_is("http://t/a", &r,
	       "http://t/a?info_hash=" HASH_ENC "&peer_id=" PEER_ID_ENC
	       "&port=65535&uploaded=18446744073709551615&downloaded=2&left=3&compact=0"
	       "&key=89ABCDEF&trackerid=ab%20c%26%3D%C3%A9");
	r.tracker_id = "";
	r.numwant = 0;
	r.event = ANNOUNCE_EVENT_COMPLETED;
	url_is("http://t/a", &r,
	       "http://t/a?info_hash=" HASH_ENC "&peer_id=" PEER_ID_ENC
	       "&port=65535&uploaded=18446744073709551615&downloaded=2&left=3&compact=0"
	       "&event=completed&numwant=0&key=89ABCDEF");
	r.event = ANNOUNCE_EVENT_STOPPED;
	r.tracker_id = NULL;
	url_is("http://t/a", &r,
	       "http://t/a?info_hash=" HASH_ENC "&peer_id=" PEER_ID_ENC
	       "&port=65535&uploaded=18446744073709551615&downloaded=2&left=3&compact=0"
	       "&event=stopped&numwant=0&key=89ABCDEF");
}

Test(announce_url, refusals)
{
	struct announce_req r;
	struct buf b;
	struct error err;

	fill_req(&r);
	url_refused("udp://t.example:6969/announce", &r, ERR_UNSUPPORTED);
	url_refused("ftp://t.example/", &r, ERR_UNSUPPORTED);
	url_refused("httpx://t.example/", &r, ERR_UNSUPPORTED);
	url_refused("", &r, ERR_UNSUPPORTED);
	url_refused("http://", &r, ERR_INVALID);
	url_refused("http:///announce", &r, ERR_INVALID);
	url_refused("http://#x", &r, ERR_INVALID);
	url_refused("http://t/a b", &r, ERR_INVALID);
	url_refused("http://t/a\r\nX-Evil: 1", &r, ERR_INVALID);
	r.event = (enum announce_event)7;
	url_refused("http://t/a", &r, ERR_INVALID);

	/* The buffer's maximum is respected and a partial URL is rolled back. */
	fill_req(&r);
	buf_init(&b, 60);
	buf_puts(&b, "keep");
	cr_assert_eq(announce_build_url(&b, "http://t/a", &r, &err), -ERR_LIMIT);
	cr_assert_eq(err.code, ERR_LIMIT);
	cr_assert_eq(b.len, 4);
	cr_assert_str_eq((char *)b.data, "keep");
	buf_free(&b);
	/* err may be NULL. */
	buf_init(&b, 4096);
	cr_assert_eq(announce_build_url(&b, "udp://x:1", &r, NULL), -ERR_UNSUPPORTED);
	buf_free(&b);
}

/* Reply parsing ------------------------------------------------------------ */

static int
parse(const void *p, size_t n, struct announce_reply *r, struct error *err)
{
	memset(err, 0, sizeof *err);
	return announce_parse_reply(p, n, r, err);
}

/* Parses a string literal that may hold NULs: length is sizeof - 1. */
#define PARSE(lit, r, err) parse(lit, sizeof(lit) - 1, r, err)

static void
peer_is(const struct announce_peer *p, const char *want)
{
	char s[ANNOUNCE_PEER_STRLEN];

	cr_assert_eq(announce_peer_str(p, s, sizeof s), 0);
	cr_assert_str_eq(s, want);
}

static void
refused(const void *p, size_t n, int code, long long offset, const char *needle)
{
	struct announce_reply r;
	struct error err;
	int rc = parse(p, n, &r, &err);

	cr_assert_eq(rc, -code, "rc %d, want %d (%s)", rc, -code, err.msg);
	cr_assert_eq(err.code, code);
	cr_assert_eq(err.offset, offset, "offset %lld, want %lld (%s)", err.offset, offset,
		     err.msg);
	cr_assert(strstr(err.msg, needle) != NULL, "'%s' lacks '%s'", err.msg, needle);
	/* The reply is left empty: nothing to free, nothing to misuse. */
	cr_assert_null(r.peers);
	cr_assert_null(r.failure);
	cr_assert_eq(r.npeers, 0);
	announce_reply_free(&r);
}

#define REFUSED(lit, code, offset, needle) refused(lit, sizeof(lit) - 1, code, offset, needle)

Test(announce_reply, compact)
{
	struct announce_reply r;
	struct error err;
	int rc;

	rc = PARSE("d8:completei5e10:incompletei3e8:intervali1800e"
		   "5:peers18:\x0a\x00\x00\x01\x1a\xe1"
		   "\xc0\xa8\x01\x02\x00\x50"
		   "\x01\x02\x03\x04\x00\x00"
		   "e",
		   &r, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_null(r.failure);
	cr_assert_null(r.warning);
	cr_assert_null(r.tracker_id);
	cr_assert_eq(r.interval, 1800);
	cr_assert_eq(r.min_interval, 0);
	cr_assert_eq(r.complete, 5);
	cr_assert_eq(r.incomplete, 3);
	cr_assert_eq(r.npeers, 2);
	cr_assert_eq(r.nskipped, 1, "port 0 entry kept");
	cr_assert_eq(r.peers[0].family, AF_INET);
	cr_assert_eq(r.peers[0].port, 6881);
	cr_assert_eq(memcmp(r.peers[0].addr, "\x0a\x00\x00\x01", 4), 0);
	peer_is(&r.peers[0], "10.0.0.1:6881");
	peer_is(&r.peers[1], "192.168.1.2:80");
	announce_reply_free(&r);
	cr_assert_null(r.peers);
	cr_assert_eq(r.npeers, 0);
	announce_reply_free(&r); /* twice is harmless */
	announce_reply_free(NULL);
}

Test(announce_reply, dict_peers)
{
	struct announce_reply r;
	struct error err;
	int rc;

	rc = PARSE("d8:intervali900e5:peersl"
		   "d2:ip7:1.2.3.47:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti6881ee"
		   "d2:ip11:2001:db8::14:porti51413ee"
		   "d2:ip15:::ffff:10.9.8.74:porti1ee"
		   "d2:ip15:tracker.example4:porti80ee" /* hostname: skipped */
		   "d2:ip7:5.6.7.84:porti0ee"		/* port 0 */
		   "d2:ip7:5.6.7.84:porti65536ee"	/* port too large */
		   "d2:ip7:5.6.7.84:porti-1ee"		/* negative port */
		   "d2:ip7:5.6.7.84:port4:6881e"	/* port as a string */
		   "d4:porti6881ee"			/* no ip */
		   "d2:ip7:0.0.0.04:porti6881ee"	/* unspecified address */
		   "d2:ip8:1.2.3.4\x00"
		   "4:porti6881ee"		     /* NUL inside the text */
		   "d2:ip10:1.2.3.4%104:porti6881ee" /* not a plain address */
		   "d2:ip7:1.2.3.44:porti6881ee"     /* duplicate: kept, not our business */
		   "i42e"			     /* not a dict */
		   "d2:ip9:127.0.0.14:porti65535ee"
		   "ee",
		   &r, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_eq(r.interval, 900);
	cr_assert_eq(r.complete, -1);
	cr_assert_eq(r.incomplete, -1);
	cr_assert_eq(r.npeers, 5);
	cr_assert_eq(r.nskipped, 10);
	peer_is(&r.peers[0], "1.2.3.4:6881");
	cr_assert_eq(r.peers[1].family, AF_INET6);
	peer_is(&r.peers[1], "[2001:db8::1]:51413");
	cr_assert_eq(r.peers[2].family, AF_INET, "v4-mapped address not folded");
	peer_is(&r.peers[2], "10.9.8.7:1");
	peer_is(&r.peers[3], "1.2.3.4:6881");
	peer_is(&r.peers[4], "127.0.0.1:65535");
	announce_reply_free(&r);
}

Test(announce_reply, peers6_after_peers)
{
	struct announce_reply r;
	struct error err;
	int rc;

	rc = PARSE("d8:intervali60e5:peers6:\x7f\x00\x00\x01\x1a\xe1"
		   "6:peers636:"
		   "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe2"
		   "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xbe\xef\xc8\xd5"
		   "e",
		   &r, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_eq(r.npeers, 3);
	peer_is(&r.peers[0], "127.0.0.1:6881");
	cr_assert_eq(r.peers[1].family, AF_INET6);
	peer_is(&r.peers[1], "[::1]:6882");
	peer_is(&r.peers[2], "[2001:db8::beef]:51413");
	announce_reply_free(&r);

	/* peers6 alone, and an empty compact list. */
	rc = PARSE("d5:peers0:6:peers618:"
		   "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe2"
		   "e",
		   &r, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_eq(r.npeers, 1);
	peer_is(&r.peers[0], "[::1]:6882");
	announce_reply_free(&r);
}

Test(announce_reply, failure_reason)
{
	struct announce_reply r;
	struct error err;
	int rc;

	rc = PARSE("d14:failure reason19:torrent not allowede", &r, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_str_eq(r.failure, "torrent not allowed");
	cr_assert_eq(r.npeers, 0);
	cr_assert_eq(r.interval, ANNOUNCE_INTERVAL_DEFAULT);
	announce_reply_free(&r);
	cr_assert_null(r.failure);

	/* Terminal escapes and NULs are neutralised; other keys are ignored, bad or not. */
	rc = PARSE("d14:failure reason11:\x1b[31mno\x00\x7f\xc3\xa9"
		   "8:intervali3600e5:peersi3ee",
		   &r, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_str_eq(r.failure, "?[31mno??\xc3\xa9");
	cr_assert_eq(r.interval, 3600);
	cr_assert_null(r.peers);
	announce_reply_free(&r);
}

Test(announce_reply, warning_trackerid_mininterval)
{
	struct announce_reply r;
	struct error err;
	int rc;

	rc = PARSE("d8:intervali60e12:min intervali600e10:tracker id5:xy\x01zz"
		   "15:warning message10:be careful5:peers0:e",
		   &r, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_str_eq(r.warning, "be careful");
	cr_assert_str_eq(r.tracker_id, "xy\x01zz", "tracker id must be kept verbatim");
	cr_assert_eq(r.min_interval, 600);
	cr_assert_eq(r.interval, 600, "interval below min interval");
	announce_reply_free(&r);

	/* A tracker id with NUL or empty is dropped, the reply still accepted. */
	rc = PARSE("d10:tracker id3:a\x00"
		   "be",
		   &r, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_null(r.tracker_id);
	announce_reply_free(&r);
	rc = PARSE("d10:tracker id0:e", &r, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_null(r.tracker_id);
	announce_reply_free(&r);
}

Test(announce_reply, long_message_truncated)
{
	struct announce_reply r;
	struct error err;
	struct buf b;
	char big[3000];

	memset(big, 'w', sizeof big);
	buf_init(&b, 8192);
	buf_puts(&b, "d15:warning message3000:");
	buf_append(&b, big, sizeof big);
	buf_puts(&b, "e");
	cr_assert_eq(parse(b.data, b.len, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(strlen(r.warning), ANNOUNCE_MAX_MESSAGE);
	announce_reply_free(&r);
	buf_free(&b);
}

Test(announce_reply, interval_clamping)
{
	struct announce_reply r;
	struct error err;

	cr_assert_eq(PARSE("d8:intervali0ee", &r, &err), 0);
	cr_assert_eq(r.interval, ANNOUNCE_INTERVAL_MIN);
	cr_assert_eq(PARSE("d8:intervali-5ee", &r, &err), 0);
	cr_assert_eq(r.interval, ANNOUNCE_INTERVAL_MIN, "negative interval not clamped");
	cr_assert_eq(PARSE("d8:intervali-9223372036854775808ee", &r, &err), 0);
	cr_assert_eq(r.interval, ANNOUNCE_INTERVAL_MIN);
	cr_assert_eq(PARSE("d8:intervali1000000000000ee", &r, &err), 0);
	cr_assert_eq(r.interval, ANNOUNCE_INTERVAL_MAX);
	cr_assert_eq(PARSE("d8:intervali31ee", &r, &err), 0);
	cr_assert_eq(r.interval, 31);
	cr_assert_eq(PARSE("de", &r, &err), 0);
	cr_assert_eq(r.interval, ANNOUNCE_INTERVAL_DEFAULT);
	cr_assert_eq(r.min_interval, 0);
	cr_assert_eq(PARSE("d12:min intervali1ee", &r, &err), 0);
	cr_assert_eq(r.min_interval, ANNOUNCE_INTERVAL_MIN);
	cr_assert_eq(PARSE("d10:incompletei-4e8:completei-1ee", &r, &err), 0);
	cr_assert_eq(r.complete, -1);
	cr_assert_eq(r.incomplete, -1);
	cr_assert_eq(announce_clamp_interval(86400), 86400);
	cr_assert_eq(announce_clamp_interval(86401), 86400);
	cr_assert_eq(announce_clamp_interval(29), 30);
}

Test(announce_reply, malformed)
{
	/* Offsets name the offending value, counted from the start of the reply. */
	REFUSED("d5:peers7:\x01\x02\x03\x04\x1a\xe1\x00"
		"e",
		ERR_SYNTAX, 3 + 5, "multiple of 6");
	REFUSED("d6:peers617:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
		"\x1a"
		"e",
		ERR_SYNTAX, 3 + 6, "multiple of 18");
	REFUSED("d8:interval4:1800e", ERR_INVALID, 11, "'interval' is a string");
	REFUSED("d5:peersi6ee", ERR_INVALID, 8, "'peers'");
	REFUSED("d5:peersd2:ip7:1.2.3.4ee", ERR_INVALID, 8, "'peers'");
	REFUSED("d6:peers6lee", ERR_INVALID, 9, "'peers6' is a list");
	REFUSED("d14:failure reasoni1ee", ERR_INVALID, 18, "'failure reason'");
	REFUSED("d15:warning messageli1eee", ERR_INVALID, 19, "'warning message'");
	REFUSED("d8:completei1e10:incomplete1:xe", ERR_INVALID, 27, "'incomplete'");
	REFUSED("d10:tracker idi5ee", ERR_INVALID, 14, "'tracker id'");
	REFUSED("d12:min interval2:60e", ERR_INVALID, 16, "'min interval'");
	REFUSED("l5:peerse", ERR_INVALID, 0, "not a dictionary");
	REFUSED("i3e", ERR_INVALID, 0, "not a dictionary");
	REFUSED("d8:intervali18", ERR_SYNTAX, 14, "inside a number");
	REFUSED("d5:peers12:\x01\x02"
		"e",
		ERR_SYNTAX, 8, "runs past the end");
	REFUSED("", ERR_SYNTAX, 0, "input ends");
	REFUSED("<html>503</html>", ERR_SYNTAX, 0, "unexpected byte 0x3c");
	REFUSED("dex", ERR_SYNTAX, 2, "trailing data");
	REFUSED("de\n\nx", ERR_SYNTAX, 4, "trailing data");
}

Test(announce_reply, trailing_whitespace_tolerated)
{
	struct announce_reply r;
	struct error err;

	cr_assert_eq(PARSE("d8:intervali99ee\r\n", &r, &err), 0, "%s", err.msg);
	cr_assert_eq(r.interval, 99);
	announce_reply_free(&r);
}

Test(announce_reply, limits)
{
	struct announce_reply r;
	struct error err;
	struct buf b;
	uint8_t peer[6];
	size_t i;
	int rc;

	/* 2500 compact peers: the first ANNOUNCE_MAX_PEERS are kept. */
	buf_init(&b, 1 << 20);
	buf_puts(&b, "d5:peers15000:");
	for (i = 0; i < 2500; i++) {
		peer[0] = 10;
		peer[1] = (uint8_t)(i >> 16);
		peer[2] = (uint8_t)(i >> 8);
		peer[3] = (uint8_t)i;
		peer[4] = 0x1a;
		peer[5] = 0xe1;
		buf_append(&b, peer, sizeof peer);
	}
	buf_puts(&b, "e");
	rc = parse(b.data, b.len, &r, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_eq(r.npeers, ANNOUNCE_MAX_PEERS);
	cr_assert_eq(r.nskipped, 2500 - ANNOUNCE_MAX_PEERS);
	peer_is(&r.peers[ANNOUNCE_MAX_PEERS - 1], "10.0.7.207:6881");
	announce_reply_free(&r);
	buf_free(&b);

	/* An oversized body is refused before decoding. */
	rc = parse("de", ANNOUNCE_MAX_REPLY + 1, &r, &err);
	cr_assert_eq(rc, -ERR_LIMIT);
	cr_assert_eq(err.code, ERR_LIMIT);

	/* Deep nesting under an unknown key hits the depth cap. */
	buf_init(&b, 4096);
	buf_puts(&b, "d1:x");
	for (i = 0; i < 40; i++)
		buf_puts(&b, "l");
	for (i = 0; i < 40; i++)
		buf_puts(&b, "e");
	buf_puts(&b, "e");
	rc = parse(b.data, b.len, &r, &err);
	cr_assert_eq(rc, -ERR_LIMIT, "%d %s", rc, err.msg);
	buf_free(&b);

	/* err may be NULL and the code still comes back. */
	cr_assert_eq(announce_parse_reply((const uint8_t *)"d5:peers1:xe", 12, &r, NULL),
		     -ERR_SYNTAX);
	cr_assert_eq(announce_parse_reply((const uint8_t *)"d5:pee", 6, &r, NULL), -ERR_SYNTAX);
}

Test(announce_peer, set_and_str)
{
	struct announce_peer p;
	char s[ANNOUNCE_PEER_STRLEN];
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 8, 8, 4, 4};
	static const uint8_t mapped0[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0};
	static const uint8_t zero[16];

	cr_assert_eq(announce_peer_set(&p, v6, 16, 443), 0);
	peer_is(&p, "[2001:db8::1]:443");
	cr_assert_eq(announce_peer_set(&p, mapped, 16, 53), 0);
	cr_assert_eq(p.family, AF_INET);
	peer_is(&p, "8.8.4.4:53");
	cr_assert_eq(announce_peer_set(&p, mapped0, 16, 53), -ERR_INVALID);
	cr_assert_eq(announce_peer_set(&p, zero, 16, 53), -ERR_INVALID);
	cr_assert_eq(announce_peer_set(&p, zero, 4, 53), -ERR_INVALID);
	cr_assert_eq(announce_peer_set(&p, v6, 16, 0), -ERR_INVALID);
	cr_assert_eq(announce_peer_set(&p, v6, 5, 1), -ERR_INVALID);

	/* Too small a buffer is an error, never a silent truncation. */
	cr_assert_eq(announce_peer_set(&p, v6, 16, 65535), 0);
	cr_assert_eq(announce_peer_str(&p, s, 20), 0);
	cr_assert_str_eq(s, "[2001:db8::1]:65535");
	cr_assert_eq(announce_peer_str(&p, s, 19), -ERR_LIMIT);
	p.family = AF_UNIX;
	cr_assert_eq(announce_peer_str(&p, s, sizeof s), -ERR_INVALID);
}
