/*
 * test-jsonutil.c - the typed getters and checked adds of
 * src/common/jsonutil.c: each getter against every JSON type (only its
 * own passes, and a failure leaves *ret alone), missing keys, null
 * members, NULL and non-object containers, the int64 limits, the "opt"
 * getters' absent/typed/mistyped cases, and ownership in add and push.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/jsonutil.h"

/* One member of every type, the keys named after them. */
static const char fixture[] = "{\"int\":42,\"neg\":-7,\"zero\":0,"
			      "\"str\":\"text\",\"empty\":\"\","
			      "\"digits\":\"5\",\"true\":true,"
			      "\"false\":false,\"double\":1.5,"
			      "\"whole\":1.0,\"array\":[1,2],"
			      "\"object\":{\"int\":1},\"null\":null}";

/* Every key of the fixture, plus one it lacks. */
static const char *const keys[] = {"int", "neg", "zero", "str", "empty",
    "digits", "true", "false", "double", "whole", "array", "object", "null",
    "missing"};

static json_object *
parse(const char *text)
{
	json_object *o = json_tokener_parse(text);

	assert_non_null(o);
	return o;
}

static bool
is_one_of(const char *key, const char *const *set)
{
	for (size_t i = 0; set[i]; i++) {
		if (strcmp(key, set[i]) == 0) {
			return true;
		}
	}
	return false;
}

static void
test_right_types(void **state)
{
	json_object *o = parse(fixture);
	const char *s = NULL;
	int64_t i = 0;
	double d = 0;

	assert_true(jsonutil_get_i64(o, "int", &i));
	assert_int_equal(i, 42);
	assert_true(jsonutil_get_i64(o, "neg", &i));
	assert_int_equal(i, -7);
	assert_true(jsonutil_get_i64(o, "zero", &i));
	assert_int_equal(i, 0);
	assert_true(jsonutil_get_str(o, "str", &s));
	assert_string_equal(s, "text");
	assert_true(jsonutil_get_str(o, "empty", &s));
	assert_string_equal(s, "");
	assert_string_equal(jsonutil_str(o, "digits"), "5");
	assert_true(jsonutil_get_num(o, "double", &d));
	assert_true(d == 1.5);
	assert_true(jsonutil_get_num(o, "int", &d));
	assert_true(d == 42.0);
	assert_true(jsonutil_get_num(o, "whole", &d));
	assert_true(d == 1.0);
	assert_int_equal(
	    json_object_array_length(jsonutil_get_array(o, "array")), 2);
	assert_true(jsonutil_is_true(o, "true"));
	assert_false(jsonutil_is_true(o, "false"));
	/* any type; null reads as NULL although the key is there */
	assert_true(json_object_is_type(
	    jsonutil_get(o, "object"), json_type_object));
	assert_ptr_equal(jsonutil_get(o, "str"), jsonutil_get(o, "str"));
	assert_null(jsonutil_get(o, "null"));
	assert_true(jsonutil_has(o, "null"));
	assert_false(jsonutil_has(o, "missing"));
	/* borrowed: the string is the member's own */
	assert_ptr_equal(jsonutil_str(o, "str"),
	    json_object_get_string(jsonutil_get(o, "str")));
	json_object_put(o);
}

/* Every key against every getter: only the keys of its type pass, and a
 * failure writes nothing. */
static void
test_wrong_types_and_missing(void **state)
{
	static const char *const ints[] = {"int", "neg", "zero", NULL};
	static const char *const strs[] = {"str", "empty", "digits", NULL};
	static const char *const nums[] = {
	    "int", "neg", "zero", "double", "whole", NULL};
	static const char *const arrays[] = {"array", NULL};
	static const char *const trues[] = {"true", NULL};
	json_object *o = parse(fixture);

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *key = keys[k];
		const char *s = "sentinel";
		int64_t i = 12345;
		double d = -2.5;

		assert_int_equal(
		    jsonutil_get_i64(o, key, &i), is_one_of(key, ints));
		if (!is_one_of(key, ints)) {
			assert_int_equal(i, 12345);
		}
		assert_int_equal(
		    jsonutil_get_str(o, key, &s), is_one_of(key, strs));
		if (!is_one_of(key, strs)) {
			assert_string_equal(s, "sentinel");
			assert_null(jsonutil_str(o, key));
		}
		assert_int_equal(
		    jsonutil_get_num(o, key, &d), is_one_of(key, nums));
		if (!is_one_of(key, nums)) {
			assert_true(d == -2.5);
		}
		assert_int_equal(jsonutil_get_array(o, key) != NULL,
		    is_one_of(key, arrays));
		assert_int_equal(
		    jsonutil_is_true(o, key), is_one_of(key, trues));
	}
	json_object_put(o);
}

/* A NULL object, an array, a string and an empty object hold no member. */
static void
test_not_an_object(void **state)
{
	json_object *holders[] = {NULL, parse("[1,2]"),
	    json_object_new_string("int"), parse("{}")};

	for (size_t h = 0; h < sizeof(holders) / sizeof(holders[0]); h++) {
		json_object *o = holders[h];
		const char *s = "sentinel";
		int64_t i = 12345;
		double d = -2.5;
		bool b = true;

		assert_false(jsonutil_has(o, "int"));
		assert_null(jsonutil_get(o, "int"));
		assert_false(jsonutil_get_i64(o, "int", &i));
		assert_false(jsonutil_get_str(o, "int", &s));
		assert_null(jsonutil_str(o, "int"));
		assert_false(jsonutil_get_num(o, "int", &d));
		assert_null(jsonutil_get_array(o, "int"));
		assert_false(jsonutil_is_true(o, "int"));
		/* nothing there: the optional ones are absent, so fine */
		assert_true(jsonutil_opt_i64(o, "int", &i));
		assert_true(jsonutil_opt_bool(o, "int", &b));
		assert_true(jsonutil_opt_str(o, "int", &s));
		assert_int_equal(i, 12345);
		assert_string_equal(s, "sentinel");
		assert_true(d == -2.5);
		assert_true(b);
		json_object_put(o);
	}
}

