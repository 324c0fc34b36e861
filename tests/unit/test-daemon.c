/*
 * test-daemon.c - the daemon in-process on temporary XDG directories,
 * driven through its real socket: the mutation path of the commands API
 * (journal append -> commit hook -> apply -> on_commit -> reply), a
 * handler that forgets to reply, a deferred reply to a client that went
 * away (must be dropped without touching freed memory: run under ASan),
 * and the shutdown order ending in uv_loop_close() == 0.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/errcode.h"
#include "common/proto.h"
#include "core/records.h"
#include "daemon/commands.h"
#include "daemon/daemon.h"
#include "daemon/journal.h"
#include "daemon/log.h"

static struct daemon d;
static struct request *parked;
static uint64_t seq_seen_in_commit;
static int commits;

/* ---- test commands ---- */

static void
on_appended(struct request *req)
{
	struct daemon *dd = request_daemon(req);
	json_object *o = json_object_new_object();

	commits++;
	/* runs after the sync: the journal already counts the record */
	seq_seen_in_commit = daemon_last_seq(dd);
	json_object_object_add(o, "seq",
	    json_object_new_int64((int64_t) seq_seen_in_commit));
	json_object_object_add(o, "applied",
	    json_object_new_int64((int64_t) dd->state.last_seq));
	request_reply(req, o);
}

static void
cmd_t_append(struct request *req)
{
	struct errbuf e;
	json_object *p = json_object_new_object();
	int64_t n = 0;
	int r;

	(void) request_arg_int(req, "n", &n);
	json_object_object_add(p, "n", json_object_new_int64(n));
	r = request_journal(req, JOURNAL_REC_TEST, p, false, &e);
	json_object_put(p);
	if (r < 0) {
		request_fail(req, &e);
		return;
	}
	/* appended, not yet committed: neither the journal's last seq nor
	 * the state has moved */
	assert_int_equal(daemon_last_seq(request_daemon(req)),
	    request_daemon(req)->state.last_seq);
	assert_int_equal(daemon_last_seq(request_daemon(req)), (uint64_t) commits);
	request_commit(req, on_appended);
}

static void
cmd_t_forget(struct request *req)
{
	(void) req; /* a buggy handler: neither replies nor defers */
}

static void
cmd_t_park(struct request *req)
{
	parked = req;
	request_defer(req);
}

static const struct param_spec t_append_params[] = {
	{ "n", PARAM_INT, PARAM_REQUIRED },
	{ NULL, 0, 0 },
};

static const struct cmd test_cmds[] = {
	{ "t-append", cmd_t_append, CMD_MUTATES, t_append_params },
	{ "t-forget", cmd_t_forget, 0, NULL },
	{ "t-park", cmd_t_park, 0, NULL },
};

static const struct cmd_table test_table = { test_cmds, 3 };

/* ---- helpers ---- */

static int
connect_client(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d.paths.socket_path);
	assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	return fd;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Sends line, turns the loop until one reply line arrives. */
static json_object *
roundtrip(int fd, const char *line)
{
	char buf[8192];
	size_t len = 0;
	double end = now_s() + 10;
	json_object *o = NULL;
	struct errbuf e;

	assert_int_equal(write(fd, line, strlen(line)), (ssize_t) strlen(line));
	while (now_s() < end) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char *nl;

		(void) uv_run(&d.loop, UV_RUN_NOWAIT);
		if (poll(&pfd, 1, 5) == 1) {
			ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

			assert_true(n > 0);
			len += (size_t) n;
			buf[len] = '\0';
		}
		nl = memchr(buf, '\n', len);
		if (nl) {
			assert_int_equal(proto_parse_object(buf,
			    (size_t) (nl - buf), &o, &e), 0);
			return o;
		}
	}
	fail_msg("no reply to %s", line);
	return NULL;
}

static const char *
get_str(json_object *o, const char *a, const char *b)
{
	json_object *x, *y;

	assert_true(json_object_object_get_ex(o, a, &x));
	assert_true(json_object_object_get_ex(x, b, &y));
	return json_object_get_string(y);
}

static int64_t
get_int(json_object *o, const char *a, const char *b)
{
	json_object *x, *y;

	assert_true(json_object_object_get_ex(o, a, &x));
	assert_true(json_object_object_get_ex(x, b, &y));
	return json_object_get_int64(y);
}

static int
rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

/* ---- the test ---- */

