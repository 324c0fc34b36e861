/*
 * submitter.h - the submission engine: drives the outbox (core/outbox.h)
 * over cwapi with exactly-once delivery (RELIABILITY.md sections 4 and 5).
 *
 * The submitter picks due entries, journals ATTEMPT_STARTED and waits
 * for its commit before the POST goes to the transport, classifies the
 * outcome (connectwise-api.md 12), journals the result, reconciles
 * UNKNOWN entries after the settle delay (mobileGuid probe, natural-key
 * fallback with the [cwtimed:<uuid>] marker), keeps the per-entry
 * backoff, the circuit breaker, the account-wide pause and the pacer. It
 * never changes the outbox itself: every change is a journal record that
 * the journal applies (the one apply function). One uv_timer, armed only
 * when something is due.
 *
 * Everything runs on the loop's thread. The journal, the clock and the
 * ConnectWise client are injected (struct submitter_ops, cwapi over any
 * struct http_transport), so the unit test drives it by hand.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>
#include <json-c/json.h>

#include "common/errcode.h"

struct clocksrc;
struct cwapi;
struct daemon;
struct outbox;
struct submitter;

/* The pause after an account-wide failure lasts until a resume, a
 * reload, or one successful probe after this long. */
#define SUBMITTER_PAUSE_PROBE_MS (3600u * 1000u)
/* The reason `cwtimectl queue pause` journals; such a pause ends only on
 * `queue resume` (no probe, no reload). */
#define SUBMITTER_USER_PAUSE_REASON "paused by the user (cwtimectl queue pause)"
/* Pending longer than this is flagged; longer than a day, logged. */
#define SUBMITTER_FLAG_AGE_S 3600
#define SUBMITTER_WARN_AGE_S 86400

/* Called once per appended record after its batch committed (status 0,
 * applied) or failed (status < 0). Same shape as journal_done_fn. */
typedef void submitter_done_fn(
    void *userdata, int status, const struct errbuf *err);

struct submitter_ops {
	/* Appends one record (payload borrowed) to the journal's pending
	 * batch; done (may be NULL) runs after the commit. Returns 0 or a
	 * negative errno with a reason. The daemon: journal_append. */
	int (*append)(void *ctx, uint16_t type, json_object *payload,
	    submitter_done_fn *done, void *done_userdata,
	    struct errbuf *reterr);
	/* Optional: the submission state changed (for status events). */
	void (*changed)(void *ctx);
	/* Optional: may this PENDING entry be posted now? false skips it
	 * this round; the hook kicks the submitter when that changes. The
	 * daemon: cmdref_entry_ready (work type and role names to ids). */
	bool (*ready)(void *ctx, const char *uuid, json_object *body);
	void *ctx;
};

struct submitter_config {
	uint32_t connect_timeout_ms; /* 0: HTTP default */
	uint32_t total_timeout_ms;   /* 0: HTTP default (60 s) */
	uint64_t settle_delay_ms;    /* 0: 2 x total_timeout_ms */
	uint32_t max_rate;	     /* requests/min; 0 = unpaced */
	uint32_t max_in_flight;	     /* 0: BACKOFF_PACER_IN_FLIGHT */
	uint64_t backoff_base_ms;    /* 0: BACKOFF_BASE_MS */
	uint64_t backoff_cap_ms;     /* 0: BACKOFF_CAP_MS */
	uint64_t breaker_cool_ms;    /* 0: BACKOFF_BREAKER_COOL_MS */
	uint64_t breaker_cool_max_ms; /* 0: BACKOFF_BREAKER_COOL_MAX_MS */
	uint32_t breaker_threshold;  /* 0: BACKOFF_BREAKER_THRESHOLD */
	uint64_t pause_probe_ms;     /* 0: SUBMITTER_PAUSE_PROBE_MS */
	/* [api] member, for the natural key of a body that names no member
	 * (when no member was learned from a 201): an identifier ("" none)
	 * or an id (> 0). Copied with the rest. */
	char member_identifier[65]; /* config.c allows 64 characters */
	int64_t member_id;
};

/* What `status` shows (the "submission" object). */
enum submitter_health {
	SUBMITTER_OK,
	SUBMITTER_PAUSED,      /* account-wide pause, or queue pause */
	SUBMITTER_UNREACHABLE, /* breaker open: "api-unreachable" */
	SUBMITTER_OFFLINE,     /* no credentials or [api] not configured */
};

