/* Unit tests for src/bencode.c: decoding, limits, raw spans, encoding. */
#include <criterion/criterion.h>
#include <string.h>

#include "bencode.h"

static struct bencode *
dec(const char *s, struct error *err)
{
	return bencode_decode((const uint8_t *)s, strlen(s), NULL, err);
}

static void
refuse(const char *s, int code, long long offset, const char *needle)
{
	struct error err = {0};
	struct bencode *v = dec(s, &err);

	cr_assert_null(v, "accepted %s", s);
	cr_assert_eq(err.code, code, "%s: code %d (%s)", s, err.code, err.msg);
	cr_assert_eq(err.offset, offset, "%s: offset %lld (%s)", s, err.offset, err.msg);
	cr_assert(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", s, err.msg,
		  needle);
}

Test(bencode, integers)
{
	struct error err;
	struct bencode *v;

	v = dec("i42e", &err);
	cr_assert_not_null(v);
	cr_assert_eq(v->type, BENCODE_INT);
	cr_assert_eq(v->u.i, 42);
	bencode_free(v);
	v = dec("i-9223372036854775808e", &err);
	cr_assert_not_null(v, "%s", err.msg);
	cr_assert_eq(v->u.i, INT64_MIN);
	bencode_free(v);
	v = dec("i9223372036854775807e", &err);
	cr_assert_not_null(v);
	cr_assert_eq(v->u.i, INT64_MAX);
	bencode_free(v);
	v = dec("i0e", &err);
	cr_assert_not_null(v);
	cr_assert_eq(v->u.i, 0);
	bencode_free(v);
}

Test(bencode, bad_integers)
{
	refuse("i9223372036854775808e", ERR_LIMIT, 1, "overflows");
	refuse("i-9223372036854775809e", ERR_LIMIT, 1, "overflows");
	refuse("i03e", ERR_SYNTAX, 1, "leading zero");
	refuse("i-0e", ERR_SYNTAX, 1, "negative zero");
	refuse("ie", ERR_SYNTAX, 1, "expected a digit");
	refuse("i-e", ERR_SYNTAX, 2, "expected a digit");
	refuse("i12", ERR_SYNTAX, 3, "ends inside a number");
	refuse("i1x2e", ERR_SYNTAX, 2, "expected 'e'");
}

Test(bencode, strings)
{
	struct error err;
	struct bencode *v = dec("5:hello", &err);

	cr_assert_not_null(v);
	cr_assert_eq(v->type, BENCODE_STR);
	cr_assert_eq(v->u.str.len, 5);
	cr_assert(memcmp(v->u.str.p, "hello", 5) == 0);
	bencode_free(v);
	v = dec("0:", &err);
	cr_assert_not_null(v);
	cr_assert_eq(v->u.str.len, 0);
	bencode_free(v);
	refuse("5:abc", ERR_SYNTAX, 0, "runs past the end");
	refuse("05:hello", ERR_SYNTAX, 0, "leading zero");
	refuse("99999999999999999999:x", ERR_LIMIT, 0, "overflows");
	refuse("3abc", ERR_SYNTAX, 1, "expected ':'");
}

Test(bencode, binary_strings_with_nul)
{
	static const uint8_t in[] = {'3', ':', 'a', 0, 'b'};
	struct error err;
	struct bencode *v = bencode_decode(in, sizeof in, NULL, &err);

	cr_assert_not_null(v);
	cr_assert_eq(v->u.str.len, 3);
	cr_assert_eq(v->u.str.p[1], 0);
	bencode_free(v);
}

Test(bencode, containers_and_raw_spans)
{
	const char *s = "d3:bar4:spam3:fooi42e4:infod1:ai1eee";
	struct error err;
	struct bencode *v = dec(s, &err), *info, *bar;

	cr_assert_not_null(v, "%s", err.msg);
	cr_assert_eq(v->type, BENCODE_DICT);
	cr_assert_eq(v->u.dict.n, 3);
	bar = bencode_dict_get_type(v, "bar", BENCODE_STR);
	cr_assert_not_null(bar);
	cr_assert(bencode_str_eq(bar, "spam"));
	cr_assert_eq(bencode_dict_get_type(v, "foo", BENCODE_INT)->u.i, 42);
	cr_assert_null(bencode_dict_get_type(v, "foo", BENCODE_STR));
	cr_assert_null(bencode_dict_get(v, "missing"));
	info = bencode_dict_get(v, "info");
	cr_assert_eq(info->raw_len, strlen("d1:ai1ee"));
	cr_assert(memcmp(info->raw, "d1:ai1ee", info->raw_len) == 0);
	cr_assert_eq(info->raw - (const uint8_t *)s, 27);
	cr_assert_eq(v->raw_len, strlen(s));
	bencode_free(v);

	v = dec("l4:spami-3elee", &err);
	cr_assert_not_null(v);
	cr_assert_eq(v->u.list.n, 3);
	cr_assert_eq(v->u.list.items[1].u.i, -3);
	cr_assert_eq(v->u.list.items[2].type, BENCODE_LIST);
	cr_assert_eq(v->u.list.items[2].u.list.n, 0);
	bencode_free(v);
}

