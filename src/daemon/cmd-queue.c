/*
 * cmd-queue.c - the queue sub-verbs and flush (RELIABILITY.md 4.2):
 * "queue.retry", "queue.edit", "queue.drop", "queue.pause",
 * "queue.resume" and "flush". The read-only "queue" listing and "status"
 * live in cmd-timer.c.
 *
 * Entries are named by a unique prefix of their UUID. Every change is a
 * journal record (journal first, then state, then reply); while the
 * record commits, the entry is claimed from the submitter, so no attempt
 * can start between the check and the commit. An entry whose attempt is
 * in flight or unknown answers entry-busy to edit and drop.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "common/cleanup.h"
#include "common/errcode.h"
#include "common/jsonutil.h"
#include "common/proto.h"
#include "core/entry.h"
#include "core/outbox.h"
#include "core/records.h"
#include "daemon/clocksrc.h"
#include "daemon/commands.h"
#include "daemon/daemon.h"
#include "daemon/submitter.h"

/* The entry named by the "id" argument: a UUID prefix (a string, or an
 * integer when cwtimectl parsed an all-digit prefix as a record id).
 * Fails the request and returns NULL when none or several match. */
static struct outbox_entry *
find_entry(struct request *req)
{
	struct daemon *d = request_daemon(req);
	const struct outbox *o = &d->state.outbox;
	json_object *v = request_arg(req, "id");
	struct outbox_entry *found = NULL;
	char prefix[ENTRY_UUID_LEN];
	size_t len, n;

	if (v && json_object_is_type(v, json_type_int)) {
		snprintf(prefix, sizeof(prefix), "%" PRId64,
		    json_object_get_int64(v));
	} else if (v && json_object_is_type(v, json_type_string)) {
		snprintf(
		    prefix, sizeof(prefix), "%s", json_object_get_string(v));
	} else {
		request_failf(req, ERR_BAD_ARGUMENT, "id",
		    "an entry id is a UUID prefix");
		return NULL;
	}
	len = strlen(prefix);
	for (size_t i = 0; i < len; i++) {
		if (prefix[i] >= 'A' && prefix[i] <= 'F') {
			prefix[i] = (char) (prefix[i] - 'A' + 'a');
		}
	}
	if (len == 0 || len != strspn(prefix, "0123456789abcdef-")) {
		request_failf(req, ERR_BAD_ARGUMENT, "id",
		    "'%s' is not a UUID prefix", prefix);
		return NULL;
	}
	n = outbox_find_prefix(o, prefix, len, &found);
	if (n == 0) {
		request_failf(req, ERR_NO_SUCH_ENTRY, "id",
		    "no queued entry has an id starting with '%s'", prefix);
		return NULL;
	}
	if (n > 1) {
		request_failf(req, ERR_BAD_ARGUMENT, "id",
		    "'%s' matches %zu entries; give more of the id", prefix, n);
		return NULL;
	}
	return found;
}

