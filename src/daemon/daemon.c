/*
 * daemon.c - the daemon's shape: start-up order, the journal commit hook,
 * signals, reload, and the shutdown order.
 *
 * Invariants:
 * - READY is announced by cwtimed.c only after daemon_start() returned,
 *   i.e. after replay and listen (RELIABILITY.md 2.6 step 8);
 * - the commit hook (a uv_prepare_t, run just before the loop polls)
 *   writes the batch of the iteration with one sync; replies of mutating
 *   commands leave only from the journal's done callbacks, after apply;
 * - after an fsync failure (journal_failed) nothing more is accepted, the
 *   pending replies are flushed and the daemon exits 75;
 * - shutdown closes every handle and requires uv_loop_close() == 0.
 *
 * Must never: exit (cwtimed.c does), include systemd headers (the notify
 * callback stands in for sd_notify), change state except through the
 * journal's apply.
 */
#define _GNU_SOURCE 1

#include "daemon/daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/proto.h"
#include "daemon/cmd-timer.h"
#include "daemon/commands.h"
#include "daemon/journal.h"
#include "daemon/log.h"
#include "daemon/notify.h"
#include "daemon/ticker.h"
#include "daemon/submitter.h" /* submission */
#include "daemon/session.h" /* session: logind, STATUS= */

/* How long connections may take to receive their last replies. */
#define DAEMON_DRAIN_MS 2000

static void
on_notify_retry(uv_timer_t *t)
{
	struct daemon *d = t->data;

	while (d->n_notify_backlog > 0) {
		int r = d->opts.notify(d->notify_backlog[0]);

		if (r == -EAGAIN) {
			return; /* the timer repeats */
		}
		if (r < 0) {
			log_debug_errno(r, "sd_notify: %m");
		}
		d->n_notify_backlog--;
		memmove(d->notify_backlog[0], d->notify_backlog[1],
		    d->n_notify_backlog * sizeof(d->notify_backlog[0]));
	}
	(void) uv_timer_stop(&d->notify_timer);
}

int
daemon_notify(struct daemon *d, const char *state)
{
	int r;

	if (!d->opts.notify) {
		return 0;
	}
	/* behind a backlog a message waits its turn (order matters:
	 * RELOADING=1 before READY=1) */
	r = d->n_notify_backlog > 0 ? -EAGAIN : d->opts.notify(state);
	if (r != -EAGAIN) {
		if (r < 0) {
			log_debug_errno(r, "sd_notify: %m");
		}
		return 0;
	}
	if (notify_may_drop(state)) {
		return -EAGAIN;
	}
	if (d->n_notify_backlog == DAEMON_NOTIFY_BACKLOG ||
	    strlen(state) >= DAEMON_NOTIFY_LEN) {
		log_warning("systemd's notify socket is full: '%s' is lost",
		    state);
		return 0;
	}
	snprintf(d->notify_backlog[d->n_notify_backlog++], DAEMON_NOTIFY_LEN,
	    "%s", state);
	if (d->handles_init && !d->stopping &&
	    !uv_is_active((uv_handle_t *) &d->notify_timer)) {
		(void) uv_timer_start(&d->notify_timer, on_notify_retry,
		    DAEMON_NOTIFY_RETRY_MS, DAEMON_NOTIFY_RETRY_MS);
	}
	return 0;
}

static void
notify(struct daemon *d, const char *state)
{
	(void) daemon_notify(d, state);
}

/* ---- journal callbacks: the one apply function (state.h) ---- */

static int
on_journal_apply(void *userdata, uint16_t type, uint64_t seq,
    json_object *payload, struct errbuf *reterr)
{
	struct daemon *d = userdata;

	int r = state_apply(&d->state, type, seq, payload, reterr);

	/* timers: a changed tracker moves the auto-stop/heartbeat deadline
	 * (no-op during replay: the ticker comes after it) */
	if (r == 0) {
		ticker_kick(d->ticker);
		/* submission: a new, re-queued or resumed entry (no-op
		 * during replay: the submitter comes after it) */
		submitter_on_record(d->submitter, type);
		/* session: STATUS= is refreshed before the next poll */
		session_on_record(d->session, type);
	}
	return r;
}

static json_object *
on_journal_snapshot(void *userdata)
{
	struct daemon *d = userdata;

	return state_snapshot(&d->state);
}

struct state *
daemon_state_view(struct daemon *d, struct errbuf *reterr)
{
	return stateview_get(&d->view, &d->state, d->journal, reterr);
}

/* ---- the commit hook ---- */

