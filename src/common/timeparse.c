/*
 * timeparse.c - the TIME argument: ISO 8601 with a zone, or local wall
 * time; UTC formatting; local midnights.
 *
 * Invariants: a local time is accepted only when exactly one instant has
 * that wall-clock reading in the process TZ (checked by converting each
 * mktime candidate back with localtime_r); nothing in the future is
 * accepted. UTC arithmetic is done by hand (days from civil), so only the
 * local forms depend on TZ. Never logs.
 */
#include "common/timeparse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/errcode.h"

struct civil {
	int year, mon, mday, hour, min, sec;
};

/* Reads exactly n digits. */
static bool
read_digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];

		if (c < '0' || c > '9') {
			return false;
		}
		v = v * 10 + (c - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int dm[12] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

static bool
civil_valid(const struct civil *c)
{
	return c->year >= 1970 && c->year <= 9999 && c->mon >= 1 &&
	    c->mon <= 12 && c->mday >= 1 &&
	    c->mday <= days_in_month(c->year, c->mon) && c->hour >= 0 &&
	    c->hour <= 23 && c->min >= 0 && c->min <= 59 && c->sec >= 0 &&
	    c->sec <= 59;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t
civil_to_utc(const struct civil *c)
{
	return days_from_civil(c->year, c->mon, c->mday) * 86400 +
	    c->hour * 3600 + c->min * 60 + c->sec;
}

/* "YYYY-MM-DD" */
static bool
read_date(const char **p, struct civil *c)
{
	return read_digits(p, 4, &c->year) && *(*p)++ == '-' &&
	    read_digits(p, 2, &c->mon) && *(*p)++ == '-' &&
	    read_digits(p, 2, &c->mday);
}

/* "HH:MM" or "HH:MM:SS" */
static bool
read_clock(const char **p, struct civil *c, bool *ret_had_sec)
{
	c->sec = 0;
	*ret_had_sec = false;
	if (!read_digits(p, 2, &c->hour) || *(*p)++ != ':' ||
	    !read_digits(p, 2, &c->min)) {
		return false;
	}
	if (**p == ':') {
		(*p)++;
		if (!read_digits(p, 2, &c->sec)) {
			return false;
		}
		*ret_had_sec = true;
	}
	return true;
}

/* After the seconds: optional fraction, then 'Z' or an offset. Returns
 * the offset in seconds east of UTC through *ret_off. */
static bool
read_zone(const char **p, int *ret_off)
{
	int hh, mm, sign;

	if (**p == '.' || **p == ',') {
		(*p)++;
		if (**p < '0' || **p > '9') {
			return false;
		}
		while (**p >= '0' && **p <= '9') {
			(*p)++;
		}
	}
	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		*ret_off = 0;
		return true;
	}
	if (**p != '+' && **p != '-') {
		return false;
	}
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (!read_digits(p, 2, &hh)) {
		return false;
	}
	if (**p == ':') {
		(*p)++;
	}
	if (!read_digits(p, 2, &mm) || hh > 23 || mm > 59) {
		return false;
	}
	*ret_off = sign * (hh * 3600 + mm * 60);
	return true;
}

int
timeparse_parse_iso(const char *s, int64_t *ret_utc, struct errbuf *reterr)
{
	const char *p = s;
	struct civil c;
	bool had_sec;
	int off;

	if (!s || !read_date(&p, &c) || (*p != 'T' && *p != 't')) {
		goto bad;
	}
	p++;
	if (!read_clock(&p, &c, &had_sec) || !read_zone(&p, &off) ||
	    *p != '\0' || !civil_valid(&c)) {
		goto bad;
	}
	*ret_utc = civil_to_utc(&c) - off;
	return 0;
bad:
	return errbuf_set(reterr, ERR_BAD_TIME, -EINVAL,
	    "'%s' is not an ISO 8601 date-time with a zone", s ? s : "");
}

/* n decimal digits of v (0 <= v < 10^n), zero-padded, no NUL. */
static void
put_digits(char *p, int n, int64_t v)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (char) ('0' + v % 10);
		v /= 10;
	}
}

