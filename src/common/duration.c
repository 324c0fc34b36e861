/*
 * duration.c - durations ("1h30m", "1.5h", "0:45") and checked integers.
 *
 * Job: turn user-typed durations into whole seconds and back, and give
 * the rest of the project integer parsers that cannot silently accept
 * junk ("12abc"), overflow, or whitespace. This file and daemon/config.c
 * are the only ones allowed to call the strtol family
 * (tests/check-banned.sh).
 *
 * Invariants: a successful parse yields 0 <= seconds <= DURATION_MAX_S;
 * outputs are written only on success; error messages quote the input
 * sanitised (control bytes replaced) and truncated, so a message never
 * carries raw bytes from the user. No allocation, no logging.
 */
#include "common/duration.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errcode.h"

/* How much of a bad input we quote back. */
#define QUOTE_MAX 40

/* Copies s into out for quoting in a message: printable ASCII kept,
 * anything else '?', cut at QUOTE_MAX with "...". */
static void
quote_input(const char *s, char *out, size_t n)
{
	size_t i = 0;

	for (; *s && i + 4 < n; s++) {
		if (i >= QUOTE_MAX) {
			memcpy(out + i, "...", 3);
			i += 3;
			break;
		}
		out[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	}
	out[i] = '\0';
}

static int
bad_duration(struct errbuf *reterr, int r, const char *s, const char *why)
{
	char q[QUOTE_MAX + 8];

	quote_input(s, q, sizeof(q));
	if (why) {
		return errbuf_set(reterr, ERR_BAD_DURATION, r,
		    "invalid duration '%s': %s", q, why);
	}
	return errbuf_set(reterr, ERR_BAD_DURATION, r,
	    "invalid duration '%s' (examples: " DURATION_EXAMPLES ")", q);
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
all_digits(const char *s)
{
	if (!*s) {
		return false;
	}
	for (; *s; s++) {
		if (!is_digit(*s)) {
			return false;
		}
	}
	return true;
}

int
parse_uint64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end = NULL;

	/* strtoull alone would take spaces, '+', '-' (wrapping!) and 0x. */
	if (!s || !all_digits(s)) {
		return -EINVAL;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE) {
		return -ERANGE;
	}
	if (errno != 0 || !end || *end != '\0') {
		return -EINVAL;
	}
	if (v < min || v > max) {
		return -ERANGE;
	}
	*ret = (uint64_t) v;
	return 0;
}

int
parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	long long v;
	char *end = NULL;

	if (!s || !all_digits(s[0] == '-' ? s + 1 : s)) {
		return -EINVAL;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE) {
		return -ERANGE;
	}
	if (errno != 0 || !end || *end != '\0') {
		return -EINVAL;
	}
	if (v < min || v > max) {
		return -ERANGE;
	}
	*ret = (int64_t) v;
	return 0;
}

/* Reads a run of digits at *p into *ret, capped: any value above
 * DURATION_MAX_S sets *ret to DURATION_MAX_S + 1 so that the caller
 * reports "too long" without overflowing. Returns the digit count. */
static size_t
scan_digits(const char **p, int64_t *ret)
{
	const char *q = *p;
	int64_t v = 0;

	while (is_digit(*q)) {
		if (v <= DURATION_MAX_S) {
			v = v * 10 + (*q - '0');
		}
		q++;
	}
	if (v > DURATION_MAX_S) {
		v = DURATION_MAX_S + 1;
	}
	*ret = v;
	{
		size_t n = (size_t) (q - *p);

		*p = q;
		return n;
	}
}

