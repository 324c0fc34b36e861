/*
 * logind.c - systemd-logind over sd-bus on the daemon's libuv loop.
 *
 * Job: follow the user's graphical session (GetUser(uid) -> User.Display,
 * re-followed when Display changes), report PrepareForSleep,
 * PrepareForShutdown, LockedHint and IdleHint/IdleSinceHint through the
 * callbacks, keep a delay inhibitor lock ("sleep:shutdown") and let go of
 * it when the daemon says its work is durable or when the bound expires.
 *
 * sd-bus on libuv (STYLE.md 8): one uv_poll_t on sd_bus_get_fd() with the
 * events of sd_bus_get_events(), one uv_timer_t set from
 * sd_bus_get_timeout() (armed only when sd-bus has a deadline, so an idle
 * daemon does not wake), sd_bus_process() until it returns 0, and the
 * watch re-armed after every processing round and after every message we
 * queue.
 *
 * Invariants:
 * - every call is asynchronous; the loop never blocks on the bus;
 * - the inhibitor fd is ours (a CLOEXEC dup of the one in the reply), held
 *   from the Inhibit reply until logind_release_lock, the bound, a lost
 *   bus or logind_close; never taken again after a shutdown began;
 * - no user callback runs after logind_close; the struct is freed only in
 *   the last uv close callback, never while sd_bus_process is on the stack;
 * - failures after start-up are logged once here and never crash or stop
 *   the daemon: it runs on without session handling.
 */
#include "daemon/logind.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>
#include <systemd/sd-bus.h>

#include "common/errcode.h"
#include "core/session_policy.h"
#include "daemon/config.h"
#include "daemon/log.h"

#define LOGIN1_SERVICE "org.freedesktop.login1"
#define LOGIN1_PATH "/org/freedesktop/login1"
#define LOGIN1_MANAGER "org.freedesktop.login1.Manager"
#define LOGIN1_USER "org.freedesktop.login1.User"
#define LOGIN1_SESSION "org.freedesktop.login1.Session"
#define DBUS_PROPERTIES "org.freedesktop.DBus.Properties"

#define INHIBIT_WHAT "sleep:shutdown"
#define INHIBIT_WHO "cwtimed"
#define INHIBIT_WHY "Stopping timers and submitting time"

/* The SIGTERM question must be answered fast: systemd kills after
 * TimeoutStopSec, and the stop and submit still have to happen. */
#define QUERY_CLOSING_TIMEOUT_US 1000000ULL

/* Handles closed by logind_close (io, bus_timer, bound_timer,
 * idle_timer). */
#define LOGIND_HANDLES 4

enum lock_reason { REASON_NONE, REASON_SLEEP, REASON_SHUTDOWN };

struct logind {
	uv_loop_t *loop;
	struct logind_callbacks cb;
	void *userdata;
	sd_bus *bus;

	uv_poll_t io;
	uv_timer_t bus_timer;
	uv_timer_t bound_timer; /* the release bound after a prepare signal */
	uv_timer_t idle_timer;	/* logind_recheck_idle */
	int pending_closes;
	bool closing;
	bool lost;

	uid_t uid;
	char *user_path;
	char *session_path;
	sd_bus_slot *user_match;
	sd_bus_slot *session_match;

	int inhibit_fd;
	bool inhibit_pending; /* an Inhibit call is in flight */
	bool want_lock;	      /* false from PrepareForShutdown(true) on */
	enum lock_reason reason;

	uint64_t delay_max_us; /* InhibitDelayMaxUSec, 0 = unknown */
	int64_t submit_timeout_s;

	unsigned setup_pending; /* initial look-ups in flight */
	bool ready;
	bool no_logind; /* the bus has no login1: said once, quiet after */

	bool locked;
	bool idle;
	int64_t idle_since_s;
	bool user_closing;
};

static void bus_rearm(struct logind *l);

