/*
 * test-cmd-ref.c - the explanations added to ConnectWise's errors (the
 * user's reference table: missing chargeToId, member, timeStart; unknown
 * work type; billed entry; invalid status; plus 429, whose body has
 * "error" instead of "code"). Bodies go through cwapi_parse_error as in
 * the daemon, so ConnectWise's own words must survive unchanged. Also the
 * cache's TTL from [reference] ttl on an injected clock, the work type and
 * role names of a queued entry's body turned into ids, and the outbox's
 * local rejection (PENDING -> REJECTED with "local": true) they may need.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/errcode.h"
#include "core/outbox.h"
#include "core/records.h"
#include "daemon/cmd-ref.h"
#include "daemon/cwapi.h"
#include "daemon/daemon.h"

struct row {
	int status;
	const char *body;
	const char *cw_text; /* ConnectWise's words, kept */
	const char *field;
	const char *hint; /* what we add */
};

static const struct row rows[] = {
    {400,
	"{\"code\":\"InvalidObject\",\"message\":\"timeEntry object is "
	"invalid\",\"errors\":[{\"code\":\"MissingRequiredField\",\"message\":"
	"\"chargeToId is required.\",\"resource\":\"timeEntry\",\"field\":"
	"\"chargeToId\"}]}",
	"timeEntry: chargeToId: chargeToId is required.", "chargeToId",
	"needs something to charge"},
    {400,
	"{\"code\":\"InvalidObject\",\"message\":\"timeEntry object is "
	"invalid\",\"errors\":[{\"code\":\"NotFound\",\"message\":\"Member "
	"zz not found\",\"resource\":\"timeEntry\",\"field\":\"member\"}]}",
	"Member zz not found", "member", "[api] member"},
    {400,
	"{\"code\":\"InvalidObject\",\"message\":\"timeEntry object is "
	"invalid\",\"errors\":[{\"code\":\"MissingRequiredField\",\"message\":"
	"\"timeStart is required.\",\"resource\":\"timeEntry\",\"field\":"
	"\"timeStart\"}]}",
	"timeStart is required.", "timeStart", "needs a start time"},
    {400,
	"{\"code\":\"InvalidObject\",\"message\":\"timeEntry object is "
	"invalid\",\"errors\":[{\"code\":\"NotFound\",\"message\":\"Work type "
	"99 not found\",\"resource\":\"timeEntry\",\"field\":\"workType\"}]}",
	"Work type 99 not found", "workType", "cwtimectl worktypes"},
    {400,
	"{\"code\":\"InvalidObject\",\"message\":\"timeEntry object is "
	"invalid\",\"errors\":[{\"code\":\"InvalidField\",\"message\":\"A "
	"billed time entry cannot be changed or deleted\",\"resource\":"
	"\"timeEntry\",\"field\":\"status\"}]}",
	"A billed time entry cannot be changed or deleted", "status",
	"billed entry cannot"},
    {400,
	"{\"code\":\"InvalidObject\",\"message\":\"timeEntry object is "
	"invalid\",\"errors\":[{\"code\":\"InvalidField\",\"message\":\"The "
	"field status must be one of ...\",\"resource\":\"timeEntry\","
	"\"field\":\"status\"}]}",
	"The field status must be one of", "status", "ApprovedByTierOne"},
    {429,
	"{\"error\":\"ConnectWiseAPI\",\"message\":\"Too many requests. "
	"Please try again in 30 seconds.\"}",
	"Too many requests. Please try again in 30 seconds.", "",
	"rate limited"},
};

static void
test_explain(void **state)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct cwapi_result res;
		char code[64];

		memset(&res, 0, sizeof(res));
		res.status = r->status;
		res.retry_after = r->status == 429 ? "30" : NULL;
		cwapi_parse_error(r->status, r->body, strlen(r->body),
		    ERR_API_REJECTED, &res.err, code, sizeof(code));
		cmdref_explain(&res.err, &res);
		print_message("%s\n", res.err.msg);
		assert_non_null(strstr(res.err.msg, r->cw_text));
		assert_non_null(strstr(res.err.msg, r->hint));
		assert_string_equal(res.err.field, r->field);
		assert_int_equal(res.err.code, ERR_API_REJECTED);
	}
}

static void
test_no_hint_for_others(void **state)
{
	struct cwapi_result res;
	const char *body = "{\"code\":\"NotFound\",\"message\":\"TimeEntry "
			   "123 not found\",\"errors\":null}";
	char code[64];

	memset(&res, 0, sizeof(res));
	res.status = 404;
	cwapi_parse_error(404, body, strlen(body), ERR_API_NOT_FOUND, &res.err,
	    code, sizeof(code));
	cmdref_explain(&res.err, &res);
	assert_string_equal(
	    res.err.msg, "ConnectWise: TimeEntry 123 not found");
}

