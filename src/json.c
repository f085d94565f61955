/*
 * json: streaming writer. Errors (buffer limit, nesting) are sticky so the
 * many small calls in the CLI need no individual checks.
 */
#include "json.h"
#include "error.h"

#include <string.h>

void
json_init(struct json *j, struct buf *out)
{
	memset(j, 0, sizeof *j);
	j->out = out;
}

static void
put(struct json *j, int rc)
{
	if (rc < 0 && j->rc == 0)
		j->rc = rc;
}

/* Emits the separator a new value needs at the current level. */
static void
value_start(struct json *j)
{
	if (j->after_key) {
		j->after_key = 0;
		return;
	}
	if (j->count[j->depth]++ > 0)
		put(j, buf_putc(j->out, ','));
}

static void
open_level(struct json *j, int c)
{
	value_start(j);
	put(j, buf_putc(j->out, c));
	if (j->depth + 1 >= JSON_MAX_DEPTH) {
		put(j, -ERR_LIMIT);
		return;
	}
	j->count[++j->depth] = 0;
}

static void
close_level(struct json *j, int c)
{
	if (j->depth > 0)
		j->depth--;
	put(j, buf_putc(j->out, c));
}

void
json_object_begin(struct json *j)
{
	open_level(j, '{');
}

void
json_object_end(struct json *j)
{
	close_level(j, '}');
}

void
json_array_begin(struct json *j)
{
	open_level(j, '[');
}

void
json_array_end(struct json *j)
{
	close_level(j, ']');
}

void
json_key(struct json *j, const char *key)
{
	json_cstring(j, key);
	put(j, buf_putc(j->out, ':'));
	j->after_key = 1;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t
utf8_len(const uint8_t *p, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are invalid. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void
json_string(struct json *j, const void *v, size_t n)
{
	const uint8_t *p = v;
	size_t i = 0, len;

	value_start(j);
	put(j, buf_putc(j->out, '"'));
	while (i < n) {
		uint8_t c = p[i];

		if (c == '"' || c == '\\') {
			put(j, buf_putc(j->out, '\\'));
			put(j, buf_putc(j->out, c));
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			put(j, buf_printf(j->out, "\\u%04x", c));
			i++;
		} else if ((len = utf8_len(p + i, n - i)) == 0) {
			put(j, buf_puts(j->out, "\\ufffd"));
			i++;
		} else {
			put(j, buf_append(j->out, p + i, len));
			i += len;
		}
	}
	put(j, buf_putc(j->out, '"'));
}

void
json_cstring(struct json *j, const char *s)
{
	if (s == NULL)
		json_null(j);
	else
		json_string(j, s, strlen(s));
}

void
json_int(struct json *j, int64_t v)
{
	value_start(j);
	put(j, buf_printf(j->out, "%lld", (long long)v));
}

void
json_uint(struct json *j, uint64_t v)
{
	value_start(j);
	put(j, buf_printf(j->out, "%llu", (unsigned long long)v));
}

void
json_bool(struct json *j, int v)
{
	value_start(j);
	put(j, buf_puts(j->out, v ? "true" : "false"));
}

void
json_null(struct json *j)
{
	value_start(j);
	put(j, buf_puts(j->out, "null"));
}

int
json_finish(struct json *j)
{
	return j->rc;
}
