/*
 * outbox.c - the per-entry submission state machine (RELIABILITY.md 4.1)
 * as pure apply functions over journal payloads.
 *
 * Invariants: an entry appears once (its UUID is unique) and only from
 * TIMER_STOPPED or ENTRY_QUEUED; every transition is one of 4.1's; a
 * record that does not fit changes nothing and is reported; nothing is
 * ever dropped without a DISCARDED record. The decisions (when to send,
 * backoff, reconciliation) belong to the submitter in src/daemon.
 *
 * The index by UUID holds exactly the entries of o->entries (every add,
 * truncate, prune and restore keeps it so), and n_state[] their count per
 * state: the submitter looks entries up on every step of every entry, and
 * a linear scan there made a queue of a thousand entries quadratic.
 */
#include "core/outbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/errcode.h"
#include "common/jsonutil.h"
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
	free(o->index);
	outbox_init(o);
}

/* ---- the index: linear probing, backward-shift deletion ---- */

/* FNV-1a over the UUID text. UUIDs are random, but the v4 version and
 * variant digits are not: hashing the whole string spreads them all. */
static size_t
index_hash(const char *uuid)
{
	uint64_t h = 14695981039346656037u;

	for (; *uuid; uuid++) {
		h = (h ^ (uint8_t) *uuid) * 1099511628211u;
	}
	return (size_t) (h ^ (h >> 32));
}

static void
index_put(struct outbox *o, struct outbox_entry *e)
{
	size_t mask = o->index_cap - 1, i = index_hash(e->uuid) & mask;

	while (o->index[i]) {
		i = (i + 1) & mask;
	}
	o->index[i] = e;
}

static void
index_del(struct outbox *o, const struct outbox_entry *e)
{
	size_t mask = o->index_cap - 1, i = index_hash(e->uuid) & mask, j;

	while (o->index[i] && o->index[i] != e) {
		i = (i + 1) & mask;
	}
	if (!o->index[i]) {
		return; /* not indexed: cannot happen */
	}
	o->index[i] = NULL;
	/* pull back every later member of the run whose home slot is not
	 * cyclically within (i, j], so that no probe stops early */
	for (j = (i + 1) & mask; o->index[j]; j = (j + 1) & mask) {
		size_t k = index_hash(o->index[j]->uuid) & mask;
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);

		if (!stays) {
			o->index[i] = o->index[j];
			o->index[j] = NULL;
			i = j;
		}
	}
}

/* Makes room for want entries at most half full. Changes nothing when it
 * fails. */
static int
index_reserve(struct outbox *o, size_t want)
{
	struct outbox_entry **n;
	size_t cap = o->index_cap ? o->index_cap : 32;

	while (cap < 2 * want) {
		cap *= 2;
	}
	if (cap == o->index_cap) {
		return 0;
	}
	n = calloc(cap, sizeof(*n));
	if (!n) {
		return -ENOMEM;
	}
	free(o->index);
	o->index = n;
	o->index_cap = cap;
	for (size_t i = 0; i < o->n_entries; i++) {
		index_put(o, o->entries[i]);
	}
	return 0;
}

struct outbox_entry *
outbox_find(const struct outbox *o, const char *uuid)
{
	size_t mask, i;

	if (!uuid || o->index_cap == 0) {
		return NULL;
	}
	mask = o->index_cap - 1;
	for (i = index_hash(uuid) & mask; o->index[i]; i = (i + 1) & mask) {
		if (strcmp(o->index[i]->uuid, uuid) == 0) {
			return o->index[i];
		}
	}
	return NULL;
}

size_t
outbox_find_prefix(const struct outbox *o, const char *prefix, size_t len,
    struct outbox_entry **ret)
{
	size_t n = 0;

	*ret = NULL;
	if (len == ENTRY_UUID_LEN - 1 && strlen(prefix) == len) {
		*ret = outbox_find(o, prefix);
		return *ret ? 1 : 0;
	}
	for (size_t i = 0; i < o->n_entries; i++) {
		if (strncmp(o->entries[i]->uuid, prefix, len) == 0) {
			if (n++ == 0) {
				*ret = o->entries[i];
			}
		}
	}
	return n;
}

size_t
outbox_count(const struct outbox *o, enum outbox_state s)
{
	return (int) s >= 0 && s < OUTBOX_STATE_COUNT ? o->n_state[s] : 0;
}

