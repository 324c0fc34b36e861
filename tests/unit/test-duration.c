/*
 * test-duration.c - duration parsing/formatting and the checked integer
 * parsers in src/common/duration.c.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/duration.h"
#include "common/errcode.h"

struct good {
	const char *in;
	int64_t s;
};

static void
test_parse_valid(void **state)
{
	static const struct good cases[] = {
	    {"0", 0},
	    {"0s", 0},
	    {"0m", 0},
	    {"45s", 45},
	    {"90m", 5400},
	    {"2h", 7200},
	    {"1h30m", 5400},
	    {"1h30m15s", 5415},
	    {"1h15s", 3615},
	    {"1h 30m", 5400},
	    {"1h 30m 15s", 5415},
	    {"1.5h", 5400},
	    {"0.25h", 900},
	    {"1h7.5m", 4050},
	    {"0.1m", 6},
	    {"1.333h", 4799},	     /* 4798.8 rounds to nearest */
	    {"1.0000000009h", 3600}, /* digits past nine ignored */
	    {"1H30M", 5400},
	    {"0:45", 2700},
	    {"1:30", 5400},
	    {"10:05", 36300},
	    {"1:30:15", 5415},
	    {"0:00", 0},
	    {"100000h", DURATION_MAX_S},
	    {"100000:00", DURATION_MAX_S},
	    {"360000000s", DURATION_MAX_S},
	    {"007m", 420},
	};
	size_t i;

	(void) state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct errbuf e;
		int64_t v = -1;
		int r;

		errbuf_clear(&e);
		r = duration_parse(cases[i].in, &v, &e);
		if (r != 0 || v != cases[i].s) {
			fail_msg("'%s': r=%d v=%lld want %lld (%s)",
			    cases[i].in, r, (long long) v,
			    (long long) cases[i].s, e.msg);
		}
	}
}

struct bad {
	const char *in;
	int r;
};

static void
test_parse_invalid(void **state)
{
	static const struct bad cases[] = {
	    {"", -EINVAL},
	    {" ", -EINVAL},
	    {"-5m", -EINVAL},
	    {"-0:30", -EINVAL},
	    {"10", -EINVAL}, /* bare number: unit unknown */
	    {"1.5", -EINVAL},
	    {"10x", -EINVAL},
	    {"10mx", -EINVAL},
	    {"h", -EINVAL},
	    {"m30", -EINVAL},
	    {".5h", -EINVAL},
	    {"1.h", -EINVAL},
	    {"30m1h", -EINVAL},	  /* out of order */
	    {"1h1h", -EINVAL},	  /* repeated */
	    {"1.5h30m", -EINVAL}, /* fraction not last */
	    {" 1h", -EINVAL},
	    {"1h ", -EINVAL},
	    {"1h  30m", -EINVAL},
	    {"1h\t30m", -EINVAL},
	    {"1d", -EINVAL},
	    {"+1h", -EINVAL},
	    {"0x10m", -EINVAL},
	    {"1:5", -EINVAL},
	    {"1:60", -EINVAL},
	    {"1:30:60", -EINVAL},
	    {":30", -EINVAL},
	    {"1:30x", -EINVAL},
	    {"1:30:", -EINVAL},
	    {"1h:30", -EINVAL},
	    {"100001h", -ERANGE},
	    {"100000h1s", -ERANGE},
	    {"100000:00:01", -ERANGE},
	    {"99999999999999999999999h", -ERANGE},
	    {"99999999999999999999999:00", -ERANGE},
	    {"360000001s", -ERANGE},
	};
	size_t i;

	(void) state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct errbuf e;
		int64_t v = 12345;
		int r;

		errbuf_clear(&e);
		r = duration_parse(cases[i].in, &v, &e);
		if (r != cases[i].r || v != 12345 ||
		    e.code != ERR_BAD_DURATION ||
		    strstr(e.msg, "invalid duration") == NULL) {
			fail_msg("'%s': r=%d v=%lld code=%d msg=%s",
			    cases[i].in, r, (long long) v, (int) e.code, e.msg);
		}
	}
	/* NULL input and NULL errbuf are both fine. */
	assert_int_equal(duration_parse(NULL, &(int64_t){0}, NULL), -EINVAL);
}

static void
test_parse_messages(void **state)
{
	struct errbuf e;
	int64_t v;
	char longin[200];

	(void) state;
	assert_int_equal(duration_parse("10x", &v, &e), -EINVAL);
	assert_string_equal(
	    e.msg, "invalid duration '10x' (examples: 90m, 1h30m, 1.5h, 0:45)");
	assert_int_equal(duration_parse("-5m", &v, &e), -EINVAL);
	assert_string_equal(
	    e.msg, "invalid duration '-5m': must not be negative");
	assert_int_equal(duration_parse("100001h", &v, &e), -ERANGE);
	assert_string_equal(
	    e.msg, "invalid duration '100001h': longer than 100000h");
	/* Control bytes are not echoed; long input is cut. */
	assert_int_equal(duration_parse("1\x1b[2Jh", &v, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "'1?[2Jh'"));
	memset(longin, 'x', sizeof(longin) - 1);
	longin[sizeof(longin) - 1] = '\0';
	assert_int_equal(duration_parse(longin, &v, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "xxx...'"));
	assert_true(strlen(e.msg) < 120);
}

