/*
 * cmd-entry.c - ConnectWise time entries passed through for the user:
 * entries (search), entry.show, entry.edit, entry.delete, approve, reject.
 *
 * Job: validate every argument before any request; build the conditions
 * with core/conditions.c (values can never change a query's meaning);
 * resolve work type, role and charge code names through cmd-ref.c; follow
 * paging to the end or the limit; edit with a JSON Patch of bare field
 * paths that keeps timeStart, timeEnd, hoursDeduct and actualHours
 * consistent; refuse to delete a billed entry before asking the server;
 * run several ids with bounded concurrency and report each.
 *
 * Invariants: nothing here is journaled or queued (interactive calls fail
 * fast, connectwise-api.md 12); each request owns one operation, which
 * owns its ConnectWise client; when the request ends (reply, or failed at
 * shutdown) the operation's client is closed, so no callback runs for a
 * freed request; ConnectWise's own message and field reach the user
 * unchanged, with the reference document's explanation appended.
 * Logs nothing: every outcome is a reply.
 */
#define _GNU_SOURCE 1
#include "daemon/cmd-entry.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>

#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "common/timeparse.h"
#include "core/conditions.h"
#include "core/refdata.h"
#include "core/target.h"
#include "daemon/cmd-more.h"
#include "daemon/cmd-ref.h"
#include "daemon/config.h"
#include "daemon/cwapi.h"
#include "daemon/daemon.h"

/* Requests in flight at once for approve/reject (connectwise-api.md 10:
 * keep parallelism low). */
#define ENTRY_CONCURRENCY 4
/* Ids accepted by one approve/reject. */
#define ENTRY_MAX_IDS 200

static const char *const entry_statuses[] = {
    "Open",
    "Rejected",
    "PendingApproval",
    "ErrorsCorrected",
    "PendingProjectApproval",
    "ApprovedByTierOne",
    "RejectBySecondTier",
    "ApprovedByTierTwo",
    "ReadyToBill",
    "Billed",
    "WrittenOff",
    "BilledAgreement",
};

static const char *const billing_options[] = {
    "Billable", "DoNotBill", "NoCharge", "NoDefault"};

/* Nearest integer (half away from zero); no libm is linked. */
static int64_t
round_i64(double x)
{
	return x < 0 ? -(int64_t) (-x + 0.5) : (int64_t) (x + 0.5);
}

/* x rounded to 1/scale. */
static double
round_to(double x, double scale)
{
	return (double) round_i64(x * scale) / scale;
}

/* ---- validation helpers (shared with cmd-sheet.c) ---- */

int
cmdentry_status_canon(
    const char *s, const char *field, const char **ret, struct errbuf *reterr)
{
	for (size_t i = 0; i < ARRAY_SIZE(entry_statuses); i++) {
		if (strcasecmp(s, entry_statuses[i]) == 0) {
			*ret = entry_statuses[i];
			return 0;
		}
	}
	if (strcasecmp(s, "Approved") == 0 || strcasecmp(s, "Submitted") == 0) {
		/* The user's reference document uses simplified names. */
		errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
		    "invalid status '%s': ConnectWise calls it %s", s,
		    strcasecmp(s, "Approved") == 0
			? "ApprovedByTierOne or ApprovedByTierTwo"
			: "PendingApproval");
	} else {
		errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
		    "invalid status '%s': use Open, Rejected, PendingApproval, "
		    "ErrorsCorrected, PendingProjectApproval, "
		    "ApprovedByTierOne, RejectBySecondTier, ApprovedByTierTwo, "
		    "ReadyToBill, Billed, WrittenOff or BilledAgreement",
		    s);
	}
	errbuf_set_field(reterr, field);
	return -EINVAL;
}

static int
billing_canon(const char *s, const char **ret, struct errbuf *reterr)
{
	for (size_t i = 0; i < ARRAY_SIZE(billing_options); i++) {
		if (strcasecmp(s, billing_options[i]) == 0) {
			*ret = billing_options[i];
			return 0;
		}
	}
	errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
	    "invalid billing option '%s': use Billable, DoNotBill, NoCharge "
	    "or NoDefault",
	    s);
	errbuf_set_field(reterr, "billing");
	return -EINVAL;
}

int
cmdentry_add_member(struct daemon *d, json_object *member, struct conditions *c,
    struct errbuf *reterr)
{
	const struct config_api *api = &d->config.api;

	if (json_object_is_type(member, json_type_int)) {
		if (json_object_get_int64(member) <= 0) {
			errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
			    "member: not a member id");
			errbuf_set_field(reterr, "member");
			return -EINVAL;
		}
		return conditions_add_int(
		    c, "member/id", "=", json_object_get_int64(member), reterr);
	}
	if (!json_object_is_type(member, json_type_string) ||
	    strcmp(json_object_get_string(member), "me") != 0) {
		errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
		    "member: give a member id or 'me'");
		errbuf_set_field(reterr, "member");
		return -EINVAL;
	}
	if (api->member_id > 0) {
		return conditions_add_int(
		    c, "member/id", "=", api->member_id, reterr);
	}
	if (!api->member || !api->member[0]) {
		errbuf_set(reterr, ERR_CONFIG, -EINVAL,
		    "missing member: 'me' needs [api] member (your member "
		    "identifier) in cwtimed.conf");
		errbuf_set_field(reterr, "member");
		return -EINVAL;
	}
	return conditions_add_string(
	    c, "member/identifier", "=", api->member, reterr);
}

/* Local midnight of the day holding t, plus days (may be negative). */
static int64_t
local_midnight(int64_t t, int days)
{
	time_t tt = (time_t) t;
	struct tm tm;

	if (!localtime_r(&tt, &tm)) {
		return t;
	}
	tm.tm_mday += days;
	tm.tm_hour = 0;
	tm.tm_min = 0;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return (int64_t) mktime(&tm);
}

/* ---- the operation of one request ---- */

enum op_kind {
	OP_SEARCH,
	OP_SHOW,
	OP_EDIT,
	OP_DELETE,
	OP_APPROVE,
	OP_REJECT,
};

struct op;
typedef void op_step_fn(struct op *op);

struct id_result {
	int64_t id;
	bool done;
	struct errbuf err; /* code ERR_OK: success */
	char status[32];
};

