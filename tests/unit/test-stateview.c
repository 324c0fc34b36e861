/*
 * test-stateview.c - the validation view: committed state + the journal's
 * pending batch (src/daemon/stateview.h).
 *
 * A real journal in a temporary directory, with the daemon's own wiring:
 * apply = state_apply on the committed state, snapshot = state_snapshot.
 * The file operations are the real ones except pwritev, which a test can
 * make fail once (ENOSPC) to check that a failed batch, whose sequence
 * numbers the next batch reuses, never leaks into the next view.
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
#include <json-c/json.h>

#include "common/errcode.h"
#include "core/records.h"
#include "core/state.h"
#include "core/tracker.h"
#include "daemon/fileops.h"
#include "daemon/journal.h"
#include "daemon/stateview.h"

static bool fail_next_write;

static ssize_t
failing_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	if (fail_next_write) {
		fail_next_write = false;
		return -ENOSPC;
	}
	return fileops_real.pwritev(fd, iov, iovcnt, off);
}

static struct fileops ops;

struct fix {
	char dir[64];
	struct state committed;
	struct stateview view;
	struct journal *j;
	struct now now;
};

static int
apply_committed(void *userdata, uint16_t type, uint64_t seq,
    json_object *payload, struct errbuf *reterr)
{
	struct fix *f = userdata;

	return state_apply(&f->committed, type, seq, payload, reterr);
}

static json_object *
snapshot_committed(void *userdata)
{
	struct fix *f = userdata;

	return state_snapshot(&f->committed);
}

static int
setup(void **st)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct journal_config cfg;
	struct errbuf e;

	assert_non_null(f);
	ops = fileops_real;
	ops.pwritev = failing_pwritev;
	fail_next_write = false;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cwt-stateview-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	state_init(&f->committed);
	stateview_init(&f->view);
	memset(&cfg, 0, sizeof(cfg));
	cfg.state_dir = f->dir;
	cfg.ops = &ops;
	cfg.apply = apply_committed;
	cfg.snapshot = snapshot_committed;
	cfg.userdata = f;
	errbuf_clear(&e);
	assert_int_equal(journal_open(&cfg, &f->j, &e), 0);
	f->now.wall_utc_s = 1795000000;
	f->now.mono_ns = 5000000000000LL;
	f->now.boot_ns = 5000000000000LL;
	snprintf(f->now.boot_id, sizeof(f->now.boot_id), "%s",
	    "0f0e0d0c-0b0a-0908-0706-050403020100");
	*st = f;
	return 0;
}

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) sb;
	(void) flag;
	(void) ftw;
	return remove(path);
}

static int
teardown(void **st)
{
	struct fix *f = *st;

	journal_free(f->j);
	stateview_fini(&f->view);
	state_fini(&f->committed);
	(void) nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct state *
view(struct fix *f)
{
	struct errbuf e;
	struct state *s;

	errbuf_clear(&e);
	s = stateview_get(&f->view, &f->committed, f->j, &e);
	if (!s) {
		fail_msg("stateview_get: %s", e.msg);
	}
	return s;
}

/* Prepares a start of target against the view and appends it. */
static void
start(struct fix *f, const char *target)
{
	struct tracker_start_args a;
	json_object *payload = NULL;
	struct errbuf e;
	uint16_t type = 0;

	memset(&a, 0, sizeof(a));
	a.target = target;
	errbuf_clear(&e);
	f->now.wall_utc_s += 60;
	f->now.mono_ns += 60000000000LL;
	f->now.boot_ns += 60000000000LL;
	assert_int_equal(tracker_prepare_start(&view(f)->tracker, &a, &f->now,
	    &type, &payload, &e), 0);
	errbuf_clear(&e);
	assert_int_equal(journal_append(f->j, type, payload, false, NULL,
	    NULL, &e), 0);
	json_object_put(payload);
}

static enum tracker_state
state_of(const struct state *s, const char *key)
{
	const struct tracker_timer *tm = tracker_find(&s->tracker, key);

	assert_non_null(tm);
	return tm->state;
}

