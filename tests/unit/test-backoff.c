/*
 * test-backoff.c - full-jitter delays, Retry-After in both forms, the
 * circuit breaker and the pacer, all with injected time and random
 * numbers (RELIABILITY.md E6, E7).
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/backoff.h"

/* xorshift64*: a deterministic random source for the tests. */
static uint64_t
rng(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static void
test_delay_bounds(void **state)
{
	uint64_t seed = 42;

	for (unsigned n = 0; n < 80; n++) {
		uint64_t ceiling = 2000;
		uint64_t max_seen = 0;

		for (unsigned i = 0; i < n && ceiling < BACKOFF_CAP_MS; i++) {
			ceiling *= 2;
		}
		if (ceiling > BACKOFF_CAP_MS) {
			ceiling = BACKOFF_CAP_MS;
		}
		for (int k = 0; k < 2000; k++) {
			uint64_t d = backoff_delay(
			    n, BACKOFF_BASE_MS, BACKOFF_CAP_MS, rng(&seed));

			assert_true(d <= ceiling);
			if (d > max_seen) {
				max_seen = d;
			}
		}
		/* full jitter spreads over the whole range */
		assert_true(max_seen > ceiling / 2);
	}
	/* the extremes of the random source hit the ends exactly */
	assert_int_equal(backoff_delay(0, 2000, 900000, 0), 0);
	assert_int_equal(backoff_delay(0, 2000, 900000, 2000), 2000);
	assert_int_equal(backoff_delay(3, 2000, 900000, 16000), 16000);
	assert_int_equal(backoff_delay(3, 2000, 900000, 16001), 0);
	assert_int_equal(backoff_delay(1000, 2000, 900000, 900000), 900000);
	/* huge n and base never overflow */
	assert_true(backoff_delay(UINT32_MAX, UINT64_MAX / 3, UINT64_MAX,
			UINT64_MAX) <= UINT64_MAX);
	assert_int_equal(backoff_delay(70, 1, 5, 5), 5);
}

static void
test_retry_after_seconds(void **state)
{
	uint64_t ms = 1;

	assert_int_equal(backoff_parse_retry_after("7", 0, &ms), 0);
	assert_int_equal(ms, 7000);
	assert_int_equal(backoff_parse_retry_after(" 30 ", 0, &ms), 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(backoff_parse_retry_after("0", 0, &ms), 0);
	assert_int_equal(ms, 0);
	/* absurd values are clamped to one hour */
	assert_int_equal(backoff_parse_retry_after("3601", 0, &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(
	    backoff_parse_retry_after("99999999999999999999999999999", 0, &ms),
	    0);
	assert_int_equal(ms, 3600000);
	/* not a number, negative, fractional, empty */
	assert_int_equal(backoff_parse_retry_after("-5", 0, &ms), -EINVAL);
	assert_int_equal(backoff_parse_retry_after("1.5", 0, &ms), -EINVAL);
	assert_int_equal(backoff_parse_retry_after("", 0, &ms), -EINVAL);
	assert_int_equal(backoff_parse_retry_after("  ", 0, &ms), -EINVAL);
	assert_int_equal(backoff_parse_retry_after("soon", 0, &ms), -EINVAL);
	assert_int_equal(backoff_parse_retry_after("12abc", 0, &ms), -EINVAL);
	assert_int_equal(backoff_parse_retry_after(NULL, 0, &ms), -EINVAL);
}

/* 1994-11-06T08:49:37Z */
#define RFC_EXAMPLE 784111777

static void
test_retry_after_dates(void **state)
{
	uint64_t ms = 1;

	/* the three forms of RFC 9110 5.6.7, 10 s before the date */
	assert_int_equal(
	    backoff_parse_retry_after(
		"Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE - 10, &ms),
	    0);
	assert_int_equal(ms, 10000);
	ms = 1;
	assert_int_equal(
	    backoff_parse_retry_after(
		"Sunday, 06-Nov-94 08:49:37 GMT", RFC_EXAMPLE - 10, &ms),
	    0);
	assert_int_equal(ms, 10000);
	ms = 1;
	assert_int_equal(backoff_parse_retry_after(
			     "Sun Nov  6 08:49:37 1994", RFC_EXAMPLE - 10, &ms),
	    0);
	assert_int_equal(ms, 10000);
	/* in the past: 0 */
	assert_int_equal(
	    backoff_parse_retry_after(
		"Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE + 5, &ms),
	    0);
	assert_int_equal(ms, 0);
	/* far in the future: clamped to 1 h */
	assert_int_equal(backoff_parse_retry_after(
			     "Fri, 01 Jan 2100 00:00:00 GMT", RFC_EXAMPLE, &ms),
	    0);
	assert_int_equal(ms, 3600000);
	/* a leap day and a date after 2038 */
	assert_int_equal(backoff_parse_retry_after(
			     "Thu, 29 Feb 2024 00:00:30 GMT", 1709164800, &ms),
	    0);
	assert_int_equal(ms, 30000);
	assert_int_equal(
	    backoff_parse_retry_after(
		"Tue, 19 Jan 2038 03:14:08 GMT", 2147483648 - 60, &ms),
	    0);
	assert_int_equal(ms, 60000);
	/* RFC 850 two-digit years: more than 50 years ahead means the past */
	assert_int_equal(backoff_parse_retry_after(
			     "Monday, 01-Jan-80 00:00:00 GMT", 1767225600, &ms),
	    0);
	assert_int_equal(ms, 0); /* 1980, not 2080 */
	assert_int_equal(backoff_parse_retry_after(
			     "Friday, 01-Jan-27 00:00:20 GMT", 1798761600, &ms),
	    0);
	assert_int_equal(ms, 20000); /* 2027 */
	/* malformed */
	assert_int_equal(
	    backoff_parse_retry_after("Sun, 06 Nov 1994 08:49:37 UTC", 0, &ms),
	    -EINVAL);
	assert_int_equal(
	    backoff_parse_retry_after("Sun, 31 Nov 1994 08:49:37 GMT", 0, &ms),
	    -EINVAL);
	assert_int_equal(
	    backoff_parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", 0, &ms),
	    -EINVAL);
	assert_int_equal(
	    backoff_parse_retry_after("Sun, 06 Nov 1994 24:49:37 GMT", 0, &ms),
	    -EINVAL);
	assert_int_equal(
	    backoff_parse_retry_after("Sun, 6 Nov 1994", 0, &ms), -EINVAL);
	assert_int_equal(
	    backoff_parse_retry_after("Sun Nov  6 08:49:37 1994 extra", 0, &ms),
	    -EINVAL);
}

static void
test_retry_delay(void **state)
{
	uint64_t seed = 7;

	/* no Retry-After: exactly the jittered backoff */
	assert_int_equal(
	    backoff_retry_delay(2, 2000, 900000, -1, 5000, 99), 5000);
	/* Retry-After is a floor, plus at most 10 % */
	for (int k = 0; k < 5000; k++) {
		uint64_t d = backoff_retry_delay(
		    0, 2000, 900000, 7000, rng(&seed), rng(&seed));

		assert_true(d >= 7000);
		assert_true(d <= 7700);
	}
	/* backoff above the floor wins */
	assert_int_equal(
	    backoff_retry_delay(5, 2000, 900000, 1000, 50000, 0), 50000);
	/* an absurd server value is clamped to 1 h + 10 % */
	assert_true(backoff_retry_delay(
			0, 2000, 900000, INT64_MAX, 0, UINT64_MAX) <= 3960000);
	assert_true(
	    backoff_retry_delay(0, 2000, 900000, INT64_MAX, 0, 0) == 3600000);
}

static void
test_breaker(void **state)
{
	struct backoff_breaker b;
	int64_t now = 1000;
	bool probe = true;

	backoff_breaker_init(&b, 0, 0, 0);
	assert_int_equal(b.state, BACKOFF_BREAKER_CLOSED);
	/* four failures keep it closed; a success resets the count */
	for (int i = 0; i < 4; i++) {
		assert_true(backoff_breaker_allow(&b, now, &probe));
		assert_false(probe);
		backoff_breaker_failure(&b, now, 0);
	}
	assert_int_equal(b.state, BACKOFF_BREAKER_CLOSED);
	backoff_breaker_success(&b);
	for (int i = 0; i < 4; i++) {
		backoff_breaker_failure(&b, now, 0);
	}
	assert_int_equal(b.state, BACKOFF_BREAKER_CLOSED);
	/* the fifth in a row opens it for 30 s (rnd 0: no jitter) */
	backoff_breaker_failure(&b, now, 0);
	assert_int_equal(b.state, BACKOFF_BREAKER_OPEN);
	assert_int_equal(backoff_breaker_wake_ms(&b), now + 30000);
	assert_false(backoff_breaker_allow(&b, now, NULL));
	assert_false(backoff_breaker_allow(&b, now + 29999, &probe));
	/* stragglers change nothing */
	backoff_breaker_failure(&b, now + 100, 0);
	assert_int_equal(backoff_breaker_wake_ms(&b), now + 30000);
	/* exactly one probe after the cool-down */
	now += 30000;
	assert_true(backoff_breaker_allow(&b, now, &probe));
	assert_true(probe);
	assert_int_equal(b.state, BACKOFF_BREAKER_HALF_OPEN);
	assert_false(backoff_breaker_allow(&b, now, &probe));
	assert_false(backoff_breaker_allow(&b, now + 1000000, &probe));
	assert_int_equal(backoff_breaker_wake_ms(&b), -1);
	/* a failed probe reopens it, cool-down doubled: 60, 120, ... 900 s */
	{
		const uint64_t want[] = {
		    60000, 120000, 240000, 480000, 900000, 900000, 900000};

		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			backoff_breaker_failure(&b, now, 0);
			assert_int_equal(b.state, BACKOFF_BREAKER_OPEN);
			assert_int_equal(
			    backoff_breaker_wake_ms(&b) - now, want[i]);
			now += (int64_t) want[i];
			assert_true(backoff_breaker_allow(&b, now, &probe));
			assert_true(probe);
		}
	}
	/* a dropped probe lets another through */
	backoff_breaker_probe_dropped(&b);
	assert_true(backoff_breaker_allow(&b, now, &probe));
	assert_true(probe);
	/* success closes it and resets the doubling */
	backoff_breaker_success(&b);
	assert_int_equal(b.state, BACKOFF_BREAKER_CLOSED);
	assert_true(backoff_breaker_allow(&b, now, &probe));
	assert_false(probe);
	for (int i = 0; i < 5; i++) {
		backoff_breaker_failure(&b, now, 0);
	}
	assert_int_equal(backoff_breaker_wake_ms(&b) - now, 30000);
	assert_string_equal(backoff_breaker_state_name(b.state), "open");
}

static void
test_breaker_jitter(void **state)
{
	uint64_t seed = 99;

	for (int k = 0; k < 1000; k++) {
		struct backoff_breaker b;
		int64_t cool;

		backoff_breaker_init(&b, 5, 30000, 900000);
		for (int i = 0; i < 5; i++) {
			backoff_breaker_failure(&b, 0, rng(&seed));
		}
		cool = backoff_breaker_wake_ms(&b);
		assert_true(cool >= 27000 && cool <= 30000);
	}
}

/* Requests of other clients (interactive commands) charged to the
 * pacer: a token when there is one, else a debt the next tokens repay
 * before a request of ours may start; capped at a minute's worth. */
static void
test_pacer_charge(void **state)
{
	struct backoff_pacer p;

	(void) state;
	/* 600/min: a token every 100 ms, bucket of one */
	backoff_pacer_init(&p, 600, 64, 0);
	backoff_pacer_charge(&p, 0); /* takes the one token */
	assert_int_equal(backoff_pacer_wait(&p, 0), 100);
	backoff_pacer_charge(&p, 0); /* and two more on credit */
	backoff_pacer_charge(&p, 0);
	assert_int_equal(backoff_pacer_wait(&p, 0), 300);
	assert_int_equal(backoff_pacer_wait(&p, 150), 150);
	assert_int_equal(backoff_pacer_wait(&p, 299), 1);
	assert_int_equal(backoff_pacer_wait(&p, 300), 0);
	backoff_pacer_take(&p, 300);
	backoff_pacer_done(&p);
	assert_int_equal(backoff_pacer_wait(&p, 300), 100);
	/* the debt is capped at a minute's worth (600 requests) */
	backoff_pacer_init(&p, 600, 64, 0);
	for (int i = 0; i < 5000; i++) {
		backoff_pacer_charge(&p, 0);
	}
	assert_int_equal(backoff_pacer_wait(&p, 0), 60000 + 100);
	/* a long gap repays all of it and fills the bucket */
	assert_int_equal(backoff_pacer_wait(&p, 3600000), 0);
	backoff_pacer_take(&p, 3600000);
	backoff_pacer_done(&p);
	assert_int_equal(backoff_pacer_wait(&p, 3600000), 100);
	/* unpaced: charging changes nothing */
	backoff_pacer_init(&p, 0, 4, 0);
	for (int i = 0; i < 1000; i++) {
		backoff_pacer_charge(&p, 0);
	}
	assert_int_equal(backoff_pacer_wait(&p, 0), 0);
}

static void
test_pacer(void **state)
{
	struct backoff_pacer p;
	int64_t now = 5000;
	int started = 0;

	/* 600/min: no burst, one every 100 ms from the start */
	backoff_pacer_init(&p, 600, 64, now);
	assert_int_equal(backoff_pacer_wait(&p, now), 0);
	backoff_pacer_take(&p, now);
	backoff_pacer_done(&p);
	assert_int_equal(backoff_pacer_wait(&p, now), 100);
	assert_int_equal(backoff_pacer_wait(&p, now + 99), 1);
	assert_int_equal(backoff_pacer_wait(&p, now + 100), 0);
	/* over a simulated minute from a full bucket: exactly the rate */
	backoff_pacer_init(&p, 600, 64, 0);
	for (now = 0; now < 60000; now++) {
		while (backoff_pacer_wait(&p, now) == 0) {
			backoff_pacer_take(&p, now);
			backoff_pacer_done(&p);
			started++;
		}
	}
	assert_int_equal(started, 600);

	/* in flight cap */
	backoff_pacer_init(&p, 0, 4, 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(backoff_pacer_wait(&p, 0), 0);
		backoff_pacer_take(&p, 0);
	}
	assert_int_equal(backoff_pacer_wait(&p, 0), -1);
	backoff_pacer_done(&p);
	assert_int_equal(backoff_pacer_wait(&p, 0), 0);
	/* unpaced: never waits for a token */
	for (int i = 0; i < 100000; i++) {
		assert_int_equal(backoff_pacer_wait(&p, 0), 0);
		backoff_pacer_take(&p, 0);
		backoff_pacer_done(&p);
	}
	/* 1/min: one request, then a minute */
	backoff_pacer_init(&p, 1, 4, 0);
	backoff_pacer_take(&p, 0);
	backoff_pacer_done(&p);
	assert_int_equal(backoff_pacer_wait(&p, 0), 60000);
	assert_int_equal(backoff_pacer_wait(&p, 59999), 1);
	assert_int_equal(backoff_pacer_wait(&p, 60000), 0);
	/* an enormous gap and rate do not overflow */
	backoff_pacer_init(&p, UINT32_MAX, 4, 0);
	backoff_pacer_take(&p, 0);
	assert_int_equal(backoff_pacer_wait(&p, INT64_MAX), 0);
	/* a clock that goes backwards changes nothing */
	backoff_pacer_init(&p, 60, 4, 1000);
	backoff_pacer_take(&p, 1000);
	backoff_pacer_done(&p);
	assert_int_equal(backoff_pacer_wait(&p, 0), 1000);
}

/* The pacer's promise (doc/benchmarks.md measures it): in no window of
 * any length, starting anywhere, are there more requests than the rate
 * allows in it, ceil(w * rate / 60 s), whatever the caller's timing.
 * Injected clock: the caller asks at random moments, sometimes idles. */
static void
test_pacer_window(void **state)
{
	static const uint32_t rates[] = {
	    1, 7, 60, 600, 999, 6000, 60000, 100000};
	static int64_t at[20000];
	uint64_t rnd = 88172645463325252u;

	for (size_t k = 0; k < sizeof(rates) / sizeof(rates[0]); k++) {
		struct backoff_pacer p;
		uint32_t rate = rates[k];
		int64_t now = 1000, horizon = 600000;
		size_t n = 0;

		backoff_pacer_init(&p, rate, 4, now);
		while (now < horizon && n < sizeof(at) / sizeof(at[0])) {
			int64_t w = backoff_pacer_wait(&p, now);

			rnd ^= rnd << 13;
			rnd ^= rnd >> 7;
			rnd ^= rnd << 17;
			if (w == 0) {
				backoff_pacer_take(&p, now);
				backoff_pacer_done(&p);
				at[n++] = now;
				/* asks again at once: must wait */
				continue;
			}
			assert_true(w > 0);
			/* wake when told, late, or after a long idle */
			now += rnd % 4 == 0 ? w + (int64_t) (rnd % 5000)
			    : rnd % 4 == 1  ? w + (int64_t) (rnd % 3)
					    : w;
		}
		assert_true(n > 1);
		/* every window that starts and ends at a request, [at[i],
		 * at[j] + 1 ms): j - i + 1 requests, allowed
		 * ceil(span * rate / 60000); the nearest 150 ends suffice,
		 * the minute below covers the long windows */
		for (size_t i = 0; i < n; i++) {
			for (size_t j = i; j < n && j < i + 150; j++) {
				uint64_t span = (uint64_t) (at[j] - at[i] + 1);
				uint64_t allowed =
				    (span * rate + 59999) / 60000;

				if (j - i + 1 > allowed) {
					fail_msg(
					    "rate %u: %zu requests in %" PRIu64
					    " ms, allowed %" PRIu64,
					    rate, j - i + 1, span, allowed);
				}
			}
		}
		/* every minute that starts at a request: at most the rate */
		for (size_t i = 0, j = 0; i < n; i++) {
			while (j < n && at[j] < at[i] + 60000) {
				j++;
			}
			assert_true(j - i <= rate);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_delay_bounds),
	    cmocka_unit_test(test_retry_after_seconds),
	    cmocka_unit_test(test_retry_after_dates),
	    cmocka_unit_test(test_retry_delay),
	    cmocka_unit_test(test_breaker),
	    cmocka_unit_test(test_breaker_jitter),
	    cmocka_unit_test(test_pacer),
	    cmocka_unit_test(test_pacer_charge),
	    cmocka_unit_test(test_pacer_window),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
