/*
 * test-refdata.c - the reference data cache: loading, TTL against an
 * injected time, name resolution (exact, prefix, ids), ambiguity, close
 * matches, inactive records.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/errcode.h"
#include "core/refdata.h"

static const char worktypes[] =
    "[{\"id\":1,\"name\":\"Regular\"},{\"id\":2,\"name\":\"Overtime\"},"
    "{\"id\":3,\"name\":\"Training\"},{\"id\":4,\"name\":\"Travel\"},"
    "{\"id\":5,\"name\":\"Remote\"},{\"id\":6,\"name\":\"On-site\"},"
    "{\"id\":7,\"name\":\"Administrative\"},"
    "{\"id\":8,\"name\":\"Legacy Field Work\",\"inactiveFlag\":true},"
    "{\"id\":9,\"name\":\"Dup\"},{\"id\":10,\"name\":\"dup\"},"
    "{\"name\":\"no id\"},{\"id\":\"11\",\"name\":\"string id\"}]";

static void
load(struct refdata *rd, int64_t now)
{
	json_object *a = json_tokener_parse(worktypes); /* trusted fixture */

	assert_non_null(a);
	assert_int_equal(refdata_load(rd, REFDATA_WORK_TYPE, a, now), 0);
	json_object_put(a); /* the cache holds its own reference */
}

static void
test_ttl(void **state)
{
	struct refdata rd;
	struct errbuf e;
	int64_t id = 0;

	refdata_init(&rd, 600);
	assert_false(refdata_fresh(&rd, REFDATA_WORK_TYPE, 1000));
	assert_int_equal(refdata_resolve(&rd, REFDATA_WORK_TYPE, "Remote",
			     "work_type", 1000, &id, &e),
	    -EAGAIN);
	/* a decimal id needs no list */
	assert_int_equal(
	    refdata_resolve(&rd, REFDATA_WORK_TYPE, "42", NULL, 1000, &id, &e),
	    0);
	assert_int_equal(id, 42);
	load(&rd, 1000);
	assert_true(refdata_fresh(&rd, REFDATA_WORK_TYPE, 1000));
	assert_true(refdata_fresh(&rd, REFDATA_WORK_TYPE, 1599));
	assert_false(refdata_fresh(&rd, REFDATA_WORK_TYPE, 1600));
	assert_false(
	    refdata_fresh(&rd, REFDATA_WORK_TYPE, 999)); /* backwards */
	assert_false(refdata_fresh(&rd, REFDATA_WORK_ROLE, 1000));
	assert_int_equal(refdata_resolve(&rd, REFDATA_WORK_TYPE, "Remote", NULL,
			     1599, &id, &e),
	    0);
	assert_int_equal(id, 5);
	assert_int_equal(refdata_resolve(&rd, REFDATA_WORK_TYPE, "Remote", NULL,
			     1600, &id, &e),
	    -EAGAIN);
	/* the expired list still names ids */
	assert_string_equal(refdata_name(&rd, REFDATA_WORK_TYPE, 5), "Remote");
	refdata_invalidate(&rd, REFDATA_WORK_TYPE);
	assert_null(refdata_raw(&rd, REFDATA_WORK_TYPE));
	assert_false(refdata_fresh(&rd, REFDATA_WORK_TYPE, 1000));
	refdata_fini(&rd);

	refdata_init(&rd, 0);
	assert_int_equal(rd.ttl_s, REFDATA_DEFAULT_TTL_S);
	refdata_fini(&rd);
}