static uint64_t
now_monotonic_us(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail */
	return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static void
inhibit_close(struct logind *l)
{
	if (l->inhibit_fd >= 0) {
		/* Closing our copy is what lets logind go on; nothing to
		 * report if it fails, the descriptor is gone either way. */
		(void) close(l->inhibit_fd);
		l->inhibit_fd = -1;
	}
	l->reason = REASON_NONE;
	if (!l->closing) {
		(void) uv_timer_stop(&l->bound_timer);
	}
}

/* The bus is gone or unusable: say so once, let go of the lock, stop
 * watching. The handles stay for logind_close. */
static void
bus_lost(struct logind *l, int r)
{
	if (l->lost || l->closing) {
		return;
	}
	l->lost = true;
	log_warning_errno(r,
	    "lost the system bus: %m; sleep, shutdown, lock "
	    "and idle are no longer followed");
	inhibit_close(l);
	(void) uv_poll_stop(&l->io);
	(void) uv_timer_stop(&l->bus_timer);
	(void) uv_timer_stop(&l->idle_timer);
	if (l->cb.on_lost != NULL) {
		l->cb.on_lost(l, r, l->userdata);
	}
}

/* No org.freedesktop.login1 on the bus (a container with a bus but no
 * logind): one message for all the calls that fail because of it. */
static bool
no_logind(struct logind *l, const sd_bus_error *e)
{
	if (!sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) &&
	    !sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER)) {
		return false;
	}
	if (!l->no_logind) {
		l->no_logind = true;
		log_notice("no logind on the system bus (%s): sleep, shutdown, "
			   "lock and idle are not followed",
		    e->name);
	}
	return true;
}

static void
setup_done(struct logind *l)
{
	if (l->setup_pending > 0 && --l->setup_pending == 0) {
		l->ready = true;
	}
}

static void
bus_process(struct logind *l)
{
	int r;

	for (;;) {
		if (l->closing || l->lost) {
			return;
		}
		r = sd_bus_process(l->bus, NULL);
		if (r < 0) {
			bus_lost(l, r);
			return;
		}
		if (r == 0) {
			break;
		}
	}
	bus_rearm(l);
}

static void
on_bus_io(uv_poll_t *h, int status, int events)
{
	struct logind *l = h->data;

	/* An error on the poll (the fd broke) still goes through
	 * sd_bus_process, which then reports the broken connection. */
	(void) status;
	(void) events;
	bus_process(l);
}

static void
on_bus_timer(uv_timer_t *h)
{
	bus_process(h->data);
}

static void
bus_rearm(struct logind *l)
{
	uint64_t usec = UINT64_MAX, now;
	int ev, uvev = 0, r;

	if (l->closing || l->lost) {
		return;
	}
	if (!sd_bus_is_open(l->bus)) {
		bus_lost(l, -ECONNRESET);
		return;
	}
	ev = sd_bus_get_events(l->bus);
	if (ev < 0) {
		bus_lost(l, ev);
		return;
	}
	if (ev & POLLIN) {
		uvev |= UV_READABLE;
	}
	if (ev & POLLOUT) {
		uvev |= UV_WRITABLE;
	}
	r = uv_poll_start(&l->io, uvev, on_bus_io);
	if (r < 0) {
		bus_lost(l, r);
		return;
	}
	r = sd_bus_get_timeout(l->bus, &usec);
	if (r < 0) {
		bus_lost(l, r);
		return;
	}
	if (usec == UINT64_MAX) {
		(void) uv_timer_stop(&l->bus_timer);
		return;
	}
	/* sd-bus deadlines are absolute CLOCK_MONOTONIC microseconds. */
	now = now_monotonic_us();
	(void) uv_timer_start(&l->bus_timer, on_bus_timer,
	    usec > now ? (usec - now + 999) / 1000 : 0, 0);
}

/* ---- the inhibitor lock ------------------------------------------ */

