/*
 * layout: maps pieces and blocks to byte ranges of the torrent's files.
 *
 * The only state is a prefix-sum table of file offsets, so every question
 * is either O(1) arithmetic or a binary search over that table. 0-length
 * files share their offset with the next file; searching for the *last*
 * file whose offset is <= the byte skips them without special cases,
 * because a 0-length file is always followed by a file with the same
 * offset (or sits at the very end, past every valid byte).
 *
 * Everything is uint64 and every addition is checked or provably bounded by
 * total (<= INT64_MAX), since lengths come from untrusted .torrent files.
 */
#include "layout.h"

#include <stdlib.h>
#include <string.h>

int
layout_init(struct layout *l, uint64_t total, uint32_t piece_len, const uint64_t *file_lens,
	    size_t nfiles, struct error *err)
{
	uint64_t sum = 0, count;
	size_t i;
	int rc;

	memset(l, 0, sizeof *l);
	if (piece_len == 0)
		return error_set(err, ERR_INVALID, ERROR_NO_OFFSET, "piece length is 0");
	if (total == 0)
		return error_set(err, ERR_INVALID, ERROR_NO_OFFSET, "torrent is empty");
	if (total > INT64_MAX)
		return error_set(err, ERR_LIMIT, ERROR_NO_OFFSET, "torrent length %llu too large",
				 (unsigned long long)total);
	if (nfiles == 0)
		return error_set(err, ERR_INVALID, ERROR_NO_OFFSET, "torrent has no files");
	if (nfiles > LAYOUT_MAX_FILES)
		return error_set(err, ERR_LIMIT, ERROR_NO_OFFSET, "too many files (%zu)", nfiles);
	count = total / piece_len + (total % piece_len != 0);
	if (count > UINT32_MAX)
		return error_set(err, ERR_LIMIT, ERROR_NO_OFFSET, "too many pieces (%llu)",
				 (unsigned long long)count);

	l->offset = malloc((nfiles + 1) * sizeof *l->offset);
	if (l->offset == NULL)
		return error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
	for (i = 0; i < nfiles; i++) {
		l->offset[i] = sum;
		/* sum <= total here, so this cannot wrap. */
		if (file_lens[i] > total - sum) {
			rc = error_set(err, ERR_INVALID, ERROR_NO_OFFSET,
				       "file lengths exceed the total length %llu",
				       (unsigned long long)total);
			goto fail;
		}
		sum += file_lens[i];
	}
	if (sum != total) {
		rc = error_set(err, ERR_INVALID, ERROR_NO_OFFSET,
			       "file lengths sum to %llu, total length is %llu",
			       (unsigned long long)sum, (unsigned long long)total);
		goto fail;
	}
	l->offset[nfiles] = total;
	l->total = total;
	l->piece_len = piece_len;
	l->piece_count = (uint32_t)count;
	l->nfiles = nfiles;
	return 0;

fail:
	layout_free(l);
	return rc;
}

void
layout_free(struct layout *l)
{
	if (l == NULL)
		return;
	free(l->offset);
	memset(l, 0, sizeof *l);
}

uint32_t
layout_piece_count(const struct layout *l)
{
	return l->piece_count;
}

uint64_t
layout_piece_offset(const struct layout *l, uint32_t piece)
{
	if (piece >= l->piece_count)
		return 0;
	return (uint64_t)piece * l->piece_len;
}

uint32_t
layout_piece_size(const struct layout *l, uint32_t piece)
{
	uint64_t off;

	if (piece >= l->piece_count)
		return 0;
	off = (uint64_t)piece * l->piece_len;
	/* Only the last piece can be short; off < total for any valid piece. */
	if (l->total - off < l->piece_len)
		return (uint32_t)(l->total - off);
	return l->piece_len;
}

uint32_t
layout_block_count(const struct layout *l, uint32_t piece)
{
	uint32_t size = layout_piece_size(l, piece);

	return size / LAYOUT_BLOCK_SIZE + (size % LAYOUT_BLOCK_SIZE != 0);
}