static void
set_state(struct outbox *o, struct outbox_entry *e, enum outbox_state to)
{
	o->n_state[e->state]--;
	o->n_state[to]++;
	e->state = to;
}

/* Appends e (its state set) to the entries and the index; room was
 * reserved. */
static void
append(struct outbox *o, struct outbox_entry *e)
{
	o->entries[o->n_entries++] = e;
	index_put(o, e);
	o->n_state[e->state]++;
}

/* Removes entries[i] from everything and frees it. */
static void
remove_at(struct outbox *o, size_t i)
{
	struct outbox_entry *e = o->entries[i];

	index_del(o, e);
	o->n_state[e->state]--;
	memmove(&o->entries[i], &o->entries[i + 1],
	    (o->n_entries - i - 1) * sizeof(o->entries[0]));
	o->n_entries--;
	entry_free(e);
}

static int
reserve(struct outbox *o, size_t extra)
{
	size_t want = o->n_entries + extra, cap;
	struct outbox_entry **n;
	int r;

	r = index_reserve(o, want);
	if (r < 0 || want <= o->cap_entries) {
		return r;
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
		remove_at(o, o->n_entries - 1);
	}
}

/* Adds the entries of an "entries" array (TIMER_STOPPED per timer, or
 * ENTRY_QUEUED) in PENDING. Checks all of them first. */
static int
add_entries(struct outbox *o, json_object *arr, uint64_t seq, int64_t queued_at,
    struct errbuf *reterr)
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
		    !jsonutil_get_str(je, "uuid", &uuid) ||
		    !entry_uuid_valid(uuid) ||
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
		e->queued_at = queued_at;
		append(o, e);
	}
	return 0;
}

/* When the entries of a TIMER_STOPPED timer or an ENTRY_QUEUED record
 * began to wait: "queued_at" (written since cwtimed keeps it), else the
 * stop's own stamp (every TIMER_STOPPED has one), else 0: unknown (an
 * ENTRY_QUEUED from before queued_at; the submitter then counts from
 * when it first saw the entry, as it always did). */
