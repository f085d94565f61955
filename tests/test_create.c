/* Unit tests for src/create.c: file walk order, piece hashing across file
 * boundaries, options, and refusals. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "create.h"
#include "metainfo.h"
#include "sha1.h"

static char root[64];

static void
put(const char *rel, size_t n, unsigned seed)
{
	char path[512], *slash;
	uint8_t *data = malloc(n ? n : 1);
	FILE *f;
	size_t i;

	snprintf(path, sizeof path, "%s/%s", root, rel);
	for (slash = path + strlen(root) + 1; (slash = strchr(slash, '/')) != NULL; slash++) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	for (i = 0; i < n; i++)
		data[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
	f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, n, f), n);
	fclose(f);
	free(data);
}

static void
setup(void)
{
	snprintf(root, sizeof root, "/tmp/pieces-test-create.XXXXXX");
	cr_assert_not_null(mkdtemp(root));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	cr_assert_eq(system(cmd), 0);
}

static struct metainfo *
make(struct create_opts *o, struct buf *b)
{
	struct error err = {0};
	struct metainfo *mi;

	buf_init(b, 1 << 24);
	cr_assert_eq(create_torrent(o, b, &err), 0, "%s", err.msg);
	mi = metainfo_parse(b->data, b->len, &err);
	cr_assert_not_null(mi, "%s", err.msg);
	return mi;
}

/* Reads the concatenation of files and checks every piece hash. */
static void
check_hashes(const struct metainfo *mi, const char *base)
{
	uint64_t total = mi->total_length, pos = 0;
	uint8_t *all = malloc(total), h[SHA1_LEN];
	size_t i;
	uint32_t p;

	for (i = 0; i < mi->nfiles; i++) {
		char path[600];
		FILE *f;

		snprintf(path, sizeof path, "%s/%s", base, mi->files[i].path);
		cr_assert_eq(mi->files[i].offset, pos);
		f = fopen(path, "rb");
		cr_assert_not_null(f, "%s", path);
		cr_assert_eq(fread(all + pos, 1, mi->files[i].length, f), mi->files[i].length);
		fclose(f);
		pos += mi->files[i].length;
	}
	cr_assert_eq(pos, total);
	for (p = 0; p < mi->piece_count; p++) {
		uint64_t off = (uint64_t)p * mi->piece_length;

		sha1_digest(all + off, metainfo_piece_size(mi, p), h);
		cr_assert(memcmp(h, mi->piece_hashes + (size_t)p * SHA1_LEN, SHA1_LEN) == 0,
			  "piece %u", p);
	}
	free(all);
}

TestSuite(create, .init = setup, .fini = teardown);

Test(create, multi_file_order_and_hashes)
{
	struct create_opts o = {0};
	struct metainfo *mi;
	struct buf b;
	char parent[600];

	put("d/a.txt", 10, 1);
	put("d/a/b", 70000, 2);
	put("d/B/c", 16384, 3);
	put("d/.hidden", 3, 4);
	put("d/empty", 0, 5);
	put("d/z", 40000, 6);
	snprintf(parent, sizeof parent, "%s/d", root);
	o.path = parent;
	o.piece_length = 32768;
	o.creation_date = -1;
	mi = make(&o, &b);
	cr_assert(mi->multi_file);
	cr_assert_str_eq(mi->name, "d");
	cr_assert_eq(mi->nfiles, 6);
	/* Bytewise order of the whole relative path, as mktorrent sorts. */
	cr_assert_str_eq(mi->files[0].path, "d/.hidden");
	cr_assert_str_eq(mi->files[1].path, "d/B/c");
	cr_assert_str_eq(mi->files[2].path, "d/a.txt");
	cr_assert_str_eq(mi->files[3].path, "d/a/b");
	cr_assert_str_eq(mi->files[4].path, "d/empty");
	cr_assert_str_eq(mi->files[5].path, "d/z");
	cr_assert_eq(mi->total_length, 10 + 70000 + 16384 + 3 + 40000);
	cr_assert_eq(mi->piece_count, (mi->total_length + 32767) / 32768);
	cr_assert_not(mi->has_creation_date);
	check_hashes(mi, root);
	metainfo_free(mi);
	buf_free(&b);
}

