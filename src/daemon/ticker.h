/*
 * ticker.h - the daemon side of the timers: the injected clock, the rules
 * built from the configuration, and the one uv_timer that journals the
 * max_duration auto-stop and the heartbeat while a timer runs.
 *
 * Idle is idle: the uv_timer is armed only while a timer exists (for the
 * auto-stop deadline) and, for heartbeats, only while one runs. The
 * second uv_timer, for the minute "tick" event, is armed only while a
 * timer runs and someone subscribes. Both are unreferenced, so they never
 * keep the loop alive at shutdown.
 *
 * Records the ticker writes go through journal_append with its own done
 * callback (there is no request); they are applied by the same
 * state_apply as every command's.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "core/rules.h"
#include "core/tracker.h"

struct clocksrc;
struct config;
struct daemon;

struct ticker {
	struct daemon *d;
	const struct clocksrc *clock;
	struct rules_config rules;
	struct rules_rounding_rule *round_rules; /* owned; names borrowed
						  * from d->config */
	int64_t heartbeat_ms;
	uv_timer_t timer;
	uv_timer_t tick_timer;	   /* the minute "tick" event for subscribers */
	int64_t tick_every_ms;	   /* CWTIMED_TEST_TICK_MS, else 0: minutes */
	int64_t last_heartbeat_ms; /* clocksrc mono; -1 while nothing runs */
	unsigned inflight;	   /* records appended, not yet done */
	bool autostop_inflight;	   /* one of them is an auto-stop */
};

/* Builds a struct rules_config from the configuration: every value is
 * copied across explicitly (config defaults differ from
 * rules_config_init()). *ret_rules gets a new array (free()) that borrows
 * the work type names of c, so rebuild after each config change. Returns
 * 0 or -ENOMEM. Pure; exposed for the unit test. */
int ticker_rules_from_config(const struct config *c,
    struct rules_config *ret, struct rules_rounding_rule **ret_rules);

/* Creates the ticker on d->loop with clock c (NULL: the real clock),
 * takes its rules from d->config and points d->state.tracker.rules at
 * them. Call after replay. Returns 0 or a negative errno. Does not log. */
int ticker_new(struct daemon *d, const struct clocksrc *c,
    struct ticker **ret);

/* Re-reads the rules from d->config (after a reload). Returns 0 or
 * -ENOMEM (the old rules stay). */
int ticker_reload(struct ticker *t);

/* Reads the clock into *ret and (re)points the tracker at our rules.
 * Returns 0, or a negative errno with ERR_INTERNAL in *reterr when the
 * boot id cannot be read. */
int ticker_now(struct ticker *t, struct now *ret, struct errbuf *reterr);

/* Re-arms the deadline after the timers changed. Cheap; may be called
 * from an apply callback. Accepts NULL. */
void ticker_kick(struct ticker *t);

/* Arms or stops the minute tick after the number of subscribers changed
 * (ipc_config.on_subscribers; userdata is the struct daemon). The tick
 * runs only while a timer runs AND someone subscribes (idle is idle): it
 * sends a droppable "tick" event, whose data is the status result, just
 * after the elapsed minute of a running timer changes. Logs nothing. */
void ticker_on_subscribers(void *userdata);

/* Frees the ticker. Call only once the loop has closed its handle (after
 * uv_loop_close, or after uv_walk + uv_run). Accepts NULL. */
void ticker_free(struct ticker *t);
