/* libFuzzer target: the .torrent parser. Accepted torrents must satisfy the
 * invariants the rest of pieces relies on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metainfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err;
	struct metainfo *mi = metainfo_parse(data, size, &err);
	uint64_t sum = 0;
	size_t i;

	if (mi == NULL)
		return 0;
	for (i = 0; i < mi->nfiles; i++) {
		if (mi->files[i].offset != sum || mi->files[i].path[0] == '/' ||
		    strstr(mi->files[i].path, "..") == mi->files[i].path)
			abort();
		sum += mi->files[i].length;
	}
	if (sum != mi->total_length || mi->piece_length == 0 ||
	    (uint64_t)mi->piece_count * mi->piece_length < mi->total_length ||
	    (uint64_t)(mi->piece_count - 1) * mi->piece_length >= mi->total_length)
		abort();
	metainfo_free(mi);
	return 0;
}
