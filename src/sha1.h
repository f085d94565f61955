/*
 * sha1: SHA-1 for info-hashes and piece verification. The only module
 * that includes OpenSSL headers, so the crypto backend can change in one
 * place.
 */
#ifndef PIECES_SHA1_H
#define PIECES_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN 20

struct sha1_ctx;

void sha1_digest(const void *p, size_t n, uint8_t out[SHA1_LEN]);

/* Incremental use: one context reused for many digests avoids allocation per piece. */
struct sha1_ctx *sha1_new(void);
void sha1_init(struct sha1_ctx *c);
void sha1_update(struct sha1_ctx *c, const void *p, size_t n);
void sha1_final(struct sha1_ctx *c, uint8_t out[SHA1_LEN]);
void sha1_free(struct sha1_ctx *c);

#endif