struct submitter_status {
	enum submitter_health health;
	const char *reason; /* borrowed; "" when none */
	size_t pending, attempting, unknown, rejected, submitted;
	int64_t oldest_pending_age_s; /* -1: nothing waiting */
	bool oldest_flagged;	      /* waiting more than an hour */
	const char *breaker;	      /* "closed", "open", "half-open" */
	int64_t next_attempt_ms;      /* ms until the next wake, -1: idle */
};

/*
 * Creates a submitter on loop over outbox (borrowed: the state the
 * journal applies to). api may be NULL (offline). cfg and ops are
 * copied; clock may be NULL (the real clock). Returns 0 and *ret, or a
 * negative errno. Does not log. Nothing is sent before submitter_kick().
 */
int submitter_new(uv_loop_t *loop, struct outbox *outbox, struct cwapi *api,
    const struct submitter_config *cfg, const struct submitter_ops *ops,
    const struct clocksrc *clock, struct submitter **ret);

/* Starts closing: cancels every call (no callbacks), forgets pending
 * journal callbacks, closes the timer; freed in its close callback.
 * Accepts NULL. */
void submitter_close(struct submitter *s);

/* Swaps the client (reload; NULL: offline) and the configuration. Calls
 * in flight on the old client are cancelled and their entries treated
 * as sent with an unknown outcome (reconciled later). */
void submitter_set_api(
    struct submitter *s, struct cwapi *api, const struct submitter_config *cfg);

/* Something changed (an entry was queued, re-queued, edited, the queue
 * resumed): look again, on the next loop iteration. Cheap; may be called
 * from a journal apply. */
void submitter_kick(struct submitter *s);

/* Tells the submitter about an applied record (calls submitter_kick for
 * the types that can make work). For daemon.c's apply hook. */
void submitter_on_record(struct submitter *s, uint16_t type);

/* Clears the per-entry backoff of one entry (NULL: all) so it is tried
 * at once (the settle delay and Retry-After still apply). */
void submitter_retry_now(struct submitter *s, const char *uuid);

/* true when the entry has a request or a record in flight. */
bool submitter_entry_busy(const struct submitter *s, const char *uuid);

/* A command is about to journal a change of this entry (edit, drop,
 * requeue): the submitter leaves it alone until submitter_unclaim().
 * Returns false when the entry is busy (entry-busy). s may be NULL. */
bool submitter_claim(struct submitter *s, const char *uuid);
void submitter_unclaim(struct submitter *s, const char *uuid);

/* Fills *ret (strings borrowed from s). */
void submitter_get_status(
    const struct submitter *s, struct submitter_status *ret);

/* The "submission" object for status: {"state": "ok" | "paused" |
 * "api-unreachable" | "offline", "reason", "breaker",
 * "oldest_queued_age_s", "oldest_flagged"} and "queue" counts are in
 * submitter_queue_json. New objects, NULL on ENOMEM. s may be NULL
 * (offline). */
json_object *submitter_status_json(const struct submitter *s);
json_object *submitter_queue_json(
    const struct submitter *s, const struct outbox *o);

const char *submitter_health_name(enum submitter_health h);

/* flush: called once when every entry that was waiting at the call has
 * been tried (or is terminal, or nothing can be sent: paused, offline,
 * breaker open), or at the deadline. */
typedef void submitter_flush_fn(void *userdata);

/* Starts a flush: clears backoff, kicks, and calls cb later (never from
 * inside this call). Returns 0 or -ENOMEM. At close, cb runs for every
 * outstanding flush. */
int submitter_flush(
    struct submitter *s, submitter_flush_fn *cb, void *userdata);

/* Inside a flush's cb only: the ConnectWise id of an entry of that
 * flush whose SUBMITTED committed while it waited, else 0. For the
 * report of an entry the outbox has forgotten already (only the last
 * OUTBOX_KEEP_DONE finished entries stay). s may be NULL. */
int64_t submitter_flush_remote_id(const struct submitter *s, const char *uuid);

/* Test knob: ms until the timer fires, or -1 when it is not armed. */
int64_t submitter_timer_due_ms(const struct submitter *s);

/* ---- daemon glue (struct daemon owns one submitter) ---- */

/* Creates the HTTP transport, the client and the submitter from
 * d->config and d->secret (offline when unusable) and kicks. Logs what
 * it decides. Returns 0 or a negative errno (logged). */
int submitter_daemon_start(struct daemon *d);
/* SIGHUP: new client from the reloaded config; resumes a paused queue
 * (journals QUEUE_RESUMED). Logs. */
void submitter_daemon_reload(struct daemon *d);
/* Shutdown: closes the submitter, the client and the transport. */
void submitter_daemon_stop(struct daemon *d);
