/*
 * cwtimectl.c - main: parse argv through the verb table, talk to cwtimed,
 * print, and exit with the documented status (cwtimectl(1), EXIT STATUS;
 * errcode_exit_status() maps error codes to it).
 *
 * Invariants: a usage or input error exits 2 before anything is sent; a
 * hotkey does no needless work (no config read, no locale, one connect);
 * errors go to stderr as "cwtimectl: <code>: <message>"; follow mode
 * never exits on its own (only when its output goes away).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "client/cmds.h"
#include "client/conn.h"
#include "client/docgen.h"
#include "client/output.h"
#include "client/print-entries.h"
#include "client/print-timers.h"
#include "common/cleanup.h"
#include "common/errcode.h"
#include "common/jsonutil.h"
#include "common/proto.h"

#define HINT_START                                                             \
	"start it with 'systemctl --user start cwtimed.socket', or run "       \
	"'cwtimed'"

/* The code name of a daemon error this cwtimectl does not know (a newer
 * daemon): shown as sent, with exit status 1. */
static char unknown_code[64];

static const char *
error_name(const struct errbuf *e)
{
	return e->code == ERR_INTERNAL && unknown_code[0]
	    ? unknown_code
	    : errcode_name(e->code);
}

static void
print_error(const struct errbuf *e, bool json)
{
	fprintf(stderr, "cwtimectl: %s: %s", error_name(e), e->msg);
	if (e->field[0]) {
		fprintf(stderr, " (field %s)", e->field);
	}
	fprintf(stderr, "\n");
	if (e->code == ERR_DAEMON_UNREACHABLE) {
		fprintf(stderr, "cwtimectl: " HINT_START "\n");
	}
	if (json) {
		CLEANUP_JSON json_object *o = json_object_new_object();
		json_object *err = json_object_new_object();

		if (o && err) {
			json_object_object_add(
			    err, "code", json_object_new_string(error_name(e)));
			json_object_object_add(
			    err, "message", json_object_new_string(e->msg));
			if (e->field[0]) {
				json_object_object_add(err, "field",
				    json_object_new_string(e->field));
			}
			json_object_object_add(o, "error", err);
			printf("%s\n",
			    json_object_to_json_string_ext(o,
				JSON_C_TO_STRING_PLAIN |
				    JSON_C_TO_STRING_NOSLASHESCAPE));
		} else if (err) {
			json_object_put(err);
		}
	}
}

static int
fail(const struct errbuf *e, bool json)
{
	print_error(e, json);
	return errcode_exit_status(e->code);
}

/* Fills *e from a reply's "error" member. */
static void
reply_error(json_object *reply, struct errbuf *e)
{
	json_object *err = NULL, *v = NULL;
	const char *code = "internal", *msg = "", *field = "";
	int found = 0;

	if (json_object_object_get_ex(reply, "error", &err)) {
		if (json_object_object_get_ex(err, "code", &v) &&
		    json_object_is_type(v, json_type_string)) {
			code = json_object_get_string(v);
		}
		if (json_object_object_get_ex(err, "message", &v) &&
		    json_object_is_type(v, json_type_string)) {
			msg = json_object_get_string(v);
		}
		if (json_object_object_get_ex(err, "field", &v) &&
		    json_object_is_type(v, json_type_string)) {
			field = json_object_get_string(v);
		}
	}
	enum errcode c = errcode_from_name(code, &found);

	/* An unknown name from a newer daemon still fails (status 1). */
	if (!found) {
		snprintf(unknown_code, sizeof(unknown_code), "%s", code);
	}
	errbuf_set(e, c, 0, "%s", msg[0] ? msg : errcode_message(c));
	errbuf_set_field(e, field);
}

/* Checks a reply to request id and takes its result: 0 with the result in
 * *ret_result (a new reference; {} when absent), or -1 with the reason in
 * *e (the daemon's error, or a reply that breaks the protocol). Consumes
 * reply. */
static int
take_result(json_object *reply, int64_t id, json_object **ret_result,
    struct errbuf *e)
{
	CLEANUP_JSON json_object *msg = reply;
	json_object *v = NULL, *res = NULL;

