/*
 * textbuf.c - the client's growable string (textbuf.h).
 *
 * Job: one copy of the buffer that output.c and print-timers.c each used
 * to carry.
 * Invariants: s is NULL (nothing added yet) or holds len bytes plus a
 * NUL within cap; once ok is false it stays false and nothing is added.
 */
#include "client/textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for n more bytes plus the NUL; false (ok cleared) on ENOMEM. */
static bool
textbuf_reserve(struct textbuf *b, size_t n)
{
	if (!b->ok) {
		return false;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1) {
			cap *= 2;
		}
		char *p = realloc(b->s, cap);

		if (!p) {
			b->ok = false;
			return false;
		}
		b->s = p;
		b->cap = cap;
	}
	return true;
}

void
textbuf_addn(struct textbuf *b, const char *s, size_t n)
{
	if (!textbuf_reserve(b, n)) {
		return;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
textbuf_add(struct textbuf *b, const char *s)
{
	textbuf_addn(b, s, strlen(s));
}

void
textbuf_addf(struct textbuf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	/* measure first, then format in place: no length limit, no copy */
	va_start(ap, fmt);
	k = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (k < 0) {
		b->ok = false;
		return;
	}
	if (!textbuf_reserve(b, (size_t) k)) {
		return;
	}
	va_start(ap, fmt);
	k = vsnprintf(b->s + b->len, (size_t) k + 1, fmt, ap);
	va_end(ap);
	if (k < 0) {
		b->ok = false;
		return;
	}
	b->len += (size_t) k;
}

char *
textbuf_take(struct textbuf *b)
{
	if (!b->ok) {
		free(b->s);
		return NULL;
	}
	return b->s ? b->s : strdup("");
}
