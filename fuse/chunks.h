/*
 * chunks: a few aligned buffers holding recently read stretches of a
 * torrent's data, for a mount's sequential readers.
 *
 * A reader that does not go through the page cache (a file incomplete when
 * opened) asks for its data in small requests, 128 KiB for cp. Each one read
 * from disk on its own waits for the disk every time; read as part of a
 * whole chunk, the disk sees one large request for many of them (on this
 * project's test machines 1 MiB direct reads run at twice the rate of
 * 128 KiB ones). The buffers are aligned so the fill can use O_DIRECT.
 *
 * The cache never decides what is valid: callers ask only for chunks whose
 * bytes are all verified, which never change afterwards. Memory is
 * nslots * chunk bytes, allocated when first used.
 */
#ifndef PIECES_CHUNKS_H
#define PIECES_CHUNKS_H

#include <stddef.h>
#include <stdint.h>

#define CHUNKS_ALIGN 4096u

/* Fills buf with len bytes at off (torrent offsets); 0 or -errno. */
typedef int (*chunks_fill_fn)(void *arg, uint64_t off, void *buf, size_t len);

struct chunks;

/*
 * nslots buffers of `chunk` bytes (a multiple of CHUNKS_ALIGN) over a
 * torrent of `total` bytes. NULL on bad sizes or no memory.
 */
struct chunks *chunks_new(unsigned nslots, size_t chunk, uint64_t total, chunks_fill_fn fill,
			  void *arg);
void chunks_free(struct chunks *c);

/* The chunk under [off, off+len): its start and length; -1 when the range spans chunks. */
int chunks_span(const struct chunks *c, uint64_t off, size_t len, uint64_t *start, size_t *clen);

/*
 * The bytes [off, off+len), which must lie in one chunk (chunks_span()):
 * from a slot when the chunk is there, otherwise after filling the least
 * recently used slot with the whole chunk. Valid until the next call.
 * NULL with *err set (-EINVAL, -ENOMEM or the fill's error) on failure; a
 * failed fill leaves no slot holding that chunk.
 */
const uint8_t *chunks_get(struct chunks *c, uint64_t off, size_t len, int *err);

/* Counters, for tests: chunks filled and requests answered from a slot. */
uint64_t chunks_fills(const struct chunks *c);
uint64_t chunks_hits(const struct chunks *c);

#endif
