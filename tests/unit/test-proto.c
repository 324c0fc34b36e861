/*
 * test-proto.c - request framing and message building (src/common/proto.c):
 * valid requests, malformed JSON, oversize lines, missing and mistyped
 * members, wrong protocol versions, a nesting bomb, and the exact bytes of
 * replies, errors and events.
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

#include "common/errcode.h"
#include "common/proto.h"

static int
parse(const char *s, struct proto_request *req, struct errbuf *e)
{
	errbuf_clear(e);
	return proto_request_parse(s, strlen(s), req, e);
}

static void
test_valid(void **state)
{
	struct proto_request req;
	struct errbuf e;
	json_object *t;

	assert_int_equal(parse("{\"v\":1,\"id\":7,\"cmd\":\"start\","
	    "\"args\":{\"target\":\"54321\",\"ago_s\":600}}", &req, &e), 0);
	assert_true(req.has_id);
	assert_int_equal(req.id, 7);
	assert_string_equal(req.cmd, "start");
	assert_non_null(req.args);
	assert_true(json_object_object_get_ex(req.args, "target", &t));
	assert_string_equal(json_object_get_string(t), "54321");
	proto_request_fini(&req);

	/* no args: an empty object; CRLF and surrounding blanks accepted */
	assert_int_equal(parse(" {\"cmd\":\"ping\",\"id\":-3,\"v\":1} \r", &req,
	    &e), 0);
	assert_int_equal(req.id, -3);
	assert_string_equal(req.cmd, "ping");
	assert_true(json_object_is_type(req.args, json_type_object));
	assert_int_equal(json_object_object_length(req.args), 0);
	proto_request_fini(&req);
	proto_request_fini(&req); /* idempotent */
}

struct bad {
	const char *line;
	enum errcode code;
	const char *field;  /* expected field or NULL for none */
	int has_id;
	int64_t id;
};