static void
test_int64_limits(void **state)
{
	static const struct {
		const char *text;
		int64_t want;
	} cases[] = {
	    {"{\"v\":9223372036854775807}", INT64_MAX},
	    {"{\"v\":-9223372036854775808}", INT64_MIN},
	    /* beyond int64: still an integer, read saturated */
	    {"{\"v\":9223372036854775808}", INT64_MAX},
	    {"{\"v\":18446744073709551615}", INT64_MAX},
	    {"{\"v\":-9223372036854775809}", INT64_MIN},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		json_object *o = parse(cases[c].text);
		int64_t i = 0;

		assert_true(jsonutil_get_i64(o, "v", &i));
		assert_true(i == cases[c].want);
		i = 0;
		assert_true(jsonutil_opt_i64(o, "v", &i));
		assert_true(i == cases[c].want);
		json_object_put(o);
	}
	/* a double with an integral value is not an integer */
	{
		json_object *o = parse("{\"v\":1e3}");
		int64_t i = 7;

		assert_false(jsonutil_get_i64(o, "v", &i));
		assert_false(jsonutil_opt_i64(o, "v", &i));
		assert_int_equal(i, 7);
		json_object_put(o);
	}
}

static void
test_optional(void **state)
{
	json_object *o = parse(fixture);
	const char *s;
	int64_t i;
	bool b;

	/* absent: true, the default stays */
	i = 99;
	b = true;
	s = "default";
	assert_true(jsonutil_opt_i64(o, "missing", &i));
	assert_true(jsonutil_opt_bool(o, "missing", &b));
	assert_true(jsonutil_opt_str(o, "missing", &s));
	assert_int_equal(i, 99);
	assert_true(b);
	assert_string_equal(s, "default");
	/* present and of the type: read */
	assert_true(jsonutil_opt_i64(o, "neg", &i));
	assert_int_equal(i, -7);
	assert_true(jsonutil_opt_bool(o, "false", &b));
	assert_false(b);
	assert_true(jsonutil_opt_str(o, "str", &s));
	assert_string_equal(s, "text");
	/* present with another type, or null: refused, nothing written */
	i = 99;
	b = true;
	s = "default";
	assert_false(jsonutil_opt_i64(o, "digits", &i));
	assert_false(jsonutil_opt_i64(o, "null", &i));
	assert_false(jsonutil_opt_i64(o, "double", &i));
	assert_false(jsonutil_opt_bool(o, "int", &b));
	assert_false(jsonutil_opt_bool(o, "null", &b));
	assert_false(jsonutil_opt_str(o, "int", &s));
	assert_false(jsonutil_opt_str(o, "null", &s));
	assert_int_equal(i, 99);
	assert_true(b);
	assert_string_equal(s, "default");
	json_object_put(o);
}

static void
test_add_and_push(void **state)
{
	json_object *o = json_object_new_object();
	json_object *a = json_object_new_array();
	json_object *kept = json_object_new_string("kept");
	int64_t i = 0;

	assert_int_equal(jsonutil_add(o, "n", json_object_new_int64(5)), 0);
	assert_true(jsonutil_get_i64(o, "n", &i));
	assert_int_equal(i, 5);
	/* a failed constructor: -ENOMEM, the object unchanged */
	assert_int_equal(jsonutil_add(o, "x", NULL), -ENOMEM);
	assert_false(jsonutil_has(o, "x"));
	/* replacing a key releases the old value (ASan would see a leak) */
	assert_int_equal(jsonutil_add(o, "n", json_object_new_int64(6)), 0);
	assert_true(jsonutil_get_i64(o, "n", &i));
	assert_int_equal(i, 6);
	assert_int_equal(json_object_object_length(o), 1);
	/* the reference is taken: o owns kept now */
	assert_int_equal(jsonutil_add(o, "s", json_object_get(kept)), 0);
	json_object_put(kept);
	assert_string_equal(jsonutil_str(o, "s"), "kept");

	assert_int_equal(jsonutil_push(a, json_object_new_int64(1)), 0);
	assert_int_equal(jsonutil_push(a, NULL), -ENOMEM);
	assert_int_equal(jsonutil_push(a, json_object_new_string("b")), 0);
	assert_int_equal(json_object_array_length(a), 2);
	assert_string_equal(
	    json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN),
	    "[1,\"b\"]");
	assert_int_equal(jsonutil_add(o, "a", a), 0);
	assert_ptr_equal(jsonutil_get_array(o, "a"), a);
	json_object_put(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_right_types),
	    cmocka_unit_test(test_wrong_types_and_missing),
	    cmocka_unit_test(test_not_an_object),
	    cmocka_unit_test(test_int64_limits),
	    cmocka_unit_test(test_optional),
	    cmocka_unit_test(test_add_and_push),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
