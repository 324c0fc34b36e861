/*
 * test-entry.c - TimeEntry <-> ConnectWise JSON: exact POST bodies (the
 * seed document's examples), the target rules, IPC field arguments.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/errcode.h"
#include "core/entry.h"

#define UUID "00010203-0405-4607-8809-0a0b0c0d0e0f"

/* Parses in, sets the uuid, builds the POST body, compares the text. */
static void
roundtrip(const char *in, const char *want)
{
	json_object *o = json_tokener_parse(in), *body = NULL;
	struct entry e;
	struct errbuf err = {0};

	assert_non_null(o);
	entry_init(&e);
	if (entry_from_cw_json(o, &e, &err) < 0) {
		fail_msg("parse: %s", err.msg);
	}
	snprintf(e.uuid, sizeof(e.uuid), "%s", UUID);
	if (entry_to_cw_json(&e, &body, &err) < 0) {
		fail_msg("build: %s", err.msg);
	}
	assert_string_equal(
	    json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN), want);
	json_object_put(body);
	json_object_put(o);
	entry_fini(&e);
}

static void
test_seed_examples(void **state)
{
	/* seed example 1: start and end */
	roundtrip(
	    "{\"chargeToId\":54321,\"chargeToType\":\"ServiceTicket\","
	    "\"member\":{\"id\":123},"
	    "\"timeStart\":\"2024-02-15T09:00:00Z\","
	    "\"timeEnd\":\"2024-02-15T10:30:00Z\",\"workType\":{\"id\":1},"
	    "\"workRole\":{\"id\":2},\"billableOption\":\"Billable\","
	    "\"notes\":\"Diagnosed email delivery issue. Identified "
	    "blocked sender.\",\"addToDetailDescriptionFlag\":true}",
	    "{\"chargeToId\":54321,\"chargeToType\":\"ServiceTicket\","
	    "\"member\":{\"id\":123},\"timeStart\":\"2024-02-15T09:00:00Z\","
	    "\"timeEnd\":\"2024-02-15T10:30:00Z\",\"actualHours\":1.50,"
	    "\"billableOption\":\"Billable\",\"workType\":{\"id\":1},"
	    "\"workRole\":{\"id\":2},\"notes\":\"Diagnosed email delivery "
	    "issue. Identified blocked sender.\","
	    "\"addToDetailDescriptionFlag\":true,\"mobileGuid\":\"" UUID "\"}");
	/* seed example 2: timeStart + actualHours 1.5 -> timeEnd 10:30 */
	roundtrip("{\"chargeToId\":54321,\"chargeToType\":\"ServiceTicket\","
		  "\"member\":{\"id\":123},"
		  "\"timeStart\":\"2024-02-15T09:00:00Z\",\"actualHours\":1.5,"
		  "\"workType\":{\"id\":1},\"workRole\":{\"id\":2},"
		  "\"billableOption\":\"Billable\",\"notes\":\"Configured DNS "
		  "records and tested mail flow.\"}",
	    "{\"chargeToId\":54321,\"chargeToType\":\"ServiceTicket\","
	    "\"member\":{\"id\":123},\"timeStart\":\"2024-02-15T09:00:00Z\","
	    "\"timeEnd\":\"2024-02-15T10:30:00Z\",\"actualHours\":1.50,"
	    "\"billableOption\":\"Billable\",\"workType\":{\"id\":1},"
	    "\"workRole\":{\"id\":2},\"notes\":\"Configured DNS records and "
	    "tested mail flow.\",\"mobileGuid\":\"" UUID "\"}");
	/* seed example 3: a charge code with its company */
	roundtrip("{\"chargeToId\":10,\"chargeToType\":\"ChargeCode\","
		  "\"company\":{\"id\":12345},\"member\":{\"id\":123},"
		  "\"timeStart\":\"2024-02-15T08:00:00Z\",\"actualHours\":0.5,"
		  "\"workType\":{\"id\":3},\"billableOption\":\"DoNotBill\","
		  "\"notes\":\"Weekly team meeting\"}",
	    "{\"chargeToId\":10,\"chargeToType\":\"ChargeCode\","
	    "\"company\":{\"id\":12345},\"member\":{\"id\":123},"
	    "\"timeStart\":\"2024-02-15T08:00:00Z\","
	    "\"timeEnd\":\"2024-02-15T08:30:00Z\",\"actualHours\":0.50,"
	    "\"billableOption\":\"DoNotBill\",\"workType\":{\"id\":3},"
	    "\"notes\":\"Weekly team meeting\",\"mobileGuid\":\"" UUID "\"}");
	/* a ConnectWise reply: offsets, fractions, deduction, names */
	roundtrip("{\"id\":991,\"chargeToType\":\"Company\","
		  "\"company\":{\"identifier\":\"ACME\",\"name\":\"Acme\"},"
		  "\"member\":{\"identifier\":\"jdoe\"},"
		  "\"timeStart\":\"2024-02-15T10:00:00.000+01:00\","
		  "\"timeEnd\":\"2024-02-15T11:00:00Z\",\"hoursDeduct\":0.25,"
		  "\"actualHours\":1.75,\"workType\":{\"name\":\"Remote\"},"
		  "\"internalNotes\":\"x\",\"emailCcFlag\":false,"
		  "\"mobileGuid\":null,\"_info\":{\"a\":\"b\"}}",
	    "{\"chargeToType\":\"Company\",\"company\":{\"identifier\":"
	    "\"ACME\"},\"member\":{\"identifier\":\"jdoe\"},"
	    "\"timeStart\":\"2024-02-15T09:00:00Z\","
	    "\"timeEnd\":\"2024-02-15T11:00:00Z\",\"hoursDeduct\":0.25,"
	    "\"actualHours\":1.75,\"workType\":{\"name\":\"Remote\"},"
	    "\"internalNotes\":\"x\",\"emailCcFlag\":false,"
	    "\"mobileGuid\":\"" UUID "\"}");
}

