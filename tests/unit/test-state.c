/*
 * test-state.c - the apply dispatcher, the outbox state machine of
 * RELIABILITY.md 4.1 and the snapshot round trip.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/errcode.h"
#include "core/records.h"
#include "core/state.h"

#define U1 "11111111-1111-4111-8111-111111111111"
#define U2 "22222222-2222-4222-8222-222222222222"

static int
apply(struct state *s, uint16_t type, uint64_t seq, const char *json,
    struct errbuf *e)
{
	json_object *p = json_tokener_parse(json);
	int r;

	assert_non_null(p);
	r = state_apply(s, type, seq, p, e);
	json_object_put(p);
	return r;
}

static char *
snap(const struct state *s)
{
	json_object *o = state_snapshot(s);
	char *t =
	    strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));

	json_object_put(o);
	return t;
}

static void
queue_two(struct state *s)
{
	assert_int_equal(apply(s, JOURNAL_REC_ENTRY_QUEUED, 1,
			     "{\"target\":\"ticket:1\",\"entries\":["
			     "{\"uuid\":\"" U1 "\",\"body\":{\"a\":1}},"
			     "{\"uuid\":\"" U2 "\",\"body\":{\"b\":2}}]}",
			     NULL),
	    0);
}

static void
test_outbox_happy_path(void **state)
{
	struct state s;
	struct errbuf e = {0};

	state_init(&s);
	queue_two(&s);
	assert_int_equal(outbox_count(&s.outbox, OUTBOX_PENDING), 2);
	assert_int_equal(apply(&s, JOURNAL_REC_ATTEMPT_STARTED, 2,
			     "{\"uuid\":\"" U1 "\",\"n\":1,\"t0\":5}", &e),
	    0);
	assert_int_equal(
	    outbox_find(&s.outbox, U1)->state, OUTBOX_ATTEMPT_STARTED);
	assert_int_equal(apply(&s, JOURNAL_REC_SUBMITTED, 3,
			     "{\"uuid\":\"" U1 "\",\"id\":4711,"
			     "\"how\":\"created\"}",
			     &e),
	    0);
	assert_int_equal(outbox_find(&s.outbox, U1)->state, OUTBOX_SUBMITTED);
	assert_int_equal(outbox_find(&s.outbox, U1)->remote_id, 4711);
	/* a submitted entry cannot be discarded or attempted again */
	assert_int_equal(
	    apply(&s, JOURNAL_REC_DISCARDED, 4, "{\"uuid\":\"" U1 "\"}", &e),
	    -EBADMSG);
	assert_int_equal(apply(&s, JOURNAL_REC_ATTEMPT_STARTED, 4,
			     "{\"uuid\":\"" U1 "\",\"n\":2}", &e),
	    -EBADMSG);
	assert_int_equal(s.last_seq, 3);
	state_fini(&s);
}

static void
test_outbox_unknown_and_reject(void **state)
{
	struct state s;
	struct errbuf e = {0};

	state_init(&s);
	queue_two(&s);
	/* attempt, then outcome unknown, absent -> pending, attempt 2 */
	assert_int_equal(apply(&s, JOURNAL_REC_ATTEMPT_STARTED, 2,
			     "{\"uuid\":\"" U1 "\",\"n\":1}", &e),
	    0);
	assert_int_equal(apply(&s, JOURNAL_REC_OUTCOME_UNKNOWN, 3,
			     "{\"uuid\":\"" U1 "\",\"detail\":\"reset\"}", &e),
	    0);
	/* only a reconciliation leaves UNKNOWN */
	assert_int_equal(apply(&s, JOURNAL_REC_ATTEMPT_STARTED, 4,
			     "{\"uuid\":\"" U1 "\",\"n\":2}", &e),
	    -EBADMSG);
	assert_int_equal(apply(&s, JOURNAL_REC_RECONCILED, 4,
			     "{\"uuid\":\"" U1 "\",\"absent\":true}", &e),
	    0);
	assert_int_equal(outbox_find(&s.outbox, U1)->state, OUTBOX_PENDING);
	assert_int_equal(apply(&s, JOURNAL_REC_ATTEMPT_STARTED, 5,
			     "{\"uuid\":\"" U1 "\",\"n\":1}", &e),
	    -EBADMSG);
	assert_int_equal(apply(&s, JOURNAL_REC_ATTEMPT_STARTED, 5,
			     "{\"uuid\":\"" U1 "\",\"n\":2}", &e),
	    0);
	assert_int_equal(apply(&s, JOURNAL_REC_REJECTED, 6,
			     "{\"uuid\":\"" U1 "\",\"status\":400,"
			     "\"code\":\"InvalidObject\",\"message\":\"no\"}",
			     &e),
	    0);
	assert_int_equal(outbox_find(&s.outbox, U1)->state, OUTBOX_REJECTED);
	/* edit and requeue: it was attempted, so it reconciles first */
	assert_int_equal(apply(&s, JOURNAL_REC_ENTRY_EDITED, 7,
			     "{\"uuid\":\"" U1 "\",\"body\":{\"a\":2}}", &e),
	    0);
	assert_int_equal(apply(&s, JOURNAL_REC_REQUEUED, 8,
			     "{\"uuid\":\"" U1 "\",\"by\":\"user\"}", &e),
	    0);
	assert_int_equal(outbox_find(&s.outbox, U1)->state, OUTBOX_UNKNOWN);
	/* never attempted: discard from PENDING */
	assert_int_equal(apply(&s, JOURNAL_REC_DISCARDED, 9,
			     "{\"uuid\":\"" U2 "\",\"by\":\"user\"}", &e),
	    0);
	assert_int_equal(outbox_find(&s.outbox, U2)->state, OUTBOX_DISCARDED);
	/* unknown uuid */
	assert_int_equal(
	    apply(&s, JOURNAL_REC_DISCARDED, 10,
		"{\"uuid\":\"33333333-3333-4333-8333-333333333333\"}", &e),
	    -EBADMSG);
	/* duplicate uuid in a new record */
	assert_int_equal(
	    apply(&s, JOURNAL_REC_ENTRY_QUEUED, 10,
		"{\"entries\":[{\"uuid\":\"" U2 "\",\"body\":{}}]}", &e),
	    -EBADMSG);
	assert_int_equal(s.outbox.n_entries, 2);
	state_fini(&s);
}