/* The entry as replies show it. */
static json_object *
entry_json(const struct outbox_entry *e)
{
	json_object *o = json_object_new_object();
	int r = o ? 0 : -ENOMEM;

	if (r == 0) {
		r = jsonutil_add(o, "id", json_object_new_string(e->uuid));
	}
	if (r == 0) {
		r = jsonutil_add(o, "state",
		    json_object_new_string(outbox_state_name(e->state)));
	}
	if (r == 0) {
		r = jsonutil_add(
		    o, "attempts", json_object_new_int64(e->attempts));
	}
	if (r == 0 && e->remote_id > 0) {
		r = jsonutil_add(
		    o, "remote_id", json_object_new_int64(e->remote_id));
	}
	if (r == 0) {
		r = jsonutil_add(o, "body", json_object_get(e->body));
	}
	if (r == 0 && e->last_error) {
		r = jsonutil_add(o, "error", json_object_get(e->last_error));
	}
	if (r < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Claims the entry until the request is freed (committed or failed). */
struct claim {
	struct daemon *d;
	char uuid[ENTRY_UUID_LEN];
};

static void
claim_free(void *p)
{
	struct claim *c = p;

	submitter_unclaim(c->d->submitter, c->uuid);
	free(c);
}

static bool
claim(struct request *req, const struct outbox_entry *e)
{
	struct daemon *d = request_daemon(req);
	struct claim *c;

	if (!submitter_claim(d->submitter, e->uuid)) {
		request_failf(req, ERR_ENTRY_BUSY, "id",
		    "entry %s has a submission in flight; try again when it "
		    "is known",
		    e->uuid);
		return false;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		submitter_unclaim(d->submitter, e->uuid);
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return false;
	}
	c->d = d;
	snprintf(c->uuid, sizeof(c->uuid), "%s", e->uuid);
	request_set_data(req, c, claim_free);
	return true;
}

static json_object *
by_payload(const char *uuid)
{
	json_object *p = json_object_new_object();

	if (!p || jsonutil_add(p, "uuid", json_object_new_string(uuid)) < 0 ||
	    jsonutil_add(p, "by", json_object_new_string("user")) < 0 ||
	    jsonutil_add(p, "at",
		json_object_new_int64(
		    clocksrc_real()->wall_s(clocksrc_real()->userdata))) < 0) {
		json_object_put(p);
		return NULL;
	}
	return p;
}

static void
reply_entry(struct request *req)
{
	struct daemon *d = request_daemon(req);
	struct claim *c = request_data(req);
	const struct outbox_entry *e =
	    c ? outbox_find(&d->state.outbox, c->uuid) : NULL;
	json_object *o = e ? entry_json(e) : json_object_new_object();

	request_reply(req, o);
}

static bool
journal_one(struct request *req, uint16_t type, json_object *p)
{
	struct errbuf err;

	errbuf_clear(&err);
	if (!p) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return false;
	}
	if (request_journal(req, type, p, false, &err) < 0) {
		request_fail(req, &err);
		return false;
	}
	return true;
}

/* ---- queue.retry ---- */

static void
cmd_queue_retry(struct request *req)
{
	struct daemon *d = request_daemon(req);
	struct outbox_entry *e = find_entry(req);
	CLEANUP_JSON json_object *p = NULL;

	if (!e) {
		return;
	}
	switch (e->state) {
	case OUTBOX_PENDING:
	case OUTBOX_UNKNOWN:
	case OUTBOX_ATTEMPT_STARTED:
		/* waiting: only the backoff is cleared; an unknown outcome
		 * is still reconciled first, after the settle delay */
		submitter_retry_now(d->submitter, e->uuid);
		request_reply(req, entry_json(e));
		return;
	case OUTBOX_REJECTED:
		break;
	default:
		request_failf(req, ERR_BAD_ARGUMENT, "id",
		    "entry %s is %s; nothing to retry", e->uuid,
		    outbox_state_name(e->state));
		return;
	}
	if (!claim(req, e)) {
		return;
	}
	p = by_payload(e->uuid);
	if (!journal_one(req, JOURNAL_REC_REQUEUED, p)) {
		return;
	}
	request_commit(req, reply_entry);
}

/* ---- queue.edit ---- */

/* The words of --add-to and --email (as for start, cmd-timer.c) and the
 * entry_fields_from_args flag each one sets (addToDetailDescriptionFlag
 * and so on; connectwise-api.md 3). */
static const struct {
	const char *option, *word, *key;
} flag_words[] = {
    {"add_to", "detail", "add_to_detail"},
    {"add_to", "internal", "add_to_internal"},
    {"add_to", "resolution", "add_to_resolution"},
    {"email", "resource", "email_resource"},
    {"email", "contact", "email_contact"},
    {"email", "cc", "email_cc_flag"},
};

/* --add-to LIST / --email LIST on an edit: the comma-separated words
 * name exactly the flags that are set afterwards; the option's other
 * flags are cleared (so that an edit can also take one away, and
 * `--add-to ''` clears them all). Case-insensitive, like start. */
static int
flags_arg(struct request *req, const char *option, json_object *a,
    struct errbuf *reterr)
{
	const char *list = request_arg_string(req, option), *p;
	int r = 0;

	if (!list) {
		return 0;
	}
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(flag_words); i++) {
		if (strcmp(flag_words[i].option, option) == 0) {
			r = jsonutil_add(
			    a, flag_words[i].key, json_object_new_boolean(0));
		}
	}
	for (p = list; r == 0 && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t) (comma - p) : strlen(p), i;

		for (i = 0; i < ARRAY_SIZE(flag_words); i++) {
			if (strcmp(flag_words[i].option, option) == 0 &&
			    strlen(flag_words[i].word) == len &&
			    strncasecmp(flag_words[i].word, p, len) == 0) {
				break;
			}
		}
		if (i == ARRAY_SIZE(flag_words)) {
			r = errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
			    "'%.*s' is not one of %s",
			    (int) (len > 40 ? 40 : len), p,
			    strcmp(option, "add_to") == 0
				? "detail, internal, resolution"
				: "resource, contact, cc");
			errbuf_set_field(reterr, option);
			return r;
		}
		r = jsonutil_add(
		    a, flag_words[i].key, json_object_new_boolean(1));
		p += len + (comma ? 1 : 0);
	}
	return r;
}