static void
test_resolve(void **state)
{
	struct refdata rd;
	struct errbuf e;
	int64_t id = 0;

	refdata_init(&rd, 600);
	load(&rd, 0);
	/* records without an integer id are skipped; the raw list is kept */
	assert_int_equal(rd.lists[REFDATA_WORK_TYPE].n, 10);
	assert_int_equal(
	    json_object_array_length(refdata_raw(&rd, REFDATA_WORK_TYPE)), 12);

	assert_int_equal(
	    refdata_resolve(&rd, REFDATA_WORK_TYPE, "remote", NULL, 1, &id, &e),
	    0);
	assert_int_equal(id, 5);
	assert_int_equal(refdata_resolve(&rd, REFDATA_WORK_TYPE, "ON-SITE",
			     NULL, 1, &id, &e),
	    0);
	assert_int_equal(id, 6);
	/* unique prefix */
	assert_int_equal(
	    refdata_resolve(&rd, REFDATA_WORK_TYPE, "adm", NULL, 1, &id, &e),
	    0);
	assert_int_equal(id, 7);

	/* ambiguous prefix lists the candidates */
	errbuf_clear(&e);
	assert_int_equal(refdata_resolve(&rd, REFDATA_WORK_TYPE, "tr",
			     "work_type", 1, &id, &e),
	    -ENOTUNIQ);
	assert_int_equal(e.code, ERR_AMBIGUOUS_NAME);
	assert_string_equal(e.field, "work_type");
	assert_string_equal(e.msg,
	    "work type 'tr' is ambiguous, could be: "
	    "'Training' (3), 'Travel' (4)");

	/* two records with the same name */
	assert_int_equal(
	    refdata_resolve(&rd, REFDATA_WORK_TYPE, "DUP", NULL, 1, &id, &e),
	    -ENOTUNIQ);
	assert_int_equal(e.code, ERR_AMBIGUOUS_NAME);
	assert_non_null(strstr(e.msg, "'Dup' (9), 'dup' (10)"));

	/* unknown, with close matches (edit distance and substrings) */
	assert_int_equal(refdata_resolve(&rd, REFDATA_WORK_TYPE, "Remot3",
			     "work_type", 1, &id, &e),
	    -ENOENT);
	assert_int_equal(e.code, ERR_UNKNOWN_NAME);
	assert_string_equal(e.field, "work_type");
	assert_string_equal(
	    e.msg, "unknown work type 'Remot3'; close matches: 'Remote' (5)");
	assert_int_equal(refdata_resolve(&rd, REFDATA_WORK_TYPE, "Overtime x",
			     NULL, 1, &id, &e),
	    -ENOENT);
	assert_non_null(strstr(e.msg, "'Overtime' (2)"));
	/* nothing close: point at the list */
	assert_int_equal(refdata_resolve(&rd, REFDATA_WORK_TYPE, "Zzzzzzzz",
			     NULL, 1, &id, &e),
	    -ENOENT);
	assert_string_equal(
	    e.msg, "unknown work type 'Zzzzzzzz'; see 'cwtimectl worktypes'");

	/* inactive records are not resolved */
	assert_int_equal(refdata_resolve(&rd, REFDATA_WORK_TYPE,
			     "legacy field work", NULL, 1, &id, &e),
	    -EINVAL);
	assert_int_equal(e.code, ERR_UNKNOWN_NAME);
	assert_non_null(strstr(e.msg, "inactive"));
	refdata_fini(&rd);
}

static void
test_load_errors(void **state)
{
	struct refdata rd;
	json_object *o = json_object_new_object();

	refdata_init(&rd, 60);
	load(&rd, 0);
	assert_int_equal(refdata_load(&rd, REFDATA_WORK_TYPE, o, 5), -EINVAL);
	/* the old list stays */
	assert_true(refdata_fresh(&rd, REFDATA_WORK_TYPE, 5));
	assert_int_equal(refdata_load(&rd, REFDATA_KIND_COUNT, o, 5), -EINVAL);
	json_object_put(o);
	assert_string_equal(
	    refdata_resource(REFDATA_CHARGE_CODE), "/time/chargeCodes");
	assert_string_equal(refdata_kind_label(REFDATA_WORK_ROLE), "work role");
	refdata_fini(&rd);
	refdata_fini(NULL);
}

static void
test_distance(void **state)
{
	assert_int_equal(refdata_distance("Remote", "remote", 2), 0);
	assert_int_equal(refdata_distance("Remote", "Remot", 2), 1);
	assert_int_equal(refdata_distance("Remote", "Rmeote", 2), 2);
	assert_int_equal(refdata_distance("Remote", "Travel", 2), 3);
	assert_int_equal(refdata_distance("a", "abcdef", 2), 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ttl),
	    cmocka_unit_test(test_resolve),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_distance),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
