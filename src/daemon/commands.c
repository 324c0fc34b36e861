/*
 * commands.c - command dispatch: framing errors, the merged command table,
 * parameter checks, and the lifetime of a request.
 *
 * Invariants:
 * - a request is answered exactly once; the reply goes to its connection
 *   only if that is still open (the request holds a conn reference, so a
 *   late reply never touches freed memory);
 * - a mutating request is answered only after its journal records are
 *   durable and applied (journal done callbacks), never before;
 * - a request is freed only when it has been answered AND none of its
 *   journal records is still pending (the journal calls back into it);
 * - input never reaches a format string; replies never echo raw input.
 *
 * Must never: change state outside the journal's apply function, log at
 * more than debug level for what a client sent, block.
 */
#include "daemon/commands.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/proto.h"
#include "daemon/daemon.h"
#include "daemon/ipc.h"
#include "daemon/journal.h"
#include "daemon/log.h"

/* Where the tables of every file are listed. Add yours here (and its
 * extern line in commands.h). */
static const struct cmd_table *const tables[] = {
	&cmd_base_table,
	&cmd_timer_table,
	&cmd_queue_table,
	&cmd_entry_table,
	&cmd_sheet_table,
	&cmd_ref_table,
	&cmd_more_table,
};

#define COMMANDS_MAX 256
#define COMMANDS_EXTRA_MAX 8

static const struct cmd_table *extra[COMMANDS_EXTRA_MAX];
static size_t n_extra;

static const struct cmd *merged[COMMANDS_MAX];
static size_t n_merged;
static bool initialised;
/* The request whose handler is running, NULL once it is freed: tells the
 * dispatcher whether the handler left it unanswered. */
static struct request *in_handler;
/* Likewise for the on_commit callback that is running. */
static struct request *in_commit;

struct request {
	struct daemon *d;
	struct conn *conn;          /* referenced; NULL for internal ones */
	const struct cmd *cmd;
	struct proto_request pr;    /* owns the parsed line */
	struct request *next, *prev; /* d->pending while deferred */
	unsigned pending_records;
	bool deferred;              /* in d->pending */
	bool answered;
	bool committing;            /* request_commit() was called */
	bool held;                  /* conn_hold() taken */
	bool kept;                  /* on_commit called request_defer() */
	request_commit_fn *on_commit;
	int commit_status;
	struct errbuf commit_err;
	void *data;
	void (*free_data)(void *);
};

/* ---- the table ---- */

static int
cmp_cmd_ptr(const void *a, const void *b)
{
	const struct cmd *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int
cmp_key_cmd(const void *key, const void *elem)
{
	const struct cmd *const *c = elem;

	return strcmp(key, (*c)->name);
}

int
commands_register(const struct cmd_table *t)
{
	if (initialised) {
		return -EBUSY;
	}
	if (n_extra >= COMMANDS_EXTRA_MAX) {
		return -ENOSPC;
	}
	extra[n_extra++] = t;
	return 0;
}

static const struct cmd_table *
table_at(size_t i)
{
	return i < ARRAY_SIZE(tables) ? tables[i] : extra[i - ARRAY_SIZE(tables)];
}

int
commands_init(struct errbuf *reterr)
{
	size_t n = 0;

	if (initialised) {
		return 0;
	}
	for (size_t t = 0; t < ARRAY_SIZE(tables) + n_extra; t++) {
		for (size_t i = 0; i < table_at(t)->n; i++) {
			const struct cmd *c = &table_at(t)->cmds[i];

			if (n >= COMMANDS_MAX || !c->name || !c->fn) {
				return errbuf_set(reterr, ERR_INTERNAL, -EINVAL,
				    "bad command table entry %zu", i);
			}
			for (const struct param_spec *p = c->params; p && p->name;
			    p++) {
				if (p->type < PARAM_STRING || p->type > PARAM_ANY) {
					return errbuf_set(reterr, ERR_INTERNAL,
					    -EINVAL, "command '%s': parameter "
					    "'%s' has no type", c->name, p->name);
				}
			}
			merged[n++] = c;
		}
	}
	qsort(merged, n, sizeof(merged[0]), cmp_cmd_ptr);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(merged[i - 1]->name, merged[i]->name) == 0) {
			return errbuf_set(reterr, ERR_INTERNAL, -EINVAL,
			    "command '%s' is defined twice", merged[i]->name);
		}
	}
	n_merged = n;
	initialised = true;
	return 0;
}

