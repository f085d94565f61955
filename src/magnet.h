/*
 * magnet: parses magnet URIs (BEP 9): `xt=urn:btih:` as 40 hex digits or
 * 32 base32 characters, `dn`, repeated `tr`, `x.pe` peers and `ws` web
 * seeds. Untrusted input: every malformed part is a clear error.
 */
#ifndef PIECES_MAGNET_H
#define PIECES_MAGNET_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sha1.h"

#define MAGNET_MAX_LEN	  (64u << 10)
#define MAGNET_MAX_PARAMS 256u

struct magnet {
	uint8_t info_hash[SHA1_LEN];
	char *name; /* dn, NULL when absent */
	char **trackers;
	size_t ntrackers;
	char **peers; /* x.pe, "host:port" as given */
	size_t npeers;
	char **web_seeds;
	size_t nweb_seeds;
};

/*
 * Parses a NUL-terminated magnet URI. Values are percent-decoded ('+' is a
 * space only in dn); empty and repeated tr, x.pe and ws values are kept
 * once; the first non-empty dn wins; unknown parameters are ignored.
 * Returns NULL with err set: ERR_SYNTAX (not "magnet:?", bad escape),
 * ERR_LIMIT (MAGNET_MAX_LEN, MAGNET_MAX_PARAMS), ERR_INVALID (no or bad
 * btih, two different btih, NUL in a value), ERR_UNSUPPORTED (btmh only).
 */
struct magnet *magnet_parse(const char *uri, struct error *err);
/* NULL is a no-op. */
void magnet_free(struct magnet *m);

#endif
