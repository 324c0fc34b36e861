/*
 * submitter.c - exactly-once submission of the outbox to ConnectWise
 * (RELIABILITY.md 4 and 5, connectwise-api.md 11 and 12).
 *
 * Invariants:
 * - a POST leaves only after its ATTEMPT_STARTED record is durable (the
 *   POST is started from that record's commit callback);
 * - an UNKNOWN entry is posted again only after two reads said "absent":
 *   the first no earlier than t0 + settle delay, the second right before
 *   the new POST, whose RECONCILED(absent) and ATTEMPT_STARTED records
 *   share one commit;
 * - at most post_window POSTs at a time (a slot covers the second read,
 *   the commit and the request); the window is 1 until POSTs succeed,
 *   grows by one per 201 up to max_in_flight, and falls back to 1 on any
 *   other outcome, so a failing server sees one POST at a time (doc/
 *   design.md, departures: RELIABILITY.md 4.2 rule 4 asks for one);
 *   at most one request or record in flight per entry;
 * - the outbox is never changed here: every change is a journal record,
 *   applied by the journal; in-memory data (backoff, breaker, pacer,
 *   mobileGuid support) is advisory and may be lost at a restart;
 * - idle is idle: the one timer is armed only when something is due.
 *
 * Must never: post an entry twice without proof of absence, adopt a
 * match it cannot prove its own, drop an entry, or log secrets.
 */
#define _GNU_SOURCE 1 /* asprintf */

#include "daemon/submitter.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "common/errcode.h"
#include "common/jsonutil.h"
#include "common/timeparse.h"
#include "core/backoff.h"
#include "core/classify.h"
#include "core/entry.h"
#include "core/outbox.h"
#include "core/records.h"
#include "daemon/clocksrc.h"
#include "daemon/cmd-ref.h"
#include "daemon/cwapi.h"
#include "daemon/daemon.h"
#include "daemon/http.h"
#include "daemon/journal.h"
#include "daemon/log.h"

#define NBUCKETS 1024

enum tri { TRI_UNKNOWN, TRI_NO, TRI_YES };

enum op {
	OP_NONE,
	OP_POST,   /* ATTEMPT_STARTED committing, or the POST in flight */
	OP_RECON1, /* the first read after the settle delay */
	OP_RECON2, /* the read right before a new POST */
	OP_RECORD, /* a result record is committing */
};

/* Per-entry data that is not journaled. */
struct meta {
	struct meta *next; /* hash chain */
	struct submitter *owner;
	char uuid[ENTRY_UUID_LEN];
	int64_t due_ms; /* backoff: not before */
	unsigned fails; /* consecutive transient failures */
	bool busy;	/* a record or a call in flight */
	enum op op;
	int64_t call;	  /* cwapi call id, 0 when none */
	bool absent_once; /* the first read said absent */
	bool fallback;	  /* use the natural key for the next read */
	bool probe;	  /* this request is the breaker's probe */
	bool warned;	  /* the "pending for a day" warning was logged */
	uint32_t tries;	  /* completed requests (for flush) */
	int64_t first_seen_ms;
	int64_t remote_id; /* from a 201 or a match, for the flush report */
};

/* A journal done callback's context; orphaned (s = NULL) at close. */
struct ticket {
	struct ticket *prev, *next;
	struct submitter *s;
	char uuid[ENTRY_UUID_LEN];
	void (*fn)(struct submitter *s, struct meta *m, int status);
};

struct flush_item {
	char uuid[ENTRY_UUID_LEN];
	uint32_t tries;
	int64_t remote_id; /* > 0 once its SUBMITTED committed */
};

struct flush {
	struct flush *next;
	submitter_flush_fn *cb;
	void *userdata;
	int64_t deadline_ms;
	struct flush_item *items; /* sorted by uuid (bsearch) */
	size_t n;
};

struct submitter {
	uv_loop_t *loop;
	uv_timer_t timer;
	bool closing;
	bool armed;
	int64_t armed_at_ms; /* absolute, on the injected clock */

	struct outbox *o;
	struct cwapi *api;
	struct submitter_config cfg;
	struct submitter_ops ops;
	const struct clocksrc *clock;

	struct meta *buckets[NBUCKETS];
	struct ticket *tickets;
	struct flush *flushes;
	const struct flush *answering; /* the flush whose cb runs now */

	unsigned posts_out;    /* POST slots taken (see post_slot_free) */
	unsigned post_window;  /* 1 .. max_in_flight */
	int64_t hold_until_ms; /* 429: the whole queue waits */
	struct backoff_breaker br;
	struct backoff_pacer pacer;
	enum backoff_breaker_state last_br_state;

	enum tri guid_stored, guid_filter;
	int64_t learned_member_id; /* member of a 201 whose body had none */
	int64_t learn_call;	   /* GET of a submitted entry (learning) */
	int64_t learn_after_ms;	   /* no new learning GET before this */
	int64_t guid_probe_call;
	/* the probe "does ConnectWise filter on mobileGuid" waits here for
	 * the pacer (run() sends it): every request counts against
	 * max_rate */
	char guid_probe_uuid[ENTRY_UUID_LEN];
	int64_t api_probe_call; /* pause probe or breaker probe */
	bool api_probe_is_breaker;
	int64_t paused_since_ms; /* -1: not seen paused */
	bool pause_pending;	 /* a QUEUE_PAUSED record is committing */
	bool resume_pending;
	int64_t gc_at_ms;   /* next sweep of stale metadata */
	int64_t warn_at_ms; /* next look for day-old entries */
};

/* ---- small helpers ---- */

static int64_t
now_ms(const struct submitter *s)
{
	return clocksrc_mono_ms(s->clock);
}

static int64_t
wall_s(const struct submitter *s)
{
	return s->clock->wall_s(s->clock->userdata);
}

static uint64_t
rnd64(const struct submitter *s)
{
	uint64_t v;

	s->clock->random((uint8_t *) &v, sizeof(v), s->clock->userdata);
	return v;
}

static unsigned
hash_uuid(const char *u)
{
	uint32_t h = 2166136261u;

	for (; *u; u++) {
		h = (h ^ (uint8_t) *u) * 16777619u;
	}
	return h % NBUCKETS;
}

static struct meta *
meta_find(const struct submitter *s, const char *uuid)
{
	for (struct meta *m = s->buckets[hash_uuid(uuid)]; m; m = m->next) {
		if (strcmp(m->uuid, uuid) == 0) {
			return m;
		}
	}
	return NULL;
}

static struct meta *
meta_get(struct submitter *s, const char *uuid)
{
	struct meta *m = meta_find(s, uuid);
	unsigned h;

	if (m) {
		return m;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		return NULL;
	}
	snprintf(m->uuid, sizeof(m->uuid), "%s", uuid);
	m->owner = s;
	m->first_seen_ms = now_ms(s);
	h = hash_uuid(uuid);
	m->next = s->buckets[h];
	s->buckets[h] = m;
	return m;
}

/* Forgets one entry's metadata (not busy, no call out). */
static void
meta_del(struct submitter *s, struct meta *m)
{
	struct meta **pp = &s->buckets[hash_uuid(m->uuid)];

	while (*pp && *pp != m) {
		pp = &(*pp)->next;
	}
	if (*pp) {
		*pp = m->next;
		free(m);
	}
}

/* Forgets the metadata of entries that are finished or gone. A sweep of
 * every entry: run() does it at most every META_GC_MS; a finished entry's
 * metadata normally goes at once (on_record_committed). */
#define META_GC_MS 10000
static void
meta_gc(struct submitter *s)
{
	for (unsigned h = 0; h < NBUCKETS; h++) {
		struct meta **pp = &s->buckets[h];

		while (*pp) {
			struct meta *m = *pp;
			struct outbox_entry *e = outbox_find(s->o, m->uuid);

			if (!m->busy &&
			    (!e || e->state == OUTBOX_SUBMITTED ||
				e->state == OUTBOX_DISCARDED)) {
				*pp = m->next;
				free(m);
			} else {
				pp = &m->next;
			}
		}
	}
}

static void
changed(struct submitter *s)
{
	if (s->ops.changed && !s->closing) {
		s->ops.changed(s->ops.ctx);
	}
}

static bool
guid_trusted(const struct submitter *s)
{
	return s->guid_stored == TRI_YES && s->guid_filter == TRI_YES;
}

/* ---- the journal ---- */

static void
on_ticket_done(void *userdata, int status, const struct errbuf *err)
{
	struct ticket *t = userdata;
	struct submitter *s = t->s;

	if (s) {
		if (t->prev) {
			t->prev->next = t->next;
		} else {
			s->tickets = t->next;
		}
		if (t->next) {
			t->next->prev = t->prev;
		}
		if (status < 0) {
			log_warning_errno(status,
			    "journal commit for entry %s "
			    "failed: %s; will try again",
			    t->uuid[0] ? t->uuid : "(queue)",
			    err && err->msg[0] ? err->msg : "%m");
		}
		if (t->fn) {
			t->fn(s, t->uuid[0] ? meta_find(s, t->uuid) : NULL,
			    status);
		}
	}
	free(t);
}

/* Appends records; the last one carries fn. Returns 0 or a negative
 * errno (logged). types/payloads have n elements. */
static int
journal(struct submitter *s, const char *uuid, size_t n, const uint16_t *types,
    json_object *const *payloads,
    void (*fn)(struct submitter *, struct meta *, int))
{
	struct ticket *t = calloc(1, sizeof(*t));
	struct errbuf e;
	int r = 0;

	if (!t) {
		return log_warning_errno(-ENOMEM, "cannot journal: %m");
	}
	t->s = s;
	t->fn = fn;
	snprintf(t->uuid, sizeof(t->uuid), "%s", uuid ? uuid : "");
	for (size_t i = 0; i < n; i++) {
		bool last = i + 1 == n;

		errbuf_clear(&e);
		r = s->ops.append(s->ops.ctx, types[i], payloads[i],
		    last ? on_ticket_done : NULL, last ? t : NULL, &e);
		if (r < 0) {
			/* the earlier ones still commit: only a prefix of a
			 * step that is valid on its own is ever appended
			 * first (RECONCILED before SUBMITTED/ATTEMPT) */
			log_warning_errno(r,
			    "cannot journal %s for entry %s: "
			    "%s",
			    records_type_name(types[i]),
			    uuid ? uuid : "(queue)", e.msg[0] ? e.msg : "%m");
			free(t);
			return r;
		}
	}
	t->next = s->tickets;
	if (s->tickets) {
		s->tickets->prev = t;
	}
	s->tickets = t;
	return 0;
}

