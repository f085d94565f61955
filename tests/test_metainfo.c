/*
 * Tests for metainfo: torrents are built in memory with the bencode
 * encoder, parsed, and checked field by field; every refusal is checked
 * for its error code and a piece of its message. The last test runs the
 * files in tests/hostile-torrents/ through metainfo_load under the sanitizers.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bencode.h"
#include "buf.h"
#include "metainfo.h"
#include "sha1.h"
#include "textenc.h"

#define KIB 1024

/* One file of a multi-file torrent: up to 7 components, NULL-terminated. */
struct tf {
	int64_t len;
	const char *path[8];
	const char *attr;
};

static struct buf b;
static struct error err;

static void
setup(void)
{
	buf_init(&b, 64u << 20);
	memset(&err, 0, sizeof err);
}

static void
teardown(void)
{
	buf_free(&b);
}

TestSuite(metainfo, .init = setup, .fini = teardown);

static void
put_pieces(uint64_t total, int64_t plen)
{
	uint64_t n = total / (uint64_t)plen + (total % (uint64_t)plen != 0), i;
	uint8_t h[SHA1_LEN];

	cr_assert_eq(buf_printf(&b, "6:pieces%llu:", (unsigned long long)(n * SHA1_LEN)), 0);
	for (i = 0; i < n; i++) {
		memset(h, (int)(i & 0xff), sizeof h);
		cr_assert_eq(buf_append(&b, h, sizeof h), 0);
	}
}

/* The info dictionary of a multi-file torrent (keys in sorted order). */
static void
put_multi_info(const char *name, const struct tf *f, size_t n, int64_t plen)
{
	uint64_t total = 0;
	size_t i, k;

	bencode_put_dict(&b);
	bencode_put_cstr(&b, "files");
	bencode_put_list(&b);
	for (i = 0; i < n; i++) {
		bencode_put_dict(&b);
		if (f[i].attr != NULL) {
			bencode_put_cstr(&b, "attr");
			bencode_put_cstr(&b, f[i].attr);
		}
		bencode_put_cstr(&b, "length");
		bencode_put_int(&b, f[i].len);
		bencode_put_cstr(&b, "path");
		bencode_put_list(&b);
		for (k = 0; f[i].path[k] != NULL; k++)
			bencode_put_cstr(&b, f[i].path[k]);
		bencode_put_end(&b);
		bencode_put_end(&b);
		total += (uint64_t)f[i].len;
	}
	bencode_put_end(&b);
	bencode_put_cstr(&b, "name");
	bencode_put_cstr(&b, name);
	bencode_put_cstr(&b, "piece length");
	bencode_put_int(&b, plen);
	put_pieces(total, plen);
	bencode_put_end(&b);
}

static void
put_multi(const char *name, const struct tf *f, size_t n, int64_t plen)
{
	bencode_put_dict(&b);
	bencode_put_cstr(&b, "announce");
	bencode_put_cstr(&b, "http://tracker.example/announce");
	bencode_put_cstr(&b, "info");
	put_multi_info(name, f, n, plen);
	bencode_put_end(&b);
}

static void
put_single_info(const char *name, int64_t len, int64_t plen)
{
	bencode_put_dict(&b);
	bencode_put_cstr(&b, "length");
	bencode_put_int(&b, len);
	bencode_put_cstr(&b, "name");
	bencode_put_cstr(&b, name);
	bencode_put_cstr(&b, "piece length");
	bencode_put_int(&b, plen);
	put_pieces((uint64_t)len, plen);
	bencode_put_end(&b);
}

static void
put_single(const char *name, int64_t len, int64_t plen)
{
	bencode_put_dict(&b);
	bencode_put_cstr(&b, "info");
	put_single_info(name, len, plen);
	bencode_put_end(&b);
}

static struct metainfo *
parse_ok(void)
{
	struct metainfo *mi = metainfo_parse(b.data, b.len, &err);

	cr_assert_not_null(mi, "parse failed: %s", err.msg);
	return mi;
}

static void
parse_fails(int code, const char *substr)
{
	struct metainfo *mi = metainfo_parse(b.data, b.len, &err);

	cr_assert_null(mi, "parse should have failed (%s)", substr);
	cr_assert_eq(err.code, code, "code %d, want %d: %s", err.code, code, err.msg);
	cr_assert(strstr(err.msg, substr) != NULL, "message \"%s\" lacks \"%s\"", err.msg, substr);
	cr_assert(strchr(err.msg, '\n') == NULL, "message spans lines: %s", err.msg);
}

/* Wraps an info dictionary written by the test in a top-level dict. */
static void
wrap_begin(void)
{
	bencode_put_dict(&b);
	bencode_put_cstr(&b, "info");
}

static void
multi_fails(const struct tf *f, size_t n, int code, const char *substr)
{
	put_multi("t", f, n, 16 * KIB);
	parse_fails(code, substr);
}

