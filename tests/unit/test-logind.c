/*
 * test-logind.c - the logind module on a real libuv loop against a fake
 * org.freedesktop.login1 (tests/integration/fake_login1.py) on a private
 * dbus-daemon (tests/data/dbus-test.conf), reached through
 * DBUS_SYSTEM_BUS_ADDRESS.
 *
 * Each test starts its own bus and fake, drives events through the fake's
 * control channel (stdin/stdout lines), and asserts the callbacks and
 * their arguments, when the inhibitor fd is held and when the fake saw it
 * close, the release bound, the re-take after wake, and that the loop
 * closes with uv_loop_close() == 0. Without dbus-daemon or python3-dbus
 * the program prints a skip-probe line and exits 77.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>
#include <json-c/json.h>

#include "common/errcode.h"
#include "daemon/logind.h"

extern char **environ;

#define DEADLINE_MS 10000

struct fake {
	char dir[64];
	char addr[512];
	pid_t bus_pid;
	pid_t fake_pid;
	int ctl_in;  /* we write commands */
	int ctl_out; /* we read replies */
	char rbuf[65536];
	size_t rlen;
};

struct rec {
	struct logind *l;
	int sleep_true, sleep_false, shutdown;
	int lock_true, lock_false;
	int idle_true, idle_false;
	int64_t idle_since;
	int closing_answers;
	bool last_closing;
	int lost;
	int lost_r;
	int fd_in_cb;	  /* logind_inhibitor_fd() inside the callback */
	bool close_in_cb; /* on_sleep(true) closes the module */
	bool release_in_cb;
	uint64_t sleep_mono_ns; /* when on_sleep(true) ran */
};

static const char *
srcdir(void)
{
	const char *s = getenv("top_srcdir");

	return s != NULL && *s != '\0' ? s : NULL;
}

static const char *
python(void)
{
	const char *p = getenv("PYTHON3");

	return p != NULL && *p != '\0' ? p : "/usr/bin/python3";
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* Reads one line from fd into out within ms; false on EOF or timeout. */
static bool
read_line(int fd, char *buf, size_t bufsize, size_t *len, char *out,
    size_t outsize, int ms)
{
	uint64_t end = mono_ns() + (uint64_t) ms * 1000000ULL;

	for (;;) {
		char *nl = memchr(buf, '\n', *len);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t k;
		uint64_t now;

		if (nl != NULL) {
			size_t n = (size_t) (nl - buf);

			if (n >= outsize) {
				n = outsize - 1;
			}
			memcpy(out, buf, n);
			out[n] = '\0';
			n = (size_t) (nl - buf) + 1;
			memmove(buf, buf + n, *len - n);
			*len -= n;
			return true;
		}
		now = mono_ns();
		if (now >= end || *len >= bufsize) {
			return false;
		}
		if (poll(&p, 1, (int) ((end - now) / 1000000ULL) + 1) <= 0) {
			continue;
		}
		k = read(fd, buf + *len, bufsize - *len);
		if (k <= 0) {
			return false;
		}
		*len += (size_t) k;
	}
}

static pid_t
spawn(char **argv, int in_fd, int out_fd, const char *err_path)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	if (in_fd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	}
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_addopen(&fa, 2,
	    err_path != NULL ? err_path : "/dev/null",
	    O_WRONLY | O_CREAT | O_TRUNC, 0600);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return r == 0 ? pid : -r;
}

static void
reap(pid_t *pid)
{
	if (*pid > 0) {
		(void) kill(*pid, SIGTERM);
		(void) waitpid(*pid, NULL, 0);
		*pid = 0;
	}
}

static void fake_stop(struct fake *f);

static void why_set(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The last non-empty line of a file (a child's stderr), for messages. */
static void
last_line(const char *path, char *out, size_t outsize)
{
	char buf[8192];
	ssize_t n = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *end, *start;

	snprintf(out, outsize, "(no output)");
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n <= 0) {
		return;
	}
	buf[n] = '\0';
	end = buf + n;
	while (end > buf && (end[-1] == '\n' || end[-1] == ' ')) {
		*--end = '\0';
	}
	start = strrchr(buf, '\n');
	why_set(out, outsize, "%s", start != NULL ? start + 1 : buf);
}

/* The fake of the running test (static storage), stopped by the teardown
 * even when an assert ended the test early: no orphaned dbus-daemon. */
static struct fake *current;

/* Writes the skip or failure reason (vsnprintf: truncation is fine). */
static void __attribute__((format(printf, 3, 4)))
why_set(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void) vsnprintf(why, size, fmt, ap);
	va_end(ap);
}