Test(create, single_file_and_options)
{
	const char *tr[] = {"http://127.0.0.1:1/a", "udp://127.0.0.1:2,http://127.0.0.1:3/b"};
	const char *ws[] = {"http://127.0.0.1:4/"};
	struct create_opts o = {0};
	struct metainfo *mi;
	struct buf b;
	char path[600];

	put("one.bin", 100001, 9);
	snprintf(path, sizeof path, "%s/one.bin", root);
	o.path = path;
	o.trackers = tr;
	o.ntrackers = 2;
	o.web_seeds = ws;
	o.nweb_seeds = 1;
	o.private_flag = 1;
	o.comment = "a comment";
	o.source = "SRC";
	o.created_by = "pieces test";
	o.creation_date = 1234567890;
	mi = make(&o, &b);
	cr_assert_not(mi->multi_file);
	cr_assert_str_eq(mi->name, "one.bin");
	cr_assert_eq(mi->nfiles, 1);
	cr_assert_eq(mi->files[0].length, 100001);
	cr_assert_eq(mi->piece_length, create_auto_piece_length(100001));
	cr_assert_eq(mi->ntiers, 2);
	cr_assert_eq(mi->tiers[1].nurls, 2);
	cr_assert_str_eq(mi->tiers[1].urls[1], "http://127.0.0.1:3/b");
	cr_assert_eq(mi->nweb_seeds, 1);
	cr_assert(mi->private_flag);
	cr_assert_str_eq(mi->comment, "a comment");
	cr_assert_str_eq(mi->source, "SRC");
	cr_assert_eq(mi->creation_date, 1234567890);
	check_hashes(mi, root);
	metainfo_free(mi);
	buf_free(&b);
}

Test(create, exact_multiple_of_piece_length)
{
	struct create_opts o = {0};
	struct metainfo *mi;
	struct buf b;
	char path[600];

	put("x.bin", 4 * 16384, 1);
	snprintf(path, sizeof path, "%s/x.bin", root);
	o.path = path;
	o.piece_length = 16384;
	o.creation_date = -1;
	mi = make(&o, &b);
	cr_assert_eq(mi->piece_count, 4);
	cr_assert_eq(metainfo_piece_size(mi, 3), 16384);
	check_hashes(mi, root);
	metainfo_free(mi);
	buf_free(&b);
}

Test(create, refusals)
{
	struct create_opts o = {0};
	struct error err = {0};
	struct buf b;
	char path[600];

	buf_init(&b, 1 << 20);
	o.path = "/nonexistent/pieces";
	cr_assert_lt(create_torrent(&o, &b, &err), 0);
	cr_assert(strstr(err.msg, "No such file") != NULL, "%s", err.msg);

	snprintf(path, sizeof path, "%s/emptydir", root);
	mkdir(path, 0755);
	o.path = path;
	cr_assert_lt(create_torrent(&o, &b, &err), 0);
	cr_assert(strstr(err.msg, "total size is 0") != NULL, "%s", err.msg);

	put("bad/ok.txt", 5, 1);
	put("bad/we\x01ird", 5, 1);
	snprintf(path, sizeof path, "%s/bad", root);
	o.path = path;
	cr_assert_lt(create_torrent(&o, &b, &err), 0);
	cr_assert_eq(err.code, ERR_INVALID, "%s", err.msg);

	put("fine.bin", 5, 1);
	snprintf(path, sizeof path, "%s/fine.bin", root);
	o.path = path;
	o.piece_length = 1000;
	cr_assert_lt(create_torrent(&o, &b, &err), 0);
	cr_assert(strstr(err.msg, "piece size") != NULL, "%s", err.msg);
	buf_free(&b);
}

Test(create, auto_piece_length)
{
	cr_assert_eq(create_auto_piece_length(1), 32768);
	cr_assert_eq(create_auto_piece_length(32u << 20), 32768);
	cr_assert_eq(create_auto_piece_length(64u << 20), 65536);
	cr_assert_eq(create_auto_piece_length(1ull << 30), 1u << 20);
	cr_assert_eq(create_auto_piece_length(1ull << 40), 16u << 20);
	cr_assert_leq((1ull << 30) / create_auto_piece_length(1ull << 30), 2000);
}