Test(metainfo, single_file)
{
	struct metainfo *mi;

	put_single("movie.mkv", 100 * KIB + 5, 16 * KIB);
	mi = parse_ok();
	cr_assert_str_eq(mi->name, "movie.mkv");
	cr_assert_eq(mi->multi_file, 0);
	cr_assert_eq(mi->total_length, 100 * KIB + 5);
	cr_assert_eq(mi->piece_length, 16 * KIB);
	cr_assert_eq(mi->piece_count, 7);
	cr_assert_eq(mi->nfiles, 1);
	cr_assert_str_eq(mi->files[0].path, "movie.mkv");
	cr_assert_eq(mi->files[0].ncomponents, 1);
	cr_assert_str_eq(mi->files[0].components[0], "movie.mkv");
	cr_assert_eq(mi->files[0].length, 100 * KIB + 5);
	cr_assert_eq(mi->files[0].offset, 0);
	cr_assert_eq(mi->ntiers, 0);
	cr_assert_eq(mi->nweb_seeds, 0);
	cr_assert_null(mi->comment);
	cr_assert_eq(mi->private_flag, 0);
	/* put_pieces fills hash i with byte i. */
	cr_assert_eq(mi->piece_hashes[0], 0);
	cr_assert_eq(mi->piece_hashes[6 * SHA1_LEN + 19], 6);
	metainfo_free(mi);
}

Test(metainfo, piece_sizes)
{
	struct metainfo *mi;

	put_single("f", 100 * KIB + 5, 16 * KIB);
	mi = parse_ok();
	cr_assert_eq(metainfo_piece_size(mi, 0), 16 * KIB);
	cr_assert_eq(metainfo_piece_size(mi, 5), 16 * KIB);
	cr_assert_eq(metainfo_piece_size(mi, 6), 4 * KIB + 5);
	cr_assert_eq(metainfo_piece_size(mi, 7), 0);
	metainfo_free(mi);

	buf_reset(&b);
	put_single("f", 64 * KIB, 16 * KIB);
	mi = parse_ok();
	cr_assert_eq(mi->piece_count, 4);
	cr_assert_eq(metainfo_piece_size(mi, 3), 16 * KIB);
	metainfo_free(mi);
}

Test(metainfo, multi_file_layout)
{
	static const struct tf f[] = {
	    {10, {"a.txt", NULL}, NULL},
	    {0, {"empty", NULL}, NULL},
	    {40000, {"dir", "b.bin", NULL}, NULL},
	    {7, {"dir", "sub", "c", NULL}, NULL},
	};
	struct metainfo *mi;

	put_multi("album", f, 4, 16 * KIB);
	mi = parse_ok();
	cr_assert_eq(mi->multi_file, 1);
	cr_assert_str_eq(mi->name, "album");
	cr_assert_eq(mi->nfiles, 4);
	cr_assert_eq(mi->total_length, 40017);
	cr_assert_eq(mi->piece_count, 3);
	cr_assert_str_eq(mi->files[0].path, "album/a.txt");
	cr_assert_str_eq(mi->files[2].path, "album/dir/b.bin");
	cr_assert_str_eq(mi->files[3].path, "album/dir/sub/c");
	cr_assert_eq(mi->files[3].ncomponents, 4);
	cr_assert_str_eq(mi->files[3].components[0], "album");
	cr_assert_str_eq(mi->files[3].components[1], "dir");
	cr_assert_str_eq(mi->files[3].components[2], "sub");
	cr_assert_str_eq(mi->files[3].components[3], "c");
	cr_assert_eq(mi->files[0].offset, 0);
	cr_assert_eq(mi->files[1].offset, 10);
	cr_assert_eq(mi->files[2].offset, 10);
	cr_assert_eq(mi->files[3].offset, 40010);
	cr_assert_eq(mi->files[3].length, 7);
	cr_assert_eq(metainfo_piece_size(mi, 2), 40017 - 32 * KIB);
	cr_assert_eq(mi->ntiers, 1);
	cr_assert_str_eq(mi->tiers[0].urls[0], "http://tracker.example/announce");
	metainfo_free(mi);
}

Test(metainfo, padding_files)
{
	static const struct tf f[] = {
	    {1000, {"a", NULL}, NULL}, {16 * KIB - 1000, {".pad", "15384", NULL}, "p"},
	    {500, {"b", NULL}, "x"},   {16 * KIB - 500, {".pad", "15884", NULL}, "hp"},
	    {1, {"c", NULL}, NULL},
	};
	struct metainfo *mi;

	put_multi("t", f, 5, 16 * KIB);
	mi = parse_ok();
	cr_assert_eq(mi->nfiles, 5);
	cr_assert_eq(mi->files[0].pad, 0);
	cr_assert_eq(mi->files[1].pad, 1);
	cr_assert_eq(mi->files[2].pad, 0);
	cr_assert_eq(mi->files[3].pad, 1);
	cr_assert_eq(mi->files[2].offset, 16 * KIB);
	cr_assert_eq(mi->files[4].offset, 32 * KIB);
	cr_assert_eq(mi->total_length, 32 * KIB + 1);
	metainfo_free(mi);
}

Test(metainfo, padding_files_may_share_a_path)
{
	/* Some creators reuse one pad name: they are never written, so allow it. */
	static const struct tf f[] = {
	    {10, {"a", NULL}, NULL},
	    {6, {".pad", "6", NULL}, "p"},
	    {10, {"b", NULL}, NULL},
	    {6, {".pad", "6", NULL}, "p"},
	};
	struct metainfo *mi;

	put_multi("t", f, 4, 16);
	mi = parse_ok();
	cr_assert_eq(mi->nfiles, 4);
	metainfo_free(mi);
}