static void
on_commit_hook(uv_prepare_t *h)
{
	struct daemon *d = h->data;
	int r;

	if (!d->journal) {
		return;
	}
	if (journal_pending(d->journal) && !journal_failed(d->journal)) {
		r = journal_commit(d->journal);
		if (r < 0 && !journal_failed(d->journal)) {
			/* write error: the batch was refused with disk-full or
			 * disk-error, the file truncated back; we carry on */
			log_warning_errno(r, "cannot write the journal: %m; the "
			    "pending changes were refused");
		}
	}
	if (journal_failed(d->journal) && !d->stopping) {
		log_error("journal storage failed (fsync); refusing further "
		    "changes and exiting so that a restart re-reads what is "
		    "really on disk");
		daemon_stop(d, DAEMON_EXIT_TEMPFAIL);
	}
	/* session: STATUS= for systemd when the counts changed */
	session_status_update(d->session);
}

/* ---- signals and watchdog ---- */

static void
on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;

	switch (signum) {
	case SIGHUP:
		(void) daemon_reload(d); /* logs by itself */
		break;
	case SIGTERM:
		/* session: a logout stops and submits first (session.c);
		 * a plain SIGTERM (restart) leaves the timers running */
		if (session_on_sigterm(d->session)) {
			log_info("received SIGTERM, asking logind whether the "
			    "user is logging out");
			break;
		}
		/* fall through */
	case SIGINT:
		log_info("received %s, shutting down", strsignal(signum));
		daemon_stop(d, DAEMON_EXIT_OK);
		break;
	default:
		break;
	}
}

static void
on_watchdog(uv_timer_t *t)
{
	struct daemon *d = t->data;

	/* Healthy means: the loop turns (we are here) and the journal can
	 * still take changes. A failed journal stops the pings, so systemd
	 * restarts us if the orderly exit were ever to hang. */
	if (!d->journal || !journal_failed(d->journal)) {
		notify(d, "WATCHDOG=1");
	}
}

static void
on_shutdown_deadline(uv_timer_t *t)
{
	struct daemon *d = t->data;

	log_debug("connections did not drain within %d ms, closing them",
	    DAEMON_DRAIN_MS);
	ipc_close_all_now(&d->ipc);
}

/* ---- start ---- */

static int
fail_exit(int *ret_exit, int status, int r)
{
	*ret_exit = status;
	return r;
}

static void
register_secrets(const struct secret *s)
{
	(void) log_register_secret(s->public_key);  /* best effort: a */
	(void) log_register_secret(s->private_key); /* safety net only */
	(void) log_register_secret(s->client_id);
}

/* Logs a multi-line message (the config loader returns one error per
 * line) one line at a time. */
static void
log_lines(int level, const char *prefix, const char *msg)
{
	const char *p = msg;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int) (nl - p) : (int) strlen(p);

		if (n > 0) {
			log_full_errno(level, 0, "%s%.*s", prefix, n, p);
		}
		p = nl ? nl + 1 : NULL;
	}
}

static int
load_secret(struct daemon *d, struct secret *ret, bool *ret_have,
    struct errbuf *reterr)
{
	int r;

	*ret_have = false;
	r = config_load_secret(&d->config, ret, reterr);
	if (r == -ENOENT) {
		log_notice("no ConnectWise credentials (%s); running offline: "
		    "entries wait in the queue", reterr->msg);
		errbuf_clear(reterr);
		return 0;
	}
	if (r < 0) {
		return r;
	}
	*ret_have = true;
	return 0;
}

