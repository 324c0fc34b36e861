/*
 * session_policy.c - the [session] table: event x configuration -> action.
 *
 * Invariants: suspended time never counts (sleep always pauses or stops,
 * whatever on_sleep says); a resume only ever follows the event that
 * paused; an idle pause is back-dated to when idleness began, never to a
 * time after now; the lock release bound always leaves logind a margin
 * and never drops below what a journal commit needs when logind allows
 * it. Pure: no clock, no I/O, no logging.
 */
#include "core/session_policy.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* logind's InhibitDelayMaxSec= default (logind.conf(5)). */
#define LOGIND_DEFAULT_DELAY_US 5000000ULL
/* Margin left to logind: it stops waiting at InhibitDelayMaxUSec. */
#define RELEASE_MARGIN_US 1000000ULL
/* The bound never goes below this (when logind allows it): the stop or
 * pause records are committed on the next loop iteration, and a bound
 * timer that fired first would let go of the lock before they are
 * durable. */
#define RELEASE_FLOOR_MS 500ULL

void
session_policy_init(struct session_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->on_lock = SESSION_KEEP;
	p->on_sleep = SESSION_PAUSE;
	p->on_idle = SESSION_KEEP;
	p->idle_after_s = 600;
	p->on_logout = SESSION_STOP;
	p->resume_after_sleep = true;
	p->submit_timeout_s = 10;
}

static void
decide_idle(const struct session_policy *p, int64_t now_s, int64_t idle_since_s,
    struct session_decision *d)
{
	int64_t since = idle_since_s;
	int64_t after = p->idle_after_s > 0 ? p->idle_after_s : 0;

	if (p->on_idle != SESSION_PAUSE) {
		return;
	}
	/* Unknown or in the future (a clock step): idleness starts now. */
	if (since <= 0 || since > now_s) {
		since = now_s;
	}
	if (now_s - since >= after) {
		d->action = SESSION_ACTION_PAUSE;
		d->at_s = since; /* back-dated: idle time never counts */
	} else {
		d->action = SESSION_ACTION_WAIT;
		d->recheck_s = after - (now_s - since);
	}
}

int
session_policy_decide(const struct session_policy *p, enum session_event ev,
    int64_t now_s, int64_t idle_since_s, struct session_decision *ret)
{
	struct session_decision d = {
	    .action = SESSION_ACTION_NONE,
	    .at_s = now_s,
	};

	switch (ev) {
	case SESSION_EVENT_SLEEP:
		/* KEEP is no choice for sleep: suspended time never counts. */
		if (p->on_sleep == SESSION_STOP) {
			d.action = SESSION_ACTION_STOP;
			d.submit = true;
		} else {
			d.action = SESSION_ACTION_PAUSE;
		}
		d.release_lock = true;
		break;
	case SESSION_EVENT_WAKE:
		if (p->on_sleep != SESSION_STOP && p->resume_after_sleep) {
			d.action = SESSION_ACTION_RESUME;
		}
		break;
	case SESSION_EVENT_LOCK:
		if (p->on_lock == SESSION_PAUSE) {
			d.action = SESSION_ACTION_PAUSE;
		} else if (p->on_lock == SESSION_STOP) {
			d.action = SESSION_ACTION_STOP;
			d.submit = true;
		}
		break;
	case SESSION_EVENT_UNLOCK:
		if (p->on_lock == SESSION_PAUSE) {
			d.action = SESSION_ACTION_RESUME;
		}
		break;
	case SESSION_EVENT_IDLE:
		decide_idle(p, now_s, idle_since_s, &d);
		break;
	case SESSION_EVENT_ACTIVE:
		if (p->on_idle == SESSION_PAUSE) {
			d.action = SESSION_ACTION_RESUME;
		}
		break;
	case SESSION_EVENT_SHUTDOWN:
		/* The SIGTERM that follows ends the process; exiting here
		 * would be wrong if the shutdown is cancelled. */
		if (p->on_logout != SESSION_KEEP) {
			d.action = SESSION_ACTION_STOP;
			d.submit = true;
		}
		d.release_lock = true;
		break;
	case SESSION_EVENT_TERM_LOGOUT:
		if (p->on_logout != SESSION_KEEP) {
			d.action = SESSION_ACTION_STOP;
			d.submit = true;
		}
		d.exit = true;
		break;
	case SESSION_EVENT_TERM_RESTART:
		/* Running timers are durable: a restart stops nothing. */
		d.exit = true;
		break;
	default:
		return -EINVAL;
	}
	*ret = d;
	return 0;
}

uint64_t
session_policy_release_bound_ms(
    int64_t submit_timeout_s, uint64_t inhibit_delay_max_us)
{
	uint64_t delay_us = inhibit_delay_max_us;
	uint64_t allowed_ms, submit_ms, bound;

	if (delay_us == 0) {
		delay_us = LOGIND_DEFAULT_DELAY_US;
	}
	if (delay_us > RELEASE_MARGIN_US) {
		allowed_ms = (delay_us - RELEASE_MARGIN_US) / 1000;
	} else {
		allowed_ms = delay_us / 2000;
	}
	/* Capped before the multiplication: the config bounds it, but this
	 * function must not overflow on any input. */
	if (submit_timeout_s <= 0) {
		submit_ms = 0;
	} else if (submit_timeout_s > INT32_MAX) {
		submit_ms = (uint64_t) INT32_MAX * 1000;
	} else {
		submit_ms = (uint64_t) submit_timeout_s * 1000;
	}
	bound = submit_ms < allowed_ms ? submit_ms : allowed_ms;
	if (bound < RELEASE_FLOOR_MS) {
		bound = RELEASE_FLOOR_MS < allowed_ms ? RELEASE_FLOOR_MS
						      : allowed_ms;
	}
	return bound > 0 ? bound : 1;
}

const char *
session_response_to_string(enum session_response r)
{
	static const char *const names[SESSION_RESPONSE_COUNT] = {
	    [SESSION_KEEP] = "keep",
	    [SESSION_PAUSE] = "pause",
	    [SESSION_STOP] = "stop",
	};

	if ((int) r < 0 || r >= SESSION_RESPONSE_COUNT) {
		return NULL;
	}
	return names[r];
}

const char *
session_event_to_string(enum session_event ev)
{
	static const char *const names[SESSION_EVENT_COUNT] = {
	    [SESSION_EVENT_SLEEP] = "sleep",
	    [SESSION_EVENT_WAKE] = "wake",
	    [SESSION_EVENT_LOCK] = "lock",
	    [SESSION_EVENT_UNLOCK] = "unlock",
	    [SESSION_EVENT_IDLE] = "idle",
	    [SESSION_EVENT_ACTIVE] = "active",
	    [SESSION_EVENT_SHUTDOWN] = "shutdown",
	    [SESSION_EVENT_TERM_LOGOUT] = "logout",
	    [SESSION_EVENT_TERM_RESTART] = "restart",
	};

	if ((int) ev < 0 || ev >= SESSION_EVENT_COUNT) {
		return NULL;
	}
	return names[ev];
}

const char *
session_action_to_string(enum session_action a)
{
	static const char *const names[] = {
	    [SESSION_ACTION_NONE] = "none",
	    [SESSION_ACTION_PAUSE] = "pause",
	    [SESSION_ACTION_STOP] = "stop",
	    [SESSION_ACTION_RESUME] = "resume",
	    [SESSION_ACTION_WAIT] = "wait",
	};

	if ((int) a < 0 || (size_t) a >= sizeof(names) / sizeof(names[0])) {
		return NULL;
	}
	return names[a];
}