static json_object *
payload_uuid(const char *uuid)
{
	json_object *p = json_object_new_object();

	if (p && jsonutil_add(p, "uuid", json_object_new_string(uuid)) < 0) {
		json_object_put(p);
		return NULL;
	}
	return p;
}

/* ---- scheduling ---- */

static void run(struct submitter *s);

static void
on_timer(uv_timer_t *h)
{
	struct submitter *s = h->data;

	s->armed = false;
	run(s);
}

static void
arm(struct submitter *s, int64_t at_ms)
{
	int64_t now = now_ms(s);

	if (s->closing) {
		return;
	}
	if (at_ms == INT64_MAX) {
		if (s->armed) {
			(void) uv_timer_stop(&s->timer);
			s->armed = false;
		}
		return;
	}
	s->armed = true;
	s->armed_at_ms = at_ms;
	(void) uv_timer_start(
	    &s->timer, on_timer, at_ms > now ? (uint64_t) (at_ms - now) : 0, 0);
}

void
submitter_kick(struct submitter *s)
{
	if (!s || s->closing) {
		return;
	}
	/* never work inside the caller (a journal apply): next iteration */
	s->armed = true;
	s->armed_at_ms = now_ms(s);
	(void) uv_timer_start(&s->timer, on_timer, 0, 0);
}

void
submitter_on_record(struct submitter *s, uint16_t type)
{
	switch (type) {
	case JOURNAL_REC_TIMER_STOPPED:
	case JOURNAL_REC_ENTRY_QUEUED:
	case JOURNAL_REC_REQUEUED:
	case JOURNAL_REC_QUEUE_RESUMED:
	case JOURNAL_REC_QUEUE_PAUSED:
	case JOURNAL_REC_DISCARDED:
	case JOURNAL_REC_CHECKPOINT:
		submitter_kick(s);
		break;
	default:
		break;
	}
}

static uint64_t
backoff_for(struct submitter *s, struct meta *m, int64_t retry_after_ms)
{
	unsigned n = m->fails ? m->fails - 1 : 0;

	return backoff_retry_delay(n, s->cfg.backoff_base_ms,
	    s->cfg.backoff_cap_ms, retry_after_ms, rnd64(s), rnd64(s));
}

/* A request failed transiently: count it for the breaker. */
static void
breaker_failure(struct submitter *s)
{
	backoff_breaker_failure(&s->br, now_ms(s), rnd64(s));
	if (s->br.state != s->last_br_state) {
		if (s->br.state == BACKOFF_BREAKER_OPEN) {
			log_warning(
			    "ConnectWise is unreachable: %u failures in "
			    "a row; circuit breaker open, next probe in "
			    "%" PRId64 " ms",
			    s->br.failures ? s->br.failures : s->br.threshold,
			    s->br.half_open_at_ms - now_ms(s));
		}
		s->last_br_state = s->br.state;
		changed(s);
	}
}

static void
breaker_success(struct submitter *s)
{
	backoff_breaker_success(&s->br);
	if (s->br.state != s->last_br_state) {
		log_notice("ConnectWise answers again; circuit breaker closed");
		s->last_br_state = s->br.state;
		changed(s);
	}
}

static bool
is_transient(const struct cwapi_result *res)
{
	return res->cls == CLASSIFY_RETRY || res->cls == CLASSIFY_RETRY_AFTER ||
	    (res->cls == CLASSIFY_UNKNOWN &&
		(res->status == 0 || res->status >= 500));
}

static void on_pause_committed(struct submitter *s, struct meta *m, int status);

/* Records an account-wide pause (401, 403, 404 on a collection, TLS). */
static void
pause_queue(struct submitter *s, const char *why)
{
	CLEANUP_JSON json_object *p = json_object_new_object();
	uint16_t type = JOURNAL_REC_QUEUE_PAUSED;

	if (s->o->paused || s->pause_pending || !p ||
	    jsonutil_add(p, "reason", json_object_new_string(why)) < 0) {
		return;
	}
	log_warning("submission paused: %s; the queue resumes on 'cwtimectl "
		    "queue resume', a reload, or after an hourly probe",
	    why);
	if (journal(s, NULL, 1, &type, &p, on_pause_committed) == 0) {
		s->pause_pending = true;
	}
}

static void
pause_reason(const struct cwapi_result *res, char *buf, size_t size)
{
	if (res->status > 0) {
		snprintf(buf, size, "HTTP %d: %s", res->status,
		    res->err.msg[0] ? res->err.msg : "account-wide failure");
	} else {
		snprintf(buf, size, "TLS verification failed: %s",
		    res->detail ? res->detail : res->err.msg);
	}
}

/* ---- POST ---- */

/* A POST slot covers an entry from the second read (RECON2) or the
 * ATTEMPT_STARTED record to the POST's answer. */
static bool
post_slot_free(const struct submitter *s)
{
	return s->posts_out < s->post_window;
}

static void
post_slot_take(struct submitter *s)
{
	s->posts_out++;
}

static void
post_slot_give(struct submitter *s)
{
	if (s->posts_out > 0) {
		s->posts_out--;
	}
}

/* The outcome of a POST moves the window: a 201 lets one more POST out
 * at a time (up to max_in_flight), anything else goes back to one, so
 * that a server that refuses or fails sees one POST at a time. */
static void
post_window_after(struct submitter *s, bool created)
{
	uint32_t cap = s->pacer.max_in_flight ? s->pacer.max_in_flight : 1;

	if (!created) {
		s->post_window = 1;
	} else if (s->post_window < cap) {
		s->post_window++;
	}
}

static void on_post_done(const struct cwapi_result *res, void *userdata);
static void on_record_committed(
    struct submitter *s, struct meta *m, int status);

static void
release(struct submitter *s, struct meta *m, bool held_post)
{
	if (m) {
		m->busy = false;
		m->op = OP_NONE;
		m->call = 0;
		if (m->probe) {
			/* not answered: another probe may go */
			m->probe = false;
		}
	}
	if (held_post) {
		post_slot_give(s);
	}
	submitter_kick(s);
}

/* The POST body as sent: the outbox body, plus the [cwtimed:<uuid>]
 * marker in internalNotes while mobileGuid is not proven to work. */
static json_object *
body_to_send(struct submitter *s, const struct outbox_entry *e)
{
	json_object *b = NULL;
	char marker[64];
	const char *old;
	char *notes = NULL;

	if (json_object_deep_copy(e->body, &b, NULL) < 0 || !b) {
		return NULL;
	}
	if (guid_trusted(s)) {
		return b;
	}
	snprintf(marker, sizeof(marker), "[cwtimed:%s]", e->uuid);
	old = jsonutil_str(b, "internalNotes");
	if (old && strstr(old, marker)) {
		return b;
	}
	if (old && old[0]) {
		if (asprintf(&notes, "%s %s", old, marker) < 0) {
			notes = NULL;
		}
	} else {
		notes = strdup(marker);
	}
	if (!notes ||
	    jsonutil_add(b, "internalNotes", json_object_new_string(notes)) <
		0) {
		free(notes);
		json_object_put(b);
		return NULL;
	}
	free(notes);
	return b;
}

static void
attempt_failed_local(struct submitter *s, struct meta *m, int r)
{
	CLEANUP_JSON json_object *p = payload_uuid(m->uuid);
	uint16_t type = JOURNAL_REC_ATTEMPT_FAILED;
	char detail[128];

	snprintf(detail, sizeof(detail), "request not sent: %s", strerror(-r));
	log_warning("entry %s: %s", m->uuid, detail);
	m->fails++;
	m->due_ms = now_ms(s) + (int64_t) backoff_for(s, m, -1);
	if (!p ||
	    jsonutil_add(p, "class", json_object_new_string("local")) < 0 ||
	    jsonutil_add(p, "detail", json_object_new_string(detail)) < 0 ||
	    journal(s, m->uuid, 1, &type, &p, on_record_committed) < 0) {
		/* the entry stays ATTEMPT_STARTED in memory: after a
		 * restart it is UNKNOWN and reconciled; safe, never lost */
		m->op = OP_RECORD;
		post_slot_give(s);
		return;
	}
	m->op = OP_RECORD;
	post_slot_give(s);
}

/* ATTEMPT_STARTED is durable: now, and only now, the POST may go. */
static void
on_attempt_committed(struct submitter *s, struct meta *m, int status)
{
	struct outbox_entry *e;
	CLEANUP_JSON json_object *body = NULL;
	int64_t call;

	if (!m) {
		return;
	}
	if (status < 0) {
		backoff_pacer_done(&s->pacer);
		m->fails++;
		m->due_ms = now_ms(s) + (int64_t) backoff_for(s, m, -1);
		if (m->probe) {
			backoff_breaker_probe_dropped(&s->br);
		}
		release(s, m, true);
		return;
	}
	e = outbox_find(s->o, m->uuid);
	if (!e || e->state != OUTBOX_ATTEMPT_STARTED || !s->api) {
		/* cannot happen while we hold the entry; stay safe: leave
		 * it to reconciliation (it is ATTEMPT_STARTED on disk) */
		backoff_pacer_done(&s->pacer);
		attempt_failed_local(s, m, -ENOTCONN);
		return;
	}
	body = body_to_send(s, e);
	call = body ? cwapi_post_entry(s->api, body, on_post_done, m) : -ENOMEM;
	if (call < 0) {
		backoff_pacer_done(&s->pacer);
		attempt_failed_local(s, m, (int) call);
		return;
	}
	m->call = call;
}

