/*
 * commands.h - the IPC command table and the request/reply API that every
 * command handler uses (STYLE.md 9, DESIGN.md "one direction").
 *
 * ADDING COMMANDS (in your own file, e.g. src/daemon/cmd-timer.c):
 *
 *   static const struct param_spec start_params[] = {
 *           { "target", PARAM_STRING, PARAM_REQUIRED },
 *           { "work_type", PARAM_STRING, 0 },
 *           { "ago_s", PARAM_INT, 0 },
 *           { NULL, 0, 0 },
 *   };
 *   static const struct cmd timer_cmds[] = {   // keep sorted by name
 *           { "start", cmd_start, CMD_MUTATES, start_params },
 *           { "status", cmd_status, 0, NULL },     // NULL: no arguments
 *   };
 *   const struct cmd_table cmd_timer_table = {
 *           timer_cmds, ARRAY_SIZE(timer_cmds) };
 *
 * then declare `extern const struct cmd_table cmd_timer_table;` below (one
 * line, in the block "tables of other files") and add `&cmd_timer_table,`
 * to `tables[]` in commands.c. commands_init() merges all tables into one
 * array sorted by name (lookup is bsearch) and refuses duplicates.
 *
 * Before a handler runs, commands.c has checked: the protocol framing, the
 * command name, that every required parameter is present, that every
 * present parameter has its declared JSON type (strings also contain no
 * NUL byte), and that no undeclared parameter was sent (bad-argument,
 * "field" names it). Flags are enforced first: CMD_MUTATES fails with
 * storage-failed once the journal has failed (and not-supported while no
 * journal is open); CMD_NEEDS_API fails with api-not-configured /
 * api-unreachable per daemon_api_usable().
 *
 * A HANDLER must finish its request exactly once, in one of three ways:
 *
 *  1. read-only: build the result and call request_reply(req, result)
 *     (or request_fail / request_failf) before returning;
 *
 *  2. mutating (journal first, then state, then reply): validate
 *     everything, then request_journal() one or more records, then
 *     request_commit(req, on_committed). Do NOT change state yourself:
 *     the journal applies each record through state_apply() after
 *     fdatasync. on_committed(req) runs after every record of the request
 *     is durable AND applied; it builds the reply from the new state and
 *     calls request_reply(). If the commit fails, commands.c replies with
 *     the journal's error (disk-full, disk-error, storage-failed) and
 *     on_committed is never called. If request_journal() fails, call
 *     request_fail(req, &err) with the errbuf it filled. Append the records
 *     of one change in one go (no waiting in between) so they share a
 *     batch; if a second append fails after a first succeeded, the first
 *     still commits - validate before appending;
 *
 *  3. asynchronous (e.g. a ConnectWise call): call request_defer(req), keep
 *     the pointer, return, and later call request_reply / request_fail
 *     from your callback. At shutdown, whoever holds deferred requests
 *     must fail them before commands_fini() runs.
 *
 * After request_reply / request_fail the request is gone: do not touch it.
 * A reply for a client that disconnected meanwhile is dropped safely (the
 * request holds a reference on the connection). If a handler returns
 * without doing any of the three, commands.c replies "internal".
 *
 * While a request is in flight, its connection's further lines wait, so
 * replies leave in request order.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "common/errcode.h"

struct conn;
struct daemon;
struct request;

enum param_type {
	PARAM_STRING = 1, /* JSON string without NUL bytes */
	PARAM_INT,        /* JSON integer (int64) */
	PARAM_BOOL,       /* true / false */
	PARAM_OBJECT,
	PARAM_ARRAY,
	PARAM_NUMBER,     /* integer or double */
	PARAM_ANY,        /* any JSON value except null */
};

enum {
	PARAM_REQUIRED = 1 << 0,
};

struct param_spec {
	const char *name;
	enum param_type type;
	unsigned flags;
};

enum {
	CMD_MUTATES = 1 << 0,   /* appends journal records before replying */
	CMD_STREAMS = 1 << 1,   /* may turn the connection into an event stream */
	CMD_NEEDS_API = 1 << 2, /* refused at once while ConnectWise is unusable */
};

typedef void cmd_fn(struct request *req);

struct cmd {
	const char *name;
	cmd_fn *fn;
	unsigned flags;
	const struct param_spec *params; /* NULL-name terminated; NULL = none */
};

