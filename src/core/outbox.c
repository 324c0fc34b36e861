/*
 * outbox.c - the per-entry submission state machine (RELIABILITY.md 4.1)
 * as pure apply functions over journal payloads.
 *
 * Invariants: an entry appears once (its UUID is unique) and only from
 * TIMER_STOPPED or ENTRY_QUEUED; every transition is one of 4.1's; a
 * record that does not fit changes nothing and is reported; nothing is
 * ever dropped without a DISCARDED record. The decisions (when to send,
 * backoff, reconciliation) belong to the submitter in src/daemon.
 */
#include "core/outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/errcode.h"
#include "core/records.h"

static const char *const state_names[OUTBOX_STATE_COUNT] = {
    [OUTBOX_PENDING] = "pending",
    [OUTBOX_ATTEMPT_STARTED] = "attempt-started",
    [OUTBOX_UNKNOWN] = "unknown",
    [OUTBOX_SUBMITTED] = "submitted",
    [OUTBOX_REJECTED] = "rejected",
    [OUTBOX_DISCARDED] = "discarded",
};

const char *
outbox_state_name(enum outbox_state s)
{
	return (int) s >= 0 && s < OUTBOX_STATE_COUNT ? state_names[s] : NULL;
}

enum outbox_state
outbox_state_from_name(const char *s)
{
	for (int i = 0; s && i < OUTBOX_STATE_COUNT; i++) {
		if (strcmp(state_names[i], s) == 0) {
			return (enum outbox_state) i;
		}
	}
	return OUTBOX_STATE_INVALID;
}

static int
bad(struct errbuf *reterr, const char *what, const char *uuid)
{
	return errbuf_set(reterr, ERR_JOURNAL_CORRUPT, -EBADMSG,
	    "outbox record: %s%s%s", what, uuid ? " for entry " : "",
	    uuid ? uuid : "");
}

static int
jadd(json_object *o, const char *key, json_object *v)
{
	if (!v) {
		return -ENOMEM;
	}
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static bool
jget_i64(json_object *o, const char *key, int64_t *ret)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int)) {
		return false;
	}
	*ret = json_object_get_int64(v);
	return true;
}

static bool
jget_str(json_object *o, const char *key, const char **ret)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string)) {
		return false;
	}
	*ret = json_object_get_string(v);
	return true;
}

static void
entry_free(struct outbox_entry *e)
{
	if (!e) {
		return;
	}
	json_object_put(e->body);
	json_object_put(e->last_error);
	free(e);
}

void
outbox_init(struct outbox *o)
{
	memset(o, 0, sizeof(*o));
}

void
outbox_fini(struct outbox *o)
{
	if (!o) {
		return;
	}
	for (size_t i = 0; i < o->n_entries; i++) {
		entry_free(o->entries[i]);
	}
	free(o->entries);
	outbox_init(o);
}

struct outbox_entry *
outbox_find(const struct outbox *o, const char *uuid)
{
	for (size_t i = 0; uuid && i < o->n_entries; i++) {
		if (strcmp(o->entries[i]->uuid, uuid) == 0) {
			return o->entries[i];
		}
	}
	return NULL;
}

size_t
outbox_count(const struct outbox *o, enum outbox_state s)
{
	size_t n = 0;

	for (size_t i = 0; i < o->n_entries; i++) {
		n += o->entries[i]->state == s;
	}
	return n;
}

static int
reserve(struct outbox *o, size_t extra)
{
	size_t want = o->n_entries + extra, cap;
	struct outbox_entry **n;

	if (want <= o->cap_entries) {
		return 0;
	}
	cap = o->cap_entries ? o->cap_entries * 2 : 16;
	while (cap < want) {
		cap *= 2;
	}
	n = realloc(o->entries, cap * sizeof(*n));
	if (!n) {
		return -ENOMEM;
	}
	o->entries = n;
	o->cap_entries = cap;
	return 0;
}

void
outbox_truncate(struct outbox *o, size_t n)
{
	while (o->n_entries > n) {
		entry_free(o->entries[--o->n_entries]);
	}
}

