/*
 * Tests for magnet: both info-hash spellings, the optional parameters, and
 * every refusal with its error code and a piece of its message.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "magnet.h"
#include "textenc.h"

/* The same 20 bytes as hex and as base32. */
#define HEX "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
#define B32 "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK"

static struct error err;

static struct magnet *
ok(const char *uri)
{
	struct magnet *m;

	memset(&err, 0, sizeof err);
	m = magnet_parse(uri, &err);
	cr_assert_not_null(m, "%s: %s", uri, err.msg);
	return m;
}

static void
fails(const char *uri, int code, const char *substr)
{
	struct magnet *m;

	memset(&err, 0, sizeof err);
	m = magnet_parse(uri, &err);
	cr_assert_null(m, "%s was accepted", uri);
	cr_assert_eq(err.code, code, "code %d, want %d: %s", err.code, code, err.msg);
	cr_assert(strstr(err.msg, substr) != NULL, "message \"%s\" lacks \"%s\"", err.msg, substr);
}

static void
hash_is(const struct magnet *m, const char *hex)
{
	char got[2 * SHA1_LEN + 1];

	textenc_hex(m->info_hash, SHA1_LEN, got);
	cr_assert_str_eq(got, hex);
}

Test(magnet, hex_and_base32_agree)
{
	struct magnet *a = ok("magnet:?xt=urn:btih:" HEX);
	struct magnet *b = ok("magnet:?xt=urn:btih:" B32);
	struct magnet *c = ok("magnet:?xt=urn:btih:C12FE1C06BBA254A9DC9F519B335AA7C1367A88A");
	struct magnet *d = ok("magnet:?xt=urn:btih:yex6dqdlxisuvhoj6um3gnnkpqjwpkek");

	hash_is(a, HEX);
	cr_assert_eq(memcmp(a->info_hash, b->info_hash, SHA1_LEN), 0);
	cr_assert_eq(memcmp(a->info_hash, c->info_hash, SHA1_LEN), 0);
	cr_assert_eq(memcmp(a->info_hash, d->info_hash, SHA1_LEN), 0);
	cr_assert_null(a->name);
	cr_assert_eq(a->ntrackers, 0);
	cr_assert_eq(a->npeers, 0);
	cr_assert_eq(a->nweb_seeds, 0);
	magnet_free(a);
	magnet_free(b);
	magnet_free(c);
	magnet_free(d);
}

Test(magnet, full_link)
{
	struct magnet *m = ok("magnet:?xt=urn:btih:" HEX "&dn=Big+Buck%20Bunny%2B1"
			      "&tr=http%3A%2F%2Ftracker.example%3A8080%2Fannounce"
			      "&tr=udp://open.example:1337&tr.1=udp://third:6969"
			      "&x.pe=10.0.0.1:6881&x.pe=%5B%3A%3A1%5D:51413"
			      "&ws=http://seed.example/files/&so=0-3&unknown=%zz");

	hash_is(m, HEX);
	cr_assert_str_eq(m->name, "Big Buck Bunny+1");
	cr_assert_eq(m->ntrackers, 3);
	cr_assert_str_eq(m->trackers[0], "http://tracker.example:8080/announce");
	cr_assert_str_eq(m->trackers[1], "udp://open.example:1337");
	cr_assert_str_eq(m->trackers[2], "udp://third:6969");
	cr_assert_eq(m->npeers, 2);
	cr_assert_str_eq(m->peers[0], "10.0.0.1:6881");
	cr_assert_str_eq(m->peers[1], "[::1]:51413");
	cr_assert_eq(m->nweb_seeds, 1);
	cr_assert_str_eq(m->web_seeds[0], "http://seed.example/files/");
	magnet_free(m);
}

Test(magnet, plus_is_literal_outside_dn)
{
	struct magnet *m = ok("magnet:?tr=http://t/a+b&xt=urn:btih:" HEX "&dn=a+b");

	cr_assert_str_eq(m->trackers[0], "http://t/a+b");
	cr_assert_str_eq(m->name, "a b");
	magnet_free(m);
}

Test(magnet, repeats_and_empties_kept_once)
{
	struct magnet *m = ok("magnet:?xt=urn:btih:" HEX "&xt=urn:btih:" B32 "&tr=udp://a:1"
			      "&tr=udp://a:1&tr=&dn=&dn=first&dn=second&&ws=&x.pe=h:1&x.pe=h:1");

	cr_assert_eq(m->ntrackers, 1);
	cr_assert_str_eq(m->name, "first");
	cr_assert_eq(m->nweb_seeds, 0);
	cr_assert_eq(m->npeers, 1);
	magnet_free(m);
}