char *
timeparse_format_utc(int64_t t, char buf[TIMEPARSE_UTC_LEN])
{
	/* Clamp to years 0000..9999 so the text always fits. */
	const int64_t lo = -62167219200LL, hi = 253402300799LL;
	int64_t days, secs, z, era, doe, yoe, y, doy, mp, d, m;

	if (t < lo) {
		t = lo;
	}
	if (t > hi) {
		t = hi;
	}
	days = t / 86400;
	secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	/* civil_from_days (H. Hinnant) */
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	put_digits(buf, 4, y);
	buf[4] = '-';
	put_digits(buf + 5, 2, m);
	buf[7] = '-';
	put_digits(buf + 8, 2, d);
	buf[10] = 'T';
	put_digits(buf + 11, 2, secs / 3600);
	buf[13] = ':';
	put_digits(buf + 14, 2, secs / 60 % 60);
	buf[16] = ':';
	put_digits(buf + 17, 2, secs % 60);
	buf[19] = 'Z';
	buf[20] = '\0';
	return buf;
}

static void
format_offset(long gmtoff, char buf[16])
{
	long a = gmtoff < 0 ? -gmtoff : gmtoff;

	buf[0] = gmtoff < 0 ? '-' : '+';
	put_digits(buf + 1, 2, (a / 3600) % 100);
	buf[3] = ':';
	put_digits(buf + 4, 2, (a / 60) % 60);
	buf[6] = '\0';
}

static bool
tm_matches(const struct tm *tm, const struct civil *c)
{
	return tm->tm_year + 1900 == c->year && tm->tm_mon + 1 == c->mon &&
	    tm->tm_mday == c->mday && tm->tm_hour == c->hour &&
	    tm->tm_min == c->min && tm->tm_sec == c->sec;
}

/* Describes candidate t as "2026-10-25T00:30:00Z (02:30+02:00)". */
static void
describe(time_t t, char *buf, size_t len)
{
	char utc[TIMEPARSE_UTC_LEN], off[16];
	struct tm tm;

	if (!localtime_r(&t, &tm)) {
		snprintf(buf, len, "%s", timeparse_format_utc(t, utc));
		return;
	}
	format_offset(tm.tm_gmtoff, off);
	snprintf(buf, len, "%s (%02d:%02d%s)", timeparse_format_utc(t, utc),
	    tm.tm_hour % 100, tm.tm_min % 100, off);
}

/* Resolves a local wall-clock reading: exactly one instant, or an error
 * naming the candidates. Both isdst values are tried: in a repeated hour
 * both round-trip; in a skipped hour neither does. */
static int
local_to_utc(const struct civil *c, int64_t *ret, struct errbuf *reterr)
{
	time_t cand[2];
	bool ok[2];
	int nok = 0;

	for (int i = 0; i < 2; i++) {
		struct tm tm = {0}, back;

		tm.tm_year = c->year - 1900;
		tm.tm_mon = c->mon - 1;
		tm.tm_mday = c->mday;
		tm.tm_hour = c->hour;
		tm.tm_min = c->min;
		tm.tm_sec = c->sec;
		tm.tm_isdst = i;
		cand[i] = mktime(&tm);
		ok[i] = cand[i] != (time_t) -1 &&
		    localtime_r(&cand[i], &back) && tm_matches(&back, c);
	}
	if (ok[0] && ok[1] && cand[0] == cand[1]) {
		ok[1] = false;
	}
	nok = ok[0] + ok[1];
	if (nok == 1) {
		*ret = ok[0] ? cand[0] : cand[1];
		return 0;
	}
	if (nok == 2) {
		char a[96], b[96];
		time_t lo = cand[0] < cand[1] ? cand[0] : cand[1];
		time_t hi = cand[0] < cand[1] ? cand[1] : cand[0];

		describe(lo, a, sizeof(a));
		describe(hi, b, sizeof(b));
		return errbuf_set(reterr, ERR_AMBIGUOUS_TIME, -EINVAL,
		    "%04d-%02d-%02d %02d:%02d happens twice (DST ends): %s or "
		    "%s; give the time in UTC or with an offset",
		    c->year, c->mon, c->mday, c->hour, c->min, a, b);
	}
	/* Skipped by DST (or out of range): mktime normalised each try to a
	 * real instant; those are the nearest candidates. */
	if (cand[0] != (time_t) -1 && cand[1] != (time_t) -1 &&
	    cand[0] != cand[1]) {
		char a[96], b[96];
		time_t lo = cand[0] < cand[1] ? cand[0] : cand[1];
		time_t hi = cand[0] < cand[1] ? cand[1] : cand[0];

		describe(lo, a, sizeof(a));
		describe(hi, b, sizeof(b));
		return errbuf_set(reterr, ERR_AMBIGUOUS_TIME, -EINVAL,
		    "%04d-%02d-%02d %02d:%02d does not exist (DST starts): "
		    "did you mean %s or %s? give the time in UTC or with an "
		    "offset",
		    c->year, c->mon, c->mday, c->hour, c->min, a, b);
	}
	return errbuf_set(reterr, ERR_AMBIGUOUS_TIME, -EINVAL,
	    "%04d-%02d-%02d %02d:%02d does not exist in the local time zone",
	    c->year, c->mon, c->mday, c->hour, c->min);
}