/* Replay after a kill mid-POST: ATTEMPT_STARTED is the entry's last
 * record in the old run; the next run saw it UNKNOWN (after_replay) and
 * journaled RECONCILED, which replay now meets while the entry is still
 * ATTEMPT_STARTED. Both verdicts must apply from there. */
static void
test_reconciled_from_attempt_started(void **state)
{
	struct state s;
	struct errbuf e = {0};
	char *before, *after;

	(void) state;
	state_init(&s);
	queue_two(&s);
	assert_int_equal(apply(&s, JOURNAL_REC_ATTEMPT_STARTED, 2,
			     "{\"uuid\":\"" U1 "\",\"n\":1,\"t0\":5}", &e),
	    0);
	assert_int_equal(apply(&s, JOURNAL_REC_ATTEMPT_STARTED, 3,
			     "{\"uuid\":\"" U2 "\",\"n\":1,\"t0\":5}", &e),
	    0);
	/* absent: back to PENDING, and the next attempt is number 2 */
	assert_int_equal(apply(&s, JOURNAL_REC_RECONCILED, 4,
			     "{\"uuid\":\"" U1 "\",\"absent\":true}", &e),
	    0);
	assert_int_equal(outbox_find(&s.outbox, U1)->state, OUTBOX_PENDING);
	assert_int_equal(outbox_find(&s.outbox, U1)->absent_seen, 1);
	assert_int_equal(apply(&s, JOURNAL_REC_ATTEMPT_STARTED, 5,
			     "{\"uuid\":\"" U1 "\",\"n\":1}", &e),
	    -EBADMSG);
	assert_int_equal(apply(&s, JOURNAL_REC_ATTEMPT_STARTED, 5,
			     "{\"uuid\":\"" U1 "\",\"n\":2}", &e),
	    0);
	/* found: UNKNOWN with the remote id, then SUBMITTED with it */
	assert_int_equal(apply(&s, JOURNAL_REC_RECONCILED, 6,
			     "{\"uuid\":\"" U2 "\",\"found\":4711}", &e),
	    0);
	assert_int_equal(outbox_find(&s.outbox, U2)->state, OUTBOX_UNKNOWN);
	assert_int_equal(outbox_find(&s.outbox, U2)->remote_id, 4711);
	assert_int_equal(apply(&s, JOURNAL_REC_SUBMITTED, 7,
			     "{\"uuid\":\"" U2 "\",\"id\":4711,"
			     "\"how\":\"reconciled\"}",
			     &e),
	    0);
	assert_int_equal(outbox_find(&s.outbox, U2)->state, OUTBOX_SUBMITTED);
	/* still refused from SUBMITTED and from PENDING; nothing changes */
	assert_int_equal(apply(&s, JOURNAL_REC_ATTEMPT_FAILED, 8,
			     "{\"uuid\":\"" U1 "\"}", &e),
	    0);
	assert_int_equal(outbox_find(&s.outbox, U1)->state, OUTBOX_PENDING);
	before = snap(&s);
	assert_int_equal(apply(&s, JOURNAL_REC_RECONCILED, 9,
			     "{\"uuid\":\"" U2 "\",\"absent\":true}", &e),
	    -EBADMSG);
	assert_int_equal(apply(&s, JOURNAL_REC_RECONCILED, 9,
			     "{\"uuid\":\"" U1 "\",\"absent\":true}", &e),
	    -EBADMSG);
	after = snap(&s);
	assert_string_equal(before, after);
	free(after);
	free(before);
	state_fini(&s);
}

