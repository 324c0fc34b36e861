/*
 * session.c - sleep, lock, idle, logout and shutdown, end to end: logind's
 * facts (logind.h) -> the policy's decision (core/session_policy.h) ->
 * journal records built by the tracker -> a submission bounded in time ->
 * the release of the delay lock and, for a logout, daemon_stop. Also the
 * STATUS= line for systemd and "stop --all --submit".
 *
 * Invariants:
 * - timers change only through journal records the journal applies; the
 *   lock is released and the daemon stopped only after the records of
 *   the event are durable (their done callbacks ran) and the submission
 *   finished or its bound passed;
 * - a resume after wake, unlock or activity resumes only the timers that
 *   the matching event's last pause record paused and that are still
 *   paused for that reason (the tracker keeps each timer's pause reason
 *   and the seq of the record that paused it, so this survives a daemon
 *   restart: the journal replays both);
 * - every waiter is answered exactly once; its memory goes when both the
 *   submitter's flush callback and its timer's close callback have run;
 * - no callback of ours runs after session_close.
 * Must never: change state itself, keep the loop alive after
 * session_close, read the clock except through the ticker.
 */
#include "daemon/session.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "common/cleanup.h"
#include "common/errcode.h"
#include "common/jsonutil.h"
#include "core/outbox.h"
#include "core/records.h"
#include "core/session_policy.h"
#include "core/state.h"
#include "core/tracker.h"
#include "daemon/commands.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/journal.h"
#include "daemon/log.h"
#include "daemon/logind.h"
#include "daemon/submitter.h"
#include "daemon/ticker.h"

#define NS_PER_S 1000000000LL

/* Which event paused a set of timers (each resumes only its own). */
enum pause_kind {
	PAUSE_SLEEP,
	PAUSE_LOCK,
	PAUSE_IDLE,
	PAUSE_KIND_COUNT,
	PAUSE_NONE = -1,
};

/* What to do once an event's work is durable and submitted. */
enum {
	AFTER_RELEASE_LOCK = 1 << 0,
	AFTER_EXIT = 1 << 1,
};

/* The last pause of one kind while this daemon runs: the seq of its
 * record (0: it paused nothing). Not known after a restart; the journal's
 * pause reasons then decide (last_pause_seq). */
struct episode {
	bool known;
	uint64_t seq;
};

struct waiter;
typedef void waiter_fn(struct waiter *w, bool finished);

/* One bounded wait for the submitter: a flush plus a timer. */
struct waiter {
	struct waiter *next;
	struct session *s;
	uv_timer_t timer;
	waiter_fn *fn;
	unsigned after;	    /* AFTER_* for session events */
	struct request *req; /* stop --submit: the deferred request */
	json_object *result; /* its reply, owned */
	bool fired;
	bool flush_pending;
	bool timer_closed;
};

/* One event's journal records in flight. */
struct op {
	struct session *s;
	enum pause_kind kind; /* PAUSE_NONE: a stop or a resume */
	json_object *payload; /* the pause record (its keys), owned */
	unsigned outstanding;
	unsigned after;
	bool submit;
	uint64_t bound_ms;
};

struct session {
	struct daemon *d;
	struct logind *logind; /* NULL: no bus, or gone */
	struct episode episode[PAUSE_KIND_COUNT];
	struct waiter *waiters;
	uv_timer_t exit_timer; /* runs daemon_stop from a clean stack */
	bool term_pending; /* SIGTERM waits for the user's state */
	bool closing;
	bool status_dirty;
	char status[256]; /* the last STATUS= sent */
};

static void finish_after(struct session *s, unsigned after);

/* ---- STATUS= ---- */

int
session_status_format(size_t running, size_t paused, size_t queued,
    int64_t last_submit_utc_s, int64_t tz_offset_s, char *buf, size_t size)
{
	char paused_part[48] = "";
	char last[16] = "never";
	int n;

	if (paused > 0) {
		snprintf(paused_part, sizeof(paused_part), ", %zu paused", paused);
	}
	if (last_submit_utc_s > 0) {
		int64_t t = last_submit_utc_s + tz_offset_s;
		int64_t day = ((t % 86400) + 86400) % 86400;

		snprintf(last, sizeof(last), "%02d:%02d", (int) (day / 3600),
		    (int) (day % 3600 / 60));
	}
	n = snprintf(buf, size, "%zu timer%s running%s, %zu queued, "
	    "last submit %s", running, running == 1 ? "" : "s", paused_part,
	    queued, last);
	if (n < 0 || (size_t) n >= size) {
		return -ENOBUFS;
	}
	return n;
}

