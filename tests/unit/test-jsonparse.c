/*
 * test-jsonparse.c - the journal's fast JSON path against json_tokener:
 * what it accepts must parse to the same tree with json_tokener (the
 * journal's rules: depth 32, the whole text, an object), and what it
 * cannot handle it must decline (-ENOTSUP), never reject or misparse.
 * Fixed cases, then random mutations of real record payloads.
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

#include "common/jsonparse.h"

#define DEPTH 16

/* The journal's reference parse (src/daemon/journal.c payload_parse). */
static json_object *
tokener_parse(const char *text, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	json_object *o;

	assert_non_null(tok);
	o = json_tokener_parse_ex(tok, text, (int) len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* Same types (int64 vs uint64 vs double included), values and key order. */
static void
assert_same_tree(json_object *a, json_object *b)
{
	assert_int_equal(json_object_get_type(a), json_object_get_type(b));
	switch (json_object_get_type(a)) {
	case json_type_null:
		break;
	case json_type_boolean:
		assert_int_equal(json_object_get_boolean(a),
		    json_object_get_boolean(b));
		break;
	case json_type_int:
		assert_int_equal(json_object_get_int64(a),
		    json_object_get_int64(b));
		assert_int_equal(json_object_get_uint64(a),
		    json_object_get_uint64(b));
		break;
	case json_type_double:
		fail_msg("the fast path never makes doubles");
		break;
	case json_type_string:
		assert_int_equal(json_object_get_string_len(a),
		    json_object_get_string_len(b));
		assert_memory_equal(json_object_get_string(a),
		    json_object_get_string(b),
		    (size_t) json_object_get_string_len(a));
		break;
	case json_type_array:
		assert_int_equal(json_object_array_length(a),
		    json_object_array_length(b));
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			assert_same_tree(json_object_array_get_idx(a, i),
			    json_object_array_get_idx(b, i));
		}
		break;
	case json_type_object: {
		struct json_object_iterator ia = json_object_iter_begin(a);
		struct json_object_iterator ea = json_object_iter_end(a);
		struct json_object_iterator ib = json_object_iter_begin(b);
		struct json_object_iterator eb = json_object_iter_end(b);

		assert_int_equal(json_object_object_length(a),
		    json_object_object_length(b));
		while (!json_object_iter_equal(&ia, &ea)) {
			assert_false(json_object_iter_equal(&ib, &eb));
			assert_string_equal(json_object_iter_peek_name(&ia),
			    json_object_iter_peek_name(&ib));
			assert_same_tree(json_object_iter_peek_value(&ia),
			    json_object_iter_peek_value(&ib));
			json_object_iter_next(&ia);
			json_object_iter_next(&ib);
		}
		break;
	}
	}
	assert_true(json_object_equal(a, b));
}

/* Returns 1 when the fast path accepted (and agreed), 0 when it
 * declined. Fails the test on any disagreement. */
static int
check_one(const char *text, size_t len)
{
	json_object *fast = NULL, *ref;
	int r;

	r = jsonparse_object(text, len, DEPTH, &fast);
	assert_true(r == 0 || r == -ENOTSUP);
	if (r < 0) {
		return 0;
	}
	ref = tokener_parse(text, len);
	if (!ref) {
		fail_msg("fast path accepted what json_tokener refuses: %.*s",
		    (int) len, text);
	}
	assert_same_tree(fast, ref);
	json_object_put(fast);
	json_object_put(ref);
	return 1;
}

static const char *const accepted[] = {
	"{}",
	"{\"a\":1}",
	"{\"target\":\"ticket:100000\",\"start\":1796000000,\"stamp\":"
	"{\"wall\":1796000000,\"mono_ns\":10995116277760,\"boot_ns\":-5,"
	"\"boot_id\":\"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\",\"pos_ns\":0},"
	"\"fields\":{},\"pause\":[]}",
	"{ \"a\" : [ 1 , -2 , true , false , null , \"x\" , { } , [ ] ] }",
	"{\n\t\"a\":\r\n0}",
	"{\"n\":999999999999999999,\"m\":-999999999999999999}",
	"{\"s\":\"quote \\\" back \\\\ slash \\/ \\b\\f\\n\\r\\t end\"}",
	"{\"\":\"\",\"k\\\"ey\":\"v\"}",
	"{\"dup\":1,\"other\":2,\"dup\":\"last wins\"}",
	"{\"utf8\":\"Z\xc3\xb6\xc3\xab \xe2\x82\xac\",\"raw\":\"\xff\xfe\"}",
	"{\"a_key_longer_than_the_intern_limit_of_32_bytes\":{\"x\":[[[1]]]}}",
	"{\"null\":null,\"arr\":[null,null]}",
	"{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":1}}}}}}}}",
};

