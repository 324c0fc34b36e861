/*
 * backoff.c - retry delays, Retry-After, circuit breaker, pacer.
 *
 * Invariants: every delay is finite and bounded (cap, or 1 h + 10 % for a
 * server's Retry-After); no arithmetic here can overflow whatever the
 * inputs; nothing reads a clock or a random source - both come in as
 * arguments, so tests drive them (RELIABILITY.md E6, E7).
 */
#include "core/backoff.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

uint64_t
backoff_delay(unsigned n, uint64_t base_ms, uint64_t cap_ms, uint64_t rnd)
{
	uint64_t ceiling = base_ms;

	/* base * 2^n, stopping at the cap before it can overflow. */
	for (unsigned i = 0; i < n && ceiling < cap_ms; i++) {
		ceiling = ceiling > UINT64_MAX / 2 ? UINT64_MAX : ceiling * 2;
	}
	if (ceiling > cap_ms) {
		ceiling = cap_ms;
	}
	if (ceiling == UINT64_MAX) {
		return rnd; /* the whole range is allowed */
	}
	return rnd % (ceiling + 1);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned) (y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t) doe - 719468;
}

/* The Gregorian year containing Unix day z (inverse of the above). */
static int64_t
year_from_days(int64_t z)
{
	int64_t era, y;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned) (z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = (int64_t) yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	return y + (mp >= 10);
}

static bool
is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads exactly n digits. */
static bool
take_digits(const char **s, unsigned n, unsigned *ret)
{
	unsigned v = 0;

	for (unsigned i = 0; i < n; i++) {
		if (!is_digit((*s)[i])) {
			return false;
		}
		v = v * 10 + (unsigned) ((*s)[i] - '0');
	}
	*s += n;
	*ret = v;
	return true;
}

static bool
take_char(const char **s, char c)
{
	if (**s != c) {
		return false;
	}
	(*s)++;
	return true;
}

static bool
take_month(const char **s, unsigned *ret)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (unsigned i = 0; i < 12; i++) {
		if (strncmp(*s, months + 3 * i, 3) == 0) {
			*s += 3;
			*ret = i + 1;
			return true;
		}
	}
	return false;
}

/* "HH:MM:SS" */
static bool
take_time(const char **s, unsigned *h, unsigned *m, unsigned *sec)
{
	return take_digits(s, 2, h) && take_char(s, ':') &&
	    take_digits(s, 2, m) && take_char(s, ':') && take_digits(s, 2, sec);
}