static void
test_after_replay(void **state)
{
	struct state s;

	state_init(&s);
	queue_two(&s);
	assert_int_equal(apply(&s, JOURNAL_REC_ATTEMPT_STARTED, 2,
			     "{\"uuid\":\"" U2 "\",\"n\":1}", NULL),
	    0);
	assert_int_equal(apply(&s, JOURNAL_REC_QUEUE_PAUSED, 3,
			     "{\"reason\":\"401\"}", NULL),
	    0);
	assert_true(s.outbox.paused);
	state_after_replay(&s);
	assert_int_equal(outbox_find(&s.outbox, U1)->state, OUTBOX_PENDING);
	assert_int_equal(outbox_find(&s.outbox, U2)->state, OUTBOX_UNKNOWN);
	state_fini(&s);
}

static void
test_snapshot_round_trip(void **state)
{
	struct state s, t;
	json_object *cp;
	char *a, *b;
	struct errbuf e = {0};

	state_init(&s);
	queue_two(&s);
	assert_int_equal(apply(&s, JOURNAL_REC_ATTEMPT_STARTED, 2,
			     "{\"uuid\":\"" U2 "\",\"n\":1}", NULL),
	    0);
	assert_int_equal(apply(&s, JOURNAL_REC_OUTCOME_UNKNOWN, 3,
			     "{\"uuid\":\"" U2 "\",\"detail\":\"x\"}", NULL),
	    0);
	assert_int_equal(apply(&s, JOURNAL_REC_TIMER_STARTED, 4,
			     "{\"target\":\"ticket:5\",\"start\":100,\"stamp\":"
			     "{\"wall\":160,\"mono_ns\":7,\"boot_ns\":9,"
			     "\"boot_id\":\"b\",\"pos_ns\":60000000000},"
			     "\"fields\":{\"notes\":\"n\"}}",
			     &e),
	    0);
	assert_int_equal(apply(&s, JOURNAL_REC_TEST, 5, "{}", &e), 0);
	a = snap(&s);
	cp = json_tokener_parse(a);
	state_init(&t);
	assert_int_equal(state_apply(&t, JOURNAL_REC_CHECKPOINT, 6, cp, &e), 0);
	b = snap(&t);
	assert_string_equal(a, b);
	assert_int_equal(t.last_seq, 5);
	/* a bad checkpoint changes nothing */
	json_object_object_add(cp, "version", json_object_new_int(2));
	assert_int_equal(
	    state_apply(&t, JOURNAL_REC_CHECKPOINT, 7, cp, &e), -EBADMSG);
	free(b);
	b = snap(&t);
	assert_string_equal(a, b);
	json_object_put(cp);
	free(a);
	free(b);
	state_fini(&s);
	state_fini(&t);
}

/* Finished entries are forgotten beyond OUTBOX_KEEP_DONE, oldest first,
 * and never a pending one. */
static void
test_prune_done(void **state)
{
	struct state s;
	char json[256], uuid[40];
	uint64_t seq = 1;

	state_init(&s);
	for (int i = 0; i < OUTBOX_KEEP_DONE + 3; i++) {
		snprintf(
		    uuid, sizeof(uuid), "00000000-0000-4000-8000-%012d", i);
		snprintf(json, sizeof(json),
		    "{\"entries\":[{\"uuid\":\"%s\",\"body\":{}}]}", uuid);
		assert_int_equal(
		    apply(&s, JOURNAL_REC_ENTRY_QUEUED, seq++, json, NULL), 0);
		if (i == 0) {
			continue; /* entry 0 stays pending */
		}
		snprintf(json, sizeof(json), "{\"uuid\":\"%s\",\"n\":1}", uuid);
		assert_int_equal(
		    apply(&s, JOURNAL_REC_ATTEMPT_STARTED, seq++, json, NULL),
		    0);
		snprintf(json, sizeof(json), "{\"uuid\":\"%s\",\"id\":%d}",
		    uuid, i + 1);
		assert_int_equal(
		    apply(&s, JOURNAL_REC_SUBMITTED, seq++, json, NULL), 0);
	}
	/* 258 submitted, 256 kept: entries 1 and 2 are gone */
	assert_int_equal(
	    outbox_count(&s.outbox, OUTBOX_SUBMITTED), OUTBOX_KEEP_DONE);
	assert_int_equal(s.outbox.n_entries, OUTBOX_KEEP_DONE + 1);
	assert_non_null(
	    outbox_find(&s.outbox, "00000000-0000-4000-8000-000000000000"));
	assert_null(
	    outbox_find(&s.outbox, "00000000-0000-4000-8000-000000000001"));
	assert_null(
	    outbox_find(&s.outbox, "00000000-0000-4000-8000-000000000002"));
	assert_non_null(
	    outbox_find(&s.outbox, "00000000-0000-4000-8000-000000000003"));
	state_fini(&s);
}

