/*
 * outbox.h - finished entries on their way to ConnectWise: the pure state
 * machine of RELIABILITY.md 4.1.
 *
 * Entries appear in PENDING from TIMER_STOPPED and ENTRY_QUEUED records and
 * move only by applied records (ATTEMPT_STARTED, ATTEMPT_FAILED,
 * OUTCOME_UNKNOWN, RECONCILED, SUBMITTED, REJECTED, REQUEUED, DISCARDED,
 * ENTRY_EDITED, QUEUE_PAUSED, QUEUE_RESUMED). Deciding when to send is the
 * submitter's business (src/daemon); this module only keeps the state.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/entry.h"

struct errbuf;

/* Finished entries (SUBMITTED, DISCARDED) kept for "recent" listings; the
 * oldest beyond this are forgotten when another one finishes. */
#define OUTBOX_KEEP_DONE 256

enum outbox_state {
	OUTBOX_PENDING,
	OUTBOX_ATTEMPT_STARTED,
	OUTBOX_UNKNOWN,
	OUTBOX_SUBMITTED,
	OUTBOX_REJECTED,
	OUTBOX_DISCARDED,
	OUTBOX_STATE_INVALID,
	OUTBOX_STATE_COUNT = OUTBOX_STATE_INVALID
};

struct outbox_entry {
	char uuid[ENTRY_UUID_LEN];
	enum outbox_state state;
	json_object *body;	 /* the ConnectWise POST body; owned */
	uint64_t seq_created;	 /* seq of the creating record */
	uint64_t seq_last;	 /* seq of the last record applied */
	uint32_t attempts;	 /* ATTEMPT_STARTED count */
	bool ever_attempted;	 /* a requeue must reconcile first */
	uint32_t absent_seen;	 /* RECONCILED(absent) since the last UNKNOWN */
	int64_t remote_id;	 /* > 0 once SUBMITTED */
	int64_t last_attempt_t0; /* Unix s of the last attempt */
	int64_t queued_at;	 /* Unix s it began to wait: the stop, the
				  * log or the re-queue; 0 when the records
				  * do not say (written before cwtimed had
				  * queued_at) */
	json_object *last_error; /* last ATTEMPT_FAILED/REJECTED/UNKNOWN
				  * payload, owned, or NULL */
};

struct outbox {
	struct outbox_entry **entries; /* in creation order */
	size_t n_entries;
	size_t cap_entries;
	/* Index by UUID: open addressing with linear probing over the same
	 * entry objects, at most half full; index_cap is 0 or a power of
	 * two. Kept by every function here; outbox_find is O(1). The struct
	 * owns it, so a copy of a struct outbox is not a second outbox. */
	struct outbox_entry **index;
	size_t index_cap;
	size_t n_state[OUTBOX_STATE_COUNT]; /* outbox_count in O(1) */
	bool paused;
	char pause_reason[128];
};

void outbox_init(struct outbox *o);
/* Accepts a zeroed outbox. */
void outbox_fini(struct outbox *o);

/* The entry with this exact UUID, or NULL. O(1). */
struct outbox_entry *outbox_find(const struct outbox *o, const char *uuid);
/* Entries whose UUID starts with prefix (len bytes, lower case): returns
 * how many, and the first of them in *ret (NULL when none). A full-length
 * prefix is looked up in the index; a shorter one is a scan (the CLI's
 * keyed-by-prefix commands, not a hot path). */
size_t outbox_find_prefix(const struct outbox *o, const char *prefix,
    size_t len, struct outbox_entry **ret);
const char *outbox_state_name(enum outbox_state s);
enum outbox_state outbox_state_from_name(const char *s);

/* Applies a record that concerns the outbox (types listed above); other
 * types are ignored. A transition that 4.1 does not allow, an unknown or
 * duplicate uuid, or a malformed payload returns -EBADMSG with the reason
 * and changes nothing. */
int outbox_apply(struct outbox *o, uint16_t type, uint64_t seq,
    json_object *payload, struct errbuf *reterr);

/* Drops the entries after the first n (undoes a partial apply; for
 * state.c). */
void outbox_truncate(struct outbox *o, size_t n);

/* At the end of replay: every entry still in ATTEMPT_STARTED becomes
 * UNKNOWN (the daemon died between the attempt record and its outcome).
 * Returns how many changed. */
size_t outbox_after_replay(struct outbox *o);

/* Counts entries in state s. O(1). */
size_t outbox_count(const struct outbox *o, enum outbox_state s);

/* The whole outbox as JSON, and back into an initialised empty outbox. */
json_object *outbox_snapshot(const struct outbox *o);
int outbox_restore(struct outbox *o, json_object *snap, struct errbuf *reterr);