Test(metainfo, info_hash_is_sha1_of_raw_info)
{
	/* Unsorted keys and an unknown key: a re-encoding would differ. */
	static const char t[] = "d4:infod6:lengthi5e4:name1:x12:piece lengthi16384e"
				"6:pieces20:AAAAAAAAAAAAAAAAAAAA1:zi0e1:ai1eee";
	const char *start = strstr(t, "4:info") + 6;
	uint8_t want[SHA1_LEN];
	struct metainfo *mi;

	sha1_digest(start, strlen(start) - 1, want);
	mi = metainfo_parse((const uint8_t *)t, strlen(t), &err);
	cr_assert_not_null(mi, "%s", err.msg);
	cr_assert_eq(memcmp(mi->info_hash, want, SHA1_LEN), 0);
	metainfo_free(mi);
}

Test(metainfo, info_hash_known_value)
{
	/* Checked against an independent SHA-1 of the info bytes. */
	static const char t[] = "d4:infod6:lengthi1e4:name1:a12:piece lengthi1e"
				"6:pieces20:01234567890123456789ee";
	char hex[2 * SHA1_LEN + 1];
	struct metainfo *mi;

	mi = metainfo_parse((const uint8_t *)t, strlen(t), &err);
	cr_assert_not_null(mi, "%s", err.msg);
	textenc_hex(mi->info_hash, SHA1_LEN, hex);
	cr_assert_str_eq(hex, "3d05fa704cd75f57cea2c3215d0f1ac2820a3b9e");
	metainfo_free(mi);
}

Test(metainfo, announce_list_tiers)
{
	struct metainfo *mi;

	bencode_put_dict(&b);
	bencode_put_cstr(&b, "announce");
	bencode_put_cstr(&b, "http://ignored/announce");
	bencode_put_cstr(&b, "announce-list");
	bencode_put_list(&b);
	bencode_put_list(&b); /* tier 0: two URLs */
	bencode_put_cstr(&b, "http://a/announce");
	bencode_put_cstr(&b, "udp://b:80");
	bencode_put_end(&b);
	bencode_put_list(&b); /* empty tier: skipped */
	bencode_put_end(&b);
	bencode_put_list(&b); /* non-strings skipped */
	bencode_put_int(&b, 5);
	bencode_put_cstr(&b, "http://c/announce");
	bencode_put_list(&b);
	bencode_put_end(&b);
	bencode_put_end(&b);
	bencode_put_cstr(&b, "not a tier");
	bencode_put_list(&b); /* only unusable entries: skipped */
	bencode_put_cstr(&b, "");
	bencode_put_end(&b);
	bencode_put_end(&b);
	bencode_put_cstr(&b, "info");
	put_single_info("f", 10, 16);
	bencode_put_end(&b);

	mi = parse_ok();
	cr_assert_eq(mi->ntiers, 2);
	cr_assert_eq(mi->tiers[0].nurls, 2);
	cr_assert_str_eq(mi->tiers[0].urls[0], "http://a/announce");
	cr_assert_str_eq(mi->tiers[0].urls[1], "udp://b:80");
	cr_assert_eq(mi->tiers[1].nurls, 1);
	cr_assert_str_eq(mi->tiers[1].urls[0], "http://c/announce");
	metainfo_free(mi);
}

Test(metainfo, empty_announce_list_falls_back_to_announce)
{
	struct metainfo *mi;

	bencode_put_dict(&b);
	bencode_put_cstr(&b, "announce");
	bencode_put_cstr(&b, "http://only/announce");
	bencode_put_cstr(&b, "announce-list");
	bencode_put_list(&b);
	bencode_put_list(&b);
	bencode_put_end(&b);
	bencode_put_end(&b);
	bencode_put_cstr(&b, "info");
	put_single_info("f", 10, 16);
	bencode_put_end(&b);

	mi = parse_ok();
	cr_assert_eq(mi->ntiers, 1);
	cr_assert_eq(mi->tiers[0].nurls, 1);
	cr_assert_str_eq(mi->tiers[0].urls[0], "http://only/announce");
	metainfo_free(mi);
}

Test(metainfo, url_list_as_string)
{
	struct metainfo *mi;

	wrap_begin();
	put_single_info("f", 10, 16);
	bencode_put_cstr(&b, "url-list");
	bencode_put_cstr(&b, "http://seed/f");
	bencode_put_end(&b);

	mi = parse_ok();
	cr_assert_eq(mi->nweb_seeds, 1);
	cr_assert_str_eq(mi->web_seeds[0], "http://seed/f");
	metainfo_free(mi);
}

Test(metainfo, url_list_as_list)
{
	struct metainfo *mi;

	wrap_begin();
	put_single_info("f", 10, 16);
	bencode_put_cstr(&b, "url-list");
	bencode_put_list(&b);
	bencode_put_cstr(&b, "http://one/");
	bencode_put_int(&b, 3);
	bencode_put_cstr(&b, "");
	bencode_put_cstr(&b, "http://two/");
	bencode_put_end(&b);
	bencode_put_end(&b);

	mi = parse_ok();
	cr_assert_eq(mi->nweb_seeds, 2);
	cr_assert_str_eq(mi->web_seeds[0], "http://one/");
	cr_assert_str_eq(mi->web_seeds[1], "http://two/");
	metainfo_free(mi);
}