/* "H:MM" or "H:MM:SS". */
static int
parse_clock_form(const char *s, int64_t *ret, struct errbuf *reterr)
{
	const char *p = s;
	int64_t h, m, sec = 0;

	if (scan_digits(&p, &h) == 0 || *p != ':') {
		return bad_duration(reterr, -EINVAL, s, NULL);
	}
	p++;
	if (!is_digit(p[0]) || !is_digit(p[1])) {
		return bad_duration(reterr, -EINVAL, s, NULL);
	}
	m = (p[0] - '0') * 10 + (p[1] - '0');
	p += 2;
	if (*p == ':') {
		p++;
		if (!is_digit(p[0]) || !is_digit(p[1])) {
			return bad_duration(reterr, -EINVAL, s, NULL);
		}
		sec = (p[0] - '0') * 10 + (p[1] - '0');
		p += 2;
	}
	if (*p != '\0' || m >= 60 || sec >= 60) {
		return bad_duration(reterr, -EINVAL, s, NULL);
	}
	if (h > DURATION_MAX_S / 3600 ||
	    h * 3600 + m * 60 + sec > DURATION_MAX_S) {
		return bad_duration(reterr, -ERANGE, s, "longer than 100000h");
	}
	*ret = h * 3600 + m * 60 + sec;
	return 0;
}

