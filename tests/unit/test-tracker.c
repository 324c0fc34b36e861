/*
 * test-tracker.c - the timer state machine through prepare + apply with an
 * injected struct now. Every record is serialised and parsed again before
 * it is applied, as the journal would. Expected values are literals.
 *
 * W0 = 2026-11-20T09:00:00Z = 1795165200.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/errcode.h"
#include "common/timeparse.h"
#include "core/records.h"
#include "core/state.h"

#define W0 1795165200LL
#define S 1000000000LL

static unsigned rnd_counter;

/* Deterministic "random": call k fills every byte with k. */
static void
fake_random(uint8_t *buf, size_t n, void *userdata)
{
	rnd_counter++;
	memset(buf, (int) rnd_counter, n);
}

/* A reading: wall seconds, monotonic and boottime seconds, boot id. */
static struct now
at(int64_t wall, int64_t mono_s, int64_t boot_s, const char *boot)
{
	struct now n = {0};

	n.wall_utc_s = wall;
	n.mono_ns = mono_s * S;
	n.boot_ns = boot_s * S;
	snprintf(n.boot_id, sizeof(n.boot_id), "%s", boot);
	n.random = fake_random;
	return n;
}

/* Same boot "A", no suspend, no step: all three advance together. */
static struct now
plain(int64_t dt)
{
	return at(W0 + dt, 1000 + dt, 1000 + dt, "boot-a");
}

struct fx {
	struct state st;
	struct rules_config cfg;
	uint64_t seq;
	/* every committed record, replayed in teardown (grows: the many
	 * pauses test commits 10,000 records) */
	json_object **recs;
	uint16_t *types;
	size_t n_recs, cap_recs;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	state_init(&f->st);
	rules_config_init(&f->cfg);
	f->st.tracker.rules = &f->cfg;
	rnd_counter = 0;
	*state = f;
	return 0;
}

static char *snap(struct fx *f);

/* Live == replay: the records applied one by one to a fresh state give
 * byte for byte the state the test ended with. */
static int
teardown(void **state)
{
	struct fx *f = *state;
	struct fx r = {0};
	char *live, *replayed;
	int bad;

	state_init(&r.st);
	for (size_t i = 0; i < f->n_recs; i++) {
		struct errbuf e = {0};

		if (state_apply(&r.st, f->types[i], i + 1, f->recs[i], &e) <
		    0) {
			fail_msg(
			    "replay of record %zu failed: %s", i + 1, e.msg);
		}
		json_object_put(f->recs[i]);
	}
	live = snap(f);
	replayed = snap(&r);
	bad = strcmp(live, replayed) != 0;
	if (bad) {
		print_error("live:     %s\nreplayed: %s\n", live, replayed);
	}
	free(live);
	free(replayed);
	state_fini(&r.st);
	state_fini(&f->st);
	free(f->recs);
	free(f->types);
	free(f);
	return bad ? -1 : 0;
}

/* Journals (serialise + parse) and applies; returns the parsed payload
 * (owned by the caller). */
static json_object *
commit(struct fx *f, uint16_t type, json_object *payload)
{
	const char *text =
	    json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN);
	json_object *back = json_tokener_parse(text);
	struct errbuf e = {0};
	int r;

	assert_non_null(back);
	json_object_put(payload);
	r = state_apply(&f->st, type, ++f->seq, back, &e);
	if (r != 0) {
		fail_msg("apply %s failed: %s", records_type_name(type), e.msg);
	}
	if (f->n_recs == f->cap_recs) {
		f->cap_recs = f->cap_recs ? f->cap_recs * 2 : 256;
		f->recs = realloc(f->recs, f->cap_recs * sizeof(*f->recs));
		f->types = realloc(f->types, f->cap_recs * sizeof(*f->types));
		assert_non_null(f->recs);
		assert_non_null(f->types);
	}
	assert_int_equal(f->seq, f->n_recs + 1);
	f->types[f->n_recs] = type;
	f->recs[f->n_recs++] = json_object_get(back);
	return back;
}

static char *
snap(struct fx *f)
{
	json_object *o = state_snapshot(&f->st);
	char *s =
	    strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));

	json_object_put(o);
	return s;
}

static void
do_start(struct fx *f, const char *target, struct now n)
{
	struct tracker_start_args a = {.target = target};
	json_object *p = NULL;
	struct errbuf e = {0};
	uint16_t type = 0;

	if (tracker_prepare_start(&f->st.tracker, &a, &n, &type, &p, &e) < 0) {
		fail_msg("start %s: %s", target, e.msg);
	}
	json_object_put(commit(f, type, p));
}

static void
do_simple(struct fx *f,
    int (*fn)(const struct tracker *, const char *, const struct now *,
	uint16_t *, json_object **, struct errbuf *),
    const char *target, struct now n)
{
	json_object *p = NULL;
	struct errbuf e = {0};
	uint16_t type = 0;

	if (fn(&f->st.tracker, target, &n, &type, &p, &e) < 0) {
		fail_msg(
		    "command on %s: %s", target ? target : "(focus)", e.msg);
	}
	json_object_put(commit(f, type, p));
}

/* Stops and returns the committed TIMER_STOPPED payload. */
static json_object *
do_stop(struct fx *f, const struct tracker_stop_args *a, struct now n)
{
	json_object *p = NULL;
	struct errbuf e = {0};
	uint16_t type = 0;

	if (tracker_prepare_stop(&f->st.tracker, a, &n, &type, &p, &e) < 0) {
		fail_msg("stop: %s", e.msg);
	}
	assert_int_equal(type, JOURNAL_REC_TIMER_STOPPED);
	return commit(f, type, p);
}

static json_object *
entry_at(json_object *stop, size_t timer, size_t entry)
{
	json_object *timers, *t, *entries;

	assert_true(json_object_object_get_ex(stop, "timers", &timers));
	t = json_object_array_get_idx(timers, timer);
	assert_non_null(t);
	assert_true(json_object_object_get_ex(t, "entries", &entries));
	return json_object_array_get_idx(entries, entry);
}

static const char *
body_str(json_object *entry)
{
	json_object *b;

	assert_true(json_object_object_get_ex(entry, "body", &b));
	return json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN);
}

