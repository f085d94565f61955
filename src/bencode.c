/*
 * bencode: recursive-descent decoder with explicit depth and node caps, and
 * an append-only encoder.
 *
 * Containers collect children in a growing array (doubling), so the tree
 * costs O(nodes) memory. Dictionary keys are accepted in any order, as
 * libtorrent and Transmission do, but sorted afterwards so that lookups
 * are binary searches and duplicate keys (an ambiguity an attacker could
 * use to make two clients see different torrents) can be refused.
 */
#include "bencode.h"

#include <stdlib.h>
#include <string.h>

struct decoder {
	const uint8_t *base;
	const uint8_t *p;
	const uint8_t *end;
	struct bencode_limits lim;
	size_t nodes;
	struct error *err;
};

static void node_clear(struct bencode *v);

static long long
offset_of(const struct decoder *d, const uint8_t *at)
{
	return (long long)(at - d->base);
}

/* Parses a decimal run ending at `term`; for integers a leading '-' is allowed. */
static int
parse_decimal(struct decoder *d, int term, int allow_sign, int64_t *out)
{
	const uint8_t *start = d->p;
	int neg = 0;
	uint64_t v = 0, limit;
	size_t digits = 0;

	if (allow_sign && d->p < d->end && *d->p == '-') {
		neg = 1;
		d->p++;
	}
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	while (d->p < d->end && *d->p >= '0' && *d->p <= '9') {
		unsigned dig = (unsigned)(*d->p - '0');

		if (digits == 1 && v == 0)
			return error_set(d->err, ERR_SYNTAX, offset_of(d, start),
					 "leading zero in number at offset %lld",
					 offset_of(d, start));
		if (v > (limit - dig) / 10)
			return error_set(d->err, ERR_LIMIT, offset_of(d, start),
					 "number overflows 64 bits at offset %lld",
					 offset_of(d, start));
		v = v * 10 + dig;
		digits++;
		d->p++;
	}
	if (digits == 0)
		return error_set(d->err, ERR_SYNTAX, offset_of(d, d->p),
				 "expected a digit at offset %lld", offset_of(d, d->p));
	if (neg && v == 0)
		return error_set(d->err, ERR_SYNTAX, offset_of(d, start),
				 "negative zero at offset %lld", offset_of(d, start));
	if (d->p >= d->end)
		return error_set(d->err, ERR_SYNTAX, offset_of(d, d->p),
				 "input ends inside a number at offset %lld", offset_of(d, d->p));
	if (*d->p != term)
		return error_set(d->err, ERR_SYNTAX, offset_of(d, d->p),
				 "expected '%c' at offset %lld", term, offset_of(d, d->p));
	d->p++;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static int
decode_str(struct decoder *d, const uint8_t **s, size_t *len)
{
	const uint8_t *start = d->p;
	int64_t n;
	int rc;

	if ((rc = parse_decimal(d, ':', 0, &n)) < 0)
		return rc;
	if ((uint64_t)n > (uint64_t)(d->end - d->p))
		return error_set(
		    d->err, ERR_SYNTAX, offset_of(d, start),
		    "string of %lld bytes at offset %lld runs past the end of the input",
		    (long long)n, offset_of(d, start));
	*s = d->p;
	*len = (size_t)n;
	d->p += n;
	return 0;
}

static int
key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct bencode_entry *x = a, *y = b;

	return key_cmp(x->key, x->key_len, y->key, y->key_len);
}

/* Grows *arr (element size sz) to hold at least n+1 elements. */
static int
grow(void **arr, size_t *cap, size_t n, size_t sz)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 4;
	p = realloc(*arr, ncap * sz);
	if (p == NULL)
		return -ERR_NOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int decode_value(struct decoder *d, struct bencode *v, unsigned depth);