/* ---- every mutation of every record: refused ones change nothing ---- */

#define W0 1795165200LL
#define NS 1000000000LL

static unsigned rnd;

static void
fake_random(uint8_t *buf, size_t n, void *userdata)
{
	rnd++;
	memset(buf, (int) rnd, n);
}

static struct now
reading(int64_t dt, int64_t suspended)
{
	struct now n = {0};

	n.wall_utc_s = W0 + dt;
	n.mono_ns = (1000 + dt - suspended) * NS;
	n.boot_ns = (1000 + dt) * NS;
	snprintf(n.boot_id, sizeof(n.boot_id), "%s", "boot");
	n.random = fake_random;
	return n;
}

struct rec {
	uint16_t type;
	json_object *p;
};

/* Prepares, keeps and applies one record. */
static void
keep(struct state *s, struct rec *recs, size_t *n, int r, uint16_t type,
    json_object *p)
{
	assert_int_equal(r, 0);
	assert_non_null(p);
	recs[*n].type = type;
	recs[*n].p = p;
	assert_int_equal(state_apply(s, type, *n + 1, p, NULL), 0);
	(*n)++;
}

static size_t
scenario(struct rec *recs)
{
	struct state s;
	struct tracker_start_args a1 = {.target = "ticket:1"};
	struct tracker_start_args a2 = {.target = "code:10"};
	struct tracker_stop_args all = {.all = true};
	struct tracker_log_args lg = {
	    .target = "activity:7", .duration_s = 600};
	struct entry f;
	json_object *p = NULL;
	uint16_t ty = 0;
	size_t n = 0;
	struct now now;
	int r;

	state_init(&s);
	entry_init(&f);
	f.refs[ENTRY_REF_COMPANY].name = strdup("ACME");
	a2.fields = &f;
	now = reading(0, 0);
	r = tracker_prepare_start(&s.tracker, &a1, &now, &ty, &p, NULL);
	keep(&s, recs, &n, r, ty, p);
	now = reading(600, 120);
	r = tracker_prepare_heartbeat(&s.tracker, &now, &ty, &p, NULL);
	keep(&s, recs, &n, r, ty, p);
	now = reading(900, 120);
	r = tracker_prepare_start(&s.tracker, &a2, &now, &ty, &p, NULL);
	keep(&s, recs, &n, r, ty, p);
	now = reading(1200, 120);
	r = tracker_prepare_pause(&s.tracker, NULL, &now, &ty, &p, NULL);
	keep(&s, recs, &n, r, ty, p);
	now = reading(1500, 120);
	r = tracker_prepare_resume(&s.tracker, "1", &now, &ty, &p, NULL);
	keep(&s, recs, &n, r, ty, p);
	r = tracker_prepare_note(&s.tracker, NULL, "hi", &now, &ty, &p, NULL);
	keep(&s, recs, &n, r, ty, p);
	r = tracker_prepare_set(&s.tracker, "code:10", &f, &now, &ty, &p, NULL);
	keep(&s, recs, &n, r, ty, p);
	r = tracker_prepare_adjust(
	    &s.tracker, NULL, W0 - 60, &now, &ty, &p, NULL);
	keep(&s, recs, &n, r, ty, p);
	now = reading(3600, 120);
	r = tracker_prepare_stop(&s.tracker, &all, &now, &ty, &p, NULL);
	keep(&s, recs, &n, r, ty, p);
	r = tracker_prepare_log(&s.tracker, &lg, &now, &ty, &p, NULL);
	keep(&s, recs, &n, r, ty, p);
	{
		const char *u = s.outbox.entries[0]->uuid;
		char j[128];

		snprintf(j, sizeof(j), "{\"uuid\":\"%s\",\"n\":1,\"t0\":5}", u);
		keep(&s, recs, &n, 0, JOURNAL_REC_ATTEMPT_STARTED,
		    json_tokener_parse(j));
		snprintf(j, sizeof(j), "{\"uuid\":\"%s\",\"id\":77}", u);
		keep(&s, recs, &n, 0, JOURNAL_REC_SUBMITTED,
		    json_tokener_parse(j));
	}
	entry_fini(&f);
	state_fini(&s);
	return n;
}