static const char *
body_field(json_object *entry, const char *key)
{
	json_object *b, *v;

	assert_true(json_object_object_get_ex(entry, "body", &b));
	if (!json_object_object_get_ex(b, key, &v)) {
		return NULL;
	}
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

static size_t
n_entries(json_object *stop, size_t timer)
{
	json_object *timers, *entries;

	assert_true(json_object_object_get_ex(stop, "timers", &timers));
	assert_true(json_object_object_get_ex(
	    json_object_array_get_idx(timers, timer), "entries", &entries));
	return json_object_array_length(entries);
}

/* 90 minutes: the exact POST body. */
static void
test_start_stop_body(void **state)
{
	struct fx *f = *state;
	struct tracker_stop_args a = {0};
	json_object *stop;

	do_start(f, "54321", plain(0));
	assert_non_null(tracker_find(&f->st.tracker, "ticket:54321"));
	assert_string_equal(f->st.tracker.focus, "ticket:54321");
	stop = do_stop(f, &a, plain(5400));
	assert_string_equal(body_str(entry_at(stop, 0, 0)),
	    "{\"chargeToId\":54321,\"chargeToType\":\"ServiceTicket\","
	    "\"timeStart\":\"2026-11-20T09:00:00Z\","
	    "\"timeEnd\":\"2026-11-20T10:30:00Z\",\"actualHours\":1.50,"
	    "\"mobileGuid\":\"01010101-0101-4101-8101-010101010101\"}");
	assert_int_equal(f->st.tracker.n_timers, 0);
	assert_int_equal(f->st.outbox.n_entries, 1);
	assert_int_equal(f->st.outbox.entries[0]->state, OUTBOX_PENDING);
	assert_string_equal(f->st.outbox.entries[0]->uuid,
	    "01010101-0101-4101-8101-010101010101");
	json_object_put(stop);
}

/* A wall-clock step of +1 h or -1 h while running creates and destroys
 * nothing: 30 minutes of monotonic time stay 30 minutes. */
static void
test_clock_steps(void **state)
{
	static const int64_t steps[] = {3600, -3600};

	for (size_t i = 0; i < 2; i++) {
		struct fx *f = *state;
		struct tracker_stop_args a = {0};
		json_object *stop, *e;

		do_start(f, "ticket:7", plain(0));
		stop = do_stop(f, &a,
		    at(W0 + 1800 + steps[i], 1000 + 1800, 1000 + 1800,
			"boot-a"));
		e = entry_at(stop, 0, 0);
		assert_string_equal(
		    body_field(e, "timeStart"), "\"2026-11-20T09:00:00Z\"");
		assert_string_equal(
		    body_field(e, "timeEnd"), "\"2026-11-20T09:30:00Z\"");
		assert_string_equal(body_field(e, "actualHours"), "0.50");
		assert_non_null(strstr(
		    body_field(e, "internalNotes"), "wall clock stepped"));
		json_object_put(stop);
	}
}

/* Suspend seen at a heartbeat: 10 min run, 60 min suspended, 60 min run.
 * timeEnd = W0 + 130 min, hoursDeduct 1.00, actualHours 70/60. */
static void
test_suspend_excluded(void **state)
{
	struct fx *f = *state;
	struct tracker_stop_args a = {0};
	json_object *stop, *e, *p = NULL;
	struct now hb = at(W0 + 4200, 1000 + 600, 1000 + 4200, "boot-a");
	uint16_t type;

	do_start(f, "ticket:9", plain(0));
	assert_int_equal(
	    tracker_prepare_heartbeat(&f->st.tracker, &hb, &type, &p, NULL), 0);
	assert_int_equal(type, JOURNAL_REC_HEARTBEAT);
	json_object_put(commit(f, type, p));
	assert_true(f->st.tracker.timers[0]->flags & TRACKER_FLAG_SUSPEND);
	/* worked so far: 10 min */
	assert_int_equal(
	    tracker_timer_worked_ns(f->st.tracker.timers[0], &hb), 600 * S);
	stop =
	    do_stop(f, &a, at(W0 + 7800, 1000 + 4200, 1000 + 7800, "boot-a"));
	e = entry_at(stop, 0, 0);
	assert_string_equal(
	    body_field(e, "timeEnd"), "\"2026-11-20T11:10:00Z\"");
	assert_string_equal(body_field(e, "hoursDeduct"), "1.00");
	assert_string_equal(body_field(e, "actualHours"), "1.166667");
	assert_non_null(strstr(
	    body_field(e, "internalNotes"), "1h 00m of suspend excluded"));
	json_object_put(stop);
}

/* Suspend noticed only at the stop: the trailing gap just ends the entry
 * at the monotonic end (30 min), flagged. */
static void
test_suspend_at_stop(void **state)
{
	struct fx *f = *state;
	struct tracker_stop_args a = {0};
	json_object *stop, *e;

	do_start(f, "ticket:9", plain(0));
	stop =
	    do_stop(f, &a, at(W0 + 5400, 1000 + 1800, 1000 + 5400, "boot-a"));
	e = entry_at(stop, 0, 0);
	assert_string_equal(
	    body_field(e, "timeEnd"), "\"2026-11-20T09:30:00Z\"");
	assert_null(body_field(e, "hoursDeduct"));
	assert_string_equal(body_field(e, "actualHours"), "0.50");
	json_object_put(stop);
}

/* A restart is a snapshot applied as a checkpoint: the original start
 * stays and the stop gives the same entry. */
static void
test_restart_keeps_start(void **state)
{
	struct fx *f = *state;
	struct tracker_stop_args a = {0};
	json_object *cp, *stop;
	char *s1, *s2;

	do_start(f, "project:1234", plain(0));
	do_simple(f, tracker_prepare_pause, NULL, plain(600));
	do_simple(f, tracker_prepare_resume, NULL, plain(900));
	s1 = snap(f);
	cp = json_tokener_parse(s1);
	state_fini(&f->st);
	state_init(&f->st);
	f->st.tracker.rules = &f->cfg;
	assert_int_equal(
	    state_apply(&f->st, JOURNAL_REC_CHECKPOINT, 1, cp, NULL), 0);
	json_object_put(cp);
	s2 = snap(f);
	assert_string_equal(s1, s2);
	assert_int_equal(f->st.tracker.timers[0]->start_wall, W0);
	stop = do_stop(f, &a, plain(3900));
	/* 65 min - 5 min pause = 1 h */
	assert_string_equal(body_field(entry_at(stop, 0, 0), "timeStart"),
	    "\"2026-11-20T09:00:00Z\"");
	assert_string_equal(
	    body_field(entry_at(stop, 0, 0), "hoursDeduct"), "0.083333");
	assert_string_equal(
	    body_field(entry_at(stop, 0, 0), "actualHours"), "1.00");
	json_object_put(stop);
	free(s1);
	free(s2);
}

/* The ticket summary a start looked up: journaled with TIMER_STARTED,
 * shown by status, kept by a checkpoint; an over-long one is cut at a
 * UTF-8 character boundary; a resume does not journal one. */
static void
test_summary(void **state)
{
	struct fx *f = *state;
	struct tracker_start_args a = {.target = "54321",
	    .summary = "Printer offline"};
	char long_sum[TRACKER_SUMMARY_MAX + 8];
	json_object *p = NULL, *back, *st, *v = NULL;
	struct errbuf e = {0};
	struct now n = plain(0);
	uint16_t type = 0;
	char *s1, *s2;

	assert_int_equal(
	    tracker_prepare_start(&f->st.tracker, &a, &n, &type, &p, &e), 0);
	back = commit(f, type, p);
	assert_true(json_object_object_get_ex(back, "summary", &v));
	assert_string_equal(json_object_get_string(v), "Printer offline");
	json_object_put(back);
	assert_string_equal(
	    f->st.tracker.timers[0]->summary, "Printer offline");

	/* 511 ASCII bytes and a 3-byte character across the limit */
	memset(long_sum, 'x', sizeof(long_sum));
	memcpy(long_sum + TRACKER_SUMMARY_MAX - 1, "\xe2\x82\xac", 3);
	long_sum[TRACKER_SUMMARY_MAX + 2] = '\0';
	a.target = "project:7";
	a.summary = long_sum;
	n = plain(60);
	assert_int_equal(
	    tracker_prepare_start(&f->st.tracker, &a, &n, &type, &p, &e), 0);
	json_object_put(commit(f, type, p));
	assert_int_equal(strlen(f->st.tracker.timers[1]->summary),
	    TRACKER_SUMMARY_MAX - 1);

	/* starting project:7 paused 54321 (concurrency single); a start of
	 * the paused ticket resumes it: no summary journaled */
	assert_int_equal(tracker_find(&f->st.tracker, "ticket:54321")->state,
	    TRACKER_PAUSED);
	a.target = "54321";
	a.summary = "something else";
	n = plain(180);
	assert_int_equal(
	    tracker_prepare_start(&f->st.tracker, &a, &n, &type, &p, &e), 0);
	assert_int_equal(type, JOURNAL_REC_TIMER_RESUMED);
	assert_false(json_object_object_get_ex(p, "summary", NULL));
	json_object_put(commit(f, type, p));
	assert_string_equal(
	    tracker_find(&f->st.tracker, "ticket:54321")->summary,
	    "Printer offline");

	st = tracker_status_json(&f->st.tracker, &n, "ticket:54321");
	assert_non_null(st);
	assert_true(json_object_object_get_ex(
	    json_object_array_get_idx(
		json_object_object_get(st, "timers"), 0),
	    "summary", &v));
	assert_string_equal(json_object_get_string(v), "Printer offline");
	json_object_put(st);

	/* checkpoint round trip */
	s1 = snap(f);
	back = json_tokener_parse(s1);
	state_fini(&f->st);
	state_init(&f->st);
	f->st.tracker.rules = &f->cfg;
	assert_int_equal(
	    state_apply(&f->st, JOURNAL_REC_CHECKPOINT, 1, back, NULL), 0);
	json_object_put(back);
	s2 = snap(f);
	assert_string_equal(s1, s2);
	assert_non_null(strstr(s2, "\"summary\":\"Printer offline\""));
	free(s1);
	free(s2);
}

/* max_duration = 10h: noticed at 12h, ends at exactly start + 10h. */
static void
test_max_duration(void **state)
{
	struct fx *f = *state;
	json_object *p = NULL, *e;
	struct now n1 = plain(3600), n12 = plain(12 * 3600);
	uint16_t type = 0;

	f->cfg.max_duration_s = 36000;
	do_start(f, "ticket:5", plain(0));
	assert_int_equal(
	    tracker_next_autostop_ns(&f->st.tracker, &n1), 9 * 3600 * S);
	assert_int_equal(
	    tracker_prepare_autostop(&f->st.tracker, &n1, &type, &p, NULL), 0);
	assert_null(p);
	assert_int_equal(
	    tracker_prepare_autostop(&f->st.tracker, &n12, &type, &p, NULL), 0);
	assert_non_null(p);
	p = commit(f, type, p);
	e = entry_at(p, 0, 0);
	assert_string_equal(
	    body_field(e, "timeEnd"), "\"2026-11-20T19:00:00Z\"");
	assert_string_equal(body_field(e, "actualHours"), "10.00");
	assert_non_null(
	    strstr(body_field(e, "internalNotes"), "max_duration (10h 00m)"));
	assert_int_equal(f->st.tracker.n_timers, 0);
	json_object_put(p);
}

static void
test_concurrency_single(void **state)
{
	struct fx *f = *state;

	do_start(f, "ticket:1", plain(0));
	do_start(f, "ticket:2", plain(60));
	assert_int_equal(
	    tracker_find(&f->st.tracker, "ticket:1")->state, TRACKER_PAUSED);
	assert_int_equal(
	    tracker_find(&f->st.tracker, "ticket:2")->state, TRACKER_RUNNING);
	assert_string_equal(f->st.tracker.focus, "ticket:2");
	/* starting 1 again resumes it and pauses 2 */
	do_start(f, "ticket:1", plain(120));
	assert_int_equal(
	    tracker_find(&f->st.tracker, "ticket:1")->state, TRACKER_RUNNING);
	assert_int_equal(
	    tracker_find(&f->st.tracker, "ticket:2")->state, TRACKER_PAUSED);
	{
		struct now n = plain(180);

		assert_int_equal(
		    tracker_timer_worked_ns(
			tracker_find(&f->st.tracker, "ticket:1"), &n),
		    120 * S);
	}
}

static void
test_concurrency_parallel_and_switch(void **state)
{
	struct fx *f = *state;
	struct tracker_start_args a = {.target = "ticket:3"};
	json_object *p = NULL;
	uint16_t type;
	struct now n = plain(120);

	f->cfg.concurrency = RULES_CONCURRENCY_PARALLEL;
	do_start(f, "ticket:1", plain(0));
	do_start(f, "ticket:2", plain(60));
	assert_int_equal(
	    tracker_find(&f->st.tracker, "ticket:1")->state, TRACKER_RUNNING);
	assert_int_equal(
	    tracker_find(&f->st.tracker, "ticket:2")->state, TRACKER_RUNNING);
	/* switch pauses only the focused one (2) */
	assert_int_equal(
	    tracker_prepare_switch(&f->st.tracker, &a, &n, &type, &p, NULL), 0);
	json_object_put(commit(f, type, p));
	assert_int_equal(
	    tracker_find(&f->st.tracker, "ticket:1")->state, TRACKER_RUNNING);
	assert_int_equal(
	    tracker_find(&f->st.tracker, "ticket:2")->state, TRACKER_PAUSED);
	assert_string_equal(f->st.tracker.focus, "ticket:3");
}

static void
test_toggle(void **state)
{
	struct fx *f = *state;
	struct tracker_start_args a = {.target = "ticket:8"};
	struct tracker_start_args none = {0};
	json_object *p;
	uint16_t type;
	struct now n;

	n = plain(0);
	assert_int_equal(
	    tracker_prepare_toggle(&f->st.tracker, &a, &n, &type, &p, NULL), 0);
	assert_int_equal(type, JOURNAL_REC_TIMER_STARTED);
	json_object_put(commit(f, type, p));
	n = plain(60);
	assert_int_equal(
	    tracker_prepare_toggle(&f->st.tracker, &a, &n, &type, &p, NULL), 0);
	assert_int_equal(type, JOURNAL_REC_TIMER_PAUSED);
	json_object_put(commit(f, type, p));
	n = plain(120);
	assert_int_equal(
	    tracker_prepare_toggle(&f->st.tracker, &none, &n, &type, &p, NULL),
	    0);
	assert_int_equal(type, JOURNAL_REC_TIMER_RESUMED);
	json_object_put(commit(f, type, p));
	n = plain(180);
	assert_int_equal(
	    tracker_prepare_toggle(&f->st.tracker, &none, &n, &type, &p, NULL),
	    0);
	assert_int_equal(type, JOURNAL_REC_TIMER_PAUSED);
	json_object_put(commit(f, type, p));
	/* 0..60 and 120..180 */
	assert_int_equal(
	    tracker_timer_worked_ns(f->st.tracker.timers[0], &n), 120 * S);
}

static void
test_cancel_confirm(void **state)
{
	struct fx *f = *state;
	json_object *p = NULL;
	struct errbuf e = {0};
	uint16_t type;
	struct now n60 = plain(60), n61 = plain(61);

	do_start(f, "ticket:4", plain(0));
	assert_int_equal(tracker_prepare_cancel(
			     &f->st.tracker, NULL, false, &n61, &type, &p, &e),
	    -EPERM);
	assert_int_equal(e.code, ERR_CONFIRM_NEEDED);
	assert_null(p);
	assert_int_equal(tracker_prepare_cancel(
			     &f->st.tracker, NULL, false, &n60, &type, &p, &e),
	    0);
	json_object_put(p);
	assert_int_equal(tracker_prepare_cancel(
			     &f->st.tracker, "4", true, &n61, &type, &p, &e),
	    0);
	assert_int_equal(type, JOURNAL_REC_TIMER_CANCELLED);
	json_object_put(commit(f, type, p));
	assert_int_equal(f->st.tracker.n_timers, 0);
	assert_int_equal(f->st.outbox.n_entries, 0);
}

/* Bad input is refused and changes nothing, neither by prepare nor by
 * apply. */
static void
test_bad_input_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct errbuf e = {0};
	json_object *p = NULL, *bad;
	uint16_t type;
	char *before, *after;
	struct now n = plain(100);
	struct tracker_start_args s1 = {.target = "ticket:abc"};
	struct tracker_start_args s2 = {.target = "code:10"};
	struct tracker_start_args s3 = {.target = "ticket:6", .at = W0 + 101};
	struct tracker_start_args s4 = {.target = "ticket:1"};

	do_start(f, "ticket:1", plain(0));
	before = snap(f);
	assert_int_equal(
	    tracker_prepare_start(&f->st.tracker, &s1, &n, &type, &p, &e),
	    -EINVAL);
	assert_int_equal(e.code, ERR_BAD_TARGET);
	assert_int_equal(
	    tracker_prepare_start(&f->st.tracker, &s2, &n, &type, &p, &e),
	    -EINVAL);
	assert_string_equal(e.field, "company");
	assert_int_equal(
	    tracker_prepare_start(&f->st.tracker, &s3, &n, &type, &p, &e),
	    -EINVAL);
	assert_int_equal(e.code, ERR_TIME_IN_FUTURE);
	assert_int_equal(
	    tracker_prepare_start(&f->st.tracker, &s4, &n, &type, &p, &e),
	    -EEXIST);
	assert_int_equal(e.code, ERR_TIMER_EXISTS);
	assert_int_equal(tracker_prepare_pause(
			     &f->st.tracker, "ticket:2", &n, &type, &p, &e),
	    -ENOENT);
	assert_int_equal(e.code, ERR_NO_SUCH_TIMER);
	assert_null(p);
	/* records that do not fit the state */
	bad = json_tokener_parse("{\"target\":\"ticket:2\",\"stamp\":{}}");
	assert_int_equal(
	    state_apply(&f->st, JOURNAL_REC_TIMER_PAUSED, 99, bad, &e),
	    -EBADMSG);
	json_object_put(bad);
	bad = json_tokener_parse("{\"target\":\"ticket:1\",\"start\":1,"
				 "\"stamp\":{\"wall\":1,\"mono_ns\":1,"
				 "\"boot_ns\":1,\"boot_id\":\"x\","
				 "\"pos_ns\":0}}");
	assert_int_equal(
	    state_apply(&f->st, JOURNAL_REC_TIMER_STARTED, 99, bad, &e),
	    -EBADMSG);
	json_object_put(bad);
	bad = json_tokener_parse(
	    "{\"reason\":\"user\",\"timers\":[{\"target\":"
	    "\"ticket:1\",\"entries\":[{\"uuid\":\"x\"}]}]}");
	assert_int_equal(
	    state_apply(&f->st, JOURNAL_REC_TIMER_STOPPED, 99, bad, &e),
	    -EBADMSG);
	json_object_put(bad);
	assert_int_equal(state_apply(&f->st, 999, 99, NULL, &e), -EBADMSG);
	after = snap(f);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

/* After a reboot the timer is flagged; --at-heartbeat ends it at the last
 * stamp of the old boot (the heartbeat at +5 min). */
static void
test_reboot_at_heartbeat(void **state)
{
	struct fx *f = *state;
	struct tracker_stop_args a = {.at_heartbeat = true};
	json_object *p = NULL, *stop;
	struct now hb = plain(300);
	struct now after = at(W0 + 3600, 20, 20, "boot-b");
	uint16_t type;

	do_start(f, "ticket:11", plain(0));
	assert_int_equal(
	    tracker_prepare_heartbeat(&f->st.tracker, &hb, &type, &p, NULL), 0);
	json_object_put(commit(f, type, p));
	assert_false(tracker_timer_rebooted(f->st.tracker.timers[0], &hb));
	assert_true(tracker_timer_rebooted(f->st.tracker.timers[0], &after));
	/* a heartbeat of the new boot comes first, as in the daemon */
	assert_int_equal(
	    tracker_prepare_heartbeat(&f->st.tracker, &after, &type, &p, NULL),
	    0);
	json_object_put(commit(f, type, p));
	stop = do_stop(f, &a, at(W0 + 3900, 320, 320, "boot-b"));
	assert_string_equal(body_field(entry_at(stop, 0, 0), "timeEnd"),
	    "\"2026-11-20T09:05:00Z\"");
	assert_non_null(
	    strstr(body_field(entry_at(stop, 0, 0), "internalNotes"),
		"last heartbeat"));
	json_object_put(stop);
}

static void
test_reboot_plain_stop_flagged(void **state)
{
	struct fx *f = *state;
	struct tracker_stop_args a = {0};
	json_object *stop;

	do_start(f, "ticket:12", plain(0));
	stop = do_stop(f, &a, at(W0 + 3600, 20, 20, "boot-b"));
	assert_string_equal(body_field(entry_at(stop, 0, 0), "timeEnd"),
	    "\"2026-11-20T10:00:00Z\"");
	assert_non_null(strstr(
	    body_field(entry_at(stop, 0, 0), "internalNotes"), "reboot"));
	json_object_put(stop);
}

/* Pause 30..40 min, stop at 70: deduct 10 min, 1 h worked; with pauses =
 * split two entries of 30 min each. */
static void
test_pause_deduct_and_split(void **state)
{
	struct fx *f = *state;
	struct tracker_stop_args a = {0};
	json_object *stop;

	do_start(f, "ticket:13", plain(0));
	do_simple(f, tracker_prepare_pause, "13", plain(1800));
	do_simple(f, tracker_prepare_resume, "13", plain(2400));
	stop = do_stop(f, &a, plain(4200));
	assert_int_equal(n_entries(stop, 0), 1);
	assert_string_equal(
	    body_field(entry_at(stop, 0, 0), "hoursDeduct"), "0.166667");
	assert_string_equal(
	    body_field(entry_at(stop, 0, 0), "actualHours"), "1.00");
	json_object_put(stop);

	f->cfg.pauses = RULES_PAUSES_SPLIT;
	do_start(f, "ticket:13", plain(5000));
	do_simple(f, tracker_prepare_pause, "13", plain(6800));
	do_simple(f, tracker_prepare_resume, "13", plain(7400));
	stop = do_stop(f, &a, plain(9200));
	assert_int_equal(n_entries(stop, 0), 2);
	assert_string_equal(body_field(entry_at(stop, 0, 0), "timeEnd"),
	    "\"2026-11-20T10:53:20Z\"");
	assert_string_equal(body_field(entry_at(stop, 0, 1), "timeStart"),
	    "\"2026-11-20T11:03:20Z\"");
	assert_string_equal(
	    body_field(entry_at(stop, 0, 1), "actualHours"), "0.50");
	/* each part has its own UUID */
	assert_string_not_equal(body_field(entry_at(stop, 0, 0), "mobileGuid"),
	    body_field(entry_at(stop, 0, 1), "mobileGuid"));
	assert_int_equal(f->st.outbox.n_entries, 3);
	json_object_put(stop);

	/* 150 pauses in split mode: 151 entries, each its own stretch
	 * (a stop used to be refused past 64) */
	do_start(f, "ticket:13", plain(20000));
	for (int i = 0; i < 150; i++) {
		do_simple(f, tracker_prepare_pause, "13",
		    plain(20000 + 120 * i + 60));
		do_simple(f, tracker_prepare_resume, "13",
		    plain(20000 + 120 * i + 120));
	}
	stop = do_stop(f, &a, plain(20000 + 120 * 150 + 60));
	assert_int_equal(n_entries(stop, 0), 151);
	assert_string_equal(body_field(entry_at(stop, 0, 150), "timeStart"),
	    "\"2026-11-20T19:33:20Z\"");
	assert_string_equal(body_field(entry_at(stop, 0, 150), "timeEnd"),
	    "\"2026-11-20T19:34:20Z\"");
	assert_int_equal(f->st.outbox.n_entries, 3 + 151);
	json_object_put(stop);
}

/* A stopped timer that was paused last ends where the pause began. */
static void
test_stop_while_paused(void **state)
{
	struct fx *f = *state;
	struct tracker_stop_args a = {0};
	json_object *stop;

	do_start(f, "ticket:14", plain(0));
	do_simple(f, tracker_prepare_pause, NULL, plain(1500));
	stop = do_stop(f, &a, plain(9999));
	assert_string_equal(body_field(entry_at(stop, 0, 0), "timeEnd"),
	    "\"2026-11-20T09:25:00Z\"");
	json_object_put(stop);
}

/* stop --at with a time after a paused timer's pause began ends it where
 * the pause began; --at before the pause cuts it there. (CI once failed
 * "stop --all --at now" with both timers paused: the --at was refused as
 * later than the timers' end.) */
static void
test_stop_at_while_paused(void **state)
{
	struct fx *f = *state;
	struct tracker_stop_args later = {.at = W0 + 3000};
	struct tracker_stop_args earlier = {.at = W0 + 600};
	struct tracker_stop_args before = {.at = W0 - 1};
	json_object *stop, *p = NULL;
	struct errbuf e = {0};
	uint16_t type;
	struct now n = plain(9999);

	do_start(f, "ticket:14", plain(0));
	do_simple(f, tracker_prepare_pause, NULL, plain(1500));
	assert_int_equal(tracker_prepare_stop(&f->st.tracker, &before, &n,
			     &type, &p, &e),
	    -EINVAL);
	assert_string_equal(e.msg, "--at is before the timer's start");
	stop = do_stop(f, &later, n);
	assert_string_equal(body_field(entry_at(stop, 0, 0), "timeEnd"),
	    "\"2026-11-20T09:25:00Z\"");
	json_object_put(stop);

	do_start(f, "ticket:14", plain(10000));
	do_simple(f, tracker_prepare_pause, NULL, plain(11000));
	earlier.at = W0 + 10600;
	stop = do_stop(f, &earlier, plain(12000));
	assert_string_equal(body_field(entry_at(stop, 0, 0), "timeEnd"),
	    "\"2026-11-20T11:56:40Z\"");
	json_object_put(stop);
}

/* A start inside a second: wall seconds W0 at monotonic 1000.9 s. At
 * monotonic 1600.3 s the wall clock reads W0+600 (truncated), and
 * "stop --at <that second>" is 0.6 s past the timer's own end. It ends the
 * timer at its end instead of failing (a hotkey "stop --at now" did). */
static void
test_stop_at_now_subsecond(void **state)
{
	struct fx *f = *state;
	struct tracker_stop_args a = {.at = W0 + 600};
	struct now start = plain(0), end = plain(600);
	json_object *stop;

	start.mono_ns += 900000000;
	start.boot_ns += 900000000;
	end.mono_ns += 300000000;
	end.boot_ns += 300000000;
	do_start(f, "ticket:21", start);
	stop = do_stop(f, &a, end);
	assert_string_equal(body_field(entry_at(stop, 0, 0), "timeStart"),
	    "\"2026-11-20T09:00:00Z\"");
	assert_string_equal(body_field(entry_at(stop, 0, 0), "timeEnd"),
	    "\"2026-11-20T09:09:59Z\"");
	json_object_put(stop);
}

static void
test_adjust_note_set(void **state)
{
	struct fx *f = *state;
	struct tracker_stop_args a = {0};
	struct entry fields;
	json_object *p = NULL, *stop, *e;
	struct errbuf err = {0};
	uint16_t type;
	struct now n = plain(60);

	do_start(f, "ticket:15", plain(0));
	assert_int_equal(tracker_prepare_adjust(&f->st.tracker, NULL, W0 - 600,
			     &n, &type, &p, &err),
	    0);
	json_object_put(commit(f, type, p));
	assert_int_equal(tracker_prepare_adjust(&f->st.tracker, NULL, W0 + 61,
			     &n, &type, &p, &err),
	    -EINVAL);
	assert_int_equal(tracker_prepare_note(&f->st.tracker, NULL, "first", &n,
			     &type, &p, &err),
	    0);
	json_object_put(commit(f, type, p));
	assert_int_equal(tracker_prepare_note(&f->st.tracker, NULL, "second",
			     &n, &type, &p, &err),
	    0);
	json_object_put(commit(f, type, p));
	entry_init(&fields);
	fields.refs[ENTRY_REF_WORK_TYPE].name = strdup("Remote");
	fields.billable = ENTRY_BILLABLE_BILLABLE;
	assert_int_equal(tracker_prepare_set(&f->st.tracker, NULL, &fields, &n,
			     &type, &p, &err),
	    0);
	entry_fini(&fields);
	json_object_put(commit(f, type, p));
	stop = do_stop(f, &a, plain(1800));
	e = entry_at(stop, 0, 0);
	assert_string_equal(body_str(e),
	    "{\"chargeToId\":15,\"chargeToType\":\"ServiceTicket\","
	    "\"timeStart\":\"2026-11-20T08:50:00Z\","
	    "\"timeEnd\":\"2026-11-20T09:30:00Z\",\"actualHours\":0.666667,"
	    "\"billableOption\":\"Billable\",\"workType\":{\"name\":\"Remote\"}"
	    ","
	    "\"notes\":\"first\\nsecond\","
	    "\"mobileGuid\":\"01010101-0101-4101-8101-010101010101\"}");
	json_object_put(stop);
}

/* Rounding per work type at the stop, the raw figures kept beside. */
static void
test_stop_rounding_raw_kept(void **state)
{
	static const struct rules_rounding_rule rr[] = {
	    {"Remote", -1, {RULES_ROUND_UP, 900, 900}},
	};
	struct fx *f = *state;
	struct tracker_stop_args a = {0};
	struct tracker_start_args s = {.target = "ticket:16"};
	struct entry fields;
	json_object *p = NULL, *stop, *e, *v;
	uint16_t type;
	struct now n = plain(0);

	f->cfg.round_rules = rr;
	f->cfg.n_round_rules = 1;
	entry_init(&fields);
	fields.refs[ENTRY_REF_WORK_TYPE].name = strdup("Remote");
	s.fields = &fields;
	assert_int_equal(
	    tracker_prepare_start(&f->st.tracker, &s, &n, &type, &p, NULL), 0);
	entry_fini(&fields);
	json_object_put(commit(f, type, p));
	/* 15 min + 1 s worked -> 30 min billed, end moves to 09:30 */
	stop = do_stop(f, &a, plain(901));
	e = entry_at(stop, 0, 0);
	assert_string_equal(
	    body_field(e, "timeEnd"), "\"2026-11-20T09:30:00Z\"");
	assert_true(json_object_object_get_ex(e, "end_raw", &v));
	assert_int_equal(json_object_get_int64(v), W0 + 901);
	assert_true(json_object_object_get_ex(e, "worked_raw_s", &v));
	assert_int_equal(json_object_get_int64(v), 901);
	assert_true(json_object_object_get_ex(e, "billed_s", &v));
	assert_int_equal(json_object_get_int64(v), 1800);
	json_object_put(stop);
}

/* Across Berlin's autumn DST change with split_at_midnight: UTC labels,
 * one cut at local midnight (22:00Z), 5 h in total. */
static void
test_midnight_split_dst(void **state)
{
	struct fx *f = *state;
	struct tracker_stop_args a = {0};
	json_object *stop;
	int64_t t0 = 1792877400; /* 2026-10-24T21:30:00Z = 23:30 CEST */
	struct now s = at(t0, 100, 100, "boot-a");
	struct now e = at(t0 + 18000, 100 + 18000, 100 + 18000, "boot-a");
	struct tracker_start_args sa = {.target = "ticket:17"};
	json_object *p = NULL;
	uint16_t type;

	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	f->cfg.split_at_midnight = true;
	s.next_midnight = timeparse_next_local_midnight;
	e.next_midnight = timeparse_next_local_midnight;
	assert_int_equal(
	    tracker_prepare_start(&f->st.tracker, &sa, &s, &type, &p, NULL), 0);
	json_object_put(commit(f, type, p));
	stop = do_stop(f, &a, e);
	assert_int_equal(n_entries(stop, 0), 2);
	assert_string_equal(body_field(entry_at(stop, 0, 0), "timeEnd"),
	    "\"2026-10-24T22:00:00Z\"");
	assert_string_equal(
	    body_field(entry_at(stop, 0, 0), "actualHours"), "0.50");
	assert_string_equal(body_field(entry_at(stop, 0, 1), "timeEnd"),
	    "\"2026-10-25T02:30:00Z\"");
	assert_string_equal(
	    body_field(entry_at(stop, 0, 1), "actualHours"), "4.50");
	json_object_put(stop);
	unsetenv("TZ");
	tzset();
}

static void
test_stop_all_and_log(void **state)
{
	struct fx *f = *state;
	struct tracker_stop_args a = {.all = true};
	struct tracker_log_args l = {.target = "project:9", .duration_s = 5400};
	json_object *stop, *p = NULL;
	struct errbuf e = {0};
	uint16_t type;
	struct now n = plain(7200);

	f->cfg.concurrency = RULES_CONCURRENCY_PARALLEL;
	do_start(f, "ticket:1", plain(0));
	do_start(f, "ticket:2", plain(600));
	stop = do_stop(f, &a, plain(3600));
	assert_string_equal(
	    body_field(entry_at(stop, 0, 0), "actualHours"), "1.00");
	assert_string_equal(
	    body_field(entry_at(stop, 1, 0), "actualHours"), "0.833333");
	assert_int_equal(f->st.tracker.n_timers, 0);
	assert_string_equal(f->st.tracker.focus, "");
	json_object_put(stop);

	assert_int_equal(
	    tracker_prepare_log(&f->st.tracker, &l, &n, &type, &p, &e), 0);
	assert_int_equal(type, JOURNAL_REC_ENTRY_QUEUED);
	p = commit(f, type, p);
	assert_int_equal(f->st.outbox.n_entries, 3);
	assert_string_equal(
	    json_object_to_json_string_ext(
		f->st.outbox.entries[2]->body, JSON_C_TO_STRING_PLAIN),
	    "{\"chargeToId\":9,\"chargeToType\":\"ProjectTicket\","
	    "\"timeStart\":\"2026-11-20T09:30:00Z\","
	    "\"timeEnd\":\"2026-11-20T11:00:00Z\",\"actualHours\":1.50,"
	    "\"mobileGuid\":\"03030303-0303-4303-8303-030303030303\"}");
	json_object_put(p);
	l.duration_s = 0;
	assert_int_equal(
	    tracker_prepare_log(&f->st.tracker, &l, &n, &type, &p, &e),
	    -EINVAL);
	assert_int_equal(e.code, ERR_BAD_DURATION);
	l.duration_s = 60;
	l.start = W0 + 7200 - 59;
	assert_int_equal(
	    tracker_prepare_log(&f->st.tracker, &l, &n, &type, &p, &e),
	    -EINVAL);
	assert_int_equal(e.code, ERR_TIME_IN_FUTURE);
}

/* pause --all in parallel mode: one record pauses both; nothing runs
 * afterwards, so a second one has nothing to do. */
static void
test_pause_all(void **state)
{
	struct fx *f = *state;
	json_object *p = NULL;
	uint16_t type;
	struct now n = plain(300);

	f->cfg.concurrency = RULES_CONCURRENCY_PARALLEL;
	do_start(f, "ticket:1", plain(0));
	do_start(f, "ticket:2", plain(60));
	assert_int_equal(tracker_prepare_pause_all(&f->st.tracker,
			     TRACKER_REASON_SLEEP, 0, &n, &type, &p, NULL),
	    0);
	assert_int_equal(type, JOURNAL_REC_TIMER_PAUSED);
	json_object_put(commit(f, type, p));
	assert_int_equal(
	    tracker_find(&f->st.tracker, "ticket:1")->state, TRACKER_PAUSED);
	assert_int_equal(
	    tracker_find(&f->st.tracker, "ticket:2")->state, TRACKER_PAUSED);
	assert_int_equal(tracker_timer_worked_ns(
			     tracker_find(&f->st.tracker, "ticket:2"), &n),
	    240 * S);
	p = NULL;
	assert_int_equal(tracker_prepare_pause_all(&f->st.tracker,
			     TRACKER_REASON_SLEEP, 0, &n, &type, &p, NULL),
	    0);
	assert_null(p);
}

/* Paused across a reboot: no time is in doubt, nothing is flagged, and
 * the entry ends where the pause began. */
static void
test_reboot_while_paused(void **state)
{
	struct fx *f = *state;
	struct tracker_stop_args a = {0};
	json_object *stop;
	struct now after = at(W0 + 7200, 20, 20, "boot-b");

	do_start(f, "ticket:18", plain(0));
	do_simple(f, tracker_prepare_pause, NULL, plain(1200));
	assert_false(tracker_timer_rebooted(f->st.tracker.timers[0], &after));
	stop = do_stop(f, &a, after);
	assert_string_equal(body_field(entry_at(stop, 0, 0), "timeEnd"),
	    "\"2026-11-20T09:20:00Z\"");
	assert_null(body_field(entry_at(stop, 0, 0), "internalNotes"));
	json_object_put(stop);
}

/* The status reply: focus, state, start, worked seconds, flags. */
static void
test_status_json(void **state)
{
	struct fx *f = *state;
	struct now n = at(W0 + 600, 1000 + 500, 1000 + 600, "boot-a");
	json_object *st;

	do_start(f, "ticket:19", plain(0));
	st = tracker_status_json(&f->st.tracker, &n, NULL);
	assert_string_equal(
	    json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN),
	    "{\"focus\":\"ticket:19\",\"timers\":[{\"target\":"
	    "\"ticket:19\",\"state\":\"running\",\"start\":1795165200,"
	    "\"worked_s\":500,\"pause_reason\":null,\"focus\":true,"
	    "\"flags\":[],\"fields\":{}}]}");
	json_object_put(st);
	st = tracker_status_json(&f->st.tracker, &n, "ticket:20");
	assert_string_equal(
	    json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN),
	    "{\"focus\":\"ticket:19\",\"timers\":[]}");
	json_object_put(st);
}