/* Journals ATTEMPT_STARTED (after RECONCILED(absent) when given: then
 * the caller's RECON2 read already holds the POST slot); the POST goes
 * from the commit callback. */
static void
start_attempt(struct submitter *s, struct meta *m, struct outbox_entry *e,
    json_object *reconciled_absent)
{
	CLEANUP_JSON json_object *p = payload_uuid(e->uuid);
	uint16_t types[2];
	json_object *payloads[2];
	size_t n = 0;
	int64_t now = now_ms(s);

	if (!reconciled_absent) {
		post_slot_take(s); /* every way out below gives it back */
	}
	if (!p ||
	    jsonutil_add(
		p, "n", json_object_new_int64((int64_t) e->attempts + 1)) < 0 ||
	    jsonutil_add(p, "t0", json_object_new_int64(wall_s(s))) < 0) {
		release(s, m, true);
		return;
	}
	if (reconciled_absent) {
		types[n] = JOURNAL_REC_RECONCILED;
		payloads[n++] = reconciled_absent;
	}
	types[n] = JOURNAL_REC_ATTEMPT_STARTED;
	payloads[n++] = p;
	backoff_pacer_take(&s->pacer, now);
	m->busy = true;
	m->op = OP_POST;
	if (journal(s, e->uuid, n, types, payloads, on_attempt_committed) < 0) {
		backoff_pacer_done(&s->pacer);
		m->fails++;
		m->due_ms = now + (int64_t) backoff_for(s, m, -1);
		release(s, m, true);
	}
}

static int
flush_item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct flush_item *) a)->uuid,
	    ((const struct flush_item *) b)->uuid);
}

static struct flush_item *
flush_item_find(const struct flush *f, const char *uuid)
{
	struct flush_item key;

	snprintf(key.uuid, sizeof(key.uuid), "%s", uuid);
	return f->n
	    ? bsearch(&key, f->items, f->n, sizeof(*f->items), flush_item_cmp)
	    : NULL;
}

/* An entry's SUBMITTED committed: the flushes that wait for it keep its
 * ConnectWise id, because the outbox may forget a submitted entry at
 * once (OUTBOX_KEEP_DONE) - a flush of a thousand entries outlives
 * most of them there. O(log n) per flush. */
static void
flush_record(struct submitter *s, const char *uuid, int64_t remote_id)
{
	for (struct flush *f = s->flushes; f; f = f->next) {
		struct flush_item *it = flush_item_find(f, uuid);

		if (it) {
			it->remote_id = remote_id;
		}
	}
}

/* A result record committed (or failed: the entry keeps its state and
 * is looked at again). */
static void
on_record_committed(struct submitter *s, struct meta *m, int status)
{
	if (m) {
		const struct outbox_entry *e = outbox_find(s->o, m->uuid);

		if (status < 0) {
			m->fails++;
			m->due_ms = now_ms(s) + (int64_t) backoff_for(s, m, -1);
		}
		m->busy = false;
		m->op = OP_NONE;
		if (status == 0 && m->remote_id > 0) {
			flush_record(s, m->uuid, m->remote_id);
		}
		m->remote_id = 0; /* it rode on this commit only */
		if (m->call == 0 &&
		    (!e || e->state == OUTBOX_SUBMITTED ||
			e->state == OUTBOX_DISCARDED)) {
			/* finished: a flush asks the outbox, not m */
			meta_del(s, m);
		}
	}
	s->pause_pending = false; /* a QUEUE_PAUSED rode in this batch */
	changed(s);
	submitter_kick(s);
}

static void
on_pause_committed(struct submitter *s, struct meta *m, int status)
{
	s->pause_pending = false;
	s->resume_pending = false;
	if (status == 0) {
		s->paused_since_ms = s->o->paused ? now_ms(s) : -1;
	}
	changed(s);
	submitter_kick(s);
}

static void on_guid_probe_done(const struct cwapi_result *res, void *userdata);

/* Learns from a 201 whether the tenant stores mobileGuid, then once
 * whether it filters on it (connectwise-api.md 11, point 1). */
static void
learn_guid(
    struct submitter *s, const struct cwapi_result *res, const char *uuid)
{
	const char *g =
	    res->json ? jsonutil_str(res->json, "mobileGuid") : NULL;
	bool stored = g && strcasecmp(g, uuid) == 0;
	struct outbox_entry *e = outbox_find(s->o, uuid);
	json_object *mem;
	int64_t mid;

	if (e && !json_object_object_get_ex(e->body, "member", &mem) &&
	    res->json && json_object_object_get_ex(res->json, "member", &mem) &&
	    jsonutil_get_i64(mem, "id", &mid) && mid > 0) {
		s->learned_member_id = mid;
	}

	if (s->guid_stored == TRI_UNKNOWN ||
	    s->guid_stored != (stored ? TRI_YES : TRI_NO)) {
		if (!stored) {
			log_notice(
			    "ConnectWise did not store mobileGuid; "
			    "reconciliation uses the natural key and the "
			    "[cwtimed:<uuid>] marker");
		}
		s->guid_stored = stored ? TRI_YES : TRI_NO;
	}
	if (stored && s->guid_filter == TRI_UNKNOWN && !s->guid_probe_call &&
	    s->api) {
		snprintf(
		    s->guid_probe_uuid, sizeof(s->guid_probe_uuid), "%s", uuid);
	}
}

/* Sends the mobileGuid filter probe that learn_guid asked for, when the
 * pacer lets it. Returns true when it went out. */
static bool
maybe_guid_probe(struct submitter *s, int64_t now)
{
	int64_t c;

	if (!s->guid_probe_uuid[0] || s->guid_probe_call ||
	    s->guid_filter != TRI_UNKNOWN || !s->api) {
		s->guid_probe_uuid[0] = '\0';
		return false;
	}
	if (backoff_pacer_wait(&s->pacer, now) != 0) {
		return false; /* asked again at the next scan */
	}
	backoff_pacer_take(&s->pacer, now);
	c = cwapi_find_by_guid(
	    s->api, s->guid_probe_uuid, on_guid_probe_done, s);
	s->guid_probe_uuid[0] = '\0';
	if (c < 0) {
		backoff_pacer_done(&s->pacer);
		return false;
	}
	s->guid_probe_call = c;
	return true;
}

static void
on_guid_probe_done(const struct cwapi_result *res, void *userdata)
{
	struct submitter *s = userdata;
	size_t n;

	s->guid_probe_call = 0;
	backoff_pacer_done(&s->pacer);
	if (res->cls == CLASSIFY_SUCCESS && res->json &&
	    json_object_is_type(res->json, json_type_array)) {
		n = json_object_array_length(res->json);
		s->guid_filter = n == 1 ? TRI_YES : TRI_NO;
		if (n == 1) {
			log_debug("ConnectWise filters on mobileGuid; "
				  "reconciliation uses it");
		} else {
			log_notice(
			    "ConnectWise does not filter on mobileGuid "
			    "(%zu matches); reconciliation uses the natural "
			    "key",
			    n);
		}
	} else if (res->status == 400) {
		s->guid_filter = TRI_NO;
		log_notice("ConnectWise refuses conditions on mobileGuid; "
			   "reconciliation uses the natural key");
	}
	/* anything else: unknown still; asked again after the next 201 */
	submitter_kick(s); /* its pacer slot is free again */
}

static void
post_result_record(struct submitter *s, struct meta *m,
    const struct cwapi_result *res, struct outbox_entry *e)
{
	CLEANUP_JSON json_object *p = payload_uuid(m->uuid);
	CLEANUP_JSON json_object *pause = NULL;
	uint16_t types[2];
	json_object *payloads[2];
	size_t n = 0;
	char why[768];
	int r = p ? 0 : -ENOMEM;

	switch (res->post) {
	case CLASSIFY_POST_SUBMITTED:
		types[n] = JOURNAL_REC_SUBMITTED;
		if (r == 0) {
			r = jsonutil_add(
			    p, "id", json_object_new_int64(res->id));
		}
		if (r == 0) {
			r = jsonutil_add(
			    p, "how", json_object_new_string("created"));
		}
		break;
	case CLASSIFY_POST_UNKNOWN:
		types[n] = JOURNAL_REC_OUTCOME_UNKNOWN;
		if (r == 0 && res->status > 0) {
			r = jsonutil_add(
			    p, "status", json_object_new_int(res->status));
		}
		if (r == 0) {
			r = jsonutil_add(p, "detail",
			    json_object_new_string(res->status ? res->err.msg
				    : res->detail
				    ? res->detail
				    : classify_xfer_name(res->xfer)));
		}
		break;
	case CLASSIFY_POST_PENDING:
	case CLASSIFY_POST_PENDING_PAUSE:
		types[n] = JOURNAL_REC_ATTEMPT_FAILED;
		if (r == 0) {
			r = jsonutil_add(p, "class",
			    json_object_new_string(
				classify_class_name(res->cls)));
		}
		if (r == 0) {
			r = res->status > 0
			    ? jsonutil_add(
				  p, "status", json_object_new_int(res->status))
			    : jsonutil_add(p, "curl",
				  json_object_new_string(
				      classify_xfer_name(res->xfer)));
		}
		if (r == 0) {
			r = jsonutil_add(p, "detail",
			    json_object_new_string(res->status ? res->err.msg
				    : res->detail	       ? res->detail
							       : ""));
		}
		break;
	default: /* REJECTED, REJECTED_PAUSE */
		types[n] = JOURNAL_REC_REJECTED;
		if (r == 0) {
			r = jsonutil_add(
			    p, "status", json_object_new_int(res->status));
		}
		if (r == 0) {
			r = jsonutil_add(p, "code",
			    json_object_new_string(res->cw_code[0]
				    ? res->cw_code
				    : errcode_name(res->err.code)));
		}
		if (r == 0) {
			r = jsonutil_add(p, "message",
			    json_object_new_string(
				res->err.msg[0] ? res->err.msg : "rejected"));
		}
		if (r == 0 && res->err.field[0]) {
			r = jsonutil_add(
			    p, "field", json_object_new_string(res->err.field));
		}
		if (r == 0) {
			r = jsonutil_add(p, "attempts",
			    json_object_new_int64(e ? e->attempts : 0));
		}
		break;
	}
	payloads[n++] = p;
	if (r == 0 &&
	    (res->post == CLASSIFY_POST_PENDING_PAUSE ||
		res->post == CLASSIFY_POST_REJECTED_PAUSE) &&
	    !s->o->paused && !s->pause_pending) {
		pause_reason(res, why, sizeof(why));
		pause = json_object_new_object();
		r = pause
		    ? jsonutil_add(pause, "reason", json_object_new_string(why))
		    : -ENOMEM;
		log_warning(
		    "submission paused: %s; the queue resumes on "
		    "'cwtimectl queue resume', a reload, or after an hourly "
		    "probe",
		    why);
		types[n] = JOURNAL_REC_QUEUE_PAUSED;
		payloads[n++] = pause;
		s->pause_pending = true;
	}
	m->op = OP_RECORD;
	if (r < 0 ||
	    journal(s, m->uuid, n, types, payloads, on_record_committed) < 0) {
		/* the entry stays ATTEMPT_STARTED (busy) until a restart
		 * turns it UNKNOWN: never re-sent without a read */
		log_error("entry %s: cannot record the outcome of its POST; "
			  "it will be reconciled after a restart",
		    m->uuid);
		s->pause_pending = false;
	}
}