	if (!json_object_object_get_ex(msg, "id", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != id) {
		json_object *ok = NULL;

		/* A reply without our id is the daemon refusing the line
		 * itself (id null): report its error if it has one. */
		if (!json_object_object_get_ex(msg, "ok", &ok) ||
		    json_object_get_boolean(ok)) {
			errbuf_set(e, ERR_PROTOCOL_VERSION, 0,
			    "cwtimed answered another request");
			return -1;
		}
	}
	if (!json_object_object_get_ex(msg, "ok", &v) ||
	    !json_object_is_type(v, json_type_boolean)) {
		errbuf_set(e, ERR_PROTOCOL_VERSION, 0,
		    "cwtimed's reply has no \"ok\"");
		return -1;
	}
	if (!json_object_get_boolean(v)) {
		reply_error(msg, e);
		return -1;
	}
	if (json_object_object_get_ex(msg, "result", &res) && res) {
		*ret_result = json_object_get(res);
	} else {
		*ret_result = json_object_new_object();
	}
	return 0;
}

/* A list longer than a reply line comes in parts (cwtimed-ipc(7), "more"):
 * while result has "more", asks for the next part on the same connection
 * and appends its items to result[key]. At the end result is what one
 * unbounded line would have been: every item, "returned" all of them,
 * "truncated" false, no "more". */
static int
fetch_rest(struct conn *c, json_object *result, int64_t id, struct errbuf *e)
{
	json_object *more = NULL;

	while (json_object_object_get_ex(result, "more", &more) &&
	    json_object_is_type(more, json_type_object)) {
		const char *key = jsonutil_str(more, "key");
		int64_t cursor = 0, from = 0, total = 0;
		json_object *list = NULL, *part = NULL, *items = NULL;
		json_object *reply = NULL;
		char line[160];

		if (!key || !jsonutil_get_i64(more, "cursor", &cursor) ||
		    !jsonutil_get_i64(more, "from", &from) ||
		    !jsonutil_get_i64(more, "total", &total) ||
		    !json_object_object_get_ex(result, key, &list) ||
		    !json_object_is_type(list, json_type_array) ||
		    (int64_t) json_object_array_length(list) != from ||
		    from >= total) {
			errbuf_set(e, ERR_PROTOCOL_VERSION, 0,
			    "cwtimed's \"more\" does not follow its list");
			return -1;
		}
		snprintf(line, sizeof(line),
		    "{\"v\":%d,\"id\":%lld,\"cmd\":\"more\",\"args\":"
		    "{\"cursor\":%lld,\"from\":%lld}}",
		    PROTO_VERSION, (long long) ++id, (long long) cursor,
		    (long long) from);
		if (conn_send_line(c, line, e) < 0 ||
		    conn_read_reply(c, &reply, e) < 0 ||
		    take_result(reply, id, &part, e) < 0) {
			return -1;
		}
		if (!json_object_object_get_ex(part, key, &items) ||
		    !json_object_is_type(items, json_type_array) ||
		    json_object_array_length(items) == 0) {
			json_object_put(part);
			errbuf_set(e, ERR_PROTOCOL_VERSION, 0,
			    "cwtimed's next part of the list is empty");
			return -1;
		}
		for (size_t i = 0; i < json_object_array_length(items); i++) {
			json_object_array_add(list,
			    json_object_get(json_object_array_get_idx(items, i)));
		}
		if (json_object_object_get_ex(part, "more", &more)) {
			json_object_object_add(result, "more",
			    json_object_get(more));
		} else {
			json_object_object_del(result, "more");
		}
		json_object_put(part);
		json_object_object_add(result, "returned",
		    json_object_new_int64(
			(int64_t) json_object_array_length(list)));
		json_object_object_add(result, "truncated",
		    json_object_new_boolean(
			(int64_t) json_object_array_length(list) < total));
	}
	return 0;
}

/* One request on a new connection (and the rest of a long list on the
 * same one). Returns 0 with the reply's result in *ret_result (a new
 * reference; {} when absent), or -1 with the reason in *e (a daemon error
 * reply or a transport failure). */
static int
call(const char *socket, const char *line, int64_t id, int timeout_s,
    json_object **ret_result, struct errbuf *e)
{
	struct conn c;
	json_object *reply = NULL, *result = NULL;
	int r;

	r = conn_open(&c, socket, timeout_s, e);
	if (r >= 0) {
		r = conn_send_line(&c, line, e);
	}
	if (r >= 0) {
		r = conn_read_reply(&c, &reply, e);
	}
	if (r >= 0) {
		r = take_result(reply, id, &result, e);
	}
	if (r >= 0) {
		r = fetch_rest(&c, result, id, e);
	}
	conn_fini(&c);
	if (r < 0) {
		json_object_put(result);
		return -1;
	}
	*ret_result = result;
	return 0;
}

static int
print_json(json_object *o)
{
	printf("%s\n",
	    json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	return 0;
}

static int
run_request(const struct cmd_request *req, const char *socket)
{
	CLEANUP_FREE char *line = cmds_request_line(req, 1);
	CLEANUP_JSON json_object *result = NULL;
	struct errbuf e = {0};

	if (!line) {
		errbuf_set(&e, ERR_INTERNAL, -ENOMEM, "out of memory");
		return fail(&e, req->json);
	}
	if (call(socket, line, 1, CONN_REPLY_TIMEOUT_S, &result, &e) < 0) {
		return fail(&e, req->json);
	}
	if (req->json) {
		return print_json(result);
	}
	if (strcmp(req->cmd->name, "ping") == 0) {
		printf("pong\n");
		return 0;
	}
	/* A short summary or a table where one exists (timer verbs first,
	 * then the ConnectWise pass-through), else everything, generically. */
	CLEANUP_FREE char *text = print_timers_result(req->cmd->wire, result);

	if (!text) {
		text = print_entries_result(req->cmd->wire, result);
	}

	if (!text) {
		text = output_result_human(result);
	}
	if (text) {
		fputs(text, stdout);
	}
	return 0;
}

static int
run_version(const struct cmd_request *req, const char *socket)
{
	CLEANUP_FREE char *line = cmds_request_line(req, 1);
	CLEANUP_JSON json_object *result = NULL;
	struct errbuf e = {0};
	json_object *v = NULL;

	if (!req->json) {
		printf(
		    "cwtimectl %s (protocol %d)\n", CWT_VERSION, PROTO_VERSION);
		fflush(stdout);
	}
	if (!line ||
	    call(socket, line, 1, CONN_REPLY_TIMEOUT_S, &result, &e) < 0) {
		if (!line) {
			errbuf_set(&e, ERR_INTERNAL, -ENOMEM, "out of memory");
		}
		return fail(&e, req->json);
	}
	if (req->json) {
		CLEANUP_JSON json_object *o = json_object_new_object();
		json_object *me = json_object_new_object();

		if (!o || !me) {
			json_object_put(me);
			return EXIT_FAILURE;
		}
		json_object_object_add(
		    me, "version", json_object_new_string(CWT_VERSION));
		json_object_object_add(
		    me, "protocol", json_object_new_int(PROTO_VERSION));
		json_object_object_add(o, "cwtimectl", me);
		json_object_object_add(o, "cwtimed", json_object_get(result));
		return print_json(o);
	}
	if (json_object_object_get_ex(result, "version", &v)) {
		json_object *p = NULL;

		printf("cwtimed %s", json_object_get_string(v));
		if (json_object_object_get_ex(result, "protocol", &p)) {
			printf(" (protocol %s)", json_object_get_string(p));
		}
		printf("\n");
		return 0;
	}
	CLEANUP_FREE char *text = output_result_human(result);

	if (text) {
		printf("cwtimed:\n%s", text);
	}
	return 0;
}

static enum output_format
request_format(const struct cmd_request *req)
{
	if (req->format) {
		return output_format_from_name(req->format);
	}
	return req->json ? OUTPUT_JSON : OUTPUT_HUMAN;
}

static int
run_status(const struct cmd_request *req, const char *socket)
{
	CLEANUP_FREE char *line = cmds_request_line(req, 1);
	CLEANUP_JSON json_object *result = NULL;
	CLEANUP_FREE char *out = NULL;
	enum output_format fmt = request_format(req);
	struct errbuf e = {0};
	bool urgent = false;
	int r;

	if (!line) {
		return EXIT_FAILURE;
	}
	r = call(socket, line, 1, CONN_REPLY_TIMEOUT_S, &result, &e);
	/* Without --format a failure is an error; with it, a bar shows the
	 * offline or error state instead of going blank. */
	if (r < 0 && !req->format) {
		return fail(&e, req->json);
	}
	bool offline = r < 0 &&
	    (e.code == ERR_DAEMON_UNREACHABLE || e.code == ERR_TIMEOUT);

	if (output_status(result, r < 0 && !offline ? e.msg : NULL, fmt,
		req->template, false, &out, &urgent) < 0) {
		return EXIT_FAILURE;
	}
	fputs(out, stdout);
	return urgent ? OUTPUT_I3BLOCKS_URGENT : 0;
}

/* --- follow ----------------------------------------------------------------
 *
 * One connection: subscribe, ask for the status on the same connection,
 * then render every event from its own data. "timer" and "tick" events
 * carry the whole status result; "submission" carries the submission and
 * queue members, merged into the last status. So a redraw needs no second
 * connection (100 followers do not double the daemon's connections), and
 * the elapsed minute advances on the daemon's "tick" (sent on the minute
 * while a timer runs): follow keeps no clock of its own. The only timed
 * wait left is the 5 s status poll when a daemon refuses subscribe.
 */

#define FOLLOW_STATUS_ID 2

struct follow {
	const struct cmd_request *req;
	const char *socket;
	enum output_format fmt;
	char *last;	    /* the last output printed */
	json_object *state; /* the last status result, or NULL */
};

/* Prints the output unless it equals the last one. Returns -1 when
 * stdout is gone. */
static int
follow_emit(struct follow *f, json_object *result, const char *errmsg)
{
	char *out = NULL;

	if (output_status(result, errmsg, f->fmt, f->req->template, true, &out,
		NULL) < 0) {
		return 0; /* ENOMEM: try again at the next change */
	}
	if (f->last && strcmp(f->last, out) == 0) {
		free(out);
		return 0;
	}
	free(f->last);
	f->last = out;
	if (fputs(out, stdout) == EOF || fflush(stdout) == EOF) {
		return -1;
	}
	return 0;
}

/* Makes result (a reference taken) the current status and prints it. */
static int
follow_show(struct follow *f, json_object *result)
{
	json_object_put(f->state);
	f->state = json_object_get(result);
	return follow_emit(f, f->state, NULL);
}

static int
follow_ask_status(struct conn *c, struct errbuf *e)
{
	return conn_send_line(c, "{\"v\":1,\"id\":2,\"cmd\":\"status\"}", e);
}

/* Handles one message of the stream. Returns -1 when stdout is gone,
 * -2 when the connection must be dropped, else 0. */
static int
follow_message(struct follow *f, struct conn *c, json_object *msg)
{
	json_object *ev = NULL, *data = NULL, *v = NULL;
	struct errbuf e = {0};
	const char *name;

	if (!json_object_object_get_ex(msg, "event", &ev)) {
		/* a reply: ours is the status */
		if (!json_object_object_get_ex(msg, "id", &v) ||
		    json_object_get_int64(v) != FOLLOW_STATUS_ID) {
			return 0;
		}
		if (json_object_object_get_ex(msg, "ok", &v) &&
		    json_object_get_boolean(v) &&
		    json_object_object_get_ex(msg, "result", &data)) {
			return follow_show(f, data);
		}
		if (json_object_object_get_ex(msg, "error", &data) &&
		    json_object_object_get_ex(data, "message", &v)) {
			return follow_emit(f, NULL, json_object_get_string(v));
		}
		return follow_emit(f, NULL, "cwtimed's status reply is invalid");
	}
	name = json_object_get_string(ev);
	if (!json_object_object_get_ex(msg, "data", &data) ||
	    !json_object_is_type(data, json_type_object)) {
		return 0;
	}
	if (strcmp(name, "timer") == 0 || strcmp(name, "tick") == 0) {
		return follow_show(f, data);
	}
	if (strcmp(name, "hello") == 0) {
		return 0; /* the status reply follows */
	}
	if (strcmp(name, "submission") == 0 && f->state) {
		json_object_object_foreach(data, key, val)
		{
			json_object_object_add(
			    f->state, key, json_object_get(val));
		}
		return follow_emit(f, f->state, NULL);
	}
	/* an event this cwtimectl does not know: read the whole status */
	return follow_ask_status(c, &e) < 0 ? -2 : 0;
}

/* Reads the stream until it ends. Returns -1 when stdout is gone, else 0
 * (the daemon went away). */
static int
follow_stream(struct follow *f, struct conn *c)
{
	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		CLEANUP_JSON json_object *msg = NULL;
		struct errbuf e = {0};
		const char *line;
		int n, r;

		n = conn_has_line(c) ? 1 : poll(&pfd, 1, -1);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return 0;
		}
		if (conn_read_line(c, &line, &e) < 0) {
			return 0; /* the daemon went away */
		}
		if (conn_parse_message(line, &msg, &e) < 0) {
			return 0; /* not cwtimed (any more) */
		}
		r = follow_message(f, c, msg);
		if (r == -1) {
			return -1;
		}
		if (r < 0) {
			return 0;
		}
	}
}

