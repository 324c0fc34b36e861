/*
 * state.h - everything the journal rebuilds: timers and the outbox.
 *
 * The daemon passes state_apply and state_snapshot to the journal
 * (journal_apply_fn, journal_snapshot_fn). state_apply is the one apply
 * function used both after a live commit and during replay.
 */
#pragma once

#include <stdint.h>

#include <json-c/json.h>

#include "core/outbox.h"
#include "core/tracker.h"

struct errbuf;

struct state {
	struct tracker tracker;
	struct outbox outbox;
	uint64_t last_seq; /* seq of the last record applied */
};

void state_init(struct state *s);
/* Accepts a zeroed state. */
void state_fini(struct state *s);

/* Applies one committed record. JOURNAL_REC_CHECKPOINT replaces the whole
 * state with its payload (a state_snapshot); JOURNAL_REC_TEST and
 * CLEAN_SHUTDOWN are accepted and ignored; TIMER_STOPPED changes both the
 * tracker and the outbox. Returns 0, or -EBADMSG (unknown type, payload
 * that does not fit) with the reason in *reterr and the state unchanged.
 * Matches journal_apply_fn when called through a small wrapper. Does not
 * log. */
int state_apply(struct state *s, uint16_t type, uint64_t seq,
    json_object *payload, struct errbuf *reterr);

/* Call once after replay: ATTEMPT_STARTED entries become UNKNOWN. */
void state_after_replay(struct state *s);

/* A new JSON object holding the whole state (the checkpoint payload), or
 * NULL on allocation failure. Round-trips exactly through
 * state_apply(JOURNAL_REC_CHECKPOINT). */
json_object *state_snapshot(const struct state *s);
