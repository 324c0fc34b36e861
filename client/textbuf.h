/*
 * textbuf.h - a growable NUL-terminated string for the client's printers
 * (status bars, timer and entry listings), which build their text in
 * memory and write it at once.
 *
 * Start with `struct textbuf b = {.ok = true};`. An allocation failure
 * turns ok false; every later add is then a no-op and textbuf_take
 * returns NULL, so a printer checks for ENOMEM once, at the end.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct textbuf {
	char *s; /* NUL-terminated once anything was added */
	size_t len, cap;
	bool ok; /* false after ENOMEM, for good */
};

/* Appends the n bytes at s. */
void textbuf_addn(struct textbuf *b, const char *s, size_t n);

/* Appends the string s. */
void textbuf_add(struct textbuf *b, const char *s);

/* Appends printf-formatted text, however long. */
void textbuf_addf(struct textbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The string, which the caller frees ("" when nothing was added), or
 * NULL after ENOMEM (the buffer is freed then). b is spent either way. */
char *textbuf_take(struct textbuf *b);
