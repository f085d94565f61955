/* libFuzzer target: the magnet link parser (input as a C string). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "magnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err;
	struct magnet *m;
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	m = magnet_parse(s, &err);
	magnet_free(m);
	free(s);
	return 0;
}
