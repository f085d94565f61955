/* libFuzzer target: the bencode decoder, plus a re-encode of whatever it
 * accepts (which must decode again to the same canonical bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bencode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bencode_limits lim = {.max_depth = 64, .max_nodes = 100000};
	struct error err;
	struct bencode *v, *again;
	struct buf b, b2;
	size_t used;

	v = bencode_decode(data, size, &lim, &err);
	if (v != NULL) {
		buf_init(&b, size + 64);
		if (bencode_encode(&b, v) == 0) {
			again = bencode_decode(b.data, b.len, &lim, &err);
			if (again == NULL)
				abort();
			buf_init(&b2, size + 64);
			if (bencode_encode(&b2, again) != 0 || b2.len != b.len ||
			    memcmp(b.data, b2.data, b.len) != 0)
				abort();
			buf_free(&b2);
			bencode_free(again);
		}
		buf_free(&b);
		bencode_free(v);
	}
	v = bencode_decode_prefix(data, size, &lim, &used, &err);
	if (v != NULL && used > size)
		abort();
	bencode_free(v);
	return 0;
}