/* Starts dbus-daemon and the fake with extra options (NULL-terminated).
 * Returns 0, or -1 after writing why into why. */
static int
fake_start_opts(
    struct fake *f, char *why, size_t whysize, const char *const *opts)
{
	char conf[1024], listen[256], script[1024], line[64], errpath[128];
	char errline[512];
	char buf[4096];
	size_t blen = 0;
	char *bargv[6], *fargv[16];
	int p_out[2], c_in[2], c_out[2];
	int n = 0;
	pid_t pid;

	memset(f, 0, sizeof(*f));
	f->ctl_in = f->ctl_out = -1;
	if (srcdir() == NULL) {
		why_set(why, whysize, "getenv(\"top_srcdir\"): unset");
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "/tmp/cwt-test-logind-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		why_set(why, whysize, "mkdtemp: errno %d", errno);
		return -1;
	}
	snprintf(conf, sizeof(conf),
	    "--config-file=%s/tests/data/dbus-test.conf", srcdir());
	snprintf(listen, sizeof(listen), "--address=unix:path=%s/bus", f->dir);
	bargv[0] = (char *) "/usr/bin/dbus-daemon";
	bargv[1] = conf;
	bargv[2] = listen;
	bargv[3] = (char *) "--nofork";
	bargv[4] = (char *) "--print-address=1";
	bargv[5] = NULL;
	if (access(bargv[0], X_OK) != 0) {
		why_set(why, whysize, "access(%s, X_OK): errno %d", bargv[0],
		    errno);
		fake_stop(f);
		return -1;
	}
	assert_int_equal(pipe2(p_out, O_CLOEXEC), 0);
	pid = spawn(bargv, -1, p_out[1], NULL);
	close(p_out[1]);
	if (pid < 0) {
		close(p_out[0]);
		why_set(why, whysize, "posix_spawn(%s): errno %d", bargv[0],
		    (int) -pid);
		fake_stop(f);
		return -1;
	}
	f->bus_pid = pid;
	if (!read_line(p_out[0], buf, sizeof(buf), &blen, f->addr,
		sizeof(f->addr), DEADLINE_MS)) {
		close(p_out[0]);
		why_set(
		    why, whysize, "dbus-daemon %s: printed no address", conf);
		fake_stop(f);
		return -1;
	}
	close(p_out[0]);

