/*
 * blame: who sent the bad data of a failed piece. See blame.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blame.h"
#include "sha1.h"

#define TRUST_FLOOR (-64) /* charges stop here: a banned address stays banned */

struct addr {
	char ip[INET6_ADDRSTRLEN];
	int trust;
	int banned;
};

struct record {
	int used;
	uint64_t seq; /* for dropping the oldest */
	uint32_t piece;
	uint32_t nblocks;
	unsigned nsources;
	char sources[BLAME_MAX_SOURCES][INET6_ADDRSTRLEN];
	uint8_t *owner;
	uint8_t *digests;
};

struct blame {
	blame_ban_fn ban;
	void *arg;
	struct addr *addrs;
	size_t naddrs;
	struct record rec[BLAME_RECORDS];
	uint64_t seq;
};

struct blame *
blame_new(blame_ban_fn ban, void *arg)
{
	struct blame *b = calloc(1, sizeof *b);

	if (b == NULL)
		return NULL;
	b->ban = ban;
	b->arg = arg;
	return b;
}

static void
record_clear(struct record *r)
{
	free(r->owner);
	free(r->digests);
	memset(r, 0, sizeof *r);
}

void
blame_free(struct blame *b)
{
	unsigned i;

	if (b == NULL)
		return;
	for (i = 0; i < BLAME_RECORDS; i++)
		record_clear(&b->rec[i]);
	free(b->addrs);
	free(b);
}

void
blame_block_digest(const void *data, size_t len, uint8_t out[BLAME_DIGEST_LEN])
{
	uint8_t h[SHA1_LEN];

	sha1_digest(data, len, h);
	memcpy(out, h, BLAME_DIGEST_LEN);
}

static struct addr *
addr_find(const struct blame *b, const char *ip)
{
	size_t i;

	for (i = 0; i < b->naddrs; i++)
		if (strcmp(b->addrs[i].ip, ip) == 0)
			return &b->addrs[i];
	return NULL;
}

/* NULL when the table is full or memory short: that address goes uncounted. */
static struct addr *
addr_get(struct blame *b, const char *ip)
{
	struct addr *a = addr_find(b, ip), *n;

	if (a != NULL)
		return a;
	if (b->naddrs >= BLAME_MAX_ADDRS)
		return NULL;
	if ((n = realloc(b->addrs, (b->naddrs + 1) * sizeof *n)) == NULL)
		return NULL;
	b->addrs = n;
	a = &b->addrs[b->naddrs++];
	memset(a, 0, sizeof *a);
	snprintf(a->ip, sizeof a->ip, "%s", ip);
	return a;
}

int
blame_banned(const struct blame *b, const char *ip)
{
	const struct addr *a = addr_find(b, ip);

	return a != NULL && a->banned;
}

int
blame_trust(const struct blame *b, const char *ip)
{
	const struct addr *a = addr_find(b, ip);

	return a != NULL ? a->trust : 0;
}

int
blame_wants(const struct blame *b, uint32_t piece)
{
	unsigned i;

	for (i = 0; i < BLAME_RECORDS; i++)
		if (b->rec[i].used && b->rec[i].piece == piece)
			return 1;
	return 0;
}

/* Copies the ip first: the callback may look addresses up, never add them. */
static void
convict(struct blame *b, const char *ip, const char *why)
{
	struct addr *a = addr_get(b, ip);
	char copy[INET6_ADDRSTRLEN];

	if (a == NULL || a->banned)
		return;
	a->banned = 1;
	snprintf(copy, sizeof copy, "%s", a->ip);
	if (b->ban != NULL)
		b->ban(b->arg, copy, why);
}

static void
credit(struct addr *a, int points)
{
	a->trust += points;
	if (a->trust > BLAME_TRUST_MAX)
		a->trust = BLAME_TRUST_MAX;
}

static void
record_add(struct blame *b, const struct blame_piece *p)
{
	struct record *r = &b->rec[0];
	unsigned i, n = p->nsources < BLAME_MAX_SOURCES ? p->nsources : BLAME_MAX_SOURCES;

	for (i = 0; i < BLAME_RECORDS; i++) {
		if (!b->rec[i].used) {
			r = &b->rec[i];
			break;
		}
		if (b->rec[i].seq < r->seq)
			r = &b->rec[i];
	}
	record_clear(r);
	r->owner = malloc(p->nblocks);
	r->digests = malloc((size_t)p->nblocks * BLAME_DIGEST_LEN);
	if (r->owner == NULL || r->digests == NULL) {
		record_clear(r);
		return;
	}
	memcpy(r->owner, p->owner, p->nblocks);
	for (i = 0; i < p->nblocks; i++)
		if (r->owner[i] >= n)
			r->owner[i] = BLAME_UNKNOWN;
	memcpy(r->digests, p->digests, (size_t)p->nblocks * BLAME_DIGEST_LEN);
	for (i = 0; i < n; i++)
		snprintf(r->sources[i], sizeof r->sources[i], "%s", p->sources[i]);
	r->nsources = n;
	r->piece = p->piece;
	r->nblocks = p->nblocks;
	r->seq = ++b->seq;
	r->used = 1;
}

void
blame_failed(struct blame *b, const struct blame_piece *p)
{
	struct addr *a;
	unsigned i;
	int cost = p->nsources == 1 ? 2 : 1, best = TRUST_FLOOR;

	if (p->nsources == 0)
		return;
	for (i = 0; i < p->nsources; i++)
		if (blame_banned(b, p->sources[i]))
			return; /* explained by that one */
	for (i = 0; i < p->nsources; i++) {
		if ((a = addr_get(b, p->sources[i])) == NULL)
			continue;
		a->trust -= cost;
		if (a->trust < TRUST_FLOOR)
			a->trust = TRUST_FLOOR;
		if (a->trust > best)
			best = a->trust;
	}
	for (i = 0; i < p->nsources; i++) {
		if ((a = addr_get(b, p->sources[i])) == NULL || a->trust > BLAME_BAN_AT)
			continue;
		if (p->nsources == 1)
			convict(b, p->sources[i], "sent pieces that failed verification");
		else if (a->trust < best)
			convict(b, p->sources[i],
				"shared in more failed pieces than the peers beside it");
	}
	if (p->nsources > 1 && p->digests != NULL && p->nblocks > 0)
		record_add(b, p);
}

void
blame_passed(struct blame *b, const struct blame_piece *p)
{
	struct addr *a;
	unsigned i, k;
	uint32_t j;

	for (i = 0; i < p->nsources; i++)
		if ((a = addr_get(b, p->sources[i])) != NULL)
			credit(a, 1);
	for (k = 0; k < BLAME_RECORDS; k++) {
		struct record *r = &b->rec[k];
		uint8_t guilty[BLAME_MAX_SOURCES] = {0};

		if (!r->used || r->piece != p->piece)
			continue;
		if (p->digests != NULL && p->nblocks == r->nblocks) {
			for (j = 0; j < r->nblocks; j++)
				if (r->owner[j] != BLAME_UNKNOWN &&
				    memcmp(r->digests + (size_t)j * BLAME_DIGEST_LEN,
					   p->digests + (size_t)j * BLAME_DIGEST_LEN,
					   BLAME_DIGEST_LEN) != 0)
					guilty[r->owner[j]] = 1;
			for (i = 0; i < r->nsources; i++) {
				if (guilty[i])
					convict(
					    b, r->sources[i],
					    "sent a block that differs from the verified piece");
				else if ((a = addr_get(b, r->sources[i])) != NULL)
					credit(a, 1); /* the point it was charged back */
			}
		}
		record_clear(r);
	}
}