int
timeparse_parse(
    const char *s, int64_t now_utc, int64_t *ret_utc, struct errbuf *reterr)
{
	const char *p = s;
	struct civil c;
	bool had_sec;
	int64_t t;
	int r;

	if (!s || !*s) {
		return errbuf_set(reterr, ERR_BAD_TIME, -EINVAL, "empty time");
	}
	if (strlen(s) >= 5 && s[2] == ':') {
		goto today; /* HH:MM[:SS] on the day of now_utc */
	}
	if (!read_date(&p, &c)) {
		goto bad;
	}
	if (*p == 'T' || *p == 't' || *p == ' ') {
		bool iso_t = *p != ' ';

		p++;
		if (!read_clock(&p, &c, &had_sec)) {
			goto bad;
		}
		if (*p == '\0') {
			if (!civil_valid(&c)) {
				goto bad;
			}
			r = local_to_utc(&c, &t, reterr);
			if (r < 0) {
				return r;
			}
			goto check;
		}
		if (!iso_t) {
			goto bad; /* "2026-11-20 09:00Z" mixes the forms */
		}
		{
			int off;

			if (!read_zone(&p, &off) || *p != '\0' ||
			    !civil_valid(&c)) {
				goto bad;
			}
			t = civil_to_utc(&c) - off;
		}
		goto check;
	}
	goto bad;

today : {
	time_t now = (time_t) now_utc;
	struct tm tm;

	if (!localtime_r(&now, &tm)) {
		goto bad;
	}
	if (!read_clock(&p, &c, &had_sec) || *p != '\0') {
		goto bad;
	}
	c.year = tm.tm_year + 1900;
	c.mon = tm.tm_mon + 1;
	c.mday = tm.tm_mday;
	if (!civil_valid(&c)) {
		goto bad;
	}
	r = local_to_utc(&c, &t, reterr);
	if (r < 0) {
		return r;
	}
}
check:
	if (t > now_utc) {
		char a[TIMEPARSE_UTC_LEN], b[TIMEPARSE_UTC_LEN];

		return errbuf_set(reterr, ERR_TIME_IN_FUTURE, -EINVAL,
		    "'%s' (%s) is in the future (now %s)", s,
		    timeparse_format_utc(t, a),
		    timeparse_format_utc(now_utc, b));
	}
	*ret_utc = t;
	return 0;
bad:
	return errbuf_set(reterr, ERR_BAD_TIME, -EINVAL,
	    "'%s' is not a time: use 2026-11-20T09:00:00Z, "
	    "2026-11-20T10:00:00+01:00, '2026-11-20 09:00' or 09:00",
	    s);
}

int64_t
timeparse_next_local_midnight(int64_t t, void *userdata)
{
	time_t tt = (time_t) t;
	struct tm tm;

	(void) userdata;
	if (!localtime_r(&tt, &tm)) {
		return INT64_MAX;
	}
	/* Step to the next calendar day; mktime normalises the date and, if
	 * 00:00 itself is skipped, the time (-1 lets it pick isdst). */
	for (int extra = 1; extra <= 3; extra++) {
		struct tm m = {0};
		time_t r;

		m.tm_year = tm.tm_year;
		m.tm_mon = tm.tm_mon;
		m.tm_mday = tm.tm_mday + extra;
		m.tm_isdst = -1;
		r = mktime(&m);
		if (r == (time_t) -1) {
			return INT64_MAX;
		}
		if ((int64_t) r > t) {
			return r;
		}
	}
	return INT64_MAX;
}
