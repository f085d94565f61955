/*
 * magnet: parses a magnet URI into the info-hash and the hints that help
 * find the swarm before the metadata arrives (display name, trackers, peer
 * addresses, web seeds).
 *
 * The URI is split on '&' into at most MAGNET_MAX_PARAMS parameters; only
 * the keys we use are percent-decoded, so an unknown parameter can never
 * make a link fail. Keys may carry a numeric suffix ("tr.1", "xt.2"), as
 * some clients write them. A link may name the same torrent in hex and in
 * base32; two btih values that disagree are refused rather than guessed
 * between. Repeated trackers, peers and web seeds are kept once.
 */
#include "magnet.h"

#include "textenc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum param {
	P_UNKNOWN,
	P_XT,
	P_DN,
	P_TR,
	P_PE,
	P_WS,
};

static const struct {
	const char *key;
	enum param p;
} keys[] = {
    {"xt", P_XT}, {"dn", P_DN}, {"tr", P_TR}, {"x.pe", P_PE}, {"ws", P_WS},
};

/* 1 if k is name, or name followed by '.' and digits. */
static int
key_is(const char *k, size_t kn, const char *name)
{
	size_t n = strlen(name), i;

	if (kn < n || memcmp(k, name, n) != 0)
		return 0;
	if (kn == n)
		return 1;
	if (k[n] != '.' || kn == n + 1)
		return 0;
	for (i = n + 1; i < kn; i++)
		if (k[i] < '0' || k[i] > '9')
			return 0;
	return 1;
}

static enum param
classify(const char *k, size_t kn)
{
	size_t i;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (key_is(k, kn, keys[i].key))
			return keys[i].p;
	return P_UNKNOWN;
}

/* Adds a copy of s to v unless it is empty or already there; v has room. */
static int
add_unique(char **v, size_t *n, const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < *n; i++)
		if (strcmp(v[i], s) == 0)
			return 0;
	if ((v[*n] = malloc(len + 1)) == NULL)
		return -ERR_NOMEM;
	memcpy(v[*n], s, len + 1);
	(*n)++;
	return 0;
}

/*
 * Reads the info-hash of one xt value. *kind is set to 1 for btih (hash in
 * out), 2 for btmh (v2, not decoded), 0 for another URN, which is ignored.
 */
static int
parse_xt(const char *v, size_t n, long long at, uint8_t out[SHA1_LEN], int *kind, struct error *err)
{
	const char *h = v + 9;
	size_t hn = n - 9;

	*kind = 0;
	if (n >= 9 && strncasecmp(v, "urn:btmh:", 9) == 0) {
		*kind = 2;
		return 0;
	}
	if (n < 9 || strncasecmp(v, "urn:btih:", 9) != 0)
		return 0;
	*kind = 1;
	if (hn == 2 * SHA1_LEN) {
		if (textenc_unhex(h, hn, out, SHA1_LEN) < 0)
			return error_set(err, ERR_INVALID, at,
					 "xt info-hash has a character that is not a hex digit");
		return 0;
	}
	if (hn == (SHA1_LEN * 8 + 4) / 5) {
		if (textenc_unbase32(h, hn, out, SHA1_LEN) < 0)
			return error_set(err, ERR_INVALID, at,
					 "xt info-hash has a character that is not base32");
		return 0;
	}
	return error_set(err, ERR_INVALID, at,
			 "xt info-hash must be 40 hex or 32 base32 characters, not %zu", hn);
}