/* Adds the entries of an "entries" array (TIMER_STOPPED per timer, or
 * ENTRY_QUEUED) in PENDING. Checks all of them first. */
static int
add_entries(
    struct outbox *o, json_object *arr, uint64_t seq, struct errbuf *reterr)
{
	size_t n, base = o->n_entries;
	int r;

	if (!json_object_is_type(arr, json_type_array)) {
		return bad(reterr, "no entries", NULL);
	}
	n = json_object_array_length(arr);
	r = reserve(o, n);
	if (r < 0) {
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *je = json_object_array_get_idx(arr, i), *body;
		struct outbox_entry *e;
		const char *uuid;

		if (!json_object_is_type(je, json_type_object) ||
		    !jget_str(je, "uuid", &uuid) || !entry_uuid_valid(uuid) ||
		    !json_object_object_get_ex(je, "body", &body) ||
		    !json_object_is_type(body, json_type_object)) {
			outbox_truncate(o, base);
			return bad(reterr, "entry without uuid or body", NULL);
		}
		if (outbox_find(o, uuid)) {
			outbox_truncate(o, base);
			return bad(reterr, "duplicate uuid", uuid);
		}
		e = calloc(1, sizeof(*e));
		if (!e) {
			outbox_truncate(o, base);
			return -ENOMEM;
		}
		memcpy(e->uuid, uuid, ENTRY_UUID_LEN);
		e->state = OUTBOX_PENDING;
		e->body = json_object_get(body);
		e->seq_created = e->seq_last = seq;
		o->entries[o->n_entries++] = e;
	}
	return 0;
}

static int
apply_stopped(
    struct outbox *o, json_object *p, uint64_t seq, struct errbuf *reterr)
{
	json_object *timers;
	size_t base = o->n_entries, n;

	if (!json_object_object_get_ex(p, "timers", &timers) ||
	    !json_object_is_type(timers, json_type_array)) {
		return bad(reterr, "stop without timers", NULL);
	}
	n = json_object_array_length(timers);
	for (size_t i = 0; i < n; i++) {
		json_object *arr = NULL;
		int r;

		(void) json_object_object_get_ex(
		    json_object_array_get_idx(timers, i), "entries", &arr);
		r = add_entries(o, arr, seq, reterr);
		if (r < 0) {
			outbox_truncate(o, base);
			return r;
		}
	}
	return 0;
}

/* Keeps the outbox bounded: beyond OUTBOX_KEEP_DONE finished entries
 * (SUBMITTED or DISCARDED), the oldest finished one is forgotten. Done in
 * apply, so replay forgets exactly the same entries. */
static void
prune_done(struct outbox *o)
{
	size_t done = outbox_count(o, OUTBOX_SUBMITTED) +
	    outbox_count(o, OUTBOX_DISCARDED);

	for (size_t i = 0; done > OUTBOX_KEEP_DONE && i < o->n_entries;) {
		struct outbox_entry *e = o->entries[i];

		if (e->state != OUTBOX_SUBMITTED &&
		    e->state != OUTBOX_DISCARDED) {
			i++;
			continue;
		}
		entry_free(e);
		memmove(&o->entries[i], &o->entries[i + 1],
		    (o->n_entries - i - 1) * sizeof(o->entries[0]));
		o->n_entries--;
		done--;
	}
}

/* Which states each record may leave from, and where it goes. */
static int
transition(struct outbox *o, uint16_t type, uint64_t seq, json_object *p,
    struct errbuf *reterr)
{
	struct outbox_entry *e;
	const char *uuid;
	enum outbox_state to;
	int64_t v = 0;
	bool keep_error = false;

