/*
 * buf: a growable byte buffer with a hard maximum fixed at creation
 * (after curl's dynbuf). Appends past the maximum fail instead of growing,
 * so no input can make us allocate without bound. The data is always
 * NUL-terminated (not counted in len) so text can be used as a C string.
 */
#ifndef PIECES_BUF_H
#define PIECES_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* 0, or -ERR_LIMIT past max, or -ERR_NOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_putc(struct buf *b, int c);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Extends the buffer by n uninitialised bytes and returns where they start (NULL past max). */
void *buf_extend(struct buf *b, size_t n);
/* Hands the data to the caller (free() it); the buf is left empty. */
uint8_t *buf_steal(struct buf *b, size_t *len);

#endif
