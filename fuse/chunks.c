/*
 * chunks: see chunks.h. A handful of slots searched linearly: a mount has
 * a few sequential readers at a time, not hundreds.
 *
 * A loading slot belongs to its worker: the loop thread does not touch its
 * buffer, length or result until the completion, which runs on the loop
 * thread (loop_pool_submit's done), sets them. So no locks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chunks.h"

struct slot {
	struct chunks *c;
	uint8_t *buf;	/* CHUNKS_ALIGN-aligned, chunk bytes; NULL until first used */
	uint64_t start; /* torrent offset of the chunk held or loading */
	size_t len;	/* its length (the last chunk may be short) */
	enum chunks_state state;
	int rc;	       /* the fill's result, for the completion */
	uint64_t used; /* LRU clock value of the last use */
};

struct chunks {
	struct slot *slots;
	unsigned nslots;
	size_t chunk;
	uint64_t total;
	struct loop_pool *pool;
	chunks_fill_fn fill;
	chunks_loaded_fn loaded;
	void *arg;
	uint64_t clock;
	uint64_t loads, puts, hits;
};

struct chunks *
chunks_new(unsigned nslots, size_t chunk, uint64_t total, struct loop_pool *pool,
	   chunks_fill_fn fill, chunks_loaded_fn loaded, void *arg)
{
	struct chunks *c;
	unsigned i;

	if (nslots == 0 || chunk == 0 || chunk % CHUNKS_ALIGN != 0 || total == 0 || fill == NULL ||
	    loaded == NULL)
		return NULL;
	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	if ((c->slots = calloc(nslots, sizeof *c->slots)) == NULL) {
		free(c);
		return NULL;
	}
	for (i = 0; i < nslots; i++)
		c->slots[i].c = c;
	c->nslots = nslots;
	c->chunk = chunk;
	c->total = total;
	c->pool = pool;
	c->fill = fill;
	c->loaded = loaded;
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

static struct slot *
slot_of(const struct chunks *c, uint64_t start)
{
	unsigned i;

	for (i = 0; i < c->nslots; i++)
		if (c->slots[i].state != CHUNKS_ABSENT && c->slots[i].start == start)
			return &c->slots[i];
	return NULL;
}

enum chunks_state
chunks_state_of(const struct chunks *c, uint64_t start)
{
	const struct slot *s = slot_of(c, start);

	return s != NULL ? s->state : CHUNKS_ABSENT;
}

const uint8_t *
chunks_find(struct chunks *c, uint64_t off, size_t len, enum chunks_state *state)
{
	struct slot *s;
	uint64_t start;
	size_t clen;

	*state = CHUNKS_ABSENT;
	if (chunks_span(c, off, len, &start, &clen) < 0 || (s = slot_of(c, start)) == NULL)
		return NULL;
	*state = s->state;
	if (s->state != CHUNKS_READY)
		return NULL;
	s->used = ++c->clock;
	c->hits++;
	return s->buf + (off - start);
}

static void
load_work(void *arg)
{
	struct slot *s = arg;

	s->rc = s->c->fill(s->c->arg, s->start, s->buf, s->len);
}

static void
load_done(void *arg)
{
	struct slot *s = arg;
	struct chunks *c = s->c;

	s->state = s->rc < 0 ? CHUNKS_ABSENT : CHUNKS_READY;
	s->used = ++c->clock;
	if (s->rc >= 0)
		c->loads++;
	c->loaded(c->arg, s->start, s->rc);
}

/* The slot to fill with the chunk at `start`: the least recently used that is not loading. */
static int
claim(struct chunks *c, uint64_t start, struct slot **out)
{
	struct slot *s, *victim = NULL;
	uint64_t s0;
	size_t clen;
	unsigned i;

	if (chunks_span(c, start, 1, &s0, &clen) < 0 || s0 != start || slot_of(c, start) != NULL)
		return -EINVAL;
	for (i = 0; i < c->nslots; i++) {
		s = &c->slots[i];
		if (s->state == CHUNKS_LOADING)
			continue;
		if (victim == NULL || s->state == CHUNKS_ABSENT ||
		    (victim->state != CHUNKS_ABSENT && s->used < victim->used))
			victim = s;
	}
	if (victim == NULL)
		return -EBUSY;
	if (victim->buf == NULL) {
		void *p;

		if (posix_memalign(&p, CHUNKS_ALIGN, c->chunk) != 0)
			return -ENOMEM;
		victim->buf = p;
	}
	victim->state = CHUNKS_ABSENT;
	victim->start = start;
	victim->len = clen;
	*out = victim;
	return 0;
}

int
chunks_load(struct chunks *c, uint64_t start)
{
	struct slot *s;
	int rc;

	if ((rc = claim(c, start, &s)) < 0)
		return rc;
	s->state = CHUNKS_LOADING;
	if (c->pool != NULL && loop_pool_submit(c->pool, load_work, load_done, s) == 0)
		return 0;
	/* No pool (or it is going away): load here and now. */
	load_work(s);
	load_done(s);
	return s->rc < 0 ? s->rc : 0;
}

int
chunks_put(struct chunks *c, uint64_t start, const void *src)
{
	struct slot *s;
	int rc;

	if ((rc = claim(c, start, &s)) < 0)
		return rc;
	memcpy(s->buf, src, s->len);
	s->state = CHUNKS_READY;
	s->used = ++c->clock;
	c->puts++;
	return 0;
}

uint64_t
chunks_loads(const struct chunks *c)
{
	return c->loads;
}

uint64_t
chunks_puts(const struct chunks *c)
{
	return c->puts;
}

uint64_t
chunks_hits(const struct chunks *c)
{
	return c->hits;
}
