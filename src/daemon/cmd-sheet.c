/*
 * cmd-sheet.c - ConnectWise time sheets passed through for the user:
 * sheets (list), sheet.show (the sheet, its entries and total hours),
 * sheet.submit, sheet.approve (tier 1 or 2), sheet.reject, sheet.reverse.
 *
 * Invariants: arguments are checked before any request; several ids run
 * with bounded concurrency and answer with a per-id table, or with an
 * error naming every failed id; each request owns one operation and its
 * client, closed when the request ends (no callback after that).
 *
 * The sheet actions go through cwapi_sheet_action(), so they share the
 * client's headers, pacing, codebase lookup and error parsing with every
 * other ConnectWise call. Logs nothing.
 */
#include "daemon/cmd-sheet.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/cleanup.h"
#include "core/conditions.h"
#include "daemon/cmd-entry.h"
#include "daemon/cmd-more.h"
#include "daemon/cmd-ref.h"
#include "daemon/config.h"
#include "daemon/cwapi.h"
#include "daemon/daemon.h"

#define SHEET_CONCURRENCY 4

enum sheet_action {
	SHEET_SUBMIT,
	SHEET_APPROVE,
	SHEET_REJECT,
	SHEET_REVERSE,
	SHEET_LIST,
	SHEET_SHOW,
};

static const char *const action_names[] = {
    "submit", "approve", "reject", "reverse"};

struct sheet_result {
	int64_t id;
	struct errbuf err;
	int64_t tid; /* transport call id while in flight, else 0 */
	void *slot;  /* its callback's userdata while in flight */
};

struct sop {
	int refs;
	struct request *req;
	struct daemon *d;
	enum sheet_action action;
	struct cmdref_client client;
	int64_t tier; /* 0: let ConnectWise pick */
	struct sheet_result *results;
	size_t n, next, in_flight, n_done;
	/* show */
	int64_t id;
	json_object *sheet;
};

struct sslot {
	struct sop *op;
	size_t index;
};

static void
sop_unref(struct sop *op)
{
	if (--op->refs > 0) {
		return;
	}
	cmdref_client_close(&op->client);
	json_object_put(op->sheet);
	free(op->results);
	free(op);
}

static void
on_sop_req_freed(void *data)
{
	struct sop *op = data;

	op->req = NULL;
	/* Freeing the client cancels every call without a callback, so the
	 * slots of the POSTs still out are dropped here, with their refs. */
	cmdref_client_close(&op->client);
	for (size_t i = 0; i < op->n; i++) {
		if (op->results[i].tid > 0) {
			op->results[i].tid = 0;
			free(op->results[i].slot);
			op->results[i].slot = NULL;
			op->refs--; /* the slot's; its callback never runs */
		}
	}
	sop_unref(op);
}

static struct sop *
sop_new(struct request *req, enum sheet_action action)
{
	struct sop *op = calloc(1, sizeof(*op));

	if (!op) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return NULL;
	}
	op->refs = 1;
	op->req = req;
	op->d = request_daemon(req);
	op->action = action;
	request_set_data(req, op, on_sop_req_freed);
	request_defer(req); /* see cmd-entry.c: every answer is async-safe */
	return op;
}

static void
sop_failf(struct sop *op, enum errcode code, const char *msg)
{
	if (op->req) {
		request_failf(op->req, code, NULL, "%s", msg);
	}
}

static bool
sop_open(struct sop *op)
{
	struct errbuf e;

	errbuf_clear(&e);
	if (cmdref_client_open(op->d, &op->client, &e) < 0) {
		request_fail(op->req, &e);
		return false;
	}
	return true;
}

/* ---- sheets ---- */

static void
on_sheets(int r, json_object *items, size_t pages, const struct errbuf *err,
    void *userdata)
{
	struct sop *op = userdata;
	json_object *o;

	if (!op->req) {
		return;
	}
	if (r < 0) {
		request_fail(op->req, err);
		return;
	}
	o = json_object_new_object();
	if (o) {
		json_object_object_add(o, "count",
		    json_object_new_int64(
			(int64_t) json_object_array_length(items)));
	}
	request_reply_list(op->req, o, "sheets", items);
}

