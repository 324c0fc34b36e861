/*
 * tracker.h - the timer state machine (timers are POSIX's namespace).
 *
 * Timers are keyed by canonical target ("ticket:54321"). Each is running
 * or paused; one of them has the focus. Every change happens in two
 * steps, as DESIGN.md's "one direction" demands:
 *   1. tracker_prepare_*() validates a command against the current state
 *      and the injected struct now, and builds the journal record (type and
 *      JSON payload) WITHOUT changing anything;
 *   2. after the record is durable, tracker_apply() changes the state from
 *      the record. Replay calls the same tracker_apply(), so live commands
 *      and replay cannot drift apart.
 * The payload carries every computed figure (positions, gaps, flags, the
 * finished entries), so apply never recomputes and never needs config.
 *
 * Time model: a timer's wall-clock start labels position 0; every later
 * stamp is a position in ns on the BOOTTIME axis measured from the start
 * (so wall-clock steps and DST cannot create or destroy time). Suspended
 * time, CLOCK_BOOTTIME - CLOCK_MONOTONIC between two stamps of a running
 * timer, becomes an excluded interval and flags the timer. After a reboot
 * (another boot id) positions advance by the wall-clock delta and the timer
 * is flagged for review; tracker_prepare_stop with at_heartbeat ends it at
 * the last stamp of the old boot.
 *
 * Pauses: every pause records why (enum tracker_pause_reason) and may be
 * back-dated (tracker_prepare_pause_all): its stamp stays the reading of
 * now, and the pause begins at paused_since_ns, anywhere in the current
 * running segment [run_since_ns, now].
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/entry.h"
#include "core/rules.h"
#include "core/target.h"

struct errbuf;

#define TRACKER_BOOT_ID_LEN 37
/* Most timers at once (RELIABILITY F3 wants 1000 to be fine). */
#define TRACKER_MAX_TIMERS 4096
/* A timer keeps any number of pause intervals: the array grows
 * geometrically (24 bytes a pause), so a day of many pauses never fails
 * nor loses time. Memory is bounded by what a checkpoint may hold
 * (JOURNAL_CHECKPOINT_MAX, about a million pauses over all timers). */
/* Longest ticket summary a timer keeps (bytes, without the NUL); a
 * longer one is cut at a character boundary when the record is built. */
#define TRACKER_SUMMARY_MAX 512
/* A wall-clock delta that differs from the BOOTTIME delta by more than this
 * is a clock step (flagged). */
#define TRACKER_STEP_TOLERANCE_NS 2000000000LL
/* BOOTTIME - MONOTONIC above this between two stamps is a suspend. */
#define TRACKER_SUSPEND_TOLERANCE_NS 1000000000LL
/* Cancelling a timer with more recorded time than this needs confirm. */
#define TRACKER_CANCEL_CONFIRM_S 60

/* What the caller knows about the present; read once per command. */
struct now {
	int64_t wall_utc_s;		   /* CLOCK_REALTIME, seconds */
	int64_t mono_ns;		   /* CLOCK_MONOTONIC */
	int64_t boot_ns;		   /* CLOCK_BOOTTIME */
	char boot_id[TRACKER_BOOT_ID_LEN]; /* /proc/sys/kernel/random/boot_id */
	/* First local midnight strictly after t
	 * (timeparse_next_local_midnight); NULL: never split at midnight. */
	int64_t (*next_midnight)(int64_t t, void *userdata);
	/* Fills buf with n random bytes (for entry UUIDs); required by the
	 * commands that create entries (stop, log, auto-stop). */
	void (*random)(uint8_t *buf, size_t n, void *userdata);
	void *userdata;
};

enum tracker_state { TRACKER_RUNNING, TRACKER_PAUSED };

enum tracker_flag {
	TRACKER_FLAG_CLOCK_STEP = 1 << 0, /* the wall clock stepped */
	TRACKER_FLAG_SUSPEND = 1 << 1,	  /* suspended time was excluded */
	TRACKER_FLAG_REBOOT = 1 << 2,	  /* ran across a reboot: review */
	TRACKER_FLAG_ADJUSTED = 1 << 3,	  /* start moved by hand */
};