static int
on_inhibit_reply(sd_bus_message *m, void *userdata, sd_bus_error *reterr)
{
	struct logind *l = userdata;
	const sd_bus_error *e;
	int fd, r;

	l->inhibit_pending = false;
	if (l->closing) {
		return 0;
	}
	e = sd_bus_message_get_error(m);
	if (e != NULL && no_logind(l, e)) {
		goto done;
	}
	if (e != NULL) {
		log_warning(
		    "cannot take the sleep/shutdown delay lock: %s: %s; "
		    "timers are still paused on wake",
		    e->name, e->message != NULL ? e->message : "");
		goto done;
	}
	r = sd_bus_message_read(m, "h", &fd);
	if (r < 0) {
		log_warning_errno(r, "malformed Inhibit reply: %m");
		goto done;
	}
	if (!l->want_lock || l->inhibit_fd >= 0) {
		goto done; /* a shutdown began meanwhile, or a duplicate */
	}
	/* The message owns fd and closes it when freed: keep a copy. */
	l->inhibit_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (l->inhibit_fd < 0) {
		log_warning_errno(-errno, "cannot keep the delay lock: %m");
	}
done:
	setup_done(l);
	return 0;
}

static int
inhibit_take(struct logind *l)
{
	int r;

	if (l->inhibit_fd >= 0 || l->inhibit_pending || !l->want_lock ||
	    l->lost || l->closing) {
		return 0;
	}
	r = sd_bus_call_method_async(l->bus, NULL, LOGIN1_SERVICE, LOGIN1_PATH,
	    LOGIN1_MANAGER, "Inhibit", on_inhibit_reply, l, "ssss",
	    INHIBIT_WHAT, INHIBIT_WHO, INHIBIT_WHY, "delay");
	if (r < 0) {
		return r;
	}
	l->inhibit_pending = true;
	l->setup_pending++;
	return 0;
}

static void
on_bound_timer(uv_timer_t *h)
{
	struct logind *l = h->data;

	if (l->inhibit_fd >= 0) {
		log_warning("the work before %s took longer than %llu ms; "
			    "releasing the delay lock",
		    l->reason == REASON_SHUTDOWN ? "shutdown" : "sleep",
		    (unsigned long long) logind_release_bound_ms(l));
	}
	inhibit_close(l);
}

/* ---- signals from the manager ------------------------------------ */

static void
prepare_begin(struct logind *l, enum lock_reason reason)
{
	if (l->inhibit_fd < 0) {
		return; /* no lock: logind does not wait for us anyway */
	}
	l->reason = reason;
	(void) uv_timer_start(
	    &l->bound_timer, on_bound_timer, logind_release_bound_ms(l), 0);
}

static int
on_prepare_for_sleep(sd_bus_message *m, void *userdata, sd_bus_error *reterr)
{
	struct logind *l = userdata;
	int start, r;

	if (l->closing) {
		return 0;
	}
	r = sd_bus_message_read(m, "b", &start);
	if (r < 0) {
		log_debug_errno(r, "malformed PrepareForSleep: %m, ignoring");
		return 0;
	}
	if (start) {
		prepare_begin(l, REASON_SLEEP);
	} else {
		/* A lock the daemon never released is still a valid lock for
		 * the next sleep; otherwise take a new one. */
		l->reason = REASON_NONE;
		(void) uv_timer_stop(&l->bound_timer);
		r = inhibit_take(l);
		if (r < 0) {
			log_warning_errno(r,
			    "cannot ask for the delay lock "
			    "again: %m");
		}
	}
	if (l->cb.on_sleep != NULL) {
		l->cb.on_sleep(l, start != 0, l->userdata);
	}
	return 0;
}

static int
on_prepare_for_shutdown(sd_bus_message *m, void *userdata, sd_bus_error *reterr)
{
	struct logind *l = userdata;
	int start, r;

	if (l->closing) {
		return 0;
	}
	r = sd_bus_message_read(m, "b", &start);
	if (r < 0) {
		log_debug_errno(
		    r, "malformed PrepareForShutdown: %m, ignoring");
		return 0;
	}
	if (!start) {
		/* The shutdown was cancelled: be ready for the next one. */
		l->want_lock = true;
		r = inhibit_take(l);
		if (r < 0) {
			log_warning_errno(r,
			    "cannot ask for the delay lock "
			    "again: %m");
		}
		return 0;
	}
	l->want_lock = false;
	prepare_begin(l, REASON_SHUTDOWN);
	if (l->cb.on_shutdown != NULL) {
		l->cb.on_shutdown(l, l->userdata);
	}
	return 0;
}

