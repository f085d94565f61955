/*
 * stream: per-piece holder counts and per-reader readahead windows (see
 * stream.h for the model).
 *
 * Held pieces live in an open-addressing hash table keyed by piece index
 * (linear probing, deletion by backward shift, so no tombstones pile up
 * while windows slide). A torrent can have millions of pieces but only the
 * few thousand under readers' windows and parked reads are ever held, so a
 * table sized by what is held beats an array sized by the torrent.
 * Growing is the only allocation; it happens before any change, so a
 * failed hold leaves everything as it was.
 *
 * A reader's window is a contiguous piece range; when it moves, only the
 * pieces entering and leaving it are touched, so a sequential reader costs
 * O(pieces crossed), not O(window), per read.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

#define EMPTY UINT32_MAX

struct held {
	uint32_t piece; /* EMPTY for a free slot */
	uint32_t count[STREAM_PRIO_LEVELS];
	uint64_t deadline; /* earliest asked for; 0 = none */
};

struct stream {
	uint32_t piece_count;
	uint32_t piece_len;
	uint64_t total;
	unsigned base;
	const struct stream_ops *ops;
	void *ctx;
	struct held *tab;
	uint32_t cap; /* power of two */
	uint32_t used;
};

struct stream_reader {
	struct stream *s;
	uint64_t start, end; /* the file's bytes in the torrent stream */
	int edges;	     /* head and tail are held */
	uint32_t head_first, head_last, tail_first, tail_last;
	uint32_t wfirst, wend; /* window [wfirst, wend), held at STREAM_PRIO_AHEAD */
	int have_pos;
	uint64_t pos; /* end of the furthest read since the last seek */
	double rate;
	uint64_t acc_bytes, acc_start_ms;
};

static uint32_t
slot_of(const struct stream *s, uint32_t piece)
{
	/* Fibonacci hashing: neighbouring pieces land far apart. */
	return (uint32_t)(((uint64_t)piece * 0x9E3779B97F4A7C15ull) >> 32) & (s->cap - 1);
}

static struct held *
find(const struct stream *s, uint32_t piece)
{
	uint32_t i = slot_of(s, piece);

	while (s->tab[i].piece != EMPTY) {
		if (s->tab[i].piece == piece)
			return &s->tab[i];
		i = (i + 1) & (s->cap - 1);
	}
	return NULL;
}

static int
resize(struct stream *s, uint32_t cap)
{
	struct held *old = s->tab, *tab;
	uint32_t oldcap = s->cap, i;

	if ((tab = malloc((size_t)cap * sizeof *tab)) == NULL)
		return -ENOMEM;
	for (i = 0; i < cap; i++)
		tab[i].piece = EMPTY;
	s->tab = tab;
	s->cap = cap;
	for (i = 0; i < oldcap; i++) {
		if (old[i].piece != EMPTY) {
			uint32_t j = slot_of(s, old[i].piece);

			while (tab[j].piece != EMPTY)
				j = (j + 1) & (cap - 1);
			tab[j] = old[i];
		}
	}
	free(old);
	return 0;
}

/* Makes room for n more entries at a load factor of at most 1/2. */
static int
reserve(struct stream *s, uint64_t n)
{
	uint64_t need = (uint64_t)s->used + n, cap = s->cap;

	if (need > s->piece_count)
		need = s->piece_count;
	while (need * 2 > cap)
		cap *= 2;
	if (cap > (1ull << 31))
		return -ENOMEM;
	return cap == s->cap ? 0 : resize(s, (uint32_t)cap);
}

/* Removes the entry at e, shifting later members of its probe run back. */
static void
remove_entry(struct stream *s, struct held *e)
{
	uint32_t i = (uint32_t)(e - s->tab), j = i;

	s->tab[i].piece = EMPTY;
	s->used--;
	for (;;) {
		uint32_t home;

		j = (j + 1) & (s->cap - 1);
		if (s->tab[j].piece == EMPTY)
			return;
		home = slot_of(s, s->tab[j].piece);
		/* Move j into the hole at i unless its home lies cyclically in (i, j]. */
		if ((i <= j) ? (home <= i || home > j) : (home <= i && home > j)) {
			s->tab[i] = s->tab[j];
			s->tab[j].piece = EMPTY;
			i = j;
		}
	}
}

