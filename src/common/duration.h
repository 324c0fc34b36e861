/*
 * duration.h - parsing and formatting of durations, and the project's
 * checked integer parsers (the strtol family is allowed only in
 * duration.c and daemon/config.c; everyone else calls these).
 *
 * Accepted duration forms (doc/cwtimed.conf.5.scd, "DURATIONS"):
 *   90m  45s  2h  1h30m  1h30m15s  1h 30m  1.5h  0.25h  0:45  1:30:00  0
 * Units h, m, s (either case), each at most once, in that order; a
 * decimal fraction only on the last component (1.5h, 1h7.5m) and the
 * result rounded to the nearest second; single spaces may separate
 * components; H:MM and H:MM:SS with MM, SS < 60; a bare "0" is zero.
 * Refused: empty, negative, a bare number other than 0, unknown units,
 * repeated or out-of-order units, leading/trailing spaces, junk, and
 * anything above DURATION_MAX_S.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct errbuf;

/* 100000 hours: far beyond any time entry, far below int64 overflow. */
#define DURATION_MAX_S ((int64_t) 100000 * 3600)

/* Examples quoted in every "invalid duration" message. */
#define DURATION_EXAMPLES "90m, 1h30m, 1.5h, 0:45"

/* Parses s into whole seconds (0..DURATION_MAX_S). Returns 0, or -EINVAL
 * (syntax, negative) / -ERANGE (too long) with ERR_BAD_DURATION and
 * "invalid duration 'S' (examples: 90m, 1h30m, 1.5h, 0:45)" (or a more
 * specific reason) in *reterr (may be NULL). *ret_seconds is written only
 * on success. Does not log. */
int duration_parse(const char *s, int64_t *ret_seconds, struct errbuf *reterr);

/* Parses "30m after 6h" (a break of 30m is deducted once a day's work
 * reaches 6h) into *ret_break_s and *ret_after_s; "none" or "0" gives
 * 0 and 0. Both durations must be > 0 otherwise. Errors as
 * duration_parse (ERR_BAD_DURATION). */
int duration_parse_break(const char *s, int64_t *ret_break_s,
    int64_t *ret_after_s, struct errbuf *reterr);

/* Writes s seconds as "H:MM" (minutes truncated; "-" prefix when
 * negative; hours not capped: "123:05"). Returns the length, or -ENOBUFS
 * when buf (n bytes) is too small (buf then holds a truncated string if
 * n > 0). */
int duration_format(int64_t s, char *buf, size_t n);

/* Writes s seconds as "1h 23m", "2h", "45s", "1h 0m 5s" style (every
 * component down to the last non-zero one; "0s" for 0; "-" prefix when
 * negative). The output is accepted by duration_parse. Return as
 * duration_format. */
int duration_format_long(int64_t s, char *buf, size_t n);

/* Buffer size that always fits either format. */
#define DURATION_FORMAT_MAX 32

/* Checked decimal parsers: optional '-' (parse_int64 only), digits, and
 * nothing else (no spaces, no '+', no hex, no junk). Return 0, -EINVAL
 * (syntax) or -ERANGE (outside [min, max]); *ret written only on
 * success. */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret);
int parse_uint64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