/* cwtimectl's option names -> entry_fields_from_args' keys. */
static int
edit_args(struct request *req, json_object *a, struct errbuf *reterr)
{
	static const char *const map[][2] = {
	    {"work_type", "work_type"},
	    {"role", "work_role"},
	    {"billing", "billable"},
	    {"notes", "notes"},
	    {"internal_notes", "internal_notes"},
	    {"email_cc", "email_cc"},
	    {"company", "company"},
	    {"member", "member"},
	};
	int64_t id;
	int r = 0;

	for (size_t i = 0; r == 0 && i < sizeof(map) / sizeof(map[0]); i++) {
		const char *v = request_arg_string(req, map[i][0]);

		if (v) {
			r = jsonutil_add(
			    a, map[i][1], json_object_new_string(v));
		}
	}
	if (r == 0 && request_arg_int(req, "agreement", &id)) {
		char buf[32];

		snprintf(buf, sizeof(buf), "%" PRId64, id);
		r = jsonutil_add(a, "agreement", json_object_new_string(buf));
	}
	if (r == 0) {
		r = flags_arg(req, "add_to", a, reterr);
	}
	if (r == 0) {
		r = flags_arg(req, "email", a, reterr);
	}
	return r;
}

static void
cmd_queue_edit(struct request *req)
{
	struct outbox_entry *e = find_entry(req);
	CLEANUP_JSON json_object *a = json_object_new_object();
	CLEANUP_JSON json_object *body = NULL;
	CLEANUP_JSON json_object *p = NULL;
	struct entry cur, upd;
	struct errbuf err;
	bool requeue;
	int r;

	if (!e) {
		return;
	}
	if (e->state == OUTBOX_ATTEMPT_STARTED || e->state == OUTBOX_UNKNOWN) {
		request_failf(req, ERR_ENTRY_BUSY, "id",
		    "entry %s is being submitted (%s); its fate must be known "
		    "before it can change",
		    e->uuid, outbox_state_name(e->state));
		return;
	}
	if (e->state != OUTBOX_PENDING && e->state != OUTBOX_REJECTED) {
		request_failf(req, ERR_BAD_ARGUMENT, "id",
		    "entry %s is %s; use 'entry edit' for submitted entries",
		    e->uuid, outbox_state_name(e->state));
		return;
	}
	requeue = e->state == OUTBOX_REJECTED;
	errbuf_clear(&err);
	entry_init(&cur);
	entry_init(&upd);
	r = a ? edit_args(req, a, &err) : -ENOMEM;
	if (r == 0) {
		r = entry_from_cw_json(e->body, &cur, &err);
	}
	if (r == 0) {
		r = entry_fields_from_args(a, &upd, &err);
	}
	if (r == 0) {
		r = entry_merge(&cur, &upd);
	}
	if (r == 0) {
		snprintf(cur.uuid, sizeof(cur.uuid), "%s", e->uuid);
		r = entry_to_cw_json(&cur, &body, &err);
	}
	entry_fini(&cur);
	entry_fini(&upd);
	if (r < 0) {
		if (err.code == ERR_OK) {
			errbuf_set(&err, ERR_INTERNAL, r, "out of memory");
		}
		if (strcmp(err.field, "work_role") == 0) {
			errbuf_set_field(&err, "role");
		} else if (strcmp(err.field, "billable") == 0) {
			errbuf_set_field(&err, "billing");
		} else if (strcmp(err.field, "emailCc") == 0) {
			/* emailCcFlag without addresses */
			errbuf_set_field(&err, "email_cc");
		}
		request_fail(req, &err);
		return;
	}
	if (!claim(req, e)) {
		return;
	}
	p = json_object_new_object();
	if (!p ||
	    jsonutil_add(p, "uuid", json_object_new_string(e->uuid)) < 0 ||
	    jsonutil_add(p, "body", json_object_get(body)) < 0) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	if (!journal_one(req, JOURNAL_REC_ENTRY_EDITED, p)) {
		return;
	}
	if (requeue) {
		CLEANUP_JSON json_object *q = by_payload(e->uuid);

		/* a re-queue after any attempt starts with a read
		 * (outbox: REQUEUED -> UNKNOWN when ever attempted) */
		if (!journal_one(req, JOURNAL_REC_REQUEUED, q)) {
			return;
		}
	}
	request_commit(req, reply_entry);
}