static unsigned
effective(const struct stream *s, const struct held *e)
{
	unsigned p;

	for (p = STREAM_PRIO_LEVELS - 1; p > s->base; p--)
		if (e->count[p] > 0)
			return p;
	return s->base;
}

/* One holder more on one piece; room must be reserved. 1 if raised. */
static int
hold_one(struct stream *s, uint32_t piece, unsigned prio, uint64_t deadline)
{
	struct held *e;
	unsigned before, after;
	int raised = 0;

	if (s->ops->has_piece(s->ctx, piece))
		return 0;
	if ((e = find(s, piece)) == NULL) {
		uint32_t i = slot_of(s, piece);

		while (s->tab[i].piece != EMPTY)
			i = (i + 1) & (s->cap - 1);
		e = &s->tab[i];
		memset(e, 0, sizeof *e);
		e->piece = piece;
		s->used++;
	}
	before = effective(s, e);
	e->count[prio]++;
	after = effective(s, e);
	if (after != before) {
		s->ops->set_priority(s->ctx, piece, after);
		raised = 1;
	}
	if (deadline != 0 && (e->deadline == 0 || deadline < e->deadline)) {
		e->deadline = deadline;
		s->ops->set_deadline(s->ctx, piece, deadline);
		raised = 1;
	}
	return raised;
}

static void
release_one(struct stream *s, uint32_t piece, unsigned prio)
{
	struct held *e = find(s, piece);
	unsigned before, after, p;

	if (e == NULL || e->count[prio] == 0)
		return;
	before = effective(s, e);
	e->count[prio]--;
	for (p = 0; p < STREAM_PRIO_LEVELS; p++)
		if (e->count[p] > 0)
			break;
	if (p == STREAM_PRIO_LEVELS) {
		uint64_t deadline = e->deadline;

		remove_entry(s, e);
		if (before != s->base)
			s->ops->set_priority(s->ctx, piece, s->base);
		if (deadline != 0)
			s->ops->set_deadline(s->ctx, piece, 0);
		return;
	}
	after = effective(s, e);
	if (after != before)
		s->ops->set_priority(s->ctx, piece, after);
}

