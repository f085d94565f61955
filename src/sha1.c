/*
 * sha1: thin wrapper over OpenSSL's EVP interface (the low-level SHA1_*
 * calls are deprecated in OpenSSL 3). The EVP_MD is fetched once per
 * context; re-initialising a context is cheap.
 */
#include "sha1.h"

#include <openssl/evp.h>
#include <stdlib.h>

struct sha1_ctx {
	EVP_MD_CTX *md;
};

void
sha1_digest(const void *p, size_t n, uint8_t out[SHA1_LEN])
{
	unsigned int len = SHA1_LEN;

	EVP_Digest(p, n, out, &len, EVP_sha1(), NULL);
}

struct sha1_ctx *
sha1_new(void)
{
	struct sha1_ctx *c = malloc(sizeof *c);

	if (c == NULL)
		return NULL;
	c->md = EVP_MD_CTX_new();
	if (c->md == NULL) {
		free(c);
		return NULL;
	}
	sha1_init(c);
	return c;
}

void
sha1_init(struct sha1_ctx *c)
{
	EVP_DigestInit_ex(c->md, EVP_sha1(), NULL);
}

void
sha1_update(struct sha1_ctx *c, const void *p, size_t n)
{
	EVP_DigestUpdate(c->md, p, n);
}

void
sha1_final(struct sha1_ctx *c, uint8_t out[SHA1_LEN])
{
	unsigned int len = SHA1_LEN;

	EVP_DigestFinal_ex(c->md, out, &len);
}

void
sha1_free(struct sha1_ctx *c)
{
	if (c == NULL)
		return;
	EVP_MD_CTX_free(c->md);
	free(c);
}