struct op {
	int refs;
	struct request *req; /* NULL once the request is gone */
	struct daemon *d;
	enum op_kind kind;
	struct cmdref_client client;
	int pending;	  /* name resolutions in flight */
	op_step_fn *next; /* runs when they are done */
	bool failed;

	/* search */
	struct conditions conds;
	char *order_by;
	int64_t limit;
	int64_t work_type_id;
	int64_t code_id;
	char *target;
	const char *target_type_name; /* chargeToType of the target */
	int64_t target_id;
	char target_ident[TARGET_IDENT_MAX];

	/* edit */
	int64_t id;
	int64_t role_id;

	/* approve / reject */
	struct id_result *results;
	size_t n_ids, next_id, in_flight, n_done;
	char *reason;
};

struct slot {
	struct op *op;
	int64_t *dest;
	size_t index;
};

static void
op_unref(struct op *op)
{
	if (--op->refs > 0) {
		return;
	}
	cmdref_client_close(&op->client);
	free(op->order_by);
	free(op->target);
	free(op->results);
	free(op->reason);
	free(op);
}

/* The request ends (our reply, or shutdown): stop every call. */
static void
on_req_freed(void *data)
{
	struct op *op = data;

	op->req = NULL;
	cmdref_client_close(&op->client);
	op_unref(op);
}

static struct op *
op_new(struct request *req, enum op_kind kind)
{
	struct op *op = calloc(1, sizeof(*op));

	if (!op) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return NULL;
	}
	op->refs = 1; /* the request's */
	op->req = req;
	op->d = request_daemon(req);
	op->kind = kind;
	conditions_init(&op->conds);
	request_set_data(req, op, on_req_freed);
	/* Deferred from the start: any later answer, synchronous or from a
	 * callback, is then the same path. After a call that may answer,
	 * the handler touches op no more (the answer may free it). */
	request_defer(req);
	return op;
}

/* Fails the request (and with it, frees op unless a slot holds it). */
static void
op_fail(struct op *op, const struct errbuf *e)
{
	struct request *req = op->req;

	op->failed = true;
	if (req) {
		request_fail(req, e);
	}
}

static void
op_failf(struct op *op, enum errcode code, const char *field, const char *msg)
{
	struct errbuf e;

	errbuf_set(&e, code, 0, "%s", msg);
	if (field) {
		errbuf_set_field(&e, field);
	}
	op_fail(op, &e);
}

static void
op_reply(struct op *op, json_object *result)
{
	if (op->req) {
		request_reply(op->req, result);
	} else {
		json_object_put(result);
	}
}

static bool
op_open_client(struct op *op)
{
	struct errbuf e;

	errbuf_clear(&e);
	if (cmdref_client_open(op->d, &op->client, &e) < 0) {
		op_fail(op, &e);
		return false;
	}
	return true;
}

static void
on_resolved(int r, int64_t id, const struct errbuf *err, void *userdata)
{
	struct slot *s = userdata;
	struct op *op = s->op;

	*s->dest = id;
	free(s);
	op->pending--;
	if (op->req && !op->failed) {
		if (r < 0) {
			op_fail(op, err);
		} else if (op->pending == 0) {
			op->next(op);
		}
	}
	op_unref(op);
}

/* Resolves name into *dest now or later; false when the request failed. */
static bool
op_resolve(struct op *op, enum refdata_kind kind, const char *name,
    const char *field, int64_t *dest)
{
	struct errbuf e;
	struct slot *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s) {
		op_failf(op, ERR_INTERNAL, NULL, "out of memory");
		return false;
	}
	s->op = op;
	s->dest = dest;
	errbuf_clear(&e);
	r = cmdref_resolve(op->d, kind, name, field, dest, on_resolved, s, &e);
	if (r == -EINPROGRESS) {
		op->refs++;
		op->pending++;
		return true;
	}
	free(s);
	if (r < 0) {
		if (e.code == ERR_OK) {
			errbuf_set(&e, ERR_INTERNAL, r,
			    "cannot resolve '%s': %s", name, strerror(-r));
		}
		op_fail(op, &e);
		return false;
	}
	return true;
}

/* Runs next now when nothing waits, else when the last name resolves.
 * op may be gone afterwards. */
static void
op_then(struct op *op, op_step_fn *next)
{
	op->next = next;
	if (op->pending == 0) {
		next(op);
	}
}

/* ---- entries (search) ---- */

static json_object *
search_result(struct op *op, json_object *items, size_t pages)
{
	json_object *o = json_object_new_object();
	double hours = 0, billable = 0;
	size_t n = json_object_array_length(items);

	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(items, i);
		json_object *v;
		double h = 0;

		if (json_object_object_get_ex(e, "actualHours", &v) &&
		    (json_object_is_type(v, json_type_double) ||
			json_object_is_type(v, json_type_int))) {
			h = json_object_get_double(v);
		}
		hours += h;
		if (json_object_object_get_ex(e, "billableOption", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    strcmp(json_object_get_string(v), "Billable") == 0) {
			billable += h;
		}
	}
	if (!o) {
		return NULL;
	}
	json_object_object_add(o, "conditions",
	    json_object_new_string(conditions_text(&op->conds)));
	json_object_object_add(o, "count", json_object_new_int64((int64_t) n));
	/* two decimals, as ConnectWise shows hours */
	json_object_object_add(
	    o, "hours", json_object_new_double(round_to(hours, 100)));
	json_object_object_add(o, "billable_hours",
	    json_object_new_double(round_to(billable, 100)));
	json_object_object_add(
	    o, "pages", json_object_new_int64((int64_t) pages));
	return o;
}

static void
on_search_done(int r, json_object *items, size_t pages,
    const struct errbuf *err, void *userdata)
{
	struct op *op = userdata;

	if (r < 0) {
		op_fail(op, err);
		return;
	}
	/* The totals cover every match; the records go in line-sized parts
	 * (cmd-more.h). */
	if (op->req) {
		request_reply_list(op->req, search_result(op, items, pages),
		    "entries", items);
	}
}