Test(metainfo, descriptive_fields)
{
	struct metainfo *mi;

	bencode_put_dict(&b);
	bencode_put_cstr(&b, "comment");
	bencode_put_cstr(&b, "plain");
	bencode_put_cstr(&b, "comment.utf-8");
	bencode_put_cstr(&b, "caf\xc3\xa9");
	bencode_put_cstr(&b, "created by");
	bencode_put_cstr(&b, "pieces/0.1");
	bencode_put_cstr(&b, "creation date");
	bencode_put_int(&b, 1700000000);
	bencode_put_cstr(&b, "info");
	bencode_put_dict(&b);
	bencode_put_cstr(&b, "length");
	bencode_put_int(&b, 3);
	bencode_put_cstr(&b, "name");
	bencode_put_cstr(&b, "x");
	bencode_put_cstr(&b, "piece length");
	bencode_put_int(&b, 16);
	put_pieces(3, 16);
	bencode_put_cstr(&b, "private");
	bencode_put_int(&b, 1);
	bencode_put_cstr(&b, "source");
	bencode_put_cstr(&b, "SRC");
	bencode_put_end(&b);
	bencode_put_end(&b);

	mi = parse_ok();
	cr_assert_str_eq(mi->comment, "caf\xc3\xa9");
	cr_assert_str_eq(mi->created_by, "pieces/0.1");
	cr_assert_eq(mi->has_creation_date, 1);
	cr_assert_eq(mi->creation_date, 1700000000);
	cr_assert_eq(mi->private_flag, 1);
	cr_assert_str_eq(mi->source, "SRC");
	metainfo_free(mi);
}

Test(metainfo, wrong_type_descriptive_fields_are_ignored)
{
	struct metainfo *mi;

	bencode_put_dict(&b);
	bencode_put_cstr(&b, "announce");
	bencode_put_int(&b, 1);
	bencode_put_cstr(&b, "comment");
	bencode_put_int(&b, 7);
	bencode_put_cstr(&b, "creation date");
	bencode_put_cstr(&b, "yesterday");
	bencode_put_cstr(&b, "info");
	put_single_info("f", 10, 16);
	bencode_put_cstr(&b, "url-list");
	bencode_put_int(&b, 0);
	bencode_put_end(&b);

	mi = parse_ok();
	cr_assert_null(mi->comment);
	cr_assert_eq(mi->has_creation_date, 0);
	cr_assert_eq(mi->ntiers, 0);
	cr_assert_eq(mi->nweb_seeds, 0);
	metainfo_free(mi);
}

Test(metainfo, utf8_name_and_path_preferred)
{
	struct metainfo *mi;

	wrap_begin();
	bencode_put_dict(&b);
	bencode_put_cstr(&b, "files");
	bencode_put_list(&b);
	bencode_put_dict(&b);
	bencode_put_cstr(&b, "length");
	bencode_put_int(&b, 5);
	bencode_put_cstr(&b, "path");
	bencode_put_list(&b);
	bencode_put_cstr(&b, "legacy\xe9");
	bencode_put_end(&b);
	bencode_put_cstr(&b, "path.utf-8");
	bencode_put_list(&b);
	bencode_put_cstr(&b, "d\xc3\xa9j\xc3\xa0");
	bencode_put_cstr(&b, "vu");
	bencode_put_end(&b);
	bencode_put_end(&b);
	bencode_put_end(&b);
	bencode_put_cstr(&b, "name");
	bencode_put_cstr(&b, "old\xff");
	bencode_put_cstr(&b, "name.utf-8");
	bencode_put_cstr(&b, "new\xc3\xa9");
	bencode_put_cstr(&b, "piece length");
	bencode_put_int(&b, 16);
	put_pieces(5, 16);
	bencode_put_end(&b);
	bencode_put_end(&b);

	mi = parse_ok();
	cr_assert_str_eq(mi->name, "new\xc3\xa9");
	cr_assert_str_eq(mi->files[0].path, "new\xc3\xa9/d\xc3\xa9j\xc3\xa0/vu");
	metainfo_free(mi);
}

Test(metainfo, non_utf8_names_allowed)
{
	static const struct tf f[] = {{5, {"\xff\xfe", "latin1 \xe9t\xe9", NULL}, NULL}};
	struct metainfo *mi;

	put_multi("\x80name", f, 1, 16);
	mi = parse_ok();
	cr_assert_str_eq(mi->files[0].path, "\x80name/\xff\xfe/latin1 \xe9t\xe9");
	metainfo_free(mi);
}

Test(metainfo, hybrid_read_as_v1)
{
	struct metainfo *mi;

	wrap_begin();
	bencode_put_dict(&b);
	bencode_put_cstr(&b, "file tree");
	bencode_put_dict(&b);
	bencode_put_end(&b);
	bencode_put_cstr(&b, "length");
	bencode_put_int(&b, 20);
	bencode_put_cstr(&b, "meta version");
	bencode_put_int(&b, 2);
	bencode_put_cstr(&b, "name");
	bencode_put_cstr(&b, "h");
	bencode_put_cstr(&b, "piece length");
	bencode_put_int(&b, 16);
	put_pieces(20, 16);
	bencode_put_end(&b);
	bencode_put_end(&b);

	mi = parse_ok();
	cr_assert_eq(mi->total_length, 20);
	cr_assert_eq(mi->piece_count, 2);
	metainfo_free(mi);
}

/* --- refusals ------------------------------------------------------------ */

