/*
 * picker: rarest-first block selection with priorities, deadlines and
 * endgame, behind a socket-free API (see picker.h for the order of picking
 * and the costs).
 *
 * Fresh wanted pieces live in circular doubly linked lists, one per bucket
 * (priority, availability), with the list heads as sentinel nodes stored
 * after the pieces in the same next/prev arrays, so linking needs no special
 * cases. A bitmap of non-empty buckets lets a pick jump straight to the
 * rarest piece. An availability change moves a piece to the neighbouring
 * bucket in O(1); a piece leaves the lists when it becomes partial, had, or
 * priority 0, or gets a deadline, because those are picked from their own
 * small sets (partials, deadlines) or never.
 *
 * Randomness comes from a seeded splitmix64 generator: a piece joins its
 * bucket at the head or the tail by a coin flip, and bitfields are applied in
 * a random affine order, so ties in rarity are broken differently from one
 * seed (one client) to another rather than in piece order everywhere.
 *
 * Every state change goes through piece_leave() / piece_enter(): leave takes
 * the piece's contribution out of the counters and lists, enter puts it back
 * for its new state. That keeps the endgame counters exact without thinking
 * about every transition separately.
 */
#include "picker.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

#define NONE	 UINT32_MAX
#define LEVELS	 PICKER_PRIO_MAX /* priorities 1..7 are listed; 0 never is */
#define NBUCKETS (LEVELS * PICKER_AVAIL_BUCKETS)
#define RECEIVED 255u /* block state: 0 missing, 1..254 requests out, 255 received */
/* Random pieces tried per priority level while fewer than PICKER_RANDOM_FIRST are complete. */
#define RANDOM_PROBES 32

enum {
	F_HAVE = 1,	/* verified */
	F_DEADLINE = 2, /* has an entry in p->deadlines */
	F_LINKED = 4,	/* in a bucket list */
};

struct partial {
	uint32_t piece;
	uint32_t nblocks;
	uint32_t missing;  /* blocks in state 0 */
	uint32_t received; /* blocks in state RECEIVED */
	uint8_t *st;	   /* one state byte per block */
};

struct deadline {
	uint64_t when;
	uint32_t piece;
};

struct picker {
	uint32_t npieces;
	uint32_t piece_len;
	uint32_t last_len;
	uint64_t rng;

	uint32_t *next, *prev; /* npieces nodes, then NBUCKETS sentinels */
	uint64_t nonempty[NBUCKETS / 64];
	uint32_t *avail;
	uint32_t *slot; /* index into partials, or NONE */
	uint8_t *prio;
	uint8_t *flags;

	struct partial *partials;
	uint32_t npartials, cap_partials;
	struct deadline *deadlines; /* sorted by (when, piece) */
	uint32_t ndeadlines, cap_deadlines;

	uint32_t linked[LEVELS + 1]; /* listed pieces per priority */
	uint32_t have_count;
	uint32_t wanted_left;	 /* prio > 0 and not had */
	uint32_t fresh_wanted;	 /* ... and not partial */
	uint64_t missing_wanted; /* missing blocks of wanted partial pieces */
};

