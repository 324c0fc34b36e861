/*
 * test-timeparse.c - TIME forms, DST gaps and overlaps, the future check,
 * UTC formatting. Expected instants are literals worked out by hand.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/errcode.h"
#include "common/timeparse.h"

/* now: 2026-11-29T19:00:00Z */
#define NOW 1795978800LL

static void
set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

struct ok_row {
	const char *tz, *in;
	int64_t want;
};

static const struct ok_row ok_rows[] = {
    /* 2026-11-20T09:00:00Z = 1795165200 */
    {"UTC", "2026-11-20T09:00:00Z", 1795165200},
    {"Europe/Berlin", "2026-11-20T09:00:00Z", 1795165200},
    {"UTC", "2026-11-20T10:00:00+01:00", 1795165200},
    {"UTC", "2026-11-20T04:00:00-0500", 1795165200},
    {"UTC", "2026-11-20T09:00:00.750Z", 1795165200},
    {"UTC", "2026-11-20T09:00Z", 1795165200},
    {"Europe/Berlin", "2026-11-20T10:00+01:00", 1795165200},
    /* local CET in November: +01:00 */
    {"Europe/Berlin", "2026-11-20 10:00", 1795165200},
    {"Europe/Berlin", "2026-11-20 10:00:30", 1795165230},
    /* ISO 8601 without a zone is local time too */
    {"Europe/Berlin", "2026-11-20T10:00:00", 1795165200},
    /* local EST: -05:00 */
    {"America/New_York", "2026-11-20 04:00", 1795165200},
    /* today, local: now is 20:00 CET on 11-29, 09:00 CET = 08:00Z =
     * 1795978800 - 11 h */
    {"Europe/Berlin", "09:00", 1795978800 - 11 * 3600},
    /* NY: now is 14:00 EST; 09:00 EST = 14:00Z */
    {"America/New_York", "09:00", 1795978800 - 5 * 3600},
    /* exactly now is not the future */
    {"UTC", "19:00", 1795978800},
    /* the hours right beside the DST changes are unique */
    {"Europe/Berlin", "2026-03-29 01:59", 1774745940},	  /* 00:59Z */
    {"Europe/Berlin", "2026-03-29 03:00", 1774746000},	  /* 01:00Z */
    {"Europe/Berlin", "2026-10-25 03:00", 1792893600},	  /* 02:00Z */
    {"America/New_York", "2026-03-08 03:00", 1772953200}, /* 07:00Z */
};

static void
test_ok(void **state)
{
	for (size_t i = 0; i < sizeof(ok_rows) / sizeof(ok_rows[0]); i++) {
		struct errbuf e = {0};
		int64_t t = 0;
		int r;

		set_tz(ok_rows[i].tz);
		r = timeparse_parse(ok_rows[i].in, NOW, &t, &e);
		if (r != 0 || t != ok_rows[i].want) {
			fail_msg("%s '%s': r=%d t=%lld (%s), want %lld",
			    ok_rows[i].tz, ok_rows[i].in, r, (long long) t,
			    e.msg, (long long) ok_rows[i].want);
		}
	}
}

struct bad_row {
	const char *tz, *in;
	enum errcode code;
	const char *must_name[2]; /* substrings of the message */
};

static const struct bad_row bad_rows[] = {
    /* Berlin: 02:30 on 03-29 is skipped; as CET it would be 01:30Z, as
     * CEST 00:30Z */
    {"Europe/Berlin", "2026-03-29 02:30", ERR_AMBIGUOUS_TIME,
	{"2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z"}},
    /* Berlin: 02:30 on 10-25 happens twice: 00:30Z (+02:00) and 01:30Z
     * (+01:00) */
    {"Europe/Berlin", "2026-10-25 02:30", ERR_AMBIGUOUS_TIME,
	{"2026-10-25T00:30:00Z (02:30+02:00)",
	    "2026-10-25T01:30:00Z (02:30+01:00)"}},
    /* New York: 02:30 on 03-08 is skipped: 06:30Z / 07:30Z */
    {"America/New_York", "2026-03-08 02:30", ERR_AMBIGUOUS_TIME,
	{"2026-03-08T06:30:00Z", "2026-03-08T07:30:00Z"}},
    /* New York: 01:30 on 11-01 twice: 05:30Z (-04:00), 06:30Z (-05:00) */
    {"America/New_York", "2026-11-01 01:30", ERR_AMBIGUOUS_TIME,
	{"2026-11-01T05:30:00Z (01:30-04:00)",
	    "2026-11-01T06:30:00Z (01:30-05:00)"}},
    {"UTC", "2026-11-29T19:00:01Z", ERR_TIME_IN_FUTURE,
	{"2026-11-29T19:00:01Z", NULL}},
    {"UTC", "19:01", ERR_TIME_IN_FUTURE, {NULL, NULL}},
    {"UTC", "2026-02-29 09:00", ERR_BAD_TIME, {NULL, NULL}},
    {"UTC", "24:00", ERR_BAD_TIME, {NULL, NULL}},
    {"UTC", "9:00", ERR_BAD_TIME, {NULL, NULL}},
    {"UTC", "2026-11-20 09:00Z", ERR_BAD_TIME, {NULL, NULL}},
    {"UTC", "yesterday", ERR_BAD_TIME, {NULL, NULL}},
    {"UTC", "", ERR_BAD_TIME, {NULL, NULL}},
    {"UTC", "2026-11-20T09:00:00+25:00", ERR_BAD_TIME, {NULL, NULL}},
    {"UTC", "2026-11-20T09:00:00Zjunk", ERR_BAD_TIME, {NULL, NULL}},
    {"UTC", "2026-11-20T09:60", ERR_BAD_TIME, {NULL, NULL}},
    {"UTC", "1969-12-31 23:00", ERR_BAD_TIME, {NULL, NULL}},
};

static void
test_bad(void **state)
{
	for (size_t i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		const struct bad_row *b = &bad_rows[i];
		struct errbuf e = {0};
		int64_t t = 42;
		int r;

		set_tz(b->tz);
		r = timeparse_parse(b->in, NOW, &t, &e);
		if (r != -EINVAL || e.code != b->code || t != 42) {
			fail_msg("%s '%s': r=%d code=%d t=%lld msg=%s", b->tz,
			    b->in, r, e.code, (long long) t, e.msg);
		}
		for (int k = 0; k < 2; k++) {
			if (b->must_name[k] &&
			    !strstr(e.msg, b->must_name[k])) {
				fail_msg("%s '%s': message '%s' lacks '%s'",
				    b->tz, b->in, e.msg, b->must_name[k]);
			}
		}
	}
}

static void
test_format_and_iso(void **state)
{
	char buf[TIMEPARSE_UTC_LEN];
	int64_t t;

	assert_string_equal(
	    timeparse_format_utc(1795165200, buf), "2026-11-20T09:00:00Z");
	assert_string_equal(
	    timeparse_format_utc(0, buf), "1970-01-01T00:00:00Z");
	assert_string_equal(
	    timeparse_format_utc(951782400, buf), "2000-02-29T00:00:00Z");
	assert_int_equal(
	    timeparse_parse_iso("2024-02-15T09:00:00Z", &t, NULL), 0);
	assert_int_equal(t, 1707987600);
	assert_int_equal(
	    timeparse_parse_iso("2024-02-15T10:30:00.123+01:30", &t, NULL), 0);
	assert_int_equal(t, 1707987600);
	assert_int_equal(
	    timeparse_parse_iso("2024-02-15 09:00:00Z", &t, NULL), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ok),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_format_and_iso),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