	snprintf(script, sizeof(script), "%s/tests/integration/fake_login1.py",
	    srcdir());
	fargv[n++] = (char *) python();
	fargv[n++] = script;
	fargv[n++] = (char *) "--address";
	fargv[n++] = f->addr;
	for (size_t i = 0; opts != NULL && opts[i] != NULL && n < 15; i++) {
		fargv[n++] = (char *) opts[i];
	}
	fargv[n] = NULL;
	assert_int_equal(pipe2(c_in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(c_out, O_CLOEXEC), 0);
	snprintf(errpath, sizeof(errpath), "%s/fake.err", f->dir);
	pid = spawn(fargv, c_in[0], c_out[1], errpath);
	close(c_in[0]);
	close(c_out[1]);
	f->ctl_in = c_in[1];
	f->ctl_out = c_out[0];
	if (pid < 0) {
		why_set(why, whysize, "posix_spawn(%s): errno %d", fargv[0],
		    (int) -pid);
		fake_stop(f);
		return -1;
	}
	f->fake_pid = pid;
	if (!read_line(f->ctl_out, f->rbuf, sizeof(f->rbuf), &f->rlen, line,
		sizeof(line), DEADLINE_MS) ||
	    strcmp(line, "ready") != 0) {
		reap(&f->fake_pid);
		last_line(errpath, errline, sizeof(errline));
		why_set(why, whysize, "%s %s: no \"ready\" line: %s", fargv[0],
		    script, errline);
		fake_stop(f);
		return -1;
	}
	if (setenv("DBUS_SYSTEM_BUS_ADDRESS", f->addr, 1) != 0) {
		why_set(why, whysize, "setenv: errno %d", errno);
		fake_stop(f);
		return -1;
	}
	return 0;
}

static void
fake_start(struct fake *f, const char *const *opts)
{
	char why[1024];

	current = f;
	if (fake_start_opts(f, why, sizeof(why), opts) != 0) {
		fail_msg("cannot start the fake logind: %s", why);
	}
}

static void
fake_stop(struct fake *f)
{
	char path[128];

	if (f->ctl_in >= 0) {
		close(f->ctl_in); /* EOF makes the fake quit */
		f->ctl_in = -1;
	}
	if (f->ctl_out >= 0) {
		close(f->ctl_out);
		f->ctl_out = -1;
	}
	reap(&f->fake_pid);
	reap(&f->bus_pid);
	if (current == f) {
		current = NULL;
	}
	if (f->dir[0] != '\0') {
		snprintf(path, sizeof(path), "%s/bus", f->dir);
		(void) unlink(path); /* gone already when dbus-daemon tidied */
		snprintf(path, sizeof(path), "%s/fake.err", f->dir);
		(void) unlink(path);
		(void) rmdir(f->dir);
		f->dir[0] = '\0';
	}
}

static int
teardown(void **state)
{
	if (current != NULL) {
		fake_stop(current);
		current = NULL;
	}
	return 0;
}

/* Sends one command and returns its reply line in out. */
static void
fake_cmd(struct fake *f, char *out, size_t outsize, const char *fmt, ...)
{
	char cmd[256];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
	va_end(ap);
	n = strlen(cmd);
	cmd[n++] = '\n';
	assert_int_equal(write(f->ctl_in, cmd, n), (ssize_t) n);
	assert_true(read_line(f->ctl_out, f->rbuf, sizeof(f->rbuf), &f->rlen,
	    out, outsize, DEADLINE_MS + 5000));
}

static void
fake_ok(struct fake *f, const char *fmt, const char *arg)
{
	char reply[256];

	fake_cmd(f, reply, sizeof(reply), fmt, arg);
	assert_string_equal(reply, "ok");
}

/* The fake's inhibitor records, as parsed JSON (caller puts). */
static json_object *
fake_inhibitors(struct fake *f)
{
	static char reply[65536];
	struct json_tokener *tok = json_tokener_new_ex(8);
	json_object *o;

	assert_non_null(tok);
	fake_cmd(f, reply, sizeof(reply), "inhibitors");
	o = json_tokener_parse_ex(tok, reply, (int) strlen(reply));
	json_tokener_free(tok);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_array));
	return o;
}

static const char *
rec_str(json_object *a, size_t i, const char *key)
{
	json_object *v;

	assert_true(json_object_object_get_ex(
	    json_object_array_get_idx(a, i), key, &v));
	return json_object_get_string(v);
}

/* closed_mono_ns of record i; 0 while open. */
static uint64_t
rec_closed(json_object *a, size_t i)
{
	json_object *v;

	assert_true(json_object_object_get_ex(
	    json_object_array_get_idx(a, i), "closed_mono_ns", &v));
	return v == NULL ? 0 : (uint64_t) json_object_get_int64(v);
}

/* ---- the loop ---------------------------------------------------- */

struct loopctx {
	uv_loop_t loop;
	uv_timer_t deadline;
	bool expired;
};

static void
on_deadline(uv_timer_t *t)
{
	struct loopctx *c = t->data;

	c->expired = true;
}

static void
loop_init(struct loopctx *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(uv_loop_init(&c->loop), 0);
	assert_int_equal(uv_timer_init(&c->loop, &c->deadline), 0);
	c->deadline.data = c;
}

/* Runs the loop until pred(arg) holds; false when ms passed first. */
static bool
run_until(struct loopctx *c, bool (*pred)(void *), void *arg, uint64_t ms)
{
	c->expired = false;
	assert_int_equal(uv_timer_start(&c->deadline, on_deadline, ms, 0), 0);
	while (!pred(arg) && !c->expired) {
		(void) uv_run(&c->loop, UV_RUN_ONCE);
	}
	uv_timer_stop(&c->deadline);
	return pred(arg);
}

