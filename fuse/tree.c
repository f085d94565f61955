/*
 * tree: builds the mounted torrent's directory tree from the metainfo's
 * file list (see tree.h) and keeps per-node verified byte counts.
 *
 * Building runs in two passes. The first walks every file's path
 * components, creating a node for each folder the first time it is seen;
 * a temporary hash table keyed by (parent, name) finds existing folders in
 * O(1), so a torrent with a million files builds in linear time. The second
 * pass groups children by parent (counting sort on the parent index) and
 * sorts each group by name for binary-search lookups.
 *
 * Verified bytes are pushed up from files to the root as pieces verify,
 * O(files under the piece + depth), so `stat` and `getfattr` on a folder
 * read a counter instead of summing a subtree.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tree.h"

struct build {
	struct tree *t;
	uint32_t cap;	 /* nodes allocated */
	uint32_t *index; /* hash of (parent, name) -> node, TREE_NONE when free */
	uint32_t icap;	 /* power of two */
};

static uint32_t
name_hash(uint32_t parent, const char *name)
{
	uint32_t h = 2166136261u ^ parent;

	for (; *name != '\0'; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return h ^ (h >> 15);
}

static int
index_grow(struct build *b)
{
	uint32_t cap = b->icap ? b->icap * 2 : 1024, i;
	uint32_t *idx = malloc((size_t)cap * sizeof *idx);

	if (idx == NULL)
		return -1;
	for (i = 0; i < cap; i++)
		idx[i] = TREE_NONE;
	for (i = 0; i < b->t->nnodes; i++) {
		const struct tree_node *n = &b->t->nodes[i];
		uint32_t j;

		if (i == 0)
			continue; /* the root is never looked up by name */
		j = name_hash(n->parent, n->name) & (cap - 1);
		while (idx[j] != TREE_NONE)
			j = (j + 1) & (cap - 1);
		idx[j] = i;
	}
	free(b->index);
	b->index = idx;
	b->icap = cap;
	return 0;
}

/* The child `name` of `parent`, created (as a file when file != TREE_NONE) if new. */
static int
child(struct build *b, uint32_t parent, const char *name, uint32_t file, uint32_t *out,
      struct error *err)
{
	struct tree *t = b->t;
	uint32_t j;

	if ((uint64_t)t->nnodes * 2 >= b->icap && index_grow(b) < 0)
		return error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
	j = name_hash(parent, name) & (b->icap - 1);
	for (; b->index[j] != TREE_NONE; j = (j + 1) & (b->icap - 1)) {
		const struct tree_node *n = &t->nodes[b->index[j]];

		if (n->parent == parent && strcmp(n->name, name) == 0) {
			/* The metainfo parser refuses these; stay safe anyway. */
			if (file != TREE_NONE || !tree_is_dir(n))
				return error_set(
				    err, ERR_INVALID, ERROR_NO_OFFSET,
				    "\"%s\" is both a file and a folder, or listed twice", name);
			*out = b->index[j];
			return 0;
		}
	}
	if (t->nnodes == b->cap) {
		uint32_t cap = b->cap * 2;
		struct tree_node *nodes;

		if (cap <= b->cap ||
		    (nodes = realloc(t->nodes, (size_t)cap * sizeof *nodes)) == NULL)
			return error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		t->nodes = nodes;
		b->cap = cap;
	}
	memset(&t->nodes[t->nnodes], 0, sizeof t->nodes[0]);
	t->nodes[t->nnodes].name = name;
	t->nodes[t->nnodes].parent = parent;
	t->nodes[t->nnodes].file = file;
	b->index[j] = t->nnodes;
	*out = t->nnodes++;
	return 0;
}

static int
by_name(const void *a, const void *b, void *arg)
{
	const struct tree_node *nodes = arg;

	return strcmp(nodes[*(const uint32_t *)a].name, nodes[*(const uint32_t *)b].name);
}

int
tree_build(struct tree *t, const struct metainfo *mi, struct error *err)
{
	struct build b = {t, 0, NULL, 0};
	uint32_t *fill = NULL, i;
	size_t f, c;
	int rc = -ERR_NOMEM;

	memset(t, 0, sizeof *t);
	t->mi = mi;
	if (mi->nfiles >= TREE_NONE / 4)
		return error_set(err, ERR_LIMIT, ERROR_NO_OFFSET, "too many files");
	b.cap = 64;
	if ((t->nodes = calloc(b.cap, sizeof *t->nodes)) == NULL ||
	    (t->file_node = malloc(mi->nfiles * sizeof *t->file_node + 1)) == NULL) {
		error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		goto fail;
	}
	t->nodes[0].name = "";
	t->nodes[0].file = TREE_NONE;
	t->nnodes = 1;
	for (f = 0; f < mi->nfiles; f++) {
		const struct metainfo_file *mf = &mi->files[f];
		uint32_t at = 0;

		t->file_node[f] = TREE_NONE;
		if (mf->pad)
			continue;
		for (c = 0; c < mf->ncomponents; c++) {
			int last = c + 1 == mf->ncomponents;

			if ((rc = child(&b, at, mf->components[c], last ? (uint32_t)f : TREE_NONE,
					&at, err)) < 0)
				goto fail;
		}
		t->file_node[f] = at;
		t->nodes[at].size = mf->length;
		/* Folder sizes: the sum of the files below. */
		while (at != 0) {
			at = t->nodes[at].parent;
			t->nodes[at].size += mf->length;
		}
	}
	free(b.index);
	b.index = NULL;

	/* Group children by parent (counting sort), then order each group by name. */
	if ((t->kids = malloc((size_t)t->nnodes * sizeof *t->kids)) == NULL ||
	    (fill = calloc(t->nnodes, sizeof *fill)) == NULL) {
		rc = error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		goto fail;
	}
	for (i = 1; i < t->nnodes; i++) {
		struct tree_node *p = &t->nodes[t->nodes[i].parent];

		p->nkids++;
		if (tree_is_dir(&t->nodes[i]))
			p->nsubdirs++;
	}
	for (i = 0, c = 0; i < t->nnodes; i++) {
		t->nodes[i].first = (uint32_t)c;
		c += t->nodes[i].nkids;
	}
	for (i = 1; i < t->nnodes; i++) {
		struct tree_node *p = &t->nodes[t->nodes[i].parent];

		t->kids[p->first + fill[t->nodes[i].parent]++] = i;
	}
	for (i = 0; i < t->nnodes; i++)
		if (t->nodes[i].nkids > 1)
			qsort_r(t->kids + t->nodes[i].first, t->nodes[i].nkids, sizeof *t->kids,
				by_name, t->nodes);
	free(fill);
	return 0;
fail:
	free(b.index);
	free(fill);
	tree_free(t);
	return rc < 0 ? rc : -ERR_NOMEM;
}

void
tree_free(struct tree *t)
{
	if (t == NULL)
		return;
	free(t->nodes);
	free(t->kids);
	free(t->file_node);
	memset(t, 0, sizeof *t);
}

const struct tree_node *
tree_get(const struct tree *t, uint64_t ino)
{
	if (ino == 0 || ino > t->nnodes)
		return NULL;
	return &t->nodes[ino - 1];
}

uint64_t
tree_ino(const struct tree *t, const struct tree_node *n)
{
	return (uint64_t)(n - t->nodes) + 1;
}

const struct tree_node *
tree_lookup(const struct tree *t, const struct tree_node *dir, const char *name)
{
	size_t lo = 0, hi;

	if (!tree_is_dir(dir))
		return NULL;
	hi = dir->nkids;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct tree_node *n = &t->nodes[t->kids[dir->first + mid]];
		int c = strcmp(name, n->name);

		if (c == 0)
			return n;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct tree_node *
tree_child(const struct tree *t, const struct tree_node *dir, uint32_t i)
{
	if (!tree_is_dir(dir) || i >= dir->nkids)
		return NULL;
	return &t->nodes[t->kids[dir->first + i]];
}

uint64_t
tree_file_offset(const struct tree *t, const struct tree_node *n)
{
	return tree_is_dir(n) ? 0 : t->mi->files[n->file].offset;
}

void
tree_piece_verified(struct tree *t, uint32_t piece)
{
	const struct metainfo *mi = t->mi;
	uint64_t ps = (uint64_t)piece * mi->piece_length;
	uint64_t pe = ps + metainfo_piece_size(mi, piece);
	size_t lo = 0, hi = mi->nfiles, f;

	if (piece >= mi->piece_count)
		return;
	/* First file ending after ps: offsets never decrease along the list. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mi->files[mid].offset + mi->files[mid].length <= ps)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (f = lo; f < mi->nfiles && mi->files[f].offset < pe; f++) {
		const struct metainfo_file *mf = &mi->files[f];
		uint64_t a = mf->offset > ps ? mf->offset : ps;
		uint64_t z = mf->offset + mf->length < pe ? mf->offset + mf->length : pe;
		uint32_t at = t->file_node[f];

		if (z <= a || at == TREE_NONE)
			continue;
		for (;;) {
			t->nodes[at].verified += z - a;
			if (at == 0)
				break;
			at = t->nodes[at].parent;
		}
	}
}