int
daemon_start(struct daemon *d, const struct daemon_options *opts,
    int *ret_exit, struct errbuf *reterr)
{
	struct paths_env env;
	struct journal_config jc;
	struct ipc_config ic;
	int r;

	*ret_exit = DAEMON_EXIT_FAILURE;
	d->opts = *opts;
	d->uid = geteuid();
	d->exit_status = DAEMON_EXIT_OK;

	r = uv_loop_init(&d->loop);
	if (r < 0) {
		return errbuf_set(reterr, ERR_INTERNAL, r, "uv_loop_init: %s",
		    uv_strerror(r));
	}
	d->loop_init = true;

	paths_env_from_process(&env);
	r = paths_resolve(&env, opts->config_path, &d->paths, reterr);
	if (r < 0) {
		return fail_exit(ret_exit, DAEMON_EXIT_CONFIG, r);
	}
	r = paths_check_runtime(&d->paths, d->uid, reterr);
	if (r < 0) {
		return fail_exit(ret_exit, DAEMON_EXIT_CONFIG, r);
	}

	r = config_load(opts->config_path, &d->config, reterr);
	if (r < 0) {
		return fail_exit(ret_exit, DAEMON_EXIT_CONFIG, r);
	}
	d->have_config = true;
	r = load_secret(d, &d->secret, &d->have_secret, reterr);
	if (r < 0) {
		return fail_exit(ret_exit, DAEMON_EXIT_CONFIG, r);
	}
	if (d->have_secret) {
		register_secrets(&d->secret);
	}

	r = commands_init(reterr);
	if (r < 0) {
		return r;
	}

	r = paths_mkdir_p(d->paths.state_dir, 0700, reterr);
	if (r < 0) {
		return fail_exit(ret_exit, DAEMON_EXIT_CONFIG, r);
	}
	state_init(&d->state);
	stateview_init(&d->view);
	d->state_init = true;
	memset(&jc, 0, sizeof(jc));
	jc.state_dir = d->paths.state_dir;
	jc.apply = on_journal_apply;
	jc.snapshot = on_journal_snapshot;
	jc.userdata = d;
	r = journal_open(&jc, &d->journal, reterr);
	if (r < 0) {
		d->journal = NULL;
		if (reterr->code == ERR_JOURNAL_CORRUPT || r == -EBADMSG) {
			return fail_exit(ret_exit, DAEMON_EXIT_DATAERR, r);
		}
		if (r == -EIO || reterr->code == ERR_STORAGE_FAILED) {
			return fail_exit(ret_exit, DAEMON_EXIT_TEMPFAIL, r);
		}
		return r; /* already running, permissions, ... : 1 */
	}
	state_after_replay(&d->state);

	/* timers (ticker.c, cmd-timer.c): the real clock, the rules from the
	 * config, and the auto-stop/heartbeat deadline, armed after replay
	 * so that an overdue max_duration stops at once. */
	r = ticker_new(d, NULL, &d->ticker);
	if (r < 0) {
		return errbuf_set(reterr, ERR_INTERNAL, r,
		    "cannot set up the timers: %s", strerror(-r));
	}
	/* submission (submitter.c): HTTP, the ConnectWise client and the
	 * outbox driver; offline without credentials. Not fatal: entries
	 * wait in the journal. Logs. */
	(void) submitter_daemon_start(d);
	/* session (session.c): logind; no bus is not an error. Logs. */
	if (session_new(d, &d->session) < 0) {
		return errbuf_set(reterr, ERR_INTERNAL, -ENOMEM,
		    "out of memory");
	}

	/* Sources. Inits cannot fail for a valid loop. */
	(void) uv_signal_init(&d->loop, &d->sig_term);
	(void) uv_signal_init(&d->loop, &d->sig_int);
	(void) uv_signal_init(&d->loop, &d->sig_hup);
	(void) uv_prepare_init(&d->loop, &d->commit_hook);
	(void) uv_timer_init(&d->loop, &d->shutdown_timer);
	(void) uv_timer_init(&d->loop, &d->watchdog_timer);
	(void) uv_timer_init(&d->loop, &d->notify_timer);
	d->notify_timer.data = d;
	d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
	d->commit_hook.data = d;
	d->shutdown_timer.data = d;
	d->watchdog_timer.data = d;
	d->handles_init = true;
	if ((r = uv_signal_start(&d->sig_term, on_signal, SIGTERM)) < 0 ||
	    (r = uv_signal_start(&d->sig_int, on_signal, SIGINT)) < 0 ||
	    (r = uv_signal_start(&d->sig_hup, on_signal, SIGHUP)) < 0 ||
	    (r = uv_prepare_start(&d->commit_hook, on_commit_hook)) < 0) {
		return errbuf_set(reterr, ERR_INTERNAL, r,
		    "cannot set up the loop: %s", uv_strerror(r));
	}
	/* The commit hook must not keep the loop alive on its own. */
	uv_unref((uv_handle_t *) &d->commit_hook);
	if (opts->watchdog_usec > 0) {
		uint64_t ms = opts->watchdog_usec / 2000;

		(void) uv_timer_start(&d->watchdog_timer, on_watchdog,
		    ms ? ms : 1, ms ? ms : 1);
	}

	memset(&ic, 0, sizeof(ic));
	ic.loop = &d->loop;
	ic.socket_path = d->paths.socket_path;
	ic.uid = d->uid;
	ic.line_deadline_ms = opts->line_deadline_ms;
	ic.on_line = commands_on_line;
	ic.on_subscribers = ticker_on_subscribers; /* the minute tick */
	ic.userdata = d;
	(void) ipc_init(&d->ipc, &ic);
	d->ipc_init = true;
	r = ipc_listen(&d->ipc, reterr);
	if (r < 0) {
		if (reterr->code == ERR_PERMISSION) {
			return fail_exit(ret_exit, DAEMON_EXIT_CONFIG, r);
		}
		return r;
	}
	*ret_exit = DAEMON_EXIT_OK;
	return 0;
}

