/*
 * records.h - journal record types (RELIABILITY.md 2.10).
 *
 * The numbers are part of the on-disk format (doc/journal-format.md):
 * never renumber, only append. 0 is never valid. The journal refuses to
 * start on a well-formed record of a type it does not know (written by a
 * newer cwtimed) instead of skipping it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define RECORDS_TABLE(X)                                                       \
	X(TIMER_STARTED, 1, "timer-started")                                   \
	X(TIMER_PAUSED, 2, "timer-paused")                                     \
	X(TIMER_RESUMED, 3, "timer-resumed")                                   \
	X(TIMER_ADJUSTED, 4, "timer-adjusted")                                 \
	X(TIMER_NOTES, 5, "timer-notes")                                       \
	X(TIMER_CANCELLED, 6, "timer-cancelled")                               \
	X(TIMER_STOPPED, 7, "timer-stopped")                                   \
	X(ENTRY_QUEUED, 8, "entry-queued")                                     \
	X(ENTRY_EDITED, 9, "entry-edited")                                     \
	X(ATTEMPT_STARTED, 10, "attempt-started")                              \
	X(ATTEMPT_FAILED, 11, "attempt-failed")                                \
	X(OUTCOME_UNKNOWN, 12, "outcome-unknown")                              \
	X(RECONCILED, 13, "reconciled")                                        \
	X(SUBMITTED, 14, "submitted")                                          \
	X(REJECTED, 15, "rejected")                                            \
	X(REQUEUED, 16, "requeued")                                            \
	X(DISCARDED, 17, "discarded")                                          \
	X(QUEUE_PAUSED, 18, "queue-paused")                                    \
	X(QUEUE_RESUMED, 19, "queue-resumed")                                  \
	X(HEARTBEAT, 20, "heartbeat")                                          \
	X(CLEAN_SHUTDOWN, 21, "clean-shutdown")                                \
	X(TIMER_SET, 22, "timer-set")                                          \
	X(CHECKPOINT, 23, "checkpoint")                                        \
	X(TEST, 24, "test")

enum journal_rec_type {
	JOURNAL_REC_INVALID = 0,
#define RECORDS_ENUM(sym, num, name) JOURNAL_REC_##sym = num,
	RECORDS_TABLE(RECORDS_ENUM)
#undef RECORDS_ENUM
	JOURNAL_REC_COUNT
};

/* True for a type this build knows. */
bool records_type_known(uint16_t type);
/* Stable name ("timer-started") or NULL for an unknown type. */
const char *records_type_name(uint16_t type);