static void
cmd_sheets(struct request *req)
{
	struct conditions c;
	struct cwapi_list_query q;
	struct errbuf e;
	json_object *member = request_arg(req, "member");
	const char *status = request_arg_string(req, "status"), *canon = NULL;
	int64_t year = 0, period = 0;
	struct sop *op;
	int r = 0;

	errbuf_clear(&e);
	conditions_init(&c);
	if (member) {
		r = cmdentry_add_member(request_daemon(req), member, &c, &e);
	}
	if (r == 0 && request_arg_int(req, "year", &year)) {
		if (year < 1990 || year > 9999) {
			request_failf(req, ERR_BAD_ARGUMENT, "year",
			    "--year %" PRId64 " is not a year", year);
			return;
		}
		r = conditions_add_int(&c, "year", "=", year, &e);
	}
	if (r == 0 && request_arg_int(req, "period", &period)) {
		if (period < 1 || period > 366) {
			request_failf(req, ERR_BAD_ARGUMENT, "period",
			    "--period must be 1 to 366");
			return;
		}
		r = conditions_add_int(&c, "period", "=", period, &e);
	}
	if (r == 0 && status) {
		r = cmdentry_status_canon(status, "status", &canon, &e);
		if (r == 0) {
			r = conditions_add_string(&c, "status", "=", canon, &e);
		}
	}
	if (r < 0) {
		request_fail(req, &e);
		return;
	}
	op = sop_new(req, SHEET_LIST);
	if (!op || !sop_open(op)) {
		return;
	}
	memset(&q, 0, sizeof(q));
	q.resource = "/time/sheets";
	q.conditions = c.terms > 0 ? conditions_text(&c) : NULL;
	q.page_size = 1000;
	q.page_id = 0;
	if (cmdref_list_all(&op->client, &q, 0, on_sheets, op) < 0) {
		sop_failf(op, ERR_INTERNAL, "cannot start the request");
	}
}

/* ---- sheet.show ---- */

static void
on_show_entries(int r, json_object *items, size_t pages,
    const struct errbuf *err, void *userdata)
{
	struct sop *op = userdata;
	json_object *o;
	double hours = 0;
	size_t n;

	if (!op->req) {
		return;
	}
	if (r < 0) {
		request_fail(op->req, err);
		return;
	}
	n = json_object_array_length(items);
	for (size_t i = 0; i < n; i++) {
		json_object *v;

		if (json_object_object_get_ex(
			json_object_array_get_idx(items, i), "actualHours",
			&v) &&
		    (json_object_is_type(v, json_type_double) ||
			json_object_is_type(v, json_type_int))) {
			hours += json_object_get_double(v);
		}
	}
	o = json_object_new_object();
	if (o) {
		json_object_object_add(o, "sheet", json_object_get(op->sheet));
		json_object_object_add(
		    o, "count", json_object_new_int64((int64_t) n));
		json_object_object_add(o, "hours",
		    json_object_new_double(
			(double) (int64_t) (hours * 100 + 0.5) / 100));
	}
	request_reply_list(op->req, o, "entries", items);
}

static void
on_show_sheet(int r, json_object *items, size_t pages, const struct errbuf *err,
    void *userdata)
{
	struct sop *op = userdata;
	struct cwapi_list_query q;
	struct conditions c;
	struct errbuf e;

	if (!op->req) {
		return;
	}
	if (r < 0) {
		request_fail(op->req, err);
		return;
	}
	if (json_object_array_length(items) != 1) {
		request_failf(op->req, ERR_API_NOT_FOUND, "id",
		    "ConnectWise: TimeSheet %" PRId64 " not found", op->id);
		return;
	}
	op->sheet = json_object_get(json_object_array_get_idx(items, 0));
	conditions_init(&c);
	if (conditions_add_int(&c, "timeSheet/id", "=", op->id, &e) < 0) {
		request_fail(op->req, &e);
		return;
	}
	memset(&q, 0, sizeof(q));
	q.resource = "/time/entries";
	q.conditions = conditions_text(&c);
	q.page_size = 1000;
	q.page_id = 0;
	if (cmdref_list_all(&op->client, &q, 0, on_show_entries, op) < 0) {
		sop_failf(op, ERR_INTERNAL, "cannot start the request");
	}
}