/* ---- pause reasons (#4), many pauses (#4), back-dated pauses (#8) ---- */

static const char *
status_reason(struct fx *f, const char *key, struct now n)
{
	static char buf[64];
	json_object *st = tracker_status_json(&f->st.tracker, &n, key), *a, *v;

	assert_true(json_object_object_get_ex(st, "timers", &a));
	assert_int_equal(json_object_array_length(a), 1);
	assert_true(json_object_object_get_ex(
	    json_object_array_get_idx(a, 0), "pause_reason", &v));
	snprintf(buf, sizeof(buf), "%s",
	    v ? json_object_get_string(v) : "(null)");
	json_object_put(st);
	return buf;
}

/* Commits a pause --all with reason, back-dated to at_s (0: now). */
static json_object *
do_pause_all(struct fx *f, enum tracker_pause_reason why, int64_t at_s,
    struct now n)
{
	json_object *p = NULL;
	struct errbuf e = {0};
	uint16_t type = 0;

	if (tracker_prepare_pause_all(
		&f->st.tracker, why, at_s, &n, &type, &p, &e) < 0) {
		fail_msg("pause --all: %s", e.msg);
	}
	assert_non_null(p);
	assert_int_equal(type, JOURNAL_REC_TIMER_PAUSED);
	return commit(f, type, p);
}

