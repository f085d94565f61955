/*
 * json: a minimal streaming JSON writer for `--json` output. It tracks
 * commas per nesting level so callers just emit keys and values. Strings
 * are written as valid JSON whatever bytes they hold: invalid UTF-8 (torrent
 * names are arbitrary bytes) becomes U+FFFD.
 */
#ifndef PIECES_JSON_H
#define PIECES_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define JSON_MAX_DEPTH 16

struct json {
	struct buf *out;
	int depth;
	int count[JSON_MAX_DEPTH]; /* values written at each level */
	int after_key;
	int rc; /* first error, sticky: callers check once at the end */
};

void json_init(struct json *j, struct buf *out);
void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const void *p, size_t n);
void json_cstring(struct json *j, const char *s); /* NULL writes null */
void json_int(struct json *j, int64_t v);
void json_uint(struct json *j, uint64_t v);
void json_bool(struct json *j, int v);
void json_null(struct json *j);
/* 0, or the first error any call hit. */
int json_finish(struct json *j);

#endif
