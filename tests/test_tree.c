/*
 * Tests for fuse/tree.c: the tree a mounted torrent shows (the top folder
 * of a multi-file torrent, the file of a single-file one, padding files
 * hidden, children in name order, stable inode numbers) and the verified
 * byte counts that pieces add to files and folders across file boundaries.
 * Torrents are written in bencode by hand and parsed by metainfo_parse.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "metainfo.h"
#include "tree.h"

#define PLEN 65536u

static size_t
put(uint8_t *out, size_t pos, const char *s)
{
	size_t n = strlen(s);

	memcpy(out + pos, s, n);
	return pos + n;
}

/* "d4:infod5:files l ... e 4:name ... 12:piece length ... 6:pieces ... ee" */
static struct metainfo *
parse_multi(const char *files, uint64_t total)
{
	static uint8_t t[8192];
	struct error err = {0};
	struct metainfo *mi;
	uint32_t npieces = (uint32_t)((total + PLEN - 1) / PLEN);
	char tmp[128];
	size_t pos = 0;

	pos = put(t, pos, "d4:infod5:filesl");
	pos = put(t, pos, files);
	snprintf(tmp, sizeof tmp, "e4:name1:x12:piece lengthi%ue6:pieces%u:", PLEN, npieces * 20);
	pos = put(t, pos, tmp);
	memset(t + pos, 0xab, npieces * 20);
	pos += npieces * 20;
	pos = put(t, pos, "ee");
	mi = metainfo_parse(t, pos, &err);
	cr_assert_not_null(mi, "%s", err.msg);
	return mi;
}

/* x/z.bin 100000, a padding file, x/dir/a.txt 10, x/dir/empty 0, x/dir/sub/b.bin 70000, x/a.bin
 * 5000. */
static struct metainfo *
sample(void)
{
	return parse_multi("d6:lengthi100000e4:pathl5:z.binee"
			   "d4:attr1:p6:lengthi31072e4:pathl4:.pad5:31072ee"
			   "d6:lengthi10e4:pathl3:dir5:a.txtee"
			   "d6:lengthi0e4:pathl3:dir5:emptyee"
			   "d6:lengthi70000e4:pathl3:dir3:sub5:b.binee"
			   "d6:lengthi5000e4:pathl5:a.binee",
			   206082);
}

static const struct tree_node *
walk(const struct tree *t, const char *path)
{
	char buf[256], *p = buf, *slash;
	const struct tree_node *n = tree_get(t, 1);

	snprintf(buf, sizeof buf, "%s", path);
	for (; n != NULL; p = slash + 1) {
		if ((slash = strchr(p, '/')) != NULL)
			*slash = '\0';
		n = tree_lookup(t, n, p);
		if (slash == NULL)
			break;
	}
	return n;
}

Test(tree, multi_file_layout)
{
	struct metainfo *mi = sample();
	struct tree t;
	struct error err = {0};
	const struct tree_node *root, *x, *d;

	cr_assert_eq(tree_build(&t, mi, &err), 0, "%s", err.msg);
	root = tree_get(&t, 1);
	cr_assert(tree_is_dir(root));
	cr_assert_eq(root->nkids, 1, "the root holds the top folder only");
	x = tree_child(&t, root, 0);
	cr_assert_str_eq(x->name, "x");
	cr_assert_eq(x->nkids, 3, "padding hidden: a.bin, dir, z.bin");
	cr_assert_str_eq(tree_child(&t, x, 0)->name, "a.bin");
	cr_assert_str_eq(tree_child(&t, x, 1)->name, "dir");
	cr_assert_str_eq(tree_child(&t, x, 2)->name, "z.bin");
	cr_assert_null(tree_child(&t, x, 3));
	cr_assert_null(tree_lookup(&t, x, ".pad"));
	cr_assert_eq(x->nsubdirs, 1);
	cr_assert_eq(x->size, 175010);
	d = walk(&t, "x/dir");
	cr_assert_not_null(d);
	cr_assert_eq(d->size, 70010);
	cr_assert_eq(d->nsubdirs, 1);
	cr_assert_eq(walk(&t, "x/dir/sub/b.bin")->size, 70000);
	cr_assert_eq(walk(&t, "x/dir/empty")->size, 0);
	cr_assert_not(tree_is_dir(walk(&t, "x/dir/empty")));
	cr_assert_null(walk(&t, "x/dir/nothing"));
	cr_assert_null(tree_lookup(&t, walk(&t, "x/a.bin"), "y"), "files have no children");
	cr_assert_eq(tree_file_offset(&t, walk(&t, "x/a.bin")), 201082);
	cr_assert_null(tree_get(&t, 0));
	cr_assert_null(tree_get(&t, t.nnodes + 1));
	cr_assert_eq(tree_ino(&t, root), 1);
	tree_free(&t);
	metainfo_free(mi);
}

