/*
 * libFuzzer target: the resume file parser. The first two bytes choose the
 * torrent the file must describe (piece count 1..256, 0..15 files); the
 * rest is the file. Accepted files must satisfy the documented invariants
 * and survive an encode/parse round trip unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resume.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct resume_state *rs)
{
	size_t hl = resume_have_len(rs->piece_count), i;
	unsigned spare = (unsigned)(hl * 8 - rs->piece_count);

	if (spare != 0 && (rs->have[hl - 1] & ((1u << spare) - 1)) != 0)
		abort();
	for (i = 0; i < rs->nfiles; i++) {
		if (rs->files[i].size < -1 || rs->files[i].mtime_nsec < 0 ||
		    rs->files[i].mtime_nsec >= 1000000000)
			abort();
	}
	if (rs->uploaded > INT64_MAX || rs->downloaded > INT64_MAX)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct resume_state rs, again;
	uint8_t hash[SHA1_LEN];
	struct error err;
	struct buf b;
	size_t i;

	if (size < 2)
		return 0;
	/* The info-hash every seed in corpus/resume carries: twenty 'h'. */
	memset(hash, 'h', sizeof hash);
	if (resume_state_init(&rs, hash, 1u + data[0], data[1] % 16u) < 0)
		return 0;
	if (resume_parse(data + 2, size - 2, &rs, &err) == 0) {
		check(&rs);
		buf_init(&b, RESUME_MAX_FILE_SIZE);
		if (resume_encode(&rs, &b) < 0 ||
		    resume_state_init(&again, hash, rs.piece_count, rs.nfiles) < 0 ||
		    resume_parse(b.data, b.len, &again, &err) < 0)
			abort();
		if (memcmp(rs.have, again.have, resume_have_len(rs.piece_count)) != 0 ||
		    rs.uploaded != again.uploaded || rs.downloaded != again.downloaded)
			abort();
		for (i = 0; i < rs.nfiles; i++) {
			if (memcmp(&rs.files[i], &again.files[i], sizeof rs.files[i]) != 0)
				abort();
		}
		resume_state_free(&again);
		buf_free(&b);
	}
	resume_state_free(&rs);
	return 0;
}