static void
loop_fini(struct loopctx *c, struct logind *l)
{
	logind_close(l);
	uv_close((uv_handle_t *) &c->deadline, NULL);
	(void) uv_run(&c->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&c->loop), 0);
}

/* ---- callbacks --------------------------------------------------- */

static void
on_sleep(struct logind *l, bool going, void *userdata)
{
	struct rec *r = userdata;

	if (going) {
		r->sleep_true++;
		r->sleep_mono_ns = mono_ns();
		r->fd_in_cb = logind_inhibitor_fd(l);
		if (r->close_in_cb) {
			logind_close(l);
			r->l = NULL;
		} else if (r->release_in_cb) {
			logind_release_lock(l);
		}
	} else {
		r->sleep_false++;
	}
}

static void
on_shutdown(struct logind *l, void *userdata)
{
	struct rec *r = userdata;

	r->shutdown++;
	r->fd_in_cb = logind_inhibitor_fd(l);
}

static void
on_lock(struct logind *l, bool locked, void *userdata)
{
	struct rec *r = userdata;

	if (locked) {
		r->lock_true++;
	} else {
		r->lock_false++;
	}
}

static void
on_idle(struct logind *l, bool idle, int64_t since, void *userdata)
{
	struct rec *r = userdata;

	if (idle) {
		r->idle_true++;
	} else {
		r->idle_false++;
	}
	r->idle_since = since;
}

static void
on_closing(struct logind *l, bool closing, void *userdata)
{
	struct rec *r = userdata;

	r->closing_answers++;
	r->last_closing = closing;
}

static void
on_lost(struct logind *l, int err, void *userdata)
{
	struct rec *r = userdata;

	r->lost++;
	r->lost_r = err;
}

static const struct logind_callbacks cbs = {
    .on_sleep = on_sleep,
    .on_shutdown = on_shutdown,
    .on_lock = on_lock,
    .on_idle = on_idle,
    .on_closing = on_closing,
    .on_lost = on_lost,
};

/* Predicates for run_until. */
static bool
is_ready(void *arg)
{
	struct rec *r = arg;

	return logind_ready(r->l) && logind_inhibitor_fd(r->l) >= 0;
}

static bool
is_ready_nolock(void *arg)
{
	return logind_ready(((struct rec *) arg)->l);
}

static bool
fd_gone(void *arg)
{
	return logind_inhibitor_fd(((struct rec *) arg)->l) < 0;
}

static bool
fd_held(void *arg)
{
	return logind_inhibitor_fd(((struct rec *) arg)->l) >= 0;
}

static int *watched;
static int watched_want;

static bool
counter_reached(void *arg)
{
	(void) arg;
	return *watched >= watched_want;
}

static bool
wait_count(struct loopctx *c, int *counter, int want)
{
	watched = counter;
	watched_want = want;
	return run_until(c, counter_reached, NULL, DEADLINE_MS);
}

static void
start_logind(struct loopctx *c, struct rec *r, bool want_lock)
{
	struct errbuf e;

	memset(r, 0, sizeof(*r));
	r->fd_in_cb = -2;
	assert_int_equal(logind_new(&c->loop, &cbs, r, &r->l, &e), 0);
	assert_true(run_until(
	    c, want_lock ? is_ready : is_ready_nolock, r, DEADLINE_MS));
}

/* ---- tests ------------------------------------------------------- */

static void
test_no_bus(void **state)
{
	struct loopctx c;
	struct logind *l = NULL;
	struct errbuf e;

	loop_init(&c);
	assert_int_equal(setenv("DBUS_SYSTEM_BUS_ADDRESS",
			     "unix:path=/nonexistent/cwtimed-test/bus", 1),
	    0);
	memset(&e, 0, sizeof(e));
	assert_int_equal(
	    logind_new(&c.loop, &cbs, NULL, &l, &e), LOGIND_NO_BUS);
	assert_null(l);
	assert_int_equal(e.code, ERR_NOT_SUPPORTED);
	assert_non_null(strstr(e.msg, "no system bus"));
	assert_non_null(strstr(e.msg, "/nonexistent/cwtimed-test/bus"));
	loop_fini(&c, NULL);
}

