/*
 * chunks: a few aligned buffers holding stretches of a torrent's verified
 * data for a mount's sequential readers, filled ahead of them on a worker
 * thread.
 *
 * A reader that does not go through the page cache (a file incomplete when
 * opened) asks for its data in small requests, 128 KiB for cp. Read from
 * disk one by one, each waits for the disk on the loop thread. Read as whole
 * chunks, the disk sees one large request for many of them (1 MiB direct
 * reads ran at twice the rate of 128 KiB ones on our test machines), and
 * read on a worker while the reader is still busy with the previous chunk,
 * the loop does not wait at all. The buffers are aligned for O_DIRECT.
 *
 * The cache never decides what is valid: callers load only chunks whose
 * bytes are all verified, which never change afterwards. Memory is nslots
 * times the chunk size, each buffer allocated when first used.
 */
#ifndef PIECES_CHUNKS_H
#define PIECES_CHUNKS_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

#define CHUNKS_ALIGN 4096u

/* Fills buf with len bytes at off (torrent offsets); 0 or -errno. Runs on a worker. */
typedef int (*chunks_fill_fn)(void *arg, uint64_t off, void *buf, size_t len);
/* A load started by chunks_load() ended (rc 0 or the fill's -errno). Loop thread. */
typedef void (*chunks_loaded_fn)(void *arg, uint64_t start, int rc);

struct chunks;

/*
 * nslots buffers of `chunk` bytes (a multiple of CHUNKS_ALIGN) over a
 * torrent of `total` bytes. Loads run on pool, or synchronously inside
 * chunks_load() when pool is NULL. NULL on bad sizes or no memory.
 */
struct chunks *chunks_new(unsigned nslots, size_t chunk, uint64_t total, struct loop_pool *pool,
			  chunks_fill_fn fill, chunks_loaded_fn loaded, void *arg);
/*
 * Frees. Loads still running must be finished first (loop_pool_free() of
 * the pool), and their completions must never run afterwards: free it at
 * teardown, when the loop runs no more. NULL is a no-op.
 */
void chunks_free(struct chunks *c);

/* The chunk under [off, off+len): its start and length; -1 when the range spans chunks. */
int chunks_span(const struct chunks *c, uint64_t off, size_t len, uint64_t *start, size_t *clen);

enum chunks_state { CHUNKS_ABSENT, CHUNKS_LOADING, CHUNKS_READY };

/*
 * The bytes [off, off+len) (within one chunk) when that chunk is loaded,
 * valid until the next chunks_load(); NULL otherwise, with *state telling
 * whether it is loading or absent.
 */
const uint8_t *chunks_find(struct chunks *c, uint64_t off, size_t len, enum chunks_state *state);

/* The state of the chunk that begins at `start`. */
enum chunks_state chunks_state_of(const struct chunks *c, uint64_t start);

/*
 * Starts loading the chunk that begins at `start` (a chunk boundary, not
 * already loaded or loading) into the least recently used slot that is not
 * loading. 0 when started (with a pool; loaded() follows) or done (without
 * one; loaded() has run); -EBUSY when every slot is loading; -EINVAL,
 * -ENOMEM, or the fill's error without a pool.
 */
int chunks_load(struct chunks *c, uint64_t start);

/*
 * Fills a slot (chosen as by chunks_load()) with the chunk at `start` copied
 * from src, which holds the whole chunk: data still in memory, such as a
 * piece just verified. 0, -EINVAL, -EBUSY or -ENOMEM.
 */
int chunks_put(struct chunks *c, uint64_t start, const void *src);

/* Counters, for tests: chunks loaded, chunks put, requests answered from a slot. */
uint64_t chunks_loads(const struct chunks *c);
uint64_t chunks_puts(const struct chunks *c);
uint64_t chunks_hits(const struct chunks *c);

#endif