static void
on_post_done(const struct cwapi_result *res, void *userdata)
{
	struct meta *m = userdata;
	struct outbox_entry *e;
	struct submitter *s = m->owner;
	int64_t ra = -1;
	uint64_t ms;

	m->call = 0;
	m->tries++;
	backoff_pacer_done(&s->pacer);
	post_slot_give(s);
	post_window_after(s, res->post == CLASSIFY_POST_SUBMITTED);
	e = outbox_find(s->o, m->uuid);

	switch (res->post) {
	case CLASSIFY_POST_SUBMITTED:
		log_debug("entry %s submitted as %" PRId64, m->uuid, res->id);
		m->fails = 0;
		m->remote_id = res->id;
		breaker_success(s);
		learn_guid(s, res, m->uuid);
		break;
	case CLASSIFY_POST_UNKNOWN:
		log_warning("entry %s: the outcome of its POST is unknown "
			    "(%s); it is reconciled after the settle delay",
		    m->uuid,
		    res->status	      ? res->err.msg
			: res->detail ? res->detail
				      : classify_xfer_name(res->xfer));
		m->absent_once = false;
		m->fallback = false;
		if (is_transient(res)) {
			breaker_failure(s);
		} else {
			breaker_success(s);
		}
		break;
	case CLASSIFY_POST_PENDING:
	case CLASSIFY_POST_PENDING_PAUSE:
		if (res->retry_after &&
		    backoff_parse_retry_after(
			res->retry_after, wall_s(s), &ms) == 0) {
			ra = (int64_t) ms;
		}
		m->fails++;
		m->due_ms = now_ms(s) + (int64_t) backoff_for(s, m, ra);
		if (res->cls == CLASSIFY_RETRY_AFTER) {
			/* the limit is the tenant's: everyone waits */
			s->hold_until_ms = m->due_ms;
		}
		log_info("entry %s not sent (%s); next try in %" PRId64 " ms",
		    m->uuid,
		    res->status	      ? res->err.msg
			: res->detail ? res->detail
				      : classify_xfer_name(res->xfer),
		    m->due_ms - now_ms(s));
		if (res->post == CLASSIFY_POST_PENDING) {
			breaker_failure(s);
		}
		break;
	default:
		log_warning("entry %s rejected by ConnectWise (%d): %s%s%s",
		    m->uuid, res->status, res->err.msg,
		    res->err.field[0] ? ", field " : "", res->err.field);
		if (classify_is_internal(res->status)) {
			log_error("entry %s: HTTP %d is a bug in cwtimed",
			    m->uuid, res->status);
		}
		breaker_success(s);
		break;
	}
	if (m->probe) {
		m->probe = false;
	}
	post_result_record(s, m, res, e);
	submitter_kick(s);
}

/* ---- reconciliation ---- */

enum verdict { V_FOUND, V_ABSENT, V_AMBIGUOUS, V_INCONCLUSIVE };

static void on_recon_done(const struct cwapi_result *res, void *userdata);

static bool
natural_key(struct submitter *s, const struct outbox_entry *e,
    struct cwapi_natural_key *k)
{
	json_object *mem;
	const char *ts;
	struct errbuf err;

	memset(k, 0, sizeof(*k));
	if (json_object_object_get_ex(e->body, "member", &mem)) {
		k->member_identifier = jsonutil_str(mem, "identifier");
		(void) jsonutil_get_i64(mem, "id", &k->member_id);
	}
	if (!k->member_identifier && k->member_id <= 0) {
		/* no member in the body: ConnectWise used the API member,
		 * learned from a 201; never a guess (a wrong member would
		 * read as "absent" and cause a duplicate) */
		k->member_id = s->learned_member_id;
	}
	if (!k->member_identifier && k->member_id <= 0) {
		/* nothing learned yet: [api] member. Entries built since it
		 * was set carry it in the body (above); an older body without
		 * one went to the API member, which is this member with the
		 * member's own keys (cwtimed.conf(5)). Still better than no
		 * natural key: then only the mobileGuid probe could tell. */
		if (s->cfg.member_id > 0) {
			k->member_id = s->cfg.member_id;
		} else if (s->cfg.member_identifier[0]) {
			k->member_identifier = s->cfg.member_identifier;
		}
	}
	k->charge_to_type = jsonutil_str(e->body, "chargeToType");
	if (!k->charge_to_type) {
		k->charge_to_type = "Company";
	}
	(void) jsonutil_get_i64(e->body, "chargeToId", &k->charge_to_id);
	ts = jsonutil_str(e->body, "timeStart");
	return (k->member_identifier || k->member_id > 0) && ts &&
	    timeparse_parse_iso(ts, &k->time_start, &err) == 0;
}

/* connectwise-api.md 11: which of the matches are ours. */
static enum verdict
judge_guid(const struct submitter *s, const char *uuid, json_object *arr,
    int64_t *ret_id, char *why, size_t size)
{
	size_t n = json_object_array_length(arr), ours = 0;

	for (size_t i = 0; i < n; i++) {
		json_object *x = json_object_array_get_idx(arr, i);
		const char *g = jsonutil_str(x, "mobileGuid");
		int64_t id;

		if (g && strcasecmp(g, uuid) == 0 &&
		    jsonutil_get_i64(x, "id", &id)) {
			ours++;
			*ret_id = id;
		}
	}
	if (ours > 1) {
		snprintf(why, size,
		    "ambiguous: %zu ConnectWise entries carry "
		    "mobileGuid %s",
		    ours, uuid);
		return V_AMBIGUOUS;
	}
	if (ours == 1) {
		return V_FOUND;
	}
	/* an empty answer proves absence only where mobileGuid is known to
	 * be stored and filtered */
	return guid_trusted(s) && n == 0 ? V_ABSENT : V_INCONCLUSIVE;
}

static bool
times_match(json_object *mine, json_object *theirs)
{
	const char *a = jsonutil_str(mine, "timeEnd"),
		   *b = jsonutil_str(theirs, "timeEnd");
	struct errbuf err;
	int64_t ta, tb;
	double ha, hb;

	if (a && b) {
		if (timeparse_parse_iso(a, &ta, &err) < 0 ||
		    timeparse_parse_iso(b, &tb, &err) < 0 || ta != tb) {
			return false;
		}
	}
	if (jsonutil_get_num(mine, "actualHours", &ha) &&
	    jsonutil_get_num(theirs, "actualHours", &hb) &&
	    fabs(ha - hb) > 0.005) {
		return false;
	}
	return true;
}

static enum verdict
judge_natural(const struct outbox_entry *e, json_object *arr, int64_t *ret_id,
    char *why, size_t size)
{
	size_t n = json_object_array_length(arr), ours = 0, unmarked = 0;
	char marker[64];

	snprintf(marker, sizeof(marker), "[cwtimed:%s]", e->uuid);
	for (size_t i = 0; i < n; i++) {
		json_object *x = json_object_array_get_idx(arr, i);
		const char *g = jsonutil_str(x, "mobileGuid");
		const char *notes = jsonutil_str(x, "internalNotes");
		int64_t id;

		if (!jsonutil_get_i64(x, "id", &id)) {
			continue;
		}
		if ((g && strcasecmp(g, e->uuid) == 0) ||
		    (notes && strstr(notes, marker))) {
			ours++;
			*ret_id = id;
		} else if ((g && g[0]) ||
		    (notes && strstr(notes, "[cwtimed:"))) {
			continue; /* another entry of cwtimed's: not ours */
		} else if (times_match(e->body, x)) {
			unmarked++;
		}
	}
	if (ours > 1) {
		snprintf(why, size,
		    "ambiguous: %zu ConnectWise entries carry "
		    "the marker of %s",
		    ours, e->uuid);
		return V_AMBIGUOUS;
	}
	if (ours == 1) {
		return V_FOUND;
	}
	if (unmarked > 0) {
		snprintf(why, size,
		    "ambiguous: %zu ConnectWise entr%s the "
		    "same member, target and times but no [cwtimed] marker; "
		    "check and drop or retry",
		    unmarked, unmarked == 1 ? "y has" : "ies have");
		return V_AMBIGUOUS;
	}
	return V_ABSENT;
}

static void
start_recon(
    struct submitter *s, struct meta *m, struct outbox_entry *e, bool probe)
{
	struct cwapi_natural_key k;
	bool nk = natural_key(s, e, &k);
	bool use_guid = !m->fallback && s->guid_stored != TRI_NO &&
	    s->guid_filter != TRI_NO;
	int64_t call;