/* Every way a timer pauses journals why; status shows it while paused;
 * the reason survives replay (teardown) and the checkpoint. */
static void
test_pause_reasons(void **state)
{
	struct fx *f = *state;
	struct tracker_start_args sw = {.target = "ticket:3"};
	json_object *p = NULL, *o, *snapshot;
	struct tracker tr2;
	struct errbuf e = {0};
	uint16_t type;
	struct now n = plain(500);

	do_start(f, "ticket:1", plain(0));
	assert_string_equal(status_reason(f, "ticket:1", n), "(null)");
	do_simple(f, tracker_prepare_pause, "1", plain(100));
	assert_string_equal(status_reason(f, "ticket:1", n), "user");
	do_simple(f, tracker_prepare_resume, "1", plain(110));
	assert_string_equal(status_reason(f, "ticket:1", n), "(null)");
	/* concurrency single: starting ticket:2 pauses ticket:1 */
	do_start(f, "ticket:2", plain(120));
	assert_string_equal(status_reason(f, "ticket:1", n), "concurrency");
	assert_int_equal(tracker_find(&f->st.tracker, "ticket:1")->paused_seq,
	    4);
	/* switch: pauses the focused ticket:2 */
	assert_int_equal(
	    tracker_prepare_switch(&f->st.tracker, &sw, &n, &type, &p, &e), 0);
	json_object_put(commit(f, type, p));
	assert_string_equal(status_reason(f, "ticket:2", n), "switch");
	/* a session pause */
	json_object_put(do_pause_all(f, TRACKER_REASON_LOCK, 0, plain(600)));
	assert_string_equal(status_reason(f, "ticket:3", n), "lock");
	assert_int_equal(tracker_find(&f->st.tracker, "ticket:3")->paused_seq,
	    6);
	/* the others keep theirs */
	assert_string_equal(status_reason(f, "ticket:1", n), "concurrency");
	assert_string_equal(status_reason(f, "ticket:2", n), "switch");
	/* checkpoint round trip keeps reason and seq */
	snapshot = tracker_snapshot(&f->st.tracker);
	tracker_init(&tr2);
	assert_int_equal(tracker_restore(&tr2, snapshot, &e), 0);
	assert_int_equal(tracker_find(&tr2, "ticket:3")->pause_reason,
	    TRACKER_REASON_LOCK);
	assert_int_equal(tracker_find(&tr2, "ticket:3")->paused_seq, 6);
	assert_int_equal(tracker_find(&tr2, "ticket:2")->pause_reason,
	    TRACKER_REASON_SWITCH);
	tracker_fini(&tr2);
	json_object_put(snapshot);
	/* names */
	assert_null(tracker_pause_reason_to_string(TRACKER_REASON_NONE));
	assert_int_equal(tracker_pause_reason_from_string("idle"),
	    TRACKER_REASON_IDLE);
	assert_int_equal(tracker_pause_reason_from_string("manual"),
	    TRACKER_REASON_INVALID);
	/* the user's pause record as journaled */
	do_simple(f, tracker_prepare_resume, "1", plain(700));
	n = plain(800);
	assert_int_equal(
	    tracker_prepare_pause(&f->st.tracker, "1", &n, &type, &p, &e), 0);
	assert_true(json_object_object_get_ex(p, "reason", &o));
	assert_string_equal(json_object_get_string(o), "user");
	json_object_put(commit(f, type, p));
	assert_string_equal(status_reason(f, "ticket:1", n), "user");
}