/* ---- properties of the user and the session ---------------------- */

struct props {
	bool have_locked, locked;
	bool have_idle, idle;
	bool have_since;
	uint64_t since_us;
	bool have_state;
	char state[32];
	bool have_display;
	char display[256]; /* object path of the Display session */
	bool invalidated;  /* one of ours was invalidated: ask again */
};

static bool
is_ours(const char *name)
{
	static const char *const ours[] = {
	    "LockedHint", "IdleHint", "IdleSinceHint", "State", "Display"};

	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		if (strcmp(name, ours[i]) == 0) {
			return true;
		}
	}
	return false;
}

static void
copy_str(char *dst, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n >= size) {
		n = size - 1;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Reads one a{sv} dictionary of properties into *p. */
static int
props_read_dict(sd_bus_message *m, struct props *p)
{
	const char *name, *s, *path;
	int b, r;

	r = sd_bus_message_enter_container(m, 'a', "{sv}");
	if (r < 0) {
		return r;
	}
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		r = sd_bus_message_read(m, "s", &name);
		if (r < 0) {
			return r;
		}
		if (strcmp(name, "LockedHint") == 0 &&
		    sd_bus_message_read(m, "v", "b", &b) >= 0) {
			p->have_locked = true;
			p->locked = b != 0;
		} else if (strcmp(name, "IdleHint") == 0 &&
		    sd_bus_message_read(m, "v", "b", &b) >= 0) {
			p->have_idle = true;
			p->idle = b != 0;
		} else if (strcmp(name, "IdleSinceHint") == 0 &&
		    sd_bus_message_read(m, "v", "t", &p->since_us) >= 0) {
			p->have_since = true;
		} else if (strcmp(name, "State") == 0 &&
		    sd_bus_message_read(m, "v", "s", &s) >= 0) {
			p->have_state = true;
			copy_str(p->state, sizeof(p->state), s);
		} else if (strcmp(name, "Display") == 0 &&
		    sd_bus_message_read(m, "v", "(so)", &s, &path) >= 0) {
			p->have_display = true;
			copy_str(p->display, sizeof(p->display), path);
		} else {
			/* Not ours, or not the type logind documents. */
			r = sd_bus_message_skip(m, "v");
			if (r < 0) {
				return r;
			}
		}
		r = sd_bus_message_exit_container(m);
		if (r < 0) {
			return r;
		}
	}
	if (r < 0) {
		return r;
	}
	return sd_bus_message_exit_container(m);
}

/* PropertiesChanged: s interface, a{sv} changed, as invalidated. */
static int
props_read_changed(sd_bus_message *m, struct props *p)
{
	const char *iface, *name;
	int r;

	r = sd_bus_message_read(m, "s", &iface);
	if (r < 0) {
		return r;
	}
	r = props_read_dict(m, p);
	if (r < 0) {
		return r;
	}
	r = sd_bus_message_enter_container(m, 'a', "s");
	if (r < 0) {
		return r;
	}
	while ((r = sd_bus_message_read(m, "s", &name)) > 0) {
		if (is_ours(name)) {
			p->invalidated = true;
		}
	}
	if (r < 0) {
		return r;
	}
	return sd_bus_message_exit_container(m);
}

static void follow_session(struct logind *l, const char *path);
static int fetch_all(struct logind *l, const char *path, const char *iface,
    sd_bus_message_handler_t cb);

/* Applies the session's properties; notify false for the first read
 * (the state found at start is not an event). */
static void
session_apply(struct logind *l, const struct props *p, bool notify)
{
	if (p->have_since) {
		l->idle_since_s = (int64_t) (p->since_us / 1000000ULL);
	}
	if (p->have_locked && p->locked != l->locked) {
		l->locked = p->locked;
		if (notify && l->cb.on_lock != NULL) {
			l->cb.on_lock(l, l->locked, l->userdata);
		}
	}
	if (l->closing) {
		return; /* on_lock may have closed us */
	}
	if (p->have_idle && p->idle != l->idle) {
		l->idle = p->idle;
		if (!l->idle) {
			(void) uv_timer_stop(&l->idle_timer);
		}
		if (notify && l->cb.on_idle != NULL) {
			l->cb.on_idle(l, l->idle, l->idle_since_s, l->userdata);
		}
	}
}

