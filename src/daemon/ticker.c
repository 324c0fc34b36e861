/*
 * ticker.c - max_duration auto-stop and heartbeats, on one uv_timer.
 *
 * Invariants:
 * - the uv_timer is armed only while some timer exists: for the
 *   auto-stop deadline of any timer (paused ones too: max_duration counts
 *   from the start) and, while one runs, for the next heartbeat;
 * - at most one batch of ticker records is in flight; the done callback
 *   re-arms, so a slow commit never doubles an auto-stop;
 * - nothing is journaled once the daemon is stopping;
 * - the second uv_timer (tick_timer) is armed only while a timer runs and
 *   someone subscribes; it journals nothing, it only sends subscribers a
 *   droppable "tick" event just after a running timer's elapsed minute
 *   changes, so status bars redraw without a clock of their own.
 * Must never: change state itself (the journal applies), keep the loop
 * alive (the handle is unreferenced).
 *
 * The uv_timer runs on CLOCK_MONOTONIC, which stops during suspend: a
 * deadline may fire late after a resume, but the auto-stop record always
 * ends the timer at start + max_duration, so lateness costs nothing.
 */
#include "daemon/ticker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errcode.h"
#include "core/target.h"
#include "daemon/clocksrc.h"
#include "daemon/cmd-timer.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/journal.h"
#include "daemon/log.h"

/* After a failed append, try again this much later (no busy loop). */
#define TICKER_RETRY_MS 60000

int
ticker_rules_from_config(const struct config *c, struct rules_config *ret,
    struct rules_rounding_rule **ret_rules)
{
	struct rules_rounding_rule *rr = NULL;

	rules_config_init(ret);
	ret->concurrency = c->timers.concurrency == CONFIG_CONCURRENCY_PARALLEL
	    ? RULES_CONCURRENCY_PARALLEL
	    : RULES_CONCURRENCY_SINGLE;
	ret->max_duration_s = c->timers.max_duration_s;
	ret->split_at_midnight = c->timers.split_at_midnight;
	ret->pauses = c->deduction.pauses == CONFIG_PAUSES_SPLIT
	    ? RULES_PAUSES_SPLIT
	    : RULES_PAUSES_DEDUCT;
	ret->break_s = c->deduction.break_s;
	ret->break_after_s = c->deduction.break_after_s;

	/* The two enums list the same modes in the same order, but map
	 * them by name so that a reordering cannot go unnoticed. */
	ret->rounding.mode = rules_round_mode_from_name(
	    config_round_mode_to_string(c->rounding.mode));
	if (ret->rounding.mode == RULES_ROUND_INVALID) {
		ret->rounding.mode = RULES_ROUND_NONE;
	}
	ret->rounding.increment_s = c->rounding.increment_s;
	ret->rounding.minimum_s = c->rounding.minimum_s;