	if (!jget_str(p, "uuid", &uuid)) {
		return bad(reterr, "no uuid", NULL);
	}
	e = outbox_find(o, uuid);
	if (!e) {
		return bad(reterr, "unknown entry", uuid);
	}
	switch (type) {
	case JOURNAL_REC_ATTEMPT_STARTED:
		if (e->state != OUTBOX_PENDING) {
			goto refused;
		}
		if (!jget_i64(p, "n", &v) || v <= (int64_t) e->attempts) {
			return bad(reterr, "attempt number out of order", uuid);
		}
		to = OUTBOX_ATTEMPT_STARTED;
		break;
	case JOURNAL_REC_ATTEMPT_FAILED:
		if (e->state != OUTBOX_ATTEMPT_STARTED) {
			goto refused;
		}
		to = OUTBOX_PENDING;
		keep_error = true;
		break;
	case JOURNAL_REC_OUTCOME_UNKNOWN:
		if (e->state != OUTBOX_ATTEMPT_STARTED) {
			goto refused;
		}
		to = OUTBOX_UNKNOWN;
		keep_error = true;
		break;
	case JOURNAL_REC_RECONCILED:
		/* ATTEMPT_STARTED too: the daemon died after the attempt
		 * record, the next run saw the entry UNKNOWN (after_replay,
		 * no record) and reconciled it; replay reaches this record
		 * before after_replay runs */
		if (e->state != OUTBOX_UNKNOWN &&
		    e->state != OUTBOX_ATTEMPT_STARTED) {
			goto refused;
		}
		if (jget_i64(p, "found", &v)) {
			if (v <= 0) {
				return bad(reterr, "bad remote id", uuid);
			}
			to = OUTBOX_UNKNOWN; /* SUBMITTED follows */
		} else {
			/* only a read showing absence allows a new POST */
			to = OUTBOX_PENDING;
		}
		break;
	case JOURNAL_REC_SUBMITTED:
		if (e->state != OUTBOX_ATTEMPT_STARTED &&
		    e->state != OUTBOX_UNKNOWN) {
			goto refused;
		}
		if (!jget_i64(p, "id", &v) || v <= 0) {
			return bad(reterr, "submitted without an id", uuid);
		}
		to = OUTBOX_SUBMITTED;
		break;
	case JOURNAL_REC_REJECTED:
		if (e->state != OUTBOX_ATTEMPT_STARTED &&
		    e->state != OUTBOX_UNKNOWN) {
			goto refused;
		}
		to = OUTBOX_REJECTED;
		keep_error = true;
		break;
	case JOURNAL_REC_REQUEUED:
		if (e->state != OUTBOX_REJECTED) {
			goto refused;
		}
		/* a re-queue after any attempt reconciles first */
		to = e->ever_attempted ? OUTBOX_UNKNOWN : OUTBOX_PENDING;
		break;
	case JOURNAL_REC_DISCARDED:
		if (e->state != OUTBOX_PENDING && e->state != OUTBOX_REJECTED) {
			goto refused;
		}
		to = OUTBOX_DISCARDED;
		break;
	case JOURNAL_REC_ENTRY_EDITED: {
		json_object *body;

		if (e->state != OUTBOX_PENDING && e->state != OUTBOX_REJECTED) {
			goto refused;
		}
		if (!json_object_object_get_ex(p, "body", &body) ||
		    !json_object_is_type(body, json_type_object)) {
			return bad(reterr, "edit without a body", uuid);
		}
		json_object_put(e->body);
		e->body = json_object_get(body);
		e->seq_last = seq;
		return 0;
	}
	default:
		return 0;
	}

	/* nothing fails from here on */
	if (type == JOURNAL_REC_ATTEMPT_STARTED) {
		int64_t t0 = 0;

		e->attempts = (uint32_t) v;
		e->ever_attempted = true;
		if (jget_i64(p, "t0", &t0)) {
			e->last_attempt_t0 = t0;
		}
	} else if (type == JOURNAL_REC_SUBMITTED) {
		e->remote_id = v;
	} else if (type == JOURNAL_REC_RECONCILED && to == OUTBOX_UNKNOWN) {
		e->remote_id = v;
	} else if (type == JOURNAL_REC_RECONCILED) {
		e->absent_seen++;
	}
	if (type == JOURNAL_REC_OUTCOME_UNKNOWN) {
		e->absent_seen = 0;
	}
	if (keep_error) {
		json_object_put(e->last_error);
		e->last_error = json_object_get(p);
	}
	e->state = to;
	e->seq_last = seq;
	if (to == OUTBOX_SUBMITTED || to == OUTBOX_DISCARDED) {
		prune_done(o);
	}
	return 0;
refused:
	return errbuf_set(reterr, ERR_JOURNAL_CORRUPT, -EBADMSG,
	    "outbox record: %s is not allowed for entry %s in state %s",
	    records_type_name(type), uuid, state_names[e->state]);
}