struct cmd_table {
	const struct cmd *cmds;
	size_t n;
};

/* Runs after the request's journal records are durable and applied. */
typedef void request_commit_fn(struct request *req);

/* ---- tables ---- */
extern const struct cmd_table cmd_base_table; /* ping, subscribe, version */
/* tables of other files: add one extern line each here. */
extern const struct cmd_table cmd_timer_table; /* cmd-timer.c */
extern const struct cmd_table cmd_queue_table; /* cmd-queue.c */
extern const struct cmd_table cmd_entry_table; /* cmd-entry.c */
extern const struct cmd_table cmd_sheet_table; /* cmd-sheet.c */
extern const struct cmd_table cmd_ref_table; /* cmd-ref.c */
extern const struct cmd_table cmd_more_table; /* cmd-more.c */

/* Adds a table at run time, before commands_init() (tests register
 * their own commands this way; the daemon's tables are listed in
 * commands.c). Returns 0, -EBUSY after init, -ENOSPC when full. */
int commands_register(const struct cmd_table *t);

/* Merges and sorts the tables; checks names, duplicates and parameter
 * specs. Returns 0, or -EINVAL with the offending name in *reterr (a
 * programming error). Idempotent. Does not log. */
int commands_init(struct errbuf *reterr);

/* The command called name, or NULL. */
const struct cmd *commands_find(const char *name);

/* Number of commands and the i-th in name order (for tests and help). */
size_t commands_count(void);
const struct cmd *commands_at(size_t i);

/* Checks args against a param spec (what dispatch does before a
 * handler). Returns 0 or -EINVAL with ERR_BAD_ARGUMENT and the field in
 * *reterr. Pure; exposed for the unit test. */
int commands_check_params(const struct param_spec *params, json_object *args,
    struct errbuf *reterr);

/* The ipc on_line callback: parses one line, dispatches it, and replies
 * (errors included). userdata is the struct daemon. Logs only at debug
 * level. */
void commands_on_line(void *userdata, struct conn *c, const char *line,
    size_t len);

/* Fails every request still deferred (shutdown; replies to closed
 * connections are dropped) and frees them. */
void commands_fini(struct daemon *d);

/* ---- the request API for handlers ---- */

struct daemon *request_daemon(const struct request *req);
/* The connection; NULL for a request the daemon made itself. It may be
 * closing: replies to it are dropped. */
struct conn *request_conn(const struct request *req);
const struct cmd *request_cmd(const struct request *req);
int64_t request_id(const struct request *req);

/* The "args" object (never NULL; borrowed, lives as long as req). */
json_object *request_args(const struct request *req);
/* One argument, borrowed, or NULL when absent. */
json_object *request_arg(const struct request *req, const char *name);
/* Typed getters; the type was checked before the handler ran. */
const char *request_arg_string(const struct request *req, const char *name);
bool request_arg_int(const struct request *req, const char *name,
    int64_t *ret);
bool request_arg_bool(const struct request *req, const char *name,
    bool default_value);

/* Replies {"ok":true,"result":result} (result is stolen; NULL gives {})
 * and frees the request. */
void request_reply(struct request *req, json_object *result);
/* Replies with the error in e (code, message, field) and frees req. */
void request_fail(struct request *req, const struct errbuf *e);
/* Same with a formatted message ("" = the code's default); field may be
 * NULL. */
void request_failf(struct request *req, enum errcode code, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Appends one journal record (payload borrowed; serialised at once) for
 * this request. reserve_space: refuse with disk-full below the free-space
 * floor (new timers, RELIABILITY.md 2.9). Returns 0 or a negative errno
 * with the reason in *reterr; nothing is applied yet. */
int request_journal(struct request *req, uint16_t type, json_object *payload,
    bool reserve_space, struct errbuf *reterr);
/* Ends the handler's part of a mutation: fn runs when every record
 * appended with request_journal() is committed and applied (at once when
 * nothing was appended). fn must answer, or call request_defer() to
 * answer later (e.g. after a ConnectWise call). */
void request_commit(struct request *req, request_commit_fn *fn);
/* Keeps the request alive past the handler's return (async work). */
void request_defer(struct request *req);

/* Handler-private data that lives as long as the request (free_fn is
 * called when it is freed; may be NULL). */
void request_set_data(struct request *req, void *data, void (*free_fn)(void *));
void *request_data(const struct request *req);