static void
test_session_and_lock_found(void **state)
{
	static struct fake f; /* static: the teardown may stop it */
	struct loopctx c;
	struct rec r;
	json_object *a;

	fake_start(&f, NULL);
	loop_init(&c);
	start_logind(&c, &r, true);
	assert_string_equal(
	    logind_session_path(r.l), "/org/freedesktop/login1/session/c1");
	assert_false(logind_user_closing(r.l));
	/* 5 s delay max by default: min(10 s, 5 s - 1 s). */
	assert_int_equal(logind_release_bound_ms(r.l), 4000);
	a = fake_inhibitors(&f);
	assert_int_equal(json_object_array_length(a), 1);
	assert_string_equal(rec_str(a, 0, "what"), "sleep:shutdown");
	assert_string_equal(rec_str(a, 0, "who"), "cwtimed");
	assert_string_equal(
	    rec_str(a, 0, "why"), "Stopping timers and submitting time");
	assert_string_equal(rec_str(a, 0, "mode"), "delay");
	assert_int_equal(rec_closed(a, 0), 0);
	json_object_put(a);
	/* Start-up state is no event. */
	assert_int_equal(r.lock_true + r.lock_false + r.idle_true, 0);
	loop_fini(&c, r.l);
	/* logind_close let go of the lock. */
	{
		char reply[64];

		fake_cmd(
		    &f, reply, sizeof(reply), "wait-closed 1 %d", DEADLINE_MS);
		assert_string_equal(reply, "closed 1");
	}
	fake_stop(&f);
}

static void
test_sleep_release_and_retake(void **state)
{
	static struct fake f; /* static: the teardown may stop it */
	struct loopctx c;
	struct rec r;
	json_object *a;
	char reply[64];
	uint64_t released;

	fake_start(&f, NULL);
	loop_init(&c);
	start_logind(&c, &r, true);
	fake_ok(&f, "sleep %s", "1");
	assert_true(wait_count(&c, &r.sleep_true, 1));
	assert_true(r.fd_in_cb >= 0); /* held while the callback runs */
	assert_int_equal(r.sleep_false, 0);
	/* The daemon's work is pending: the lock stays. */
	assert_true(logind_inhibitor_fd(r.l) >= 0);
	a = fake_inhibitors(&f);
	assert_int_equal(rec_closed(a, 0), 0);
	json_object_put(a);

	released = mono_ns();
	logind_release_lock(r.l);
	assert_int_equal(logind_inhibitor_fd(r.l), -1);
	fake_cmd(&f, reply, sizeof(reply), "wait-closed 1 %d", DEADLINE_MS);
	assert_string_equal(reply, "closed 1");
	a = fake_inhibitors(&f);
	assert_true(rec_closed(a, 0) >= released);
	json_object_put(a);

	/* Wake: the callback runs and the lock is taken again. */
	fake_ok(&f, "sleep %s", "0");
	assert_true(wait_count(&c, &r.sleep_false, 1));
	assert_true(run_until(&c, fd_held, &r, DEADLINE_MS));
	fake_cmd(&f, reply, sizeof(reply), "wait-taken 2 %d", DEADLINE_MS);
	assert_string_equal(reply, "taken 2");
	a = fake_inhibitors(&f);
	assert_int_equal(json_object_array_length(a), 2);
	assert_int_equal(rec_closed(a, 1), 0);
	assert_string_equal(rec_str(a, 1, "mode"), "delay");
	json_object_put(a);
	assert_int_equal(r.sleep_true, 1);
	loop_fini(&c, r.l);
	fake_stop(&f);
}