static int
on_session_refresh(sd_bus_message *m, void *userdata, sd_bus_error *reterr)
{
	struct logind *l = userdata;
	struct props p = {0};

	if (l->closing || sd_bus_message_is_method_error(m, NULL)) {
		return 0;
	}
	if (props_read_dict(m, &p) >= 0) {
		session_apply(l, &p, true);
	}
	return 0;
}

static int
on_session_initial(sd_bus_message *m, void *userdata, sd_bus_error *reterr)
{
	struct logind *l = userdata;
	struct props p = {0};
	const sd_bus_error *e;
	bool found = false;

	if (l->closing) {
		return 0;
	}
	e = sd_bus_message_get_error(m);
	if (e != NULL) {
		log_notice("cannot read the session's properties: %s; lock and "
			   "idle are followed from their next change",
		    e->name);
	} else if (props_read_dict(m, &p) >= 0) {
		session_apply(l, &p, false);
		found = p.have_locked || p.have_idle;
	}
	setup_done(l);
	if (found && !l->closing && l->cb.on_found != NULL) {
		l->cb.on_found(l, l->locked, l->idle, l->userdata);
	}
	return 0;
}

static int
on_session_changed(sd_bus_message *m, void *userdata, sd_bus_error *reterr)
{
	struct logind *l = userdata;
	struct props p = {0};
	int r;

	if (l->closing) {
		return 0;
	}
	r = props_read_changed(m, &p);
	if (r < 0) {
		log_debug_errno(r, "malformed PropertiesChanged: %m, ignoring");
		return 0;
	}
	session_apply(l, &p, true);
	if (p.invalidated && !l->closing && l->session_path != NULL) {
		r = fetch_all(
		    l, l->session_path, LOGIN1_SESSION, on_session_refresh);
		if (r < 0) {
			log_debug_errno(r, "cannot re-read the session: %m");
		}
	}
	return 0;
}

static void
user_apply(struct logind *l, const struct props *p)
{
	if (p->have_state) {
		l->user_closing = strcmp(p->state, "closing") == 0;
	}
	if (p->have_display) {
		follow_session(l, p->display);
	}
}

static int
on_user_props(sd_bus_message *m, void *userdata, sd_bus_error *reterr)
{
	struct logind *l = userdata;
	struct props p = {0};
	const sd_bus_error *e;

	if (l->closing) {
		return 0;
	}
	e = sd_bus_message_get_error(m);
	if (e != NULL) {
		log_notice(
		    "cannot read logind's user record: %s; lock and idle "
		    "are not followed",
		    e->name);
	} else if (props_read_dict(m, &p) >= 0) {
		user_apply(l, &p);
	}
	setup_done(l);
	return 0;
}

static int
on_user_changed(sd_bus_message *m, void *userdata, sd_bus_error *reterr)
{
	struct logind *l = userdata;
	struct props p = {0};
	int r;

	if (l->closing) {
		return 0;
	}
	r = props_read_changed(m, &p);
	if (r < 0) {
		log_debug_errno(r, "malformed PropertiesChanged: %m, ignoring");
		return 0;
	}
	user_apply(l, &p);
	if (p.invalidated && l->user_path != NULL) {
		r = fetch_all(l, l->user_path, LOGIN1_USER, on_user_props);
		if (r >= 0) {
			l->setup_pending++; /* on_user_props counts it down */
		}
	}
	return 0;
}

static int
fetch_all(struct logind *l, const char *path, const char *iface,
    sd_bus_message_handler_t cb)
{
	int r;

	r = sd_bus_call_method_async(l->bus, NULL, LOGIN1_SERVICE, path,
	    DBUS_PROPERTIES, "GetAll", cb, l, "s", iface);
	if (r >= 0) {
		bus_rearm(l);
	}
	return r;
}

static int
match_changed(struct logind *l, const char *path, sd_bus_message_handler_t cb,
    sd_bus_slot **ret)
{
	return sd_bus_match_signal_async(l->bus, ret, LOGIN1_SERVICE, path,
	    DBUS_PROPERTIES, "PropertiesChanged", cb, NULL, l);
}