/* Components "1h30m", "1.5h", "1h 30m 10s". */
static int
parse_unit_form(const char *s, int64_t *ret, struct errbuf *reterr)
{
	static const char units[] = "hms";
	static const int64_t factor[] = {3600, 60, 1};
	const char *p = s;
	int last = -1; /* index into units of the previous component */
	int64_t total = 0;

	for (;;) {
		int64_t ipart, frac = 0, den = 1, part;
		const char *u;
		int idx;

		if (scan_digits(&p, &ipart) == 0) {
			return bad_duration(reterr, -EINVAL, s, NULL);
		}
		if (*p == '.') {
			size_t nd = 0;

			p++;
			if (!is_digit(*p)) {
				return bad_duration(reterr, -EINVAL, s, NULL);
			}
			/* Nine digits are more than a second's worth for
			 * any unit; the rest only has to be digits. */
			for (; is_digit(*p); p++, nd++) {
				if (nd < 9) {
					frac = frac * 10 + (*p - '0');
					den *= 10;
				}
			}
		}
		if (*p == '\0') {
			/* A bare number: minutes or seconds? Refuse. */
			return bad_duration(reterr, -EINVAL, s, NULL);
		}
		u = strchr(units, *p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		if (!u || *u == '\0') {
			return bad_duration(reterr, -EINVAL, s, NULL);
		}
		idx = (int) (u - units);
		if (idx <= last) {
			/* "30m1h", "1h1h": almost certainly a typo. */
			return bad_duration(reterr, -EINVAL, s, NULL);
		}
		last = idx;
		p++;
		if (ipart > DURATION_MAX_S / factor[idx]) {
			return bad_duration(
			    reterr, -ERANGE, s, "longer than 100000h");
		}
		/* frac < den <= 1e9 and factor <= 3600: no overflow. */
		part =
		    ipart * factor[idx] + (frac * factor[idx] + den / 2) / den;
		if (part > DURATION_MAX_S - total) {
			return bad_duration(
			    reterr, -ERANGE, s, "longer than 100000h");
		}
		total += part;
		if (*p == '\0') {
			break;
		}
		if (den != 1) {
			/* A fraction only on the last component. */
			return bad_duration(reterr, -EINVAL, s, NULL);
		}
		if (*p == ' ' && is_digit(p[1])) {
			p++;
		}
		if (!is_digit(*p)) {
			return bad_duration(reterr, -EINVAL, s, NULL);
		}
	}
	*ret = total;
	return 0;
}

int
duration_parse(const char *s, int64_t *ret_seconds, struct errbuf *reterr)
{
	int64_t v = 0;
	int r;

	if (!s || !*s) {
		return errbuf_set(reterr, ERR_BAD_DURATION, -EINVAL,
		    "invalid duration '' (examples: " DURATION_EXAMPLES ")");
	}
	if (s[0] == '-') {
		return bad_duration(reterr, -EINVAL, s, "must not be negative");
	}
	if (strcmp(s, "0") == 0) {
		*ret_seconds = 0;
		return 0;
	}
	if (strchr(s, ':')) {
		r = parse_clock_form(s, &v, reterr);
	} else {
		r = parse_unit_form(s, &v, reterr);
	}
	if (r < 0) {
		return r;
	}
	*ret_seconds = v;
	return 0;
}

int
duration_parse_break(const char *s, int64_t *ret_break_s, int64_t *ret_after_s,
    struct errbuf *reterr)
{
	static const char sep[] = " after ";
	char q[QUOTE_MAX + 8], left[64];
	const char *at;
	int64_t b, a;
	size_t n;
	int r;

	if (!s) {
		s = "";
	}
	quote_input(s, q, sizeof(q));
	if (strcmp(s, "none") == 0 || strcmp(s, "0") == 0) {
		*ret_break_s = 0;
		*ret_after_s = 0;
		return 0;
	}
	at = strstr(s, sep);
	n = at ? (size_t) (at - s) : 0;
	if (!at || n == 0 || n >= sizeof(left)) {
		return errbuf_set(reterr, ERR_BAD_DURATION, -EINVAL,
		    "invalid break '%s' (expected e.g. '30m after 6h', or "
		    "'none')",
		    q);
	}
	memcpy(left, s, n);
	left[n] = '\0';
	r = duration_parse(left, &b, reterr);
	if (r >= 0) {
		r = duration_parse(at + strlen(sep), &a, reterr);
	}
	if (r < 0) {
		char inner[sizeof(reterr->msg)];

		if (!reterr) {
			return r;
		}
		snprintf(inner, sizeof(inner), "%s", reterr->msg);
		return errbuf_set(reterr, ERR_BAD_DURATION, r,
		    "invalid break '%s': %s", q, inner);
	}
	if (b == 0 || a == 0) {
		return errbuf_set(reterr, ERR_BAD_DURATION, -EINVAL,
		    "invalid break '%s': both durations must be above zero "
		    "(or write 'none')",
		    q);
	}
	if (b >= a) {
		return errbuf_set(reterr, ERR_BAD_DURATION, -EINVAL,
		    "invalid break '%s': the break must be shorter than the "
		    "work after which it is taken",
		    q);
	}
	*ret_break_s = b;
	*ret_after_s = a;
	return 0;
}

/* snprintf's result as our return: length, or -ENOBUFS when cut. */
static int
format_result(int k, size_t n)
{
	if (k < 0) {
		return -EINVAL;
	}
	if ((size_t) k >= n) {
		return -ENOBUFS;
	}
	return k;
}

/* |s| without overflow for INT64_MIN. */
static uint64_t
magnitude(int64_t s)
{
	return s < 0 ? (uint64_t) 0 - (uint64_t) s : (uint64_t) s;
}

int
duration_format(int64_t s, char *buf, size_t n)
{
	uint64_t m = magnitude(s);
	int k;

	k = snprintf(buf, n, "%s%" PRIu64 ":%02" PRIu64, s < 0 ? "-" : "",
	    m / 3600, (m / 60) % 60);
	return format_result(k, n);
}

int
duration_format_long(int64_t s, char *buf, size_t n)
{
	uint64_t m = magnitude(s);
	uint64_t h = m / 3600, mi = (m / 60) % 60, sec = m % 60;
	const char *sign = s < 0 ? "-" : "";
	int k;

	if (h > 0 && sec > 0) {
		k = snprintf(buf, n, "%s%" PRIu64 "h %" PRIu64 "m %" PRIu64 "s",
		    sign, h, mi, sec);
	} else if (h > 0 && mi > 0) {
		k = snprintf(
		    buf, n, "%s%" PRIu64 "h %" PRIu64 "m", sign, h, mi);
	} else if (h > 0) {
		k = snprintf(buf, n, "%s%" PRIu64 "h", sign, h);
	} else if (mi > 0 && sec > 0) {
		k = snprintf(
		    buf, n, "%s%" PRIu64 "m %" PRIu64 "s", sign, mi, sec);
	} else if (mi > 0) {
		k = snprintf(buf, n, "%s%" PRIu64 "m", sign, mi);
	} else {
		k = snprintf(buf, n, "%s%" PRIu64 "s", sign, sec);
	}
	return format_result(k, n);
}