uint32_t
layout_block_size(const struct layout *l, uint32_t piece, uint32_t block)
{
	uint32_t size = layout_piece_size(l, piece);
	uint32_t off;

	if (block >= layout_block_count(l, piece))
		return 0;
	off = block * LAYOUT_BLOCK_SIZE; /* < size, so no overflow */
	return size - off < LAYOUT_BLOCK_SIZE ? size - off : LAYOUT_BLOCK_SIZE;
}

size_t
layout_file_count(const struct layout *l)
{
	return l->nfiles;
}

uint64_t
layout_file_length(const struct layout *l, size_t file)
{
	if (file >= l->nfiles)
		return 0;
	return l->offset[file + 1] - l->offset[file];
}

uint64_t
layout_file_offset(const struct layout *l, size_t file)
{
	if (file >= l->nfiles)
		return 0;
	return l->offset[file];
}

int
layout_file_at(const struct layout *l, uint64_t offset, size_t *file)
{
	size_t lo = 0, hi = l->nfiles;

	if (offset >= l->total)
		return -ERR_INVALID;
	/*
	 * Find the last i with offset[i] <= offset. offset[0] == 0 so one
	 * exists; then offset < offset[i + 1] (else i + 1 would qualify, and
	 * offset[nfiles] == total > offset), so file i is non-empty and holds
	 * the byte. Invariant: offset[lo] <= offset < offset[hi].
	 */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->offset[mid] <= offset)
			lo = mid;
		else
			hi = mid;
	}
	*file = lo;
	return 0;
}

int
layout_piece_files(const struct layout *l, uint32_t piece, size_t *first, size_t *last)
{
	uint64_t off;
	int rc;

	if (piece >= l->piece_count)
		return -ERR_INVALID;
	off = layout_piece_offset(l, piece);
	rc = layout_file_at(l, off, first);
	if (rc == 0)
		rc = layout_file_at(l, off + layout_piece_size(l, piece) - 1, last);
	return rc;
}

int
layout_file_range_to_pieces(const struct layout *l, size_t file, uint64_t off, uint64_t len,
			    uint32_t *first_piece, uint32_t *last_piece)
{
	uint64_t flen, start;

	if (file >= l->nfiles)
		return -ERR_INVALID;
	flen = layout_file_length(l, file);
	if (len == 0 || off >= flen)
		return -ERR_INVALID;
	if (len > flen - off)
		len = flen - off;
	start = l->offset[file] + off;
	*first_piece = (uint32_t)(start / l->piece_len);
	*last_piece = (uint32_t)((start + len - 1) / l->piece_len);
	return 0;
}

int
layout_iter_init(struct layout_iter *it, const struct layout *l, uint64_t offset, uint64_t len)
{
	memset(it, 0, sizeof *it);
	if (offset > l->total || len > l->total - offset)
		return -ERR_INVALID;
	it->l = l;
	it->start = offset;
	it->pos = offset;
	it->end = offset + len;
	if (len > 0)
		return layout_file_at(l, offset, &it->file);
	return 0;
}

bool
layout_iter_next(struct layout_iter *it, struct layout_seg *seg)
{
	const struct layout *l = it->l;
	uint64_t file_end;

	if (it->pos >= it->end)
		return false;
	file_end = l->offset[it->file + 1];
	seg->file = it->file;
	seg->file_off = it->pos - l->offset[it->file];
	seg->len = (it->end < file_end ? it->end : file_end) - it->pos;
	seg->range_off = it->pos - it->start;
	it->pos += seg->len;
	/*
	 * Step to the file holding the next byte, skipping 0-length files.
	 * When pos < end <= total such a file exists before nfiles.
	 */
	if (it->pos < it->end) {
		do
			it->file++;
		while (l->offset[it->file + 1] == l->offset[it->file]);
	}
	return true;
}
