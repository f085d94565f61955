/*
 * error: fills struct error. Messages are truncated, never overflowed.
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
error_set(struct error *err, int code, long long offset, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		err->code = code;
		err->offset = offset;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return -code;
}

void
error_prefix(struct error *err, const char *fmt, ...)
{
	char head[128], old[sizeof err->msg];
	size_t n, m;
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(head, sizeof head, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	/* Assembled by hand: truncation is wanted here, not a warning. */
	n = strlen(head);
	if (n > sizeof err->msg - 3)
		n = sizeof err->msg - 3;
	memcpy(err->msg, head, n);
	memcpy(err->msg + n, ": ", 2);
	n += 2;
	m = strnlen(old, sizeof old - 1);
	if (m > sizeof err->msg - 1 - n)
		m = sizeof err->msg - 1 - n;
	memcpy(err->msg + n, old, m);
	err->msg[n + m] = '\0';
}