static uint64_t
rng_next(struct picker *p)
{
	uint64_t z = (p->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int
bit_is_set(const uint8_t *bits, uint32_t i)
{
	return bits == NULL || (bits[i >> 3] & (0x80u >> (i & 7))) != 0;
}

uint32_t
picker_piece_size(const struct picker *p, uint32_t piece)
{
	if (piece >= p->npieces)
		return 0;
	return piece == p->npieces - 1 ? p->last_len : p->piece_len;
}

uint32_t
picker_block_count(const struct picker *p, uint32_t piece)
{
	uint32_t size = picker_piece_size(p, piece);

	return size / PICKER_BLOCK_SIZE + (size % PICKER_BLOCK_SIZE != 0);
}

static uint32_t
bucket_of(const struct picker *p, uint32_t piece)
{
	uint32_t a = p->avail[piece];

	if (a > PICKER_AVAIL_BUCKETS - 1)
		a = PICKER_AVAIL_BUCKETS - 1;
	return (uint32_t)(PICKER_PRIO_MAX - p->prio[piece]) * PICKER_AVAIL_BUCKETS + a;
}

static void
list_link(struct picker *p, uint32_t piece)
{
	uint32_t b = bucket_of(p, piece), s = p->npieces + b, before, after;

	/* Head or tail at random: part of the random tie-break among equals. */
	if (rng_next(p) & 1) {
		before = s;
		after = p->next[s];
	} else {
		before = p->prev[s];
		after = s;
	}
	p->next[before] = piece;
	p->prev[piece] = before;
	p->next[piece] = after;
	p->prev[after] = piece;
	p->nonempty[b / 64] |= (uint64_t)1 << (b % 64);
	p->flags[piece] |= F_LINKED;
	p->linked[p->prio[piece]]++;
}

/* Must run while prio/avail still hold the values the piece was linked with. */
static void
list_unlink(struct picker *p, uint32_t piece)
{
	uint32_t b = bucket_of(p, piece), s = p->npieces + b;

	p->next[p->prev[piece]] = p->next[piece];
	p->prev[p->next[piece]] = p->prev[piece];
	if (p->next[s] == s)
		p->nonempty[b / 64] &= ~((uint64_t)1 << (b % 64));
	p->flags[piece] &= (uint8_t)~F_LINKED;
	p->linked[p->prio[piece]]--;
}

static int
wanted(const struct picker *p, uint32_t piece)
{
	return p->prio[piece] > 0 && !(p->flags[piece] & F_HAVE);
}

static void
piece_leave(struct picker *p, uint32_t piece)
{
	if (p->flags[piece] & F_LINKED)
		list_unlink(p, piece);
	if (!wanted(p, piece))
		return;
	p->wanted_left--;
	if (p->slot[piece] == NONE)
		p->fresh_wanted--;
	else
		p->missing_wanted -= p->partials[p->slot[piece]].missing;
}

static void
piece_enter(struct picker *p, uint32_t piece)
{
	if (!wanted(p, piece))
		return;
	p->wanted_left++;
	if (p->slot[piece] != NONE) {
		p->missing_wanted += p->partials[p->slot[piece]].missing;
		return;
	}
	p->fresh_wanted++;
	if (!(p->flags[piece] & F_DEADLINE))
		list_link(p, piece);
}

static struct partial *
partial_get(struct picker *p, uint32_t piece, int create)
{
	struct partial *pa;
	uint32_t n;

	if (p->slot[piece] != NONE)
		return &p->partials[p->slot[piece]];
	if (!create)
		return NULL;
	if (p->npartials == p->cap_partials) {
		n = p->cap_partials ? p->cap_partials * 2 : 16;
		pa = realloc(p->partials, (size_t)n * sizeof *pa);
		if (pa == NULL)
			return NULL;
		p->partials = pa;
		p->cap_partials = n;
	}
	pa = &p->partials[p->npartials];
	pa->piece = piece;
	pa->nblocks = picker_block_count(p, piece);
	pa->missing = pa->nblocks;
	pa->received = 0;
	pa->st = calloc(pa->nblocks, 1);
	if (pa->st == NULL)
		return NULL;
	p->slot[piece] = p->npartials++;
	return pa;
}

static void
partial_drop(struct picker *p, uint32_t piece)
{
	uint32_t i = p->slot[piece], last;

	if (i == NONE)
		return;
	free(p->partials[i].st);
	last = --p->npartials;
	if (i != last) {
		p->partials[i] = p->partials[last];
		p->slot[p->partials[i].piece] = i;
	}
	p->slot[piece] = NONE;
}

static void
deadline_drop(struct picker *p, uint32_t piece)
{
	uint32_t i;

	if (!(p->flags[piece] & F_DEADLINE))
		return;
	for (i = 0; i < p->ndeadlines; i++)
		if (p->deadlines[i].piece == piece)
			break;
	if (i < p->ndeadlines) {
		memmove(&p->deadlines[i], &p->deadlines[i + 1],
			(size_t)(p->ndeadlines - i - 1) * sizeof p->deadlines[0]);
		p->ndeadlines--;
	}
	p->flags[piece] &= (uint8_t)~F_DEADLINE;
}

static int
deadline_add(struct picker *p, uint32_t piece, uint64_t when)
{
	struct deadline *d;
	uint32_t lo = 0, hi = p->ndeadlines, mid, n;

	if (p->ndeadlines == p->cap_deadlines) {
		n = p->cap_deadlines ? p->cap_deadlines * 2 : 16;
		d = realloc(p->deadlines, (size_t)n * sizeof *d);
		if (d == NULL)
			return -ERR_NOMEM;
		p->deadlines = d;
		p->cap_deadlines = n;
	}
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		d = &p->deadlines[mid];
		if (d->when < when || (d->when == when && d->piece < piece))
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&p->deadlines[lo + 1], &p->deadlines[lo],
		(size_t)(p->ndeadlines - lo) * sizeof p->deadlines[0]);
	p->deadlines[lo].when = when;
	p->deadlines[lo].piece = piece;
	p->ndeadlines++;
	p->flags[piece] |= F_DEADLINE;
	return 0;
}

struct picker *
picker_new(uint32_t piece_count, uint32_t piece_len, uint64_t total_len, uint64_t seed)
{
	struct picker *p;
	uint64_t before_last;
	uint32_t i, nodes;

	if (piece_count == 0 || piece_count > PICKER_MAX_PIECES || piece_len == 0)
		return NULL;
	before_last = (uint64_t)(piece_count - 1) * piece_len;
	if (total_len <= before_last || total_len - before_last > piece_len)
		return NULL;
	p = calloc(1, sizeof *p);
	if (p == NULL)
		return NULL;
	p->npieces = piece_count;
	p->piece_len = piece_len;
	p->last_len = (uint32_t)(total_len - before_last);
	p->rng = seed;
	nodes = piece_count + NBUCKETS;
	p->next = malloc((size_t)nodes * sizeof *p->next);
	p->prev = malloc((size_t)nodes * sizeof *p->prev);
	p->avail = calloc(piece_count, sizeof *p->avail);
	p->slot = malloc((size_t)piece_count * sizeof *p->slot);
	p->prio = malloc(piece_count);
	p->flags = calloc(piece_count, 1);
	if (p->next == NULL || p->prev == NULL || p->avail == NULL || p->slot == NULL ||
	    p->prio == NULL || p->flags == NULL) {
		picker_free(p);
		return NULL;
	}
	for (i = piece_count; i < nodes; i++)
		p->next[i] = p->prev[i] = i;
	memset(p->slot, 0xff, (size_t)piece_count * sizeof *p->slot);
	memset(p->prio, PICKER_PRIO_NORMAL, piece_count);
	for (i = 0; i < piece_count; i++)
		piece_enter(p, i);
	return p;
}

void
picker_free(struct picker *p)
{
	uint32_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->npartials; i++)
		free(p->partials[i].st);
	free(p->partials);
	free(p->deadlines);
	free(p->next);
	free(p->prev);
	free(p->avail);
	free(p->slot);
	free(p->prio);
	free(p->flags);
	free(p);
}

