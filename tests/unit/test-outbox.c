/*
 * test-outbox.c - the outbox's index by UUID (outbox_find, the UUID
 * prefix lookup of the queue commands, the per-state counts) checked
 * against a linear reference through adds, submissions, pruning,
 * truncation and restore; and queued_at, the time an entry began to
 * wait, from each kind of record, old records included, through a
 * snapshot and back.
 */
#include <errno.h>
#include <inttypes.h>
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
#include "core/outbox.h"
#include "core/records.h"

static int
apply(struct outbox *o, uint16_t type, uint64_t seq, const char *json)
{
	json_object *p = json_tokener_parse(json);
	struct errbuf e;
	int r;

	assert_non_null(p);
	errbuf_clear(&e);
	r = outbox_apply(o, type, seq, p, &e);
	json_object_put(p);
	return r;
}

static void
uuid_of(unsigned i, char out[ENTRY_UUID_LEN])
{
	/* many share long prefixes, so probes collide and prefixes clash */
	snprintf(out, ENTRY_UUID_LEN, "%08x-0000-4000-8000-%012x", i % 7u,
	    i * 2654435761u);
}

/* The index and the counts agree with a plain scan of o->entries. */
static void
check_consistent(const struct outbox *o)
{
	size_t counts[OUTBOX_STATE_COUNT] = {0};

	for (size_t i = 0; i < o->n_entries; i++) {
		const struct outbox_entry *e = o->entries[i];
		struct outbox_entry *f;

		assert_ptr_equal(outbox_find(o, e->uuid), e);
		assert_int_equal(
		    outbox_find_prefix(o, e->uuid, strlen(e->uuid), &f), 1);
		assert_ptr_equal(f, e);
		counts[e->state]++;
	}
	for (int s = 0; s < OUTBOX_STATE_COUNT; s++) {
		assert_int_equal(
		    outbox_count(o, (enum outbox_state) s), counts[s]);
	}
}

static void
test_index_against_scan(void **state)
{
	struct outbox o;
	char u[ENTRY_UUID_LEN], json[256];
	uint64_t seq = 1;
	unsigned next = 0, submitted = 0;

	outbox_init(&o);
	for (int round = 0; round < 60; round++) {
		/* a batch of 1 to 40 entries in one record */
		unsigned n = 1 + (unsigned) (round * 7) % 40;
		size_t before = o.n_entries;
		json_object *p = json_object_new_object(),
			    *arr = json_object_new_array();

		for (unsigned k = 0; k < n; k++) {
			json_object *je = json_object_new_object();

			uuid_of(next++, u);
			json_object_object_add(
			    je, "uuid", json_object_new_string(u));
			json_object_object_add(
			    je, "body", json_object_new_object());
			json_object_array_add(arr, je);
		}
		json_object_object_add(p, "entries", arr);
		assert_int_equal(
		    outbox_apply(&o, JOURNAL_REC_ENTRY_QUEUED, seq++, p, NULL),
		    0);
		/* a duplicate UUID is refused and changes nothing */
		assert_int_equal(
		    outbox_apply(&o, JOURNAL_REC_ENTRY_QUEUED, seq, p, NULL),
		    -EBADMSG);
		json_object_put(p);
		assert_int_equal(o.n_entries, before + n);
		check_consistent(&o);
		/* every third round, undo the batch (state.c's rollback) */
		if (round % 3 == 2) {
			outbox_truncate(&o, before);
			check_consistent(&o);
			for (unsigned k = next - n; k < next; k++) {
				uuid_of(k, u);
				assert_null(outbox_find(&o, u));
			}
			continue;
		}
		/* submit some of the oldest pending: past OUTBOX_KEEP_DONE
		 * finished entries, apply forgets the oldest of them */
		for (size_t i = 0, k = 0; i < o.n_entries && k < 15; i++) {
			struct outbox_entry *e = o.entries[i];

			if (e->state != OUTBOX_PENDING) {
				continue;
			}
			k++;
			snprintf(u, sizeof(u), "%s", e->uuid);
			snprintf(json, sizeof(json),
			    "{\"uuid\":\"%s\",\"n\":1,\"t0\":5}", u);
			assert_int_equal(
			    apply(&o, JOURNAL_REC_ATTEMPT_STARTED, seq++, json),
			    0);
			snprintf(json, sizeof(json),
			    "{\"uuid\":\"%s\",\"id\":%u}", u, ++submitted);
			assert_int_equal(
			    apply(&o, JOURNAL_REC_SUBMITTED, seq++, json), 0);
			check_consistent(&o);
		}
	}
	assert_true(submitted > OUTBOX_KEEP_DONE);
	assert_int_equal(outbox_count(&o, OUTBOX_SUBMITTED), OUTBOX_KEEP_DONE);
	/* the forgotten and the never-added are not found */
	uuid_of(0, u);
	assert_null(outbox_find(&o, u));
	assert_null(outbox_find(&o, "99999999-0000-4000-8000-000000000000"));
	assert_null(outbox_find(&o, NULL));
	/* a snapshot restores into the same index */
	{
		json_object *snap = outbox_snapshot(&o);
		struct outbox o2;

		outbox_init(&o2);
		assert_int_equal(outbox_restore(&o2, snap, NULL), 0);
		assert_int_equal(o2.n_entries, o.n_entries);
		check_consistent(&o2);
		for (size_t i = 0; i < o.n_entries; i++) {
			assert_non_null(outbox_find(&o2, o.entries[i]->uuid));
		}
		json_object_put(snap);
		outbox_fini(&o2);
	}
	outbox_fini(&o);
	outbox_fini(&o); /* accepts a zeroed outbox */
	/* an empty outbox finds nothing */
	assert_null(outbox_find(&o, "00000000-0000-4000-8000-000000000000"));
}

