/*
 * blame: works out which peer sent the bad data when a piece fails
 * verification, so that one peer is banned and the others are not.
 *
 * A piece's blocks often come from several peers, and a failed hash only
 * says that one of them lied. Charging every contributor the same banned
 * honest peers along with a liar (tests/download.sh h, slow ASan build:
 * 37 failed pieces, both addresses banned, the download stalled). Two
 * rules instead, both keyed by address (a liar reconnecting from another
 * port is the same liar):
 *
 *  - Trust. Every piece an address contributed to that verifies earns it
 *    a point (up to BLAME_TRUST_MAX); every failed one costs two when it
 *    sent the whole piece, one when it shared it. At BLAME_BAN_AT or below
 *    it is banned, except that a shared piece bans only contributors that
 *    are worse off than another of them: when all look the same, the
 *    evidence does not tell them apart and the proof below decides.
 *    A failure with an already banned contributor costs the others nothing:
 *    that one explains it (pieces still being verified when it was banned).
 *
 *  - Proof. A shared piece that failed is remembered as a digest of each
 *    block and who sent it. When the piece later verifies, each remembered
 *    block that differs from the good data convicts its sender at once;
 *    its co-contributors are cleared. Records are bounded (BLAME_RECORDS,
 *    oldest dropped), as are the addresses tracked (BLAME_MAX_ADDRS).
 *
 * The caller computes block digests (blame_block_digest, on any thread)
 * and is told of each ban through the callback given to blame_new().
 */
#ifndef PIECES_BLAME_H
#define PIECES_BLAME_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define BLAME_TRUST_MAX	  8
#define BLAME_BAN_AT	  (-7)
#define BLAME_RECORDS	  32
#define BLAME_MAX_ADDRS	  4096
#define BLAME_DIGEST_LEN  8    /* tells blocks apart; forging one gains a liar nothing */
#define BLAME_MAX_SOURCES 8    /* addresses told apart within one piece */
#define BLAME_UNKNOWN	  0xff /* a block whose sender was not kept */

struct blame;

/* A piece's contributors and, per block, which of them sent it. */
struct blame_piece {
	uint32_t piece;
	unsigned nsources;
	const char (*sources)[INET6_ADDRSTRLEN];
	uint32_t nblocks;
	const uint8_t *owner;	/* per block: index into sources, or BLAME_UNKNOWN */
	const uint8_t *digests; /* per block: BLAME_DIGEST_LEN bytes, or NULL */
};

typedef void (*blame_ban_fn)(void *arg, const char *ip, const char *why);

struct blame *blame_new(blame_ban_fn ban, void *arg);
void blame_free(struct blame *b);

/* Digest of one block, as blame_failed() and blame_passed() expect. */
void blame_block_digest(const void *data, size_t len, uint8_t out[BLAME_DIGEST_LEN]);

int blame_banned(const struct blame *b, const char *ip);
int blame_trust(const struct blame *b, const char *ip);

/* Whether a record waits for this piece's good data (pass its digests). */
int blame_wants(const struct blame *b, uint32_t piece);

/* The piece failed verification: charges and records (digests needed). */
void blame_failed(struct blame *b, const struct blame_piece *p);

/* The piece verified: credits, and checks records (digests if wanted). */
void blame_passed(struct blame *b, const struct blame_piece *p);

#endif