/* Starts following the session at path ("/" or "": none). Lock and idle
 * restart from that session's state, without callbacks. */
static void
follow_session(struct logind *l, const char *path)
{
	char *copy;
	int r;

	if (path[0] == '\0' || strcmp(path, "/") == 0) {
		path = NULL;
	}
	if ((path == NULL && l->session_path == NULL) ||
	    (path != NULL && l->session_path != NULL &&
		strcmp(path, l->session_path) == 0)) {
		return;
	}
	l->session_match = sd_bus_slot_unref(l->session_match);
	free(l->session_path);
	l->session_path = NULL;
	l->locked = false;
	l->idle = false;
	l->idle_since_s = 0;
	(void) uv_timer_stop(&l->idle_timer);
	if (path == NULL) {
		log_info(
		    "no graphical session: lock and idle are not followed");
		return;
	}
	copy = strdup(path);
	if (copy == NULL) {
		log_warning("out of memory following session %s", path);
		return;
	}
	l->session_path = copy;
	r = match_changed(l, copy, on_session_changed, &l->session_match);
	if (r >= 0) {
		r = fetch_all(l, copy, LOGIN1_SESSION, on_session_initial);
	}
	if (r < 0) {
		log_warning_errno(r, "cannot follow session %s: %m", copy);
		return;
	}
	/* not ready again until this session's match and state are in:
	 * a change on it before then would not be seen */
	l->setup_pending++;
	l->ready = false;
}

static int
on_get_user(sd_bus_message *m, void *userdata, sd_bus_error *reterr)
{
	struct logind *l = userdata;
	const sd_bus_error *e;
	const char *path;
	int r;

	if (l->closing) {
		return 0;
	}
	e = sd_bus_message_get_error(m);
	if (e != NULL && no_logind(l, e)) {
		goto done;
	}
	if (e != NULL) {
		/* NoSuchUser: no session at all (CI, a lingering user). */
		log_notice(
		    "logind knows no user %u (%s): lock and idle are not "
		    "followed",
		    (unsigned) l->uid, e->name);
		goto done;
	}
	r = sd_bus_message_read(m, "o", &path);
	if (r >= 0) {
		l->user_path = strdup(path);
		r = l->user_path != NULL ? 0 : -ENOMEM;
	}
	if (r >= 0) {
		r = match_changed(
		    l, l->user_path, on_user_changed, &l->user_match);
	}
	if (r >= 0) {
		r = fetch_all(l, l->user_path, LOGIN1_USER, on_user_props);
	}
	if (r < 0) {
		log_warning_errno(r, "cannot follow the logind user: %m");
		goto done;
	}
	l->setup_pending++;
done:
	setup_done(l);
	return 0;
}

static int
on_delay_max(sd_bus_message *m, void *userdata, sd_bus_error *reterr)
{
	struct logind *l = userdata;
	uint64_t v;

	if (l->closing) {
		return 0;
	}
	if (!sd_bus_message_is_method_error(m, NULL) &&
	    sd_bus_message_read(m, "v", "t", &v) >= 0) {
		l->delay_max_us = v;
	}
	setup_done(l);
	return 0;
}

static int
on_closing_reply(sd_bus_message *m, void *userdata, sd_bus_error *reterr)
{
	struct logind *l = userdata;
	const char *state;
	bool closing = false;

	if (l->closing) {
		return 0;
	}
	if (sd_bus_message_is_method_error(m, NULL)) {
		/* No answer in time or no user: not a logout. */
		log_debug("no user state from logind: %s",
		    sd_bus_message_get_error(m)->name);
	} else if (sd_bus_message_read(m, "v", "s", &state) >= 0) {
		closing = strcmp(state, "closing") == 0;
		l->user_closing = closing;
	}
	if (l->cb.on_closing != NULL) {
		l->cb.on_closing(l, closing, l->userdata);
	}
	return 0;
}

/* ---- setup and teardown ------------------------------------------ */