static void
test_prefix(void **state)
{
	struct outbox o;
	struct outbox_entry *e;

	outbox_init(&o);
	assert_int_equal(outbox_find_prefix(&o, "1", 1, &e), 0);
	assert_null(e);
	assert_int_equal(
	    apply(&o, JOURNAL_REC_ENTRY_QUEUED, 1,
		"{\"entries\":["
		"{\"uuid\":\"12345678-0000-4000-8000-000000000001\","
		"\"body\":{}},"
		"{\"uuid\":\"12345678-0000-4000-8000-000000000002\","
		"\"body\":{}},"
		"{\"uuid\":\"abcdef01-0000-4000-8000-000000000003\","
		"\"body\":{}}]}"),
	    0);
	assert_int_equal(outbox_find_prefix(&o, "1234", 4, &e), 2);
	assert_string_equal(e->uuid, "12345678-0000-4000-8000-000000000001");
	assert_int_equal(outbox_find_prefix(&o, "ab", 2, &e), 1);
	assert_string_equal(e->uuid, "abcdef01-0000-4000-8000-000000000003");
	assert_int_equal(outbox_find_prefix(&o,
			     "12345678-0000-4000-8000-000000000002", 36, &e),
	    1);
	assert_string_equal(e->uuid, "12345678-0000-4000-8000-000000000002");
	/* one character short of the whole: still a prefix scan */
	assert_int_equal(outbox_find_prefix(
			     &o, "12345678-0000-4000-8000-00000000000", 35, &e),
	    2);
	assert_int_equal(outbox_find_prefix(&o,
			     "12345678-0000-4000-8000-000000000009", 36, &e),
	    0);
	assert_null(e);
	assert_int_equal(outbox_find_prefix(&o, "f", 1, &e), 0);
	outbox_fini(&o);
}

#define UQ "11111111-1111-4111-8111-111111111111"
#define UL "22222222-2222-4222-8222-222222222222"
#define UO "33333333-3333-4333-8333-333333333333"