Test(metainfo, v2_only)
{
	wrap_begin();
	bencode_put_dict(&b);
	bencode_put_cstr(&b, "file tree");
	bencode_put_dict(&b);
	bencode_put_end(&b);
	bencode_put_cstr(&b, "meta version");
	bencode_put_int(&b, 2);
	bencode_put_cstr(&b, "name");
	bencode_put_cstr(&b, "v2");
	bencode_put_cstr(&b, "piece length");
	bencode_put_int(&b, 16384);
	bencode_put_end(&b);
	bencode_put_end(&b);
	parse_fails(ERR_UNSUPPORTED, "BitTorrent v2-only torrents are not supported yet");
}

Test(metainfo, unknown_meta_version)
{
	wrap_begin();
	bencode_put_dict(&b);
	bencode_put_cstr(&b, "meta version");
	bencode_put_int(&b, 3);
	bencode_put_end(&b);
	bencode_put_end(&b);
	parse_fails(ERR_UNSUPPORTED, "meta version 3");
}

Test(metainfo, not_bencode)
{
	buf_puts(&b, "<html>not a torrent</html>");
	parse_fails(ERR_SYNTAX, "not a valid torrent");
}

Test(metainfo, empty_input)
{
	parse_fails(ERR_SYNTAX, "empty");
}

Test(metainfo, trailing_garbage)
{
	put_single("f", 10, 16);
	buf_puts(&b, "junk");
	parse_fails(ERR_SYNTAX, "trailing");
}

Test(metainfo, top_level_not_dict)
{
	buf_puts(&b, "li1ee");
	parse_fails(ERR_INVALID, "the torrent is a list, expected a dictionary");
}

Test(metainfo, missing_info)
{
	buf_puts(&b, "d8:announce3:urle");
	parse_fails(ERR_INVALID, "info is missing");
}

Test(metainfo, info_not_dict)
{
	buf_puts(&b, "d4:infoli1eee");
	parse_fails(ERR_INVALID, "info is a list, expected a dictionary");
}

Test(metainfo, missing_name)
{
	buf_puts(&b, "d4:infod6:lengthi1e12:piece lengthi1e6:pieces20:AAAAAAAAAAAAAAAAAAAAee");
	parse_fails(ERR_INVALID, "info.name is missing");
}

Test(metainfo, piece_length_wrong_type)
{
	buf_puts(&b, "d4:infod6:lengthi1e4:name1:a12:piece length2:166:pieces20:"
		     "AAAAAAAAAAAAAAAAAAAAee");
	parse_fails(ERR_INVALID, "info.piece length is a string, expected an integer");
}

Test(metainfo, pieces_wrong_type)
{
	buf_puts(&b, "d4:infod6:lengthi1e4:name1:a12:piece lengthi1e6:piecesi0eee");
	parse_fails(ERR_INVALID, "info.pieces is an integer, expected a string");
}

Test(metainfo, private_wrong_type)
{
	buf_puts(&b, "d4:infod6:lengthi1e4:name1:a12:piece lengthi1e6:pieces20:"
		     "AAAAAAAAAAAAAAAAAAAA7:private1:1ee");
	parse_fails(ERR_INVALID, "info.private is a string");
}

Test(metainfo, zero_piece_length)
{
	buf_puts(&b, "d4:infod6:lengthi10e4:name1:f12:piece lengthi0e6:pieces20:"
		     "AAAAAAAAAAAAAAAAAAAAee");
	parse_fails(ERR_INVALID, "info.piece length is 0");
}

Test(metainfo, negative_piece_length)
{
	buf_puts(&b, "d4:infod6:lengthi10e4:name1:f12:piece lengthi-16e6:pieces20:"
		     "AAAAAAAAAAAAAAAAAAAAee");
	parse_fails(ERR_INVALID, "info.piece length is -16");
}

Test(metainfo, huge_piece_length)
{
	put_single("f", 10, (int64_t)METAINFO_MAX_PIECE_LENGTH * 2);
	parse_fails(ERR_LIMIT, "info.piece length 536870912 is larger");
}

Test(metainfo, pieces_not_multiple_of_20)
{
	buf_puts(&b, "d4:infod6:lengthi10e4:name1:f12:piece lengthi16e6:pieces19:"
		     "AAAAAAAAAAAAAAAAAAAee");
	parse_fails(ERR_INVALID, "info.pieces is 19 bytes, not a multiple of 20");
}

Test(metainfo, piece_count_mismatch)
{
	buf_puts(&b, "d4:infod6:lengthi40e4:name1:f12:piece lengthi16e6:pieces40:"
		     "AAAAAAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBBBBBee");
	parse_fails(ERR_INVALID,
		    "info.pieces has a hash count of 2 but 40 bytes in pieces of 16 need 3");
}

Test(metainfo, negative_length_single)
{
	buf_puts(&b, "d4:infod6:lengthi-1e4:name1:f12:piece lengthi16e6:pieces0:ee");
	parse_fails(ERR_INVALID, "info.length is negative");
}

Test(metainfo, empty_torrent)
{
	buf_puts(&b, "d4:infod6:lengthi0e4:name1:f12:piece lengthi16e6:pieces0:ee");
	parse_fails(ERR_INVALID, "total length 0");
}

Test(metainfo, both_length_and_files)
{
	buf_puts(&b, "d4:infod5:filesle6:lengthi1e4:name1:f12:piece lengthi16e"
		     "6:pieces20:AAAAAAAAAAAAAAAAAAAAee");
	parse_fails(ERR_INVALID, "both length and files");
}

