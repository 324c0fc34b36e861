/*
 * state.c - the one apply function of the daemon: dispatches journal
 * records to the tracker and the outbox, and snapshots both.
 *
 * Invariants: a record either applies completely or changes nothing (a
 * TIMER_STOPPED touches both halves: the outbox is changed first and
 * rolled back if the tracker refuses); a checkpoint replaces the state
 * only once it has been parsed completely. Pure: no I/O, no logging.
 */
#include "core/state.h"

#include <errno.h>
#include <string.h>

#include "common/errcode.h"
#include "core/records.h"

#define STATE_SNAPSHOT_VERSION 1

void
state_init(struct state *s)
{
	memset(s, 0, sizeof(*s));
	tracker_init(&s->tracker);
	outbox_init(&s->outbox);
}

void
state_fini(struct state *s)
{
	if (!s) {
		return;
	}
	tracker_fini(&s->tracker);
	outbox_fini(&s->outbox);
	s->last_seq = 0;
}

static int
apply_checkpoint(struct state *s, json_object *p, struct errbuf *reterr)
{
	struct tracker t;
	struct outbox o;
	json_object *v, *jt, *jo;
	int64_t last = 0;
	int r;

	if (!json_object_is_type(p, json_type_object) ||
	    !json_object_object_get_ex(p, "version", &v) ||
	    json_object_get_int(v) != STATE_SNAPSHOT_VERSION ||
	    !json_object_object_get_ex(p, "tracker", &jt) ||
	    !json_object_object_get_ex(p, "outbox", &jo)) {
		return errbuf_set(reterr, ERR_JOURNAL_CORRUPT, -EBADMSG,
		    "checkpoint: not a version %d state",
		    STATE_SNAPSHOT_VERSION);
	}
	if (json_object_object_get_ex(p, "last_seq", &v)) {
		last = json_object_get_int64(v);
	}
	tracker_init(&t);
	t.rules = s->tracker.rules;
	outbox_init(&o);
	r = tracker_restore(&t, jt, reterr);
	if (r == 0) {
		r = outbox_restore(&o, jo, reterr);
	}
	if (r < 0) {
		tracker_fini(&t);
		outbox_fini(&o);
		return r;
	}
	tracker_fini(&s->tracker);
	outbox_fini(&s->outbox);
	s->tracker = t;
	s->outbox = o;
	s->last_seq = (uint64_t) last;
	return 0;
}

int
state_apply(struct state *s, uint16_t type, uint64_t seq, json_object *payload,
    struct errbuf *reterr)
{
	size_t before;
	int r;

	if (!records_type_known(type)) {
		return errbuf_set(reterr, ERR_JOURNAL_CORRUPT, -EBADMSG,
		    "record type %u is unknown", (unsigned) type);
	}
	switch (type) {
	case JOURNAL_REC_CHECKPOINT:
		return apply_checkpoint(s, payload, reterr);
	case JOURNAL_REC_TEST:
	case JOURNAL_REC_CLEAN_SHUTDOWN:
		break;
	case JOURNAL_REC_TIMER_STOPPED:
		before = s->outbox.n_entries;
		r = outbox_apply(&s->outbox, type, seq, payload, reterr);
		if (r < 0) {
			return r;
		}
		r = tracker_apply(&s->tracker, type, seq, payload, reterr);
		if (r < 0) {
			outbox_truncate(&s->outbox, before);
			return r;
		}
		break;
	default:
		r = tracker_apply(&s->tracker, type, seq, payload, reterr);
		if (r < 0) {
			return r;
		}
		r = outbox_apply(&s->outbox, type, seq, payload, reterr);
		if (r < 0) {
			/* no record type is handled by both except
			 * TIMER_STOPPED, so nothing needs undoing */
			return r;
		}
		break;
	}
	if (seq > s->last_seq) {
		s->last_seq = seq;
	}
	return 0;
}

void
state_after_replay(struct state *s)
{
	(void) outbox_after_replay(&s->outbox);
}

json_object *
state_snapshot(const struct state *s)
{
	json_object *o = json_object_new_object();
	json_object *t = tracker_snapshot(&s->tracker);
	json_object *b = outbox_snapshot(&s->outbox);

	if (!o || !t || !b ||
	    json_object_object_add(o, "version",
		json_object_new_int(STATE_SNAPSHOT_VERSION)) < 0 ||
	    json_object_object_add(o, "last_seq",
		json_object_new_int64((int64_t) s->last_seq)) < 0) {
		goto fail;
	}
	if (json_object_object_add(o, "tracker", t) < 0) {
		goto fail;
	}
	t = NULL;
	if (json_object_object_add(o, "outbox", b) < 0) {
		goto fail; /* json-c did not take b */
	}
	return o;
fail:
	json_object_put(o);
	json_object_put(t);
	json_object_put(b);
	return NULL;
}
