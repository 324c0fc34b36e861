/*
 * logind.h - systemd-logind over sd-bus, driven by the daemon's libuv loop.
 *
 * Follows the user's graphical session (User.Display of GetUser(uid): a
 * user service belongs to no session, so a lookup by pid would fail), and
 * reports sleep, shutdown, lock and idle through callbacks. Holds a delay
 * inhibitor lock ("sleep:shutdown") so the daemon can make its stop or
 * pause records durable and try a submission before the machine goes
 * down; the lock is let go when the daemon says its work is done
 * (logind_release_lock) or when the bound
 * min(submit_timeout, InhibitDelayMaxUSec - 1 s) expires, whichever is
 * first, and taken again after wake.
 *
 * What to do with the timers is not decided here: the callbacks report
 * facts and src/core/session_policy.h decides. Everything runs on the
 * loop's thread; callbacks run from the loop and may call any logind_*
 * function, logind_close included.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

struct config_session;
struct errbuf;
struct logind;
struct session_policy;

/* logind_new's result when no system bus can be reached (containers, CI):
 * the daemon says so once and runs without session handling. */
#define LOGIND_NO_BUS (-ENOTCONN)

struct logind_callbacks {
	/* PrepareForSleep: going_to_sleep true before suspend (the lock is
	 * held until logind_release_lock or the bound), false after wake (the
	 * lock is being taken again). */
	void (*on_sleep)(struct logind *l, bool going_to_sleep, void *userdata);
	/* PrepareForShutdown(true): the lock is held as for sleep. */
	void (*on_shutdown)(struct logind *l, void *userdata);
	/* The followed session's LockedHint changed. */
	void (*on_lock)(struct logind *l, bool locked, void *userdata);
	/* The followed session's IdleHint changed (or an idle re-check asked
	 * for with logind_recheck_idle found it still idle). since_utc_s is
	 * IdleSinceHint in Unix seconds, 0 when unknown. */
	void (*on_idle)(
	    struct logind *l, bool idle, int64_t since_utc_s, void *userdata);
	/* The followed session as first read (at start-up, or when a new
	 * session of the user is followed): not a change, but what changed
	 * while nobody was listening. May be NULL. */
	void (*on_found)(
	    struct logind *l, bool locked, bool idle, void *userdata);
	/* The answer to logind_query_closing. */
	void (*on_closing)(struct logind *l, bool closing, void *userdata);
	/* The bus went away or logind could not be used after start-up (the
	 * module has logged why, once); the lock is gone. May be NULL. */
	void (*on_lost)(struct logind *l, int r, void *userdata);
};

/* Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS is honoured, for
 * tests) and starts, asynchronously, to look up the user's session,
 * subscribe to its signals and take the delay lock. cb is copied; the
 * callbacks in it may be NULL. Returns 0 and *ret, LOGIND_NO_BUS with a
 * user-facing reason in *reterr when there is no system bus, or another
 * negative errno (-ENOMEM...) with a reason. On failure no callback ever
 * runs; memory already tied to loop handles is freed by their close
 * callbacks when the loop runs next (as after logind_close). Does not
 * log. */
int logind_new(uv_loop_t *loop, const struct logind_callbacks *cb,
    void *userdata, struct logind **ret, struct errbuf *reterr);

/* Starts closing: drops the lock, closes the uv handles; the object is
 * freed by the last close callback (run the loop). No callback runs after
 * this. Accepts NULL; idempotent. */
void logind_close(struct logind *l);

/* Sets the submit_timeout part of the release bound (default 10 s). */
void logind_set_submit_timeout(struct logind *l, int64_t submit_timeout_s);

/* The bound applied after PrepareForSleep(true)/PrepareForShutdown(true),
 * in ms (session_policy_release_bound_ms of the current values). */
uint64_t logind_release_bound_ms(const struct logind *l);

/* The daemon's work for a sleep or shutdown is durable (records committed,
 * submission done or given up): close the inhibitor fd now. Harmless when
 * no lock is held. After a shutdown the lock is not taken again. */
void logind_release_lock(struct logind *l);

/* The inhibitor fd while a delay lock is held, else -1 (status, tests). */
int logind_inhibitor_fd(const struct logind *l);

/* true once the look-ups are done (session found or known to be absent,
 * lock taken or refused), and again once a newly followed session's
 * signal match and state are in (false in between). */
bool logind_ready(const struct logind *l);

/* Object path of the followed session, or NULL (no graphical session). */
const char *logind_session_path(const struct logind *l);

/* The last known user state is "closing" (cached; refreshed by
 * logind_query_closing and by PropertiesChanged on the user object). */
bool logind_user_closing(const struct logind *l);

/* Asks logind for the user's State now (the SIGTERM decision); the answer
 * comes to on_closing within about a second (a failed or late answer
 * reports false: a restart, which stops nothing). Returns 0, or a
 * negative errno when the question cannot be sent (then on_closing never
 * runs). */
int logind_query_closing(struct logind *l);

/* Calls on_idle(true, since) again after delay_s seconds if the session is
 * still idle then ("pause after 10m"). A new call replaces the previous
 * one; going active cancels it. Returns 0 or a negative errno. */
int logind_recheck_idle(struct logind *l, int64_t delay_s);

/* Maps [session] of cwtimed.conf onto the pure policy's struct. */
void logind_policy_from_config(
    const struct config_session *c, struct session_policy *ret);