static unsigned n_tried, n_refused;

/* Applies one mutated record on the state before it. */
static void
try_mutation(struct rec *recs, size_t i, json_object *mutated, const char *what)
{
	struct state s;
	char *before, *after;
	struct errbuf e = {0};
	int r;

	state_init(&s);
	for (size_t k = 0; k < i; k++) {
		if (state_apply(&s, recs[k].type, k + 1, recs[k].p, &e) < 0) {
			fail_msg(
			    "replaying record %zu before %s of %zu: %s: %s",
			    k + 1, what, i + 1, e.msg,
			    json_object_to_json_string(recs[k].p));
		}
	}
	before = snap(&s);
	r = state_apply(&s, recs[i].type, i + 1, mutated, &e);
	after = snap(&s);
	n_tried++;
	n_refused += r < 0;
	if (getenv("SHOW_ACCEPTED") && r == 0) {
		print_message("accepted: %s %s\n",
		    records_type_name(recs[i].type), what);
	}
	if (r < 0 && strcmp(before, after) != 0) {
		fail_msg("record %zu (%s) %s: refused (%s) but changed the "
			 "state",
		    i + 1, records_type_name(recs[i].type), what, e.msg);
	}
	if (r < 0 && r != -EBADMSG) {
		fail_msg("record %zu %s: %d", i + 1, what, r);
	}
	free(before);
	free(after);
	state_fini(&s);
}

static void
mutate_object(struct rec *recs, size_t i, json_object *root, json_object *o,
    const char *path)
{
	char keys[32][64];
	size_t nk = 0;

	if (!json_object_is_type(o, json_type_object)) {
		return;
	}
	/* copy the names first: deleting a key frees its name */
	json_object_object_foreach(o, k, v)
	{
		(void) v;
		if (nk < 32) {
			snprintf(keys[nk++], sizeof(keys[0]), "%s", k);
		}
	}
	for (size_t n = 0; n < nk; n++) {
		const char *key = keys[n];
		json_object *val = NULL, *copy;
		char what[160];

		assert_true(json_object_object_get_ex(o, key, &val));
		copy = json_object_get(val);
		/* without the key */
		json_object_object_del(o, key);
		snprintf(what, sizeof(what), "without %s%s", path, key);
		try_mutation(recs, i, root, what);
		/* with a string instead */
		json_object_object_add(o, key, json_object_new_string("x"));
		snprintf(what, sizeof(what), "with %s%s = \"x\"", path, key);
		try_mutation(recs, i, root, what);
		/* back as it was */
		json_object_object_add(o, key, copy);
		/* one level down (stamps, raw, fields) */
		if (json_object_is_type(copy, json_type_object)) {
			char sub[96];

			snprintf(sub, sizeof(sub), "%s%s.", path, key);
			mutate_object(recs, i, root, copy, sub);
		}
		/* and into the objects of arrays (pause, timers, entries) */
		if (json_object_is_type(copy, json_type_array)) {
			for (size_t a = 0; a < json_object_array_length(copy);
			     a++) {
				char sub[96];

				snprintf(sub, sizeof(sub), "%s%s[%zu].", path,
				    key, a);
				mutate_object(recs, i, root,
				    json_object_array_get_idx(copy, a), sub);
			}
		}
	}
}

static void
test_refused_records_change_nothing(void **state)
{
	struct rec recs[32];
	size_t n;

	rnd = 0;
	n = scenario(recs);
	assert_true(n >= 12);
	for (size_t i = 0; i < n; i++) {
		mutate_object(recs, i, recs[i].p, recs[i].p, "");
	}
	print_message("%u mutated records, %u refused\n", n_tried, n_refused);
	assert_true(n_tried > 300);
	assert_true(n_refused > 100);
	for (size_t i = 0; i < n; i++) {
		json_object_put(recs[i].p);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_outbox_happy_path),
	    cmocka_unit_test(test_outbox_unknown_and_reject),
	    cmocka_unit_test(test_reconciled_from_attempt_started),
	    cmocka_unit_test(test_after_replay),
	    cmocka_unit_test(test_snapshot_round_trip),
	    cmocka_unit_test(test_prune_done),
	    cmocka_unit_test(test_refused_records_change_nothing),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