/* Without subscribe (a daemon that refuses it): the status every 5 s on
 * short connections, until it fails. Returns -1 when stdout is gone. */
static int
follow_poll(struct follow *f, bool *ret_offline)
{
	static const char line[] = "{\"v\":1,\"id\":2,\"cmd\":\"status\"}";

	for (;;) {
		CLEANUP_JSON json_object *result = NULL;
		struct errbuf e = {0};
		int r = call(f->socket, line, FOLLOW_STATUS_ID,
		    CONN_REPLY_TIMEOUT_S, &result, &e);

		*ret_offline = r < 0 && (e.code == ERR_DAEMON_UNREACHABLE ||
		    e.code == ERR_TIMEOUT);
		if (*ret_offline) {
			return 0;
		}
		r = r < 0 ? follow_emit(f, NULL, e.msg) : follow_show(f, result);
		if (r < 0) {
			return -1;
		}
		(void) poll(NULL, 0, 5000);
	}
}

static int
run_follow(const struct cmd_request *req, const char *socket)
{
	struct follow f = {
	    .req = req,
	    .socket = socket,
	    .fmt = request_format(req),
	};
	int backoff_ms = 250, gone = 0;

	for (;;) {
		struct conn c;
		struct errbuf e = {0};
		json_object *reply = NULL, *ok = NULL;
		bool subscribed = false, offline = false;
		int r;

		/* Subscribe first, then ask for the state on the same
		 * connection: a change in between arrives as an event after
		 * the reply instead of being lost. The timeout bounds the
		 * subscribe reply and a partial line; between events we wait
		 * in poll(), not in recv(). */
		r = conn_open(&c, socket, CONN_SEND_TIMEOUT_S, &e);
		if (r >= 0) {
			r = conn_send_line(
			    &c, "{\"v\":1,\"id\":1,\"cmd\":\"subscribe\"}", &e);
		}
		if (r >= 0) {
			r = conn_read_reply(&c, &reply, &e);
		}
		if (r >= 0) {
			subscribed =
			    json_object_object_get_ex(reply, "ok", &ok) &&
			    json_object_get_boolean(ok);
			json_object_put(reply);
		}
		if (r >= 0 && subscribed) {
			r = follow_ask_status(&c, &e);
			if (r >= 0) {
				backoff_ms = 250;
				gone = follow_stream(&f, &c);
			}
		} else if (r >= 0) {
			conn_fini(&c);
			gone = follow_poll(&f, &offline);
			if (!gone) {
				backoff_ms = 250;
			}
		}
		conn_fini(&c);
		if (gone < 0) {
			break; /* our reader is gone */
		}
		/* The daemon went away or cannot be reached: offline, and
		 * try again with backoff. */
		json_object_put(f.state);
		f.state = NULL;
		if (follow_emit(&f, NULL, NULL) < 0) {
			break;
		}
		(void) poll(NULL, 0, backoff_ms); /* reconnect backoff */
		backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
	}
	json_object_put(f.state);
	free(f.last);
	return EXIT_FAILURE;
}