	if (!use_guid && !nk) {
		/* no natural key (no member known): the guid read is all we
		 * have; an empty answer then stays inconclusive */
		use_guid = true;
	}
	m->op = m->absent_once ? OP_RECON2 : OP_RECON1;
	m->busy = true;
	m->probe = probe;
	if (m->op == OP_RECON2) {
		post_slot_take(s); /* the POST follows this read */
	}
	backoff_pacer_take(&s->pacer, now_ms(s));
	call = use_guid
	    ? cwapi_find_by_guid(s->api, e->uuid, on_recon_done, m)
	    : cwapi_find_by_natural_key(s->api, &k, on_recon_done, m);
	if (call < 0) {
		log_warning_errno((int) call,
		    "entry %s: cannot start the "
		    "reconciliation query: %m",
		    e->uuid);
		backoff_pacer_done(&s->pacer);
		if (probe) {
			backoff_breaker_probe_dropped(&s->br);
		}
		m->fails++;
		m->due_ms = now_ms(s) + (int64_t) backoff_for(s, m, -1);
		release(s, m, m->op == OP_RECON2);
		return;
	}
	m->call = call;
	m->fallback = !use_guid; /* remembers which query is out */
}

static void
on_recon_done(const struct cwapi_result *res, void *userdata)
{
	struct meta *m = userdata;
	struct submitter *s = m->owner;
	struct outbox_entry *e = outbox_find(s->o, m->uuid);
	bool held = m->op == OP_RECON2, was_natural = m->fallback;
	enum verdict v = V_INCONCLUSIVE;
	char why[400] = "";
	int64_t id = 0;

	m->call = 0;
	m->tries++;
	backoff_pacer_done(&s->pacer);
	m->probe = false;
	if (!e || e->state != OUTBOX_UNKNOWN) {
		release(s, m, held); /* cannot happen: we held it */
		return;
	}
	if (res->cls != CLASSIFY_SUCCESS || !res->json ||
	    !json_object_is_type(res->json, json_type_array)) {
		if (!was_natural && res->status == 400) {
			/* guid=nofilter: conditions on mobileGuid refused */
			if (s->guid_filter != TRI_NO) {
				log_notice(
				    "ConnectWise refuses conditions on "
				    "mobileGuid; reconciliation uses the "
				    "natural key");
			}
			s->guid_filter = TRI_NO;
			breaker_success(s);
			m->fallback = true;
			release(s, m, held);
			return;
		}
		if (classify_pauses_queue(res->cls)) {
			char reason[768];

			pause_reason(res, reason, sizeof(reason));
			breaker_success(s);
			pause_queue(s, reason);
		} else if (is_transient(res)) {
			breaker_failure(s);
		} else {
			breaker_success(s);
		}
		log_info("entry %s: reconciliation query failed (%s); will "
			 "try again",
		    m->uuid,
		    res->status	      ? res->err.msg
			: res->detail ? res->detail
				      : classify_xfer_name(res->xfer));
		/* both reads again: absence must be seen twice in a row */
		m->absent_once = false;
		m->fallback = false;
		m->fails++;
		m->due_ms = now_ms(s) + (int64_t) backoff_for(s, m, -1);
		release(s, m, held);
		return;
	}
	breaker_success(s);
	m->fails = 0;
	v = was_natural
	    ? judge_natural(e, res->json, &id, why, sizeof(why))
	    : judge_guid(s, m->uuid, res->json, &id, why, sizeof(why));
	/* the natural key once used stays for this entry's second read */
	m->fallback = was_natural;
	if (v == V_INCONCLUSIVE) {
		struct cwapi_natural_key k;

		if (natural_key(s, e, &k)) {
			m->fallback = true; /* ask by natural key at once */
			release(s, m, held);
			return;
		}
		/* no proof either way (mobileGuid support not known yet,
		 * no natural key): wait and learn; never guess "absent" */
		log_info("entry %s: not found by mobileGuid, and this "
			 "tenant's mobileGuid support is not known yet; asking "
			 "again later",
		    m->uuid);
		m->absent_once = false;
		m->fails++;
		m->due_ms = now_ms(s) + (int64_t) backoff_for(s, m, -1);
		release(s, m, held);
		return;
	}
	if (v == V_FOUND) {
		CLEANUP_JSON json_object *p1 = payload_uuid(m->uuid);
		CLEANUP_JSON json_object *p2 = payload_uuid(m->uuid);
		uint16_t types[2] = {
		    JOURNAL_REC_RECONCILED, JOURNAL_REC_SUBMITTED};
		json_object *ps[2] = {p1, p2};

		log_info("entry %s: found in ConnectWise as %" PRId64
			 "; adopted",
		    m->uuid, id);
		m->remote_id = id;
		if (held) {
			post_slot_give(s);
		}
		m->op = OP_RECORD;
		if (!p1 || !p2 ||
		    jsonutil_add(p1, "found", json_object_new_int64(id)) < 0 ||
		    jsonutil_add(p2, "id", json_object_new_int64(id)) < 0 ||
		    jsonutil_add(
			p2, "how", json_object_new_string("reconciled")) < 0 ||
		    journal(s, m->uuid, 2, types, ps, on_record_committed) <
			0) {
			release(s, m, false);
		}
		return;
	}
	if (v == V_AMBIGUOUS) {
		CLEANUP_JSON json_object *p = payload_uuid(m->uuid);
		uint16_t type = JOURNAL_REC_REJECTED;

		log_warning("entry %s: %s", m->uuid, why);
		if (held) {
			post_slot_give(s);
		}
		m->op = OP_RECORD;
		if (!p ||
		    jsonutil_add(p, "status", json_object_new_int(0)) < 0 ||
		    jsonutil_add(
			p, "code", json_object_new_string("ambiguous")) < 0 ||
		    jsonutil_add(p, "message", json_object_new_string(why)) <
			0 ||
		    jsonutil_add(p, "attempts",
			json_object_new_int64(e->attempts)) < 0 ||
		    journal(s, m->uuid, 1, &type, &p, on_record_committed) <
			0) {
			release(s, m, false);
		}
		return;
	}
	/* absent */
	if (!held) {
		m->absent_once = true; /* the second read goes right before the
					* POST, when the POST slot is free */
		release(s, m, false);
		return;
	}
	{
		CLEANUP_JSON json_object *p = payload_uuid(m->uuid);

		m->absent_once = false;
		log_info("entry %s: not in ConnectWise (read twice); posting "
			 "it again",
		    m->uuid);
		if (!p ||
		    jsonutil_add(p, "absent", json_object_new_boolean(1)) < 0) {
			release(s, m, true);
			return;
		}
		/* pacer: the POST takes its own token */
		start_attempt(s, m, e, p);
	}
}

/* ---- probes: the hourly probe of a paused queue, the breaker's ---- */

static void
on_api_probe_done(const struct cwapi_result *res, void *userdata)
{
	struct submitter *s = userdata;
	bool breaker = s->api_probe_is_breaker;

	s->api_probe_call = 0;
	backoff_pacer_done(&s->pacer);
	if (res->cls == CLASSIFY_SUCCESS) {
		breaker_success(s);
		if (!breaker && s->o->paused && !s->resume_pending) {
			CLEANUP_JSON json_object *p = json_object_new_object();
			uint16_t type = JOURNAL_REC_QUEUE_RESUMED;

			log_notice("ConnectWise accepts the credentials again; "
				   "resuming the queue");
			if (p &&
			    journal(s, NULL, 1, &type, &p,
				on_pause_committed) == 0) {
				s->resume_pending = true;
			}
		}
	} else if (is_transient(res)) {
		breaker_failure(s);
		if (!breaker) {
			s->paused_since_ms = now_ms(s);
		}
	} else {
		breaker_success(s); /* it answered */
		if (!breaker) {
			s->paused_since_ms = now_ms(s); /* still refused */
		}
	}
	submitter_kick(s);
}

static void
start_api_probe(struct submitter *s, bool breaker)
{
	int64_t c;

	backoff_pacer_take(&s->pacer, now_ms(s));
	c = cwapi_count_worktypes(s->api, on_api_probe_done, s);
	if (c < 0) {
		backoff_pacer_done(&s->pacer);
		if (breaker) {
			backoff_breaker_probe_dropped(&s->br);
		}
		return;
	}
	s->api_probe_call = c;
	s->api_probe_is_breaker = breaker;
}

/* ---- learning mobileGuid support from a submitted entry ---- */

static void
on_learn_done(const struct cwapi_result *res, void *userdata)
{
	struct submitter *s = userdata;
	const char *uuid = NULL;

	s->learn_call = 0;
	backoff_pacer_done(&s->pacer);
	if (res->cls == CLASSIFY_SUCCESS && res->json) {
		int64_t id = 0;

		(void) jsonutil_get_i64(res->json, "id", &id);
		for (size_t i = s->o->n_entries; i-- > 0;) {
			if (s->o->entries[i]->remote_id == id && id > 0) {
				uuid = s->o->entries[i]->uuid;
				break;
			}
		}
		if (uuid) {
			learn_guid(s, res, uuid);
		}
	}
	submitter_kick(s);
}

/* After a restart, UNKNOWN entries need to know whether mobileGuid
 * works here (and which member the API uses): GET one entry this daemon
 * submitted before. Returns true when a request went out. */
