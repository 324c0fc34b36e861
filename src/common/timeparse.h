/*
 * timeparse.h - the TIME argument of cwtimectl, and UTC formatting.
 *
 * TIME forms (the process TZ decides what "local" means):
 *   2026-11-20T09:00:00Z          UTC
 *   2026-11-20T10:00:00+01:00     an explicit offset (also +0100; seconds
 *                                 optional; fractions of seconds dropped)
 *   2026-11-20 09:00[:SS]         local wall time (also with 'T' and no
 *                                 zone)
 *   09:00[:SS]                    local wall time today (the day of now_utc)
 * A local time that a DST change makes ambiguous (the hour repeated in
 * autumn) or non-existent (the hour skipped in spring) is refused with
 * ERR_AMBIGUOUS_TIME; the message names the candidates.
 */
#pragma once

#include <stdint.h>

struct errbuf;

/* Length of "2026-11-20T09:00:00Z" plus its NUL. */
#define TIMEPARSE_UTC_LEN 21

/* Parses a user-typed TIME relative to now_utc (Unix seconds) into Unix
 * seconds UTC. Refuses a time later than now_utc (ERR_TIME_IN_FUTURE),
 * malformed text (ERR_BAD_TIME) and DST gaps/overlaps (ERR_AMBIGUOUS_TIME).
 * Returns 0 or -EINVAL with the reason in *reterr. Does not log. Uses
 * localtime_r/mktime, so it depends on the process TZ (call tzset first
 * when TZ changed). */
int timeparse_parse(
    const char *s, int64_t now_utc, int64_t *ret_utc, struct errbuf *reterr);

/* Parses an ISO 8601 date-time with 'Z' or a +-hh:mm / +-hhmm offset and
 * optional fractional seconds (dropped) as ConnectWise sends them. No
 * future check, no local forms. Returns 0 or -EINVAL (ERR_BAD_TIME). */
int timeparse_parse_iso(const char *s, int64_t *ret_utc, struct errbuf *reterr);

/* Writes "YYYY-MM-DDTHH:MM:SSZ" for Unix seconds t into buf. Years outside
 * 0..9999 are clamped to the range. Returns buf. */
char *timeparse_format_utc(int64_t t, char buf[TIMEPARSE_UTC_LEN]);

/* The first local midnight (00:00 local, or the first existing instant of
 * the day when midnight itself is skipped by DST) strictly after t, in
 * Unix seconds; uses the process TZ. The userdata is ignored: the
 * signature fits tracker's struct now (next_midnight). Returns INT64_MAX
 * when it cannot be computed. */
int64_t timeparse_next_local_midnight(int64_t t, void *userdata);
