/*
 * journal.h - the durable journal (RELIABILITY.md section 2,
 * doc/journal-format.md).
 *
 * Every state change is a record: (type, seq, JSON payload). Handlers
 * append records to an in-memory batch; journal_commit() writes the whole
 * batch with one pwritev and one fdatasync, and only then applies each
 * record (with the same apply function replay uses) and calls its done
 * callback. Memory never changes before the sync.
 *
 * All file I/O goes through struct fileops (fileops.h) so that tests can
 * fail the Nth call and simulate crashes. Nothing here logs: errors come
 * back as -errno with a reason in struct errbuf; the caller decides.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "common/errcode.h"


/* Format constants (doc/journal-format.md). */
#define JOURNAL_RECORD_MAX (256u * 1024u)          /* payload bytes */
#define JOURNAL_CHECKPOINT_MAX (64u * 1024u * 1024u) /* checkpoint payload */
#define JOURNAL_HEADER_SIZE 64u
#define JOURNAL_RECORD_OVERHEAD 20u                /* 16 B header + CRC */
#define JOURNAL_FORMAT_VERSION 1u
#define JOURNAL_SEGMENT_PREALLOC (1024u * 1024u)
#define JOURNAL_BATCH_MAX (16u * 1024u * 1024u)    /* pending bytes */

struct journal;
struct fileops;

/* Applies one committed record to memory. Called by replay (checkpoint
 * first, as one JOURNAL_REC_CHECKPOINT record, then every later record in
 * seq order) and by journal_commit() after the sync. The payload is
 * borrowed. A non-zero return during replay stops start-up with
 * ERR_JOURNAL_CORRUPT naming the record; after a commit it is a bug
 * (validation happens before append). */
typedef int journal_apply_fn(void *userdata, uint16_t type, uint64_t seq,
    json_object *payload, struct errbuf *reterr);

/* Returns a new JSON object holding the complete live state (for the
 * checkpoint), or NULL on allocation failure. */
typedef json_object *journal_snapshot_fn(void *userdata);

/* Called once per appended record when its batch has been committed
 * (status 0, after apply) or has failed (status < 0, reason in *err,
 * nothing applied). */
typedef void journal_done_fn(void *userdata, int status,
    const struct errbuf *err);

struct journal_config {
	const char *state_dir;       /* $XDG_STATE_HOME/cwtimed */
	const struct fileops *ops;   /* NULL: the real system calls */
	journal_apply_fn *apply;
	journal_snapshot_fn *snapshot;
	void *userdata;              /* passed to apply and snapshot */
	uint64_t compact_bytes;      /* 0: the default, 4 MiB */
	uint64_t min_free_bytes;     /* 0: the default, 2 MiB (2.9) */
};

/* Takes the lock, syncfs()es, replays checkpoint and segments (calling
 * cfg->apply), repairs a torn tail into quarantine/, deletes a stray
 * checkpoint.tmp and opens a new segment. Errors in *reterr:
 *   -EWOULDBLOCK  another daemon holds the lock ("cwtimed is already
 *                 running (pid N)")
 *   -EIO from syncfs: the caller exits 75
 *   ERR_JOURNAL_CORRUPT (-EBADMSG): damage in the middle; the message names
 *                 file, offset, expected and found; the caller exits 65
 *                 (also for a record of unknown type: "newer cwtimed").
 * apply may already have run for some records when it fails; the caller
 * exits anyway. Creates state_dir (0700) when missing. Does not log. */
int journal_open(const struct journal_config *cfg, struct journal **ret,
    struct errbuf *reterr);

/* Encodes a record into the pending batch. The payload is borrowed (it is
 * serialised at once). done may be NULL. Fails with -EROFS once the
 * journal has failed, -E2BIG over JOURNAL_RECORD_MAX, -ENOSPC (ERR_DISK_FULL)
 * when 'reserve_space' is true and free space is below min_free_bytes,
 * -ENOBUFS (ERR_BUSY) when JOURNAL_BATCH_MAX bytes already wait, -EINVAL
 * for an unknown type, CHECKPOINT, or a payload that is not an object. */