static void
on_fake_resolved(int r, int64_t id, const struct errbuf *err, void *userdata)
{
	(void) r;
	(void) id;
	(void) err;
	(void) userdata;
	fail_msg("a refresh that could not start must not call back");
}

/* ---- the cache's TTL from [reference] ttl, on an injected clock ---- */

static int64_t fake_now;

static int64_t
fake_clock(void *userdata)
{
	(void) userdata;
	return fake_now;
}

static void
load_list(struct daemon *d, enum refdata_kind kind, const char *json)
{
	json_object *a = json_tokener_parse(json); /* trusted fixture */

	assert_non_null(a);
	assert_int_equal(
	    refdata_load(cmdref_cache(d), kind, a, cmdref_now(d)), 0);
	json_object_put(a);
}

static void
test_ttl_from_config(void **state)
{
	struct daemon d;
	struct errbuf e;
	int64_t id = 0;

	(void) state;
	memset(&d, 0, sizeof(d)); /* no [api]: a refresh cannot start */
	d.have_config = true;
	d.config.reference.ttl_s = 120;
	cmdref_set_clock(fake_clock, NULL);
	fake_now = 1000;
	assert_int_equal(cmdref_cache(&d)->ttl_s, 120);
	load_list(&d, REFDATA_WORK_TYPE,
	    "[{\"id\":5,\"name\":\"Remote\"},{\"id\":7,\"name\":\"Onsite\"}]");
	errbuf_clear(&e);
	assert_int_equal(cmdref_resolve(&d, REFDATA_WORK_TYPE, "remote",
			     "work_type", &id, NULL, NULL, &e),
	    0);
	assert_int_equal(id, 5);
	fake_now = 1119; /* one second before the configured TTL */
	assert_int_equal(cmdref_resolve(&d, REFDATA_WORK_TYPE, "onsite",
			     "work_type", &id, NULL, NULL, &e),
	    0);
	assert_int_equal(id, 7);
	fake_now = 1120; /* expired: without a callback, -EAGAIN */
	assert_int_equal(cmdref_resolve(&d, REFDATA_WORK_TYPE, "onsite",
			     "work_type", &id, NULL, NULL, &e),
	    -EAGAIN);
	/* with one, a refresh is started; here it cannot be (offline) */
	errbuf_clear(&e);
	assert_int_equal(cmdref_resolve(&d, REFDATA_WORK_TYPE, "onsite",
			     "work_type", &id, on_fake_resolved, NULL, &e),
	    -ENOTCONN);
	assert_int_equal(e.code, ERR_API_NOT_CONFIGURED);
	/* a reload with a longer TTL makes the same list fresh again */
	d.config.reference.ttl_s = 3600;
	assert_int_equal(cmdref_resolve(&d, REFDATA_WORK_TYPE, "onsite",
			     "work_type", &id, NULL, NULL, &e),
	    0);
	assert_int_equal(cmdref_cache(&d)->ttl_s, 3600);
	cmdref_set_clock(NULL, NULL);
}

/* ---- names in a queued entry's body ---- */