/* ---- queue.drop ---- */

static void
cmd_queue_drop(struct request *req)
{
	struct outbox_entry *e = find_entry(req);
	CLEANUP_JSON json_object *p = NULL;

	if (!e) {
		return;
	}
	if (e->state == OUTBOX_ATTEMPT_STARTED || e->state == OUTBOX_UNKNOWN) {
		request_failf(req, ERR_ENTRY_BUSY, "id",
		    "entry %s is being submitted (%s); it cannot be dropped "
		    "before its fate is known",
		    e->uuid, outbox_state_name(e->state));
		return;
	}
	if (e->state != OUTBOX_PENDING && e->state != OUTBOX_REJECTED) {
		request_failf(req, ERR_BAD_ARGUMENT, "id",
		    "entry %s is %s; nothing to drop", e->uuid,
		    outbox_state_name(e->state));
		return;
	}
	if (!request_arg_bool(req, "yes", false)) {
		request_failf(req, ERR_CONFIRM_NEEDED, "yes",
		    "dropping entry %s loses its time; add --yes", e->uuid);
		return;
	}
	if (!claim(req, e)) {
		return;
	}
	p = by_payload(e->uuid);
	if (!journal_one(req, JOURNAL_REC_DISCARDED, p)) {
		return;
	}
	request_commit(req, reply_entry);
}

/* ---- queue.pause, queue.resume ---- */

static void
reply_submission(struct request *req)
{
	struct daemon *d = request_daemon(req);
	json_object *o = json_object_new_object();

	if (o) {
		(void) jsonutil_add(
		    o, "submission", submitter_status_json(d->submitter));
		(void) jsonutil_add(o, "queue",
		    submitter_queue_json(d->submitter, &d->state.outbox));
	}
	request_reply(req, o);
}

static void
cmd_queue_pause(struct request *req)
{
	struct daemon *d = request_daemon(req);
	CLEANUP_JSON json_object *p = NULL;

	if (d->state.outbox.paused) {
		reply_submission(req);
		return;
	}
	p = json_object_new_object();
	if (p &&
	    jsonutil_add(p, "reason",
		json_object_new_string(SUBMITTER_USER_PAUSE_REASON)) < 0) {
		json_object_put(TAKE_PTR(p));
	}
	if (!journal_one(req, JOURNAL_REC_QUEUE_PAUSED, p)) {
		return;
	}
	request_commit(req, reply_submission);
}