int journal_append(struct journal *j, uint16_t type, json_object *payload,
    bool reserve_space, journal_done_fn *done, void *userdata,
    struct errbuf *reterr);

/* True when records wait for journal_commit(). */
bool journal_pending(const struct journal *j);
/* How many records wait for journal_commit(). */
size_t journal_pending_count(const struct journal *j);
/* Names the batch being collected: it changes whenever journal_commit()
 * takes the batch, whether the commit then succeeds or fails, so a cache
 * of "committed state + pending records" keyed by it is never stale. */
uint64_t journal_batch_id(const struct journal *j);
/* Calls fn for each pending record from index 'from' on, in order, with
 * the payload parsed from the very bytes the commit will write. Returns 0
 * or the first negative value of fn (or of parsing). Changes nothing. */
int journal_pending_foreach(const struct journal *j, size_t from,
    journal_apply_fn *fn, void *userdata, struct errbuf *reterr);

/* Writes the batch (one pwritev), fdatasync()s, then applies each record
 * and calls its done callback with 0. A failed or short write truncates
 * back to the committed offset and fails the batch (ERR_DISK_FULL or
 * ERR_DISK_ERROR); the journal stays usable. A failed fdatasync fails the
 * batch with ERR_STORAGE_FAILED and marks the journal failed for good:
 * journal_failed() turns true, no fsync is ever called on that descriptor
 * again, and the caller must exit 75. Compacts when the segments exceed
 * compact_bytes. Returns 0 or the negative errno of the failure; -EIO
 * after a committed batch means the compaction that followed hit an fsync
 * failure: check journal_failed() after every commit. -EBUSY when called
 * from a done callback. Does not log. */
int journal_commit(struct journal *j);

/* True after an fsync failure: the daemon must stop taking changes. */
bool journal_failed(const struct journal *j);

/* Writes a checkpoint of the current state and removes covered segments
 * (2.7). Called by journal_commit() when due, and at a clean shutdown. */
int journal_compact(struct journal *j, struct errbuf *reterr);

/* Sequence number of the last committed record (0 for an empty journal). */
uint64_t journal_last_seq(const struct journal *j);

/* Commits what is pending, syncs and closes. Accepts NULL. */
void journal_free(struct journal *j);

/* cwtimed --check-journal [--repair]: reads the journal in state_dir
 * without the apply function. Returns 0 when it is sound; otherwise fills
 * *reterr (file, offset, expected, found) and returns -EBADMSG. With
 * repair, moves the damaged segment to quarantine/, keeps every record
 * before the damage in a new segment, and returns 0. Writes a short
 * report to out. Takes the lock: -EWOULDBLOCK while cwtimed runs. A
 * record of unknown type returns -EBADMSG and is never repaired. */
int journal_check(const char *state_dir, bool repair, FILE *out,
    struct errbuf *reterr);

/* --- Pure encoding, exposed for the tests and the fuzz target. --- */

/* Encodes one record (framing of doc/journal-format.md 3) into out, which
 * must hold len + JOURNAL_RECORD_OVERHEAD bytes. Returns the record size,
 * or -E2BIG when len is 0 or above max_len, -EINVAL for type 0. */
ssize_t journal_record_encode(uint64_t salt, uint16_t type, uint64_t seq,
    const void *payload, size_t len, size_t max_len, uint8_t *out);

/* A decoded record: points into the buffer it came from. */
struct journal_record_view {
	uint16_t type;
	uint16_t flags;
	uint64_t seq;
	const uint8_t *payload;
	size_t len;
	size_t size; /* whole record, framing included */
};

enum journal_decode_result {
	JOURNAL_DECODE_OK = 0,    /* valid with this salt (any seq, any type) */
	JOURNAL_DECODE_END,       /* 16 zero bytes, or fewer than 16 zeros left */
	JOURNAL_DECODE_INVALID,   /* bad length, flags, type 0, short or CRC */
};

/* Decodes the record at buf[0..avail) with salt. Does not check seq or
 * whether the type is known. Pure. */
enum journal_decode_result journal_record_decode(uint64_t salt,
    const uint8_t *buf, size_t avail, size_t max_len,
    struct journal_record_view *ret);