Test(metainfo, neither_length_nor_files)
{
	buf_puts(&b, "d4:infod4:name1:f12:piece lengthi16e6:pieces20:AAAAAAAAAAAAAAAAAAAAee");
	parse_fails(ERR_INVALID, "neither length nor files");
}

Test(metainfo, files_empty)
{
	multi_fails(NULL, 0, ERR_INVALID, "info.files is empty");
}

Test(metainfo, file_entry_not_dict)
{
	buf_puts(&b, "d4:infod5:filesli1ee4:name1:f12:piece lengthi16e6:pieces0:ee");
	parse_fails(ERR_INVALID, "info.files[0] is an integer, expected a dictionary");
}

Test(metainfo, file_length_missing)
{
	buf_puts(&b, "d4:infod5:filesld4:pathl1:aeee4:name1:f12:piece lengthi16e6:pieces0:ee");
	parse_fails(ERR_INVALID, "info.files[0].length is missing");
}

Test(metainfo, file_negative_length)
{
	static const struct tf f[] = {{5, {"a", NULL}, NULL}, {-5, {"b", NULL}, NULL}};

	multi_fails(f, 2, ERR_INVALID, "info.files[1].length is negative (-5)");
}

Test(metainfo, file_length_sum_overflow)
{
	static const struct tf f[] = {
	    {INT64_MAX / 2 + 1, {"a", NULL}, NULL},
	    {INT64_MAX / 2 + 1, {"b", NULL}, NULL},
	};

	buf_puts(&b, "d4:infod5:filesl");
	for (int i = 0; i < 2; i++) {
		buf_printf(&b, "d6:lengthi%llde4:pathl1:%cee", (long long)f[i].len, 'a' + i);
	}
	buf_puts(&b, "e4:name1:t12:piece lengthi16e6:pieces0:ee");
	parse_fails(ERR_INVALID, "info.files[1].length makes the total length overflow");
}

Test(metainfo, path_missing_and_wrong_types)
{
	buf_puts(&b, "d4:infod5:filesld6:lengthi1eee4:name1:t12:piece lengthi16e6:pieces0:ee");
	parse_fails(ERR_INVALID, "info.files[0].path is missing");
	buf_reset(&b);
	buf_puts(&b, "d4:infod5:filesld6:lengthi1e4:path1:aee4:name1:t12:piece lengthi16e"
		     "6:pieces0:ee");
	parse_fails(ERR_INVALID, "info.files[0].path is a string, expected a list");
	buf_reset(&b);
	buf_puts(&b, "d4:infod5:filesld6:lengthi1e4:pathl1:ai3eeee4:name1:t12:piece lengthi16e"
		     "6:pieces0:ee");
	parse_fails(ERR_INVALID, "info.files[0].path[1] is an integer, expected a string");
}

Test(metainfo, path_empty_list)
{
	static const struct tf f[] = {{5, {NULL}, NULL}};

	multi_fails(f, 1, ERR_INVALID, "info.files[0].path is empty");
}

Test(metainfo, path_dotdot)
{
	static const struct tf f[] = {
	    {5, {"ok", NULL}, NULL},
	    {5, {"ok", "x", NULL}, NULL},
	    {5, {"a", "..", "..", "etc", "passwd", NULL}, NULL},
	};

	multi_fails(f + 1, 2, ERR_INVALID,
		    "info.files[1].path \"t/a/../../etc/passwd\" contains '..'");
}

Test(metainfo, path_dot)
{
	static const struct tf f[] = {{5, {".", "x", NULL}, NULL}};

	multi_fails(f, 1, ERR_INVALID, "info.files[0].path \"t/./x\" contains a '.' component");
}

Test(metainfo, path_empty_component)
{
	static const struct tf f[] = {{5, {"a", "", "b", NULL}, NULL}};

	multi_fails(f, 1, ERR_INVALID, "\"t/a//b\" contains an empty component");
}

Test(metainfo, path_absolute)
{
	static const struct tf f[] = {{5, {"", "etc", "passwd", NULL}, NULL}};

	multi_fails(f, 1, ERR_INVALID, "info.files[0].path \"t//etc/passwd\" is an absolute path");
	buf_reset(&b);
	static const struct tf g[] = {{5, {"/etc/passwd", NULL}, NULL}};
	multi_fails(g, 1, ERR_INVALID, "is an absolute path");
}

Test(metainfo, path_slash_inside_component)
{
	static const struct tf f[] = {{5, {"a", "b/../../c", NULL}, NULL}};

	multi_fails(f, 1, ERR_INVALID, "contains '/' inside a component");
}

Test(metainfo, path_backslash)
{
	static const struct tf f[] = {{5, {"..\\..\\windows", NULL}, NULL}};

	multi_fails(
	    f, 1, ERR_INVALID,
	    "info.files[0].path \"t/..\\x5c..\\x5cwindows\" contains '\\' inside a component");
}

Test(metainfo, path_control_character)
{
	static const struct tf f[] = {{5, {"evil\n\x1b[31mred", NULL}, NULL}};

	multi_fails(f, 1, ERR_INVALID,
		    "\"t/evil\\x0a\\x1b[31mred\" contains control character 0x0a");
	static const struct tf g[] = {{5, {"del\x7f", NULL}, NULL}};
	buf_reset(&b);
	multi_fails(g, 1, ERR_INVALID, "contains control character 0x7f");
}

