/*
 * stateview.c - committed state + pending batch, for validation only
 * (see stateview.h for why).
 *
 * Invariants:
 * - the view is built only from the committed state's snapshot and the
 *   pending records' own bytes, through state_apply: the function the
 *   commit and replay use, so the view is what memory will be after the
 *   commit succeeds;
 * - it is keyed by journal_batch_id(): a commit (good or failed) takes
 *   the batch and changes the id, so a stale view is never used;
 * - building it changes neither the committed state nor the journal.
 */
#include "daemon/stateview.h"

#include <errno.h>
#include <string.h>

#include "common/errcode.h"
#include "core/records.h"
#include "daemon/journal.h"

void
stateview_init(struct stateview *v)
{
	memset(v, 0, sizeof(*v));
	state_init(&v->spec);
}

void
stateview_fini(struct stateview *v)
{
	state_fini(&v->spec);
	v->valid = false;
}

static int
apply_pending(void *userdata, uint16_t type, uint64_t seq,
    json_object *payload, struct errbuf *reterr)
{
	struct stateview *v = userdata;
	int r = state_apply(&v->spec, type, seq, payload, reterr);

	if (r == 0) {
		v->n_applied++;
	}
	return r;
}

static int
rebuild(struct stateview *v, struct state *committed, struct errbuf *reterr)
{
	json_object *snap;
	int r;

	v->valid = false;
	v->n_applied = 0;
	snap = state_snapshot(committed);
	if (!snap) {
		return errbuf_set(reterr, ERR_INTERNAL, -ENOMEM,
		    "out of memory");
	}
	/* A checkpoint replaces the whole state and round-trips exactly
	 * (state.h); the runtime-only rules pointer is carried over. */
	v->spec.tracker.rules = committed->tracker.rules;
	r = state_apply(&v->spec, JOURNAL_REC_CHECKPOINT, committed->last_seq,
	    snap, reterr);
	json_object_put(snap);
	return r;
}

struct state *
stateview_get(struct stateview *v, struct state *committed,
    const struct journal *j, struct errbuf *reterr)
{
	int r;

	if (!j || !journal_pending(j)) {
		return committed;
	}
	if (!v->valid || v->batch_id != journal_batch_id(j)) {
		r = rebuild(v, committed, reterr);
		if (r < 0) {
			return NULL;
		}
		v->batch_id = journal_batch_id(j);
		v->valid = true;
	}
	v->spec.tracker.rules = committed->tracker.rules;
	r = journal_pending_foreach(j, v->n_applied, apply_pending, v, reterr);
	if (r < 0) {
		/* half applied: never reuse it */
		v->valid = false;
		return NULL;
	}
	return &v->spec;
}
