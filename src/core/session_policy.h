/*
 * session_policy.h - what [session] in cwtimed.conf makes of a session
 * event (sleep, wake, lock, unlock, idle, active, shutdown, SIGTERM).
 *
 * Pure: no clock reads, no I/O. The caller passes the present wall time
 * and what logind reported; the answer says what to do with the timers,
 * from when, and whether to submit and keep the inhibitor lock until the
 * records are durable. The daemon maps struct config_session onto struct
 * session_policy (logind_policy_from_config in src/daemon/logind.h).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* One [session] answer: on_lock, on_sleep, on_idle, on_logout. Not every
 * key accepts every value (cwtimed.conf(5)); the policy treats a value a
 * key does not accept as KEEP. */
enum session_response {
	SESSION_KEEP,
	SESSION_PAUSE,
	SESSION_STOP,
	SESSION_RESPONSE_COUNT,
	SESSION_RESPONSE_INVALID = -1,
};

struct session_policy {
	enum session_response on_lock;	 /* default KEEP */
	enum session_response on_sleep;	 /* default PAUSE (KEEP = PAUSE:
					  * suspended time never counts) */
	enum session_response on_idle;	 /* default KEEP; PAUSE after ... */
	int64_t idle_after_s;		 /* "pause after 10m": 600 */
	enum session_response on_logout; /* default STOP */
	bool resume_after_sleep;	 /* default true */
	int64_t submit_timeout_s;	 /* default 10 */
};

enum session_event {
	SESSION_EVENT_SLEEP,	    /* PrepareForSleep(true) */
	SESSION_EVENT_WAKE,	    /* PrepareForSleep(false) */
	SESSION_EVENT_LOCK,	    /* LockedHint true */
	SESSION_EVENT_UNLOCK,	    /* LockedHint false */
	SESSION_EVENT_IDLE,	    /* IdleHint true (or its re-check) */
	SESSION_EVENT_ACTIVE,	    /* IdleHint false */
	SESSION_EVENT_SHUTDOWN,	    /* PrepareForShutdown(true) */
	SESSION_EVENT_TERM_LOGOUT,  /* SIGTERM, user state "closing" */
	SESSION_EVENT_TERM_RESTART, /* SIGTERM otherwise (restart, upgrade) */
	SESSION_EVENT_COUNT,
};

enum session_action {
	SESSION_ACTION_NONE,   /* leave the timers alone */
	SESSION_ACTION_PAUSE,  /* pause every running timer at ret->at_s */
	SESSION_ACTION_STOP,   /* stop every timer at ret->at_s */
	SESSION_ACTION_RESUME, /* resume the timers the matching event paused
				* (and only those) */
	SESSION_ACTION_WAIT,   /* ask again in ret->recheck_s if still idle */
};

struct session_decision {
	enum session_action action;
	/* Wall-clock second the pause or stop takes effect: now, or the start
	 * of idleness for an idle pause (back-dated). */
	int64_t at_s;
	int64_t recheck_s; /* WAIT: seconds until the idle re-check */
	bool submit;	   /* send stopped entries before letting go */
	bool exit;	   /* the daemon exits once done (logout, shutdown) */
	/* Release the delay inhibitor lock once the records are durable (and
	 * the submission is done or its bound expired). */
	bool release_lock;
};

/* Fills p with the documented defaults. */
void session_policy_init(struct session_policy *p);

/* Decides what ev means under p. now_s is the present wall time (UTC
 * seconds); idle_since_s is when idleness began (IdleSinceHint, seconds;
 * 0 or a value after now_s means unknown = now_s) and matters only for
 * SESSION_EVENT_IDLE. Returns 0, or -EINVAL for an event out of range
 * (*ret untouched). Does not log. */
int session_policy_decide(const struct session_policy *p, enum session_event ev,
    int64_t now_s, int64_t idle_since_s, struct session_decision *ret);

/* How long the daemon may hold the delay lock after PrepareForSleep or
 * PrepareForShutdown before releasing it regardless: min(submit_timeout,
 * InhibitDelayMaxUSec - 1 s), in milliseconds, at least 1. When logind
 * allows 1 s or less, half of what it allows. inhibit_delay_max_us 0 means
 * unknown (logind's default of 5 s is assumed). */
uint64_t session_policy_release_bound_ms(
    int64_t submit_timeout_s, uint64_t inhibit_delay_max_us);

/* "keep", "pause", "stop"; NULL when out of range. */
const char *session_response_to_string(enum session_response r);
/* "sleep", "wake", "lock", ...; NULL when out of range. */
const char *session_event_to_string(enum session_event ev);
/* "none", "pause", "stop", "resume", "wait"; NULL when out of range. */
const char *session_action_to_string(enum session_action a);