static int64_t
queued_at(const struct outbox *o, const char *uuid)
{
	const struct outbox_entry *e = outbox_find(o, uuid);

	assert_non_null(e);
	return e->queued_at;
}

static void
test_queued_at(void **state)
{
	struct outbox o, o2;
	json_object *snap, *arr, *je, *v;

	outbox_init(&o);
	/* a stop: the stop's stamp */
	assert_int_equal(
	    apply(&o, JOURNAL_REC_TIMER_STOPPED, 1,
		"{\"reason\":\"user\",\"timers\":[{\"target\":\"ticket:1\","
		"\"stamp\":{\"wall\":1795170600,\"mono_ns\":1},"
		"\"entries\":[{\"uuid\":\"" UQ "\",\"body\":{}}]}]}"),
	    0);
	assert_int_equal(queued_at(&o, UQ), 1795170600);
	/* a log: its queued_at */
	assert_int_equal(
	    apply(&o, JOURNAL_REC_ENTRY_QUEUED, 2,
		"{\"target\":\"ticket:1\",\"queued_at\":1795171000,"
		"\"entries\":[{\"uuid\":\"" UL "\",\"body\":{}}]}"),
	    0);
	assert_int_equal(queued_at(&o, UL), 1795171000);
	/* a log written before queued_at existed: unknown */
	assert_int_equal(
	    apply(&o, JOURNAL_REC_ENTRY_QUEUED, 3,
		"{\"target\":\"ticket:1\","
		"\"entries\":[{\"uuid\":\"" UO "\",\"body\":{}}]}"),
	    0);
	assert_int_equal(queued_at(&o, UO), 0);
	/* attempts and edits keep it; a re-queue starts it again */
	assert_int_equal(apply(&o, JOURNAL_REC_ATTEMPT_STARTED, 4,
			     "{\"uuid\":\"" UL "\",\"n\":1,\"t0\":1795171100}"),
	    0);
	assert_int_equal(apply(&o, JOURNAL_REC_REJECTED, 5,
			     "{\"uuid\":\"" UL "\",\"status\":400,"
			     "\"code\":\"x\",\"message\":\"m\"}"),
	    0);
	assert_int_equal(apply(&o, JOURNAL_REC_ENTRY_EDITED, 6,
			     "{\"uuid\":\"" UL "\",\"body\":{\"a\":1}}"),
	    0);
	assert_int_equal(queued_at(&o, UL), 1795171000);
	assert_int_equal(apply(&o, JOURNAL_REC_REQUEUED, 7,
			     "{\"uuid\":\"" UL "\",\"by\":\"user\","
			     "\"at\":1795179999}"),
	    0);
	assert_int_equal(queued_at(&o, UL), 1795179999);
	/* through a checkpoint */
	snap = outbox_snapshot(&o);
	assert_non_null(snap);
	outbox_init(&o2);
	assert_int_equal(outbox_restore(&o2, snap, NULL), 0);
	assert_int_equal(queued_at(&o2, UQ), 1795170600);
	assert_int_equal(queued_at(&o2, UL), 1795179999);
	assert_int_equal(queued_at(&o2, UO), 0);
	outbox_fini(&o2);
	/* a checkpoint written before queued_at: restores with 0 */
	assert_true(json_object_object_get_ex(snap, "entries", &arr));
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		je = json_object_array_get_idx(arr, i);
		if (json_object_object_get_ex(je, "queued_at", &v)) {
			json_object_object_del(je, "queued_at");
		}
	}
	outbox_init(&o2);
	assert_int_equal(outbox_restore(&o2, snap, NULL), 0);
	assert_int_equal(queued_at(&o2, UQ), 0);
	assert_int_equal(o2.n_entries, 3);
	outbox_fini(&o2);
	json_object_put(snap);
	outbox_fini(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_index_against_scan),
	    cmocka_unit_test(test_prefix),
	    cmocka_unit_test(test_queued_at),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