static bool
maybe_learn(struct submitter *s, int64_t now)
{
	const struct outbox_entry *known = NULL;
	bool need = false;
	int64_t c;

	if (s->learn_call || s->guid_probe_call || now < s->learn_after_ms ||
	    (s->guid_stored != TRI_UNKNOWN && s->guid_filter != TRI_UNKNOWN &&
		s->learned_member_id > 0) ||
	    outbox_count(s->o, OUTBOX_UNKNOWN) == 0) {
		return false;
	}
	for (size_t i = s->o->n_entries; i-- > 0;) {
		const struct outbox_entry *e = s->o->entries[i];

		if (e->state == OUTBOX_UNKNOWN) {
			need = true;
		} else if (e->state == OUTBOX_SUBMITTED && e->remote_id > 0 &&
		    !known) {
			known = e;
		}
	}
	if (!need || !known || backoff_pacer_wait(&s->pacer, now) != 0) {
		return false;
	}
	s->learn_after_ms = now + 60000; /* at most once a minute */
	backoff_pacer_take(&s->pacer, now);
	c = cwapi_get_entry(
	    s->api, known->remote_id, "id,mobileGuid,member", on_learn_done, s);
	if (c < 0) {
		backoff_pacer_done(&s->pacer);
		return false;
	}
	s->learn_call = c;
	return true;
}

/* ---- the scan ---- */

static int64_t
settle_at_ms(struct submitter *s, const struct outbox_entry *e, int64_t now)
{
	int64_t w = wall_s(s);
	int64_t at_wall_ms =
	    e->last_attempt_t0 * 1000 + (int64_t) s->cfg.settle_delay_ms;

	return now + (at_wall_ms - w * 1000);
}

/* How long the entry has waited: since its queued_at (the stop, the log
 * or the re-queue; journaled, so it survives restarts), wall clock w.
 * Entries from records older than queued_at count from when this daemon
 * first saw them (after a restart that under-reports, never alarms
 * falsely). */
static int64_t
entry_age_s(const struct submitter *s, const struct outbox_entry *e, int64_t w)
{
	const struct meta *m;
	int64_t d;

	if (e->queued_at > 0) {
		return w > e->queued_at ? w - e->queued_at : 0;
	}
	m = meta_find(s, e->uuid);
	if (!m) {
		return 0;
	}
	d = (now_ms(s) - m->first_seen_ms) / 1000;
	return d > 0 ? d : 0;
}

/* Logs, once per entry, that it has waited for more than a day. A sweep
 * of the whole outbox, so at most once a minute. */
static void
warn_old(struct submitter *s, int64_t now)
{
	int64_t w;

	if (now < s->warn_at_ms) {
		return;
	}
	s->warn_at_ms = now + 60000;
	w = wall_s(s);
	for (size_t i = 0; i < s->o->n_entries; i++) {
		struct outbox_entry *e = s->o->entries[i];
		struct meta *m;

		if (e->state != OUTBOX_PENDING ||
		    entry_age_s(s, e, w) <= SUBMITTER_WARN_AGE_S) {
			continue;
		}
		m = meta_get(s, e->uuid);
		if (m && !m->warned) {
			m->warned = true;
			log_warning("entry %s has waited for submission for "
				    "more than a day",
			    e->uuid);
		}
	}
}

static bool flush_check(struct submitter *s);

static void
run(struct submitter *s)
{
	int64_t now = now_ms(s), next = INT64_MAX, w;
	bool probe = false;

	if (s->closing) {
		return;
	}
	if (!s->api) {
		arm(s, INT64_MAX);
		(void) flush_check(s);
		return;
	}
	if (s->pause_pending) {
		return; /* a QUEUE_PAUSED is committing; its commit kicks */
	}
	if (s->o->paused) {
		if (s->paused_since_ms < 0) {
			s->paused_since_ms = now;
		}
		if (strcmp(s->o->pause_reason, SUBMITTER_USER_PAUSE_REASON) !=
			0 &&
		    !s->api_probe_call) {
			int64_t at = s->paused_since_ms +
			    (int64_t) s->cfg.pause_probe_ms;

			if (now >= at &&
			    backoff_pacer_wait(&s->pacer, now) == 0) {
				start_api_probe(s, false);
			} else {
				next = at > now ? at : now + 1000;
			}
		}
		arm(s, next);
		(void) flush_check(s);
		return;
	}
	s->paused_since_ms = -1;

	if (s->br.state != BACKOFF_BREAKER_CLOSED) {
		int64_t wake = backoff_breaker_wake_ms(&s->br);

		if (s->br.state == BACKOFF_BREAKER_HALF_OPEN ||
		    (wake >= 0 && now < wake)) {
			arm(s,
			    s->br.state == BACKOFF_BREAKER_OPEN ? wake
								: INT64_MAX);
			(void) flush_check(s);
			return;
		}
		if (backoff_pacer_wait(&s->pacer, now) != 0 ||
		    !backoff_breaker_allow(&s->br, now, &probe)) {
			arm(s, now + 100);
			return;
		}
		/* exactly one probe: a due reconciliation read, or else
		 * GET /time/workTypes/count */
		for (size_t i = 0; i < s->o->n_entries; i++) {
			struct outbox_entry *e = s->o->entries[i];
			struct meta *m;

			if (e->state != OUTBOX_UNKNOWN) {
				continue;
			}
			m = meta_get(s, e->uuid);
			if (m && !m->busy &&
			    !(m->absent_once && !post_slot_free(s)) &&
			    settle_at_ms(s, e, now) <= now) {
				start_recon(s, m, e, true);
				return;
			}
		}
		start_api_probe(s, true);
		return;
	}

	(void) maybe_learn(s, now);
	(void) maybe_guid_probe(s, now);
	warn_old(s, now);
	/* Every step of every entry runs this loop, so what it does per
	 * entry must stay cheap: a PENDING entry is passed over without a
	 * lookup while a POST is out (its end kicks, and the scan then
	 * sees every due time again). */
	for (size_t i = 0; i < s->o->n_entries; i++) {
		struct outbox_entry *e = s->o->entries[i];
		struct meta *m;
		int64_t due;

		if (e->state != OUTBOX_PENDING && e->state != OUTBOX_UNKNOWN) {
			continue;
		}
		if (e->state == OUTBOX_PENDING && !post_slot_free(s)) {
			continue; /* POST slots full; an answer kicks */
		}
		m = meta_get(s, e->uuid);
		if (!m) {
			next = now + 1000; /* ENOMEM: look again soon */
			continue;
		}
		if (m->busy) {
			continue;
		}
		due = m->due_ms;
		if (e->state == OUTBOX_UNKNOWN) {
			int64_t st = settle_at_ms(s, e, now);

			due = due > st ? due : st;
		}
		if (e->state == OUTBOX_PENDING || m->absent_once) {
			due = due > s->hold_until_ms ? due : s->hold_until_ms;
		}
		if (due > now) {
			next = due < next ? due : next;
			continue;
		}
		if ((e->state == OUTBOX_PENDING || m->absent_once) &&
		    !post_slot_free(s)) {
			continue; /* POST slots full; an answer kicks */
		}
		if (e->state == OUTBOX_PENDING && s->ops.ready &&
		    !s->ops.ready(s->ops.ctx, e->uuid, e->body)) {
			continue; /* names being resolved (cmd-ref.c) */
		}
		w = backoff_pacer_wait(&s->pacer, now);
		if (w < 0) {
			break; /* all slots busy; a completion kicks */
		}
		if (w > 0) {
			next = now + w < next ? now + w : next;
			break;
		}
		if (e->state == OUTBOX_PENDING) {
			start_attempt(s, m, e, NULL);
		} else {
			start_recon(s, m, e, false);
		}
		if (s->closing) {
			return;
		}
	}
	if (now >= s->gc_at_ms) {
		s->gc_at_ms = now + META_GC_MS;
		meta_gc(s);
	}
	if (!flush_check(s) && next == INT64_MAX) {
		arm(s, INT64_MAX);
		return;
	}
	for (struct flush *f = s->flushes; f; f = f->next) {
		next = f->deadline_ms < next ? f->deadline_ms : next;
	}
	arm(s, next);
}

/* ---- flush ---- */

static bool
flush_item_done(struct submitter *s, const struct flush_item *it)
{
	struct outbox_entry *e = outbox_find(s->o, it->uuid);
	struct meta *m;

	if (!e || e->state == OUTBOX_SUBMITTED || e->state == OUTBOX_REJECTED ||
	    e->state == OUTBOX_DISCARDED) {
		return true;
	}
	m = meta_find(s, it->uuid);
	if (m && m->busy) {
		return false;
	}
	if (!s->api || s->o->paused || s->br.state != BACKOFF_BREAKER_CLOSED) {
		return true; /* nothing can be sent now */
	}
	return m && m->tries > it->tries && !m->absent_once;
}

/* Calls back the flushes that are done. Returns true when some remain. */
static bool
flush_check(struct submitter *s)
{
	struct flush **pp = &s->flushes;
	int64_t now = now_ms(s);

	while (*pp) {
		struct flush *f = *pp;
		bool done = now >= f->deadline_ms;

		for (size_t i = 0; !done && i < f->n; i++) {
			if (!flush_item_done(s, &f->items[i])) {
				break;
			}
			if (i + 1 == f->n) {
				done = true;
			}
		}
		if (f->n == 0) {
			done = true;
		}
		if (!done) {
			pp = &f->next;
			continue;
		}
		*pp = f->next;
		s->answering = f;
		f->cb(f->userdata);
		s->answering = NULL;
		free(f->items);
		free(f);
	}
	return s->flushes != NULL;
}

int
submitter_flush(struct submitter *s, submitter_flush_fn *cb, void *userdata)
{
	struct flush *f = calloc(1, sizeof(*f));

	if (!f) {
		return -ENOMEM;
	}
	f->items = calloc(s->o->n_entries + 1, sizeof(*f->items));
	if (!f->items) {
		free(f);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->o->n_entries; i++) {
		struct outbox_entry *e = s->o->entries[i];
		struct meta *m;

		if (e->state != OUTBOX_PENDING &&
		    e->state != OUTBOX_ATTEMPT_STARTED &&
		    e->state != OUTBOX_UNKNOWN) {
			continue;
		}
		m = meta_get(s, e->uuid);
		snprintf(f->items[f->n].uuid, ENTRY_UUID_LEN, "%s", e->uuid);
		f->items[f->n].tries = m ? m->tries : 0;
		f->n++;
	}
	qsort(f->items, f->n, sizeof(*f->items), flush_item_cmp);
	f->cb = cb;
	f->userdata = userdata;
	f->deadline_ms = now_ms(s) + (int64_t) s->cfg.settle_delay_ms +
	    (int64_t) s->cfg.total_timeout_ms + 2000;
	f->next = s->flushes;
	s->flushes = f;
	submitter_retry_now(s, NULL);
	return 0;
}