/* --- help ---------------------------------------------------------------- */

static int
run_help(const struct cmd_request *req)
{
	struct errbuf e = {0};
	const struct cmd *c;
	char topic[256], *sub;

	if (!req->help_topic) {
		docgen_help_all(stdout);
		return 0;
	}
	snprintf(topic, sizeof(topic), "%s", req->help_topic);
	sub = strchr(topic, ' ');
	if (sub) {
		*sub++ = '\0';
	}
	c = cmds_lookup(cmds_table, topic, "command", &e);
	if (c && sub && c->subs) {
		char what[64];

		snprintf(what, sizeof(what), "%s command", c->name);
		c = cmds_lookup(c->subs, sub, what, &e);
	} else if (c && sub) {
		errbuf_set(&e, ERR_USAGE, -EINVAL, "'%s' has no sub-commands",
		    c->name);
		c = NULL;
	}
	if (!c) {
		return fail(&e, false);
	}
	docgen_help_cmd(stdout, c);
	return 0;
}

int
main(int argc, char **argv)
{
	struct cmd_request req = {0};
	struct cmd_ctx ctx = {.now = time(NULL)};
	struct errbuf e = {0};
	char socket[4096];
	int status;

	if (cmds_parse(argc, argv, &ctx, &req, &e) < 0) {
		if (e.code == ERR_OK) {
			errbuf_set(&e, ERR_INTERNAL, -ENOMEM, "out of memory");
		}
		return fail(&e, false);
	}
	if (req.completions) {
		status =
		    docgen_completions(stdout, req.completions) < 0 ? 2 : 0;
		if (status) {
			errbuf_set(&e, ERR_USAGE, -EINVAL,
			    "--completions takes bash, zsh or fish");
			print_error(&e, false);
		}
		goto out;
	}
	if (req.man_commands) {
		docgen_man_commands(stdout);
		status = 0;
		goto out;
	}
	if (!req.cmd) {
		if (req.version) {
			printf("cwtimectl %s\n", CWT_VERSION);
			status = 0;
		} else if (req.help) {
			docgen_help_all(stdout);
			status = 0;
		} else {
			errbuf_set(&e, ERR_USAGE, -EINVAL, "no command given");
			print_error(&e, false);
			fprintf(stderr,
			    "usage: cwtimectl [--socket PATH] "
			    "[--json] COMMAND [ARGUMENTS]; "
			    "'cwtimectl help' lists the commands\n");
			status = 2;
		}
		goto out;
	}
	if (req.help) {
		docgen_help_cmd(stdout, req.cmd);
		status = 0;
		goto out;
	}
	if (req.template && output_template_check(req.template, &e) < 0) {
		status = fail(&e, false);
		goto out;
	}
	if (req.socket) {
		snprintf(socket, sizeof(socket), "%s", req.socket);
	} else if (conn_default_path(socket, sizeof(socket)) < 0) {
		errbuf_set(&e, ERR_USAGE, -ENAMETOOLONG,
		    "$XDG_RUNTIME_DIR is too long");
		status = fail(&e, req.json);
		goto out;
	}
	switch (req.cmd->kind) {
	case CMD_KIND_HELP:
		status = run_help(&req);
		break;
	case CMD_KIND_STATUS:
		status = run_status(&req, socket);
		break;
	case CMD_KIND_FOLLOW:
		status = run_follow(&req, socket);
		break;
	case CMD_KIND_VERSION:
		status = run_version(&req, socket);
		break;
	case CMD_KIND_REQUEST:
	case CMD_KIND_GROUP:
	default:
		status = run_request(&req, socket);
		break;
	}
out:
	cmds_request_fini(&req);
	if (fflush(stdout) == EOF && status == 0) {
		status = 1;
	}
	return status;
}