static void
search_run(struct op *op)
{
	struct cwapi_list_query q;
	struct errbuf e;
	int r = 0;

	errbuf_clear(&e);
	/* The target first, as in the contract's examples. */
	if (op->target_type_name) {
		r = conditions_add_string(
		    &op->conds, "chargeToType", "=", op->target_type_name, &e);
		if (r == 0) {
			r = conditions_add_int(&op->conds, "chargeToId", "=",
			    op->target_id > 0 ? op->target_id : op->code_id,
			    &e);
		}
	} else if (op->target_ident[0]) {
		r = conditions_add_string(&op->conds, "company/identifier", "=",
		    op->target_ident, &e);
	} else if (op->target_id > 0) { /* company:ID */
		r = conditions_add_int(
		    &op->conds, "company/id", "=", op->target_id, &e);
	}
	if (r == 0 && op->work_type_id > 0) {
		r = conditions_add_int(
		    &op->conds, "workType/id", "=", op->work_type_id, &e);
	}
	if (r < 0) {
		op_fail(op, &e);
		return;
	}
	if (!op_open_client(op)) {
		return;
	}
	memset(&q, 0, sizeof(q));
	q.resource = "/time/entries";
	q.conditions = op->conds.terms > 0 ? conditions_text(&op->conds) : NULL;
	q.page_size = op->limit > 0 && op->limit < 1000 ? op->limit : 1000;
	if (op->order_by) {
		/* orderBy needs navigable paging (6) */
		q.order_by = op->order_by;
		q.page = 1;
		q.page_id = -1;
	} else {
		q.page_id = 0;
	}
	r = cmdref_list_all(
	    &op->client, &q, (size_t) op->limit, on_search_done, op);
	if (r < 0) {
		op_failf(op, ERR_INTERNAL, NULL, "cannot start the search");
	}
}