struct magnet *
magnet_parse(const char *uri, struct error *err)
{
	struct magnet *m = NULL;
	const char *q, *seg, *end, *amp, *eq;
	char *val = NULL;
	uint8_t hash[SHA1_LEN];
	size_t len, nparams = 0, vn;
	int have_xt = 0, have_btih = 0, have_btmh = 0, kind, r, rc = -ERR_NOMEM;
	enum param p;
	long dn;
	long long at;

	len = strnlen(uri, MAGNET_MAX_LEN + 1);
	if (len > MAGNET_MAX_LEN) {
		error_set(err, ERR_LIMIT, ERROR_NO_OFFSET, "magnet link is longer than %u bytes",
			  MAGNET_MAX_LEN);
		return NULL;
	}
	if (len < 8 || strncasecmp(uri, "magnet:?", 8) != 0) {
		error_set(err, ERR_SYNTAX, 0, "not a magnet link: it must start with \"magnet:?\"");
		return NULL;
	}
	q = uri + 8;
	end = uri + len;
	/* Counted first so the arrays below can be sized once. */
	for (seg = q; seg < end; seg = amp + 1) {
		if ((amp = memchr(seg, '&', (size_t)(end - seg))) == NULL)
			amp = end;
		if (amp > seg && ++nparams > MAGNET_MAX_PARAMS) {
			error_set(err, ERR_LIMIT, (long long)(seg - uri),
				  "magnet link has more than %u parameters", MAGNET_MAX_PARAMS);
			return NULL;
		}
	}
	if ((m = calloc(1, sizeof *m)) == NULL || (val = malloc(len + 1)) == NULL)
		goto out;
	if (nparams > 0 && ((m->trackers = calloc(nparams, sizeof(char *))) == NULL ||
			    (m->peers = calloc(nparams, sizeof(char *))) == NULL ||
			    (m->web_seeds = calloc(nparams, sizeof(char *))) == NULL))
		goto out;

	for (seg = q; seg < end; seg = amp + 1) {
		if ((amp = memchr(seg, '&', (size_t)(end - seg))) == NULL)
			amp = end;
		at = (long long)(seg - uri);
		if ((eq = memchr(seg, '=', (size_t)(amp - seg))) == NULL)
			continue;
		if ((p = classify(seg, (size_t)(eq - seg))) == P_UNKNOWN)
			continue;
		dn = textenc_unpercent(eq + 1, (size_t)(amp - eq - 1), val, p == P_DN);
		if (dn < 0) {
			rc = error_set(err, ERR_SYNTAX, at,
				       "malformed percent escape in %.*s at offset %lld",
				       (int)(eq - seg), seg, at);
			goto out;
		}
		vn = (size_t)dn;
		if (memchr(val, '\0', vn) != NULL) {
			rc = error_set(err, ERR_INVALID, at,
				       "%.*s at offset %lld contains a NUL byte", (int)(eq - seg),
				       seg, at);
			goto out;
		}
		switch (p) {
		case P_XT:
			have_xt = 1;
			/* rc stays -ERR_NOMEM on success, for the allocations after. */
			if ((r = parse_xt(val, vn, at, hash, &kind, err)) < 0) {
				rc = r;
				goto out;
			}
			if (kind == 2)
				have_btmh = 1;
			if (kind != 1)
				break;
			if (have_btih && memcmp(hash, m->info_hash, SHA1_LEN) != 0) {
				rc = error_set(err, ERR_INVALID, at,
					       "magnet link has two different btih info-hashes");
				goto out;
			}
			memcpy(m->info_hash, hash, SHA1_LEN);
			have_btih = 1;
			break;
		case P_DN:
			/* The first name wins; an empty one says nothing. */
			if (m->name == NULL && vn > 0 && (m->name = strdup(val)) == NULL)
				goto out;
			break;
		case P_TR:
			if (add_unique(m->trackers, &m->ntrackers, val, vn) < 0)
				goto out;
			break;
		case P_PE:
			if (add_unique(m->peers, &m->npeers, val, vn) < 0)
				goto out;
			break;
		case P_WS:
			if (add_unique(m->web_seeds, &m->nweb_seeds, val, vn) < 0)
				goto out;
			break;
		case P_UNKNOWN:
			break;
		}
	}
	if (!have_btih) {
		if (have_btmh)
			rc = error_set(err, ERR_UNSUPPORTED, ERROR_NO_OFFSET,
				       "v2-only magnet links are not supported yet");
		else if (have_xt)
			rc = error_set(err, ERR_INVALID, ERROR_NO_OFFSET,
				       "magnet link has no urn:btih: info-hash in xt");
		else
			rc = error_set(err, ERR_INVALID, ERROR_NO_OFFSET,
				       "magnet link has no xt parameter (info-hash)");
		goto out;
	}
	rc = 0;
out:
	free(val);
	if (rc == -ERR_NOMEM)
		error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
	if (rc < 0) {
		magnet_free(m);
		m = NULL;
	}
	return m;
}

static void
free_strv(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
magnet_free(struct magnet *m)
{
	if (m == NULL)
		return;
	free(m->name);
	free_strv(m->trackers, m->ntrackers);
	free_strv(m->peers, m->npeers);
	free_strv(m->web_seeds, m->nweb_seeds);
	free(m);
}