static void
test_resolve_body(void **state)
{
	struct daemon d;
	struct errbuf e;
	enum refdata_kind missing = REFDATA_KIND_INVALID;
	json_object *body;

	(void) state;
	memset(&d, 0, sizeof(d));
	d.have_config = true;
	d.config.reference.ttl_s = 600;
	cmdref_set_clock(fake_clock, NULL);
	fake_now = 50000;
	refdata_invalidate(cmdref_cache(&d), REFDATA_WORK_ROLE);
	load_list(&d, REFDATA_WORK_TYPE,
	    "[{\"id\":5,\"name\":\"Remote\"},{\"id\":3,\"name\":\"Training\"},"
	    "{\"id\":4,\"name\":\"Travel\"}]");

	/* ids only, or nothing named: nothing to do */
	body = json_tokener_parse("{\"workType\":{\"id\":5},\"notes\":\"x\"}");
	assert_false(cmdref_body_has_names(body));
	assert_int_equal(cmdref_resolve_body(&d, body, NULL, &e), 0);
	json_object_put(body);

	/* the role list is missing: -EAGAIN, and the body is untouched */
	body = json_tokener_parse("{\"workType\":{\"name\":\"remote\"},"
				  "\"workRole\":{\"name\":\"level 2\"}}");
	assert_true(cmdref_body_has_names(body));
	assert_int_equal(cmdref_resolve_body(&d, body, &missing, &e), -EAGAIN);
	assert_int_equal(missing, REFDATA_WORK_ROLE);
	assert_string_equal(json_object_to_json_string_ext(body,
				JSON_C_TO_STRING_PLAIN),
	    "{\"workType\":{\"name\":\"remote\"},"
	    "\"workRole\":{\"name\":\"level 2\"}}");

	/* both lists: ids plus ConnectWise's own spelling */
	load_list(&d, REFDATA_WORK_ROLE,
	    "[{\"id\":1,\"name\":\"Level 1 Tech\"},"
	    "{\"id\":2,\"name\":\"Level 2 Tech\"}]");
	assert_int_equal(cmdref_resolve_body(&d, body, NULL, &e), 1);
	assert_string_equal(json_object_to_json_string_ext(body,
				JSON_C_TO_STRING_PLAIN),
	    "{\"workType\":{\"id\":5,\"name\":\"Remote\"},"
	    "\"workRole\":{\"id\":2,\"name\":\"Level 2 Tech\"}}");
	assert_false(cmdref_body_has_names(body));
	json_object_put(body);

	/* unknown: close matches, field workType, body untouched */
	body = json_tokener_parse("{\"workType\":{\"name\":\"Remot3\"}}");
	errbuf_clear(&e);
	assert_int_equal(cmdref_resolve_body(&d, body, NULL, &e), -ENOENT);
	assert_int_equal(e.code, ERR_UNKNOWN_NAME);
	assert_string_equal(e.field, "workType");
	print_message("%s\n", e.msg);
	assert_non_null(strstr(e.msg, "'Remote' (5)"));
	assert_true(cmdref_body_has_names(body));
	json_object_put(body);

	/* ambiguous prefix: both candidates */
	body = json_tokener_parse("{\"workType\":{\"name\":\"tr\"}}");
	errbuf_clear(&e);
	assert_int_equal(cmdref_resolve_body(&d, body, NULL, &e), -ENOTUNIQ);
	assert_int_equal(e.code, ERR_AMBIGUOUS_NAME);
	assert_non_null(strstr(e.msg, "'Training' (3)"));
	assert_non_null(strstr(e.msg, "'Travel' (4)"));
	json_object_put(body);
	cmdref_set_clock(NULL, NULL);
}

/* ---- the local rejection: PENDING -> REJECTED with "local": true ---- */

static void
test_local_reject(void **state)
{
	static const char *uuid = "0b6f1c2e-7a4d-4e8f-9c3b-5d2a1e0f4b7c";
	struct outbox o;
	struct errbuf e;
	json_object *q, *rej, *req;
	char buf[512];

	(void) state;
	outbox_init(&o);
	snprintf(buf, sizeof(buf), "{\"entries\":[{\"uuid\":\"%s\",\"body\":"
	    "{\"workType\":{\"name\":\"Remot3\"}}}]}", uuid);
	q = json_tokener_parse(buf);
	assert_int_equal(
	    outbox_apply(&o, JOURNAL_REC_ENTRY_QUEUED, 1, q, &e), 0);
	/* without "local" a PENDING entry cannot be rejected (4.1) */
	snprintf(buf, sizeof(buf), "{\"uuid\":\"%s\",\"status\":0,\"code\":"
	    "\"unknown-name\",\"message\":\"m\",\"field\":\"workType\","
	    "\"attempts\":0}", uuid);
	rej = json_tokener_parse(buf);
	assert_int_equal(outbox_apply(&o, JOURNAL_REC_REJECTED, 2, rej, &e),
	    -EBADMSG);
	assert_int_equal(outbox_find(&o, uuid)->state, OUTBOX_PENDING);
	json_object_object_add(rej, "local", json_object_new_boolean(1));
	assert_int_equal(
	    outbox_apply(&o, JOURNAL_REC_REJECTED, 3, rej, &e), 0);
	assert_int_equal(outbox_find(&o, uuid)->state, OUTBOX_REJECTED);
	assert_false(outbox_find(&o, uuid)->ever_attempted);
	assert_non_null(outbox_find(&o, uuid)->last_error);
	/* never attempted: a re-queue goes straight back to PENDING */
	snprintf(buf, sizeof(buf), "{\"uuid\":\"%s\",\"by\":\"user\","
	    "\"at\":1}", uuid);
	req = json_tokener_parse(buf);
	assert_int_equal(
	    outbox_apply(&o, JOURNAL_REC_REQUEUED, 4, req, &e), 0);
	assert_int_equal(outbox_find(&o, uuid)->state, OUTBOX_PENDING);
	json_object_put(q);
	json_object_put(rej);
	json_object_put(req);
	outbox_fini(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_explain),
	    cmocka_unit_test(test_no_hint_for_others),
	    cmocka_unit_test(test_ttl_from_config),
	    cmocka_unit_test(test_resolve_body),
	    cmocka_unit_test(test_local_reject),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