/* "field [asc|desc]" items separated by commas. */
static bool
order_by_valid(const char *s)
{
	CLEANUP_FREE char *copy = strdup(s);
	char *save = NULL, *item;

	if (!copy || !*s || strlen(s) > 200) {
		return false;
	}
	for (item = strtok_r(copy, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		char field[128], dir[8];
		int n = 0, k;

		k = sscanf(
		    item, " %127[A-Za-z0-9_/] %7[a-zA-Z] %n", field, dir, &n);
		if (k == 2 && n == (int) strlen(item) &&
		    (strcasecmp(dir, "asc") == 0 ||
			strcasecmp(dir, "desc") == 0) &&
		    conditions_field_valid(field)) {
			continue;
		}
		n = 0;
		k = sscanf(item, " %127[A-Za-z0-9_/] %n", field, &n);
		if (k == 1 && n == (int) strlen(item) &&
		    conditions_field_valid(field)) {
			continue;
		}
		return false;
	}
	return true;
}

static int
search_target(struct op *op, const char *s, struct errbuf *e)
{
	struct target t;
	int r;

	if (strncmp(s, "code:", 5) == 0 &&
	    strspn(s + 5, "0123456789") != strlen(s + 5)) {
		/* code:NAME: resolved through the charge code list */
		op->target_type_name = "ChargeCode";
		if (!op_resolve(op, REFDATA_CHARGE_CODE, s + 5, "target",
			&op->code_id)) {
			return -EINVAL;
		}
		return 0;
	}
	r = target_parse(s, &t, e);
	if (r < 0) {
		errbuf_set_field(e, "target");
		op_fail(op, e);
		return r;
	}
	if (t.type == TARGET_COMPANY) {
		op->target_id = t.id;
		snprintf(
		    op->target_ident, sizeof(op->target_ident), "%s", t.ident);
		return 0;
	}
	op->target_type_name = target_charge_type_name(t.type);
	op->target_id = t.id;
	return 0;
}

static void
cmd_entries(struct request *req)
{
	struct daemon *d = request_daemon(req);
	struct op *op;
	struct errbuf e;
	const char *s, *canon;
	json_object *member = request_arg(req, "member");
	int64_t since = 0, until = 0, company = 0, limit = 0, now;
	bool has_since, has_until;
	bool mine = request_arg_bool(req, "mine", false);
	bool today = request_arg_bool(req, "today", false);
	bool week = request_arg_bool(req, "this_week", false);
	bool unbilled = request_arg_bool(req, "unbilled", false);
	bool awaiting = request_arg_bool(req, "awaiting_billing", false);
	int r = 0;

	errbuf_clear(&e);
	has_since = request_arg_int(req, "since", &since);
	has_until = request_arg_int(req, "until", &until);
	/* Checks that need nothing but the arguments come first. */
	if (mine && member) {
		request_failf(req, ERR_USAGE, "mine",
		    "--mine and --member cannot be combined");
		return;
	}
	if ((today || week) && (has_since || has_until)) {
		request_failf(req, ERR_USAGE, today ? "today" : "this_week",
		    "--%s cannot be combined with --since or --until",
		    today ? "today" : "this-week");
		return;
	}
	if (today && week) {
		request_failf(req, ERR_USAGE, "today",
		    "--today and --this-week cannot be combined");
		return;
	}
	if (unbilled && awaiting) {
		request_failf(req, ERR_USAGE, "unbilled",
		    "--unbilled and --awaiting-billing cannot be combined");
		return;
	}
	if ((unbilled || awaiting) && request_arg(req, "status")) {
		request_failf(req, ERR_USAGE, "status",
		    "--status cannot be combined with --%s",
		    unbilled ? "unbilled" : "awaiting-billing");
		return;
	}
	if ((unbilled || awaiting) && request_arg(req, "billing")) {
		request_failf(req, ERR_USAGE, "billing",
		    "--billing cannot be combined with --%s",
		    unbilled ? "unbilled" : "awaiting-billing");
		return;
	}
	if (has_since && has_until && until <= since) {
		request_failf(req, ERR_BAD_TIME, "until",
		    "--until must be after --since");
		return;
	}
	if (request_arg_int(req, "limit", &limit) && limit <= 0) {
		request_failf(req, ERR_BAD_ARGUMENT, "limit",
		    "--limit must be at least 1");
		return;
	}
	if (request_arg_int(req, "company", &company) && company <= 0) {
		request_failf(req, ERR_BAD_ARGUMENT, "company",
		    "company: not a company id");
		return;
	}
	s = request_arg_string(req, "order_by");
	if (s && !order_by_valid(s)) {
		request_failf(req, ERR_BAD_FILTER, "order_by",
		    "invalid --order-by '%s': use FIELD [asc|desc][, ...]", s);
		return;
	}
	s = request_arg_string(req, "conditions");
	if (s && conditions_check_raw(s, &e) < 0) {
		errbuf_set_field(&e, "conditions");
		request_fail(req, &e);
		return;
	}

	op = op_new(req, OP_SEARCH);
	if (!op) {
		return;
	}
	op->limit = limit;
	s = request_arg_string(req, "order_by");
	if (s) {
		op->order_by = strdup(s);
		if (!op->order_by) {
			op_failf(op, ERR_INTERNAL, NULL, "out of memory");
			return;
		}
	}
	/* The order of the terms is fixed, so the same command line always
	 * gives the same query (the tests compare it byte for byte). */
	if (member || mine) {
		json_object *me = NULL;

		if (!member) {
			me = json_object_new_string("me");
		}
		r = cmdentry_add_member(
		    d, member ? member : me, &op->conds, &e);
		json_object_put(me);
	}
	if (r == 0 && company > 0) {
		r = conditions_add_int(
		    &op->conds, "company/id", "=", company, &e);
	}
	now = (int64_t) time(NULL);
	if (today) {
		has_since = has_until = true;
		since = local_midnight(now, 0);
		until = local_midnight(now, 1);
	} else if (week) {
		time_t tt = (time_t) now;
		struct tm tm;
		int back = 0;

		if (localtime_r(&tt, &tm)) {
			back = (tm.tm_wday + 6) % 7; /* days since Monday */
		}
		has_since = has_until = true;
		since = local_midnight(now, -back);
		until = local_midnight(now, 7 - back);
	}
	if (r == 0 && has_since) {
		r = conditions_add_date(
		    &op->conds, "timeStart", ">=", since, &e);
	}
	if (r == 0 && has_until) {
		r = conditions_add_date(
		    &op->conds, "timeStart", "<", until, &e);
	}
	s = request_arg_string(req, "status");
	if (r == 0 && s) {
		r = cmdentry_status_canon(s, "status", &canon, &e);
		if (r == 0) {
			r = conditions_add_string(
			    &op->conds, "status", "=", canon, &e);
		}
	}
	s = request_arg_string(req, "billing");
	if (r == 0 && s) {
		r = billing_canon(s, &canon, &e);
		if (r == 0) {
			r = conditions_add_string(
			    &op->conds, "billableOption", "=", canon, &e);
		}
	}
	if (r == 0 && unbilled) {
		r = conditions_add_shortcut(
		    &op->conds, CONDITIONS_UNBILLED, &e);
	}
	if (r == 0 && awaiting) {
		r = conditions_add_shortcut(
		    &op->conds, CONDITIONS_AWAITING_BILLING, &e);
	}
	s = request_arg_string(req, "conditions");
	if (r == 0 && s) {
		r = conditions_add_group(&op->conds, s, &e);
	}
	if (r < 0) {
		op_fail(op, &e);
		return;
	}
	/* Names last: they may need a fetch, after which search_run adds
	 * the target and the work type. */
	s = request_arg_string(req, "target");
	if (s && search_target(op, s, &e) < 0) {
		return; /* failed (op may be gone) */
	}
	s = request_arg_string(req, "work_type");
	if (s &&
	    !op_resolve(
		op, REFDATA_WORK_TYPE, s, "work_type", &op->work_type_id)) {
		return;
	}
	op_then(op, search_run);
}

/* ---- entry.show ---- */

static void
on_show(const struct cwapi_result *res, void *userdata)
{
	struct op *op = userdata;

	if (res->cls != CLASSIFY_SUCCESS) {
		if (op->req) {
			cmdref_fail_result(op->req, res);
		}
		return;
	}
	if (!res->json || !json_object_is_type(res->json, json_type_object)) {
		op_failf(op, ERR_API_ERROR, NULL,
		    "ConnectWise: the reply is not a time entry");
		return;
	}
	op_reply(op, json_object_get(res->json));
}

static void
cmd_entry_show(struct request *req)
{
	struct op *op;
	int64_t id = 0;

	(void) request_arg_int(req, "id", &id);
	if (id <= 0) {
		request_failf(req, ERR_BAD_ARGUMENT, "id", "not an entry id");
		return;
	}
	op = op_new(req, OP_SHOW);
	if (!op || !op_open_client(op)) {
		return;
	}
	if (cwapi_get_entry(op->client.api, id, NULL, on_show, op) < 0) {
		op_failf(op, ERR_INTERNAL, NULL, "cannot start the request");
	}
}

/* ---- entry.edit ---- */

static bool
entry_is_billed(json_object *entry, const char **ret_status)
{
	const char *s;

	if (!jsonutil_get_str(entry, "status", &s)) {
		return false;
	}
	*ret_status = s;
	return strcmp(s, "Billed") == 0 || strcmp(s, "BilledAgreement") == 0;
}

static bool
get_time(json_object *entry, const char *key, int64_t *ret)
{
	const char *s;

	return jsonutil_get_str(entry, key, &s) &&
	    timeparse_parse_iso(s, ret, NULL) == 0;
}

static double
get_hours(json_object *entry, const char *key)
{
	double h = 0; /* absent or not a number: none */

	(void) jsonutil_get_num(entry, key, &h);
	return h;
}

static int
patch_add(json_object *ops, const char *path, json_object *value)
{
	json_object *o = json_object_new_object();

	if (!o || !value) {
		json_object_put(o);
		json_object_put(value);
		return -ENOMEM;
	}
	json_object_object_add(o, "op", json_object_new_string("replace"));
	json_object_object_add(o, "path", json_object_new_string(path));
	json_object_object_add(o, "value", value);
	json_object_array_add(ops, o);
	return 0;
}

static json_object *
time_value(int64_t t)
{
	char buf[TIMEPARSE_UTC_LEN];

	return json_object_new_string(timeparse_format_utc(t, buf));
}

static json_object *
ref_value(int64_t id)
{
	json_object *o = json_object_new_object();

	if (o) {
		json_object_object_add(o, "id", json_object_new_int64(id));
	}
	return o;
}

/* Hours rounded to 1/100 s precision for the wire (0.01 h tolerance). */
static json_object *
hours_value(double h)
{
	return json_object_new_double(round_to(h, 1e6));
}

/*
 * Builds the PATCH from the arguments and the current entry. Times: the
 * new start, end and deduction default to the entry's; --hours moves the
 * end: end = start + (hours + deduct) h. Whenever one of them changes,
 * timeEnd and actualHours are both sent, so the three agree (13).
 */
static int
edit_ops(struct op *op, json_object *entry, json_object **ret, struct errbuf *e)
{
	struct request *req = op->req;
	CLEANUP_JSON json_object *ops = json_object_new_array();
	const char *s;
	int64_t start = 0, end = 0, new_start, new_end;
	double deduct = get_hours(entry, "hoursDeduct"), hours = 0;
	bool has_start, has_end, has_hours, has_deduct;
	json_object *v;
	int r = 0;

	if (!ops) {
		return -ENOMEM;
	}
	s = request_arg_string(req, "notes");
	if (s) {
		r = patch_add(ops, "notes", json_object_new_string(s));
	}
	s = request_arg_string(req, "internal_notes");
	if (r == 0 && s) {
		r = patch_add(ops, "internalNotes", json_object_new_string(s));
	}
	has_start = request_arg_int(req, "start", &new_start);
	has_end = request_arg_int(req, "end", &new_end);
	v = request_arg(req, "hours");
	has_hours = v != NULL;
	if (v) {
		hours = json_object_get_double(v);
	}
	v = request_arg(req, "deduct");
	has_deduct = v != NULL;
	if (v) {
		deduct = json_object_get_double(v);
	}
	if (r == 0 && (has_start || has_end || has_hours || has_deduct)) {
		if (!get_time(entry, "timeStart", &start)) {
			return errbuf_set(e, ERR_API_ERROR, -EBADMSG,
			    "ConnectWise: entry %" PRId64 " has no readable "
			    "timeStart",
			    op->id);
		}
		if (!get_time(entry, "timeEnd", &end)) {
			/* derive it the way ConnectWise does */
			end = start +
			    round_i64(
				(get_hours(entry, "actualHours") + deduct) *
				3600);
		}
		int64_t length = end - start;

		if (has_start) {
			start = new_start;
		}
		if (has_end) {
			end = new_end;
		} else if (has_hours) {
			end = start + round_i64((hours + deduct) * 3600);
		} else if (has_start) {
			/* a new start alone keeps the length: move the end */
			end = start + length;
		}
		if (end <= start) {
			errbuf_set(e, ERR_BAD_TIME, -EINVAL,
			    "the end (%" PRId64 ") must be after the start",
			    end);
			errbuf_set_field(e, has_end ? "end" : "start");
			return -EINVAL;
		}
		hours = (double) (end - start) / 3600.0 - deduct;
		if (hours <= 0) {
			errbuf_set(e, ERR_BAD_ARGUMENT, -EINVAL,
			    "--deduct %.2f leaves no hours worked", deduct);
			errbuf_set_field(e, "deduct");
			return -EINVAL;
		}
		if (has_start) {
			r = patch_add(ops, "timeStart", time_value(start));
		}
		if (r == 0) {
			r = patch_add(ops, "timeEnd", time_value(end));
		}
		if (r == 0 && has_deduct) {
			r = patch_add(ops, "hoursDeduct", hours_value(deduct));
		}
		if (r == 0) {
			r = patch_add(ops, "actualHours", hours_value(hours));
		}
	}
	if (r == 0 && op->work_type_id > 0) {
		r = patch_add(ops, "workType", ref_value(op->work_type_id));
	}
	if (r == 0 && op->role_id > 0) {
		r = patch_add(ops, "workRole", ref_value(op->role_id));
	}
	s = request_arg_string(req, "billing");
	if (r == 0 && s) {
		const char *canon = NULL;

		r = billing_canon(s, &canon, e);
		if (r == 0) {
			r = patch_add(ops, "billableOption",
			    json_object_new_string(canon));
		}
	}
	if (r < 0) {
		return r;
	}
	*ret = TAKE_PTR(ops);
	return 0;
}

static void
on_edit_patched(const struct cwapi_result *res, void *userdata)
{
	on_show(res, userdata);
}

static void
on_edit_got(const struct cwapi_result *res, void *userdata)
{
	struct op *op = userdata;
	CLEANUP_JSON json_object *ops = NULL;
	const char *status = "";
	struct errbuf e;

	if (!op->req) {
		return;
	}
	if (res->cls != CLASSIFY_SUCCESS) {
		cmdref_fail_result(op->req, res);
		return;
	}
	if (!res->json || !json_object_is_type(res->json, json_type_object)) {
		op_failf(op, ERR_API_ERROR, NULL,
		    "ConnectWise: the reply is not a time entry");
		return;
	}
	if (entry_is_billed(res->json, &status)) {
		errbuf_set(&e, ERR_API_REJECTED, -EPERM,
		    "entry %" PRId64 " is %s: a billed entry cannot be changed",
		    op->id, status);
		errbuf_set_field(&e, "status");
		op_fail(op, &e);
		return;
	}
	errbuf_clear(&e);
	if (edit_ops(op, res->json, &ops, &e) < 0) {
		if (e.code == ERR_OK) {
			errbuf_set(&e, ERR_INTERNAL, -ENOMEM, "out of memory");
		}
		op_fail(op, &e);
		return;
	}
	if (cwapi_patch_entry(
		op->client.api, op->id, ops, on_edit_patched, op) < 0) {
		op_failf(op, ERR_INTERNAL, NULL, "cannot start the request");
	}
}

static void
edit_run(struct op *op)
{
	if (!op_open_client(op)) {
		return;
	}
	/* The current entry: billed check and the times to keep consistent. */
	if (cwapi_get_entry(op->client.api, op->id, NULL, on_edit_got, op) <
	    0) {
		op_failf(op, ERR_INTERNAL, NULL, "cannot start the request");
	}
}

static void
cmd_entry_edit(struct request *req)
{
	static const char *const changes[] = {"notes", "internal_notes",
	    "hours", "start", "end", "deduct", "work_type", "role", "billing"};
	struct op *op;
	struct errbuf e;
	const char *s, *canon;
	json_object *v;
	int64_t id = 0, start = 0, end = 0;
	bool any = false;

	(void) request_arg_int(req, "id", &id);
	if (id <= 0) {
		request_failf(req, ERR_BAD_ARGUMENT, "id", "not an entry id");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(changes); i++) {
		any = any || request_arg(req, changes[i]) != NULL;
	}
	if (!any) {
		request_failf(req, ERR_USAGE, NULL,
		    "nothing to change: give --notes, --internal-notes, "
		    "--hours, --start, --end, --deduct, --work-type, --role "
		    "or --billing");
		return;
	}
	if (request_arg(req, "hours") && request_arg(req, "end")) {
		request_failf(req, ERR_USAGE, "hours",
		    "--hours and --end cannot be combined: --hours moves the "
		    "end");
		return;
	}
	v = request_arg(req, "hours");
	if (v &&
	    !(json_object_get_double(v) > 0 &&
		json_object_get_double(v) <= 24)) {
		request_failf(req, ERR_BAD_ARGUMENT, "hours",
		    "--hours must be more than 0 and at most 24");
		return;
	}
	v = request_arg(req, "deduct");
	if (v &&
	    !(json_object_get_double(v) >= 0 &&
		json_object_get_double(v) < 24)) {
		request_failf(req, ERR_BAD_ARGUMENT, "deduct",
		    "--deduct must be at least 0 and less than 24");
		return;
	}
	if (request_arg_int(req, "start", &start) &&
	    request_arg_int(req, "end", &end) && end <= start) {
		request_failf(
		    req, ERR_BAD_TIME, "end", "--end must be after --start");
		return;
	}
	s = request_arg_string(req, "billing");
	errbuf_clear(&e);
	if (s && billing_canon(s, &canon, &e) < 0) {
		request_fail(req, &e);
		return;
	}
	op = op_new(req, OP_EDIT);
	if (!op) {
		return;
	}
	op->id = id;
	s = request_arg_string(req, "work_type");
	if (s &&
	    !op_resolve(
		op, REFDATA_WORK_TYPE, s, "work_type", &op->work_type_id)) {
		return;
	}
	s = request_arg_string(req, "role");
	if (s && !op_resolve(op, REFDATA_WORK_ROLE, s, "role", &op->role_id)) {
		return;
	}
	op_then(op, edit_run);
}

/* ---- entry.delete ---- */

static void
on_deleted(const struct cwapi_result *res, void *userdata)
{
	struct op *op = userdata;
	json_object *o;

	if (!op->req) {
		return;
	}
	if (res->cls != CLASSIFY_SUCCESS) {
		cmdref_fail_result(op->req, res);
		return;
	}
	o = json_object_new_object();
	if (o) {
		json_object_object_add(o, "id", json_object_new_int64(op->id));
		json_object_object_add(
		    o, "deleted", json_object_new_boolean(1));
	}
	op_reply(op, o);
}

static void
on_delete_got(const struct cwapi_result *res, void *userdata)
{
	struct op *op = userdata;
	const char *status = "";
	struct errbuf e;

	if (!op->req) {
		return;
	}
	if (res->cls != CLASSIFY_SUCCESS) {
		cmdref_fail_result(op->req, res);
		return;
	}
	if (res->json && entry_is_billed(res->json, &status)) {
		/* The reference's "Cannot delete: time already billed". */
		errbuf_set(&e, ERR_API_REJECTED, -EPERM,
		    "cannot delete entry %" PRId64 ": it is %s, and billed "
		    "time cannot be deleted",
		    op->id, status);
		errbuf_set_field(&e, "status");
		op_fail(op, &e);
		return;
	}
	if (!request_arg_bool(op->req, "yes", false)) {
		errbuf_set(&e, ERR_CONFIRM_NEEDED, -EPERM,
		    "deleting entry %" PRId64 " (%.2f h) cannot be undone; "
		    "repeat with --yes",
		    op->id,
		    res->json ? get_hours(res->json, "actualHours") : 0);
		op_fail(op, &e);
		return;
	}
	if (cwapi_delete_entry(op->client.api, op->id, on_deleted, op) < 0) {
		op_failf(op, ERR_INTERNAL, NULL, "cannot start the request");
	}
}

static void
cmd_entry_delete(struct request *req)
{
	struct op *op;
	int64_t id = 0;

	(void) request_arg_int(req, "id", &id);
	if (id <= 0) {
		request_failf(req, ERR_BAD_ARGUMENT, "id", "not an entry id");
		return;
	}
	op = op_new(req, OP_DELETE);
	if (!op) {
		return;
	}
	op->id = id;
	if (!op_open_client(op)) {
		return;
	}
	if (cwapi_get_entry(op->client.api, id, "id,status,actualHours",
		on_delete_got, op) < 0) {
		op_failf(op, ERR_INTERNAL, NULL, "cannot start the request");
	}
}

/* ---- approve / reject ---- */

static void batch_pump(struct op *op);

static json_object *
batch_table(struct op *op)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; arr && i < op->n_ids; i++) {
		struct id_result *r = &op->results[i];
		json_object *o = json_object_new_object();

		if (!o) {
			continue;
		}
		json_object_object_add(o, "id", json_object_new_int64(r->id));
		json_object_object_add(
		    o, "ok", json_object_new_boolean(r->err.code == ERR_OK));
		if (r->err.code == ERR_OK) {
			json_object_object_add(
			    o, "status", json_object_new_string(r->status));
		} else {
			json_object_object_add(o, "code",
			    json_object_new_string(errcode_name(r->err.code)));
			json_object_object_add(
			    o, "message", json_object_new_string(r->err.msg));
			if (r->err.field[0]) {
				json_object_object_add(o, "field",
				    json_object_new_string(r->err.field));
			}
		}
		json_object_array_add(arr, o);
	}
	return arr;
}