Test(metainfo, path_nul)
{
	/* buf_puts would stop at the NUL: append the whole literal. */
	static const char t[] = "d4:infod5:filesld6:lengthi1e4:pathl3:a\0beee4:name1:t"
				"12:piece lengthi16e6:pieces20:AAAAAAAAAAAAAAAAAAAAee";
	buf_append(&b, t, sizeof t - 1);
	parse_fails(ERR_INVALID, "\"t/a\\x00b\" contains a NUL byte");
}

Test(metainfo, path_component_too_long)
{
	char longname[300];
	struct tf f[1] = {{5, {longname, NULL}, NULL}};

	memset(longname, 'x', 256);
	longname[256] = '\0';
	multi_fails(f, 1, ERR_INVALID, "has a component longer than 255 bytes");
	/* 255 is fine. */
	buf_reset(&b);
	longname[255] = '\0';
	put_multi("t", f, 1, 16);
	metainfo_free(parse_ok());
}

Test(metainfo, path_too_long_overall)
{
	static char comp[200];
	size_t i;

	memset(comp, 'd', sizeof comp - 1);
	buf_puts(&b, "d4:infod5:filesld6:lengthi5e4:pathl");
	for (i = 0; i < 25; i++)
		bencode_put_cstr(&b, comp);
	buf_puts(&b, "eee4:name1:t12:piece lengthi16e6:pieces20:AAAAAAAAAAAAAAAAAAAAee");
	parse_fails(ERR_INVALID, "is longer than 4000 bytes");
}

Test(metainfo, duplicate_paths)
{
	static const struct tf f[] = {
	    {1, {"x", NULL}, NULL},
	    {1, {"d", "same", NULL}, NULL},
	    {1, {"y", NULL}, NULL},
	    {1, {"d", "same", NULL}, NULL},
	};

	multi_fails(f, 4, ERR_INVALID,
		    "info.files[3].path \"t/d/same\" is a duplicate of info.files[1]");
}

Test(metainfo, file_is_also_directory)
{
	static const struct tf f[] = {
	    {1, {"a", NULL}, NULL},
	    {1, {"a-b", NULL}, NULL},
	    {1, {"a", "b", NULL}, NULL},
	};

	multi_fails(f, 3, ERR_INVALID,
		    "info.files[0].path \"t/a\" is a file but info.files[2] \"t/a/b\" uses it as a "
		    "directory");
}

Test(metainfo, file_is_also_directory_reversed_and_deep)
{
	static const struct tf f[] = {
	    {1, {"a", "b", "c", NULL}, NULL},
	    {1, {"a", "b!", NULL}, NULL},
	    {1, {"a", "b", NULL}, NULL},
	};

	multi_fails(f, 3, ERR_INVALID, "info.files[2].path \"t/a/b\" is a file");
}

Test(metainfo, name_checked_as_component)
{
	put_single("..", 10, 16);
	parse_fails(ERR_INVALID, "info.name \"..\" contains '..'");
	buf_reset(&b);
	put_single("a/b", 10, 16);
	parse_fails(ERR_INVALID, "info.name \"a/b\" contains '/' inside a component");
	buf_reset(&b);
	put_single("/etc", 10, 16);
	parse_fails(ERR_INVALID, "info.name \"/etc\" is an absolute path");
	buf_reset(&b);
	put_single("", 10, 16);
	parse_fails(ERR_INVALID, "info.name \"\" contains an empty component");
}

Test(metainfo, name_utf8_checked_too)
{
	buf_puts(&b, "d4:infod6:lengthi1e4:name1:a10:name.utf-82:..12:piece lengthi1e"
		     "6:pieces20:AAAAAAAAAAAAAAAAAAAAee");
	parse_fails(ERR_INVALID, "info.name \"..\" contains '..'");
}

Test(metainfo, path_utf8_checked_too)
{
	buf_puts(&b, "d4:infod5:filesld6:lengthi1e4:pathl1:ae10:path.utf-8l2:..eee"
		     "4:name1:t12:piece lengthi16e6:pieces20:AAAAAAAAAAAAAAAAAAAAee");
	parse_fails(ERR_INVALID, "info.files[0].path.utf-8 \"t/..\" contains '..'");
}

Test(metainfo, message_escapes_terminal_sequences)
{
	/* C1 CSI (U+009B) and invalid UTF-8 are escaped; valid UTF-8 is kept. */
	static const struct tf f[] = {{5,
				       {"\xc2\x9b"
					"2J\xe9t\xc3\xa9",
					"..", NULL},
				       NULL}};

	multi_fails(f, 1, ERR_INVALID, "\"t/\\xc2\\x9b2J\\xe9t\xc3\xa9/..\"");
}