/* One stamp: where a timer stood at a command. */
struct tracker_stamp {
	int64_t wall_s;
	int64_t mono_ns;
	int64_t boot_ns;
	char boot_id[TRACKER_BOOT_ID_LEN];
	int64_t pos_ns; /* ns since the timer's start label */
};

enum tracker_pause_kind { TRACKER_PAUSE_USER, TRACKER_PAUSE_SUSPEND };

struct tracker_pause {
	int64_t from_ns; /* positions */
	int64_t to_ns;
	enum tracker_pause_kind kind;
};

/* Why a timer is paused; journaled with the pause ("reason") and shown in
 * status as "pause_reason". NONE: unknown (a record written before the
 * field existed), shown as null. The names are part of the journal format
 * and of the protocol: never rename, only append. */
enum tracker_pause_reason {
	TRACKER_REASON_NONE,
	TRACKER_REASON_USER,	    /* "user": pause, toggle */
	TRACKER_REASON_SWITCH,	    /* "switch": switch to another timer */
	TRACKER_REASON_CONCURRENCY, /* "concurrency": another timer started or
				     * resumed with concurrency = single */
	TRACKER_REASON_LOCK,	    /* "lock": [session] on_lock = pause */
	TRACKER_REASON_IDLE,	    /* "idle": [session] on_idle = pause */
	TRACKER_REASON_SLEEP,	    /* "sleep": PrepareForSleep */
	TRACKER_REASON_COUNT,
	TRACKER_REASON_INVALID = -1,
};

struct tracker_timer {
	char key[TARGET_STR_MAX]; /* canonical target */
	struct target target;
	enum tracker_state state;
	int64_t start_wall;	      /* Unix s UTC: label of position 0 */
	struct tracker_stamp anchor;  /* the last stamp */
	int64_t paused_since_ns;      /* position, when paused */
	/* Where the current (or last) running segment began: 0 for a timer
	 * never resumed, else the position of its last resume. A pause may
	 * be back-dated to here, never before. */
	int64_t run_since_ns;
	int64_t reboot_pos_ns;	      /* last position of the old boot; -1 */
	struct tracker_pause *pauses; /* closed intervals, sorted */
	size_t n_pauses;
	size_t cap_pauses;
	/* While paused: why, and the seq of the record that paused it
	 * (session.c resumes the timers of one event by these). */
	enum tracker_pause_reason pause_reason;
	uint64_t paused_seq;
	unsigned flags;	     /* enum tracker_flag */
	uint64_t last_used;  /* seq of the last record that touched it */
	struct entry fields; /* notes, work type, ... from start/set */
	/* ConnectWise's summary of the ticket, looked up at start and
	 * journaled with TIMER_STARTED (heap, owned), or NULL. */
	char *summary;
};

struct tracker {
	struct tracker_timer **timers;
	size_t n_timers;
	size_t cap_timers;
	char focus[TARGET_STR_MAX]; /* key of the focused timer, or "" */
	/* The rules used by prepare (never by apply); borrowed, NULL means
	 * rules_config_init() defaults. Set by the daemon after config load. */
	const struct rules_config *rules;
};

void tracker_init(struct tracker *t);
/* Frees every timer; accepts a zeroed tracker. */
void tracker_fini(struct tracker *t);

/* The timer for a canonical key, or NULL. */
struct tracker_timer *tracker_find(const struct tracker *t, const char *key);
/* The focused timer, or NULL. */
struct tracker_timer *tracker_focused(const struct tracker *t);

/* Position of now for timer tm (ns since its start label). */
int64_t tracker_timer_pos_ns(
    const struct tracker_timer *tm, const struct now *now);
/* Time worked so far (ns): position minus pauses, suspends and the
 * running pause. Never negative. */
int64_t tracker_timer_worked_ns(
    const struct tracker_timer *tm, const struct now *now);
/* True when tm ran across a reboot: it is running and its last stamp is
 * from another boot than now's, or a reboot was already recorded. */
