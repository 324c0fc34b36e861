/*
 * test-target.c - TARGET parsing, canonical forms and chargeToType names.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/errcode.h"
#include "core/target.h"

struct row {
	const char *in;
	const char *canon; /* NULL: refused */
	enum target_type type;
	int64_t id;
};

static const struct row rows[] = {
    {"54321", "ticket:54321", TARGET_SERVICE_TICKET, 54321},
    {"ticket:54321", "ticket:54321", TARGET_SERVICE_TICKET, 54321},
    {"project:1234", "project:1234", TARGET_PROJECT_TICKET, 1234},
    {"code:10", "code:10", TARGET_CHARGE_CODE, 10},
    {"activity:77", "activity:77", TARGET_ACTIVITY, 77},
    {"company:19", "company:19", TARGET_COMPANY, 19},
    {"company:ACME", "company:ACME", TARGET_COMPANY, 0},
    {"company:Acme_Corp.-&1", "company:Acme_Corp.-&1", TARGET_COMPANY, 0},
    {"2147483647", "ticket:2147483647", TARGET_SERVICE_TICKET, 2147483647},
    {"2147483648", NULL, 0, 0},
    {"0", NULL, 0, 0},
    {"054321", NULL, 0, 0},
    {"-5", NULL, 0, 0},
    {"ticket:", NULL, 0, 0},
    {"ticket:abc", NULL, 0, 0},
    {"code:ACME", NULL, 0, 0},
    {"tickets:5", NULL, 0, 0},
    {":5", NULL, 0, 0},
    {"", NULL, 0, 0},
    {"company:", NULL, 0, 0},
    {"company:0", NULL, 0, 0},
    {"company:ACME CORP", NULL, 0, 0},
    {"company:ABCDEFGHIJKLMNOPQRSTUVWXYZ", NULL, 0, 0}, /* 26 chars */
    {"Ticket:5", NULL, 0, 0},
};

static void
test_parse_table(void **state)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct target t = {TARGET_INVALID, 0, ""};
		struct errbuf e = {0};
		char buf[TARGET_STR_MAX];
		int rc = target_parse(r->in, &t, &e);

		if (!r->canon) {
			if (rc != -EINVAL || e.code != ERR_BAD_TARGET) {
				fail_msg("'%s' accepted", r->in);
			}
			continue;
		}
		if (rc != 0) {
			fail_msg("'%s' refused: %s", r->in, e.msg);
		}
		assert_string_equal(target_format(&t, buf), r->canon);
		assert_int_equal(t.type, r->type);
		assert_int_equal(t.id, r->id);
	}
}

static void
test_names(void **state)
{
	assert_string_equal(
	    target_charge_type_name(TARGET_SERVICE_TICKET), "ServiceTicket");
	assert_string_equal(
	    target_charge_type_name(TARGET_PROJECT_TICKET), "ProjectTicket");
	assert_string_equal(
	    target_charge_type_name(TARGET_CHARGE_CODE), "ChargeCode");
	assert_string_equal(
	    target_charge_type_name(TARGET_ACTIVITY), "Activity");
	assert_string_equal(target_charge_type_name(TARGET_COMPANY), "Company");
	assert_null(target_charge_type_name(TARGET_INVALID));
	assert_int_equal(
	    target_type_from_charge_name("ChargeCode"), TARGET_CHARGE_CODE);
	assert_int_equal(
	    target_type_from_charge_name("chargecode"), TARGET_INVALID);
	assert_int_equal(
	    target_type_from_name("project"), TARGET_PROJECT_TICKET);
	assert_int_equal(
	    target_type_from_name("serviceticket"), TARGET_SERVICE_TICKET);
}

static void
test_equal(void **state)
{
	struct target a, b;

	assert_int_equal(target_parse("54321", &a, NULL), 0);
	assert_int_equal(target_parse("ticket:54321", &b, NULL), 0);
	assert_true(target_equal(&a, &b));
	assert_int_equal(target_parse("project:54321", &b, NULL), 0);
	assert_false(target_equal(&a, &b));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_table),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_equal),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