Test(tree, inode_numbers_are_stable)
{
	struct metainfo *mi = sample();
	struct tree a, b;
	const char *paths[] = {"x",	  "x/dir",   "x/dir/sub/b.bin",
			       "x/z.bin", "x/a.bin", "x/dir/empty"};
	size_t i;

	cr_assert_eq(tree_build(&a, mi, NULL), 0);
	cr_assert_eq(tree_build(&b, mi, NULL), 0);
	for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		const struct tree_node *na = walk(&a, paths[i]), *nb = walk(&b, paths[i]);

		cr_assert_not_null(na, "%s", paths[i]);
		cr_assert_eq(tree_ino(&a, na), tree_ino(&b, nb), "%s", paths[i]);
		cr_assert_eq(tree_get(&a, tree_ino(&a, na)), na);
	}
	tree_free(&a);
	tree_free(&b);
	metainfo_free(mi);
}

Test(tree, verified_bytes_cross_file_boundaries)
{
	struct metainfo *mi = sample();
	struct tree t;

	cr_assert_eq(tree_build(&t, mi, NULL), 0);
	tree_piece_verified(&t, 0);
	cr_assert_eq(walk(&t, "x/z.bin")->verified, 65536);
	tree_piece_verified(&t, 1); /* the rest of z.bin, then padding (not counted) */
	cr_assert_eq(walk(&t, "x/z.bin")->verified, 100000);
	cr_assert_eq(walk(&t, "x")->verified, 100000);
	tree_piece_verified(&t, 2); /* a.txt, the empty file, the start of b.bin */
	cr_assert_eq(walk(&t, "x/dir/a.txt")->verified, 10);
	cr_assert_eq(walk(&t, "x/dir/empty")->verified, 0);
	cr_assert_eq(walk(&t, "x/dir/sub/b.bin")->verified, 196608 - 131082);
	cr_assert_eq(walk(&t, "x/dir")->verified, 10 + 196608 - 131082);
	tree_piece_verified(&t, 3); /* the last, short piece */
	cr_assert_eq(walk(&t, "x/dir/sub/b.bin")->verified, 70000);
	cr_assert_eq(walk(&t, "x/a.bin")->verified, 5000);
	cr_assert_eq(walk(&t, "x/dir/sub")->verified, 70000);
	cr_assert_eq(tree_get(&t, 1)->verified, 175010, "the root counts every file, no padding");
	tree_piece_verified(&t, 4); /* out of range: ignored */
	cr_assert_eq(tree_get(&t, 1)->verified, 175010);
	tree_free(&t);
	metainfo_free(mi);
}

Test(tree, single_file_torrent)
{
	static const char one[] = "d4:infod6:lengthi70000e4:name7:one.bin12:piece lengthi65536e"
				  "6:pieces40:0123456789012345678901234567890123456789ee";
	struct error err = {0};
	struct metainfo *mi = metainfo_parse((const uint8_t *)one, sizeof one - 1, &err);
	struct tree t;
	const struct tree_node *f;

	cr_assert_not_null(mi, "%s", err.msg);
	cr_assert_eq(tree_build(&t, mi, NULL), 0);
	cr_assert_eq(tree_get(&t, 1)->nkids, 1);
	f = tree_lookup(&t, tree_get(&t, 1), "one.bin");
	cr_assert_not_null(f);
	cr_assert_not(tree_is_dir(f));
	cr_assert_eq(f->size, 70000);
	tree_piece_verified(&t, 1);
	cr_assert_eq(f->verified, 70000 - 65536);
	cr_assert_eq(tree_get(&t, 1)->verified, 70000 - 65536);
	tree_free(&t);
	metainfo_free(mi);
}
