/*
 * test-ticker.c - the daemon side of the timers with an injected clock:
 * the rules built from cwtimed.conf (every value copied, overrides with
 * their charge types), clocksrc_now() from a fake clock, and the ticker
 * on a real loop and a real journal in a temporary directory: the
 * max_duration auto-stop record, the heartbeat after [timers] heartbeat,
 * and no armed timer while nothing runs. Time moves only when the test
 * advances the fake clock. Ends with uv_loop_close() == 0.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "common/errcode.h"
#include "core/records.h"
#include "core/state.h"
#include "core/tracker.h"
#include "daemon/clocksrc.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/journal.h"
#include "daemon/ticker.h"

#define NS 1000000000LL

/* ---- the fake clock ---- */

struct fake {
	int64_t wall, mono, boot;
	const char *boot_id;
	int boot_id_err;
	unsigned random_calls;
};

static int64_t
f_wall(void *u)
{
	return ((struct fake *) u)->wall;
}

static int64_t
f_mono(void *u)
{
	return ((struct fake *) u)->mono;
}

static int64_t
f_boot(void *u)
{
	return ((struct fake *) u)->boot;
}

static int
f_boot_id(char buf[TRACKER_BOOT_ID_LEN], void *u)
{
	struct fake *f = u;

	if (f->boot_id_err) {
		return f->boot_id_err;
	}
	snprintf(buf, TRACKER_BOOT_ID_LEN, "%s", f->boot_id);
	return 0;
}

static void
f_random(uint8_t *buf, size_t n, void *u)
{
	struct fake *f = u;

	f->random_calls++;
	for (size_t i = 0; i < n; i++) {
		buf[i] = (uint8_t) (i * 7 + f->random_calls);
	}
}

static struct fake fk;
static const struct clocksrc fake_clock = {
	.wall_s = f_wall,
	.mono_ns = f_mono,
	.boot_ns = f_boot,
	.boot_id = f_boot_id,
	.random = f_random,
	.userdata = &fk,
};

static void
advance(int64_t s)
{
	fk.wall += s;
	fk.mono += s * NS;
	fk.boot += s * NS;
}

/* ---- rules from config ---- */

static void
test_rules_from_config(void **state)
{
	static const char text[] =
	    "[timers]\nconcurrency = parallel\nmax_duration = 2h\n"
	    "split_at_midnight = no\n"
	    "[deduction]\npauses = split\nbreak = 30m after 6h\n"
	    "[rounding]\nmode = up\nincrement = 6m\nminimum = 12m\n"
	    "[rounding \"Remote\"]\nmode = nearest\nincrement = 1h\n"
	    "[rounding \"charge:ProjectTicket\"]\nmode = down\n";
	struct config c;
	struct errbuf e;
	struct rules_config rc;
	struct rules_rounding_rule *rr = NULL;
	const struct rules_rounding *r;

	(void) state;
	memset(&c, 0, sizeof(c));
	errbuf_clear(&e);
	assert_int_equal(config_load_string(text, sizeof(text) - 1, "t.conf",
	    &c, &e), 0);
	assert_int_equal(ticker_rules_from_config(&c, &rc, &rr), 0);
	assert_int_equal(rc.concurrency, RULES_CONCURRENCY_PARALLEL);
	assert_int_equal(rc.max_duration_s, 7200);
	assert_false(rc.split_at_midnight);
	assert_int_equal(rc.pauses, RULES_PAUSES_SPLIT);
	assert_int_equal(rc.break_s, 1800);
	assert_int_equal(rc.break_after_s, 6 * 3600);
	assert_int_equal(rc.rounding.mode, RULES_ROUND_UP);
	assert_int_equal(rc.rounding.increment_s, 360);
	assert_int_equal(rc.rounding.minimum_s, 720);
	assert_int_equal(rc.n_round_rules, 2);

	r = rules_rounding_for(&rc, "remote", TARGET_SERVICE_TICKET);
	assert_int_equal(r->mode, RULES_ROUND_NEAREST);
	assert_int_equal(r->increment_s, 3600);
	/* inherited from [rounding]: the override set only the mode */
	r = rules_rounding_for(&rc, NULL, TARGET_PROJECT_TICKET);
	assert_int_equal(r->mode, RULES_ROUND_DOWN);
	assert_int_equal(r->increment_s, 360);
	r = rules_rounding_for(&rc, "Onsite", TARGET_SERVICE_TICKET);
	assert_int_equal(r->mode, RULES_ROUND_UP);
	free(rr);
	config_fini(&c);

	/* the config's defaults, not rules_config_init()'s */
	memset(&c, 0, sizeof(c));
	assert_int_equal(config_load_string("", 0, "empty", &c, &e), 0);
	assert_int_equal(ticker_rules_from_config(&c, &rc, &rr), 0);
	assert_int_equal(rc.max_duration_s, 12 * 3600);
	assert_true(rc.split_at_midnight);
	assert_int_equal(rc.concurrency, RULES_CONCURRENCY_SINGLE);
	assert_int_equal(rc.n_round_rules, 0);
	free(rr);
	config_fini(&c);
}