Test(magnet, btih_and_btmh_uses_btih)
{
	struct magnet *m = ok("magnet:?xt=urn:btmh:1220"
			      "caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e"
			      "&xt=urn:btih:" HEX);

	hash_is(m, HEX);
	magnet_free(m);
}

Test(magnet, other_urns_ignored)
{
	struct magnet *m = ok("magnet:?xt=urn:sha1:ABCDEF&xt.2=urn:btih:" HEX);

	hash_is(m, HEX);
	magnet_free(m);
}

Test(magnet, scheme_case_insensitive)
{
	magnet_free(ok("MAGNET:?xt=URN:BTIH:" HEX));
}

Test(magnet, not_a_magnet)
{
	fails("http://example.com/?xt=urn:btih:" HEX, ERR_SYNTAX, "must start with \"magnet:?\"");
	fails("magnet:", ERR_SYNTAX, "magnet:?");
	fails("", ERR_SYNTAX, "magnet:?");
}

Test(magnet, no_xt)
{
	fails("magnet:?dn=x&tr=udp://a:1", ERR_INVALID, "no xt parameter");
	fails("magnet:?", ERR_INVALID, "no xt parameter");
	fails("magnet:?xt=urn:sha1:ABC", ERR_INVALID, "no urn:btih:");
}

Test(magnet, bad_hash_length)
{
	fails("magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88", ERR_INVALID,
	      "40 hex or 32 base32 characters, not 39");
	fails("magnet:?xt=urn:btih:", ERR_INVALID, "not 0");
	fails("magnet:?xt=urn:btih:" HEX "00", ERR_INVALID, "not 42");
}

Test(magnet, bad_hash_characters)
{
	fails("magnet:?xt=urn:btih:g12fe1c06bba254a9dc9f519b335aa7c1367a88a", ERR_INVALID,
	      "not a hex digit");
	fails("magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKE1", ERR_INVALID, "not base32");
}

Test(magnet, btmh_only_unsupported)
{
	fails("magnet:?xt=urn:btmh:1220caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a"
	      "302e&dn=v2",
	      ERR_UNSUPPORTED, "v2-only magnet links are not supported yet");
}

Test(magnet, two_different_btih)
{
	fails("magnet:?xt=urn:btih:" HEX "&xt=urn:btih:0000000000000000000000000000000000000000",
	      ERR_INVALID, "two different btih");
}

Test(magnet, malformed_escapes)
{
	fails("magnet:?xt=urn:btih:" HEX "&dn=50%", ERR_SYNTAX, "malformed percent escape in dn");
	fails("magnet:?xt=urn:btih:" HEX "&tr=http://a/%g1", ERR_SYNTAX,
	      "malformed percent escape in tr");
	fails("magnet:?xt=urn%3", ERR_SYNTAX, "malformed percent escape in xt");
}

Test(magnet, nul_in_value)
{
	fails("magnet:?xt=urn:btih:" HEX "&dn=a%00b", ERR_INVALID,
	      "dn at offset 61 contains a NUL");
	fails("magnet:?xt=urn:btih:" HEX "&tr=udp://x%00.evil:1", ERR_INVALID, "NUL");
}

Test(magnet, too_many_params)
{
	size_t n = 8 + MAGNET_MAX_PARAMS * 7 + 64, i;
	char *uri = malloc(n), *p;
	struct magnet *m;

	cr_assert_not_null(uri);
	p = uri;
	memcpy(p, "magnet:?xt=urn:btih:" HEX, 60);
	p += 60;
	/* Exactly the limit is fine... */
	for (i = 1; i < MAGNET_MAX_PARAMS; i++) {
		memcpy(p, "&x.a=1", 6);
		p += 6;
	}
	*p = '\0';
	m = ok(uri);
	magnet_free(m);
	/* ...one more is not. */
	memcpy(p, "&x.a=1", 7);
	fails(uri, ERR_LIMIT, "more than 256 parameters");
	free(uri);
}

Test(magnet, too_long)
{
	size_t n = MAGNET_MAX_LEN + 2;
	char *uri = malloc(n);

	cr_assert_not_null(uri);
	memcpy(uri, "magnet:?xt=urn:btih:" HEX "&dn=", 64);
	memset(uri + 64, 'a', n - 65);
	uri[n - 1] = '\0';
	fails(uri, ERR_LIMIT, "longer than 65536 bytes");
	/* At the limit it parses. */
	uri[MAGNET_MAX_LEN] = '\0';
	magnet_free(ok(uri));
	free(uri);
}

Test(magnet, free_null)
{
	magnet_free(NULL);
}