static const char *const declined[] = {
	"", " {}", "{} ", "{}\n", "[1]", "1", "\"s\"", "{", "{\"a\"",
	"{\"a\":}", "{\"a\":1,}", "{,}", "[", "{\"a\":[1,]}",
	"{\"a\":\"\\u0041\"}", "{\"a\\u0000b\":1}", "{\"a\":1.5}",
	"{\"a\":1e3}", "{\"a\":-0}", "{\"a\":01}", "{\"a\":+1}",
	"{\"a\":1234567890123456789}", "{\"a\":True}", "{\"a\":NaN}",
	"{\"a\":nul}", "{\"a\":truex}", "{'a':1}", "{a:1}",
	"{\"a\":\"tab\there\"}", "{\"a\":\"\\x\"}", "{/* c */}",
	"{\"a\":1}// c", "{\"a\":\v1}", "{\"a\":\"unterminated}",
	"{\"a\":\"esc at end\\",
	"{\"a\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}",
	"{\"a\":-}", "{\"a\":1 2}",
};

static void
test_fixed(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(accepted) / sizeof(*accepted); i++) {
		if (!check_one(accepted[i], strlen(accepted[i]))) {
			fail_msg("declined: %s", accepted[i]);
		}
	}
	for (size_t i = 0; i < sizeof(declined) / sizeof(*declined); i++) {
		json_object *o = NULL;

		if (jsonparse_object(declined[i], strlen(declined[i]), DEPTH,
			&o) != -ENOTSUP) {
			fail_msg("not declined: %s", declined[i]);
		}
		assert_null(o);
	}
	/* A NUL byte inside the given length is declined. */
	assert_int_equal(jsonparse_object("{\"a\":\"b\0c\"}", 11, DEPTH,
			     &(json_object *) { NULL }),
	    -ENOTSUP);
}

static void
test_duplicate_key(void **state)
{
	const char *t = "{\"dup\":1,\"other\":2,\"dup\":3}";
	json_object *o = NULL, *v;

	(void) state;
	assert_int_equal(jsonparse_object(t, strlen(t), DEPTH, &o), 0);
	assert_int_equal(json_object_object_length(o), 2);
	assert_true(json_object_object_get_ex(o, "dup", &v));
	assert_int_equal(json_object_get_int64(v), 3);
	json_object_put(o);
	/* More keys than the parser tracks per object, duplicates of the
	 * first and the last of them after those, and a long (copied) key
	 * repeated: the same tree as json_tokener. */
	{
		char big[2048];
		size_t len = 0;

		big[len++] = '{';
		for (int i = 0; i < 40; i++) {
			len += (size_t) snprintf(big + len, sizeof(big) - len,
			    "\"k%d\":%d,", i, i);
		}
		len += (size_t) snprintf(big + len, sizeof(big) - len,
		    "\"k0\":\"again\",\"k39\":[1],\"%s\":1,\"%s\":2}",
		    "a-key-of-more-than-thirty-two-bytes-x",
		    "a-key-of-more-than-thirty-two-bytes-x");
		assert_int_equal(check_one(big, len), 1);
		assert_int_equal(jsonparse_object(big, len, DEPTH, &o), 0);
		assert_int_equal(json_object_object_length(o), 41);
		json_object_put(o);
	}
}

