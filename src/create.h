/*
 * create: builds a BitTorrent v1 .torrent from a file or a directory.
 *
 * Files of a directory are listed recursively (following symlinks, like
 * mktorrent) and sorted by their relative path compared bytewise, so the
 * same input and options give the same info-hash as mktorrent 1.1.
 * Hashing streams the data through one piece-sized buffer: memory use does
 * not depend on the size of the input.
 */
#ifndef PIECES_CREATE_H
#define PIECES_CREATE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

#define CREATE_MIN_PIECE_LENGTH (16u << 10)
#define CREATE_MAX_PIECE_LENGTH (64u << 20)

struct create_opts {
	const char *path;      /* file or directory to describe */
	const char *name;      /* torrent name; NULL = basename of path */
	const char **trackers; /* one per tier; a comma inside one adds backups to that tier */
	size_t ntrackers;
	const char **web_seeds;
	size_t nweb_seeds;
	int private_flag;
	uint32_t piece_length; /* 0 = create_auto_piece_length() */
	const char *comment;   /* NULL = none */
	const char *source;    /* info.source, NULL = none */
	const char *created_by;
	int64_t creation_date; /* < 0 = none */
	/* Called now and then while hashing; may be NULL. */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
	void *progress_arg;
};

/* Appends the bencoded torrent to out. */
int create_torrent(const struct create_opts *opts, struct buf *out, struct error *err);

/* Power of two giving at most ~2000 pieces, within [32 KiB, 16 MiB]. */
uint32_t create_auto_piece_length(uint64_t total);

#endif
