/*
 * test-commands.c - the merged command table (sorted, unique, found by
 * bsearch), the parameter checks done before any handler runs, and the
 * secret masking of log.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/errcode.h"
#include "daemon/commands.h"
#include "daemon/log.h"

static void
test_table(void **state)
{
	struct errbuf e;
	size_t n;

	assert_int_equal(commands_init(&e), 0);
	n = commands_count();
	assert_true(n >= 3);
	for (size_t i = 1; i < n; i++) {
		assert_true(strcmp(commands_at(i - 1)->name,
		    commands_at(i)->name) < 0);
	}
	for (size_t i = 0; i < n; i++) {
		assert_ptr_equal(commands_find(commands_at(i)->name),
		    commands_at(i));
	}
	assert_non_null(commands_find("ping"));
	assert_non_null(commands_find("version"));
	assert_true(commands_find("subscribe")->flags & CMD_STREAMS);
	assert_null(commands_find("pin"));
	assert_null(commands_find(""));
	assert_null(commands_at(n));
}

static json_object *
obj(const char *s)
{
	return json_tokener_parse(s); /* trusted test literal */
}

static void
test_params(void **state)
{
	static const struct param_spec spec[] = {
		{ "target", PARAM_STRING, PARAM_REQUIRED },
		{ "ago_s", PARAM_INT, 0 },
		{ "yes", PARAM_BOOL, 0 },
		{ "hours", PARAM_NUMBER, 0 },
		{ "filter", PARAM_OBJECT, 0 },
		{ NULL, 0, 0 },
	};
	static const struct {
		const char *args;
		int ok;
		const char *field;
	} cases[] = {
		{ "{\"target\":\"54321\"}", 1, NULL },
		{ "{\"target\":\"x\",\"ago_s\":600,\"yes\":true,\"hours\":1.5,"
		  "\"filter\":{}}", 1, NULL },
		{ "{\"target\":\"x\",\"hours\":2}", 1, NULL },
		{ "{}", 0, "target" },
		{ "{\"target\":54321}", 0, "target" },
		{ "{\"target\":null}", 0, "target" },
		{ "{\"target\":\"a\\u0000b\"}", 0, "target" },
		{ "{\"target\":\"x\",\"ago_s\":\"600\"}", 0, "ago_s" },
		{ "{\"target\":\"x\",\"ago_s\":1.5}", 0, "ago_s" },
		{ "{\"target\":\"x\",\"yes\":1}", 0, "yes" },
		{ "{\"target\":\"x\",\"filter\":[]}", 0, "filter" },
		{ "{\"target\":\"x\",\"tagret\":\"y\"}", 0, "tagret" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_object *a = obj(cases[i].args);
		struct errbuf e;
		int r;

		assert_non_null(a);
		errbuf_clear(&e);
		r = commands_check_params(spec, a, &e);
		if (cases[i].ok) {
			assert_int_equal(r, 0);
		} else {
			assert_int_equal(r, -EINVAL);
			assert_int_equal(e.code, ERR_BAD_ARGUMENT);
			assert_string_equal(e.field, cases[i].field);
		}
		json_object_put(a);
	}

	/* a command without parameters refuses any argument */
	{
		json_object *a = obj("{\"x\":1}");
		struct errbuf e;

		assert_int_equal(commands_check_params(NULL, a, &e), -EINVAL);
		assert_string_equal(e.field, "x");
		json_object_put(a);
		a = obj("{}");
		assert_int_equal(commands_check_params(NULL, a, &e), 0);
		json_object_put(a);
	}
}

static void
test_log_masking(void **state)
{
	char buf[256];

	assert_int_equal(log_register_secret("CANARY-1234567890"), 0);
	assert_int_equal(log_register_secret("abc"), 0); /* too short: ignored */
	snprintf(buf, sizeof(buf), "key CANARY-1234567890 and "
	    "xCANARY-1234567890CANARY-1234567890y abc");
	log_mask_secrets(buf, sizeof(buf));
	assert_string_equal(buf, "key *** and x******y abc");
	log_forget_secrets();
	snprintf(buf, sizeof(buf), "CANARY-1234567890");
	log_mask_secrets(buf, sizeof(buf));
	assert_string_equal(buf, "CANARY-1234567890");

	assert_int_equal(log_level_from_string("debug"), LOG_DEBUG);
	assert_int_equal(log_level_from_string("warning"), LOG_WARNING);
	assert_int_equal(log_level_from_string("loud"), -EINVAL);
	/* log_error_errno returns what it was given */
	log_set_max_level(LOG_EMERG); /* keep the test output quiet */
	assert_int_equal(log_error_errno(-ENOENT, "x %m"), -ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_log_masking),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