bool tracker_timer_rebooted(
    const struct tracker_timer *tm, const struct now *now);

/* Status of every timer (or one) for replies and events:
 * {"focus":"ticket:1","timers":[{"target","state","start","worked_s",
 * "pause_reason","focus","flags":[...],"fields":{...},"summary"}]}
 * ("summary" only when the timer has one; "pause_reason" the name of
 * enum tracker_pause_reason while paused, else null). New object or
 * NULL. */
json_object *tracker_status_json(
    const struct tracker *t, const struct now *now, const char *only_key);

/* ---- commands: validate and build a record, change nothing ---- */

/* Every prepare function returns 0 with the record type in *ret_type and a
 * new payload in *ret_payload, or a negative errno with the user-facing
 * reason in *reterr (and no payload). None logs. A target argument is the
 * text the user typed ("54321", "project:12"); NULL means the focused
 * timer where that makes sense. */

struct tracker_start_args {
	const char *target;
	int64_t at;		    /* start label (Unix s); 0: now */
	int64_t ago_s;		    /* start this long ago; 0: now */
	const struct entry *fields; /* template (notes, work type...); NULL */
	/* The ticket's summary as ConnectWise gave it (NULL or "": none);
	 * journaled with a NEW timer only (a resume keeps its own). */
	const char *summary;
};

/* start: a new timer (TIMER_STARTED), or resumes a paused one
 * (TIMER_RESUMED); ERR_TIMER_EXISTS when it already runs. With
 * concurrency single, every other running timer is paused in the same
 * record. The started timer gets the focus. */
int tracker_prepare_start(const struct tracker *t,
    const struct tracker_start_args *a, const struct now *now,
    uint16_t *ret_type, json_object **ret_payload, struct errbuf *reterr);

/* pause (TIMER_PAUSED, reason "user") / resume (TIMER_RESUMED; single
 * concurrency pauses the others in the same record, reason "concurrency").
 * target NULL: the focused timer. */
int tracker_prepare_pause(const struct tracker *t, const char *target,
    const struct now *now, uint16_t *ret_type, json_object **ret_payload,
    struct errbuf *reterr);
int tracker_prepare_resume(const struct tracker *t, const char *target,
    const struct now *now, uint16_t *ret_type, json_object **ret_payload,
    struct errbuf *reterr);

/* pause --all (sleep, lock, idle): one TIMER_PAUSED record pausing every
 * running timer, each with reason. at_s (Unix s; 0: now) back-dates the
 * pauses (an idle pause starts when idleness began): each timer's pause
 * begins (now - at_s) seconds of BOOTTIME before now, clamped to the start
 * of its current running segment (its start, or its last resume): a
 * pause never reaches into time that was already paused or before the
 * timer. Suspend gaps inside the back-dated stretch are folded into the
 * pause. at_s in the future is refused (ERR_TIME_IN_FUTURE). Returns 0
 * with a NULL payload when nothing runs. */
int tracker_prepare_pause_all(const struct tracker *t,
    enum tracker_pause_reason reason, int64_t at_s, const struct now *now,
    uint16_t *ret_type, json_object **ret_payload, struct errbuf *reterr);

/* "user", "switch", ...; NULL for NONE or out of range. */
const char *tracker_pause_reason_to_string(enum tracker_pause_reason r);
/* The reason named s; TRACKER_REASON_INVALID when unknown. */
enum tracker_pause_reason tracker_pause_reason_from_string(const char *s);

/* toggle: with a target: start it when it has no timer, pause it when it
 * runs, resume it when paused. Without: pause or resume the focused timer
 * (ERR_NO_SUCH_TIMER when there is none). */
int tracker_prepare_toggle(const struct tracker *t,
    const struct tracker_start_args *a, const struct now *now,
    uint16_t *ret_type, json_object **ret_payload, struct errbuf *reterr);

/* switch: pause the focused timer (whatever the concurrency) and start or
 * resume a->target, in one record. */
int tracker_prepare_switch(const struct tracker *t,
    const struct tracker_start_args *a, const struct now *now,
    uint16_t *ret_type, json_object **ret_payload, struct errbuf *reterr);

