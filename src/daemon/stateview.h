/*
 * stateview.h - the state a change is validated against: the committed
 * state plus the records waiting in the journal's batch.
 *
 * Group commit (RELIABILITY.md 2.4) applies records to memory only after
 * their fdatasync, so within one loop iteration the committed state lags
 * the batch. A handler that validated against it would accept two starts
 * from two connections under `concurrency = single`, or a stop of a timer
 * that a record in the same batch already stopped; the second record
 * would then fail to apply at commit and at every replay. Validating
 * against this view instead makes each record valid on top of the ones
 * before it, which is exactly the order the commit (and replay) apply
 * them in. Readers (status, list, events) keep using the committed state:
 * nothing unacknowledged is ever shown.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/state.h"

struct errbuf;
struct journal;

struct stateview {
	struct state spec;   /* committed + pending, when 'valid' */
	bool valid;
	uint64_t batch_id;   /* journal_batch_id() spec was built for */
	size_t n_applied;    /* pending records already applied to spec */
};

void stateview_init(struct stateview *v);
void stateview_fini(struct stateview *v);

/* The state to validate a new record against: 'committed' itself when no
 * record waits in j (or j is NULL), else a copy of it with the pending
 * records applied, kept up to date incrementally while the batch grows
 * and rebuilt once per batch. NULL on failure (out of memory, or a
 * pending record that does not apply: a bug), with the reason in
 * *reterr. The view borrows committed->tracker.rules. */
struct state *stateview_get(struct stateview *v, struct state *committed,
    const struct journal *j, struct errbuf *reterr);