static void
cmd_sheet_show(struct request *req)
{
	struct cwapi_list_query q;
	struct conditions c;
	struct errbuf e;
	struct sop *op;
	int64_t id = 0;

	(void) request_arg_int(req, "id", &id);
	if (id <= 0) {
		request_failf(req, ERR_BAD_ARGUMENT, "id", "not a sheet id");
		return;
	}
	conditions_init(&c);
	(void) conditions_add_int(&c, "id", "=", id, &e);
	op = sop_new(req, SHEET_SHOW);
	if (!op) {
		return;
	}
	op->id = id;
	if (!sop_open(op)) {
		return;
	}
	memset(&q, 0, sizeof(q));
	q.resource = "/time/sheets";
	q.conditions = conditions_text(&c);
	q.page_size = 2;
	q.page_id = -1;
	if (cmdref_list_all(&op->client, &q, 2, on_show_sheet, op) < 0) {
		sop_failf(op, ERR_INTERNAL, "cannot start the request");
	}
}

/* ---- the actions ---- */

static void sheet_pump(struct sop *op);

static void
on_action_done(const struct cwapi_result *res, void *userdata)
{
	struct sslot *s = userdata;
	struct sop *op = s->op;
	struct sheet_result *r = &op->results[s->index];

	free(s);
	r->tid = 0;
	r->slot = NULL;
	op->in_flight--;
	op->n_done++;
	if (res->cls == CLASSIFY_SUCCESS) {
		errbuf_clear(&r->err);
	} else {
		/* cwapi's code and ConnectWise's own words, plus our hint */
		r->err = res->err;
		cmdref_explain(&r->err, res);
	}
	if (op->req) {
		sheet_pump(op);
	}
	sop_unref(op);
}

/* POST /time/sheets/{id}/{action} with body (may be NULL). Returns the
 * cwapi call id, or a negative errno (then no callback). */
static int64_t
sheet_post(struct sop *op, int64_t id, json_object *body, void *userdata)
{
	static const enum cwapi_sheet_action actions[] = {
	    [SHEET_SUBMIT] = CWAPI_SHEET_SUBMIT,
	    [SHEET_APPROVE] = CWAPI_SHEET_APPROVE,
	    [SHEET_REJECT] = CWAPI_SHEET_REJECT,
	    [SHEET_REVERSE] = CWAPI_SHEET_REVERSE,
	};

	return cwapi_sheet_action(op->client.api, id, actions[op->action], body,
	    on_action_done, userdata);
}

static void
sheet_finish(struct sop *op)
{
	struct id_result_view *v = calloc(op->n, sizeof(*v));
	json_object *table = json_object_new_array();

	if (!v || !table) {
		free(v);
		json_object_put(table);
		sop_failf(op, ERR_INTERNAL, "out of memory");
		return;
	}
	for (size_t i = 0; i < op->n; i++) {
		json_object *o = json_object_new_object();
		const struct errbuf *e = &op->results[i].err;

		v[i].id = op->results[i].id;
		v[i].err = e;
		if (!o) {
			continue;
		}
		json_object_object_add(
		    o, "id", json_object_new_int64(op->results[i].id));
		json_object_object_add(
		    o, "ok", json_object_new_boolean(e->code == ERR_OK));
		json_object_object_add(o, "action",
		    json_object_new_string(action_names[op->action]));
		if (e->code != ERR_OK) {
			json_object_object_add(o, "code",
			    json_object_new_string(errcode_name(e->code)));
			json_object_object_add(
			    o, "message", json_object_new_string(e->msg));
		}
		json_object_array_add(table, o);
	}
	op->refs++; /* v points into op->results */
	cmdentry_batch_finish(
	    op->req, action_names[op->action], v, op->n, table);
	free(v);
	sop_unref(op);
}

static void
sheet_pump(struct sop *op)
{
	while (
	    op->req && op->in_flight < SHEET_CONCURRENCY && op->next < op->n) {
		size_t i = op->next++;
		struct sslot *s = calloc(1, sizeof(*s));
		CLEANUP_JSON json_object *body = NULL;
		char type[32];
		int64_t tid = -ENOMEM;

		if (s) {
			s->op = op;
			s->index = i;
			/* a TimeSheetTierUpdate only when a tier was asked */
			if (op->action == SHEET_APPROVE && op->tier > 0) {
				snprintf(type, sizeof(type), "Tier%" PRId64
				    "Update", op->tier);
				body = json_object_new_object();
				if (body) {
					json_object_object_add(body, "id",
					    json_object_new_int64(
						op->results[i].id));
					json_object_object_add(body,
					    "approvalType",
					    json_object_new_string(type));
				}
			}
			if (op->action != SHEET_APPROVE || op->tier <= 0 ||
			    body) {
				tid = sheet_post(
				    op, op->results[i].id, body, s);
			}
		}
		if (tid <= 0) {
			free(s);
			errbuf_set(&op->results[i].err, ERR_INTERNAL, 0,
			    "cannot start the request: %s",
			    strerror((int) -(tid < 0 ? tid : -EIO)));
			op->n_done++;
			continue;
		}
		op->results[i].tid = tid;
		op->results[i].slot = s;
		op->refs++;
		op->in_flight++;
	}
	if (op->req && op->n_done == op->n) {
		sheet_finish(op);
	}
}