static void
test_clocksrc_now(void **state)
{
	struct now now;
	uint8_t b[4];

	(void) state;
	fk = (struct fake) { .wall = 1795000000, .mono = 5 * NS,
		.boot = 7 * NS,
		.boot_id = "11111111-2222-4333-8444-555555555555" };
	assert_int_equal(clocksrc_now(&fake_clock, &now), 0);
	assert_int_equal(now.wall_utc_s, 1795000000);
	assert_int_equal(now.mono_ns, 5 * NS);
	assert_int_equal(now.boot_ns, 7 * NS);
	assert_string_equal(now.boot_id, fk.boot_id);
	assert_non_null(now.next_midnight);
	now.random(b, sizeof(b), now.userdata);
	assert_int_equal(fk.random_calls, 1);
	assert_int_equal(b[1], 8);

	fk.boot_id_err = -ENOENT;
	assert_int_equal(clocksrc_now(&fake_clock, &now), -ENOENT);
	assert_string_equal(now.boot_id, ""); /* the core then refuses */
	fk.boot_id_err = 0;

	/* the real clock answers, and BOOTTIME never trails MONOTONIC */
	assert_int_equal(clocksrc_now(clocksrc_real(), &now), 0);
	assert_true(now.wall_utc_s > 1700000000);
	assert_true(now.boot_ns >= now.mono_ns);
	assert_int_equal(strlen(now.boot_id), 36);
}

/* ---- the ticker on a loop and a journal ---- */

static struct daemon d;
static char dir[] = "/tmp/test-ticker-XXXXXX";
static unsigned n_type[32];

static int
on_apply(void *u, uint16_t type, uint64_t seq, json_object *p,
    struct errbuf *reterr)
{
	int r = state_apply(&d.state, type, seq, p, reterr);

	if (r == 0 && type < 32) {
		n_type[type]++;
	}
	if (r == 0) {
		ticker_kick(d.ticker);
	}
	return r;
}