/* A TIMER_PAUSED record in the old format (no "reason") replays: the
 * timer is paused, its reason null. An unknown reason is corrupt and
 * changes nothing. */
static void
test_pause_reason_old_record(void **state)
{
	struct fx *f = *state;
	struct tracker_timer *tm;
	json_object *old, *bad;
	struct errbuf e = {0};
	char *before, *after;

	do_start(f, "ticket:4", plain(0));
	bad = json_tokener_parse(
	    "{\"target\":\"ticket:4\",\"reason\":\"coffee\",\"stamp\":"
	    "{\"wall\":1795165260,\"mono_ns\":1060000000000,"
	    "\"boot_ns\":1060000000000,\"boot_id\":\"boot-a\","
	    "\"pos_ns\":60000000000,\"gap_ns\":0,\"step\":false,"
	    "\"reboot\":false}}");
	before = snap(f);
	assert_int_equal(
	    state_apply(&f->st, JOURNAL_REC_TIMER_PAUSED, 2, bad, &e), -EBADMSG);
	after = snap(f);
	assert_string_equal(before, after);
	free(before);
	free(after);
	json_object_put(bad);
	/* what cwtimed wrote before pause reasons existed */
	old = json_tokener_parse(
	    "{\"target\":\"ticket:4\",\"stamp\":"
	    "{\"wall\":1795165260,\"mono_ns\":1060000000000,"
	    "\"boot_ns\":1060000000000,\"boot_id\":\"boot-a\","
	    "\"pos_ns\":60000000000,\"gap_ns\":0,\"step\":false,"
	    "\"reboot\":false}}");
	json_object_put(commit(f, JOURNAL_REC_TIMER_PAUSED, old));
	tm = tracker_find(&f->st.tracker, "ticket:4");
	assert_int_equal(tm->state, TRACKER_PAUSED);
	assert_int_equal(tm->pause_reason, TRACKER_REASON_NONE);
	assert_int_equal(tm->paused_since_ns, 60 * S);
	assert_string_equal(status_reason(f, "ticket:4", plain(90)), "(null)");
	assert_int_equal(tracker_timer_worked_ns(tm, &(struct now){0}), 60 * S);
}