static void
on_lookup(const struct cwapi_result *res, void *userdata)
{
	struct sop *op = userdata;

	if (!op->req) {
		return;
	}
	if (res->cls != CLASSIFY_SUCCESS) {
		cmdref_fail_result(op->req, res);
		return;
	}
	sheet_pump(op);
}

static void
run_action(struct request *req, enum sheet_action action, bool several)
{
	CLEANUP_FREE int64_t *ids = NULL;
	struct sop *op;
	int64_t tier = 0, one = 0;
	size_t n = 0;

	if (several) {
		if (cmdentry_parse_ids(req, &ids, &n) < 0) {
			return;
		}
	} else {
		(void) request_arg_int(req, "id", &one);
		if (one <= 0) {
			request_failf(
			    req, ERR_BAD_ARGUMENT, "id", "not a sheet id");
			return;
		}
		n = 1;
	}
	if (request_arg_int(req, "tier", &tier) && tier != 1 && tier != 2) {
		request_failf(
		    req, ERR_BAD_ARGUMENT, "tier", "--tier must be 1 or 2");
		return;
	}
	op = sop_new(req, action);
	if (!op) {
		return;
	}
	op->tier = tier;
	op->results = calloc(n, sizeof(*op->results));
	if (!op->results) {
		sop_failf(op, ERR_INTERNAL, "out of memory");
		return;
	}
	op->n = n;
	for (size_t i = 0; i < n; i++) {
		op->results[i].id = several ? ids[i] : one;
	}
	if (!sop_open(op)) {
		return;
	}
	if (!cwapi_base_url(op->client.api)[0]) {
		/* [api] site: the codebase first (connectwise-api.md 1) */
		if (cwapi_lookup(op->client.api, on_lookup, op) < 0) {
			sop_failf(op, ERR_INTERNAL, "cannot start the request");
		}
		return;
	}
	sheet_pump(op);
}

static void
cmd_sheet_submit(struct request *req)
{
	run_action(req, SHEET_SUBMIT, false);
}

static void
cmd_sheet_reverse(struct request *req)
{
	run_action(req, SHEET_REVERSE, false);
}

static void
cmd_sheet_approve(struct request *req)
{
	run_action(req, SHEET_APPROVE, true);
}

static void
cmd_sheet_reject(struct request *req)
{
	run_action(req, SHEET_REJECT, true);
}

static const struct param_spec sheets_params[] = {
    {"member", PARAM_ANY, 0},
    {"year", PARAM_INT, 0},
    {"period", PARAM_INT, 0},
    {"status", PARAM_STRING, 0},
    {NULL, 0, 0},
};

static const struct param_spec id_params[] = {
    {"id", PARAM_INT, PARAM_REQUIRED},
    {NULL, 0, 0},
};

static const struct param_spec ids_params[] = {
    {"ids", PARAM_ARRAY, PARAM_REQUIRED},
    {NULL, 0, 0},
};

static const struct param_spec approve_params[] = {
    {"ids", PARAM_ARRAY, PARAM_REQUIRED},
    {"tier", PARAM_INT, 0},
    {NULL, 0, 0},
};

static const struct cmd sheet_cmds[] = {
    /* keep sorted by name */
    {"sheet.approve", cmd_sheet_approve, CMD_NEEDS_API, approve_params},
    {"sheet.reject", cmd_sheet_reject, CMD_NEEDS_API, ids_params},
    {"sheet.reverse", cmd_sheet_reverse, CMD_NEEDS_API, id_params},
    {"sheet.show", cmd_sheet_show, CMD_NEEDS_API, id_params},
    {"sheet.submit", cmd_sheet_submit, CMD_NEEDS_API, id_params},
    {"sheets", cmd_sheets, CMD_NEEDS_API, sheets_params},
};

const struct cmd_table cmd_sheet_table = {sheet_cmds, ARRAY_SIZE(sheet_cmds)};