static json_object *
on_snapshot(void *u)
{
	return state_snapshot(&d.state);
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

/* Runs the loop once without blocking, then commits what the ticker
 * appended (the daemon's commit hook does that). */
static void
turn(void)
{
	/* the ticker's handle is unreferenced (it never keeps the daemon
	 * alive); in the daemon the listener keeps the loop running, here
	 * a temporary reference does */
	uv_ref((uv_handle_t *) &d.ticker->timer);
	(void) uv_run(&d.loop, UV_RUN_NOWAIT);
	uv_unref((uv_handle_t *) &d.ticker->timer);
	if (journal_pending(d.journal)) {
		assert_int_equal(journal_commit(d.journal), 0);
	}
}

static void
start_timer(const char *target)
{
	struct tracker_start_args a = { .target = target };
	json_object *p = NULL;
	struct errbuf e;
	struct now now;
	uint16_t type;

	errbuf_clear(&e);
	assert_int_equal(ticker_now(d.ticker, &now, &e), 0);
	assert_int_equal(tracker_prepare_start(&d.state.tracker, &a, &now,
	    &type, &p, &e), 0);
	assert_int_equal(journal_append(d.journal, type, p, false, NULL, NULL,
	    &e), 0);
	json_object_put(p);
	assert_int_equal(journal_commit(d.journal), 0);
}

static void
test_ticker(void **state)
{
	static const char text[] = "[timers]\nmax_duration = 1h\n"
				   "heartbeat = 10m\nsplit_at_midnight = no\n";
	struct journal_config jc;
	struct errbuf e;
	const struct outbox_entry *oe;
	json_object *v;

	(void) state;
	fk = (struct fake) { .wall = 1795000000, .mono = 100 * NS,
		.boot = 100 * NS,
		.boot_id = "11111111-2222-4333-8444-555555555555" };
	assert_non_null(mkdtemp(dir));
	memset(&d, 0, sizeof(d));
	errbuf_clear(&e);
	assert_int_equal(uv_loop_init(&d.loop), 0);
	assert_int_equal(config_load_string(text, sizeof(text) - 1, "t",
	    &d.config, &e), 0);
	d.have_config = true;
	state_init(&d.state);
	memset(&jc, 0, sizeof(jc));
	jc.state_dir = dir;
	jc.apply = on_apply;
	jc.snapshot = on_snapshot;
	assert_int_equal(journal_open(&jc, &d.journal, &e), 0);
	assert_int_equal(ticker_new(&d, &fake_clock, &d.ticker), 0);
	assert_ptr_equal(d.state.tracker.rules, &d.ticker->rules);

	/* idle is idle */
	assert_false(uv_is_active((uv_handle_t *) &d.ticker->timer));

	start_timer("54321");
	assert_true(uv_is_active((uv_handle_t *) &d.ticker->timer));
	/* the deadline is the heartbeat (10m) before the auto-stop (1h) */
	assert_int_equal(uv_timer_get_due_in(&d.ticker->timer), 600000);

	/* 9 minutes: nothing due */
	advance(540);
	ticker_kick(d.ticker);
	turn();
	assert_int_equal(n_type[JOURNAL_REC_HEARTBEAT], 0);

	/* 10 minutes: one heartbeat stamping the timer */
	advance(60);
	ticker_kick(d.ticker);
	assert_int_equal(uv_timer_get_due_in(&d.ticker->timer), 0);
	turn();
	turn();
	assert_int_equal(n_type[JOURNAL_REC_HEARTBEAT], 1);
	assert_int_equal(d.state.tracker.timers[0]->anchor.wall_s,
	    1795000000 + 600);

	/* past max_duration (the loop was not turned for a while): one
	 * auto-stop ending at start + 1h, whatever the delay */
	advance(3 * 3600);
	ticker_kick(d.ticker);
	turn();
	turn();
	assert_int_equal(n_type[JOURNAL_REC_TIMER_STOPPED], 1);
	assert_int_equal(d.state.tracker.n_timers, 0);
	assert_int_equal(d.state.outbox.n_entries, 1);
	oe = d.state.outbox.entries[0];
	assert_true(json_object_object_get_ex(oe->body, "timeEnd", &v));
	assert_string_equal(json_object_get_string(v),
	    "2026-11-18T12:06:40Z"); /* 1795000000 + 3600 */
	assert_true(json_object_object_get_ex(oe->body, "internalNotes", &v));
	assert_non_null(strstr(json_object_get_string(v), "max_duration"));
	/* the UUID came from the injected random source */
	assert_true(fk.random_calls > 0);

	/* nothing runs: the timer is disarmed, no more records */
	assert_false(uv_is_active((uv_handle_t *) &d.ticker->timer));
	advance(3600);
	ticker_kick(d.ticker);
	turn();
	assert_int_equal(n_type[JOURNAL_REC_HEARTBEAT], 1);

	journal_free(d.journal);
	d.journal = NULL;
	uv_close((uv_handle_t *) &d.ticker->timer, NULL);
	/* never armed here (no ipc, no subscriber), but initialised */
	assert_false(uv_is_active((uv_handle_t *) &d.ticker->tick_timer));
	uv_close((uv_handle_t *) &d.ticker->tick_timer, NULL);
	(void) uv_run(&d.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&d.loop), 0);
	ticker_free(d.ticker);
	state_fini(&d.state);
	config_fini(&d.config);
	(void) nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_from_config),
		cmocka_unit_test(test_clocksrc_now),
		cmocka_unit_test(test_ticker),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
