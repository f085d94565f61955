/*
 * tree: the directory tree a mounted torrent shows, built once from the
 * metainfo, plus how many verified bytes each file and folder holds.
 *
 * The root holds what `pieces download` puts in its folder: the file of a
 * single-file torrent, or the torrent's top folder with every file below
 * it. BEP 47 padding files are left out. The tree never changes while
 * mounted, so a node's index is its identity: inode = index + 1 (the root
 * is 1, FUSE's root id), the same on every mount of the same torrent.
 * Children are kept sorted by name, so lookups are binary searches.
 *
 * Pure code: no FUSE, no I/O. Names point into the metainfo, which must
 * outlive the tree.
 */
#ifndef PIECES_TREE_H
#define PIECES_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "metainfo.h"

#define TREE_NONE UINT32_MAX

struct tree_node {
	const char *name; /* "" for the root */
	uint32_t parent;  /* index; the root is its own parent */
	uint32_t first;	  /* directories: children are kids[first .. first + nkids) */
	uint32_t nkids;
	uint32_t nsubdirs;
	uint32_t file;	   /* index in mi->files, TREE_NONE for a directory */
	uint64_t size;	   /* a file's length; a directory: the sum of the files below */
	uint64_t verified; /* bytes of verified pieces inside (files below, for a directory) */
};

struct tree {
	const struct metainfo *mi;
	struct tree_node *nodes;
	uint32_t nnodes;
	uint32_t *kids;	     /* children of every directory, grouped, sorted by name */
	uint32_t *file_node; /* per metainfo file: its node, TREE_NONE for padding */
};

/* Builds the tree. 0, or -ERR_NOMEM / -ERR_LIMIT / -ERR_INVALID with err filled. */
int tree_build(struct tree *t, const struct metainfo *mi, struct error *err);
/* Frees the tables; *t is zeroed. */
void tree_free(struct tree *t);

/* The node of an inode number, NULL when out of range. */
const struct tree_node *tree_get(const struct tree *t, uint64_t ino);
uint64_t tree_ino(const struct tree *t, const struct tree_node *n);
static inline int
tree_is_dir(const struct tree_node *n)
{
	return n->file == TREE_NONE;
}
/* The child of dir called name, NULL when there is none (or dir is a file). */
const struct tree_node *tree_lookup(const struct tree *t, const struct tree_node *dir,
				    const char *name);
/* The i-th child of dir in name order, NULL past the end. */
const struct tree_node *tree_child(const struct tree *t, const struct tree_node *dir, uint32_t i);
/* The byte range of a file node in the torrent stream. */
uint64_t tree_file_offset(const struct tree *t, const struct tree_node *n);

/*
 * Piece `piece` was verified (call once per piece): adds the bytes it
 * shares with each file to that file and to every folder above it.
 */
void tree_piece_verified(struct tree *t, uint32_t piece);

#endif