	if (c->n_rounding_overrides > 0) {
		rr = calloc(c->n_rounding_overrides, sizeof(*rr));
		if (!rr) {
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < c->n_rounding_overrides; i++) {
		const struct config_rounding_override *o =
		    &c->rounding_overrides[i];

		rr[i].work_type = o->work_type;
		rr[i].charge_type = -1;
		if (o->charge_type) {
			/* an unknown name matches nothing rather than
			 * everything */
			rr[i].charge_type =
			    (int) target_type_from_name(o->charge_type);
		}
		rr[i].rounding.mode = rules_round_mode_from_name(
		    config_round_mode_to_string(o->r.mode));
		if (rr[i].rounding.mode == RULES_ROUND_INVALID) {
			rr[i].rounding.mode = RULES_ROUND_NONE;
		}
		rr[i].rounding.increment_s = o->r.increment_s;
		rr[i].rounding.minimum_s = o->r.minimum_s;
	}
	ret->round_rules = rr;
	ret->n_round_rules = c->n_rounding_overrides;
	*ret_rules = rr;
	return 0;
}

static void
point_tracker(struct ticker *t)
{
	/* Set before every prepare: a checkpoint apply rebuilds the tracker
	 * and would otherwise leave it on the defaults. */
	t->d->state.tracker.rules = &t->rules;
}

int
ticker_reload(struct ticker *t)
{
	struct rules_config nr;
	struct rules_rounding_rule *rr = NULL;
	int r;

	r = ticker_rules_from_config(&t->d->config, &nr, &rr);
	if (r < 0) {
		/* the old overrides borrow names from a config that may be
		 * gone already: fall back to the default rounding only */
		free(t->round_rules);
		t->round_rules = NULL;
		t->rules.round_rules = NULL;
		t->rules.n_round_rules = 0;
		return r;
	}
	free(t->round_rules);
	t->round_rules = rr;
	t->rules = nr;
	t->heartbeat_ms = t->d->config.timers.heartbeat_s > 0
	    ? t->d->config.timers.heartbeat_s * 1000
	    : 300000;
	point_tracker(t);
	ticker_kick(t);
	return 0;
}

int
ticker_now(struct ticker *t, struct now *ret, struct errbuf *reterr)
{
	int r;

	point_tracker(t);
	r = clocksrc_now(t->clock, ret);
	if (r < 0) {
		return errbuf_set(reterr, ERR_INTERNAL, r,
		    "cannot read the boot id: %s", strerror(-r));
	}
	return 0;
}

static bool
any_running(const struct tracker *tr)
{
	for (size_t i = 0; i < tr->n_timers; i++) {
		if (tr->timers[i]->state == TRACKER_RUNNING) {
			return true;
		}
	}
	return false;
}

static void on_tick(uv_timer_t *h);
static void on_minute(uv_timer_t *h);

/* Milliseconds until the shown elapsed minute (elapsed_s / 60) of some
 * running timer changes, rounded up plus one so that the status read
 * then already shows the new minute; or -1 when no timer runs. With
 * CWTIMED_TEST_TICK_MS set, that interval instead. */
static int64_t
tick_delay_ms(struct ticker *t)
{
	const struct tracker *tr = &t->d->state.tracker;
	const int64_t minute_ns = 60LL * 1000000000LL;
	struct now now;
	int64_t best = -1;

	if (!any_running(tr)) {
		return -1;
	}
	if (t->tick_every_ms > 0) {
		return t->tick_every_ms;
	}
	point_tracker(t);
	if (clocksrc_now(t->clock, &now) < 0) {
		return -1;
	}
	for (size_t i = 0; i < tr->n_timers; i++) {
		const struct tracker_timer *tm = tr->timers[i];
		int64_t left, ms;

		if (tm->state != TRACKER_RUNNING) {
			continue;
		}
		left = minute_ns - tracker_timer_worked_ns(tm, &now) % minute_ns;
		ms = (left + 999999) / 1000000 + 1;
		if (best < 0 || ms < best) {
			best = ms;
		}
	}
	return best;
}

/* Arms the minute tick while a timer runs and someone subscribes; stops
 * it otherwise (idle is idle: no subscriber, no wake-up). */
static void
tick_arm(struct ticker *t)
{
	struct daemon *d = t->d;
	int64_t delay;

	if (uv_is_closing((uv_handle_t *) &t->tick_timer)) {
		return;
	}
	if (d->stopping || !d->ipc_init || ipc_subscribers(&d->ipc) == 0) {
		(void) uv_timer_stop(&t->tick_timer);
		return;
	}
	delay = tick_delay_ms(t);
	if (delay < 0) {
		(void) uv_timer_stop(&t->tick_timer);
		return;
	}
	(void) uv_timer_start(&t->tick_timer, on_minute, (uint64_t) delay, 0);
}

static void
on_minute(uv_timer_t *h)
{
	struct ticker *t = h->data;

	if (t->d->stopping) {
		return;
	}
	/* droppable: a subscriber still behind skips it (the next one, or
	 * any change, carries the same status) */
	cmd_timer_tick(t->d);
	tick_arm(t);
}

void
ticker_on_subscribers(void *userdata)
{
	struct daemon *d = userdata;

	if (d && d->ticker) {
		tick_arm(d->ticker);
	}
}

void
ticker_kick(struct ticker *t)
{
	const struct tracker *tr;
	struct now now;
	int64_t delay = -1, auto_ns, now_ms;

	if (!t) {
		return;
	}
	tick_arm(t); /* the running timers changed, perhaps */
	if (t->d->stopping || uv_is_closing((uv_handle_t *) &t->timer)) {
		(void) uv_timer_stop(&t->timer);
		return;
	}
	if (t->inflight > 0) {
		return; /* the done callback kicks again */
	}
	tr = &t->d->state.tracker;
	if (tr->n_timers == 0) {
		t->last_heartbeat_ms = -1;
		(void) uv_timer_stop(&t->timer);
		return;
	}
	point_tracker(t);
	if (clocksrc_now(t->clock, &now) < 0) {
		(void) uv_timer_stop(&t->timer);
		return;
	}
	now_ms = now.mono_ns / 1000000LL;
	auto_ns = tracker_next_autostop_ns(tr, &now);
	if (auto_ns >= 0) {
		/* round up: firing a millisecond early would find nothing
		 * due and re-arm for 0 ms */
		delay = (auto_ns + 999999) / 1000000;
	}
	if (any_running(tr)) {
		int64_t hb;

		if (t->last_heartbeat_ms < 0) {
			t->last_heartbeat_ms = now_ms; /* the start stamped */
		}
		hb = t->last_heartbeat_ms + t->heartbeat_ms - now_ms;
		if (hb < 0) {
			hb = 0;
		}
		if (delay < 0 || hb < delay) {
			delay = hb;
		}
	} else {
		t->last_heartbeat_ms = -1;
	}
	if (delay < 0) {
		(void) uv_timer_stop(&t->timer);
		return;
	}
	(void) uv_timer_start(&t->timer, on_tick, (uint64_t) delay, 0);
}

static void
on_record_done(void *userdata, int status, const struct errbuf *err)
{
	struct ticker *t = userdata;

	if (t->inflight > 0) {
		t->inflight--;
	}
	if (status < 0) {
		t->autostop_inflight = false;
		log_warning_errno(status, "cannot journal the timer deadline "
		    "record: %s; trying again later",
		    err && err->msg[0] ? err->msg : strerror(-status));
		if (t->inflight == 0 && !t->d->stopping) {
			(void) uv_timer_start(&t->timer, on_tick,
			    TICKER_RETRY_MS, 0);
		}
		return;
	}
	if (t->autostop_inflight && t->inflight == 0) {
		t->autostop_inflight = false;
		cmd_timer_broadcast(t->d); /* a timer ended on its own */
	}
	ticker_kick(t);
}

/* Appends one record; returns 0 or a negative errno (logged). */
static int
append(struct ticker *t, uint16_t type, json_object *payload, const char *what)
{
	struct errbuf e;
	int r;

	errbuf_clear(&e);
	r = journal_append(t->d->journal, type, payload, false, on_record_done,
	    t, &e);
	if (r < 0) {
		log_warning_errno(r, "cannot journal the %s: %s; trying again "
		    "later", what, e.msg[0] ? e.msg : strerror(-r));
		return r;
	}
	t->inflight++;
	return 0;
}

static void
on_tick(uv_timer_t *h)
{
	struct ticker *t = h->data;
	struct daemon *d = t->d;
	json_object *payload = NULL;
	struct state *view;
	struct errbuf e;
	struct now now;
	uint16_t type = 0;
	int64_t now_ms;
	int r, failed = 0;

	if (d->stopping || t->inflight > 0 || !d->journal ||
	    journal_failed(d->journal)) {
		return;
	}
	errbuf_clear(&e);
	if (ticker_now(t, &now, &e) < 0) {
		log_warning("%s; timers are neither stamped nor auto-stopped",
		    e.msg);
		return;
	}
	now_ms = now.mono_ns / 1000000LL;

	/* validated on top of records already pending in this iteration
	 * (a stop from a client, say): stateview.h */
	view = daemon_state_view(d, &e);
	r = view ? tracker_prepare_autostop(&view->tracker, &now, &type,
	    &payload, &e) : -ENOMEM;
	if (r < 0) {
		log_warning_errno(r, "cannot build the max_duration auto-stop: "
		    "%s", e.msg);
		failed = 1;
	} else if (payload) {
		log_notice("stopping timers that reached max_duration (%llds)",
		    (long long) t->rules.max_duration_s);
		if (append(t, type, payload, "max_duration auto-stop") < 0) {
			failed = 1;
		}
		t->autostop_inflight = t->inflight > 0;
		json_object_put(payload);
		payload = NULL;
	}

	if (t->last_heartbeat_ms >= 0 &&
	    now_ms - t->last_heartbeat_ms >= t->heartbeat_ms) {
		/* Not in the same batch as an auto-stop: the heartbeat
		 * would stamp a timer that the stop, applied first, has
		 * removed, and apply would refuse the record. */
		if (t->inflight == 0) {
			errbuf_clear(&e);
			view = daemon_state_view(d, &e);
			r = view ? tracker_prepare_heartbeat(&view->tracker,
			    &now, &type, &payload, &e) : -ENOMEM;
			if (r < 0) {
				log_warning_errno(r, "cannot build the "
				    "heartbeat: %s", e.msg);
				failed = 1;
			} else if (payload) {
				if (append(t, type, payload, "heartbeat") < 0) {
					failed = 1;
				}
				json_object_put(payload);
			}
			t->last_heartbeat_ms = now_ms;
		}
		/* else: still due, it follows once the stop is done */
	}
	if (t->inflight > 0) {
		return; /* on_record_done re-arms */
	}
	if (failed) {
		(void) uv_timer_start(&t->timer, on_tick, TICKER_RETRY_MS, 0);
		return;
	}
	ticker_kick(t);
}

/* CWTIMED_TEST_TICK_MS: a test knob (cwtimed(1), ENVIRONMENT) that sends
 * the tick every that many milliseconds instead of on the minute. Only a
 * positive integer up to an hour is honoured. */
static int64_t
tick_test_interval(void)
{
	const char *e = getenv("CWTIMED_TEST_TICK_MS");
	unsigned long long v;
	int n = 0;

	if (!e || !*e) {
		return 0;
	}
	if (e[0] < '0' || e[0] > '9' || sscanf(e, "%llu%n", &v, &n) != 1 ||
	    e[n] != '\0' || v == 0 || v > 3600000ULL) {
		log_warning("ignoring invalid CWTIMED_TEST_TICK_MS='%s'", e);
		return 0;
	}
	return (int64_t) v;
}

int
ticker_new(struct daemon *d, const struct clocksrc *c, struct ticker **ret)
{
	struct ticker *t;
	int r;

	t = calloc(1, sizeof(*t));
	if (!t) {
		return -ENOMEM;
	}
	t->d = d;
	t->clock = c ? c : clocksrc_real();
	t->last_heartbeat_ms = -1;
	r = uv_timer_init(&d->loop, &t->timer);
	if (r < 0) {
		free(t);
		return r;
	}
	t->timer.data = t;
	/* Cannot fail for a valid loop (it only fills in the struct). */
	(void) uv_timer_init(&d->loop, &t->tick_timer);
	t->tick_timer.data = t;
	t->tick_every_ms = tick_test_interval();
	/* A deadline never keeps the daemon alive: shutdown must not wait
	 * for the next heartbeat or tick. */
	uv_unref((uv_handle_t *) &t->timer);
	uv_unref((uv_handle_t *) &t->tick_timer);
	*ret = t;
	r = ticker_reload(t);
	if (r < 0) {
		/* the handle is closed by the daemon's uv_walk; the caller
		 * keeps *ret and frees it after the loop closed */
		return r;
	}
	return 0;
}

void
ticker_free(struct ticker *t)
{
	if (!t) {
		return;
	}
	if (t->d && t->d->state.tracker.rules == &t->rules) {
		t->d->state.tracker.rules = NULL;
	}
	free(t->round_rules);
	free(t);
}