static void
assert_same_state(const struct state *a, const struct state *b)
{
	json_object *ja = state_snapshot(a), *jb = state_snapshot(b);

	assert_non_null(ja);
	assert_non_null(jb);
	assert_string_equal(json_object_to_json_string(ja),
	    json_object_to_json_string(jb));
	json_object_put(ja);
	json_object_put(jb);
}

/* Nothing pending: the view is the committed state itself. */
static void
test_idle_is_committed(void **st)
{
	struct fix *f = *st;

	assert_ptr_equal(view(f), &f->committed);
}

/* Two starts in one batch under concurrency single (the default rules):
 * the second sees the first and pauses it; the commit reaches the very
 * state the view predicted. */
static void
test_second_start_sees_first(void **st)
{
	struct fix *f = *st;

	start(f, "ticket:1");
	assert_ptr_not_equal(view(f), &f->committed);
	assert_null(tracker_find(&f->committed.tracker, "ticket:1"));
	assert_int_equal(state_of(view(f), "ticket:1"), TRACKER_RUNNING);

	start(f, "ticket:2");
	assert_int_equal(state_of(view(f), "ticket:1"), TRACKER_PAUSED);
	assert_int_equal(state_of(view(f), "ticket:2"), TRACKER_RUNNING);
	assert_int_equal(f->view.n_applied, 2);
	assert_int_equal(journal_pending_count(f->j), 2);
	/* the committed state has not moved */
	assert_int_equal(f->committed.tracker.n_timers, 0);

	assert_int_equal(journal_commit(f->j), 0);
	assert_ptr_equal(view(f), &f->committed);
	assert_int_equal(state_of(&f->committed, "ticket:1"), TRACKER_PAUSED);
	assert_int_equal(state_of(&f->committed, "ticket:2"), TRACKER_RUNNING);
}

/* The view grows with the batch without a rebuild, and equals the
 * committed state after the commit. */
static void
test_incremental_then_equal(void **st)
{
	struct fix *f = *st;
	struct state expect;

	start(f, "ticket:1");
	assert_int_equal(journal_commit(f->j), 0);

	start(f, "ticket:2");
	(void) view(f);
	assert_int_equal(f->view.n_applied, 1);
	start(f, "ticket:3");
	(void) view(f);
	assert_int_equal(f->view.n_applied, 2);

	/* keep what the view predicted, then commit */
	state_init(&expect);
	{
		json_object *snap = state_snapshot(&f->view.spec);
		struct errbuf e;

		errbuf_clear(&e);
		assert_int_equal(state_apply(&expect, JOURNAL_REC_CHECKPOINT,
		    0, snap, &e), 0);
		json_object_put(snap);
	}
	assert_int_equal(journal_commit(f->j), 0);
	assert_same_state(&expect, &f->committed);
	state_fini(&expect);
}

/* A failed batch is dropped; the next batch reuses its sequence numbers,
 * and its view must not contain the failed records. */
static void
test_failed_batch_never_leaks(void **st)
{
	struct fix *f = *st;
	uint64_t id;

	start(f, "ticket:7");
	assert_int_equal(state_of(view(f), "ticket:7"), TRACKER_RUNNING);
	id = journal_batch_id(f->j);
	fail_next_write = true;
	assert_int_equal(journal_commit(f->j), -ENOSPC);
	assert_int_not_equal(journal_batch_id(f->j), id);
	assert_null(tracker_find(&f->committed.tracker, "ticket:7"));

	start(f, "ticket:8");
	assert_null(tracker_find(&view(f)->tracker, "ticket:7"));
	assert_int_equal(state_of(view(f), "ticket:8"), TRACKER_RUNNING);
	assert_int_equal(journal_commit(f->j), 0);
	assert_null(tracker_find(&f->committed.tracker, "ticket:7"));
	assert_int_equal(state_of(&f->committed, "ticket:8"), TRACKER_RUNNING);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_idle_is_committed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_second_start_sees_first,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_incremental_then_equal,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_batch_never_leaks,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