static void
status_now(struct session *s, char *buf, size_t size)
{
	const struct state *st = &s->d->state;
	size_t running = 0, paused = 0, queued = 0;
	int64_t last = 0, off = 0;

	for (size_t i = 0; i < st->tracker.n_timers; i++) {
		if (st->tracker.timers[i]->state == TRACKER_RUNNING) {
			running++;
		} else {
			paused++;
		}
	}
	for (size_t i = 0; i < st->outbox.n_entries; i++) {
		const struct outbox_entry *e = st->outbox.entries[i];

		if (e->state == OUTBOX_PENDING ||
		    e->state == OUTBOX_ATTEMPT_STARTED ||
		    e->state == OUTBOX_UNKNOWN) {
			queued++;
		} else if (e->state == OUTBOX_SUBMITTED &&
		    e->last_attempt_t0 > last) {
			last = e->last_attempt_t0;
		}
	}
	if (last > 0) {
		time_t tt = (time_t) last;
		struct tm tm;

		if (localtime_r(&tt, &tm)) {
			off = tm.tm_gmtoff;
		}
	}
	if (session_status_format(running, paused, queued, last, off, buf,
	    size) < 0) {
		snprintf(buf, size, "running");
	}
}

void
session_on_record(struct session *s, uint16_t type)
{
	(void) type; /* any applied record may change a count */
	if (s) {
		s->status_dirty = true;
	}
}

void
session_status_update(struct session *s)
{
	char line[sizeof(s->status) + 8];
	char now[sizeof(s->status)];

	if (!s || !s->status_dirty || s->closing) {
		return;
	}
	s->status_dirty = false;
	status_now(s, now, sizeof(now));
	if (strcmp(now, s->status) == 0) {
		return;
	}
	snprintf(line, sizeof(line), "STATUS=%s", now);
	if (daemon_notify(s->d, line) < 0) {
		s->status_dirty = true; /* a full queue: again next time */
		return;
	}
	snprintf(s->status, sizeof(s->status), "%s", now);
}

/* ---- waiters: a flush bounded by a timer ---- */