/*
 * All ids done: success replies with the table; a partial failure
 * replies with an error that names every failed id and its reason (the
 * error code is the first failure's, so the exit status matches).
 */
void
cmdentry_batch_finish(struct request *req, const char *verb,
    const struct id_result_view *v, size_t n, json_object *table)
{
	struct errbuf e;
	size_t failed = 0;
	enum errcode code = ERR_OK;
	size_t len;

	for (size_t i = 0; i < n; i++) {
		if (v[i].err->code != ERR_OK) {
			if (failed++ == 0) {
				code = v[i].err->code;
			}
		}
	}
	if (failed == 0) {
		json_object *o = json_object_new_object();

		if (o) {
			json_object_object_add(o, "results", table);
		} else {
			json_object_put(table);
		}
		request_reply(req, o);
		return;
	}
	json_object_put(table);
	errbuf_set(&e, code, 0, "%s: %zu of %zu failed:", verb, failed, n);
	for (size_t i = 0; i < n; i++) {
		if (v[i].err->code == ERR_OK) {
			continue;
		}
		len = strlen(e.msg);
		(void) snprintf(e.msg + len, sizeof(e.msg) - len,
		    " %" PRId64 " (%s);", v[i].id, v[i].err->msg);
	}
	len = strlen(e.msg);
	(void) snprintf(e.msg + len, sizeof(e.msg) - len, " done:");
	for (size_t i = 0; i < n; i++) {
		if (v[i].err->code != ERR_OK) {
			continue;
		}
		len = strlen(e.msg);
		(void) snprintf(
		    e.msg + len, sizeof(e.msg) - len, " %" PRId64, v[i].id);
	}
	if (failed == n) {
		len = strlen(e.msg);
		(void) snprintf(e.msg + len, sizeof(e.msg) - len, " none");
	}
	request_fail(req, &e);
}