/* 5,000 pauses of 5 s between runs of 10 s (the old limit was 1,024):
 * nothing fails, the deduction is exact. Run 0 is [0,10], pause k is
 * [15k+10, 15k+15], the stop at 75010: worked 5001 x 10 s = 50010 s,
 * deducted 5000 x 5 s = 25000 s. */
static void
test_many_pauses(void **state)
{
	struct fx *f = *state;
	struct tracker_stop_args a = {0};
	struct tracker_timer *tm;
	json_object *stop, *e, *v;

	do_start(f, "ticket:5", plain(0));
	for (int64_t k = 0; k < 5000; k++) {
		do_simple(f, tracker_prepare_pause, "5", plain(15 * k + 10));
		do_simple(f, tracker_prepare_resume, "5", plain(15 * k + 15));
	}
	tm = tracker_find(&f->st.tracker, "ticket:5");
	assert_int_equal(tm->n_pauses, 5000);
	assert_int_equal(tm->pauses[4999].from_ns, 74995 * S);
	assert_int_equal(tm->pauses[4999].to_ns, 75000 * S);
	assert_int_equal(
	    tracker_timer_worked_ns(tm, &(struct now){0}), 50000 * S);
	stop = do_stop(f, &a, plain(75010));
	e = entry_at(stop, 0, 0);
	assert_true(json_object_object_get_ex(e, "deduct_s", &v));
	assert_int_equal(json_object_get_int64(v), 25000);
	assert_true(json_object_object_get_ex(e, "billed_s", &v));
	assert_int_equal(json_object_get_int64(v), 50010);
	assert_string_equal(
	    body_field(e, "timeEnd"), "\"2026-11-21T05:50:10Z\"");
	assert_string_equal(body_field(e, "hoursDeduct"), "6.944444");
	assert_string_equal(body_field(e, "actualHours"), "13.891667");
	json_object_put(stop);
}