static void
waiter_maybe_free(struct waiter *w)
{
	struct waiter **pp;

	if (w->flush_pending || !w->timer_closed) {
		return;
	}
	for (pp = &w->s->waiters; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	json_object_put(w->result);
	free(w);
}

static void
on_waiter_timer_closed(uv_handle_t *h)
{
	struct waiter *w = h->data;

	w->timer_closed = true;
	waiter_maybe_free(w);
}

static void
waiter_fire(struct waiter *w, bool finished)
{
	if (w->fired) {
		return;
	}
	w->fired = true;
	(void) uv_timer_stop(&w->timer);
	uv_close((uv_handle_t *) &w->timer, on_waiter_timer_closed);
	w->fn(w, finished);
}

static void
on_waiter_flushed(void *userdata)
{
	struct waiter *w = userdata;

	w->flush_pending = false;
	waiter_fire(w, true);
	waiter_maybe_free(w);
}

static void
on_waiter_bound(uv_timer_t *t)
{
	struct waiter *w = t->data;

	if (w->flush_pending) {
		log_info("the submission did not finish within its bound; "
		    "what was not sent waits in the journal");
	}
	waiter_fire(w, !w->flush_pending);
}

/* Starts a flush bounded by bound_ms; fn runs once, later (never from
 * inside this call). Returns 0 or -ENOMEM (nothing started, result not
 * taken). */
static int
waiter_start(struct session *s, uint64_t bound_ms, waiter_fn *fn,
    unsigned after, struct request *req, json_object *result)
{
	struct waiter *w = calloc(1, sizeof(*w));
	int r;

	if (!w) {
		return -ENOMEM;
	}
	w->s = s;
	w->fn = fn;
	w->after = after;
	w->req = req;
	if (s->d->submitter) {
		/* the submitter never calls back from inside this call */
		r = submitter_flush(s->d->submitter, on_waiter_flushed, w);
		if (r < 0) {
			free(w);
			return r;
		}
		w->flush_pending = true;
		bound_ms = bound_ms ? bound_ms : 1;
	} else {
		bound_ms = 0; /* nothing can be sent: answer at once */
	}
	w->result = result;
	(void) uv_timer_init(&s->d->loop, &w->timer);
	w->timer.data = w;
	(void) uv_timer_start(&w->timer, on_waiter_bound, bound_ms, 0);
	w->next = s->waiters;
	s->waiters = w;
	return 0;
}

/* ---- after an event: release the lock, exit ---- */

static void
on_exit_timer(uv_timer_t *t)
{
	struct session *s = t->data;

	daemon_stop(s->d, DAEMON_EXIT_OK);
}

/* The exit is deferred to its own loop turn: we may be inside the
 * submitter's flush callback, and daemon_stop closes the submitter. */
static void
finish_after(struct session *s, unsigned after)
{
	if ((after & AFTER_RELEASE_LOCK) && s->logind) {
		logind_release_lock(s->logind);
	}
	if ((after & AFTER_EXIT) && !s->closing) {
		(void) uv_timer_start(&s->exit_timer, on_exit_timer, 0, 0);
	}
}

static void
on_event_submitted(struct waiter *w, bool finished)
{
	log_debug("session: submission %s", finished ? "finished" :
	    "cut short");
	finish_after(w->s, w->after);
}

static enum tracker_pause_reason
reason_of(enum pause_kind kind)
{
	switch (kind) {
	case PAUSE_SLEEP:
		return TRACKER_REASON_SLEEP;
	case PAUSE_LOCK:
		return TRACKER_REASON_LOCK;
	case PAUSE_IDLE:
		return TRACKER_REASON_IDLE;
	default:
		return TRACKER_REASON_NONE;
	}
}

/* The seq of the newest record that paused a timer for reason (0: none):
 * after a restart, the pause the next wake, unlock or activity undoes. */
static uint64_t
last_pause_seq(const struct tracker *tr, enum tracker_pause_reason reason)
{
	uint64_t seq = 0;

	for (size_t i = 0; i < tr->n_timers; i++) {
		const struct tracker_timer *tm = tr->timers[i];

		if (tm->state == TRACKER_PAUSED && tm->pause_reason == reason &&
		    tm->paused_seq > seq) {
			seq = tm->paused_seq;
		}
	}
	return seq;
}

/* The event's records are durable (or failed): remember which record a
 * pause was, then submit within the bound, or finish at once. */
static void
op_done(struct op *op)
{
	struct session *s = op->s;

	if (op->kind != PAUSE_NONE) {
		/* a pause that paused nothing still ends the episode: the
		 * matching resume then resumes nothing */
		struct episode *ep = &s->episode[op->kind];
		json_object *arr = jsonutil_get_array(op->payload, "pause");
		size_t n = arr ? json_object_array_length(arr) : 0;

		ep->known = true;
		ep->seq = 0;
		for (size_t i = 0; i < n && ep->seq == 0; i++) {
			json_object *t;
			const struct tracker_timer *tm;

			if (!json_object_object_get_ex(json_object_array_get_idx(
			    arr, i), "target", &t)) {
				continue;
			}
			tm = tracker_find(&s->d->state.tracker,
			    json_object_get_string(t));
			if (tm && tm->state == TRACKER_PAUSED &&
			    tm->pause_reason == reason_of(op->kind)) {
				ep->seq = tm->paused_seq;
			}
		}
		log_debug("session: the %s pause is record %" PRIu64,
		    tracker_pause_reason_to_string(reason_of(op->kind)),
		    ep->seq);
	}
	if (op->submit && !s->closing &&
	    waiter_start(s, op->bound_ms, on_event_submitted, op->after, NULL,
	    NULL) == 0) {
		return;
	}
	finish_after(s, op->after);
}

static void
op_free(struct op *op)
{
	if (op) {
		json_object_put(op->payload);
		free(op);
	}
}

static void
on_op_record_done(void *userdata, int status, const struct errbuf *err)
{
	struct op *op = userdata;

	if (status < 0) {
		log_warning_errno(status, "cannot journal the session change: "
		    "%s", err && err->msg[0] ? err->msg : strerror(-status));
	}
	if (--op->outstanding > 0) {
		return;
	}
	if (!op->s->closing) {
		op_done(op);
	}
	op_free(op);
}

static int
op_append(struct op *op, uint16_t type, json_object *payload)
{
	struct errbuf e;
	int r;

	errbuf_clear(&e);
	r = journal_append(op->s->d->journal, type, payload, false,
	    on_op_record_done, op, &e);
	if (r < 0) {
		log_warning_errno(r, "cannot journal the session change: %s",
		    e.msg[0] ? e.msg : strerror(-r));
		return r;
	}
	op->outstanding++;
	return 0;
}

/* ---- the actions ---- */

/* Builds and appends the records of one action. Returns 1 when records
 * are in flight (op_done follows), 0 when there was nothing to journal,
 * or a negative errno (logged). */
static int
act(struct session *s, struct op *op, enum session_action action,
    const struct now *now_in, int64_t at_s)
{
	struct daemon *d = s->d;
	const struct tracker *tr;
	struct state *view;
	json_object *payload = NULL;
	const struct now now = *now_in;
	struct errbuf e;
	uint16_t type = 0;
	int r = 0;

	errbuf_clear(&e);
	if (!d->journal || journal_failed(d->journal)) {
		return -EROFS;
	}
	/* validated on top of what this iteration already journaled */
	view = daemon_state_view(d, &e);
	if (!view) {
		log_warning("session: %s", e.msg);
		return -ENOMEM;
	}
	tr = &view->tracker;
	switch (action) {
	case SESSION_ACTION_PAUSE:
		/* an idle pause is back-dated to at_s (the tracker clamps
		 * each timer to its last resume or start) */
		r = tracker_prepare_pause_all(tr, reason_of(op->kind),
		    at_s < now.wall_utc_s ? at_s : 0, &now, &type, &payload,
		    &e);
		if (r == 0 && payload) {
			op->payload = json_object_get(payload);
			r = op_append(op, type, payload);
		}
		break;
	case SESSION_ACTION_STOP: {
		struct tracker_stop_args a;

		if (tr->n_timers == 0) {
			break;
		}
		memset(&a, 0, sizeof(a));
		a.all = true;
		r = tracker_prepare_stop(tr, &a, &now, &type, &payload, &e);
		if (r == 0 && payload) {
			r = op_append(op, type, payload);
		}
		break;
	}
	case SESSION_ACTION_RESUME: {
		struct episode *ep = &s->episode[op->kind];
		enum tracker_pause_reason why = reason_of(op->kind);
		uint64_t seq = ep->known ? ep->seq : last_pause_seq(tr, why);
		CLEANUP_FREE char (*keys)[TARGET_STR_MAX] = NULL;
		size_t n = 0;

		/* only the timers that this event's last pause record paused
		 * and that are still paused for this reason: one the user
		 * resumed (and perhaps paused again) has another reason now.
		 * Keys first: the view is rebuilt by each append. */
		keys = calloc(tr->n_timers + 1, sizeof(*keys));
		if (!keys) {
			r = -ENOMEM;
			break;
		}
		for (size_t i = 0; seq != 0 && i < tr->n_timers; i++) {
			const struct tracker_timer *tm = tr->timers[i];

			log_debug("session: resume '%s'? %s, reason %s, "
			    "paused by record %" PRIu64 ", want %" PRIu64,
			    tm->key, tm->state == TRACKER_PAUSED ? "paused" :
			    "running", tracker_pause_reason_to_string(
			    tm->pause_reason) ?: "none", tm->paused_seq, seq);
			if (tm->state == TRACKER_PAUSED &&
			    tm->pause_reason == why && tm->paused_seq == seq) {
				snprintf(keys[n++], TARGET_STR_MAX, "%s",
				    tm->key);
			}
		}
		for (size_t i = 0; i < n && r == 0; i++) {
			view = daemon_state_view(d, &e);
			if (!view) {
				r = -ENOMEM;
				break;
			}
			tr = &view->tracker; /* the resumes before count */
			r = tracker_prepare_resume(tr, keys[i], &now, &type,
			    &payload, &e);
			if (r == 0 && payload) {
				r = op_append(op, type, payload);
			}
			json_object_put(payload);
			payload = NULL;
			if (r < 0 && e.msg[0]) {
				log_warning("cannot resume '%s': %s", keys[i],
				    e.msg);
				r = 0; /* the others still resume */
			}
		}
		ep->known = true;
		ep->seq = 0;
		op->kind = PAUSE_NONE;
		break;
	}
	default:
		break;
	}
	json_object_put(payload);
	if (r < 0 && e.msg[0]) {
		log_warning("session: cannot %s the timers: %s",
		    session_action_to_string(action), e.msg);
	}
	if (op->outstanding > 0) {
		return 1; /* what was appended commits; op lives until then */
	}
	return r < 0 ? r : 0;
}

static enum pause_kind
kind_of(enum session_event ev)
{
	switch (ev) {
	case SESSION_EVENT_SLEEP:
	case SESSION_EVENT_WAKE:
		return PAUSE_SLEEP;
	case SESSION_EVENT_LOCK:
	case SESSION_EVENT_UNLOCK:
		return PAUSE_LOCK;
	case SESSION_EVENT_IDLE:
	case SESSION_EVENT_ACTIVE:
		return PAUSE_IDLE;
	default:
		return PAUSE_NONE;
	}
}

/* submit_timeout in ms; 0 ("do not wait") gives the submitter one
 * millisecond, so the waiter still answers from the loop. */
static uint64_t
submit_bound_ms(const struct session_policy *p)
{
	return p->submit_timeout_s > 0 ? (uint64_t) p->submit_timeout_s * 1000 :
	    1;
}

/* One session event, from logind or SIGTERM. */
static void
handle(struct session *s, enum session_event ev, int64_t idle_since_s)
{
	struct daemon *d = s->d;
	struct session_policy p;
	struct session_decision dec;
	struct errbuf e;
	struct now now;
	struct op *op;
	unsigned after;
	int r;

	if (s->closing) {
		return;
	}
	logind_policy_from_config(&d->config.session, &p);
	if (s->logind) {
		logind_set_submit_timeout(s->logind, p.submit_timeout_s);
	}
	errbuf_clear(&e);
	r = d->ticker ? ticker_now(d->ticker, &now, &e) : -ENODEV;
	if (r == 0) {
		r = session_policy_decide(&p, ev, now.wall_utc_s, idle_since_s,
		    &dec);
	}
	if (r < 0) {
		log_warning_errno(r, "session event '%s' ignored: %s",
		    session_event_to_string(ev), e.msg[0] ? e.msg :
		    strerror(-r));
		finish_after(s, (ev == SESSION_EVENT_SLEEP ||
		    ev == SESSION_EVENT_SHUTDOWN ? AFTER_RELEASE_LOCK : 0) |
		    (ev == SESSION_EVENT_TERM_LOGOUT ||
		    ev == SESSION_EVENT_TERM_RESTART ? AFTER_EXIT : 0));
		return;
	}
	after = (dec.release_lock ? AFTER_RELEASE_LOCK : 0) |
	    (dec.exit ? AFTER_EXIT : 0);
	if (dec.action != SESSION_ACTION_NONE) {
		log_notice("session: %s: %s the timers",
		    session_event_to_string(ev),
		    session_action_to_string(dec.action));
	}
	if (dec.action == SESSION_ACTION_WAIT) {
		if (s->logind) {
			(void) logind_recheck_idle(s->logind, dec.recheck_s);
		}
		finish_after(s, after);
		return;
	}
	if (dec.action == SESSION_ACTION_NONE && !dec.submit) {
		if (ev == SESSION_EVENT_TERM_RESTART) {
			log_notice("SIGTERM without logout: exiting, running "
			    "timers go on after the restart");
		}
		finish_after(s, after);
		return;
	}
	if (ev == SESSION_EVENT_TERM_LOGOUT) {
		log_notice("the user is logging out: stopping the timers, "
		    "submitting, then exiting");
	}
	op = calloc(1, sizeof(*op));
	if (!op) {
		log_error("session: out of memory");
		finish_after(s, after);
		return;
	}
	op->s = s;
	op->kind = dec.action == SESSION_ACTION_STOP ? PAUSE_NONE :
	    kind_of(ev);
	op->after = after;
	op->submit = dec.submit;
	op->bound_ms = dec.release_lock && s->logind ?
	    logind_release_bound_ms(s->logind) : submit_bound_ms(&p);
	r = act(s, op, dec.action, &now, dec.at_s);
	if (r > 0) {
		return; /* on_op_record_done takes over */
	}
	if (r == 0) {
		op_done(op); /* nothing to journal: submit or finish */
	} else {
		finish_after(s, after);
	}
	op_free(op);
}

/* ---- logind callbacks ---- */

static void
on_sleep(struct logind *l, bool going_to_sleep, void *userdata)
{
	handle(userdata, going_to_sleep ? SESSION_EVENT_SLEEP :
	    SESSION_EVENT_WAKE, 0);
}

static void
on_shutdown(struct logind *l, void *userdata)
{
	handle(userdata, SESSION_EVENT_SHUTDOWN, 0);
}

static void
on_lock(struct logind *l, bool locked, void *userdata)
{
	handle(userdata, locked ? SESSION_EVENT_LOCK : SESSION_EVENT_UNLOCK,
	    0);
}

static void
on_idle(struct logind *l, bool idle, int64_t since_utc_s, void *userdata)
{
	handle(userdata, idle ? SESSION_EVENT_IDLE : SESSION_EVENT_ACTIVE,
	    since_utc_s);
}

/* The session as first read. An unlock, a wake or activity while cwtimed
 * was not running (a crash, an upgrade, a kill while locked) left timers
 * paused for a reason that is gone, and no event will come to resume
 * them. They resume now, through the policy as the event would have, and
 * from now: the time cwtimed did not see is not billed. */
static void
on_found(struct logind *l, bool locked, bool idle, void *userdata)
{
	struct session *s = userdata;
	const struct tracker *tr = &s->d->state.tracker;
	bool sleep = last_pause_seq(tr, TRACKER_REASON_SLEEP) != 0;
	bool lock = !locked && last_pause_seq(tr, TRACKER_REASON_LOCK) != 0;
	bool busy = !idle && last_pause_seq(tr, TRACKER_REASON_IDLE) != 0;

	if (sleep || lock || busy) {
		log_notice("session: timers paused for %s%s%s%s%s, which ended "
		    "while cwtimed was not running",
		    sleep ? "sleep" : "", sleep && (lock || busy) ? ", " : "",
		    lock ? "lock" : "", lock && busy ? ", " : "",
		    busy ? "idle" : "");
	}
	/* the system is awake: cwtimed runs */
	if (sleep && !s->closing) {
		handle(s, SESSION_EVENT_WAKE, 0);
	}
	if (lock && !s->closing) {
		handle(s, SESSION_EVENT_UNLOCK, 0);
	}
	if (busy && !s->closing) {
		handle(s, SESSION_EVENT_ACTIVE, 0);
	}
}

static void
on_closing(struct logind *l, bool closing, void *userdata)
{
	struct session *s = userdata;

	if (!s->term_pending) {
		return;
	}
	s->term_pending = false;
	handle(s, closing ? SESSION_EVENT_TERM_LOGOUT :
	    SESSION_EVENT_TERM_RESTART, 0);
}

static void
on_lost(struct logind *l, int r, void *userdata)
{
	struct session *s = userdata;

	/* logind.c has logged why; the object is closed with the session */
	if (s->term_pending) {
		s->term_pending = false;
		daemon_stop(s->d, DAEMON_EXIT_OK);
	}
}

/* ---- public ---- */

int
session_new(struct daemon *d, struct session **ret)
{
	struct logind_callbacks cb = {
		.on_sleep = on_sleep,
		.on_shutdown = on_shutdown,
		.on_lock = on_lock,
		.on_idle = on_idle,
		.on_found = on_found,
		.on_closing = on_closing,
		.on_lost = on_lost,
	};
	struct session *s = calloc(1, sizeof(*s));
	struct session_policy p;
	struct errbuf e;
	int r;

	if (!s) {
		return -ENOMEM;
	}
	s->d = d;
	s->status_dirty = true; /* the first STATUS= after READY=1 */
	(void) uv_timer_init(&d->loop, &s->exit_timer);
	s->exit_timer.data = s;
	errbuf_clear(&e);
	r = logind_new(&d->loop, &cb, s, &s->logind, &e);
	if (r == LOGIND_NO_BUS) {
		/* the reason says what is not followed */
		log_notice("%s", e.msg[0] ? e.msg : "no system bus: sleep, "
		    "shutdown, lock and idle are not followed");
		s->logind = NULL;
	} else if (r < 0) {
		log_warning_errno(r, "cannot follow the session through "
		    "logind: %s; sleep, shutdown, logout, lock and idle are "
		    "not followed", e.msg[0] ? e.msg : strerror(-r));
		s->logind = NULL;
	} else {
		logind_policy_from_config(&d->config.session, &p);
		logind_set_submit_timeout(s->logind, p.submit_timeout_s);
	}
	*ret = s;
	return 0;
}

void
session_close(struct session *s)
{
	if (!s || s->closing) {
		return;
	}
	s->closing = true;
	s->term_pending = false;
	uv_close((uv_handle_t *) &s->exit_timer, NULL); /* freed with s */
	logind_close(s->logind);
	s->logind = NULL;
	/* answer every waiter now (a stop --submit gets its reply before
	 * commands_fini fails the deferred requests) */
	for (struct waiter *w = s->waiters; w; w = w->next) {
		waiter_fire(w, false);
	}
}

void
session_free(struct session *s)
{
	if (!s) {
		return;
	}
	/* the loop has run every close callback: only the list is left if a
	 * flush was never answered (no submitter) */
	while (s->waiters) {
		struct waiter *w = s->waiters;

		s->waiters = w->next;
		json_object_put(w->result);
		free(w);
	}
	free(s);
}

bool
session_on_sigterm(struct session *s)
{
	struct session_policy p;
	int r;

	if (!s || s->closing || !s->logind || s->term_pending) {
		return false;
	}
	logind_policy_from_config(&s->d->config.session, &p);
	if (p.on_logout == SESSION_KEEP) {
		return false;
	}
	r = logind_query_closing(s->logind);
	if (r < 0) {
		log_debug_errno(r, "cannot ask logind about the user: %m; "
		    "taking SIGTERM as a restart");
		return false;
	}
	s->term_pending = true;
	return true;
}

/* ---- stop --all --submit ---- */

static void
count_submitted(struct daemon *d, json_object *result, int64_t *ret_sent,
    int64_t *ret_waiting)
{
	json_object *timers = jsonutil_get_array(result, "timers"), *ents, *u;

	*ret_sent = *ret_waiting = 0;
	if (!timers) {
		return;
	}
	for (size_t i = 0; i < json_object_array_length(timers); i++) {
		ents = jsonutil_get_array(
		    json_object_array_get_idx(timers, i), "entries");
		if (!ents) {
			continue;
		}
		for (size_t k = 0; k < json_object_array_length(ents); k++) {
			const struct outbox_entry *oe;

			if (!json_object_object_get_ex(json_object_array_get_idx(
			    ents, k), "uuid", &u)) {
				continue;
			}
			oe = outbox_find(&d->state.outbox,
			    json_object_get_string(u));
			if (oe && oe->state == OUTBOX_SUBMITTED) {
				(*ret_sent)++;
			} else if (oe && (oe->state == OUTBOX_PENDING ||
			    oe->state == OUTBOX_ATTEMPT_STARTED ||
			    oe->state == OUTBOX_UNKNOWN)) {
				(*ret_waiting)++;
			}
		}
	}
}

static void
on_stop_submitted(struct waiter *w, bool finished)
{
	struct daemon *d = w->s->d;
	json_object *res = w->result;
	json_object *sub = json_object_new_object();
	int64_t sent, waiting;

	w->result = NULL;
	count_submitted(d, res, &sent, &waiting);
	if (sub) {
		json_object_object_add(sub, "finished",
		    json_object_new_boolean(finished));
		json_object_object_add(sub, "submitted",
		    json_object_new_int64(sent));
		json_object_object_add(sub, "waiting",
		    json_object_new_int64(waiting));
		json_object_object_add(res, "submit", sub);
	}
	request_reply(w->req, res);
	w->req = NULL;
}

void
session_reply_after_submit(struct request *req, json_object *result)
{
	struct daemon *d = request_daemon(req);
	struct session *s = d->session;
	struct session_policy p;
	uint64_t bound;

	if (!result) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	json_object_object_del(result, "submit");
	if (!s || s->closing) {
		request_reply(req, result);
		return;
	}
	logind_policy_from_config(&d->config.session, &p);
	bound = submit_bound_ms(&p);
	request_defer(req);
	if (waiter_start(s, bound, on_stop_submitted, 0, req, result) < 0) {
		request_reply(req, result);
	}
}
