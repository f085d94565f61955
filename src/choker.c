/*
 * choker: picks the peers we upload to each round (see choker.h for the
 * rules). The torrent fills an array describing its peers, runs a round and
 * applies the answer; the choker remembers nothing about individual peers
 * except which one is optimistically unchoked and since when. Everything
 * else it needs (who holds a slot, for how long, who waits) the caller
 * already tracks per connection, so passing it in keeps this module free of
 * a peer table that could go stale when connections come and go.
 *
 * A round is one pass that turns every eligible peer into a candidate with a
 * (class, key, random tie) rank, one sort, and the first `slots` candidates
 * of a class allowed regular slots win. Leeching uses one class keyed by
 * download rate (holders get the stability bonus); seeding uses the three
 * classes of the header. Peers that may only be unchoked optimistically
 * (snubbed ones while leeching) sort after everything in a class of their
 * own, so the candidates after the winners are exactly the optimistic pool.
 */
#include "choker.h"

#include <stdlib.h>

#include "error.h"

#define NONE SIZE_MAX

/* Candidate classes, lowest served first. */
enum {
	C_TURN = 0,	/* leeching: every candidate; seeding: holder whose turn runs */
	C_WAITING = 1,	/* seeding: not holding a regular slot */
	C_OVER = 2,	/* seeding: holder whose turn is over */
	C_OPT_ONLY = 3, /* may only be unchoked optimistically */
};

struct cand {
	uint64_t key; /* higher is better within a class */
	uint32_t tie; /* random, so that equal peers are not served in array order */
	uint32_t idx;
	uint8_t cls;
};

struct choker {
	unsigned slots;
	uint64_t rng;
	void *opt_id; /* NULL: none */
	uint64_t opt_since_ms;
	struct cand *cand;
	size_t cap;
};

/* xorshift64: small, fast and good enough to spread unchokes; never seeded with 0. */
static uint64_t
rng_next(struct choker *ch)
{
	uint64_t x = ch->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	ch->rng = x;
	return x;
}

static uint64_t
elapsed(uint64_t now, uint64_t then)
{
	return now >= then ? now - then : 0;
}

static uint64_t
add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->cls != y->cls)
		return x->cls < y->cls ? -1 : 1;
	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	if (x->tie != y->tie)
		return x->tie < y->tie ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static unsigned
clamp_slots(unsigned slots)
{
	return slots > CHOKER_MAX_SLOTS ? CHOKER_MAX_SLOTS : slots;
}