/* Keys are interned: the tree outlives the text it came from, and the
 * same key is the same pointer in two trees. */
static void
test_keys_outlive_text(void **state)
{
	const char *src = "{\"target\":\"ticket:1\",\"stamp\":{\"wall\":5}}";
	size_t len = strlen(src);
	char *text = malloc(len);
	json_object *a = NULL, *b = NULL, *s, *w;
	const char *ka = NULL, *kb = NULL;

	(void) state;
	assert_non_null(text);
	memcpy(text, src, len);
	assert_int_equal(jsonparse_object(text, len, DEPTH, &a), 0);
	assert_int_equal(jsonparse_object(text, len, DEPTH, &b), 0);
	memset(text, 'x', len);
	free(text);
	assert_true(json_object_object_get_ex(a, "stamp", &s));
	assert_true(json_object_object_get_ex(s, "wall", &w));
	assert_int_equal(json_object_get_int64(w), 5);
	json_object_object_foreach(a, k1, v1) {
		(void) v1;
		ka = k1;
		break;
	}
	json_object_object_foreach(b, k2, v2) {
		(void) v2;
		kb = k2;
		break;
	}
	assert_string_equal(ka, "target");
	assert_ptr_equal(ka, kb);
	/* A deep copy and a retained sub-object stay valid after put. */
	json_object_get(s);
	json_object_put(a);
	json_object_put(b);
	assert_true(json_object_object_get_ex(s, "wall", &w));
	assert_int_equal(json_object_get_int64(w), 5);
	json_object_put(s);
}

/* Random mutations of real payloads (the bytes a damaged or hostile
 * journal may hold): the fast path must agree or decline every time. */
static void
test_mutations(void **state)
{
	static const char alphabet[] = "{}[]\":,\\ \t\n-0123456789.eE+"
				       "truefalsnu/abx\x01\x7f\x80\xff";
	char buf[1024];
	unsigned long n = 200000, accepted_n = 0, same = 0;
	const char *env = getenv("CWT_JSONPARSE_MUTATIONS");
	int end = 0;

	(void) state;
	if (env && (sscanf(env, "%lu%n", &n, &end) != 1 || env[end] != '\0')) {
		n = 200000;
	}
	srand(12345);
	for (unsigned long i = 0; i < n; i++) {
		const char *seed = accepted[(size_t) rand() %
		    (sizeof(accepted) / sizeof(*accepted))];
		size_t len = strlen(seed);
		int edits = 1 + rand() % 3;

		memcpy(buf, seed, len);
		for (int e = 0; e < edits; e++) {
			size_t at = len ? (size_t) rand() % len : 0;
			char c = alphabet[(size_t) rand() %
			    (sizeof(alphabet) - 1)];

			switch (rand() % 3) {
			case 0: /* replace */
				if (len) {
					buf[at] = c;
				}
				break;
			case 1: /* insert */
				if (len + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at,
					    len - at);
					buf[at] = c;
					len++;
				}
				break;
			default: /* delete */
				if (len) {
					memmove(buf + at, buf + at + 1,
					    len - at - 1);
					len--;
				}
				break;
			}
		}
		accepted_n += (unsigned long) check_one(buf, len);
		same += (unsigned long) (len == strlen(seed) &&
		    memcmp(buf, seed, len) == 0);
	}
	/* Not vacuous: many mutants are still plain JSON and accepted. */
	assert_true(accepted_n > n / 20);
	assert_true(accepted_n > same);
}

/* More distinct keys than the intern table holds: later keys are copied
 * per object, and every tree still matches json_tokener. */
static void
test_intern_overflow(void **state)
{
	char text[128];

	(void) state;
	for (int i = 0; i < 3000; i++) {
		int n = snprintf(text, sizeof(text),
		    "{\"key-number-%08d-of-many\":%d,\"target\":\"t\"}", i, i);

		assert_int_equal(check_one(text, (size_t) n), 1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_keys_outlive_text),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_intern_overflow),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