static void
cmd_queue_resume(struct request *req)
{
	struct daemon *d = request_daemon(req);
	CLEANUP_JSON json_object *p = NULL;

	if (!d->state.outbox.paused) {
		submitter_retry_now(d->submitter, NULL);
		reply_submission(req);
		return;
	}
	p = json_object_new_object();
	if (!journal_one(req, JOURNAL_REC_QUEUE_RESUMED, p)) {
		return;
	}
	submitter_retry_now(d->submitter, NULL);
	request_commit(req, reply_submission);
}

/* ---- flush ---- */

struct flush_req {
	struct request *req;
	char (*uuids)[ENTRY_UUID_LEN];
	size_t n;
};

static void
flush_req_free(void *p)
{
	struct flush_req *f = p;

	free(f->uuids);
	free(f);
}

/* The reply must fit one line (PROTO_LINE_MAX, 64 KiB): everything but
 * the lists (counts, "submission", the array brackets) takes well under
 * this much. */
#define FLUSH_REPLY_BUDGET (PROTO_LINE_MAX - 4096)

static size_t
json_len(json_object *o)
{
	size_t len = 0;

	if (!json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PLAIN, &len)) {
		return SIZE_MAX; /* ENOMEM: treat as too long */
	}
	return len;
}

/* Adds one (owned) item to arr if it fits the budget; else counts it in
 * *omitted and, once one did not fit, lists nothing more (the order
 * stays the outbox's). */
static int
add_within(json_object *arr, json_object *item, size_t *used, size_t *omitted)
{
	size_t len;

	if (!item) {
		return -ENOMEM;
	}
	len = *used < FLUSH_REPLY_BUDGET ? json_len(item) + 1 : SIZE_MAX;
	if (len > FLUSH_REPLY_BUDGET - *used) {
		json_object_put(item);
		*used = FLUSH_REPLY_BUDGET;
		(*omitted)++;
		return 0;
	}
	if (json_object_array_add(arr, item) < 0) {
		json_object_put(item);
		return -ENOMEM;
	}
	*used += len;
	return 0;
}

/* Per entry that was waiting when flush began: its state now. Entries
 * that still need the user (pending, unknown, rejected: with the error)
 * are listed in full under "entries"; submitted ones compactly under
 * "submitted_entries" as [uuid, ConnectWise id] pairs, which is what a
 * thousand-entry flush is mostly made of (it used to list every entry
 * in full and failed with `internal` past about 150). Whatever would
 * pass the line's budget is counted in "omitted" instead: the counts
 * always cover every entry, and `cwtimectl queue` lists the rest. */
static void
flush_reply(struct request *req)
{
	struct daemon *d = request_daemon(req);
	struct flush_req *f = request_data(req);
	CLEANUP_JSON json_object *o = json_object_new_object();
	json_object *arr = json_object_new_array();
	json_object *done = json_object_new_array();
	size_t counts[OUTBOX_STATE_COUNT] = {0};
	size_t used = 0, omitted = 0;
	int r = o && arr && done ? 0 : -ENOMEM;

	/* first the entries that need attention, so that they are what
	 * the budget keeps */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; r == 0 && f && i < f->n; i++) {
			const struct outbox_entry *e =
			    outbox_find(&d->state.outbox, f->uuids[i]);
			/* a submitted entry the outbox already forgot
			 * (OUTBOX_KEEP_DONE): the submitter kept its id */
			int64_t id = e ? e->remote_id
				       : submitter_flush_remote_id(
					     d->submitter, f->uuids[i]);
			bool submitted =
			    e ? e->state == OUTBOX_SUBMITTED : id > 0;
			json_object *x;

			if ((!e && id <= 0) || submitted != (pass == 1)) {
				continue; /* dropped by the user meanwhile */
			}
			counts[e ? e->state : OUTBOX_SUBMITTED]++;
			if (pass == 0) {
				r = add_within(
				    arr, entry_json(e), &used, &omitted);
				continue;
			}
			x = json_object_new_array_ext(2);
			if (x &&
			    (json_object_array_add(
				 x, json_object_new_string(f->uuids[i])) < 0 ||
				json_object_array_add(
				    x, json_object_new_int64(id)) < 0)) {
				json_object_put(x);
				x = NULL;
			}
			r = add_within(done, x, &used, &omitted);
		}
	}
	if (r == 0) {
		r = jsonutil_add(o, "entries", TAKE_PTR(arr));
	}
	if (r == 0) {
		r = jsonutil_add(o, "submitted_entries", TAKE_PTR(done));
	}
	for (int i = 0; r == 0 && i < OUTBOX_STATE_COUNT; i++) {
		if (i == OUTBOX_DISCARDED) {
			continue;
		}
		r = jsonutil_add(o,
		    i == OUTBOX_ATTEMPT_STARTED
			? "attempting"
			: outbox_state_name((enum outbox_state) i),
		    json_object_new_int64((int64_t) counts[i]));
	}
	if (r == 0 && omitted > 0) {
		r = jsonutil_add(
		    o, "omitted", json_object_new_int64((int64_t) omitted));
	}
	if (r == 0) {
		r = jsonutil_add(
		    o, "submission", submitter_status_json(d->submitter));
	}
	json_object_put(arr);
	json_object_put(done);
	if (r < 0) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	request_reply(req, TAKE_PTR(o));
}

