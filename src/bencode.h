/*
 * bencode: decoder and encoder for BitTorrent's bencoding (BEP 3).
 *
 * The decoder works on (const uint8_t *, size_t) and never copies strings:
 * every node points into the caller's input, which must outlive the tree.
 * Each node records the raw byte span it was decoded from, because the
 * info-hash is the SHA-1 of the raw `info` bytes, never of a re-encoding.
 *
 * Untrusted input is bounded: nesting depth, node count, leading zeros,
 * int64 overflow and string lengths past the end of the input are all
 * refused with a message naming the byte offset.
 */
#ifndef PIECES_BENCODE_H
#define PIECES_BENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

enum bencode_type {
	BENCODE_INT = 1,
	BENCODE_STR,
	BENCODE_LIST,
	BENCODE_DICT,
};

struct bencode;

struct bencode_entry {
	const uint8_t *key;
	size_t key_len;
	struct bencode *val;
};

struct bencode {
	enum bencode_type type;
	const uint8_t *raw; /* the encoded bytes of this value, in the input */
	size_t raw_len;
	union {
		int64_t i;
		struct {
			const uint8_t *p;
			size_t len;
		} str;
		struct {
			struct bencode *items;
			size_t n;
		} list;
		struct {
			struct bencode_entry *items; /* sorted by key after decoding */
			size_t n;
		} dict;
	} u;
};

struct bencode_limits {
	unsigned max_depth; /* containers nested deeper are refused */
	size_t max_nodes;   /* total values in one document */
};

#define BENCODE_DEFAULT_DEPTH 64
#define BENCODE_DEFAULT_NODES (4u << 20)

/*
 * Decodes exactly one value spanning all of [p, p+n). limits may be NULL for
 * the defaults. Returns the root (free with bencode_free) or NULL with err set.
 */
struct bencode *bencode_decode(const uint8_t *p, size_t n, const struct bencode_limits *limits,
			       struct error *err);
/* Decodes one value at the start of p and reports its length in *used; trailing bytes allowed. */
struct bencode *bencode_decode_prefix(const uint8_t *p, size_t n,
				      const struct bencode_limits *limits, size_t *used,
				      struct error *err);
void bencode_free(struct bencode *root);

/* Lookups; NULL when absent or (for the typed forms) of another type. */
struct bencode *bencode_dict_get(const struct bencode *dict, const char *key);
struct bencode *bencode_dict_get_type(const struct bencode *dict, const char *key,
				      enum bencode_type type);
/* 1 if the string node equals the C string. */
int bencode_str_eq(const struct bencode *s, const char *cstr);
const char *bencode_type_name(enum bencode_type type);

/* Encoder: appends to a bounded buf. Keys must be written in sorted order by the caller. */
int bencode_put_int(struct buf *b, int64_t v);
int bencode_put_str(struct buf *b, const void *p, size_t n);
int bencode_put_cstr(struct buf *b, const char *s);
int bencode_put_list(struct buf *b);
int bencode_put_dict(struct buf *b);
int bencode_put_end(struct buf *b);
/* Re-encodes a decoded tree canonically (dict keys sorted). */
int bencode_encode(struct buf *b, const struct bencode *v);

#endif
