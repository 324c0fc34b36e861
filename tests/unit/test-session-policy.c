/*
 * test-session-policy.c - the [session] table (src/core/session_policy.c):
 * every event under the defaults and under each non-default answer, the
 * back-dated idle pause and its re-check, and the release bound.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/session_policy.h"

#define NOW 1764400000LL

static struct session_decision
decide(const struct session_policy *p, enum session_event ev, int64_t since)
{
	struct session_decision d;

	memset(&d, 0xa5, sizeof(d));
	assert_int_equal(session_policy_decide(p, ev, NOW, since, &d), 0);
	return d;
}

static void
test_defaults(void **state)
{
	struct session_policy p;
	struct session_decision d;

	session_policy_init(&p);
	assert_int_equal(p.on_lock, SESSION_KEEP);
	assert_int_equal(p.on_sleep, SESSION_PAUSE);
	assert_int_equal(p.on_idle, SESSION_KEEP);
	assert_int_equal(p.on_logout, SESSION_STOP);
	assert_true(p.resume_after_sleep);
	assert_int_equal(p.submit_timeout_s, 10);

	d = decide(&p, SESSION_EVENT_SLEEP, 0);
	assert_int_equal(d.action, SESSION_ACTION_PAUSE);
	assert_int_equal(d.at_s, NOW);
	assert_false(d.submit);
	assert_true(d.release_lock);
	assert_false(d.exit);

	d = decide(&p, SESSION_EVENT_WAKE, 0);
	assert_int_equal(d.action, SESSION_ACTION_RESUME);
	assert_false(d.release_lock);

	d = decide(&p, SESSION_EVENT_LOCK, 0);
	assert_int_equal(d.action, SESSION_ACTION_NONE);
	d = decide(&p, SESSION_EVENT_UNLOCK, 0);
	assert_int_equal(d.action, SESSION_ACTION_NONE);
	d = decide(&p, SESSION_EVENT_IDLE, NOW - 3600);
	assert_int_equal(d.action, SESSION_ACTION_NONE);
	d = decide(&p, SESSION_EVENT_ACTIVE, 0);
	assert_int_equal(d.action, SESSION_ACTION_NONE);

	d = decide(&p, SESSION_EVENT_SHUTDOWN, 0);
	assert_int_equal(d.action, SESSION_ACTION_STOP);
	assert_int_equal(d.at_s, NOW);
	assert_true(d.submit);
	assert_true(d.release_lock);
	assert_false(d.exit); /* the SIGTERM that follows exits */

	d = decide(&p, SESSION_EVENT_TERM_LOGOUT, 0);
	assert_int_equal(d.action, SESSION_ACTION_STOP);
	assert_true(d.submit);
	assert_true(d.exit);
	assert_false(d.release_lock);

	d = decide(&p, SESSION_EVENT_TERM_RESTART, 0);
	assert_int_equal(d.action, SESSION_ACTION_NONE);
	assert_false(d.submit);
	assert_true(d.exit);
}

static void
test_sleep_stop_and_no_resume(void **state)
{
	struct session_policy p;
	struct session_decision d;

	session_policy_init(&p);
	p.on_sleep = SESSION_STOP;
	d = decide(&p, SESSION_EVENT_SLEEP, 0);
	assert_int_equal(d.action, SESSION_ACTION_STOP);
	assert_true(d.submit);
	assert_true(d.release_lock);
	/* Nothing was paused: nothing to resume. */
	d = decide(&p, SESSION_EVENT_WAKE, 0);
	assert_int_equal(d.action, SESSION_ACTION_NONE);

	session_policy_init(&p);
	p.resume_after_sleep = false;
	d = decide(&p, SESSION_EVENT_WAKE, 0);
	assert_int_equal(d.action, SESSION_ACTION_NONE);

	/* KEEP is no answer for sleep: suspended time never counts. */
	session_policy_init(&p);
	p.on_sleep = SESSION_KEEP;
	d = decide(&p, SESSION_EVENT_SLEEP, 0);
	assert_int_equal(d.action, SESSION_ACTION_PAUSE);
}

static void
test_lock(void **state)
{
	struct session_policy p;
	struct session_decision d;

	session_policy_init(&p);
	p.on_lock = SESSION_PAUSE;
	d = decide(&p, SESSION_EVENT_LOCK, 0);
	assert_int_equal(d.action, SESSION_ACTION_PAUSE);
	assert_int_equal(d.at_s, NOW);
	assert_false(d.submit);
	d = decide(&p, SESSION_EVENT_UNLOCK, 0);
	assert_int_equal(d.action, SESSION_ACTION_RESUME);

	p.on_lock = SESSION_STOP;
	d = decide(&p, SESSION_EVENT_LOCK, 0);
	assert_int_equal(d.action, SESSION_ACTION_STOP);
	assert_true(d.submit);
	assert_false(d.exit);
	d = decide(&p, SESSION_EVENT_UNLOCK, 0);
	assert_int_equal(d.action, SESSION_ACTION_NONE);
}