/* ---- stop, run, fini ---- */

void
daemon_stop(struct daemon *d, int exit_status)
{
	if (d->stopping) {
		return;
	}
	d->stopping = true;
	d->exit_status = exit_status;
	notify(d, "STOPPING=1");
	/* submission: cancel requests, answer flushes, close handles */
	submitter_daemon_stop(d);
	/* session: drops logind and its lock, answers waiting submits */
	session_close(d->session);
	if (d->handles_init) {
		uv_close((uv_handle_t *) &d->sig_term, NULL);
		uv_close((uv_handle_t *) &d->sig_int, NULL);
		uv_close((uv_handle_t *) &d->sig_hup, NULL);
		uv_close((uv_handle_t *) &d->watchdog_timer, NULL);
		uv_close((uv_handle_t *) &d->notify_timer, NULL);
		/* Unreferenced: fires only while connections still hold the
		 * loop; a quick drain is not made to wait for it. */
		(void) uv_timer_start(&d->shutdown_timer, on_shutdown_deadline,
		    DAEMON_DRAIN_MS, 0);
		uv_unref((uv_handle_t *) &d->shutdown_timer);
	}
	if (d->ipc_init) {
		ipc_close(&d->ipc);
	}
}

static void
on_walk_close(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h)) {
		uv_close(h, NULL);
	}
}

int
daemon_run(struct daemon *d)
{
	struct errbuf e;
	int r;

	(void) uv_run(&d->loop, UV_RUN_DEFAULT);
	/* Nothing active keeps the loop alive any more: the signals are
	 * closed, the listener too. What may remain: records still pending
	 * in the journal, deferred requests, and connections waiting for
	 * them (they do not read, so their handles are inactive). Commit,
	 * fail what is left (their replies go out), let those connections
	 * drain, then close whatever remains through its owner, so that
	 * every close callback runs. */
	daemon_stop(d, d->exit_status);
	if (d->journal && journal_pending(d->journal) &&
	    !journal_failed(d->journal)) {
		(void) journal_commit(d->journal);
	}
	commands_fini(d);
	(void) uv_run(&d->loop, UV_RUN_DEFAULT);
	if (d->ipc_init) {
		ipc_close_all_now(&d->ipc);
	}
	uv_walk(&d->loop, on_walk_close, NULL);
	(void) uv_run(&d->loop, UV_RUN_DEFAULT);

	if (d->journal && !journal_failed(d->journal) &&
	    d->exit_status == DAEMON_EXIT_OK) {
		errbuf_clear(&e);
		r = journal_compact(d->journal, &e);
		if (r < 0) {
			log_warning_errno(r, "compacting the journal at shutdown "
			    "failed: %s, ignoring", e.msg[0] ? e.msg : strerror(-r));
		}
	}
	return d->exit_status;
}

int
daemon_fini(struct daemon *d)
{
	int r = 0;

	if (d->journal) {
		journal_free(d->journal);
		d->journal = NULL;
	}
	commands_fini(d);
	if (d->ipc_init) {
		ipc_fini(&d->ipc);
		d->ipc_init = false;
	}
	if (d->loop_init) {
		if (d->handles_init && !d->stopping) {
			/* start-up failed half-way: close what exists */
			daemon_stop(d, d->exit_status);
		}
		uv_walk(&d->loop, on_walk_close, NULL);
		(void) uv_run(&d->loop, UV_RUN_DEFAULT);
		r = uv_loop_close(&d->loop);
		d->loop_init = false;
	}
	/* timers: its handle was closed with the loop's */
	ticker_free(d->ticker);
	d->ticker = NULL;
	/* session: its handles were closed with the loop's */
	session_free(d->session);
	d->session = NULL;
	if (d->state_init) {
		stateview_fini(&d->view);
		state_fini(&d->state);
		d->state_init = false;
	}
	log_forget_secrets();
	secret_fini(&d->secret);
	d->have_secret = false;
	config_fini(&d->config);
	d->have_config = false;
	paths_fini(&d->paths);
	return r;
}

/* ---- reload ---- */