struct tracker_stop_args {
	const char *target; /* NULL: the focused timer */
	bool all;	    /* every timer, one record */
	bool at_heartbeat;  /* end at the last stamp before the reboot */
	int64_t at;	    /* end label (Unix s); 0: now */
	const struct entry *fields; /* last-minute fields (notes...); NULL */
};

/* stop: one TIMER_STOPPED record with, per timer, the raw figures, the
 * rounded parts and each finished entry (UUID and ConnectWise body). */
int tracker_prepare_stop(const struct tracker *t,
    const struct tracker_stop_args *a, const struct now *now,
    uint16_t *ret_type, json_object **ret_payload, struct errbuf *reterr);

/* The forgotten-timer rule: when some timer's position has reached
 * max_duration, builds one TIMER_STOPPED record ending each such timer at
 * start + max_duration (internalNotes says so). Returns 0 with a NULL
 * payload when nothing is due. */
int tracker_prepare_autostop(const struct tracker *t, const struct now *now,
    uint16_t *ret_type, json_object **ret_payload, struct errbuf *reterr);

/* Nanoseconds from now until the next max_duration auto-stop (<= 0: due),
 * or -1 when no timer has one. For the daemon's deadline timer. */
int64_t tracker_next_autostop_ns(
    const struct tracker *t, const struct now *now);

/* cancel: drop a timer without an entry (TIMER_CANCELLED); more than
 * TRACKER_CANCEL_CONFIRM_S recorded needs confirm (ERR_CONFIRM_NEEDED). */
int tracker_prepare_cancel(const struct tracker *t, const char *target,
    bool confirm, const struct now *now, uint16_t *ret_type,
    json_object **ret_payload, struct errbuf *reterr);

/* set: change the field template of a timer (TIMER_SET). */
int tracker_prepare_set(const struct tracker *t, const char *target,
    const struct entry *fields, const struct now *now, uint16_t *ret_type,
    json_object **ret_payload, struct errbuf *reterr);

/* note: append text to the timer's notes (TIMER_NOTES). */
int tracker_prepare_note(const struct tracker *t, const char *target,
    const char *text, const struct now *now, uint16_t *ret_type,
    json_object **ret_payload, struct errbuf *reterr);

/* adjust --start: move the start label to new_start (not in the future,
 * before the first pause) (TIMER_ADJUSTED). */
int tracker_prepare_adjust(const struct tracker *t, const char *target,
    int64_t new_start, const struct now *now, uint16_t *ret_type,
    json_object **ret_payload, struct errbuf *reterr);

struct tracker_log_args {
	const char *target;
	int64_t duration_s; /* > 0 */
	int64_t start;	    /* start label; 0: now - duration */
	const struct entry *fields;
};

/* log: an entry from a duration (ENTRY_QUEUED), rounded and split by the
 * same rules as a stop. */
int tracker_prepare_log(const struct tracker *t,
    const struct tracker_log_args *a, const struct now *now, uint16_t *ret_type,
    json_object **ret_payload, struct errbuf *reterr);

/* heartbeat: stamps every running timer (HEARTBEAT). Returns 0 with a NULL
 * payload when nothing runs. */
int tracker_prepare_heartbeat(const struct tracker *t, const struct now *now,
    uint16_t *ret_type, json_object **ret_payload, struct errbuf *reterr);

/* ---- state change from a committed record ---- */

/* Applies a TIMER_*, HEARTBEAT or ENTRY_QUEUED record (the latter changes
 * nothing here). Other types are ignored. A payload that does not fit the
 * state returns -EBADMSG with the reason; the state is then unchanged.
 * seq becomes the last_used of the timers touched. */
int tracker_apply(struct tracker *t, uint16_t type, uint64_t seq,
    json_object *payload, struct errbuf *reterr);

/* The whole tracker as JSON, and back (into an initialised, empty
 * tracker). Round-trips exactly. */
json_object *tracker_snapshot(const struct tracker *t);
int tracker_restore(struct tracker *t, json_object *o, struct errbuf *reterr);