/* ---- public ---- */

static void
apply_cfg(struct submitter *s, const struct submitter_config *cfg)
{
	s->cfg = *cfg;
	if (!s->cfg.total_timeout_ms) {
		s->cfg.total_timeout_ms = HTTP_TOTAL_TIMEOUT_MS;
	}
	if (!s->cfg.settle_delay_ms) {
		s->cfg.settle_delay_ms =
		    2u * (uint64_t) s->cfg.total_timeout_ms;
	}
	if (!s->cfg.backoff_base_ms) {
		s->cfg.backoff_base_ms = BACKOFF_BASE_MS;
	}
	if (!s->cfg.backoff_cap_ms) {
		s->cfg.backoff_cap_ms = BACKOFF_CAP_MS;
	}
	if (!s->cfg.pause_probe_ms) {
		s->cfg.pause_probe_ms = SUBMITTER_PAUSE_PROBE_MS;
	}
}

int
submitter_new(uv_loop_t *loop, struct outbox *outbox, struct cwapi *api,
    const struct submitter_config *cfg, const struct submitter_ops *ops,
    const struct clocksrc *clock, struct submitter **ret)
{
	struct submitter *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	r = uv_timer_init(loop, &s->timer);
	if (r < 0) {
		free(s);
		return r;
	}
	s->timer.data = s;
	s->loop = loop;
	s->o = outbox;
	s->api = api;
	s->ops = *ops;
	s->clock = clock ? clock : clocksrc_real();
	apply_cfg(s, cfg);
	backoff_breaker_init(&s->br, cfg->breaker_threshold,
	    cfg->breaker_cool_ms, cfg->breaker_cool_max_ms);
	s->last_br_state = s->br.state;
	backoff_pacer_init(
	    &s->pacer, cfg->max_rate, cfg->max_in_flight, now_ms(s));
	s->paused_since_ms = -1;
	s->post_window = 1;
	*ret = s;
	return 0;
}

static void
on_timer_closed(uv_handle_t *h)
{
	struct submitter *s = h->data;

	for (unsigned i = 0; i < NBUCKETS; i++) {
		while (s->buckets[i]) {
			struct meta *m = s->buckets[i];

			s->buckets[i] = m->next;
			free(m);
		}
	}
	free(s);
}

void
submitter_close(struct submitter *s)
{
	if (!s || s->closing) {
		return;
	}
	s->closing = true;
	/* answer the waiting flushes with what is known now */
	while (s->flushes) {
		struct flush *f = s->flushes;

		s->flushes = f->next;
		s->answering = f;
		f->cb(f->userdata);
		s->answering = NULL;
		free(f->items);
		free(f);
	}
	for (struct ticket *t = s->tickets; t; t = t->next) {
		t->s = NULL; /* the journal frees them when it calls back */
	}
	s->tickets = NULL;
	if (s->api) {
		for (unsigned i = 0; i < NBUCKETS; i++) {
			for (struct meta *m = s->buckets[i]; m; m = m->next) {
				if (m->call > 0) {
					cwapi_cancel(s->api, m->call);
				}
			}
		}
		if (s->guid_probe_call > 0) {
			cwapi_cancel(s->api, s->guid_probe_call);
		}
		if (s->api_probe_call > 0) {
			cwapi_cancel(s->api, s->api_probe_call);
		}
		if (s->learn_call > 0) {
			cwapi_cancel(s->api, s->learn_call);
		}
	}
	uv_close((uv_handle_t *) &s->timer, on_timer_closed);
}

void
submitter_set_api(
    struct submitter *s, struct cwapi *api, const struct submitter_config *cfg)
{
	if (!s) {
		return;
	}
	if (s->api && s->api != api) {
		for (unsigned i = 0; i < NBUCKETS; i++) {
			for (struct meta *m = s->buckets[i]; m; m = m->next) {
				if (m->call <= 0) {
					continue;
				}
				/* dropped: a POST counts as sent (the entry
				 * is ATTEMPT_STARTED and becomes UNKNOWN at
				 * the next start); a read is simply redone */
				cwapi_cancel(s->api, m->call);
				backoff_pacer_done(&s->pacer);
				m->call = 0;
				if (m->op == OP_POST) {
					struct cwapi_result res;

					memset(&res, 0, sizeof(res));
					res.post = CLASSIFY_POST_UNKNOWN;
					res.cls = CLASSIFY_UNKNOWN;
					res.xfer = CLASSIFY_XFER_OTHER;
					res.detail = "cancelled by a reload";
					post_slot_give(s);
					m->op = OP_RECORD;
					post_result_record(s, m, &res, NULL);
				} else {
					release(s, m, m->op == OP_RECON2);
				}
			}
		}
		if (s->guid_probe_call > 0) {
			cwapi_cancel(s->api, s->guid_probe_call);
			backoff_pacer_done(&s->pacer);
			s->guid_probe_call = 0;
		}
		if (s->api_probe_call > 0) {
			cwapi_cancel(s->api, s->api_probe_call);
			backoff_pacer_done(&s->pacer);
			s->api_probe_call = 0;
		}
		if (s->learn_call > 0) {
			cwapi_cancel(s->api, s->learn_call);
			backoff_pacer_done(&s->pacer);
			s->learn_call = 0;
		}
	}
	s->api = api;
	if (cfg) {
		apply_cfg(s, cfg);
		backoff_pacer_init(
		    &s->pacer, cfg->max_rate, cfg->max_in_flight, now_ms(s));
	}
	/* a new tenant or credentials: learn mobileGuid support again, and
	 * start again from one POST at a time */
	s->guid_stored = s->guid_filter = TRI_UNKNOWN;
	s->post_window = 1;
	backoff_breaker_init(&s->br, s->cfg.breaker_threshold,
	    s->cfg.breaker_cool_ms, s->cfg.breaker_cool_max_ms);
	s->last_br_state = s->br.state;
	submitter_kick(s);
}

void
submitter_retry_now(struct submitter *s, const char *uuid)
{
	if (!s) {
		return;
	}
	for (unsigned i = 0; i < NBUCKETS; i++) {
		for (struct meta *m = s->buckets[i]; m; m = m->next) {
			if (!uuid || strcmp(uuid, m->uuid) == 0) {
				m->due_ms = 0;
				m->fails = 0;
			}
		}
	}
	submitter_kick(s);
}

bool
submitter_entry_busy(const struct submitter *s, const char *uuid)
{
	const struct meta *m = s ? meta_find(s, uuid) : NULL;

	return m && m->busy;
}

bool
submitter_claim(struct submitter *s, const char *uuid)
{
	struct meta *m;

	if (!s) {
		return true;
	}
	m = meta_get(s, uuid);
	if (!m || m->busy) {
		return false;
	}
	m->busy = true;
	m->op = OP_RECORD;
	return true;
}

void
submitter_unclaim(struct submitter *s, const char *uuid)
{
	struct meta *m = s ? meta_find(s, uuid) : NULL;

	if (m && m->op == OP_RECORD && m->call == 0) {
		m->busy = false;
		m->op = OP_NONE;
		m->absent_once = false;
		m->due_ms = 0;
		m->fails = 0;
	}
	submitter_kick(s);
}

const char *
submitter_health_name(enum submitter_health h)
{
	switch (h) {
	case SUBMITTER_OK:
		return "ok";
	case SUBMITTER_PAUSED:
		return "paused";
	case SUBMITTER_UNREACHABLE:
		return "api-unreachable";
	default:
		return "offline";
	}
}

/* submitter_get_status without the age of the oldest entry (a sweep of
 * the outbox): O(1), for the check after every commit (glue_changed). */
static void
status_base(const struct submitter *s, struct submitter_status *ret)
{
	const struct outbox *o = s->o;

	memset(ret, 0, sizeof(*ret));
	ret->reason = "";
	ret->breaker = backoff_breaker_state_name(s->br.state);
	if (!s->api) {
		ret->health = SUBMITTER_OFFLINE;
		ret->reason = "no ConnectWise credentials or [api] settings";
	} else if (o->paused) {
		ret->health = SUBMITTER_PAUSED;
		ret->reason = o->pause_reason;
	} else if (s->br.state != BACKOFF_BREAKER_CLOSED) {
		ret->health = SUBMITTER_UNREACHABLE;
		ret->reason =
		    "ConnectWise does not answer; circuit breaker open";
	}
	ret->pending = outbox_count(o, OUTBOX_PENDING);
	ret->attempting = outbox_count(o, OUTBOX_ATTEMPT_STARTED);
	ret->unknown = outbox_count(o, OUTBOX_UNKNOWN);
	ret->rejected = outbox_count(o, OUTBOX_REJECTED);
	ret->submitted = outbox_count(o, OUTBOX_SUBMITTED);
	ret->oldest_pending_age_s = -1;
	ret->next_attempt_ms = submitter_timer_due_ms(s);
}

void
submitter_get_status(const struct submitter *s, struct submitter_status *ret)
{
	const struct outbox *o = s->o;
	int64_t oldest = -1;

	status_base(s, ret);
	if (ret->pending + ret->attempting + ret->unknown > 0) {
		int64_t w = wall_s(s);

		for (size_t i = 0; i < o->n_entries; i++) {
			const struct outbox_entry *e = o->entries[i];
			int64_t age;

			if (e->state != OUTBOX_PENDING &&
			    e->state != OUTBOX_ATTEMPT_STARTED &&
			    e->state != OUTBOX_UNKNOWN) {
				continue;
			}
			age = entry_age_s(s, e, w);
			oldest = age > oldest ? age : oldest;
		}
	}
	ret->oldest_pending_age_s = oldest;
	ret->oldest_flagged = oldest > SUBMITTER_FLAG_AGE_S;
}