static void
test_sleep_bound_releases(void **state)
{
	static const char *const opts[] = {"--delay-max-us", "1600000", NULL};
	static struct fake f; /* static: the teardown may stop it */
	struct loopctx c;
	struct rec r;
	json_object *a;
	char reply[64];
	uint64_t elapsed_ms;

	fake_start(&f, opts);
	loop_init(&c);
	start_logind(&c, &r, true);
	/* min(10 s, 1.6 s - 1 s) = 600 ms: InhibitDelayMaxUSec was read. */
	assert_int_equal(logind_release_bound_ms(r.l), 600);
	logind_set_submit_timeout(r.l, 0);
	/* submit_timeout 0 still leaves the commit its floor of 500 ms. */
	assert_int_equal(logind_release_bound_ms(r.l), 500);
	logind_set_submit_timeout(r.l, 10);
	fake_ok(&f, "sleep %s", "1");
	assert_true(wait_count(&c, &r.sleep_true, 1));
	assert_true(logind_inhibitor_fd(r.l) >= 0);
	/* Nobody releases: the bound does. */
	assert_true(run_until(&c, fd_gone, &r, DEADLINE_MS));
	elapsed_ms = (mono_ns() - r.sleep_mono_ns) / 1000000ULL;
	assert_true(elapsed_ms >= 590);
	assert_true(elapsed_ms < 3000);
	fake_cmd(&f, reply, sizeof(reply), "wait-closed 1 %d", DEADLINE_MS);
	assert_string_equal(reply, "closed 1");
	a = fake_inhibitors(&f);
	assert_true(rec_closed(a, 0) >= r.sleep_mono_ns + 590000000ULL);
	json_object_put(a);
	/* A late release is harmless. */
	logind_release_lock(r.l);
	loop_fini(&c, r.l);
	fake_stop(&f);
}

static void
test_shutdown_not_retaken(void **state)
{
	static struct fake f; /* static: the teardown may stop it */
	struct loopctx c;
	struct rec r;
	char reply[64];

	fake_start(&f, NULL);
	loop_init(&c);
	start_logind(&c, &r, true);
	fake_ok(&f, "shutdown %s", "1");
	assert_true(wait_count(&c, &r.shutdown, 1));
	assert_true(r.fd_in_cb >= 0);
	assert_true(logind_inhibitor_fd(r.l) >= 0);
	logind_release_lock(r.l);
	fake_cmd(&f, reply, sizeof(reply), "wait-closed 1 %d", DEADLINE_MS);
	assert_string_equal(reply, "closed 1");
	/* A round trip through the bus after the release: no new Inhibit. */
	fake_ok(&f, "lock %s", "1");
	assert_true(wait_count(&c, &r.lock_true, 1));
	fake_cmd(&f, reply, sizeof(reply), "wait-taken 2 %d", 200);
	assert_string_equal(reply, "timeout 1");
	assert_int_equal(logind_inhibitor_fd(r.l), -1);
	/* Cancelled: ready for the next one. */
	fake_ok(&f, "shutdown %s", "0");
	assert_true(run_until(&c, fd_held, &r, DEADLINE_MS));
	fake_cmd(&f, reply, sizeof(reply), "wait-taken 2 %d", DEADLINE_MS);
	assert_string_equal(reply, "taken 2");
	assert_int_equal(r.shutdown, 1);
	loop_fini(&c, r.l);
	fake_stop(&f);
}

static void
test_lock_and_idle(void **state)
{
	static struct fake f; /* static: the teardown may stop it */
	struct loopctx c;
	struct rec r;

	fake_start(&f, NULL);
	loop_init(&c);
	start_logind(&c, &r, true);
	fake_ok(&f, "lock %s", "1");
	assert_true(wait_count(&c, &r.lock_true, 1));
	assert_int_equal(r.lock_false, 0);
	fake_ok(&f, "lock %s", "0");
	assert_true(wait_count(&c, &r.lock_false, 1));
	assert_int_equal(r.lock_true, 1);

	fake_ok(&f, "idle %s", "1 1764400000123456");
	assert_true(wait_count(&c, &r.idle_true, 1));
	assert_int_equal(r.idle_since, 1764400000);
	/* "pause after": the re-check reports idleness again. */
	assert_int_equal(logind_recheck_idle(r.l, 0), 0);
	assert_true(wait_count(&c, &r.idle_true, 2));
	assert_int_equal(r.idle_since, 1764400000);
	assert_int_equal(logind_recheck_idle(r.l, -1), -EINVAL);
	fake_ok(&f, "idle %s", "0");
	assert_true(wait_count(&c, &r.idle_false, 1));
	assert_int_equal(r.idle_true, 2);
	/* Going active cancelled any re-check: one armed now never fires
	 * while active. */
	assert_int_equal(logind_recheck_idle(r.l, 0), 0);
	fake_ok(&f, "lock %s", "1");
	assert_true(wait_count(&c, &r.lock_true, 2));
	assert_int_equal(r.idle_true, 2);
	loop_fini(&c, r.l);
	fake_stop(&f);
}