static struct entry
mk(enum target_type type, int64_t id, const char *ident)
{
	struct entry e;

	entry_init(&e);
	e.target.type = type;
	e.target.id = id;
	if (ident) {
		snprintf(e.target.ident, sizeof(e.target.ident), "%s", ident);
	}
	e.time_start = 1707987600; /* 2024-02-15T09:00:00Z */
	e.time_end = 1707987600 + 3600;
	return e;
}

static void
expect_refused(struct entry *e, enum errcode code, const char *field)
{
	struct errbuf err = {0};
	json_object *o = NULL;

	assert_int_equal(entry_to_cw_json(e, &o, &err), -EINVAL);
	assert_null(o);
	assert_int_equal(err.code, code);
	assert_string_equal(err.field, field);
	entry_fini(e);
}

static void
test_target_rules(void **state)
{
	struct entry e;
	json_object *o = NULL;

	/* a charge code needs a company */
	e = mk(TARGET_CHARGE_CODE, 10, NULL);
	expect_refused(&e, ERR_BAD_TARGET, "company");
	/* a ticket takes its company from the ticket */
	e = mk(TARGET_SERVICE_TICKET, 5, NULL);
	e.refs[ENTRY_REF_COMPANY].id = 19;
	expect_refused(&e, ERR_BAD_TARGET, "company");
	e = mk(TARGET_PROJECT_TICKET, 5, NULL);
	e.refs[ENTRY_REF_COMPANY].id = 19;
	expect_refused(&e, ERR_BAD_TARGET, "company");
	/* a company target with another --company */
	e = mk(TARGET_COMPANY, 19, NULL);
	e.refs[ENTRY_REF_COMPANY].id = 20;
	expect_refused(&e, ERR_BAD_TARGET, "company");
	/* no target at all */
	e = mk(TARGET_INVALID, 0, NULL);
	expect_refused(&e, ERR_BAD_TARGET, "chargeToId");
	/* times */
	e = mk(TARGET_ACTIVITY, 77, NULL);
	e.time_end = e.time_start;
	expect_refused(&e, ERR_BAD_ARGUMENT, "timeEnd");
	e = mk(TARGET_ACTIVITY, 77, NULL);
	e.deduct_s = 3600;
	expect_refused(&e, ERR_BAD_ARGUMENT, "hoursDeduct");
	e = mk(TARGET_ACTIVITY, 77, NULL);
	e.flags[ENTRY_FLAG_EMAIL_CC] = ENTRY_TRI_TRUE;
	expect_refused(&e, ERR_BAD_ARGUMENT, "emailCc");

	/* company by id: chargeToId and company.id */
	e = mk(TARGET_COMPANY, 19, NULL);
	assert_int_equal(entry_to_cw_json(&e, &o, NULL), 0);
	assert_string_equal(
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
	    "{\"chargeToId\":19,\"chargeToType\":\"Company\","
	    "\"company\":{\"id\":19},\"timeStart\":\"2024-02-15T09:00:00Z\","
	    "\"timeEnd\":\"2024-02-15T10:00:00Z\",\"actualHours\":1.00}");
	json_object_put(o);
	entry_fini(&e);
	/* an activity may name its company */
	e = mk(TARGET_ACTIVITY, 77, NULL);
	e.refs[ENTRY_REF_COMPANY].name = strdup("ACME");
	assert_int_equal(entry_to_cw_json(&e, &o, NULL), 0);
	json_object_put(o);
	entry_fini(&e);
}