struct choker *
choker_new(unsigned slots, uint64_t seed)
{
	struct choker *ch = calloc(1, sizeof *ch);

	if (ch == NULL)
		return NULL;
	ch->slots = clamp_slots(slots);
	/* Spread the seed so that nearby seeds give unrelated sequences; xorshift sticks at 0. */
	ch->rng = (seed ^ 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull;
	if (ch->rng == 0)
		ch->rng = 0x94d049bb133111ebull;
	return ch;
}

void
choker_free(struct choker *ch)
{
	if (ch == NULL)
		return;
	free(ch->cand);
	free(ch);
}

void
choker_set_slots(struct choker *ch, unsigned slots)
{
	ch->slots = clamp_slots(slots);
}

unsigned
choker_slots(const struct choker *ch)
{
	return ch->slots;
}

void *
choker_optimistic(const struct choker *ch)
{
	return ch->opt_id;
}

static int
eligible(const struct choker_peer *p)
{
	return p->interested && !p->is_seed;
}

/* Ranks one eligible peer for a regular slot. */
static void
rank(const struct choker *ch, const struct choker_peer *p, uint64_t now_ms, int seeding,
     struct cand *c)
{
	int holder = p->unchoked && p->id != ch->opt_id;
	uint64_t bonus;

	if (seeding) {
		if (holder) {
			c->cls =
			    elapsed(now_ms, p->since_ms) < CHOKER_SEED_TURN_MS ? C_TURN : C_OVER;
			c->key = p->up_rate;
		} else {
			/* The optimistic peer is being served: it has not waited at all. */
			c->cls = C_WAITING;
			c->key = UINT64_MAX - (p->unchoked ? now_ms : p->since_ms);
		}
		return;
	}
	if (p->snubbed) {
		c->cls = C_OPT_ONLY;
		c->key = 0;
		return;
	}
	c->cls = C_TURN;
	c->key = p->down_rate;
	if (holder) {
		bonus = p->down_rate / CHOKER_KEEP_DIV;
		if (bonus < CHOKER_KEEP_MIN)
			bonus = CHOKER_KEEP_MIN;
		c->key = add_sat(p->down_rate, bonus);
	}
}

/* New peers have nothing to trade yet; better odds get them their first pieces sooner. */
static uint64_t
weight(const struct choker_peer *p, uint64_t now_ms)
{
	return elapsed(now_ms, p->connected_ms) < CHOKER_NEW_PEER_MS ? CHOKER_NEW_PEER_WEIGHT : 1;
}

/*
 * Draws the new optimistic peer from cand[from..m), skipping `skip` (the
 * previous one) unless it is the only choice. Returns a peer index or NONE.
 */
static size_t
pick_optimistic(struct choker *ch, const struct choker_peer *peers, size_t from, size_t m,
		size_t skip, uint64_t now_ms)
{
	uint64_t total = 0, r, w;
	size_t j, others = 0;

	for (j = from; j < m; j++) {
		if (ch->cand[j].idx == skip)
			continue;
		others++;
		total += weight(&peers[ch->cand[j].idx], now_ms);
	}
	if (others == 0)
		return from < m ? ch->cand[from].idx : NONE;
	/* total <= 3 * 2^20, so the modulo bias against 2^64 is negligible. */
	r = rng_next(ch) % total;
	for (j = from; j < m; j++) {
		if (ch->cand[j].idx == skip)
			continue;
		w = weight(&peers[ch->cand[j].idx], now_ms);
		if (r < w)
			return ch->cand[j].idx;
		r -= w;
	}
	return NONE; /* not reached: r < total */
}

int
choker_run(struct choker *ch, const struct choker_peer *peers, size_t n, uint64_t now_ms,
	   int seeding, size_t *out)
{
	size_t i, m = 0, k = 0, opt_idx = NONE, pick;
	int opt_regular = 0, keep;
	struct cand *c;

	if (n > CHOKER_MAX_PEERS)
		return -ERR_LIMIT;
	if (n > ch->cap) {
		c = realloc(ch->cand, n * sizeof *c);
		if (c == NULL)
			return -ERR_NOMEM;
		ch->cand = c;
		ch->cap = n;
	}

	for (i = 0; i < n; i++) {
		if (ch->opt_id != NULL && peers[i].id == ch->opt_id && opt_idx == NONE)
			opt_idx = i;
		if (!eligible(&peers[i]))
			continue;
		c = &ch->cand[m++];
		rank(ch, &peers[i], now_ms, seeding, c);
		c->tie = (uint32_t)(rng_next(ch) >> 32);
		c->idx = (uint32_t)i;
	}
	qsort(ch->cand, m, sizeof *ch->cand, cand_cmp);

	while (k < m && k < ch->slots && ch->cand[k].cls != C_OPT_ONLY) {
		out[k] = ch->cand[k].idx;
		opt_regular |= ch->cand[k].idx == opt_idx;
		k++;
	}

	/* Everything in cand[k..m) is eligible and has no regular slot: the optimistic pool. */
	keep = opt_idx != NONE && eligible(&peers[opt_idx]) && !opt_regular &&
	       elapsed(now_ms, ch->opt_since_ms) < CHOKER_OPTIMISTIC_MS;
	if (keep) {
		out[k] = opt_idx;
		return (int)(k + 1);
	}
	pick = pick_optimistic(ch, peers, k, m, opt_regular ? NONE : opt_idx, now_ms);
	if (pick == NONE) {
		ch->opt_id = NULL;
		return (int)k;
	}
	ch->opt_id = peers[pick].id;
	ch->opt_since_ms = now_ms;
	out[k] = pick;
	return (int)(k + 1);
}