static void
test_invalid(void **state)
{
	static const struct bad cases[] = {
		{ "", ERR_BAD_REQUEST, NULL, 0, 0 },
		{ "xx", ERR_BAD_REQUEST, NULL, 0, 0 },
		{ "{", ERR_BAD_REQUEST, NULL, 0, 0 },
		{ "[1,2]", ERR_BAD_REQUEST, NULL, 0, 0 },
		{ "42", ERR_BAD_REQUEST, NULL, 0, 0 },
		{ "\"str\"", ERR_BAD_REQUEST, NULL, 0, 0 },
		{ "{\"v\":1,\"id\":1,\"cmd\":\"ping\"} {}", ERR_BAD_REQUEST, NULL,
		    0, 0 },
		{ "{\"v\":1,\"id\":1,\"cmd\":\"ping\",}", ERR_BAD_REQUEST, NULL,
		    0, 0 },
		{ "{\"id\":5,\"cmd\":\"ping\"}", ERR_BAD_REQUEST, "v", 1, 5 },
		{ "{\"v\":\"1\",\"id\":5,\"cmd\":\"ping\"}", ERR_BAD_REQUEST, "v",
		    1, 5 },
		{ "{\"v\":2,\"id\":5,\"cmd\":\"ping\"}", ERR_PROTOCOL_VERSION, "v",
		    1, 5 },
		{ "{\"v\":0,\"id\":5,\"cmd\":\"ping\"}", ERR_PROTOCOL_VERSION, "v",
		    1, 5 },
		{ "{\"v\":1,\"cmd\":\"ping\"}", ERR_BAD_REQUEST, "id", 0, 0 },
		{ "{\"v\":1,\"id\":\"7\",\"cmd\":\"ping\"}", ERR_BAD_REQUEST, "id",
		    0, 0 },
		{ "{\"v\":1,\"id\":1.5,\"cmd\":\"ping\"}", ERR_BAD_REQUEST, "id",
		    0, 0 },
		{ "{\"v\":1,\"id\":18446744073709551615,\"cmd\":\"ping\"}",
		    ERR_BAD_REQUEST, "id", 0, 0 },
		{ "{\"v\":1,\"id\":8}", ERR_BAD_REQUEST, "cmd", 1, 8 },
		{ "{\"v\":1,\"id\":8,\"cmd\":3}", ERR_BAD_REQUEST, "cmd", 1, 8 },
		{ "{\"v\":1,\"id\":8,\"cmd\":\"\"}", ERR_UNKNOWN_COMMAND, "cmd", 1,
		    8 },
		{ "{\"v\":1,\"id\":8,\"cmd\":\"PING\"}", ERR_UNKNOWN_COMMAND,
		    "cmd", 1, 8 },
		{ "{\"v\":1,\"id\":8,\"cmd\":\"p i\"}", ERR_UNKNOWN_COMMAND,
		    "cmd", 1, 8 },
		{ "{\"v\":1,\"id\":9,\"cmd\":\"ping\",\"args\":[]}",
		    ERR_BAD_REQUEST, "args", 1, 9 },
		{ "{\"v\":1,\"id\":9,\"cmd\":\"ping\",\"args\":null}",
		    ERR_BAD_REQUEST, "args", 1, 9 },
		{ "{\"v\":1,\"id\":9,\"cmd\":\"ping\",\"extra\":1}",
		    ERR_BAD_REQUEST, "extra", 1, 9 },
		/* invalid UTF-8 */
		{ "{\"v\":1,\"id\":9,\"cmd\":\"ping\",\"args\":{\"n\":\"\xff\"}}",
		    ERR_BAD_REQUEST, NULL, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proto_request req;
		struct errbuf e;
		int r = parse(cases[i].line, &req, &e);

		if (r >= 0 || e.code != cases[i].code ||
		    strcmp(e.field, cases[i].field ? cases[i].field : "") != 0) {
			print_message("case %zu '%s': r=%d code=%s msg=%s "
			    "field=%s\n", i, cases[i].line, r,
			    errcode_name(e.code), e.msg, e.field);
		}
		assert_true(r < 0);
		assert_int_equal(e.code, cases[i].code);
		assert_true(e.msg[0] != '\0');
		assert_null(req.root);
		if (cases[i].field) {
			assert_string_equal(e.field, cases[i].field);
		} else {
			assert_string_equal(e.field, "");
		}
		assert_int_equal(req.has_id, cases[i].has_id);
		if (cases[i].has_id) {
			assert_int_equal(req.id, cases[i].id);
		}
	}
}

static void
test_nul_byte(void **state)
{
	static const char line[] = "{\"v\":1,\"id\":1,\"cmd\":\"ping\"}\0x";
	struct proto_request req;
	struct errbuf e;

	errbuf_clear(&e);
	assert_int_equal(proto_request_parse(line, sizeof(line) - 1, &req, &e),
	    -EBADMSG);
	assert_int_equal(e.code, ERR_BAD_REQUEST);
}

static void
test_oversize(void **state)
{
	size_t n = PROTO_LINE_MAX; /* + '\n' would be one byte too many */
	char *line = malloc(n);
	struct proto_request req;
	struct errbuf e;
	const char *head = "{\"v\":1,\"id\":1,\"cmd\":\"ping\",\"args\":{\"x\":\"";
	size_t hl = strlen(head);

	assert_non_null(line);
	memcpy(line, head, hl);
	memset(line + hl, 'a', n - hl - 3);
	memcpy(line + n - 3, "\"}}", 3);
	errbuf_clear(&e);
	assert_int_equal(proto_request_parse(line, n, &req, &e), -E2BIG);
	assert_int_equal(e.code, ERR_LINE_TOO_LONG);

	/* one byte shorter fits exactly (PROTO_LINE_MAX with its '\n') */
	memset(line + hl, 'a', n - 1 - hl - 3);
	memcpy(line + n - 1 - 3, "\"}}", 3);
	assert_int_equal(proto_request_parse(line, n - 1, &req, &e), 0);
	proto_request_fini(&req);
	free(line);
}

static void
test_depth_bomb(void **state)
{
	char line[8192];
	size_t n = 0;
	struct proto_request req;
	struct errbuf e;

	n += (size_t) snprintf(line, sizeof(line),
	    "{\"v\":1,\"id\":1,\"cmd\":\"ping\",\"args\":{\"a\":");
	for (int i = 0; i < 3000; i++) {
		line[n++] = '[';
	}
	line[n] = '\0';
	errbuf_clear(&e);
	assert_int_equal(proto_request_parse(line, n, &req, &e), -EBADMSG);
	assert_int_equal(e.code, ERR_BAD_REQUEST);
	assert_non_null(strstr(e.msg, "nested"));

	/* just under the limit is fine: args(2) + 13 arrays < 16 */
	n = (size_t) snprintf(line, sizeof(line),
	    "{\"v\":1,\"id\":1,\"cmd\":\"ping\",\"args\":{\"a\":"
	    "[[[[[[[[[[[[[1]]]]]]]]]]]]]}}");
	assert_int_equal(proto_request_parse(line, n, &req, &e), 0);
	proto_request_fini(&req);
}

static void
test_build(void **state)
{
	char *line = NULL;
	size_t len = 0;
	struct errbuf e;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "pong", json_object_new_boolean(1));
	assert_int_equal(proto_build_reply(7, true, o, &line, &len), 0);
	assert_string_equal(line,
	    "{\"v\":1,\"id\":7,\"ok\":true,\"result\":{\"pong\":true}}\n");
	assert_int_equal(len, strlen(line));
	free(line);
	json_object_put(o); /* borrowed by the builder */

	assert_int_equal(proto_build_reply(0, false, NULL, &line, &len), 0);
	assert_string_equal(line,
	    "{\"v\":1,\"id\":null,\"ok\":true,\"result\":{}}\n");
	free(line);

	errbuf_set(&e, ERR_NO_SUCH_TIMER, -ENOENT, "no timer for '%s'",
	    "54321\n{\"forged\":1}");
	errbuf_set_field(&e, "target");
	assert_int_equal(proto_build_error(8, true, &e, &line, &len), 0);
	assert_string_equal(line,
	    "{\"v\":1,\"id\":8,\"ok\":false,\"error\":{\"code\":\"no-such-timer\","
	    "\"message\":\"no timer for '54321\\n{\\\"forged\\\":1}'\","
	    "\"field\":\"target\"}}\n");
	/* exactly one newline: the one that ends the line */
	assert_ptr_equal(strchr(line, '\n'), line + len - 1);
	free(line);

	errbuf_clear(&e);
	assert_int_equal(proto_build_error(0, false, &e, &line, &len), 0);
	assert_string_equal(line,
	    "{\"v\":1,\"id\":null,\"ok\":false,\"error\":{\"code\":\"internal\","
	    "\"message\":\"internal error\"}}\n");
	free(line);

	o = json_object_new_object();
	json_object_object_add(o, "target", json_object_new_string("a/b"));
	assert_int_equal(proto_build_event("timer", 12, o, &line, &len), 0);
	assert_string_equal(line,
	    "{\"v\":1,\"event\":\"timer\",\"seq\":12,\"data\":{\"target\":\"a/b\"}}\n");
	free(line);
	json_object_put(o);

	assert_int_equal(proto_build_request(3, "ping", NULL, &line, &len), 0);
	assert_string_equal(line, "{\"v\":1,\"id\":3,\"cmd\":\"ping\"}\n");
	free(line);
}

static void
test_build_too_big(void **state)
{
	char *big = malloc(PROTO_LINE_MAX);
	json_object *o = json_object_new_object();
	char *line = NULL;
	size_t len;

	memset(big, 'x', PROTO_LINE_MAX - 1);
	big[PROTO_LINE_MAX - 1] = '\0';
	json_object_object_add(o, "x", json_object_new_string(big));
	assert_int_equal(proto_build_reply(1, true, o, &line, &len), -E2BIG);
	assert_null(line);
	json_object_put(o);
	free(big);
}

static void
test_parse_object(void **state)
{
	json_object *o = NULL;
	struct errbuf e;
	const char *reply = "{\"v\":1,\"id\":1,\"ok\":true,\"result\":{}}";

	assert_int_equal(proto_parse_object(reply, strlen(reply), &o, &e), 0);
	assert_true(json_object_is_type(o, json_type_object));
	json_object_put(o);
	assert_true(proto_parse_object("[]", 2, &o, &e) < 0);
	assert_int_equal(e.code, ERR_BAD_REQUEST);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_depth_bomb),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_build_too_big),
		cmocka_unit_test(test_parse_object),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
