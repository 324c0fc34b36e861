/*
 * test-session.c - the exact STATUS= strings of session_status_format
 * (cwtimed(1), SYSTEMD NOTIFICATION): singular and plural, the paused
 * part only when there are paused timers, "never" and the local HH:MM of
 * the last submission (with positive, negative and day-crossing
 * offsets), and -ENOBUFS for a buffer that is too small. The daemon-side
 * behaviour is covered by tests/integration/test-session.py and
 * test-notify.py.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/session.h"

static void
check(size_t run, size_t paused, size_t queued, int64_t last, int64_t off,
    const char *want)
{
	char buf[256];
	int n = session_status_format(run, paused, queued, last, off, buf,
	    sizeof(buf));

	assert_int_equal(n, (int) strlen(want));
	assert_string_equal(buf, want);
}

static void
test_counts(void **state)
{
	(void) state;
	check(0, 0, 0, 0, 0, "0 timers running, 0 queued, last submit never");
	check(1, 0, 3, 0, 0, "1 timer running, 3 queued, last submit never");
	check(2, 1, 0, 0, 0,
	    "2 timers running, 1 paused, 0 queued, last submit never");
	check(0, 4, 12, 0, 0,
	    "0 timers running, 4 paused, 12 queued, last submit never");
}

static void
test_last_submit(void **state)
{
	(void) state;
	/* 2026-02-23T10:42:59Z */
	check(2, 0, 3, 1771843379, 0,
	    "2 timers running, 3 queued, last submit 10:42");
	check(2, 0, 3, 1771843379, 3600,
	    "2 timers running, 3 queued, last submit 11:42");
	check(2, 0, 3, 1771843379, -11 * 3600,
	    "2 timers running, 3 queued, last submit 23:42");
	check(2, 0, 3, 1771843379, 14 * 3600,
	    "2 timers running, 3 queued, last submit 00:42");
}

static void
test_small_buffer(void **state)
{
	char buf[16];

	(void) state;
	assert_int_equal(session_status_format(1, 0, 0, 0, 0, buf,
	    sizeof(buf)), -ENOBUFS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_last_submit),
		cmocka_unit_test(test_small_buffer),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
