/*
 * chunks: see chunks.h. A handful of slots searched linearly: a mount has
 * a few sequential readers at a time, not hundreds.
 */
#include <errno.h>
#include <stdlib.h>

#include "chunks.h"

struct slot {
	uint8_t *buf;	/* CHUNKS_ALIGN-aligned, chunk bytes; NULL until first used */
	uint64_t start; /* torrent offset of the chunk held */
	size_t len;	/* its length (the last chunk may be short); 0 when empty */
	uint64_t used;	/* LRU clock value of the last use */
};

struct chunks {
	struct slot *slots;
	unsigned nslots;
	size_t chunk;
	uint64_t total;
	chunks_fill_fn fill;
	void *arg;
	uint64_t clock;
	uint64_t fills, hits;
};

struct chunks *
chunks_new(unsigned nslots, size_t chunk, uint64_t total, chunks_fill_fn fill, void *arg)
{
	struct chunks *c;

	if (nslots == 0 || chunk == 0 || chunk % CHUNKS_ALIGN != 0 || total == 0 || fill == NULL)
		return NULL;
	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	if ((c->slots = calloc(nslots, sizeof *c->slots)) == NULL) {
		free(c);
		return NULL;
	}
	c->nslots = nslots;
	c->chunk = chunk;
	c->total = total;
	c->fill = fill;
	c->arg = arg;
	return c;
}

void
chunks_free(struct chunks *c)
{
	unsigned i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nslots; i++)
		free(c->slots[i].buf);
	free(c->slots);
	free(c);
}

int
chunks_span(const struct chunks *c, uint64_t off, size_t len, uint64_t *start, size_t *clen)
{
	uint64_t s;

	if (len == 0 || off >= c->total || len > c->total - off)
		return -1;
	s = off - off % c->chunk;
	if ((off + len - 1) - (off + len - 1) % c->chunk != s)
		return -1;
	*start = s;
	*clen = c->total - s < c->chunk ? (size_t)(c->total - s) : c->chunk;
	return 0;
}

const uint8_t *
chunks_get(struct chunks *c, uint64_t off, size_t len, int *err)
{
	struct slot *sl, *victim = NULL;
	uint64_t start;
	size_t clen;
	unsigned i;
	int rc;

	if (chunks_span(c, off, len, &start, &clen) < 0) {
		*err = -EINVAL;
		return NULL;
	}
	for (i = 0; i < c->nslots; i++) {
		sl = &c->slots[i];
		if (sl->len > 0 && sl->start == start) {
			sl->used = ++c->clock;
			c->hits++;
			return sl->buf + (off - start);
		}
		if (victim == NULL || sl->len == 0 || (victim->len > 0 && sl->used < victim->used))
			victim = sl;
	}
	if (victim->buf == NULL) {
		void *p;

		if (posix_memalign(&p, CHUNKS_ALIGN, c->chunk) != 0) {
			*err = -ENOMEM;
			return NULL;
		}
		victim->buf = p;
	}
	victim->len = 0;
	if ((rc = c->fill(c->arg, start, victim->buf, clen)) < 0) {
		*err = rc;
		return NULL;
	}
	victim->start = start;
	victim->len = clen;
	victim->used = ++c->clock;
	c->fills++;
	return victim->buf + (off - start);
}

uint64_t
chunks_fills(const struct chunks *c)
{
	return c->fills;
}

uint64_t
chunks_hits(const struct chunks *c)
{
	return c->hits;
}