static int
decode_list(struct decoder *d, struct bencode *v, unsigned depth)
{
	struct bencode *items = NULL;
	size_t n = 0, cap = 0;
	int rc;

	d->p++; /* 'l' */
	for (;;) {
		if (d->p >= d->end) {
			rc = error_set(d->err, ERR_SYNTAX, offset_of(d, d->p),
				       "input ends inside a list started at offset %lld",
				       offset_of(d, v->raw));
			goto fail;
		}
		if (*d->p == 'e')
			break;
		if ((rc = grow((void **)&items, &cap, n, sizeof *items)) < 0) {
			error_set(d->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
			goto fail;
		}
		if ((rc = decode_value(d, &items[n], depth + 1)) < 0)
			goto fail;
		n++;
	}
	d->p++;
	v->u.list.items = items;
	v->u.list.n = n;
	return 0;
fail:
	while (n > 0)
		node_clear(&items[--n]);
	free(items);
	return rc;
}

static int
decode_dict(struct decoder *d, struct bencode *v, unsigned depth)
{
	struct bencode_entry *items = NULL;
	size_t n = 0, cap = 0, i;
	int rc, sorted = 1;

	d->p++; /* 'd' */
	for (;;) {
		const uint8_t *kstart = d->p;
		struct bencode *val;

		if (d->p >= d->end) {
			rc = error_set(d->err, ERR_SYNTAX, offset_of(d, d->p),
				       "input ends inside a dictionary started at offset %lld",
				       offset_of(d, v->raw));
			goto fail;
		}
		if (*d->p == 'e')
			break;
		if (*d->p < '0' || *d->p > '9') {
			rc = error_set(d->err, ERR_SYNTAX, offset_of(d, d->p),
				       "dictionary key at offset %lld is not a string",
				       offset_of(d, d->p));
			goto fail;
		}
		if ((rc = grow((void **)&items, &cap, n, sizeof *items)) < 0) {
			error_set(d->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
			goto fail;
		}
		if ((rc = decode_str(d, &items[n].key, &items[n].key_len)) < 0)
			goto fail;
		if (n > 0 && sorted &&
		    key_cmp(items[n - 1].key, items[n - 1].key_len, items[n].key,
			    items[n].key_len) >= 0)
			sorted = 0;
		if (d->p >= d->end) {
			rc = error_set(d->err, ERR_SYNTAX, offset_of(d, d->p),
				       "dictionary key at offset %lld has no value",
				       offset_of(d, kstart));
			goto fail;
		}
		if ((val = calloc(1, sizeof *val)) == NULL) {
			rc = error_set(d->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
			goto fail;
		}
		items[n].val = val;
		n++;
		if ((rc = decode_value(d, val, depth + 1)) < 0)
			goto fail;
	}
	d->p++;
	if (!sorted) {
		qsort(items, n, sizeof *items, entry_cmp);
		for (i = 1; i < n; i++) {
			if (entry_cmp(&items[i - 1], &items[i]) == 0) {
				/* qsort is not stable: name the later of the two. */
				const uint8_t *at = items[i].key > items[i - 1].key
							? items[i].key
							: items[i - 1].key;

				rc = error_set(d->err, ERR_INVALID, offset_of(d, at),
					       "duplicate dictionary key at offset %lld",
					       offset_of(d, at));
				goto fail;
			}
		}
	}
	v->u.dict.items = items;
	v->u.dict.n = n;
	return 0;
fail:
	while (n > 0) {
		n--;
		node_clear(items[n].val);
		free(items[n].val);
	}
	free(items);
	return rc;
}

static int
decode_value(struct decoder *d, struct bencode *v, unsigned depth)
{
	int rc;

	memset(v, 0, sizeof *v);
	v->raw = d->p;
	if (d->p >= d->end)
		return error_set(d->err, ERR_SYNTAX, offset_of(d, d->p),
				 "input ends where a value was expected at offset %lld",
				 offset_of(d, d->p));
	if (++d->nodes > d->lim.max_nodes)
		return error_set(d->err, ERR_LIMIT, offset_of(d, d->p),
				 "more than %zu values (at offset %lld)", d->lim.max_nodes,
				 offset_of(d, d->p));
	switch (*d->p) {
	case 'i':
		d->p++;
		v->type = BENCODE_INT;
		rc = parse_decimal(d, 'e', 1, &v->u.i);
		break;
	case 'l':
	case 'd':
		if (depth >= d->lim.max_depth)
			return error_set(d->err, ERR_LIMIT, offset_of(d, d->p),
					 "nesting deeper than %u at offset %lld", d->lim.max_depth,
					 offset_of(d, d->p));
		if (*d->p == 'l') {
			v->type = BENCODE_LIST;
			rc = decode_list(d, v, depth);
		} else {
			v->type = BENCODE_DICT;
			rc = decode_dict(d, v, depth);
		}
		break;
	default:
		if (*d->p >= '0' && *d->p <= '9') {
			v->type = BENCODE_STR;
			rc = decode_str(d, &v->u.str.p, &v->u.str.len);
		} else {
			rc = error_set(d->err, ERR_SYNTAX, offset_of(d, d->p),
				       "unexpected byte 0x%02x at offset %lld", *d->p,
				       offset_of(d, d->p));
		}
		break;
	}
	if (rc < 0) {
		v->type = 0; /* nothing left to free: the container freed its children */
		return rc;
	}
	v->raw_len = (size_t)(d->p - v->raw);
	return 0;
}

static void
node_clear(struct bencode *v)
{
	size_t i;

	if (v == NULL)
		return;
	if (v->type == BENCODE_LIST) {
		for (i = 0; i < v->u.list.n; i++)
			node_clear(&v->u.list.items[i]);
		free(v->u.list.items);
	} else if (v->type == BENCODE_DICT) {
		for (i = 0; i < v->u.dict.n; i++) {
			node_clear(v->u.dict.items[i].val);
			free(v->u.dict.items[i].val);
		}
		free(v->u.dict.items);
	}
	v->type = 0;
}

struct bencode *
bencode_decode_prefix(const uint8_t *p, size_t n, const struct bencode_limits *limits, size_t *used,
		      struct error *err)
{
	struct decoder d;
	struct bencode *root;

	d.base = d.p = p;
	d.end = p + n;
	d.lim.max_depth = limits ? limits->max_depth : BENCODE_DEFAULT_DEPTH;
	d.lim.max_nodes = limits ? limits->max_nodes : BENCODE_DEFAULT_NODES;
	d.nodes = 0;
	d.err = err;
	if (p == NULL && n > 0) {
		error_set(err, ERR_INVALID, ERROR_NO_OFFSET, "no input");
		return NULL;
	}
	if ((root = calloc(1, sizeof *root)) == NULL) {
		error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		return NULL;
	}
	if (decode_value(&d, root, 0) < 0) {
		free(root);
		return NULL;
	}
	if (used != NULL)
		*used = (size_t)(d.p - p);
	return root;
}

struct bencode *
bencode_decode(const uint8_t *p, size_t n, const struct bencode_limits *limits, struct error *err)
{
	struct bencode *root;
	size_t used;

	if (n == 0) {
		error_set(err, ERR_SYNTAX, 0, "empty input");
		return NULL;
	}
	root = bencode_decode_prefix(p, n, limits, &used, err);
	if (root != NULL && used != n) {
		error_set(err, ERR_SYNTAX, (long long)used,
			  "trailing data after the value at offset %zu", used);
		bencode_free(root);
		return NULL;
	}
	return root;
}

void
bencode_free(struct bencode *root)
{
	if (root == NULL)
		return;
	node_clear(root);
	free(root);
}

struct bencode *
bencode_dict_get(const struct bencode *dict, const char *key)
{
	size_t lo = 0, hi, klen = strlen(key);

	if (dict == NULL || dict->type != BENCODE_DICT)
		return NULL;
	hi = dict->u.dict.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct bencode_entry *e = &dict->u.dict.items[mid];
		int c = key_cmp(e->key, e->key_len, (const uint8_t *)key, klen);

		if (c == 0)
			return e->val;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct bencode *
bencode_dict_get_type(const struct bencode *dict, const char *key, enum bencode_type type)
{
	struct bencode *v = bencode_dict_get(dict, key);

	return (v != NULL && v->type == type) ? v : NULL;
}

int
bencode_str_eq(const struct bencode *s, const char *cstr)
{
	size_t n = strlen(cstr);

	return s != NULL && s->type == BENCODE_STR && s->u.str.len == n &&
	       (n == 0 || memcmp(s->u.str.p, cstr, n) == 0);
}

const char *
bencode_type_name(enum bencode_type type)
{
	switch (type) {
	case BENCODE_INT:
		return "integer";
	case BENCODE_STR:
		return "string";
	case BENCODE_LIST:
		return "list";
	case BENCODE_DICT:
		return "dictionary";
	}
	return "nothing";
}

int
bencode_put_int(struct buf *b, int64_t v)
{
	return buf_printf(b, "i%llde", (long long)v);
}

int
bencode_put_str(struct buf *b, const void *p, size_t n)
{
	int rc;

	if ((rc = buf_printf(b, "%zu:", n)) < 0)
		return rc;
	return buf_append(b, p, n);
}

int
bencode_put_cstr(struct buf *b, const char *s)
{
	return bencode_put_str(b, s, strlen(s));
}

int
bencode_put_list(struct buf *b)
{
	return buf_putc(b, 'l');
}

int
bencode_put_dict(struct buf *b)
{
	return buf_putc(b, 'd');
}

int
bencode_put_end(struct buf *b)
{
	return buf_putc(b, 'e');
}

int
bencode_encode(struct buf *b, const struct bencode *v)
{
	size_t i;
	int rc;

	switch (v->type) {
	case BENCODE_INT:
		return bencode_put_int(b, v->u.i);
	case BENCODE_STR:
		return bencode_put_str(b, v->u.str.p, v->u.str.len);
	case BENCODE_LIST:
		if ((rc = bencode_put_list(b)) < 0)
			return rc;
		for (i = 0; i < v->u.list.n; i++)
			if ((rc = bencode_encode(b, &v->u.list.items[i])) < 0)
				return rc;
		return bencode_put_end(b);
	case BENCODE_DICT:
		if ((rc = bencode_put_dict(b)) < 0)
			return rc;
		for (i = 0; i < v->u.dict.n; i++) {
			const struct bencode_entry *e = &v->u.dict.items[i];

			if ((rc = bencode_put_str(b, e->key, e->key_len)) < 0 ||
			    (rc = bencode_encode(b, e->val)) < 0)
				return rc;
		}
		return bencode_put_end(b);
	}
	return -ERR_INVALID;
}
