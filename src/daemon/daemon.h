/*
 * daemon.h - struct daemon: the one loop and the modules it owns.
 *
 * Start-up order (daemon_start): paths and runtime directory checks ->
 * config -> credentials (absent: offline) -> state dir -> journal open
 * (lock, syncfs, replay through state_apply) -> signals and the commit
 * hook -> listen. cwtimed.c sends READY=1 only after daemon_start()
 * returned 0 (RELIABILITY.md 2.6 step 8).
 *
 * Shutdown order (daemon_run returning): stop the sources (signals,
 * listener), let connections drain their replies (bounded by a deadline),
 * close every remaining handle with uv_walk, run the loop until nothing is
 * alive, compact the journal, free it, and require uv_loop_close() == 0.
 *
 * Handlers in cmd-*.c reach the modules through this struct (d->state,
 * d->config, d->journal ...). Everything here runs on the loop's thread.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>
#include <json-c/json.h>

#include "common/errcode.h"
#include "core/state.h"
#include "daemon/config.h"
#include "daemon/ipc.h"
#include "daemon/paths.h"
#include "daemon/stateview.h"

struct journal;
struct ticker;
struct http;
struct cwapi;
struct submitter;
struct session;
struct request;

/* Exit statuses of cwtimed (sysexits.h values; doc/cwtimed.1.scd). */
enum {
	DAEMON_EXIT_OK = 0,
	DAEMON_EXIT_FAILURE = 1,
	DAEMON_EXIT_USAGE = 64,      /* EX_USAGE */
	DAEMON_EXIT_DATAERR = 65,    /* EX_DATAERR: journal corrupt */
	DAEMON_EXIT_TEMPFAIL = 75,   /* EX_TEMPFAIL: storage failed */
	DAEMON_EXIT_CONFIG = 78,     /* EX_CONFIG */
};

/* How cwtimed.c talks to systemd (daemon.c may not include systemd
 * headers): "READY=1", "STOPPING=1", "RELOADING=1", "WATCHDOG=1",
 * "STATUS=...". Returns 0 or a negative errno, -EAGAIN when the manager's
 * queue is full (notify_send). May be NULL. */
typedef int daemon_notify_fn(const char *state);

/* Messages to systemd waiting for room in a full notify queue. */
#define DAEMON_NOTIFY_BACKLOG 4
#define DAEMON_NOTIFY_LEN 64
#define DAEMON_NOTIFY_RETRY_MS 50

struct daemon_options {
	const char *config_path;    /* --config, or NULL for the XDG default */
	int log_level;              /* --log-level, or -1 */
	uint64_t line_deadline_ms;  /* 0: PROTO_PARTIAL_LINE_MS (test knob) */
	uint64_t watchdog_usec;     /* 0: no watchdog pings */
	daemon_notify_fn *notify;
};

struct daemon {
	uv_loop_t loop;
	bool loop_init;
	struct daemon_options opts;
	uid_t uid;

	struct paths paths;
	struct config config;
	bool have_config;
	struct secret secret;
	bool have_secret;           /* false: offline (no credentials) */

	struct state state;
	bool state_init;
	/* state + the journal's pending batch: what new records are
	 * validated against (stateview.h); use daemon_state_view() */
	struct stateview view;
	struct journal *journal;
	struct ticker *ticker;      /* timers: clock, rules, deadlines (ticker.h) */
	/* submission (submitter.c): transport, client, outbox driver;
	 * http and cwapi are NULL while offline */
	struct http *http;
	struct cwapi *cwapi;
	struct submitter *submitter;
	/* session (session.c): logind events, STATUS=, stop --submit */
	struct session *session;

	struct ipc ipc;
	bool ipc_init;

	uv_signal_t sig_term, sig_int, sig_hup;
	uv_prepare_t commit_hook;
	uv_timer_t shutdown_timer;
	uv_timer_t watchdog_timer;
	/* sd_notify messages that found the queue full, oldest first, and
	 * the timer that retries them (daemon_notify) */
	uv_timer_t notify_timer;
	char notify_backlog[DAEMON_NOTIFY_BACKLOG][DAEMON_NOTIFY_LEN];
	unsigned n_notify_backlog;
	bool handles_init;

	struct request *pending;    /* deferred requests (commands.c) */

	bool stopping;
	int exit_status;            /* what daemon_run() returns */
};

/* Brings the daemon up to "listening". Returns 0, or a negative errno with
 * the reason in *reterr and, in *ret_exit, the exit status cwtimed should
 * use (78 config, 65 journal corrupt, 75 storage, 1 otherwise). Logs
 * nothing: the caller logs reterr once. d must be zeroed; call
 * daemon_fini() in every case. */
int daemon_start(struct daemon *d, const struct daemon_options *opts,
    int *ret_exit, struct errbuf *reterr);

/* Runs the loop until a signal or a fatal storage error stops it, then
 * shuts down in order. Returns the exit status. */
int daemon_run(struct daemon *d);

/* Releases everything; accepts a zeroed or half-started daemon. Returns
 * 0, or -EBUSY if uv_loop_close() found a handle still open (a bug). */
int daemon_fini(struct daemon *d);

/* Tells systemd state through opts.notify without ever blocking: a
 * message that finds the manager's queue full is dropped when it may be
 * (STATUS=, WATCHDOG=1: returns -EAGAIN, the caller may send it again
 * later) and otherwise kept, in order, and retried every
 * DAEMON_NOTIFY_RETRY_MS while the loop runs (returns 0). */
int daemon_notify(struct daemon *d, const char *state);

/* Starts the clean shutdown (SIGTERM does this). exit_status is kept when
 * it is the first request. Idempotent. */
void daemon_stop(struct daemon *d, int exit_status);

/* Re-reads the configuration and the credentials (SIGHUP). A config with
 * errors is refused, its errors logged, and the old one stays. Returns 0
 * or the negative errno of the refused load. Logs. */
int daemon_reload(struct daemon *d);

/* Sends an event line {"v":1,"event":name,"seq":...,"data":data} to every
 * subscriber (data borrowed, NULL = {}). droppable: a subscriber still
 * behind on its output skips it (coalescing periodic ticks); otherwise a
 * subscriber over the output cap is closed. */
void daemon_broadcast(struct daemon *d, const char *name, json_object *data,
    bool droppable);

/* New JSON object describing the current state for a "hello" event (the
 * state snapshot plus version and pid); NULL on ENOMEM. */
json_object *daemon_hello(struct daemon *d);

/* The state a new journal record must be validated against: d->state
 * plus the records still waiting in this iteration's batch (stateview.h).
 * Every tracker_prepare_* / outbox check that leads to journal_append()
 * uses it; replies and events read d->state. NULL with *reterr set on
 * failure (out of memory). */
struct state *daemon_state_view(struct daemon *d, struct errbuf *reterr);

/* True when a CMD_NEEDS_API command may run; otherwise fills *reterr
 * (api-not-configured without config or credentials; api-unreachable
 * while the submitter's circuit breaker is open). */
bool daemon_api_usable(const struct daemon *d, struct errbuf *reterr);
/* True when [api] and the credentials are there (whatever the breaker
 * says): what building a ConnectWise client needs. Else api-not-configured
 * in *reterr. */
bool daemon_api_configured(const struct daemon *d, struct errbuf *reterr);

/* Seq of the last committed journal record (0 without a journal). */
uint64_t daemon_last_seq(const struct daemon *d);
