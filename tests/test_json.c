/* Unit tests for src/json.c and src/buf.c: commas, nesting, escaping, caps. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "json.h"

Test(json, structure_and_commas)
{
	struct buf b;
	struct json j;

	buf_init(&b, 4096);
	json_init(&j, &b);
	json_object_begin(&j);
	json_key(&j, "a");
	json_int(&j, -3);
	json_key(&j, "list");
	json_array_begin(&j);
	json_uint(&j, 18446744073709551615ull);
	json_bool(&j, 1);
	json_null(&j);
	json_array_begin(&j);
	json_array_end(&j);
	json_array_end(&j);
	json_key(&j, "s");
	json_cstring(&j, NULL);
	json_object_end(&j);
	cr_assert_eq(json_finish(&j), 0);
	cr_assert_str_eq((char *)b.data,
			 "{\"a\":-3,\"list\":[18446744073709551615,true,null,[]],\"s\":null}");
	buf_free(&b);
}

Test(json, escaping_and_invalid_utf8)
{
	static const char in[] = "q\"b\\\n\x01\x7f"
				 "\xc3\xa9"	 /* é, valid */
				 "\xff"		 /* invalid byte */
				 "\xe2\x82"	 /* truncated sequence */
				 "\xed\xa0\x80"; /* surrogate: invalid */
	struct buf b;
	struct json j;

	buf_init(&b, 4096);
	json_init(&j, &b);
	json_string(&j, in, sizeof in - 1);
	cr_assert_eq(json_finish(&j), 0);
	cr_assert_str_eq((char *)b.data, "\"q\\\"b\\\\\\u000a\\u0001\\u007f\xc3\xa9\\ufffd\\ufffd"
					 "\\ufffd\\ufffd\\ufffd\\ufffd\"");
	buf_free(&b);
}

Test(json, output_cap_is_sticky_error)
{
	struct buf b;
	struct json j;

	buf_init(&b, 8);
	json_init(&j, &b);
	json_cstring(&j, "far too long for eight bytes");
	json_int(&j, 1);
	cr_assert_eq(json_finish(&j), -ERR_LIMIT);
	cr_assert_leq(b.len, 8);
	buf_free(&b);
}

Test(json, nesting_limit)
{
	struct buf b;
	struct json j;
	int i;

	buf_init(&b, 4096);
	json_init(&j, &b);
	for (i = 0; i < JSON_MAX_DEPTH + 2; i++)
		json_array_begin(&j);
	cr_assert_eq(json_finish(&j), -ERR_LIMIT);
	buf_free(&b);
}

Test(buf, extend_steal_and_printf)
{
	struct buf b;
	uint8_t *p;
	size_t n;

	buf_init(&b, 16);
	cr_assert_eq(buf_printf(&b, "%d-%s", 42, "x"), 0);
	p = buf_extend(&b, 3);
	cr_assert_not_null(p);
	memcpy(p, "abc", 3);
	cr_assert_null(buf_extend(&b, 100));
	p = buf_steal(&b, &n);
	cr_assert_eq(n, 7);
	cr_assert_str_eq((char *)p, "42-xabc");
	cr_assert_eq(b.len, 0);
	free(p);
	buf_free(&b);
}