json_object *
submitter_status_json(const struct submitter *s)
{
	json_object *o = json_object_new_object();
	struct submitter_status st;
	int r = o ? 0 : -ENOMEM;

	if (!s) {
		memset(&st, 0, sizeof(st));
		st.health = SUBMITTER_OFFLINE;
		st.reason = "the submitter is not running";
		st.breaker = "closed";
		st.oldest_pending_age_s = -1;
	} else {
		submitter_get_status(s, &st);
	}
	if (r == 0) {
		r = jsonutil_add(o, "state",
		    json_object_new_string(submitter_health_name(st.health)));
	}
	if (r == 0) {
		r = jsonutil_add(
		    o, "reason", json_object_new_string(st.reason));
	}
	if (r == 0) {
		r = jsonutil_add(
		    o, "breaker", json_object_new_string(st.breaker));
	}
	if (r == 0) {
		r = jsonutil_add(o, "oldest_queued_age_s",
		    json_object_new_int64(st.oldest_pending_age_s));
	}
	if (r == 0) {
		r = jsonutil_add(o, "oldest_flagged",
		    json_object_new_boolean(st.oldest_flagged));
	}
	if (r < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

json_object *
submitter_queue_json(const struct submitter *s, const struct outbox *ob)
{
	json_object *o = json_object_new_object();
	size_t n[OUTBOX_STATE_COUNT] = {0};
	int r = o ? 0 : -ENOMEM;

	(void) s;
	for (int i = 0; i < OUTBOX_STATE_COUNT; i++) {
		n[i] = outbox_count(ob, (enum outbox_state) i);
	}
	for (int i = 0; r == 0 && i < OUTBOX_STATE_COUNT; i++) {
		r = jsonutil_add(o,
		    i == OUTBOX_ATTEMPT_STARTED
			? "attempting"
			: outbox_state_name((enum outbox_state) i),
		    json_object_new_int64((int64_t) n[i]));
	}
	if (r < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int64_t
submitter_flush_remote_id(const struct submitter *s, const char *uuid)
{
	const struct flush_item *it =
	    s && s->answering ? flush_item_find(s->answering, uuid) : NULL;

	return it ? it->remote_id : 0;
}

int64_t
submitter_timer_due_ms(const struct submitter *s)
{
	int64_t d;

	if (!s || !s->armed) {
		return -1;
	}
	d = s->armed_at_ms - now_ms(s);
	return d > 0 ? d : 0;
}

/* ---- daemon glue ---- */

static int
glue_append(void *ctx, uint16_t type, json_object *payload,
    submitter_done_fn *done, void *done_userdata, struct errbuf *reterr)
{
	struct daemon *d = ctx;

	if (!d->journal) {
		return errbuf_set(
		    reterr, ERR_NOT_SUPPORTED, -ENOTSUP, "no journal");
	}
	return journal_append(
	    d->journal, type, payload, false, done, done_userdata, reterr);
}

/* ops.changed: tells subscribers (daemon_broadcast) when what a status
 * bar shows of submission changed: the health, its reason, the breaker,
 * the rejected and unknown counts. The submitter calls this after every
 * record it commits, so lines that would repeat the last one are not
 * sent (a queue of a thousand entries must not wake every follower a
 * thousand times). One daemon has one submitter: the last key is kept
 * here. Not a droppable event: a state change must not be skipped. */
static void
glue_changed(void *ctx)
{
	static char last[512];
	struct daemon *d = ctx;
	struct submitter_status st;
	char key[sizeof(last)];
	json_object *data;

	if (!d->submitter) {
		return; /* inside submitter_new */
	}
	status_base(d->submitter, &st); /* O(1): this runs per commit */
	snprintf(key, sizeof(key), "%d|%zu|%zu|%s|%s", (int) st.health,
	    st.rejected, st.unknown, st.breaker ? st.breaker : "",
	    st.reason ? st.reason : "");
	if (strcmp(key, last) == 0) {
		return;
	}
	memcpy(last, key, sizeof(last));
	data = json_object_new_object();
	if (!data) {
		return; /* ENOMEM: the next change or timer event tells */
	}
	json_object_object_add(data, "submission",
	    submitter_status_json(d->submitter));
	json_object_object_add(data, "queue",
	    submitter_queue_json(d->submitter, &d->state.outbox));
	daemon_broadcast(d, "submission", data, false);
	json_object_put(data);
}

static void
glue_cfg(const struct daemon *d, struct submitter_config *c)
{
	const struct config_api *a = &d->config.api;

	memset(c, 0, sizeof(*c));
	c->connect_timeout_ms = (uint32_t) (a->connect_timeout_s * 1000);
	c->total_timeout_ms = (uint32_t) (a->total_timeout_s * 1000);
	c->settle_delay_ms = (uint64_t) a->settle_delay_s * 1000u;
	if (c->settle_delay_ms == 0) {
		c->settle_delay_ms = 1; /* explicit 0 in a test config */
	}
	c->max_rate = (uint32_t) a->max_rate;
	c->max_in_flight = (uint32_t) a->max_in_flight;
	/* [api] retry timing (config.c bounds them; 0 is never given) */
	c->backoff_base_ms = (uint64_t) a->backoff_base_s * 1000u;
	c->backoff_cap_ms = (uint64_t) a->backoff_cap_s * 1000u;
	c->breaker_threshold = (uint32_t) a->breaker_threshold;
	c->breaker_cool_ms = (uint64_t) a->breaker_cooldown_s * 1000u;
	c->breaker_cool_max_ms = (uint64_t) a->breaker_cooldown_max_s * 1000u;
	c->member_id = a->member_id;
	if (a->member && a->member_id <= 0) {
		snprintf(c->member_identifier, sizeof(c->member_identifier),
		    "%s", a->member);
	}
}

/* A new client for d's current config, or NULL (offline; logged). */
static struct cwapi *
glue_api(struct daemon *d)
{
	const struct config_api *a = &d->config.api;
	struct cwapi_config cc;
	struct http_options ho;
	struct cwapi *api = NULL;
	struct errbuf e;
	int r;

	errbuf_clear(&e);
	/* configured, not "usable": an open breaker must not keep a reload
	 * from building the new client */
	if (!daemon_api_configured(d, &e)) {
		log_notice("submission offline: %s", e.msg);
		return NULL;
	}
	if (!d->http) {
		memset(&ho, 0, sizeof(ho));
		ho.ca_file = a->ca_file;
		r = http_new(&d->loop, &ho, &d->http);
		if (r < 0) {
			log_error_errno(r,
			    "cannot set up HTTP: %m; submission "
			    "offline");
			d->http = NULL;
			return NULL;
		}
	}
	memset(&cc, 0, sizeof(cc));
	cc.url = a->url;
	cc.site = a->site;
	cc.company = a->company;
	cc.api_version = a->api_version;
	cc.connect_timeout_ms = (uint32_t) (a->connect_timeout_s * 1000);
	cc.total_timeout_ms = (uint32_t) (a->total_timeout_s * 1000);
	cc.low_speed_time_s = (uint32_t) a->low_speed_time_s;
	r = cwapi_new(&cc, &d->secret, http_transport(d->http), &api, &e);
	if (r < 0) {
		log_error_errno(r,
		    "ConnectWise settings refused: %s; "
		    "submission offline",
		    e.msg[0] ? e.msg : "%m");
		return NULL;
	}
	return api;
}

int
submitter_daemon_start(struct daemon *d)
{
	struct submitter_config c;
	struct submitter_ops ops;
	int r;

	d->cwapi = glue_api(d);
	glue_cfg(d, &c);
	memset(&ops, 0, sizeof(ops));
	ops.append = glue_append;
	/* follow: pause, api-unreachable and back to ok reach subscribers
	 * as a "submission" event when they happen, not at the next timer
	 * event (glue_changed) */
	ops.changed = glue_changed;
	ops.ready = cmdref_entry_ready; /* names to ids before a POST */
	ops.ctx = d;
	r = submitter_new(&d->loop, &d->state.outbox, d->cwapi, &c, &ops, NULL,
	    &d->submitter);
	if (r < 0) {
		d->submitter = NULL;
		return log_error_errno(r, "cannot start the submitter: %m");
	}
	submitter_kick(d->submitter);
	return 0;
}

void
submitter_daemon_reload(struct daemon *d)
{
	struct submitter_config c;
	struct cwapi *old = d->cwapi;
	struct http *old_http = d->http;
	struct outbox *o = &d->state.outbox;

	if (!d->submitter) {
		return;
	}
	/* a new HTTP client too: [api] ca_file may have changed, and a
	 * pooled connection must not outlive the TLS settings it was made
	 * under (RELIABILITY.md 7 G6: ca_file + SIGHUP must deliver) */
	d->http = NULL;
	d->cwapi = glue_api(d);
	glue_cfg(d, &c);
	submitter_set_api(d->submitter, d->cwapi, &c);
	cwapi_free(old);
	http_close(old_http);
	/* new credentials or settings: an account-wide pause ends (a pause
	 * the user asked for stays) */
	if (o->paused &&
	    strcmp(o->pause_reason, SUBMITTER_USER_PAUSE_REASON) != 0 &&
	    !d->submitter->resume_pending) {
		CLEANUP_JSON json_object *p = json_object_new_object();
		uint16_t type = JOURNAL_REC_QUEUE_RESUMED;

		log_notice("configuration reloaded: resuming the paused queue");
		if (p &&
		    journal(d->submitter, NULL, 1, &type, &p,
			on_pause_committed) == 0) {
			d->submitter->resume_pending = true;
		}
	}
}

void
submitter_daemon_stop(struct daemon *d)
{
	submitter_close(d->submitter);
	d->submitter = NULL;
	cwapi_free(d->cwapi);
	d->cwapi = NULL;
	http_close(d->http);
	d->http = NULL;
}