static void
batch_done(struct op *op)
{
	struct id_result_view *v = calloc(op->n_ids, sizeof(*v));

	if (!v) {
		op_failf(op, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	for (size_t i = 0; i < op->n_ids; i++) {
		v[i].id = op->results[i].id;
		v[i].err = &op->results[i].err;
	}
	/* v points into op->results: op must outlive the call; the
	 * request's reference is dropped inside it, so hold one. */
	op->refs++;
	cmdentry_batch_finish(op->req,
	    op->kind == OP_APPROVE ? "approve" : "reject", v, op->n_ids,
	    batch_table(op));
	free(v);
	op_unref(op);
}

static void
on_status_patched(const struct cwapi_result *res, void *userdata)
{
	struct slot *s = userdata;
	struct op *op = s->op;
	struct id_result *r = &op->results[s->index];

	free(s);
	op->in_flight--;
	op->n_done++;
	r->done = true;
	if (res->cls == CLASSIFY_SUCCESS) {
		json_object *v;

		errbuf_clear(&r->err);
		if (res->json &&
		    json_object_object_get_ex(res->json, "status", &v) &&
		    json_object_is_type(v, json_type_string)) {
			snprintf(r->status, sizeof(r->status), "%s",
			    json_object_get_string(v));
		}
	} else {
		r->err = res->err;
		if (r->err.code == ERR_OK) {
			r->err.code = ERR_API_ERROR;
		}
		if (strcmp(r->err.field, "timeSheet") != 0 &&
		    strcmp(r->err.field, "status") != 0) {
			/* those two get the sheet hint below instead */
			cmdref_explain(&r->err, res);
		}
		if (res->status == 400 || res->status == 403 ||
		    res->status == 409) {
			size_t len = strlen(r->err.msg);

			/* Many tenants move status only through sheets. */
			(void) snprintf(r->err.msg + len,
			    sizeof(r->err.msg) - len,
			    " - ConnectWise refused the status change on the "
			    "entry: %s its time sheet instead (cwtimectl sheet "
			    "%s SHEET-ID; 'cwtimectl entry show %" PRId64
			    "' names the sheet)",
			    op->kind == OP_APPROVE ? "approve" : "reject",
			    op->kind == OP_APPROVE ? "approve" : "reject",
			    r->id);
		}
	}
	if (op->req) {
		batch_pump(op);
	}
	op_unref(op);
}

static void on_reject_got(const struct cwapi_result *res, void *userdata);

static int
batch_send(struct op *op, size_t i)
{
	struct slot *s = calloc(1, sizeof(*s));
	CLEANUP_JSON json_object *ops = json_object_new_array();
	int64_t id;

	if (!s || !ops) {
		free(s);
		return -ENOMEM;
	}
	s->op = op;
	s->index = i;
	if (op->kind == OP_REJECT) {
		/* read the internal notes first: the reason is appended */
		id = cwapi_get_entry(op->client.api, op->results[i].id,
		    "id,internalNotes", on_reject_got, s);
	} else {
		const char *st = config_entry_status_to_string(
		    op->d->config.approvals.entry_status);

		if (patch_add(ops, "status", json_object_new_string(st)) < 0) {
			free(s);
			return -ENOMEM;
		}
		id = cwapi_patch_entry(op->client.api, op->results[i].id, ops,
		    on_status_patched, s);
	}
	if (id < 0) {
		free(s);
		return (int) id;
	}
	op->refs++;
	op->in_flight++;
	return 0;
}

static void
on_reject_got(const struct cwapi_result *res, void *userdata)
{
	struct slot *s = userdata;
	struct op *op = s->op;
	struct id_result *r = &op->results[s->index];
	CLEANUP_JSON json_object *ops = json_object_new_array();
	CLEANUP_FREE char *notes = NULL;
	json_object *v;
	int64_t id;

	if (res->cls != CLASSIFY_SUCCESS || !ops || !op->req) {
		on_status_patched(res, userdata);
		return;
	}
	if (res->json &&
	    json_object_object_get_ex(res->json, "internalNotes", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) > 0) {
		if (asprintf(&notes, "%s\nRejected: %s",
			json_object_get_string(v), op->reason) < 0) {
			notes = NULL;
		}
	} else if (asprintf(&notes, "Rejected: %s", op->reason) < 0) {
		notes = NULL;
	}
	if (!notes ||
	    patch_add(ops, "status", json_object_new_string("Rejected")) < 0 ||
	    patch_add(ops, "internalNotes", json_object_new_string(notes)) <
		0) {
		errbuf_set(&r->err, ERR_INTERNAL, -ENOMEM, "out of memory");
		r->done = true;
		free(s);
		op->in_flight--;
		op->n_done++;
		batch_pump(op);
		op_unref(op);
		return;
	}
	id =
	    cwapi_patch_entry(op->client.api, r->id, ops, on_status_patched, s);
	if (id < 0) {
		errbuf_set(&r->err, ERR_INTERNAL, (int) id,
		    "cannot start the request");
		r->done = true;
		free(s);
		op->in_flight--;
		op->n_done++;
		batch_pump(op);
		op_unref(op);
	}
}

/* Keeps ENTRY_CONCURRENCY requests in flight; finishes at the end. */
static void
batch_pump(struct op *op)
{
	while (op->req && op->in_flight < ENTRY_CONCURRENCY &&
	    op->next_id < op->n_ids) {
		size_t i = op->next_id++;
		int r = batch_send(op, i);

		if (r < 0) {
			struct id_result *res = &op->results[i];

			errbuf_set(&res->err, ERR_INTERNAL, r,
			    "cannot start the request: %s", strerror(-r));
			res->done = true;
			op->n_done++;
		}
	}
	if (op->req && op->n_done == op->n_ids) {
		batch_done(op);
	}
}

int
cmdentry_parse_ids(struct request *req, int64_t **ret, size_t *ret_n)
{
	json_object *ids = request_arg(req, "ids");
	size_t n = ids ? json_object_array_length(ids) : 0;
	int64_t *v;

	if (n == 0) {
		request_failf(req, ERR_USAGE, "ids", "give at least one id");
		return -EINVAL;
	}
	if (n > ENTRY_MAX_IDS) {
		request_failf(req, ERR_BAD_ARGUMENT, "ids",
		    "at most %d ids at once", ENTRY_MAX_IDS);
		return -EINVAL;
	}
	v = calloc(n, sizeof(*v));
	if (!v) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(ids, i);

		if (!json_object_is_type(o, json_type_int) ||
		    json_object_get_int64(o) <= 0) {
			free(v);
			request_failf(req, ERR_BAD_ARGUMENT, "ids",
			    "ids[%zu] is not a record id", i);
			return -EINVAL;
		}
		v[i] = json_object_get_int64(o);
		for (size_t j = 0; j < i; j++) {
			if (v[j] == v[i]) {
				request_failf(req, ERR_BAD_ARGUMENT, "ids",
				    "id %" PRId64 " is given twice", v[i]);
				free(v);
				return -EINVAL;
			}
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static void
cmd_status_change(struct request *req, enum op_kind kind)
{
	CLEANUP_FREE int64_t *ids = NULL;
	struct op *op;
	size_t n = 0;
	const char *reason = NULL;

	if (kind == OP_REJECT) {
		reason = request_arg_string(req, "reason");
		if (!reason || !reason[strspn(reason, " \t")]) {
			request_failf(req, ERR_USAGE, "reason",
			    "reject needs --reason TEXT (it goes to the "
			    "entry's internal notes)");
			return;
		}
	}
	if (cmdentry_parse_ids(req, &ids, &n) < 0) {
		return;
	}
	op = op_new(req, kind);
	if (!op) {
		return;
	}
	op->results = calloc(n, sizeof(*op->results));
	op->reason = reason ? strdup(reason) : NULL;
	if (!op->results || (reason && !op->reason)) {
		op_failf(op, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		op->results[i].id = ids[i];
	}
	op->n_ids = n;
	if (!op_open_client(op)) {
		return;
	}
	batch_pump(op);
}

static void
cmd_approve(struct request *req)
{
	cmd_status_change(req, OP_APPROVE);
}

static void
cmd_reject(struct request *req)
{
	cmd_status_change(req, OP_REJECT);
}

/* ---- the table ---- */

static const struct param_spec entries_params[] = {
    {"target", PARAM_STRING, 0},
    {"member", PARAM_ANY, 0},
    {"company", PARAM_INT, 0},
    {"since", PARAM_INT, 0},
    {"until", PARAM_INT, 0},
    {"status", PARAM_STRING, 0},
    {"billing", PARAM_STRING, 0},
    {"work_type", PARAM_STRING, 0},
    {"conditions", PARAM_STRING, 0},
    {"order_by", PARAM_STRING, 0},
    {"limit", PARAM_INT, 0},
    {"mine", PARAM_BOOL, 0},
    {"today", PARAM_BOOL, 0},
    {"this_week", PARAM_BOOL, 0},
    {"unbilled", PARAM_BOOL, 0},
    {"awaiting_billing", PARAM_BOOL, 0},
    {NULL, 0, 0},
};

static const struct param_spec id_params[] = {
    {"id", PARAM_INT, PARAM_REQUIRED},
    {NULL, 0, 0},
};

static const struct param_spec delete_params[] = {
    {"id", PARAM_INT, PARAM_REQUIRED},
    {"yes", PARAM_BOOL, 0},
    {NULL, 0, 0},
};

static const struct param_spec edit_params[] = {
    {"id", PARAM_INT, PARAM_REQUIRED},
    {"notes", PARAM_STRING, 0},
    {"internal_notes", PARAM_STRING, 0},
    {"hours", PARAM_NUMBER, 0},
    {"start", PARAM_INT, 0},
    {"end", PARAM_INT, 0},
    {"deduct", PARAM_NUMBER, 0},
    {"work_type", PARAM_STRING, 0},
    {"role", PARAM_STRING, 0},
    {"billing", PARAM_STRING, 0},
    {NULL, 0, 0},
};

static const struct param_spec approve_params[] = {
    {"ids", PARAM_ARRAY, PARAM_REQUIRED},
    {NULL, 0, 0},
};

static const struct param_spec reject_params[] = {
    {"ids", PARAM_ARRAY, PARAM_REQUIRED},
    {"reason", PARAM_STRING, PARAM_REQUIRED},
    {NULL, 0, 0},
};

static const struct cmd entry_cmds[] = {
    /* keep sorted by name */
    {"approve", cmd_approve, CMD_NEEDS_API, approve_params},
    {"entries", cmd_entries, CMD_NEEDS_API, entries_params},
    {"entry.delete", cmd_entry_delete, CMD_NEEDS_API, delete_params},
    {"entry.edit", cmd_entry_edit, CMD_NEEDS_API, edit_params},
    {"entry.show", cmd_entry_show, CMD_NEEDS_API, id_params},
    {"reject", cmd_reject, CMD_NEEDS_API, reject_params},
};

const struct cmd_table cmd_entry_table = {entry_cmds, ARRAY_SIZE(entry_cmds)};