Test(bencode, unsorted_keys_accepted_and_sorted)
{
	struct error err;
	struct bencode *v = dec("d1:bi2e1:ai1ee", &err);

	cr_assert_not_null(v, "%s", err.msg);
	cr_assert_eq(bencode_dict_get(v, "a")->u.i, 1);
	cr_assert_eq(bencode_dict_get(v, "b")->u.i, 2);
	cr_assert_eq(v->u.dict.items[0].key[0], 'a');
	bencode_free(v);
}

Test(bencode, structural_errors)
{
	refuse("d1:ai1e1:ai2ee", ERR_INVALID, 9, "duplicate dictionary key");
	refuse("d1:bi1e1:ai2e1:bi3ee", ERR_INVALID, 15, "duplicate dictionary key");
	refuse("di1ei2ee", ERR_SYNTAX, 1, "not a string");
	refuse("d1:a", ERR_SYNTAX, 4, "has no value");
	refuse("l", ERR_SYNTAX, 1, "ends inside a list");
	refuse("d", ERR_SYNTAX, 1, "ends inside a dictionary");
	refuse("i1ei2e", ERR_SYNTAX, 3, "trailing data");
	refuse("x", ERR_SYNTAX, 0, "unexpected byte 0x78");
	refuse("", ERR_SYNTAX, 0, "empty input");
	refuse("e", ERR_SYNTAX, 0, "unexpected byte");
}

Test(bencode, depth_limit)
{
	char deep[2 * 200 + 1];
	struct bencode_limits lim = {.max_depth = 100, .max_nodes = 1000};
	struct error err = {0};
	struct bencode *v;

	memset(deep, 'l', 200);
	memset(deep + 200, 'e', 200);
	deep[400] = '\0';
	v = bencode_decode((const uint8_t *)deep, 400, &lim, &err);
	cr_assert_null(v);
	cr_assert_eq(err.code, ERR_LIMIT);
	cr_assert_eq(err.offset, 100);
	cr_assert(strstr(err.msg, "nesting deeper than 100") != NULL);
	v = bencode_decode((const uint8_t *)deep + 101, 198, &lim, &err);
	cr_assert_not_null(v, "99 levels must pass: %s", err.msg);
	bencode_free(v);
}

Test(bencode, node_limit)
{
	struct bencode_limits lim = {.max_depth = 10, .max_nodes = 4};
	struct error err = {0};
	struct bencode *v;

	v = bencode_decode((const uint8_t *)"li1ei2ei3ee", 11, &lim, &err);
	cr_assert_not_null(v);
	bencode_free(v);
	v = bencode_decode((const uint8_t *)"li1ei2ei3ei4ee", 14, &lim, &err);
	cr_assert_null(v);
	cr_assert_eq(err.code, ERR_LIMIT);
}

Test(bencode, prefix_decoding)
{
	const char *s = "d1:ai1eeTRAILING";
	struct error err;
	size_t used = 0;
	struct bencode *v = bencode_decode_prefix((const uint8_t *)s, strlen(s), NULL, &used, &err);

	cr_assert_not_null(v);
	cr_assert_eq(used, 8);
	bencode_free(v);
}

Test(bencode, encoder_round_trip)
{
	const char *s = "d4:listli-1e0:e3:numi1234567890123e3:str3:a:be";
	struct error err;
	struct bencode *v = dec(s, &err);
	struct buf b;

	cr_assert_not_null(v);
	buf_init(&b, 1024);
	cr_assert_eq(bencode_encode(&b, v), 0);
	cr_assert_eq(b.len, strlen(s));
	cr_assert_str_eq((char *)b.data, s);
	buf_free(&b);
	bencode_free(v);

	buf_init(&b, 1024);
	cr_assert_eq(bencode_put_dict(&b), 0);
	bencode_put_cstr(&b, "k");
	bencode_put_int(&b, -5);
	bencode_put_end(&b);
	cr_assert_str_eq((char *)b.data, "d1:ki-5ee");
	buf_free(&b);
}

Test(bencode, encoder_respects_buffer_cap)
{
	struct buf b;

	buf_init(&b, 4);
	cr_assert_eq(bencode_put_cstr(&b, "ab"), 0);
	cr_assert_eq(bencode_put_cstr(&b, "cd"), -ERR_LIMIT);
	cr_assert_eq(b.len, 4);
	buf_free(&b);
}

Test(bencode, free_null_is_noop)
{
	bencode_free(NULL);
}