static unsigned
days_in_month(int64_t y, unsigned m)
{
	static const unsigned dim[12] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

/* Parses the three HTTP-date forms into Unix seconds. */
static int
parse_http_date(const char *s, int64_t now_s, int64_t *ret)
{
	unsigned day = 0, mon = 0, year = 0, h = 0, mi = 0, sec = 0;
	size_t wlen = 0;
	int64_t y;

	while (is_alpha(s[wlen])) {
		wlen++;
	}
	if (wlen < 3) {
		return -EINVAL;
	}
	s += wlen;
	if (take_char(&s, ',')) {
		if (!take_char(&s, ' ') || !take_digits(&s, 2, &day)) {
			return -EINVAL;
		}
		if (take_char(&s, ' ')) {
			/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
			if (!take_month(&s, &mon) || !take_char(&s, ' ') ||
			    !take_digits(&s, 4, &year)) {
				return -EINVAL;
			}
			y = year;
		} else {
			/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
			int64_t now_year = year_from_days(
			    (now_s >= 0 ? now_s : now_s - 86399) / 86400);

			if (!take_char(&s, '-') || !take_month(&s, &mon) ||
			    !take_char(&s, '-') || !take_digits(&s, 2, &year)) {
				return -EINVAL;
			}
			/* RFC 9110 5.6.7: a year more than 50 years in the
			 * future is the most recent past one instead. */
			y = now_year - now_year % 100 + year;
			if (y > now_year + 50) {
				y -= 100;
			}
		}
		if (!take_char(&s, ' ') || !take_time(&s, &h, &mi, &sec) ||
		    strcmp(s, " GMT") != 0) {
			return -EINVAL;
		}
	} else {
		/* asctime: Sun Nov  6 08:49:37 1994 */
		if (!take_char(&s, ' ') || !take_month(&s, &mon) ||
		    !take_char(&s, ' ')) {
			return -EINVAL;
		}
		if (take_char(&s, ' ')) {
			if (!take_digits(&s, 1, &day)) {
				return -EINVAL;
			}
		} else if (!take_digits(&s, 2, &day)) {
			return -EINVAL;
		}
		if (!take_char(&s, ' ') || !take_time(&s, &h, &mi, &sec) ||
		    !take_char(&s, ' ') || !take_digits(&s, 4, &year) || *s) {
			return -EINVAL;
		}
		y = year;
	}
	if (day < 1 || day > days_in_month(y, mon) || h > 23 || mi > 59 ||
	    sec > 60) {
		return -EINVAL;
	}
	if (sec == 60) {
		sec = 59; /* a leap second; one second does not matter here */
	}
	*ret = days_from_civil(y, mon, day) * 86400 + h * 3600 + mi * 60 + sec;
	return 0;
}

int
backoff_parse_retry_after(const char *value, int64_t now_s, uint64_t *ret_ms)
{
	const uint64_t max_s = BACKOFF_RETRY_AFTER_MAX_MS / 1000;
	char buf[64];
	size_t b = 0, e;
	int64_t when;
	int r;

	if (!value) {
		return -EINVAL;
	}
	e = strlen(value);
	while (b < e && (value[b] == ' ' || value[b] == '\t')) {
		b++;
	}
	while (e > b &&
	    (value[e - 1] == ' ' || value[e - 1] == '\t' ||
		value[e - 1] == '\r' || value[e - 1] == '\n')) {
		e--;
	}
	if (b == e || e - b >= sizeof(buf)) {
		return -EINVAL;
	}
	memcpy(buf, value + b, e - b);
	buf[e - b] = '\0';

	if (is_digit(buf[0])) {
		uint64_t v = 0;

		for (size_t i = 0; buf[i]; i++) {
			if (!is_digit(buf[i])) {
				return -EINVAL;
			}
			if (v <= max_s) { /* stop growing: clamped anyway */
				v = v * 10 + (uint64_t) (buf[i] - '0');
			}
		}
		*ret_ms = (v > max_s ? max_s : v) * 1000;
		return 0;
	}
	r = parse_http_date(buf, now_s, &when);
	if (r < 0) {
		return r;
	}
	if (when <= now_s) {
		*ret_ms = 0;
	} else if ((uint64_t) (when - now_s) > max_s) {
		*ret_ms = max_s * 1000;
	} else {
		*ret_ms = (uint64_t) (when - now_s) * 1000;
	}
	return 0;
}

uint64_t
backoff_retry_delay(unsigned n, uint64_t base_ms, uint64_t cap_ms,
    int64_t retry_after_ms, uint64_t rnd1, uint64_t rnd2)
{
	uint64_t d = backoff_delay(n, base_ms, cap_ms, rnd1);
	uint64_t ra;

	if (retry_after_ms < 0) {
		return d;
	}
	ra = (uint64_t) retry_after_ms;
	if (ra > BACKOFF_RETRY_AFTER_MAX_MS) {
		ra = BACKOFF_RETRY_AFTER_MAX_MS;
	}
	if (ra > d) {
		d = ra;
	}
	return d + rnd2 % (d / 10 + 1);
}

void
backoff_breaker_init(struct backoff_breaker *b, unsigned threshold,
    uint64_t cool_ms, uint64_t cool_max_ms)
{
	memset(b, 0, sizeof(*b));
	b->state = BACKOFF_BREAKER_CLOSED;
	b->threshold = threshold ? threshold : BACKOFF_BREAKER_THRESHOLD;
	b->cool_ms = cool_ms ? cool_ms : BACKOFF_BREAKER_COOL_MS;
	b->cool_max_ms =
	    cool_max_ms ? cool_max_ms : BACKOFF_BREAKER_COOL_MAX_MS;
	b->half_open_at_ms = -1;
}

bool
backoff_breaker_allow(
    struct backoff_breaker *b, int64_t now_ms, bool *ret_probe)
{
	if (ret_probe) {
		*ret_probe = false;
	}
	switch (b->state) {
	case BACKOFF_BREAKER_CLOSED:
		return true;
	case BACKOFF_BREAKER_OPEN:
		if (now_ms < b->half_open_at_ms) {
			return false;
		}
		b->state = BACKOFF_BREAKER_HALF_OPEN;
		b->probe_out = false;
		/* The first caller after the cool-down is the probe. */
		__attribute__((fallthrough));
	case BACKOFF_BREAKER_HALF_OPEN:
	default:
		if (b->probe_out) {
			return false;
		}
		b->probe_out = true;
		if (ret_probe) {
			*ret_probe = true;
		}
		return true;
	}
}

void
backoff_breaker_success(struct backoff_breaker *b)
{
	b->state = BACKOFF_BREAKER_CLOSED;
	b->failures = 0;
	b->opens = 0;
	b->probe_out = false;
	b->half_open_at_ms = -1;
}

static void
breaker_open(struct backoff_breaker *b, int64_t now_ms, uint64_t rnd)
{
	uint64_t cool = b->cool_ms;

	for (unsigned i = 0; i < b->opens && cool < b->cool_max_ms; i++) {
		cool *= 2;
	}
	if (cool > b->cool_max_ms) {
		cool = b->cool_max_ms;
	}
	/* Up to 10 % shorter, so that daemons that failed together do not
	 * probe together. */
	cool -= rnd % (cool / 10 + 1);
	if (b->opens < 64) {
		b->opens++;
	}
	b->state = BACKOFF_BREAKER_OPEN;
	b->probe_out = false;
	b->half_open_at_ms = now_ms + (int64_t) cool;
}

void
backoff_breaker_failure(struct backoff_breaker *b, int64_t now_ms, uint64_t rnd)
{
	switch (b->state) {
	case BACKOFF_BREAKER_CLOSED:
		if (++b->failures >= b->threshold) {
			breaker_open(b, now_ms, rnd);
		}
		break;
	case BACKOFF_BREAKER_HALF_OPEN:
		breaker_open(b, now_ms, rnd);
		break;
	case BACKOFF_BREAKER_OPEN:
	default:
		break; /* a straggler from before it opened */
	}
}

void
backoff_breaker_probe_dropped(struct backoff_breaker *b)
{
	if (b->state == BACKOFF_BREAKER_HALF_OPEN) {
		b->probe_out = false;
	}
}

int64_t
backoff_breaker_wake_ms(const struct backoff_breaker *b)
{
	return b->state == BACKOFF_BREAKER_OPEN ? b->half_open_at_ms : -1;
}

const char *
backoff_breaker_state_name(enum backoff_breaker_state s)
{
	switch (s) {
	case BACKOFF_BREAKER_CLOSED:
		return "closed";
	case BACKOFF_BREAKER_OPEN:
		return "open";
	case BACKOFF_BREAKER_HALF_OPEN:
		return "half-open";
	default:
		return "invalid";
	}
}

/* One request is this many token units; a minute refills rate of them. */
#define PACER_UNIT 60000u

void
backoff_pacer_init(struct backoff_pacer *p, uint32_t rate_per_min,
    uint32_t max_in_flight, int64_t now_ms)
{
	/* One token, no burst: with a full bucket of one second's worth, the
	 * first second carried that second's requests on top of the rate,
	 * and a window that began with it saw more than max_rate (1.01x in
	 * doc/benchmarks.md). With one token, n requests are at least
	 * 60000 / rate ms apart, so any window of w ms holds at most
	 * ceil(w * rate / 60000): never more than max_rate in a minute.
	 * Above 60,000/min a token comes more often than the millisecond
	 * this pacer counts in, so the bucket holds one millisecond's worth
	 * (at most 2 at the 100,000 config.c allows). */
	uint64_t per_ms = ((uint64_t) rate_per_min + 59999) / 60000;

	memset(p, 0, sizeof(*p));
	p->rate_per_min = rate_per_min;
	p->max_in_flight = max_in_flight ? max_in_flight : 1;
	p->capacity = (per_ms ? per_ms : 1) * (uint64_t) PACER_UNIT;
	p->tokens = p->capacity;
	p->last_ms = now_ms;
}

static void
pacer_refill(struct backoff_pacer *p, int64_t now_ms)
{
	uint64_t dt, add;

	if (now_ms <= p->last_ms) {
		return; /* time never runs backwards here */
	}
	dt = (uint64_t) (now_ms - p->last_ms);
	/* rate units per ms. A gap longer than it takes to repay the debt
	 * and fill the bucket does both; clamping first keeps the product
	 * from overflowing. */
	if (dt > (p->capacity + p->debt) / p->rate_per_min + 1) {
		dt = (p->capacity + p->debt) / p->rate_per_min + 1;
	}
	add = dt * p->rate_per_min;
	if (add <= p->debt) {
		p->debt -= add;
		add = 0;
	} else {
		add -= p->debt;
		p->debt = 0;
	}
	p->tokens =
	    p->tokens + add > p->capacity ? p->capacity : p->tokens + add;
	p->last_ms = now_ms;
}

int64_t
backoff_pacer_wait(struct backoff_pacer *p, int64_t now_ms)
{
	uint64_t missing;

	if (p->in_flight >= p->max_in_flight) {
		return -1;
	}
	if (p->rate_per_min == 0) {
		return 0;
	}
	pacer_refill(p, now_ms);
	if (p->debt == 0 && p->tokens >= PACER_UNIT) {
		return 0;
	}
	missing = PACER_UNIT - p->tokens + p->debt;
	/* Round up so the caller never wakes a millisecond early. */
	return (int64_t) ((missing + p->rate_per_min - 1) / p->rate_per_min);
}

void
backoff_pacer_take(struct backoff_pacer *p, int64_t now_ms)
{
	p->in_flight++;
	if (p->rate_per_min == 0) {
		return;
	}
	pacer_refill(p, now_ms);
	p->tokens = p->tokens >= PACER_UNIT ? p->tokens - PACER_UNIT : 0;
}

void
backoff_pacer_charge(struct backoff_pacer *p, int64_t now_ms)
{
	uint64_t cap;

	if (p->rate_per_min == 0) {
		return;
	}
	pacer_refill(p, now_ms);
	if (p->tokens >= PACER_UNIT) {
		p->tokens -= PACER_UNIT;
		return;
	}
	/* a minute's worth at most: a burst of interactive calls must not
	 * hold the queue back for longer than the rate itself would */
	cap = (uint64_t) p->rate_per_min * PACER_UNIT;
	p->debt += PACER_UNIT - p->tokens;
	p->tokens = 0;
	if (p->debt > cap) {
		p->debt = cap;
	}
}

void
backoff_pacer_done(struct backoff_pacer *p)
{
	if (p->in_flight > 0) {
		p->in_flight--;
	}
}