/* An idle pause back-dated 10 minutes, across two heartbeats (the
 * anchor): the stamp stays at now, the pause begins 600 s earlier. */
static void
test_backdate_ten_minutes(void **state)
{
	struct fx *f = *state;
	struct tracker_stop_args a = {0};
	struct tracker_timer *tm;
	json_object *rec, *one, *v, *p = NULL, *stop;
	uint16_t type;
	struct now hb = plain(3300);

	do_start(f, "ticket:6", plain(0));
	assert_int_equal(
	    tracker_prepare_heartbeat(&f->st.tracker, &hb, &type, &p, NULL), 0);
	json_object_put(commit(f, type, p));
	/* idle since 09:50 (+3000 s), noticed at 10:00 (+3600 s) */
	rec = do_pause_all(f, TRACKER_REASON_IDLE, W0 + 3000, plain(3600));
	one = json_object_array_get_idx(
	    json_object_object_get(rec, "pause"), 0);
	assert_true(json_object_object_get_ex(one, "paused_since_ns", &v));
	assert_int_equal(json_object_get_int64(v), 3000 * S);
	assert_true(json_object_object_get_ex(one, "reason", &v));
	assert_string_equal(json_object_get_string(v), "idle");
	/* the stamp itself is the exact reading of now */
	v = json_object_object_get(one, "stamp");
	assert_int_equal(
	    json_object_get_int64(json_object_object_get(v, "pos_ns")),
	    3600 * S);
	assert_int_equal(
	    json_object_get_int64(json_object_object_get(v, "mono_ns")),
	    4600 * S);
	json_object_put(rec);
	tm = tracker_find(&f->st.tracker, "ticket:6");
	assert_int_equal(tm->paused_since_ns, 3000 * S);
	assert_int_equal(tm->anchor.pos_ns, 3600 * S);
	assert_int_equal(tracker_timer_worked_ns(tm, &hb), 3000 * S);
	assert_string_equal(status_reason(f, "ticket:6", plain(3700)), "idle");
	/* active again at +4000: the pause [3000, 4000] is kept */
	do_simple(f, tracker_prepare_resume, "6", plain(4000));
	assert_int_equal(tm->n_pauses, 1);
	assert_int_equal(tm->pauses[0].from_ns, 3000 * S);
	assert_int_equal(tm->pauses[0].to_ns, 4000 * S);
	assert_int_equal(tm->run_since_ns, 4000 * S);
	hb = plain(4600);
	assert_int_equal(tracker_timer_worked_ns(tm, &hb), 3600 * S);
	stop = do_stop(f, &a, plain(4600));
	assert_string_equal(body_field(entry_at(stop, 0, 0), "hoursDeduct"),
	    "0.277778");
	assert_string_equal(body_field(entry_at(stop, 0, 0), "actualHours"),
	    "1.00");
	json_object_put(stop);
}

/* The floor is the last resume: back-dated to exactly it is kept; one
 * second before it is clamped to it by prepare (a pause never reaches
 * into time already paused); a record one ns before it is corrupt. */