struct stream *
stream_new(uint32_t piece_count, uint32_t piece_len, uint64_t total, unsigned base_prio,
	   const struct stream_ops *ops, void *ctx)
{
	struct stream *s;

	if (piece_count == 0 || piece_count == EMPTY || piece_len == 0 ||
	    base_prio >= STREAM_PRIO_AHEAD || ops == NULL ||
	    (total + piece_len - 1) / piece_len != piece_count)
		return NULL;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return NULL;
	s->piece_count = piece_count;
	s->piece_len = piece_len;
	s->total = total;
	s->base = base_prio;
	s->ops = ops;
	s->ctx = ctx;
	if (resize(s, 64) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

void
stream_free(struct stream *s)
{
	if (s == NULL)
		return;
	free(s->tab);
	free(s);
}

int
stream_hold(struct stream *s, uint32_t first, uint32_t last, unsigned prio, uint64_t deadline_ms)
{
	uint32_t i;
	int raised = 0;

	if (last >= s->piece_count)
		last = s->piece_count - 1;
	if (first > last || prio == 0 || prio >= STREAM_PRIO_LEVELS)
		return 0;
	if (reserve(s, (uint64_t)last - first + 1) < 0)
		return -ENOMEM;
	for (i = first;; i++) {
		raised += hold_one(s, i, prio, deadline_ms);
		if (i == last)
			break;
	}
	return raised;
}

void
stream_release(struct stream *s, uint32_t first, uint32_t last, unsigned prio)
{
	uint32_t i;

	if (last >= s->piece_count)
		last = s->piece_count - 1;
	if (first > last || prio == 0 || prio >= STREAM_PRIO_LEVELS)
		return;
	for (i = first;; i++) {
		release_one(s, i, prio);
		if (i == last)
			break;
	}
}

void
stream_piece_verified(struct stream *s, uint32_t piece)
{
	struct held *e;

	if (s != NULL && (e = find(s, piece)) != NULL)
		remove_entry(s, e);
}

unsigned
stream_priority(const struct stream *s, uint32_t piece)
{
	const struct held *e = find(s, piece);

	return e == NULL ? s->base : effective(s, e);
}

uint32_t
stream_held_count(const struct stream *s)
{
	return s->used;
}

/* ---- readers --------------------------------------------------------------- */

static uint32_t
piece_at(const struct stream *s, uint64_t off)
{
	return (uint32_t)(off / s->piece_len);
}

struct stream_reader *
stream_reader_new(struct stream *s, uint64_t start, uint64_t len, uint64_t now_ms, int *raised)
{
	struct stream_reader *r;
	uint64_t end = start + len, edge;
	int n1, n2;

	if (raised != NULL)
		*raised = 0;
	if ((r = calloc(1, sizeof *r)) == NULL)
		return NULL;
	r->s = s;
	r->start = start;
	r->end = end > s->total ? s->total : end;
	if (r->end <= r->start)
		return r; /* an empty file: nothing to fetch */
	edge = r->end - r->start < STREAM_EDGE_BYTES ? r->end - r->start : STREAM_EDGE_BYTES;
	r->head_first = piece_at(s, r->start);
	r->head_last = piece_at(s, r->start + edge - 1);
	r->tail_first = piece_at(s, r->end - edge);
	r->tail_last = piece_at(s, r->end - 1);
	if ((n1 = stream_hold(s, r->head_first, r->head_last, STREAM_PRIO_AHEAD,
			      now_ms + STREAM_EDGE_DEADLINE_MS)) < 0) {
		free(r);
		return NULL;
	}
	if ((n2 = stream_hold(s, r->tail_first, r->tail_last, STREAM_PRIO_AHEAD,
			      now_ms + STREAM_EDGE_DEADLINE_MS)) < 0) {
		stream_release(s, r->head_first, r->head_last, STREAM_PRIO_AHEAD);
		free(r);
		return NULL;
	}
	r->edges = 1;
	if (raised != NULL)
		*raised = n1 + n2 > 0;
	return r;
}

static uint64_t
window_bytes(const struct stream_reader *r)
{
	const struct stream *s = r->s;
	uint64_t two = 2 * (uint64_t)s->piece_len;
	uint64_t lo = two > STREAM_WINDOW_MIN ? two : STREAM_WINDOW_MIN;
	uint64_t hi = two > STREAM_WINDOW_MAX ? two : STREAM_WINDOW_MAX;
	double want = r->rate * STREAM_WINDOW_SECS;

	if (want <= (double)lo)
		return lo;
	if (want >= (double)hi)
		return hi;
	return (uint64_t)want;
}

/* Holds [first, end) at STREAM_PRIO_AHEAD, deadlines at the reader's pace. */
static int
hold_ahead(struct stream_reader *r, uint32_t first, uint32_t end, uint64_t now_ms)
{
	struct stream *s = r->s;
	double rate = r->rate > STREAM_RATE_FLOOR ? r->rate : STREAM_RATE_FLOOR;
	uint32_t i;
	int raised = 0;

	if (first >= end)
		return 0;
	if (reserve(s, (uint64_t)end - first) < 0)
		return -ENOMEM;
	for (i = first; i < end; i++) {
		uint64_t at = (uint64_t)i * s->piece_len;
		uint64_t dist = at > r->pos ? at - r->pos : 0;
		uint64_t eta = (uint64_t)((double)dist * 1000.0 / rate);

		raised += hold_one(s, i, STREAM_PRIO_AHEAD, now_ms + STREAM_AHEAD_SLACK_MS + eta);
	}
	return raised;
}

static void
release_ahead(struct stream_reader *r, uint32_t first, uint32_t end)
{
	if (first < end)
		stream_release(r->s, first, end - 1, STREAM_PRIO_AHEAD);
}

static uint32_t
min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint32_t
max32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* Moves the window to [nf, ne), touching only pieces that enter or leave it. */
static int
move_window(struct stream_reader *r, uint32_t nf, uint32_t ne, uint64_t now_ms)
{
	uint32_t of = r->wfirst, oe = r->wend;
	int a, b;

	if (nf >= ne)
		nf = ne = 0;
	if (nf == of && ne == oe)
		return 0;
	if (of >= oe) { /* no window yet */
		if ((a = hold_ahead(r, nf, ne, now_ms)) < 0)
			return 0;
		r->wfirst = nf;
		r->wend = ne;
		return a > 0;
	}
	/* New pieces: [nf, min(ne, of)) and [max(nf, oe), ne). */
	if ((a = hold_ahead(r, nf, min32(ne, of), now_ms)) < 0)
		return 0;
	if ((b = hold_ahead(r, max32(nf, oe), ne, now_ms)) < 0) {
		release_ahead(r, nf, min32(ne, of));
		return 0;
	}
	/* Leaving: [of, min(oe, nf)) and [max(of, ne), oe). */
	release_ahead(r, of, min32(oe, nf));
	release_ahead(r, max32(of, ne), oe);
	r->wfirst = nf;
	r->wend = ne;
	return a + b > 0;
}

int
stream_reader_read(struct stream_reader *r, uint64_t off, uint64_t len, uint64_t now_ms)
{
	struct stream *s = r->s;
	uint64_t slack = s->piece_len > STREAM_SEQ_SLACK ? s->piece_len : STREAM_SEQ_SLACK;
	uint64_t end = off + len, wend;
	uint32_t nf, ne;

	if (r->end <= r->start)
		return 0;
	if (r->have_pos && off <= r->pos + slack && end + slack >= r->pos) {
		uint64_t elapsed = now_ms - r->acc_start_ms;

		if (end > r->pos)
			r->pos = end;
		r->acc_bytes += len;
		if (elapsed >= (r->rate > 0 ? STREAM_RATE_PERIOD_MS : STREAM_RATE_FIRST_MS)) {
			double inst = (double)r->acc_bytes * 1000.0 / (double)elapsed;

			r->rate = r->rate > 0 ? (r->rate + inst) / 2 : inst;
			r->acc_bytes = 0;
			r->acc_start_ms = now_ms;
		}
	} else {
		/* First read or a seek: the window jumps; the pace is kept. */
		r->have_pos = 1;
		r->pos = end;
		r->acc_bytes = len;
		r->acc_start_ms = now_ms;
	}
	if (r->pos < r->start)
		r->pos = r->start;
	if (r->pos >= r->end)
		return move_window(r, 0, 0, now_ms);
	wend = r->pos + window_bytes(r);
	if (wend > r->end)
		wend = r->end;
	nf = piece_at(s, r->pos);
	ne = piece_at(s, wend - 1) + 1;
	return move_window(r, nf, ne, now_ms);
}

void
stream_reader_free(struct stream_reader *r)
{
	if (r == NULL)
		return;
	release_ahead(r, r->wfirst, r->wend);
	if (r->edges) {
		stream_release(r->s, r->head_first, r->head_last, STREAM_PRIO_AHEAD);
		stream_release(r->s, r->tail_first, r->tail_last, STREAM_PRIO_AHEAD);
	}
	free(r);
}

void
stream_reader_window(const struct stream_reader *r, uint32_t *first, uint32_t *end)
{
	*first = r->wfirst;
	*end = r->wend;
}

double
stream_reader_rate(const struct stream_reader *r)
{
	return r->rate;
}