static void
on_flushed(void *userdata)
{
	struct flush_req *f = userdata;

	flush_reply(f->req);
}

static void
cmd_flush(struct request *req)
{
	struct daemon *d = request_daemon(req);
	const struct outbox *o = &d->state.outbox;
	struct flush_req *f = calloc(1, sizeof(*f));
	int r;

	if (f) {
		f->uuids = calloc(o->n_entries + 1, sizeof(*f->uuids));
	}
	if (!f || !f->uuids) {
		if (f) {
			free(f);
		}
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	f->req = req;
	for (size_t i = 0; i < o->n_entries; i++) {
		const struct outbox_entry *e = o->entries[i];

		if (e->state == OUTBOX_PENDING ||
		    e->state == OUTBOX_ATTEMPT_STARTED ||
		    e->state == OUTBOX_UNKNOWN) {
			memcpy(f->uuids[f->n++], e->uuid, ENTRY_UUID_LEN);
		}
	}
	request_set_data(req, f, flush_req_free);
	if (!d->submitter || f->n == 0) {
		flush_reply(req);
		return;
	}
	r = submitter_flush(d->submitter, on_flushed, f);
	if (r < 0) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	request_defer(req);
}

/* ---- the table ---- */

static const struct param_spec id_params[] = {
    {"id", PARAM_ANY, PARAM_REQUIRED},
    {NULL, 0, 0},
};

static const struct param_spec drop_params[] = {
    {"id", PARAM_ANY, PARAM_REQUIRED},
    {"yes", PARAM_BOOL, 0},
    {NULL, 0, 0},
};

static const struct param_spec edit_params[] = {
    {"id", PARAM_ANY, PARAM_REQUIRED},
    {"work_type", PARAM_STRING, 0},
    {"role", PARAM_STRING, 0},
    {"billing", PARAM_STRING, 0},
    {"notes", PARAM_STRING, 0},
    {"internal_notes", PARAM_STRING, 0},
    {"agreement", PARAM_INT, 0},
    {"add_to", PARAM_STRING, 0},
    {"email", PARAM_STRING, 0},
    {"email_cc", PARAM_STRING, 0},
    {"company", PARAM_STRING, 0},
    {"member", PARAM_STRING, 0},
    {NULL, 0, 0},
};

static const struct cmd queue_cmds[] = {
    /* keep sorted by name */
    {"flush", cmd_flush, 0, NULL},
    {"queue.drop", cmd_queue_drop, CMD_MUTATES, drop_params},
    {"queue.edit", cmd_queue_edit, CMD_MUTATES, edit_params},
    {"queue.pause", cmd_queue_pause, CMD_MUTATES, NULL},
    {"queue.resume", cmd_queue_resume, CMD_MUTATES, NULL},
    {"queue.retry", cmd_queue_retry, CMD_MUTATES, id_params},
};

const struct cmd_table cmd_queue_table = {
    queue_cmds,
    sizeof(queue_cmds) / sizeof(queue_cmds[0]),
};