static uint32_t
gcd32(uint32_t a, uint32_t b)
{
	while (b != 0) {
		uint32_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* Adds delta (+1/-1) to the availability of every piece in bits, in a random order. */
static void
apply_bitfield(struct picker *p, const uint8_t *bits, int delta)
{
	uint32_t n = p->npieces, start, step, i, piece;

	start = (uint32_t)(rng_next(p) % n);
	step = n > 1 ? 1 + (uint32_t)(rng_next(p) % (n - 1)) : 1;
	while (gcd32(step, n) != 1)
		step--; /* ends at 1 at worst */
	piece = start;
	for (i = 0; i < n; i++) {
		if (bit_is_set(bits, piece)) {
			piece_leave(p, piece);
			if (delta > 0 && p->avail[piece] < UINT32_MAX)
				p->avail[piece]++;
			else if (delta < 0 && p->avail[piece] > 0)
				p->avail[piece]--;
			piece_enter(p, piece);
		}
		piece = (uint32_t)(((uint64_t)piece + step) % n);
	}
}

int
picker_peer_have(struct picker *p, uint32_t piece)
{
	if (piece >= p->npieces)
		return -ERR_INVALID;
	if (p->avail[piece] == UINT32_MAX)
		return 0;
	piece_leave(p, piece);
	p->avail[piece]++;
	piece_enter(p, piece);
	return 0;
}

void
picker_peer_bitfield(struct picker *p, const uint8_t *bits)
{
	apply_bitfield(p, bits, 1);
}

void
picker_peer_gone(struct picker *p, const uint8_t *bits)
{
	apply_bitfield(p, bits, -1);
}

int
picker_set_have(struct picker *p, uint32_t piece)
{
	if (piece >= p->npieces)
		return -ERR_INVALID;
	if (p->flags[piece] & F_HAVE)
		return 0;
	piece_leave(p, piece);
	partial_drop(p, piece);
	deadline_drop(p, piece);
	p->flags[piece] |= F_HAVE;
	p->have_count++;
	piece_enter(p, piece);
	return 0;
}

int
picker_piece_failed(struct picker *p, uint32_t piece)
{
	if (piece >= p->npieces)
		return -ERR_INVALID;
	piece_leave(p, piece);
	partial_drop(p, piece);
	if (p->flags[piece] & F_HAVE) {
		p->flags[piece] &= (uint8_t)~F_HAVE;
		p->have_count--;
	}
	piece_enter(p, piece);
	return 0;
}

int
picker_set_priority(struct picker *p, uint32_t piece, unsigned prio)
{
	if (piece >= p->npieces || prio > PICKER_PRIO_MAX)
		return -ERR_INVALID;
	piece_leave(p, piece);
	p->prio[piece] = (uint8_t)prio;
	piece_enter(p, piece);
	return 0;
}

int
picker_set_deadline(struct picker *p, uint32_t piece, uint64_t deadline_ms)
{
	int rc = 0;

	if (piece >= p->npieces)
		return -ERR_INVALID;
	if (p->flags[piece] & F_HAVE)
		return 0;
	piece_leave(p, piece);
	deadline_drop(p, piece);
	if (deadline_ms != 0)
		rc = deadline_add(p, piece, deadline_ms);
	piece_enter(p, piece);
	return rc;
}

/* --- picking ------------------------------------------------------------ */

struct pick {
	struct picker *p;
	const struct picker_peer *peer;
	struct picker_block *out;
	uint32_t max, n;
	uint32_t taken[RANDOM_PROBES]; /* fresh pieces offered by the random phase */
	uint32_t ntaken;
};

static int
full(const struct pick *k)
{
	return k->n >= k->max;
}

/* Returns PICKER_SKIP_PIECE when the caller wants nothing more of this piece. */
static int
emit(struct pick *k, uint32_t piece, uint32_t block)
{
	struct picker_block *b;
	uint32_t size;
	int skip;

	if (k->peer->skip != NULL && (skip = k->peer->skip(k->peer->ctx, piece, block)) != 0)
		return skip;
	size = picker_piece_size(k->p, piece);
	b = &k->out[k->n++];
	b->piece = piece;
	b->block = block;
	b->begin = block * PICKER_BLOCK_SIZE;
	b->length = size - b->begin < PICKER_BLOCK_SIZE ? size - b->begin : PICKER_BLOCK_SIZE;
	return 0;
}

/* Offers the blocks of piece that nobody has been asked for. */
static void
offer_missing(struct pick *k, uint32_t piece)
{
	struct partial *pa = partial_get(k->p, piece, 0);
	uint32_t b, nb;

	if (pa == NULL) {
		nb = picker_block_count(k->p, piece);
		for (b = 0; b < nb && !full(k); b++)
			if (emit(k, piece, b) == PICKER_SKIP_PIECE)
				return;
		return;
	}
	for (b = 0; b < pa->nblocks && pa->missing > 0 && !full(k); b++)
		if (pa->st[b] == 0 && emit(k, piece, b) == PICKER_SKIP_PIECE)
			return;
}

static int
dup_candidate(uint8_t st)
{
	return st >= 1 && st < PICKER_MAX_DUPLICATES;
}

/* Offers blocks already requested elsewhere (endgame, overdue deadline). */
static void
offer_dups(struct pick *k, uint32_t piece)
{
	struct partial *pa = partial_get(k->p, piece, 0);
	uint32_t b;

	if (pa == NULL)
		return;
	for (b = 0; b < pa->nblocks && !full(k); b++)
		if (dup_candidate(pa->st[b]) && emit(k, piece, b) == PICKER_SKIP_PIECE)
			return;
}

/*
 * Pieces with a deadline, earliest first. Overdue ones get duplicates when
 * urgent (PICKER_PRIO_MAX: somebody is blocked on them); of the others,
 * outside endgame, only the first PICKER_DUP_DEADLINES (whoever has them):
 * when a whole readahead window falls overdue at once (its reader sped up,
 * the peers slowed down), duplicating all of it would spend the peers'
 * upload on blocks already on their way and make the rest later still.
 */
static void
pick_deadlines(struct pick *k, int endgame, uint64_t now_ms)
{
	struct picker *p = k->p;
	uint32_t i, piece, overdue = 0;

	for (i = 0; i < p->ndeadlines && !full(k); i++) {
		int dup;

		piece = p->deadlines[i].piece;
		if (p->prio[piece] == 0)
			continue;
		dup = endgame ||
		      (p->deadlines[i].when <= now_ms &&
		       (p->prio[piece] == PICKER_PRIO_MAX || overdue++ < PICKER_DUP_DEADLINES));
		if (!bit_is_set(k->peer->bits, piece))
			continue;
		offer_missing(k, piece);
		if (dup)
			offer_dups(k, piece);
	}
}

static void
pick_partials(struct pick *k, unsigned prio)
{
	struct picker *p = k->p;
	uint32_t i, piece;

	for (i = 0; i < p->npartials && !full(k); i++) {
		piece = p->partials[i].piece;
		if (p->prio[piece] != prio || (p->flags[piece] & F_DEADLINE) ||
		    !bit_is_set(k->peer->bits, piece))
			continue;
		offer_missing(k, piece);
	}
}

static int
taken(const struct pick *k, uint32_t piece)
{
	uint32_t i;

	for (i = 0; i < k->ntaken; i++)
		if (k->taken[i] == piece)
			return 1;
	return 0;
}

/*
 * Until a few pieces are complete, rarity matters less than finishing
 * something to trade: try a bounded number of random pieces of this
 * priority. Probing instead of scanning keeps the cost fixed; when probes
 * miss, the rarest-first scan below fills in.
 */
static void
pick_random(struct pick *k, unsigned prio)
{
	struct picker *p = k->p;
	uint32_t t, piece;

	k->ntaken = 0; /* only this priority's rarest scan, which runs next, consults it */
	if (p->have_count >= PICKER_RANDOM_FIRST || p->linked[prio] == 0)
		return;
	for (t = 0; t < RANDOM_PROBES && !full(k); t++) {
		piece = (uint32_t)(rng_next(p) % p->npieces);
		if (!(p->flags[piece] & F_LINKED) || p->prio[piece] != prio ||
		    p->avail[piece] == 0 || !bit_is_set(k->peer->bits, piece) || taken(k, piece))
			continue;
		k->taken[k->ntaken++] = piece;
		offer_missing(k, piece);
	}
}

/* Rarest first: walk this priority's non-empty buckets from availability 1 up. */
static void
pick_rarest(struct pick *k, unsigned prio)
{
	struct picker *p = k->p;
	uint32_t base = (uint32_t)(PICKER_PRIO_MAX - prio) * PICKER_AVAIL_BUCKETS;
	uint32_t w, b, s, piece;
	uint64_t word;

	if (p->linked[prio] == 0)
		return;
	for (w = base / 64; w < (base + PICKER_AVAIL_BUCKETS) / 64 && !full(k); w++) {
		word = p->nonempty[w];
		if (w == base / 64)
			word &= ~(uint64_t)1; /* availability 0: no peer has it */
		while (word != 0 && !full(k)) {
			b = w * 64 + (uint32_t)__builtin_ctzll(word);
			word &= word - 1;
			s = p->npieces + b;
			for (piece = p->next[s]; piece != s && !full(k); piece = p->next[piece])
				if (bit_is_set(k->peer->bits, piece) && !taken(k, piece))
					offer_missing(k, piece);
		}
	}
}

/* Endgame: duplicate requests, blocks with the fewest requests out first. */
static void
pick_endgame(struct pick *k)
{
	struct picker *p = k->p;
	uint32_t i, b, piece;
	unsigned c;

	for (c = 1; c < PICKER_MAX_DUPLICATES && !full(k); c++) {
		for (i = 0; i < p->npartials && !full(k); i++) {
			struct partial *pa = &p->partials[i];

			piece = pa->piece;
			if (p->prio[piece] == 0 || (p->flags[piece] & F_DEADLINE) ||
			    !bit_is_set(k->peer->bits, piece))
				continue;
			for (b = 0; b < pa->nblocks && !full(k); b++)
				if (pa->st[b] == c)
					emit(k, piece, b);
		}
	}
}

int
picker_pick_peer(struct picker *p, const struct picker_peer *peer, uint32_t max,
		 struct picker_block *out, uint64_t now_ms)
{
	static const struct picker_peer seed = {.bits = NULL};
	struct pick k = {.p = p, .peer = peer != NULL ? peer : &seed, .out = out, .max = max};
	int endgame = picker_in_endgame(p);
	unsigned prio;

	pick_deadlines(&k, endgame, now_ms);
	for (prio = PICKER_PRIO_MAX; prio >= 1 && !full(&k); prio--) {
		pick_partials(&k, prio);
		if (k.peer->partials_only)
			continue;
		pick_random(&k, prio);
		pick_rarest(&k, prio);
	}
	if (endgame && !full(&k))
		pick_endgame(&k);
	return (int)k.n;
}

int
picker_pick(struct picker *p, const uint8_t *peer_bits, uint32_t max, struct picker_block *out,
	    uint64_t now_ms)
{
	struct picker_peer peer = {.bits = peer_bits};

	return picker_pick_peer(p, &peer, max, out, now_ms);
}

/* --- request bookkeeping -------------------------------------------------- */

static int
block_ok(const struct picker *p, uint32_t piece, uint32_t block)
{
	return piece < p->npieces && block < picker_block_count(p, piece);
}

int
picker_block_requested(struct picker *p, uint32_t piece, uint32_t block)
{
	struct partial *pa;
	int rc = 0;

	if (!block_ok(p, piece, block) || (p->flags[piece] & F_HAVE))
		return -ERR_INVALID;
	piece_leave(p, piece);
	pa = partial_get(p, piece, 1);
	if (pa == NULL)
		rc = -ERR_NOMEM;
	else if (pa->st[block] == RECEIVED)
		rc = -ERR_INVALID;
	else if (pa->st[block] >= PICKER_MAX_REQUESTS)
		rc = -ERR_LIMIT;
	else if (pa->st[block]++ == 0)
		pa->missing--;
	piece_enter(p, piece);
	return rc;
}

int
picker_block_received(struct picker *p, uint32_t piece, uint32_t block)
{
	struct partial *pa;
	int rc;

	if (!block_ok(p, piece, block))
		return -ERR_INVALID;
	if (p->flags[piece] & F_HAVE)
		return PICKER_DUPLICATE;
	piece_leave(p, piece);
	pa = partial_get(p, piece, 1);
	if (pa == NULL) {
		rc = -ERR_NOMEM;
	} else if (pa->st[block] == RECEIVED) {
		rc = PICKER_DUPLICATE;
	} else {
		if (pa->st[block] == 0)
			pa->missing--;
		pa->st[block] = RECEIVED;
		pa->received++;
		rc = pa->received == pa->nblocks ? PICKER_COMPLETE : PICKER_INCOMPLETE;
	}
	piece_enter(p, piece);
	return rc;
}

int
picker_block_cancelled(struct picker *p, uint32_t piece, uint32_t block)
{
	struct partial *pa;

	if (!block_ok(p, piece, block))
		return -ERR_INVALID;
	if (p->flags[piece] & F_HAVE)
		return 0;
	pa = partial_get(p, piece, 0);
	if (pa == NULL || pa->st[block] == 0 || pa->st[block] == RECEIVED)
		return 0;
	piece_leave(p, piece);
	if (--pa->st[block] == 0)
		pa->missing++;
	piece_enter(p, piece);
	return 0;
}

int
picker_block_timed_out(struct picker *p, uint32_t piece, uint32_t block)
{
	return picker_block_cancelled(p, piece, block);
}

/* --- queries -------------------------------------------------------------- */

int
picker_in_endgame(const struct picker *p)
{
	return p->wanted_left > 0 && p->fresh_wanted == 0 && p->missing_wanted == 0;
}

uint32_t
picker_deadline_count(const struct picker *p)
{
	return p->ndeadlines;
}

unsigned
picker_queue_depth(double rate, double rtt_s, double seconds, unsigned lo, unsigned hi)
{
	double d = rate * (rtt_s + seconds) / PICKER_BLOCK_SIZE;

	if (d < (double)lo)
		return lo;
	return d < (double)hi ? (unsigned)d : hi;
}

unsigned
picker_queue_probe(unsigned probe, uint64_t backlog_ms, double seconds, unsigned hi)
{
	double b = (double)backlog_ms / 1000.0;

	if (b > seconds)
		return 0;
	if (b < seconds / 2 && probe < hi)
		return probe + 1;
	return probe < hi ? probe : hi;
}

int
picker_complete(const struct picker *p)
{
	return p->wanted_left == 0;
}

int
picker_has(const struct picker *p, uint32_t piece)
{
	return piece < p->npieces && (p->flags[piece] & F_HAVE) != 0;
}

uint32_t
picker_have_count(const struct picker *p)
{
	return p->have_count;
}

uint32_t
picker_availability(const struct picker *p, uint32_t piece)
{
	return piece < p->npieces ? p->avail[piece] : 0;
}

unsigned
picker_priority(const struct picker *p, uint32_t piece)
{
	return piece < p->npieces ? p->prio[piece] : 0;
}