const struct cmd *
commands_find(const char *name)
{
	const struct cmd *const *c;

	if (!initialised && commands_init(NULL) < 0) {
		return NULL;
	}
	c = bsearch(name, merged, n_merged, sizeof(merged[0]), cmp_key_cmd);
	return c ? *c : NULL;
}

size_t
commands_count(void)
{
	if (!initialised) {
		(void) commands_init(NULL);
	}
	return n_merged;
}

const struct cmd *
commands_at(size_t i)
{
	return i < commands_count() ? merged[i] : NULL;
}

static const char *
param_type_name(enum param_type t)
{
	switch (t) {
	case PARAM_STRING:
		return "a string";
	case PARAM_INT:
		return "an integer";
	case PARAM_BOOL:
		return "true or false";
	case PARAM_OBJECT:
		return "an object";
	case PARAM_ARRAY:
		return "an array";
	case PARAM_NUMBER:
		return "a number";
	case PARAM_ANY:
		return "a value";
	}
	return "a value";
}

static bool
type_matches(enum param_type t, json_object *v)
{
	switch (t) {
	case PARAM_STRING:
		return json_object_is_type(v, json_type_string) &&
		    strlen(json_object_get_string(v)) ==
		    (size_t) json_object_get_string_len(v);
	case PARAM_INT:
		return json_object_is_type(v, json_type_int);
	case PARAM_BOOL:
		return json_object_is_type(v, json_type_boolean);
	case PARAM_OBJECT:
		return json_object_is_type(v, json_type_object);
	case PARAM_ARRAY:
		return json_object_is_type(v, json_type_array);
	case PARAM_NUMBER:
		return json_object_is_type(v, json_type_int) ||
		    json_object_is_type(v, json_type_double);
	case PARAM_ANY:
		return v != NULL;
	}
	return false;
}

int
commands_check_params(const struct param_spec *params, json_object *args,
    struct errbuf *reterr)
{
	int r;

	if (!args || !json_object_is_type(args, json_type_object)) {
		return errbuf_set(reterr, ERR_BAD_REQUEST, -EINVAL,
		    "\"args\" must be an object");
	}
	/* Every argument sent must be declared: a typo is an error, not
	 * something silently ignored. */
	json_object_object_foreach(args, key, val)
	{
		const struct param_spec *p = params;

		(void) val;
		while (p && p->name && strcmp(p->name, key) != 0) {
			p++;
		}
		if (!p || !p->name) {
			r = errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
			    "unknown argument");
			errbuf_set_field(reterr, key);
			return r;
		}
	}
	for (const struct param_spec *p = params; p && p->name; p++) {
		json_object *v = NULL;

		if (!json_object_object_get_ex(args, p->name, &v)) {
			if (p->flags & PARAM_REQUIRED) {
				r = errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
				    "missing argument '%s'", p->name);
				errbuf_set_field(reterr, p->name);
				return r;
			}
			continue;
		}
		if (!type_matches(p->type, v)) {
			r = errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
			    "'%s' must be %s", p->name, param_type_name(p->type));
			errbuf_set_field(reterr, p->name);
			return r;
		}
	}
	return 0;
}

/* ---- replies ---- */

static void
send_line(struct conn *c, const char *line, size_t len)
{
	if (c) {
		(void) conn_send(c, line, len); /* dropped when closing */
	}
}

static void
send_error(struct conn *c, int64_t id, bool has_id, const struct errbuf *e)
{
	CLEANUP_FREE char *line = NULL;
	size_t len;

	if (proto_build_error(id, has_id, e, &line, &len) == 0) {
		send_line(c, line, len);
	}
}

