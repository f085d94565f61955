/*
 * layout: pure arithmetic between the three ways a torrent's bytes are
 * addressed: pieces (hashed units), blocks (16 KiB request units inside a
 * piece) and byte ranges of the files, which are concatenated in order to
 * form the torrent's byte stream.
 *
 * No I/O and no allocation after layout_init(), so the storage layer can
 * pwrite/pread through the segment iterator and the FUSE layer can map a
 * read of a file onto the pieces it needs, both without re-deriving offsets.
 *
 * Conventions: files of length 0 occupy no bytes; they are never yielded by
 * the iterator and never returned by layout_file_at(). Functions that take
 * an index or a range return -ERR_INVALID (or 0 for the size getters) when
 * it is out of bounds, so a hostile index from a peer cannot read past the
 * tables.
 */
#ifndef PIECES_LAYOUT_H
#define PIECES_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define LAYOUT_BLOCK_SIZE 16384u
/* More files than any sane torrent; metainfo caps first, this bounds the tables. */
#define LAYOUT_MAX_FILES (1u << 20)

struct layout {
	uint64_t total;
	uint32_t piece_len;
	uint32_t piece_count;
	size_t nfiles;
	/*
	 * nfiles + 1 entries: file i covers [offset[i], offset[i + 1]);
	 * offset[nfiles] == total. A 0-length file has offset[i] == offset[i + 1].
	 */
	uint64_t *offset;
};

/*
 * Builds the layout. file_lens (nfiles entries, copied) must sum to total;
 * total must be > 0 and at most INT64_MAX (so every offset fits an off_t);
 * piece_len > 0; the piece count must fit in 32 bits (the wire protocol's
 * piece index). Returns 0, -ERR_INVALID, -ERR_LIMIT or -ERR_NOMEM with err
 * (may be NULL) filled. On failure *l is left empty and layout_free() on it
 * is harmless.
 */
int layout_init(struct layout *l, uint64_t total, uint32_t piece_len, const uint64_t *file_lens,
		size_t nfiles, struct error *err);
/* Releases the tables; *l is zeroed. NULL is a no-op. */
void layout_free(struct layout *l);

uint32_t layout_piece_count(const struct layout *l);
/* piece_len for every piece but the last, which may be shorter; 0 if out of range. */
uint32_t layout_piece_size(const struct layout *l, uint32_t piece);
/* Byte offset of the piece in the torrent stream; 0 if out of range. */
uint64_t layout_piece_offset(const struct layout *l, uint32_t piece);
/* Number of LAYOUT_BLOCK_SIZE blocks in the piece (the last one may be short); 0 if out of range.
 */
uint32_t layout_block_count(const struct layout *l, uint32_t piece);
/* Size of one block: LAYOUT_BLOCK_SIZE except the last block of a piece; 0 if out of range. */
uint32_t layout_block_size(const struct layout *l, uint32_t piece, uint32_t block);

size_t layout_file_count(const struct layout *l);
/* Length and stream offset of file i; 0 if out of range. */
uint64_t layout_file_length(const struct layout *l, size_t file);
uint64_t layout_file_offset(const struct layout *l, size_t file);

/*
 * Index of the (non-empty) file holding stream byte `offset`, by binary
 * search. 0, or -ERR_INVALID when offset >= total.
 */
int layout_file_at(const struct layout *l, uint64_t offset, size_t *file);

/*
 * The files the piece's bytes fall in: first and last are the files holding
 * its first and last byte (never 0-length ones); files strictly between
 * them may be 0-length. 0, or -ERR_INVALID for a bad piece index.
 */
int layout_piece_files(const struct layout *l, uint32_t piece, size_t *first, size_t *last);

/*
 * The pieces covering bytes [off, off + len) of one file. The range is
 * clipped at the end of the file (a read past EOF asks for what exists);
 * -ERR_INVALID if nothing remains (len 0, off at or past the end, an empty
 * file, a bad index). Otherwise 0 with first/last piece indices inclusive.
 */
int layout_file_range_to_pieces(const struct layout *l, size_t file, uint64_t off, uint64_t len,
				uint32_t *first_piece, uint32_t *last_piece);

/* One intersection of a stream byte range with a file. */
struct layout_seg {
	size_t file;
	uint64_t file_off;  /* offset inside the file */
	uint64_t len;	    /* > 0 */
	uint64_t range_off; /* offset of this segment inside the iterated range */
};

/* Walks the file segments of a stream range; see layout_iter_init(). */
struct layout_iter {
	const struct layout *l;
	uint64_t pos;
	uint64_t end;
	uint64_t start;
	size_t file;
};

/*
 * Prepares to walk [offset, offset + len) of the stream. 0, or -ERR_INVALID
 * if the range does not lie inside the torrent. len 0 is valid and yields
 * nothing. The layout must outlive the iterator.
 *
 *	struct layout_iter it;
 *	struct layout_seg s;
 *	layout_iter_init(&it, l, layout_piece_offset(l, p), layout_piece_size(l, p));
 *	while (layout_iter_next(&it, &s))
 *		pwrite(fd[s.file], data + s.range_off, s.len, s.file_off);
 */
int layout_iter_init(struct layout_iter *it, const struct layout *l, uint64_t offset, uint64_t len);
/* Fills *seg with the next non-empty segment, in stream order; false when done. */
bool layout_iter_next(struct layout_iter *it, struct layout_seg *seg);

#endif