static bool
not_closing(void *arg)
{
	return !logind_user_closing(((struct rec *) arg)->l);
}

static void
test_user_closing(void **state)
{
	static struct fake f; /* static: the teardown may stop it */
	struct loopctx c;
	struct rec r;

	fake_start(&f, NULL);
	loop_init(&c);
	start_logind(&c, &r, true);
	assert_int_equal(logind_query_closing(r.l), 0);
	assert_true(wait_count(&c, &r.closing_answers, 1));
	assert_false(r.last_closing);
	/* Real logind does not signal State: the query must ask. */
	fake_ok(&f, "user-state %s", "closing silent");
	assert_false(logind_user_closing(r.l));
	assert_int_equal(logind_query_closing(r.l), 0);
	assert_true(wait_count(&c, &r.closing_answers, 2));
	assert_true(r.last_closing);
	assert_true(logind_user_closing(r.l));
	/* A signalled change updates the cache. */
	fake_ok(&f, "user-state %s", "active");
	assert_true(run_until(&c, not_closing, &r, DEADLINE_MS));
	loop_fini(&c, r.l);
	fake_stop(&f);
}

/* A logind that does not answer: the 1 s timeout of the query is driven
 * by the sd-bus timer on the loop, and no answer means "not closing". */
static void
test_closing_query_times_out(void **state)
{
	static struct fake f;
	struct loopctx c;
	struct rec r;
	uint64_t t0, ms;

	fake_start(&f, NULL);
	loop_init(&c);
	start_logind(&c, &r, true);
	fake_ok(&f, "user-state %s", "closing silent");
	/* The fake would answer "closing" after the freeze: a "not closing"
	 * answer is the timeout's. The bounds leave room for valgrind on a
	 * loaded machine (2.4 s was exceeded there with a 2.5 s freeze). */
	fake_ok(&f, "freeze %s", "6000");
	t0 = mono_ns();
	assert_int_equal(logind_query_closing(r.l), 0);
	assert_true(wait_count(&c, &r.closing_answers, 1));
	ms = (mono_ns() - t0) / 1000000ULL;
	assert_false(r.last_closing);
	assert_true(ms >= 900);
	assert_true(ms < 5500); /* answered by the timeout, not the fake */
	loop_fini(&c, r.l);
	fake_stop(&f);
}

static bool
session_is_c2(void *arg)
{
	const char *p = logind_session_path(((struct rec *) arg)->l);

	return p != NULL &&
	    strcmp(p, "/org/freedesktop/login1/session/c2") == 0;
}

static bool
no_session(void *arg)
{
	return logind_session_path(((struct rec *) arg)->l) == NULL;
}

static void
test_display_followed(void **state)
{
	static struct fake f; /* static: the teardown may stop it */
	struct loopctx c;
	struct rec r;

	fake_start(&f, NULL);
	loop_init(&c);
	start_logind(&c, &r, true);
	fake_ok(&f, "display %s", "c2");
	assert_true(run_until(&c, session_is_c2, &r, DEADLINE_MS));
	assert_true(run_until(&c, is_ready, &r, DEADLINE_MS));
	fake_ok(&f, "lock %s", "1"); /* on c2, the Display session now */
	assert_true(wait_count(&c, &r.lock_true, 1));
	fake_ok(&f, "display %s", "-");
	assert_true(run_until(&c, no_session, &r, DEADLINE_MS));
	loop_fini(&c, r.l);
	fake_stop(&f);
}