static void
request_free(struct request *req)
{
	struct daemon *d = req->d;

	if (in_handler == req) {
		in_handler = NULL;
	}
	if (in_commit == req) {
		in_commit = NULL;
	}
	if (req->deferred) {
		if (req->prev) {
			req->prev->next = req->next;
		} else {
			d->pending = req->next;
		}
		if (req->next) {
			req->next->prev = req->prev;
		}
	}
	if (req->free_data) {
		req->free_data(req->data);
	}
	proto_request_fini(&req->pr);
	if (req->conn) {
		if (req->held) {
			conn_release(req->conn);
		}
		conn_unref(req->conn);
	}
	free(req);
}

static void
request_maybe_free(struct request *req)
{
	if (req->answered && req->pending_records == 0) {
		request_free(req);
	}
}

static void
answer_line(struct request *req, const char *line, size_t len)
{
	req->answered = true;
	send_line(req->conn, line, len);
	request_maybe_free(req);
}

void
request_reply(struct request *req, json_object *result)
{
	CLEANUP_JSON json_object *res = result;
	CLEANUP_FREE char *line = NULL;
	size_t len;
	int r;

	if (req->answered) {
		return;
	}
	r = proto_build_reply(req->pr.id, req->pr.has_id, res, &line, &len);
	if (r < 0) {
		struct errbuf e;

		errbuf_set(&e, ERR_INTERNAL, r, r == -E2BIG ?
		    "the reply would exceed %d bytes" : "out of memory",
		    PROTO_LINE_MAX);
		request_fail(req, &e);
		return;
	}
	answer_line(req, line, len);
}

void
request_fail(struct request *req, const struct errbuf *e)
{
	CLEANUP_FREE char *line = NULL;
	size_t len;

	if (req->answered) {
		return;
	}
	if (proto_build_error(req->pr.id, req->pr.has_id, e, &line, &len) < 0) {
		req->answered = true; /* ENOMEM: nothing we can send */
		request_maybe_free(req);
		return;
	}
	answer_line(req, line, len);
}

void
request_failf(struct request *req, enum errcode code, const char *field,
    const char *fmt, ...)
{
	struct errbuf e;
	va_list ap;

	errbuf_clear(&e);
	e.code = code;
	if (fmt && fmt[0]) {
		va_start(ap, fmt);
		vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
		va_end(ap);
	} else {
		snprintf(e.msg, sizeof(e.msg), "%s", errcode_message(code));
	}
	errbuf_set_field(&e, field);
	request_fail(req, &e);
}

/* ---- accessors ---- */

struct daemon *
request_daemon(const struct request *req)
{
	return req->d;
}

struct conn *
request_conn(const struct request *req)
{
	return req->conn;
}

const struct cmd *
request_cmd(const struct request *req)
{
	return req->cmd;
}

int64_t
request_id(const struct request *req)
{
	return req->pr.id;
}

json_object *
request_args(const struct request *req)
{
	return req->pr.args;
}

json_object *
request_arg(const struct request *req, const char *name)
{
	json_object *v = NULL;

	if (!req->pr.args ||
	    !json_object_object_get_ex(req->pr.args, name, &v)) {
		return NULL;
	}
	return v;
}