static void
test_backdate_floor(void **state)
{
	struct fx *f = *state;
	struct tracker_timer *tm;
	json_object *rec, *one, *v, *bad;
	struct errbuf e = {0};
	json_object *p = NULL;
	uint16_t type;
	struct now n = plain(5000);
	char *before, *after;

	do_start(f, "ticket:7", plain(0));
	do_simple(f, tracker_prepare_pause, "7", plain(1000));
	do_simple(f, tracker_prepare_resume, "7", plain(2000));
	tm = tracker_find(&f->st.tracker, "ticket:7");
	assert_int_equal(tm->run_since_ns, 2000 * S);
	/* exactly to the last resume: the running segment had no time */
	rec = do_pause_all(f, TRACKER_REASON_IDLE, W0 + 2000, plain(2600));
	one = json_object_array_get_idx(
	    json_object_object_get(rec, "pause"), 0);
	assert_true(json_object_object_get_ex(one, "paused_since_ns", &v));
	assert_int_equal(json_object_get_int64(v), 2000 * S);
	json_object_put(rec);
	assert_int_equal(tracker_timer_worked_ns(tm, &n), 1000 * S);
	do_simple(f, tracker_prepare_resume, "7", plain(3000));
	/* [1000,2000] and [2000,3000]: touching, both kept */
	assert_int_equal(tm->n_pauses, 2);
	assert_int_equal(tm->pauses[1].from_ns, 2000 * S);
	/* one second before the last resume (3000): clamped to 3000 */
	rec = do_pause_all(f, TRACKER_REASON_IDLE, W0 + 2999, plain(3500));
	one = json_object_array_get_idx(
	    json_object_object_get(rec, "pause"), 0);
	assert_true(json_object_object_get_ex(one, "paused_since_ns", &v));
	assert_int_equal(json_object_get_int64(v), 3000 * S);
	json_object_put(rec);
	assert_int_equal(tm->paused_since_ns, 3000 * S);
	assert_int_equal(tracker_timer_worked_ns(tm, &n), 1000 * S);
	/* a record that starts the pause 1 ns before the resume is refused
	 * and changes nothing */
	do_simple(f, tracker_prepare_resume, "7", plain(4000));
	before = snap(f);
	bad = json_tokener_parse(
	    "{\"pause\":[{\"target\":\"ticket:7\",\"reason\":\"idle\","
	    "\"paused_since_ns\":3999999999999,\"stamp\":"
	    "{\"wall\":1795169400,\"mono_ns\":5200000000000,"
	    "\"boot_ns\":5200000000000,\"boot_id\":\"boot-a\","
	    "\"pos_ns\":4200000000000,\"gap_ns\":0,\"step\":false,"
	    "\"reboot\":false}}]}");
	assert_int_equal(
	    state_apply(&f->st, JOURNAL_REC_TIMER_PAUSED, 99, bad, &e),
	    -EBADMSG);
	json_object_put(bad);
	/* and one after the stamp (in the future of the record) too */
	bad = json_tokener_parse(
	    "{\"pause\":[{\"target\":\"ticket:7\",\"reason\":\"idle\","
	    "\"paused_since_ns\":4200000000001,\"stamp\":"
	    "{\"wall\":1795169400,\"mono_ns\":5200000000000,"
	    "\"boot_ns\":5200000000000,\"boot_id\":\"boot-a\","
	    "\"pos_ns\":4200000000000,\"gap_ns\":0,\"step\":false,"
	    "\"reboot\":false}}]}");
	assert_int_equal(
	    state_apply(&f->st, JOURNAL_REC_TIMER_PAUSED, 99, bad, &e),
	    -EBADMSG);
	json_object_put(bad);
	after = snap(f);
	assert_string_equal(before, after);
	free(before);
	free(after);
	/* a pause in the future is refused by prepare */
	n = plain(4200);
	assert_int_equal(tracker_prepare_pause_all(&f->st.tracker,
			     TRACKER_REASON_IDLE, W0 + 4201, &n, &type, &p, &e),
	    -EINVAL);
	assert_int_equal(e.code, ERR_TIME_IN_FUTURE);
	assert_null(p);
	/* a new timer's floor is its start (position 0): back-dated to
	 * before it started, the pause begins at the start */
	do_simple(f, tracker_prepare_pause, "7", plain(4200));
	do_start(f, "ticket:8", plain(4300));
	rec = do_pause_all(f, TRACKER_REASON_IDLE, W0 + 4000, plain(4400));
	json_object_put(rec);
	assert_int_equal(
	    tracker_find(&f->st.tracker, "ticket:8")->paused_since_ns, 0);
	assert_int_equal(tracker_timer_worked_ns(
			     tracker_find(&f->st.tracker, "ticket:8"), &n),
	    0);
}

/* A suspend gap inside the back-dated stretch is folded into the pause:
 * start at 0, suspended 700..1000 (BOOTTIME - MONOTONIC = 300 s seen at
 * +1000). Back-dated to 800 the gap is cut at 800 (worked 700); to 400
 * it is dropped (worked 400). Nothing is excluded twice. */
static void
test_backdate_over_suspend(void **state)
{
	struct fx *f = *state;
	struct tracker_timer *tm;
	struct now n1 = at(W0 + 1000, 1000 + 700, 1000 + 1000, "boot-a");
	struct now n2 = at(W0 + 1000, 4000 + 700, 4000 + 1000, "boot-a");
	struct now later = at(W0 + 5000, 4700 + 4000, 5000 + 4000, "boot-a");
	struct tracker_stop_args a = {0};
	json_object *stop;

	do_start(f, "ticket:9", plain(0));
	json_object_put(do_pause_all(f, TRACKER_REASON_IDLE, W0 + 800, n1));
	tm = tracker_find(&f->st.tracker, "ticket:9");
	assert_int_equal(tm->n_pauses, 1);
	assert_int_equal(tm->pauses[0].from_ns, 700 * S);
	assert_int_equal(tm->pauses[0].to_ns, 800 * S);
	assert_int_equal(tm->paused_since_ns, 800 * S);
	assert_int_equal(tracker_timer_worked_ns(tm, &n1), 700 * S);
	/* the entry ends where the work ended (the trailing pause and
	 * the cut gap just end it earlier) */
	stop = do_stop(f, &a, n1);
	assert_string_equal(body_field(entry_at(stop, 0, 0), "timeEnd"),
	    "\"2026-11-20T09:11:40Z\"");
	assert_string_equal(body_field(entry_at(stop, 0, 0), "actualHours"),
	    "0.194444");
	json_object_put(stop);

	/* the same on a fresh timer (boot clocks at 4000 s at its start) */
	do_start(f, "ticket:10", at(W0, 4000, 4000, "boot-a"));
	json_object_put(do_pause_all(f, TRACKER_REASON_IDLE, W0 + 400, n2));
	tm = tracker_find(&f->st.tracker, "ticket:10");
	assert_int_equal(tm->n_pauses, 0);
	assert_int_equal(tm->paused_since_ns, 400 * S);
	assert_int_equal(tracker_timer_worked_ns(tm, &later), 400 * S);
	do_simple(f, tracker_prepare_resume, "10", later);
	assert_int_equal(tm->n_pauses, 1);
	assert_int_equal(tm->pauses[0].from_ns, 400 * S);
	assert_int_equal(tm->pauses[0].to_ns, 5000 * S);
	assert_int_equal(tm->run_since_ns, 5000 * S);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_status_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pause_reasons, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_pause_reason_old_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_pauses, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_backdate_ten_minutes, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_backdate_floor, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_backdate_over_suspend, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_summary, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_reboot_while_paused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pause_all, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_start_stop_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clock_steps, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_suspend_excluded, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_suspend_at_stop, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_restart_keeps_start, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_duration, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_concurrency_single, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_concurrency_parallel_and_switch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_toggle, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_cancel_confirm, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_bad_input_changes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_reboot_at_heartbeat, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_reboot_plain_stop_flagged, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_pause_deduct_and_split, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_stop_while_paused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_stop_at_while_paused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_stop_at_now_subsecond, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_adjust_note_set, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_stop_rounding_raw_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_midnight_split_dst, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_stop_all_and_log, setup, teardown),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