int
outbox_apply(struct outbox *o, uint16_t type, uint64_t seq,
    json_object *payload, struct errbuf *reterr)
{
	const char *reason = "";

	switch (type) {
	case JOURNAL_REC_TIMER_STOPPED:
	case JOURNAL_REC_ENTRY_QUEUED:
	case JOURNAL_REC_ATTEMPT_STARTED:
	case JOURNAL_REC_ATTEMPT_FAILED:
	case JOURNAL_REC_OUTCOME_UNKNOWN:
	case JOURNAL_REC_RECONCILED:
	case JOURNAL_REC_SUBMITTED:
	case JOURNAL_REC_REJECTED:
	case JOURNAL_REC_REQUEUED:
	case JOURNAL_REC_DISCARDED:
	case JOURNAL_REC_ENTRY_EDITED:
	case JOURNAL_REC_QUEUE_PAUSED:
	case JOURNAL_REC_QUEUE_RESUMED:
		break;
	default:
		return 0;
	}
	if (!json_object_is_type(payload, json_type_object)) {
		return bad(reterr, "payload is not an object", NULL);
	}
	switch (type) {
	case JOURNAL_REC_TIMER_STOPPED:
		return apply_stopped(o, payload, seq, reterr);
	case JOURNAL_REC_ENTRY_QUEUED: {
		json_object *arr = NULL;

		(void) json_object_object_get_ex(payload, "entries", &arr);
		return add_entries(o, arr, seq, reterr);
	}
	case JOURNAL_REC_QUEUE_PAUSED:
		(void) jget_str(payload, "reason", &reason);
		o->paused = true;
		snprintf(
		    o->pause_reason, sizeof(o->pause_reason), "%s", reason);
		return 0;
	case JOURNAL_REC_QUEUE_RESUMED:
		o->paused = false;
		o->pause_reason[0] = '\0';
		return 0;
	default:
		return transition(o, type, seq, payload, reterr);
	}
}

size_t
outbox_after_replay(struct outbox *o)
{
	size_t n = 0;

	for (size_t i = 0; i < o->n_entries; i++) {
		if (o->entries[i]->state == OUTBOX_ATTEMPT_STARTED) {
			o->entries[i]->state = OUTBOX_UNKNOWN;
			o->entries[i]->absent_seen = 0;
			n++;
		}
	}
	return n;
}