static void
test_fields_from_args(void **state)
{
	json_object *args = json_tokener_parse(
	    "{\"target\":\"54321\",\"work_type\":\"Remote\","
	    "\"work_role\":\"7\",\"billable\":\"do-not-bill\","
	    "\"add_to_detail\":true,\"email_contact\":false,"
	    "\"notes\":\"n\",\"member\":\"jdoe\",\"ago_s\":600}");
	json_object *out;
	struct entry e;
	struct errbuf err = {0};

	entry_init(&e);
	assert_int_equal(entry_fields_from_args(args, &e, &err), 0);
	json_object_put(args);
	out = entry_fields_to_json(&e);
	assert_string_equal(
	    json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN),
	    "{\"member\":{\"identifier\":\"jdoe\"},"
	    "\"billableOption\":\"DoNotBill\","
	    "\"workType\":{\"name\":\"Remote\"},\"workRole\":{\"id\":7},"
	    "\"notes\":\"n\",\"addToDetailDescriptionFlag\":true,"
	    "\"emailContactFlag\":false}");
	/* and back */
	{
		struct entry back;
		json_object *again;

		entry_init(&back);
		assert_int_equal(entry_fields_from_json(out, &back, NULL), 0);
		again = entry_fields_to_json(&back);
		assert_string_equal(json_object_to_json_string(again),
		    json_object_to_json_string(out));
		json_object_put(again);
		entry_fini(&back);
	}
	json_object_put(out);
	/* {} (the fast path replay takes) replaces a filled entry with the
	 * empty one, as the full parse of {} does */
	{
		struct entry back;
		json_object *empty = json_object_new_object();

		entry_init(&back);
		back.billable = ENTRY_BILLABLE_BILLABLE;
		assert_int_equal(entry_set_string(&back.notes, "x"), 0);
		assert_int_equal(entry_fields_from_json(empty, &back, NULL), 0);
		out = entry_fields_to_json(&back);
		assert_string_equal(json_object_to_json_string(out), "{ }");
		assert_null(back.notes);
		assert_int_equal(back.target.type, TARGET_INVALID);
		json_object_put(out);
		json_object_put(empty);
		entry_fini(&back);
	}

	args = json_tokener_parse("{\"billable\":\"maybe\"}");
	assert_int_equal(entry_fields_from_args(args, &e, &err), -EINVAL);
	assert_string_equal(err.field, "billable");
	json_object_put(args);
	args = json_tokener_parse("{\"add_to_detail\":\"yes\"}");
	assert_int_equal(entry_fields_from_args(args, &e, &err), -EINVAL);
	assert_string_equal(err.field, "add_to_detail");
	json_object_put(args);
	/* a refused argument changed nothing */
	assert_int_equal(e.billable, ENTRY_BILLABLE_DO_NOT_BILL);
	assert_int_equal(e.flags[ENTRY_FLAG_ADD_TO_DETAIL], ENTRY_TRI_TRUE);
	entry_fini(&e);
}

static void
test_uuid(void **state)
{
	const uint8_t b[16] = {
	    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
	const uint8_t ff[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	char u[ENTRY_UUID_LEN];

	entry_uuid_from_bytes(b, u);
	assert_string_equal(u, UUID);
	entry_uuid_from_bytes(ff, u);
	assert_string_equal(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
	assert_true(entry_uuid_valid(u));
	assert_false(entry_uuid_valid("ffffffff-ffff-4fff-bfff-fffffffffff"));
	assert_false(entry_uuid_valid("FFFFFFFF-ffff-4fff-bfff-ffffffffffff"));
	assert_false(entry_uuid_valid("ffffffffXffff-4fff-bfff-ffffffffffff"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seed_examples),
	    cmocka_unit_test(test_target_rules),
	    cmocka_unit_test(test_fields_from_args),
	    cmocka_unit_test(test_uuid),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