static int64_t
queued_at_of(json_object *p, json_object *timer)
{
	json_object *stamp;
	int64_t t = 0;

	if (jsonutil_get_i64(p, "queued_at", &t) && t > 0) {
		return t;
	}
	if (timer && json_object_object_get_ex(timer, "stamp", &stamp) &&
	    jsonutil_get_i64(stamp, "wall", &t) && t > 0) {
		return t;
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
		json_object *tm = json_object_array_get_idx(timers, i);
		json_object *arr = NULL;
		int r;

		(void) json_object_object_get_ex(tm, "entries", &arr);
		r = add_entries(o, arr, seq, queued_at_of(p, tm), reterr);
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
		remove_at(o, i);
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

	if (!jsonutil_get_str(p, "uuid", &uuid)) {
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
		if (!jsonutil_get_i64(p, "n", &v) ||
		    v <= (int64_t) e->attempts) {
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
		if (jsonutil_get_i64(p, "found", &v)) {
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
		if (!jsonutil_get_i64(p, "id", &v) || v <= 0) {
			return bad(reterr, "submitted without an id", uuid);
		}
		to = OUTBOX_SUBMITTED;
		break;
	case JOURNAL_REC_REJECTED: {
		json_object *local = NULL;

		/* "local": refused before any request (an unknown work type
		 * or role name, cmd-ref.c): PENDING -> REJECTED too */
		if (e->state != OUTBOX_ATTEMPT_STARTED &&
		    e->state != OUTBOX_UNKNOWN &&
		    !(e->state == OUTBOX_PENDING &&
			json_object_object_get_ex(p, "local", &local) &&
			json_object_get_boolean(local))) {
			goto refused;
		}
		to = OUTBOX_REJECTED;
		keep_error = true;
		break;
	}
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
		if (jsonutil_get_i64(p, "t0", &t0)) {
			e->last_attempt_t0 = t0;
		}
	} else if (type == JOURNAL_REC_SUBMITTED) {
		e->remote_id = v;
	} else if (type == JOURNAL_REC_RECONCILED && to == OUTBOX_UNKNOWN) {
		e->remote_id = v;
	} else if (type == JOURNAL_REC_RECONCILED) {
		e->absent_seen++;
	} else if (type == JOURNAL_REC_REQUEUED &&
	    jsonutil_get_i64(p, "at", &v) && v > 0) {
		/* it waits again from the re-queue: the time it sat
		 * rejected was the user's, not the queue's */
		e->queued_at = v;
	}
	if (type == JOURNAL_REC_OUTCOME_UNKNOWN) {
		e->absent_seen = 0;
	}
	if (keep_error) {
		json_object_put(e->last_error);
		e->last_error = json_object_get(p);
	}
	set_state(o, e, to);
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
		return add_entries(
		    o, arr, seq, queued_at_of(payload, NULL), reterr);
	}
	case JOURNAL_REC_QUEUE_PAUSED:
		(void) jsonutil_get_str(payload, "reason", &reason);
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
			set_state(o, o->entries[i], OUTBOX_UNKNOWN);
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
		r = jsonutil_add(o, "uuid", json_object_new_string(e->uuid));
	}
	if (r == 0) {
		r = jsonutil_add(
		    o, "state", json_object_new_string(state_names[e->state]));
	}
	if (r == 0) {
		r = jsonutil_add(o, "body", json_object_get(e->body));
	}
	if (r == 0) {
		r = jsonutil_add(o, "seq_created",
		    json_object_new_int64((int64_t) e->seq_created));
	}
	if (r == 0) {
		r = jsonutil_add(o, "seq_last",
		    json_object_new_int64((int64_t) e->seq_last));
	}
	if (r == 0) {
		r = jsonutil_add(
		    o, "attempts", json_object_new_int64(e->attempts));
	}
	if (r == 0) {
		r = jsonutil_add(o, "ever_attempted",
		    json_object_new_boolean(e->ever_attempted));
	}
	if (r == 0) {
		r = jsonutil_add(
		    o, "absent_seen", json_object_new_int64(e->absent_seen));
	}
	if (r == 0) {
		r = jsonutil_add(
		    o, "remote_id", json_object_new_int64(e->remote_id));
	}
	if (r == 0) {
		r = jsonutil_add(o, "last_attempt_t0",
		    json_object_new_int64(e->last_attempt_t0));
	}
	if (r == 0 && e->queued_at > 0) {
		r = jsonutil_add(
		    o, "queued_at", json_object_new_int64(e->queued_at));
	}
	if (r == 0 && e->last_error) {
		r = jsonutil_add(
		    o, "last_error", json_object_get(e->last_error));
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
		r = jsonutil_add(
		    s, "paused", json_object_new_boolean(o->paused));
	}
	if (r == 0) {
		r = jsonutil_add(
		    s, "pause_reason", json_object_new_string(o->pause_reason));
	}
	arr = json_object_new_array();
	if (r == 0) {
		r = jsonutil_add(s, "entries", arr);
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
	(void) jsonutil_get_str(snap, "pause_reason", &reason);
	snprintf(tmp.pause_reason, sizeof(tmp.pause_reason), "%s", reason);
	n = json_object_array_length(arr);
	r = reserve(&tmp, n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		json_object *je = json_object_array_get_idx(arr, i), *body;
		struct outbox_entry *e;
		const char *uuid, *state;
		int64_t sc, sl, att, abs, rid, t0;

		if (!json_object_is_type(je, json_type_object) ||
		    !jsonutil_get_str(je, "uuid", &uuid) ||
		    !entry_uuid_valid(uuid) || outbox_find(&tmp, uuid) ||
		    !jsonutil_get_str(je, "state", &state) ||
		    outbox_state_from_name(state) == OUTBOX_STATE_INVALID ||
		    !json_object_object_get_ex(je, "body", &body) ||
		    !json_object_is_type(body, json_type_object) ||
		    !jsonutil_get_i64(je, "seq_created", &sc) ||
		    !jsonutil_get_i64(je, "seq_last", &sl) ||
		    !jsonutil_get_i64(je, "attempts", &att) ||
		    !jsonutil_get_i64(je, "absent_seen", &abs) ||
		    !jsonutil_get_i64(je, "remote_id", &rid) ||
		    !jsonutil_get_i64(je, "last_attempt_t0", &t0) || att < 0 ||
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
		if (!jsonutil_get_i64(je, "queued_at", &e->queued_at) ||
		    e->queued_at < 0) {
			e->queued_at = 0; /* a checkpoint from before it */
		}
		if (json_object_object_get_ex(je, "last_error", &v)) {
			e->last_error = json_object_get(v);
		}
		append(&tmp, e);
	}
	if (r < 0) {
		outbox_fini(&tmp);
		return r;
	}
	outbox_fini(o);
	*o = tmp;
	return 0;
}