static int
setup_calls(struct logind *l)
{
	int r;

	r = sd_bus_match_signal_async(l->bus, NULL, LOGIN1_SERVICE, LOGIN1_PATH,
	    LOGIN1_MANAGER, "PrepareForSleep", on_prepare_for_sleep, NULL, l);
	if (r < 0) {
		return r;
	}
	r = sd_bus_match_signal_async(l->bus, NULL, LOGIN1_SERVICE, LOGIN1_PATH,
	    LOGIN1_MANAGER, "PrepareForShutdown", on_prepare_for_shutdown, NULL,
	    l);
	if (r < 0) {
		return r;
	}
	r = sd_bus_call_method_async(l->bus, NULL, LOGIN1_SERVICE, LOGIN1_PATH,
	    LOGIN1_MANAGER, "GetUser", on_get_user, l, "u", (uint32_t) l->uid);
	if (r < 0) {
		return r;
	}
	l->setup_pending++;
	r = sd_bus_call_method_async(l->bus, NULL, LOGIN1_SERVICE, LOGIN1_PATH,
	    DBUS_PROPERTIES, "Get", on_delay_max, l, "ss", LOGIN1_MANAGER,
	    "InhibitDelayMaxUSec");
	if (r < 0) {
		return r;
	}
	l->setup_pending++;
	return inhibit_take(l);
}

static void
logind_free(struct logind *l)
{
	if (l == NULL) {
		return;
	}
	if (l->inhibit_fd >= 0) {
		(void) close(l->inhibit_fd);
	}
	sd_bus_slot_unref(l->user_match);
	sd_bus_slot_unref(l->session_match);
	/* Outgoing messages are not worth waiting for: close, don't flush. */
	sd_bus_close_unref(l->bus);
	free(l->user_path);
	free(l->session_path);
	free(l);
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct logind *l = h->data;

	if (--l->pending_closes == 0) {
		logind_free(l);
	}
}

int
logind_new(uv_loop_t *loop, const struct logind_callbacks *cb, void *userdata,
    struct logind **ret, struct errbuf *reterr)
{
	struct logind *l;
	const char *addr;
	int r;

	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		return -ENOMEM;
	}
	l->loop = loop;
	if (cb != NULL) {
		l->cb = *cb;
	}
	l->userdata = userdata;
	l->inhibit_fd = -1;
	l->want_lock = true;
	l->submit_timeout_s = 10;
	l->uid = getuid();

	r = sd_bus_open_system(&l->bus);
	if (r < 0) {
		addr = getenv("DBUS_SYSTEM_BUS_ADDRESS");
		free(l);
		if (r == -ENOMEM) {
			return r;
		}
		return errbuf_set(reterr, ERR_NOT_SUPPORTED, LOGIND_NO_BUS,
		    "no system bus at %s (%s): sleep, shutdown, lock and idle "
		    "are not followed",
		    addr != NULL ? addr : "/run/dbus/system_bus_socket",
		    strerror(-r));
	}
	(void) sd_bus_set_description(l->bus, "cwtimed-logind");

	/* The poll first: it is the one init that can fail (an fd epoll
	 * refuses), and before it nothing needs a close callback. */
	r = sd_bus_get_fd(l->bus);
	if (r >= 0) {
		r = uv_poll_init(loop, &l->io, r);
	}
	if (r < 0) {
		sd_bus_close_unref(l->bus);
		free(l);
		return errbuf_set(reterr, ERR_NOT_SUPPORTED, r,
		    "cannot watch the system bus: %s", strerror(-r));
	}
	/* From here the handles exist and the object ends through
	 * logind_close, even on failure. */
	(void) uv_timer_init(loop, &l->bus_timer);
	(void) uv_timer_init(loop, &l->bound_timer);
	(void) uv_timer_init(loop, &l->idle_timer);
	l->io.data = l;
	l->bus_timer.data = l;
	l->bound_timer.data = l;
	l->idle_timer.data = l;

	r = setup_calls(l);
	if (r < 0) {
		logind_close(l);
		return errbuf_set(reterr, ERR_NOT_SUPPORTED, r,
		    "cannot talk to logind: %s", strerror(-r));
	}
	bus_rearm(l);
	*ret = l;
	return 0;
}