const char *
request_arg_string(const struct request *req, const char *name)
{
	json_object *v = request_arg(req, name);

	return v && json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

bool
request_arg_int(const struct request *req, const char *name, int64_t *ret)
{
	json_object *v = request_arg(req, name);

	if (!v || !json_object_is_type(v, json_type_int)) {
		return false;
	}
	*ret = json_object_get_int64(v);
	return true;
}

bool
request_arg_bool(const struct request *req, const char *name,
    bool default_value)
{
	json_object *v = request_arg(req, name);

	if (!v || !json_object_is_type(v, json_type_boolean)) {
		return default_value;
	}
	return json_object_get_boolean(v);
}

void
request_set_data(struct request *req, void *data, void (*free_fn)(void *))
{
	if (req->free_data) {
		req->free_data(req->data);
	}
	req->data = data;
	req->free_data = free_fn;
}

void *
request_data(const struct request *req)
{
	return req->data;
}

/* ---- deferral and the journal ---- */

void
request_defer(struct request *req)
{
	struct daemon *d = req->d;

	if (req->answered) {
		return;
	}
	if (req->deferred) {
		req->kept = true; /* from on_commit: it answers later */
		return;
	}
	req->deferred = true;
	req->prev = NULL;
	req->next = d->pending;
	if (d->pending) {
		d->pending->prev = req;
	}
	d->pending = req;
}

static void
finish_commit(struct request *req)
{
	if (req->pending_records > 0 || !req->committing || req->answered) {
		return;
	}
	if (req->commit_status < 0) {
		request_fail(req, &req->commit_err);
		return;
	}
	in_commit = req;
	req->kept = false;
	req->on_commit(req);
	/* req is gone if it was answered; in_commit tells */
	if (in_commit == req && !req->answered && !req->kept) {
		request_failf(req, ERR_INTERNAL, NULL,
		    "command '%s' committed but did not reply", req->cmd->name);
	}
	in_commit = NULL;
}

static void
on_record_done(void *userdata, int status, const struct errbuf *err)
{
	struct request *req = userdata;

	if (req->pending_records > 0) {
		req->pending_records--;
	}
	if (status < 0 && req->commit_status == 0) {
		req->commit_status = status;
		if (err) {
			req->commit_err = *err;
		} else {
			errbuf_set(&req->commit_err, ERR_DISK_ERROR, status, "%s",
			    errcode_message(ERR_DISK_ERROR));
		}
	}
	if (req->answered) {
		request_maybe_free(req);
		return;
	}
	finish_commit(req);
}

int
request_journal(struct request *req, uint16_t type, json_object *payload,
    bool reserve_space, struct errbuf *reterr)
{
	struct daemon *d = req->d;
	int r;

	if (!d->journal) {
		return errbuf_set(reterr, ERR_NOT_SUPPORTED, -ENOTSUP,
		    "no journal is open");
	}
	if (req->answered) {
		return errbuf_set(reterr, ERR_INTERNAL, -EINVAL,
		    "request already answered");
	}
	r = journal_append(d->journal, type, payload, reserve_space,
	    on_record_done, req, reterr);
	if (r < 0) {
		return r;
	}
	req->pending_records++;
	request_defer(req);
	return 0;
}

void
request_commit(struct request *req, request_commit_fn *fn)
{
	if (req->answered) {
		return;
	}
	req->on_commit = fn;
	req->committing = true;
	request_defer(req);
	finish_commit(req); /* at once when nothing was appended */
}

/* ---- dispatch ---- */

void
commands_on_line(void *userdata, struct conn *c, const char *line, size_t len)
{
	struct daemon *d = userdata;
	struct proto_request pr;
	struct errbuf e;
	const struct cmd *cmd;
	struct request *req;
	int r;

	errbuf_clear(&e);
	r = proto_request_parse(line, len, &pr, &e);
	if (r < 0) {
		log_debug("connection %llu: bad request: %s",
		    (unsigned long long) conn_id(c), e.msg);
		send_error(c, pr.id, pr.has_id, &e);
		if (e.code == ERR_LINE_TOO_LONG) {
			conn_close_after_write(c);
		}
		return;
	}
	cmd = commands_find(pr.cmd);
	if (!cmd) {
		errbuf_set(&e, ERR_UNKNOWN_COMMAND, -ENOENT,
		    "unknown command '%s'", pr.cmd);
		errbuf_set_field(&e, "cmd");
		send_error(c, pr.id, pr.has_id, &e);
		proto_request_fini(&pr);
		return;
	}
	r = commands_check_params(cmd->params, pr.args, &e);
	if (r == 0 && (cmd->flags & CMD_MUTATES)) {
		if (d->stopping) {
			r = errbuf_set(&e, ERR_BUSY, -ESHUTDOWN,
			    "cwtimed is shutting down");
		} else if (!d->journal) {
			r = errbuf_set(&e, ERR_NOT_SUPPORTED, -ENOTSUP,
			    "no journal is open");
		} else if (journal_failed(d->journal)) {
			r = errbuf_set(&e, ERR_STORAGE_FAILED, -EIO, "%s",
			    errcode_message(ERR_STORAGE_FAILED));
		}
	}
	if (r == 0 && (cmd->flags & CMD_NEEDS_API) &&
	    !daemon_api_usable(d, &e)) {
		r = -ENETUNREACH;
	}
	if (r < 0) {
		send_error(c, pr.id, pr.has_id, &e);
		proto_request_fini(&pr);
		return;
	}
	req = calloc(1, sizeof(*req));
	if (!req) {
		errbuf_set(&e, ERR_INTERNAL, -ENOMEM, "out of memory");
		send_error(c, pr.id, pr.has_id, &e);
		proto_request_fini(&pr);
		return;
	}
	req->d = d;
	req->cmd = cmd;
	req->pr = pr;
	if (c) {
		req->conn = conn_ref(c);
		conn_hold(c);
		req->held = true;
	}
	log_debug("connection %llu: %s (id %lld)",
	    c ? (unsigned long long) conn_id(c) : 0ULL, cmd->name,
	    (long long) pr.id);
	in_handler = req;
	cmd->fn(req);
	/* The handler answered (req may be gone), or deferred it. */
	if (in_handler == req && !req->deferred && !req->answered) {
		request_failf(req, ERR_INTERNAL, NULL,
		    "command '%s' did not reply", cmd->name);
	}
	in_handler = NULL;
}

void
commands_fini(struct daemon *d)
{
	while (d->pending) {
		struct request *req = d->pending;

		if (req->pending_records > 0) {
			/* the journal is gone without calling back: a bug
			 * upstream; do not leave a dangling pointer in it */
			req->pending_records = 0;
		}
		if (!req->answered) {
			request_failf(req, ERR_BUSY, NULL,
			    "cwtimed is shutting down");
		} else {
			request_free(req);
		}
	}
}

/* ---- the base commands ---- */

static void
cmd_ping(struct request *req)
{
	json_object *o = json_object_new_object();

	if (!o) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	json_object_object_add(o, "pong", json_object_new_boolean(1));
	json_object_object_add(o, "version", json_object_new_string(CWT_VERSION));
	json_object_object_add(o, "pid", json_object_new_int((int) getpid()));
	request_reply(req, o);
}

static void
cmd_version(struct request *req)
{
	json_object *o = json_object_new_object();

	if (!o) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	json_object_object_add(o, "version", json_object_new_string(CWT_VERSION));
	json_object_object_add(o, "protocol", json_object_new_int(PROTO_VERSION));
	request_reply(req, o);
}

static void
cmd_subscribe(struct request *req)
{
	struct daemon *d = req->d;
	struct conn *c = req->conn;
	CLEANUP_JSON json_object *hello = NULL;
	CLEANUP_FREE char *line = NULL;
	json_object *o;
	size_t len;

	if (!c) {
		request_failf(req, ERR_NOT_SUPPORTED, NULL,
		    "only a connection can subscribe");
		return;
	}
	hello = daemon_hello(d);
	o = json_object_new_object();
	if (!hello || !o ||
	    proto_build_event("hello", daemon_last_seq(d), hello, &line,
		&len) < 0) {
		json_object_put(o);
		request_failf(req, ERR_INTERNAL, NULL,
		    "cannot build the state snapshot");
		return;
	}
	json_object_object_add(o, "subscribed", json_object_new_boolean(1));
	conn_ref(c); /* req is freed by the reply; the conn must not be */
	request_reply(req, o);
	conn_subscribe(c);
	/* The snapshot follows the reply, so a client reads "ok" first and
	 * then a complete picture before any change event. */
	(void) conn_send(c, line, len);
	conn_unref(c);
}

static const struct cmd cmd_base_cmds[] = {
	{ "ping", cmd_ping, 0, NULL },
	{ "subscribe", cmd_subscribe, CMD_STREAMS, NULL },
	{ "version", cmd_version, 0, NULL },
};

const struct cmd_table cmd_base_table = {
	cmd_base_cmds,
	ARRAY_SIZE(cmd_base_cmds),
};