static void
test_daemon(void **state)
{
	char tmpl[] = "/tmp/test-daemon-XXXXXX";
	char *base = mkdtemp(tmpl);
	char path[512];
	struct daemon_options opts;
	struct errbuf e;
	json_object *r;
	int fd, fd2, status = -1;

	assert_non_null(base);
	assert_int_equal(chmod(base, 0700), 0);
	snprintf(path, sizeof(path), "%s/run", base);
	assert_int_equal(mkdir(path, 0700), 0);
	setenv("XDG_RUNTIME_DIR", path, 1);
	snprintf(path, sizeof(path), "%s/state", base);
	setenv("XDG_STATE_HOME", path, 1);
	snprintf(path, sizeof(path), "%s/config", base);
	setenv("XDG_CONFIG_HOME", path, 1);
	setenv("HOME", base, 1);
	unsetenv("LISTEN_FDS");
	unsetenv("NOTIFY_SOCKET");
	unsetenv("CREDENTIALS_DIRECTORY");
	log_setup(LOG_WARNING);
	(void) signal(SIGPIPE, SIG_IGN); /* as cwtimed.c does */

	assert_int_equal(commands_register(&test_table), 0);
	memset(&d, 0, sizeof(d));
	memset(&opts, 0, sizeof(opts));
	opts.log_level = -1;
	errbuf_clear(&e);
	if (daemon_start(&d, &opts, &status, &e) < 0) {
		fail_msg("daemon_start: %s (exit %d)", e.msg, status);
	}
	assert_int_equal(commands_register(&test_table), -EBUSY);

	fd = connect_client();
	r = roundtrip(fd, "{\"v\":1,\"id\":1,\"cmd\":\"ping\"}\n");
	assert_true(json_object_get_boolean(json_object_object_get(r, "ok")));
	json_object_put(r);

	/* the mutation path: the reply is built after commit and apply */
	r = roundtrip(fd, "{\"v\":1,\"id\":2,\"cmd\":\"t-append\",\"args\":{\"n\":5}}\n");
	assert_int_equal(get_int(r, "result", "seq"), 1);
	assert_int_equal(get_int(r, "result", "applied"), 1);
	json_object_put(r);
	assert_int_equal(commits, 1);
	assert_int_equal(seq_seen_in_commit, 1);
	r = roundtrip(fd, "{\"v\":1,\"id\":3,\"cmd\":\"t-append\",\"args\":{\"n\":6}}\n");
	assert_int_equal(get_int(r, "result", "seq"), 2);
	assert_int_equal(get_int(r, "result", "applied"), 2);
	json_object_put(r);

	/* bad arguments never reach the handler, nothing is journaled */
	r = roundtrip(fd, "{\"v\":1,\"id\":4,\"cmd\":\"t-append\",\"args\":{\"n\":\"5\"}}\n");
	assert_string_equal(get_str(r, "error", "code"), "bad-argument");
	assert_string_equal(get_str(r, "error", "field"), "n");
	json_object_put(r);
	assert_int_equal(commits, 2);
	assert_int_equal(daemon_last_seq(&d), 2);

	/* a handler that forgets to answer gets "internal" for it */
	r = roundtrip(fd, "{\"v\":1,\"id\":5,\"cmd\":\"t-forget\"}\n");
	assert_string_equal(get_str(r, "error", "code"), "internal");
	json_object_put(r);

	/* a deferred request whose client has gone: the reply is dropped */
	fd2 = connect_client();
	assert_int_equal(write(fd2, "{\"v\":1,\"id\":6,\"cmd\":\"t-park\"}\n", 30),
	    30);
	for (double end = now_s() + 5; !parked && now_s() < end;) {
		(void) uv_run(&d.loop, UV_RUN_NOWAIT);
	}
	assert_non_null(parked);
	assert_non_null(request_conn(parked));
	close(fd2);
	for (int i = 0; i < 10; i++) {
		(void) uv_run(&d.loop, UV_RUN_NOWAIT);
	}
	/* While a request is in flight the daemon reads no further; the
	 * hang-up shows when the reply fails. Close the connection the way
	 * the shutdown deadline or the output cap would, let its handles
	 * finish closing, and only then answer. */
	conn_close(request_conn(parked));
	assert_true(conn_is_closing(request_conn(parked)));
	for (int i = 0; i < 10; i++) {
		(void) uv_run(&d.loop, UV_RUN_NOWAIT); /* close callbacks run */
	}
	request_reply(parked, json_object_new_object()); /* must not crash */
	parked = NULL;

	/* a client that hangs up while its request is in flight: the late
	 * reply fails to write and the connection goes away */
	fd2 = connect_client();
	assert_int_equal(write(fd2, "{\"v\":1,\"id\":9,\"cmd\":\"t-park\"}\n", 30),
	    30);
	for (double end = now_s() + 5; !parked && now_s() < end;) {
		(void) uv_run(&d.loop, UV_RUN_NOWAIT);
	}
	assert_non_null(parked);
	close(fd2);
	for (int i = 0; i < 10; i++) {
		(void) uv_run(&d.loop, UV_RUN_NOWAIT);
	}
	request_reply(parked, json_object_new_object());
	parked = NULL;
	for (int i = 0; i < 10; i++) {
		(void) uv_run(&d.loop, UV_RUN_NOWAIT);
	}
	assert_int_equal(d.ipc.nconns, 1); /* only fd is left */

	/* the first connection is unaffected */
	r = roundtrip(fd, "{\"v\":1,\"id\":7,\"cmd\":\"ping\"}\n");
	assert_true(json_object_get_boolean(json_object_object_get(r, "ok")));
	json_object_put(r);

	/* a deferred request still pending at shutdown is failed and freed */
	assert_int_equal(write(fd, "{\"v\":1,\"id\":8,\"cmd\":\"t-park\"}\n", 30),
	    30);
	for (double end = now_s() + 5; !parked && now_s() < end;) {
		(void) uv_run(&d.loop, UV_RUN_NOWAIT);
	}
	assert_non_null(parked);

	daemon_stop(&d, 0);
	close(fd);
	assert_int_equal(daemon_run(&d), 0);
	assert_int_equal(daemon_fini(&d), 0); /* uv_loop_close() == 0 */

	/* the records are durable: a new daemon replays them */
	memset(&d, 0, sizeof(d));
	assert_int_equal(daemon_start(&d, &opts, &status, &e), 0);
	assert_int_equal(daemon_last_seq(&d), 2);
	assert_int_equal(d.state.last_seq, 2);
	daemon_stop(&d, 0);
	assert_int_equal(daemon_run(&d), 0);
	assert_int_equal(daemon_fini(&d), 0);

	assert_int_equal(nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daemon),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