static json_object *
entry_snapshot(const struct outbox_entry *e)
{
	json_object *o = json_object_new_object();
	int r = o ? 0 : -ENOMEM;

	if (r == 0) {
		r = jadd(o, "uuid", json_object_new_string(e->uuid));
	}
	if (r == 0) {
		r = jadd(
		    o, "state", json_object_new_string(state_names[e->state]));
	}
	if (r == 0) {
		r = jadd(o, "body", json_object_get(e->body));
	}
	if (r == 0) {
		r = jadd(o, "seq_created",
		    json_object_new_int64((int64_t) e->seq_created));
	}
	if (r == 0) {
		r = jadd(o, "seq_last",
		    json_object_new_int64((int64_t) e->seq_last));
	}
	if (r == 0) {
		r = jadd(o, "attempts", json_object_new_int64(e->attempts));
	}
	if (r == 0) {
		r = jadd(o, "ever_attempted",
		    json_object_new_boolean(e->ever_attempted));
	}
	if (r == 0) {
		r = jadd(
		    o, "absent_seen", json_object_new_int64(e->absent_seen));
	}
	if (r == 0) {
		r = jadd(o, "remote_id", json_object_new_int64(e->remote_id));
	}
	if (r == 0) {
		r = jadd(o, "last_attempt_t0",
		    json_object_new_int64(e->last_attempt_t0));
	}
	if (r == 0 && e->last_error) {
		r = jadd(o, "last_error", json_object_get(e->last_error));
	}
	if (r < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

json_object *
outbox_snapshot(const struct outbox *o)
{
	json_object *s = json_object_new_object(), *arr;
	int r = s ? 0 : -ENOMEM;

	if (r == 0) {
		r = jadd(s, "paused", json_object_new_boolean(o->paused));
	}
	if (r == 0) {
		r = jadd(
		    s, "pause_reason", json_object_new_string(o->pause_reason));
	}
	arr = json_object_new_array();
	if (r == 0) {
		r = jadd(s, "entries", arr);
	} else {
		json_object_put(arr);
	}
	for (size_t i = 0; r == 0 && i < o->n_entries; i++) {
		json_object *e = entry_snapshot(o->entries[i]);

		if (!e) {
			r = -ENOMEM;
		} else if (json_object_array_add(arr, e) < 0) {
			json_object_put(e);
			r = -ENOMEM;
		}
	}
	if (r < 0) {
		json_object_put(s);
		return NULL;
	}
	return s;
}

int
outbox_restore(struct outbox *o, json_object *snap, struct errbuf *reterr)
{
	struct outbox tmp;
	json_object *arr, *v;
	const char *reason = "";
	size_t n;
	int r;

	if (!json_object_is_type(snap, json_type_object) ||
	    !json_object_object_get_ex(snap, "entries", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		return bad(reterr, "checkpoint: bad outbox", NULL);
	}
	outbox_init(&tmp);
	tmp.paused = json_object_object_get_ex(snap, "paused", &v) &&
	    json_object_get_boolean(v);
	(void) jget_str(snap, "pause_reason", &reason);
	snprintf(tmp.pause_reason, sizeof(tmp.pause_reason), "%s", reason);
	n = json_object_array_length(arr);
	r = reserve(&tmp, n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		json_object *je = json_object_array_get_idx(arr, i), *body;
		struct outbox_entry *e;
		const char *uuid, *state;
		int64_t sc, sl, att, abs, rid, t0;

		if (!json_object_is_type(je, json_type_object) ||
		    !jget_str(je, "uuid", &uuid) || !entry_uuid_valid(uuid) ||
		    outbox_find(&tmp, uuid) || !jget_str(je, "state", &state) ||
		    outbox_state_from_name(state) == OUTBOX_STATE_INVALID ||
		    !json_object_object_get_ex(je, "body", &body) ||
		    !json_object_is_type(body, json_type_object) ||
		    !jget_i64(je, "seq_created", &sc) ||
		    !jget_i64(je, "seq_last", &sl) ||
		    !jget_i64(je, "attempts", &att) ||
		    !jget_i64(je, "absent_seen", &abs) ||
		    !jget_i64(je, "remote_id", &rid) ||
		    !jget_i64(je, "last_attempt_t0", &t0) || att < 0 ||
		    abs < 0) {
			r = bad(reterr, "checkpoint: bad entry", NULL);
			break;
		}
		e = calloc(1, sizeof(*e));
		if (!e) {
			r = -ENOMEM;
			break;
		}
		memcpy(e->uuid, uuid, ENTRY_UUID_LEN);
		e->state = outbox_state_from_name(state);
		e->body = json_object_get(body);
		e->seq_created = (uint64_t) sc;
		e->seq_last = (uint64_t) sl;
		e->attempts = (uint32_t) att;
		e->ever_attempted =
		    json_object_object_get_ex(je, "ever_attempted", &v) &&
		    json_object_get_boolean(v);
		e->absent_seen = (uint32_t) abs;
		e->remote_id = rid;
		e->last_attempt_t0 = t0;
		if (json_object_object_get_ex(je, "last_error", &v)) {
			e->last_error = json_object_get(v);
		}
		tmp.entries[tmp.n_entries++] = e;
	}
	if (r < 0) {
		outbox_fini(&tmp);
		return r;
	}
	outbox_fini(o);
	*o = tmp;
	return 0;
}