int
daemon_reload(struct daemon *d)
{
	struct config nc;
	struct secret ns;
	struct errbuf e;
	bool have = false;
	int r;

	notify(d, "RELOADING=1");
	memset(&nc, 0, sizeof(nc));
	memset(&ns, 0, sizeof(ns));
	errbuf_clear(&e);
	r = config_load(d->opts.config_path, &nc, &e);
	if (r < 0) {
		log_error("reloading the configuration failed; keeping the old "
		    "one:");
		log_lines(LOG_ERR, "  ", e.msg);
		config_fini(&nc);
		notify(d, "READY=1");
		return r;
	}
	r = config_load_secret(&nc, &ns, &e);
	if (r < 0 && r != -ENOENT) {
		log_error("reloading the credentials failed; keeping the old "
		    "configuration: %s", e.msg);
		config_fini(&nc);
		secret_fini(&ns);
		notify(d, "READY=1");
		return r;
	}
	have = (r == 0);
	/* Modules that borrowed strings from the old config must not be
	 * running requests across a reload; today none keeps them. */
	config_fini(&d->config);
	d->config = nc;
	/* timers: the rules borrow names from the config just replaced */
	if (d->ticker && ticker_reload(d->ticker) < 0) {
		log_warning("cannot rebuild the timer rules (out of memory); "
		    "rounding overrides are ignored until the next reload");
	}
	log_forget_secrets();
	secret_fini(&d->secret);
	d->secret = ns;
	d->have_secret = have;
	if (have) {
		register_secrets(&d->secret);
	}
	/* submission: new client; an account-wide pause ends */
	submitter_daemon_reload(d);
	log_notice("configuration reloaded from '%s'%s", d->config.path ?
	    d->config.path : "(defaults)", have ? "" : "; no credentials, "
	    "running offline");
	notify(d, "READY=1");
	return 0;
}

/* ---- services for handlers ---- */

uint64_t
daemon_last_seq(const struct daemon *d)
{
	return d->journal ? journal_last_seq(d->journal) : 0;
}

void
daemon_broadcast(struct daemon *d, const char *name, json_object *data,
    bool droppable)
{
	CLEANUP_FREE char *line = NULL;
	size_t len;
	int r;

	if (!d->ipc_init || ipc_subscribers(&d->ipc) == 0) {
		return;
	}
	r = proto_build_event(name, daemon_last_seq(d), data, &line, &len);
	if (r < 0) {
		log_warning_errno(r, "cannot build the '%s' event: %m, "
		    "subscribers miss it", name);
		return;
	}
	ipc_broadcast(&d->ipc, line, len, droppable);
}

json_object *
daemon_hello(struct daemon *d)
{
	json_object *o = json_object_new_object();
	json_object *snap = NULL;

	if (!o) {
		return NULL;
	}
	/* The status result, as `status` replies it: small, unlike the
	 * checkpoint (a month of submitted entries), and fitted to the line
	 * (a thousand timers with their fields made subscribe fail). */
	if (d->state_init && d->ticker) {
		snap = cmd_timer_status(d);
	} else if (d->state_init) {
		snap = tracker_snapshot(&d->state.tracker);
	} else {
		snap = json_object_new_object();
	}
	if (!snap) {
		json_object_put(o);
		return NULL;
	}
	json_object_object_add(o, "version", json_object_new_string(CWT_VERSION));
	json_object_object_add(o, "protocol", json_object_new_int(PROTO_VERSION));
	json_object_object_add(o, "pid", json_object_new_int((int) getpid()));
	json_object_object_add(o, "state", snap);
	return o;
}

bool
daemon_api_configured(const struct daemon *d, struct errbuf *reterr)
{
	if (!d->have_config || !config_api_configured(&d->config) ||
	    !d->have_secret) {
		errbuf_set(reterr, ERR_API_NOT_CONFIGURED, -ENOTCONN, "%s",
		    errcode_message(ERR_API_NOT_CONFIGURED));
		return false;
	}
	return true;
}

bool
daemon_api_usable(const struct daemon *d, struct errbuf *reterr)
{
	if (!daemon_api_configured(d, reterr)) {
		return false;
	}
	/* glue: while the submitter's circuit breaker is open, ConnectWise
	 * has just failed to answer several times in a row: refuse at once
	 * instead of letting each command wait out its own timeouts. The
	 * submitter's probe closes the breaker again. */
	if (d->submitter) {
		struct submitter_status st;

		submitter_get_status(d->submitter, &st);
		if (st.health == SUBMITTER_UNREACHABLE) {
			errbuf_set(reterr, ERR_API_UNREACHABLE, -ENETUNREACH,
			    "%s", st.reason);
			return false;
		}
	}
	return true;
}