Test(metainfo, long_path_in_message_is_cut)
{
	char longname[250];
	struct tf f[1] = {{5, {longname, "..", NULL}, NULL}};

	memset(longname, 'q', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	multi_fails(f, 1, ERR_INVALID, "...\" contains '..'");
	cr_assert_lt(strlen(err.msg), sizeof err.msg - 1);
}

Test(metainfo, too_many_files_is_a_limit)
{
	/* Built by hand, small entries: METAINFO_MAX_FILES + 1 files. */
	size_t i;

	buf_puts(&b, "d4:infod5:filesl");
	for (i = 0; i <= METAINFO_MAX_FILES; i++)
		buf_puts(&b, "d6:lengthi0e4:pathl1:xee");
	buf_puts(&b, "e4:name1:t12:piece lengthi16e6:pieces0:ee");
	parse_fails(ERR_LIMIT, "more than the limit of 1000000");
}

Test(metainfo, check_component_api)
{
	cr_assert_eq(metainfo_check_component((const uint8_t *)"ok.txt", 6, &err), 0);
	cr_assert_eq(metainfo_check_component((const uint8_t *)"..", 2, &err), -ERR_INVALID);
	cr_assert(strstr(err.msg, "contains '..'") != NULL, "%s", err.msg);
	cr_assert_eq(metainfo_check_component((const uint8_t *)"a\0b", 3, &err), -ERR_INVALID);
	cr_assert(strstr(err.msg, "NUL") != NULL, "%s", err.msg);
	cr_assert_eq(metainfo_check_component((const uint8_t *)"", 0, &err), -ERR_INVALID);
	cr_assert_eq(metainfo_check_component((const uint8_t *)"a\tb", 3, &err), -ERR_INVALID);
	cr_assert(strstr(err.msg, "0x09") != NULL, "%s", err.msg);
	cr_assert_eq(metainfo_check_component((const uint8_t *)"...", 3, &err), 0);
	cr_assert_eq(metainfo_check_component((const uint8_t *)"\xff", 1, &err), 0);
}

Test(metainfo, load_errors)
{
	struct metainfo *mi;

	mi = metainfo_load("/nonexistent/dir/x.torrent", &err);
	cr_assert_null(mi);
	cr_assert_eq(err.code, ERR_IO);
	cr_assert_str_eq(err.msg, "cannot open: No such file or directory");
	mi = metainfo_load("/", &err);
	cr_assert_null(mi);
	cr_assert_eq(err.code, ERR_IO);
	cr_assert(strstr(err.msg, "Is a directory") != NULL, "%s", err.msg);
}

Test(metainfo, load_roundtrip_and_size_limit)
{
	char path[] = "/tmp/test_metainfo_XXXXXX";
	struct metainfo *mi;
	FILE *fp;
	int fd;

	put_single("f", 100, 16);
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	fp = fdopen(fd, "wb");
	cr_assert_not_null(fp);
	cr_assert_eq(fwrite(b.data, 1, b.len, fp), b.len);
	fflush(fp);
	mi = metainfo_load(path, &err);
	cr_assert_not_null(mi, "%s", err.msg);
	cr_assert_eq(mi->total_length, 100);
	metainfo_free(mi);

	/* Grow it past the limit with a sparse tail. */
	cr_assert_eq(ftruncate(fd, (off_t)METAINFO_MAX_FILE_SIZE + 1), 0);
	mi = metainfo_load(path, &err);
	cr_assert_null(mi);
	cr_assert_eq(err.code, ERR_LIMIT);
	cr_assert(strstr(err.msg, "larger than the limit") != NULL, "%s", err.msg);
	fclose(fp);
	unlink(path);
}

Test(metainfo, free_null)
{
	metainfo_free(NULL);
}

/*
 * Every file in tests/hostile-torrents/ must be refused cleanly, with the substring
 * listed for it in tests/hostile-torrents/EXPECTED. ASan/UBSan catch the rest.
 */
Test(metainfo, hostile_corpus)
{
	const char *top = getenv("top_srcdir");
	char dir[1024], path[2048], line[1024];
	struct metainfo *mi;
	struct dirent *de;
	size_t count = 0, checked = 0;
	FILE *exp;
	DIR *d;

	snprintf(dir, sizeof dir, "%s/tests/hostile-torrents", top != NULL ? top : ".");
	d = opendir(dir);
	cr_assert_not_null(d, "cannot open %s (set top_srcdir)", dir);
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n < 8 || strcmp(de->d_name + n - 8, ".torrent") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		memset(&err, 0, sizeof err);
		mi = metainfo_load(path, &err);
		cr_expect_null(mi, "%s was accepted", de->d_name);
		metainfo_free(mi);
		cr_expect_neq(err.code, 0, "%s: no error code", de->d_name);
		cr_expect(err.msg[0] != '\0' && strchr(err.msg, '\n') == NULL, "%s: bad message",
			  de->d_name);
		count++;
	}
	closedir(d);
	cr_assert_geq(count, 30, "only %zu hostile files in %s", count, dir);

	snprintf(path, sizeof path, "%s/EXPECTED", dir);
	exp = fopen(path, "r");
	cr_assert_not_null(exp, "cannot open %s", path);
	while (fgets(line, sizeof line, exp) != NULL) {
		char *sp, *nl;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		sp = strchr(line, ' ');
		cr_assert_not_null(sp, "bad EXPECTED line: %s", line);
		*sp = '\0';
		snprintf(path, sizeof path, "%s/%s", dir, line);
		memset(&err, 0, sizeof err);
		mi = metainfo_load(path, &err);
		cr_expect_null(mi, "%s was accepted", line);
		metainfo_free(mi);
		cr_expect(strstr(err.msg, sp + 1) != NULL, "%s: \"%s\" lacks \"%s\"", line, err.msg,
			  sp + 1);
		checked++;
	}
	fclose(exp);
	cr_assert_eq(checked, count, "EXPECTED lists %zu files, directory has %zu", checked, count);
}