static void
test_idle_pause_after(void **state)
{
	struct session_policy p;
	struct session_decision d;

	session_policy_init(&p);
	p.on_idle = SESSION_PAUSE;
	p.idle_after_s = 600;

	/* Idle for 4 minutes: ask again in 6. */
	d = decide(&p, SESSION_EVENT_IDLE, NOW - 240);
	assert_int_equal(d.action, SESSION_ACTION_WAIT);
	assert_int_equal(d.recheck_s, 360);

	/* Exactly 10 minutes: pause, back-dated to when idleness began. */
	d = decide(&p, SESSION_EVENT_IDLE, NOW - 600);
	assert_int_equal(d.action, SESSION_ACTION_PAUSE);
	assert_int_equal(d.at_s, NOW - 600);

	d = decide(&p, SESSION_EVENT_IDLE, NOW - 7200);
	assert_int_equal(d.action, SESSION_ACTION_PAUSE);
	assert_int_equal(d.at_s, NOW - 7200);

	/* Unknown start, or one in the future: idleness starts now. */
	d = decide(&p, SESSION_EVENT_IDLE, 0);
	assert_int_equal(d.action, SESSION_ACTION_WAIT);
	assert_int_equal(d.recheck_s, 600);
	d = decide(&p, SESSION_EVENT_IDLE, NOW + 50);
	assert_int_equal(d.action, SESSION_ACTION_WAIT);
	assert_int_equal(d.recheck_s, 600);

	/* "pause after 0": at once. */
	p.idle_after_s = 0;
	d = decide(&p, SESSION_EVENT_IDLE, NOW - 5);
	assert_int_equal(d.action, SESSION_ACTION_PAUSE);
	assert_int_equal(d.at_s, NOW - 5);

	d = decide(&p, SESSION_EVENT_ACTIVE, 0);
	assert_int_equal(d.action, SESSION_ACTION_RESUME);

	/* STOP is no answer for idle. */
	p.on_idle = SESSION_STOP;
	d = decide(&p, SESSION_EVENT_IDLE, NOW - 7200);
	assert_int_equal(d.action, SESSION_ACTION_NONE);
}

static void
test_logout_keep(void **state)
{
	struct session_policy p;
	struct session_decision d;

	session_policy_init(&p);
	p.on_logout = SESSION_KEEP;
	d = decide(&p, SESSION_EVENT_SHUTDOWN, 0);
	assert_int_equal(d.action, SESSION_ACTION_NONE);
	assert_false(d.submit);
	assert_true(d.release_lock);
	d = decide(&p, SESSION_EVENT_TERM_LOGOUT, 0);
	assert_int_equal(d.action, SESSION_ACTION_NONE);
	assert_true(d.exit);
}

static void
test_bad_event(void **state)
{
	struct session_policy p;
	struct session_decision d = {.action = SESSION_ACTION_WAIT};

	session_policy_init(&p);
	assert_int_equal(
	    session_policy_decide(&p, SESSION_EVENT_COUNT, NOW, 0, &d),
	    -EINVAL);
	assert_int_equal(
	    session_policy_decide(&p, (enum session_event) - 1, NOW, 0, &d),
	    -EINVAL);
	assert_int_equal(d.action, SESSION_ACTION_WAIT); /* untouched */
}

static void
test_release_bound(void **state)
{
	/* The formula: min(submit_timeout, delay max - 1 s). */
	assert_int_equal(session_policy_release_bound_ms(10, 5000000), 4000);
	assert_int_equal(session_policy_release_bound_ms(3, 5000000), 3000);
	assert_int_equal(session_policy_release_bound_ms(10, 30000000), 10000);
	/* Unknown delay max: logind's 5 s default. */
	assert_int_equal(session_policy_release_bound_ms(10, 0), 4000);
	/* Never below the 500 ms floor while logind allows it... */
	assert_int_equal(session_policy_release_bound_ms(0, 5000000), 500);
	assert_int_equal(session_policy_release_bound_ms(-5, 5000000), 500);
	assert_int_equal(session_policy_release_bound_ms(10, 1300000), 300);
	/* ...and with 1 s or less, half of it. */
	assert_int_equal(session_policy_release_bound_ms(10, 1000000), 500);
	assert_int_equal(session_policy_release_bound_ms(10, 400000), 200);
	assert_int_equal(session_policy_release_bound_ms(10, 1), 1);
	/* No overflow on absurd input. */
	assert_int_equal(session_policy_release_bound_ms(INT64_MAX, UINT64_MAX),
	    (uint64_t) INT32_MAX * 1000);
}

static void
test_names(void **state)
{
	assert_string_equal(session_response_to_string(SESSION_STOP), "stop");
	assert_null(session_response_to_string(SESSION_RESPONSE_COUNT));
	assert_null(session_response_to_string(SESSION_RESPONSE_INVALID));
	assert_string_equal(
	    session_event_to_string(SESSION_EVENT_TERM_LOGOUT), "logout");
	assert_null(session_event_to_string(SESSION_EVENT_COUNT));
	assert_string_equal(
	    session_action_to_string(SESSION_ACTION_WAIT), "wait");
	assert_null(session_action_to_string((enum session_action) 99));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_sleep_stop_and_no_resume),
	    cmocka_unit_test(test_lock),
	    cmocka_unit_test(test_idle_pause_after),
	    cmocka_unit_test(test_logout_keep),
	    cmocka_unit_test(test_bad_event),
	    cmocka_unit_test(test_release_bound),
	    cmocka_unit_test(test_names),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
