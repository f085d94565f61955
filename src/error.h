/*
 * error: how library code reports failure without printing.
 *
 * Functions return 0 on success or a negative ERR_* code, and fill a
 * caller-provided struct error with a one-line message and, for decoders,
 * the byte offset where the input went wrong. The CLI decides what to show.
 */
#ifndef PIECES_ERROR_H
#define PIECES_ERROR_H

#include <stddef.h>

enum error_code {
	ERR_OK = 0,
	ERR_SYNTAX = 1,	     /* malformed encoding */
	ERR_LIMIT = 2,	     /* a size, depth or count cap was exceeded */
	ERR_INVALID = 3,     /* well-formed but semantically wrong or hostile */
	ERR_UNSUPPORTED = 4, /* valid but not implemented (e.g. v2-only torrents) */
	ERR_IO = 5,	     /* a system call failed */
	ERR_NOMEM = 6,
};

#define ERROR_NO_OFFSET ((long long)-1)

struct error {
	int code;
	long long offset; /* byte offset into the input, or ERROR_NO_OFFSET */
	char msg[256];
};

/* Records an error (err may be NULL) and returns -code, for `return error_set(...)`. */
int error_set(struct error *err, int code, long long offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prefixes an existing message: "context: old message". */
void error_prefix(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
