/*
 * test-cmd-ref.c - the explanations added to ConnectWise's errors (the
 * user's reference table: missing chargeToId, member, timeStart; unknown
 * work type; billed entry; invalid status; plus 429, whose body has
 * "error" instead of "code"). Bodies go through cwapi_parse_error as in
 * the daemon, so ConnectWise's own words must survive unchanged.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/errcode.h"
#include "daemon/cmd-ref.h"
#include "daemon/cwapi.h"

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_explain),
	    cmocka_unit_test(test_no_hint_for_others),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