static void
test_parse_break(void **state)
{
	struct errbuf e;
	int64_t b = -1, a = -1;

	(void) state;
	assert_int_equal(duration_parse_break("30m after 6h", &b, &a, &e), 0);
	assert_int_equal(b, 1800);
	assert_int_equal(a, 21600);
	assert_int_equal(duration_parse_break("0:45 after 9h", &b, &a, &e), 0);
	assert_int_equal(b, 2700);
	assert_int_equal(a, 32400);
	assert_int_equal(duration_parse_break("none", &b, &a, &e), 0);
	assert_int_equal(b, 0);
	assert_int_equal(a, 0);
	b = a = -1;
	assert_int_equal(duration_parse_break("0", &b, &a, &e), 0);
	assert_int_equal(b + a, 0);

	b = a = 7;
	assert_int_equal(duration_parse_break("30m", &b, &a, &e), -EINVAL);
	assert_int_equal(e.code, ERR_BAD_DURATION);
	assert_string_equal(e.msg,
	    "invalid break '30m' (expected e.g. '30m "
	    "after 6h', or 'none')");
	assert_int_equal(
	    duration_parse_break("30x after 6h", &b, &a, &e), -EINVAL);
	assert_string_equal(e.msg,
	    "invalid break '30x after 6h': invalid "
	    "duration '30x' (examples: 90m, 1h30m, 1.5h, 0:45)");
	assert_int_equal(
	    duration_parse_break("30m after", &b, &a, &e), -EINVAL);
	assert_int_equal(
	    duration_parse_break(" after 6h", &b, &a, &e), -EINVAL);
	assert_int_equal(
	    duration_parse_break("30m after 6h junk", &b, &a, &e), -EINVAL);
	assert_int_equal(
	    duration_parse_break("0m after 6h", &b, &a, &e), -EINVAL);
	assert_int_equal(
	    duration_parse_break("7h after 6h", &b, &a, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "shorter"));
	assert_int_equal(
	    duration_parse_break("30m after 200000h", &b, &a, &e), -ERANGE);
	assert_int_equal(duration_parse_break(NULL, &b, &a, NULL), -EINVAL);
	assert_int_equal(b, 7);
	assert_int_equal(a, 7);
}

static void
test_format(void **state)
{
	char buf[DURATION_FORMAT_MAX];

	(void) state;
	assert_int_equal(duration_format(0, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "0:00");
	assert_int_equal(duration_format(59, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "0:00"); /* truncated, not rounded */
	assert_int_equal(duration_format(5400, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "1:30");
	assert_int_equal(duration_format(443100, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "123:05");
	assert_int_equal(duration_format(-300, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "-0:05");
	assert_true(duration_format(INT64_MIN, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "-2562047788015215:30");
	assert_int_equal(duration_format(5400, buf, 4), -ENOBUFS);
	assert_string_equal(buf, "1:3");

	assert_int_equal(duration_format_long(0, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "0s");
	assert_int_equal(duration_format_long(45, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "45s");
	assert_int_equal(duration_format_long(7200, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "2h");
	assert_int_equal(duration_format_long(4980, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "1h 23m");
	assert_int_equal(duration_format_long(3605, buf, sizeof(buf)), 8);
	assert_string_equal(buf, "1h 0m 5s");
	assert_int_equal(duration_format_long(65, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "1m 5s");
	assert_int_equal(duration_format_long(-60, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "-1m");
	assert_true(duration_format_long(INT64_MIN, buf, sizeof(buf)) > 0);
	assert_true(strlen(buf) < DURATION_FORMAT_MAX);
}

/* duration_format_long's output parses back to the same value. */
static void
test_format_roundtrip(void **state)
{
	int64_t s;

	(void) state;
	for (s = 0; s < 3 * 3600 + 10; s += 7) {
		char buf[DURATION_FORMAT_MAX];
		int64_t v = -1;

		assert_true(duration_format_long(s, buf, sizeof(buf)) > 0);
		assert_int_equal(duration_parse(buf, &v, NULL), 0);
		assert_int_equal(v, s);
	}
}

static void
test_parse_int(void **state)
{
	int64_t v = 42;
	uint64_t u = 42;

	(void) state;
	assert_int_equal(parse_int64("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_int64("-12", -100, 100, &v), 0);
	assert_int_equal(v, -12);
	assert_int_equal(
	    parse_int64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(
	    parse_int64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
	assert_true(v == INT64_MIN);
	v = 42;
	assert_int_equal(
	    parse_int64("9223372036854775808", INT64_MIN, INT64_MAX, &v),
	    -ERANGE);
	assert_int_equal(parse_int64("11", 0, 10, &v), -ERANGE);
	assert_int_equal(parse_int64("-1", 0, 10, &v), -ERANGE);
	assert_int_equal(parse_int64("", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_int64("-", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_int64(" 1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_int64("1 ", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_int64("+1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_int64("1a", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_int64("0x1", 0, 10, &v), -EINVAL);
	assert_int_equal(parse_int64("--1", -10, 10, &v), -EINVAL);
	assert_int_equal(parse_int64(NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(v, 42);

	assert_int_equal(
	    parse_uint64("18446744073709551615", 0, UINT64_MAX, &u), 0);
	assert_true(u == UINT64_MAX);
	u = 42;
	assert_int_equal(
	    parse_uint64("18446744073709551616", 0, UINT64_MAX, &u), -ERANGE);
	/* strtoull would wrap "-1" to UINT64_MAX; we refuse it. */
	assert_int_equal(parse_uint64("-1", 0, UINT64_MAX, &u), -EINVAL);
	assert_int_equal(parse_uint64("5", 6, 10, &u), -ERANGE);
	assert_int_equal(parse_uint64("", 0, 10, &u), -EINVAL);
	assert_int_equal(u, 42);
	assert_int_equal(parse_uint64("7", 6, 10, &u), 0);
	assert_true(u == 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_valid),
	    cmocka_unit_test(test_parse_invalid),
	    cmocka_unit_test(test_parse_messages),
	    cmocka_unit_test(test_parse_break),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_format_roundtrip),
	    cmocka_unit_test(test_parse_int),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
