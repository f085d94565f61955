/*
 * textenc: hex, base32 (RFC 4648) and URL percent-encoding, the text forms
 * an info-hash and tracker parameters travel in. Pure functions.
 */
#ifndef PIECES_TEXTENC_H
#define PIECES_TEXTENC_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*n lowercase hex digits and a NUL to out (size >= 2*n+1). */
void textenc_hex(const uint8_t *p, size_t n, char *out);
/* Decodes exactly 2*n hex digits (either case) into out. 0 or -1. */
int textenc_unhex(const char *s, size_t slen, uint8_t *out, size_t n);
/* Decodes base32 (either case, no padding) into exactly n bytes. 0 or -1. */
int textenc_unbase32(const char *s, size_t slen, uint8_t *out, size_t n);
/*
 * Percent-decodes s[0..slen) into out (capacity slen+1, NUL-terminated);
 * '+' becomes a space when plus_is_space. Returns the decoded length or -1
 * on a malformed escape. Decoded bytes may include NUL: callers check.
 */
long textenc_unpercent(const char *s, size_t slen, char *out, int plus_is_space);

#endif