void
logind_close(struct logind *l)
{
	if (l == NULL || l->closing) {
		return;
	}
	inhibit_close(l);
	l->closing = true;
	l->pending_closes = LOGIND_HANDLES;
	uv_close((uv_handle_t *) &l->io, on_handle_closed);
	uv_close((uv_handle_t *) &l->bus_timer, on_handle_closed);
	uv_close((uv_handle_t *) &l->bound_timer, on_handle_closed);
	uv_close((uv_handle_t *) &l->idle_timer, on_handle_closed);
}

void
logind_set_submit_timeout(struct logind *l, int64_t submit_timeout_s)
{
	l->submit_timeout_s = submit_timeout_s;
}

uint64_t
logind_release_bound_ms(const struct logind *l)
{
	return session_policy_release_bound_ms(
	    l->submit_timeout_s, l->delay_max_us);
}

void
logind_release_lock(struct logind *l)
{
	if (l == NULL || l->closing) {
		return;
	}
	inhibit_close(l);
}

int
logind_inhibitor_fd(const struct logind *l)
{
	return l->inhibit_fd;
}

bool
logind_ready(const struct logind *l)
{
	return l->ready;
}

const char *
logind_session_path(const struct logind *l)
{
	return l->session_path;
}

bool
logind_user_closing(const struct logind *l)
{
	return l->user_closing;
}

int
logind_query_closing(struct logind *l)
{
	sd_bus_message *m = NULL;
	int r;

	if (l->closing || l->lost) {
		return -ENOTCONN;
	}
	if (l->user_path == NULL) {
		return -ENOENT;
	}
	r = sd_bus_message_new_method_call(
	    l->bus, &m, LOGIN1_SERVICE, l->user_path, DBUS_PROPERTIES, "Get");
	if (r >= 0) {
		r = sd_bus_message_append(m, "ss", LOGIN1_USER, "State");
	}
	if (r >= 0) {
		r = sd_bus_call_async(l->bus, NULL, m, on_closing_reply, l,
		    QUERY_CLOSING_TIMEOUT_US);
	}
	sd_bus_message_unref(m);
	if (r < 0) {
		return r;
	}
	bus_rearm(l);
	return 0;
}

static void
on_idle_timer(uv_timer_t *h)
{
	struct logind *l = h->data;

	if (l->idle && l->cb.on_idle != NULL) {
		l->cb.on_idle(l, true, l->idle_since_s, l->userdata);
	}
}

int
logind_recheck_idle(struct logind *l, int64_t delay_s)
{
	uint64_t ms;

	if (l->closing) {
		return -ENOTCONN;
	}
	if (delay_s < 0) {
		return -EINVAL;
	}
	ms = delay_s > INT32_MAX ? (uint64_t) INT32_MAX * 1000
				 : (uint64_t) delay_s * 1000;
	return uv_timer_start(&l->idle_timer, on_idle_timer, ms, 0);
}

static enum session_response
map_lock(enum config_on_lock v)
{
	switch (v) {
	case CONFIG_ON_LOCK_PAUSE:
		return SESSION_PAUSE;
	case CONFIG_ON_LOCK_STOP:
		return SESSION_STOP;
	default:
		return SESSION_KEEP;
	}
}

void
logind_policy_from_config(
    const struct config_session *c, struct session_policy *ret)
{
	session_policy_init(ret);
	ret->on_lock = map_lock(c->on_lock);
	ret->on_sleep =
	    c->on_sleep == CONFIG_ON_SLEEP_STOP ? SESSION_STOP : SESSION_PAUSE;
	ret->on_idle =
	    c->on_idle == CONFIG_ON_IDLE_PAUSE ? SESSION_PAUSE : SESSION_KEEP;
	ret->idle_after_s = c->idle_after_s;
	ret->on_logout =
	    c->on_logout == CONFIG_ON_LOGOUT_KEEP ? SESSION_KEEP : SESSION_STOP;
	ret->resume_after_sleep = c->resume_after_sleep;
	ret->submit_timeout_s = c->submit_timeout_s;
}