static void
test_no_user(void **state)
{
	static const char *const opts[] = {"--no-user", NULL};
	static struct fake f; /* static: the teardown may stop it */
	struct loopctx c;
	struct rec r;

	fake_start(&f, opts);
	loop_init(&c);
	start_logind(&c, &r, true);
	assert_null(logind_session_path(r.l));
	/* Sleep is still covered without a session. */
	assert_true(logind_inhibitor_fd(r.l) >= 0);
	assert_int_equal(logind_query_closing(r.l), -ENOENT);
	r.release_in_cb = true;
	fake_ok(&f, "sleep %s", "1");
	assert_true(wait_count(&c, &r.sleep_true, 1));
	assert_int_equal(logind_inhibitor_fd(r.l), -1);
	loop_fini(&c, r.l);
	fake_stop(&f);
}

static void
test_bus_without_logind(void **state)
{
	static struct fake f; /* static: the teardown may stop it */
	struct loopctx c;
	struct rec r;
	char reply[64];

	fake_start(&f, NULL);
	fake_cmd(&f, reply, sizeof(reply), "quit");
	assert_string_equal(reply, "ok");
	reap(&f.fake_pid); /* gone from the bus once it has exited */
	loop_init(&c);
	start_logind(&c, &r, false);
	assert_int_equal(logind_inhibitor_fd(r.l), -1);
	assert_null(logind_session_path(r.l));
	assert_int_equal(logind_query_closing(r.l), -ENOENT);
	assert_int_equal(r.lost, 0); /* the daemon runs on */
	loop_fini(&c, r.l);
	fake_stop(&f);
}

static void
test_close_in_callback(void **state)
{
	static struct fake f; /* static: the teardown may stop it */
	struct loopctx c;
	struct rec r;
	char reply[64];

	fake_start(&f, NULL);
	loop_init(&c);
	start_logind(&c, &r, true);
	r.close_in_cb = true;
	fake_ok(&f, "sleep %s", "1");
	assert_true(wait_count(&c, &r.sleep_true, 1));
	assert_null(r.l);
	loop_fini(&c, NULL);
	fake_cmd(&f, reply, sizeof(reply), "wait-closed 1 %d", DEADLINE_MS);
	assert_string_equal(reply, "closed 1");
	fake_stop(&f);
}

static void
test_bus_lost(void **state)
{
	static struct fake f; /* static: the teardown may stop it */
	struct loopctx c;
	struct rec r;

	fake_start(&f, NULL);
	loop_init(&c);
	start_logind(&c, &r, true);
	reap(&f.bus_pid);
	assert_true(wait_count(&c, &r.lost, 1));
	assert_true(r.lost_r < 0);
	assert_int_equal(logind_inhibitor_fd(r.l), -1);
	assert_int_equal(logind_query_closing(r.l), -ENOTCONN);
	loop_fini(&c, r.l);
	fake_stop(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_no_bus, teardown),
	    cmocka_unit_test_teardown(test_session_and_lock_found, teardown),
	    cmocka_unit_test_teardown(test_sleep_release_and_retake, teardown),
	    cmocka_unit_test_teardown(test_sleep_bound_releases, teardown),
	    cmocka_unit_test_teardown(test_shutdown_not_retaken, teardown),
	    cmocka_unit_test_teardown(test_lock_and_idle, teardown),
	    cmocka_unit_test_teardown(test_user_closing, teardown),
	    cmocka_unit_test_teardown(test_closing_query_times_out, teardown),
	    cmocka_unit_test_teardown(test_display_followed, teardown),
	    cmocka_unit_test_teardown(test_no_user, teardown),
	    cmocka_unit_test_teardown(test_bus_without_logind, teardown),
	    cmocka_unit_test_teardown(test_close_in_callback, teardown),
	    cmocka_unit_test_teardown(test_bus_lost, teardown),
	};
	struct fake f;
	char why[1024];
	int failures;

	/* A broken pipe to a dead fake must fail an assert, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (fake_start_opts(&f, why, sizeof(why), NULL) != 0) {
		printf("skip-probe: %s\n", why);
		return 77;
	}
	fake_stop(&f);
	failures = cmocka_run_group_tests(tests, NULL, NULL);
	return failures ? 1 : 0;
}
