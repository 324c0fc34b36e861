/*
 * test-client-output.c - the exact bytes of every status format for the
 * running, paused, idle, offline and error states, templates with Pango
 * escaping, and the generic result printer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <json-c/json.h>

#include "client/output.h"
#include "common/errcode.h"

static const char running_json[] =
    "{\"timers\":[{\"target\":\"ticket:54321\",\"summary\":\"Printer "
    "<offline> & co\",\"state\":\"running\",\"elapsed_s\":4980,"
    "\"pause_reason\":null,\"billable_option\":\"Billable\","
    "\"work_type\":\"Remote\",\"focus\":true}],"
    "\"queue\":{\"pending\":0,\"unknown\":0,\"rejected\":0,"
    "\"oldest_pending_age_s\":0},"
    "\"submission\":{\"state\":\"ok\",\"reason\":\"\"},"
    "\"max_duration_s\":36000}";

/* Two timers: the focused one is paused (by the screen lock). */
static const char paused_json[] =
    "{\"timers\":[{\"target\":\"project:12\",\"summary\":\"\","
    "\"state\":\"paused\",\"elapsed_s\":59,\"pause_reason\":\"manual\"},"
    "{\"target\":\"54400\",\"summary\":\"VPN\",\"state\":\"paused\","
    "\"elapsed_s\":600,\"pause_reason\":\"lock\",\"focus\":true}],"
    "\"queue\":{\"pending\":2,\"unknown\":1,\"rejected\":0},"
    "\"submission\":{\"state\":\"offline\",\"reason\":\"no route\"},"
    "\"max_duration_s\":0}";

static const char idle_json[] =
    "{\"timers\":[],\"queue\":{\"pending\":0,\"unknown\":0,"
    "\"rejected\":0},\"submission\":{\"state\":\"ok\",\"reason\":\"\"},"
    "\"max_duration_s\":36000}";

/* A running timer while ConnectWise cannot be reached. */
static const char error_json[] =
    "{\"timers\":[{\"target\":\"ticket:54321\",\"summary\":\"Printer\","
    "\"state\":\"running\",\"elapsed_s\":40000,\"focus\":true}],"
    "\"queue\":{\"pending\":1,\"unknown\":0,\"rejected\":0},"
    "\"submission\":{\"state\":\"api-unreachable\","
    "\"reason\":\"connect timed out\"},\"max_duration_s\":36000}";

enum st { RUNNING, PAUSED, IDLE, OFFLINE, ERROR, N_ST };

static const char *const inputs[N_ST] = {
    running_json,
    paused_json,
    idle_json,
    NULL,
    error_json,
};

struct expect {
	enum output_format fmt;
	bool follow;
	const char *out[N_ST];
	bool urgent[N_ST];
};

static const struct expect expects[] = {
    {OUTPUT_PLAIN, false,
	{
	    "#54321 1:23\n",
	    "#54400 0:10 paused\n",
	    "idle\n",
	    "offline\n",
	    "#54321 11:06 !\n",
	},
	{false}},
    {OUTPUT_POLYBAR, false,
	{
	    "#54321 1:23\n",
	    "#54400 0:10 paused\n",
	    "idle\n",
	    "offline\n",
	    "#54321 11:06 !\n",
	},
	{false}},
    {OUTPUT_TMUX, true,
	{
	    "#54321 1:23\n",
	    "#54400 0:10 paused\n",
	    "idle\n",
	    "offline\n",
	    "#54321 11:06 !\n",
	},
	{false}},
    {OUTPUT_HUMAN, false,
	{
	    "* #54321 1:23 running Printer <offline> & co\n",
	    "  project:12 0:00 paused (manual)\n"
	    "* #54400 0:10 paused (lock) VPN\n"
	    "queue: 2 pending, 1 unknown, 0 rejected\n"
	    "submission: offline: no route\n",
	    "no timers\n",
	    "cwtimed is not running\n",
	    "* #54321 11:06 running Printer\n"
	    "queue: 1 pending, 0 unknown, 0 rejected\n"
	    "submission: api-unreachable: connect timed out\n",
	},
	{false}},
    {OUTPUT_HUMAN, true,
	{
	    "#54321 1:23\n",
	    "#54400 0:10 paused\n",
	    "idle\n",
	    "offline\n",
	    "#54321 11:06 !\n",
	},
	{false}},
    {OUTPUT_WAYBAR, false,
	{
	    "{\"text\":\"#54321 1:23\",\"alt\":\"running\","
	    "\"tooltip\":\"#54321 1:23 running Printer &lt;offline&gt; "
	    "&amp; co\",\"class\":\"running\",\"percentage\":13}\n",
	    "{\"text\":\"#54400 0:10 paused\",\"alt\":\"paused\","
	    "\"tooltip\":\"project:12 0:00 paused (manual)\\n"
	    "#54400 0:10 paused (lock) VPN\\n"
	    "queue: 2 pending, 1 unknown, 0 rejected\\n"
	    "submission: offline: no route\",\"class\":\"paused\","
	    "\"percentage\":0}\n",
	    "{\"text\":\"idle\",\"alt\":\"idle\",\"tooltip\":\"no timers\","
	    "\"class\":\"idle\",\"percentage\":0}\n",
	    "{\"text\":\"offline\",\"alt\":\"offline\","
	    "\"tooltip\":\"cwtimed is not running\",\"class\":\"offline\","
	    "\"percentage\":0}\n",
	    "{\"text\":\"#54321 11:06 !\",\"alt\":\"error\","
	    "\"tooltip\":\"#54321 11:06 running Printer\\n"
	    "queue: 1 pending, 0 unknown, 0 rejected\\n"
	    "submission: api-unreachable: connect timed out\","
	    "\"class\":\"error\",\"percentage\":100}\n",
	},
	{false}},
    {OUTPUT_I3BLOCKS, false,
	{
	    "#54321 1:23\n1:23\n#A3BE8C\n",
	    "#54400 0:10 paused\n0:10\n#EBCB8B\n",
	    "idle\nidle\n\n",
	    "offline\noffline\n#808080\n",
	    "#54321 11:06 !\n11:06\n#BF616A\n",
	},
	{false, false, false, false, true}},
    {OUTPUT_I3BLOCKS, true,
	{
	    "#54321 1:23\n",
	    "#54400 0:10 paused\n",
	    "idle\n",
	    "offline\n",
	    "#54321 11:06 !\n",
	},
	{false}},
    {OUTPUT_I3BLOCKS_JSON, false,
	{
	    "{\"full_text\":\"#54321 1:23\",\"short_text\":\"1:23\","
	    "\"color\":\"#A3BE8C\"}\n",
	    "{\"full_text\":\"#54400 0:10 paused\",\"short_text\":\"0:10\","
	    "\"color\":\"#EBCB8B\"}\n",
	    "{\"full_text\":\"idle\",\"short_text\":\"idle\"}\n",
	    "{\"full_text\":\"offline\",\"short_text\":\"offline\","
	    "\"color\":\"#808080\"}\n",
	    /* urgent as a string: i3blocks 1.4 drops a JSON boolean */
	    "{\"full_text\":\"#54321 11:06 !\",\"short_text\":\"11:06\","
	    "\"color\":\"#BF616A\",\"urgent\":\"true\"}\n",
	},
	{false}},
    {OUTPUT_I3BLOCKS_JSON, true,
	{
	    "{\"full_text\":\"#54321 1:23\",\"short_text\":\"1:23\","
	    "\"color\":\"#A3BE8C\"}\n",
	    NULL,
	    "{\"full_text\":\"idle\",\"short_text\":\"idle\"}\n",
	    NULL,
	    "{\"full_text\":\"#54321 11:06 !\",\"short_text\":\"11:06\","
	    "\"color\":\"#BF616A\",\"urgent\":\"true\"}\n",
	},
	{false}},
    {OUTPUT_JSON, false,
	{
	    NULL, /* checked field by field below */
	    NULL,
	    "{\"state\":\"idle\",\"text\":\"idle\",\"timers\":[],"
	    "\"queue\":{\"pending\":0,\"unknown\":0,\"rejected\":0},"
	    "\"submission\":{\"state\":\"ok\",\"reason\":\"\"},"
	    "\"max_duration_s\":36000}\n",
	    "{\"state\":\"offline\",\"text\":\"offline\"}\n",
	    NULL,
	},
	{false}},
};

static json_object *
parse_json(const char *s)
{
	json_object *o;

	if (!s) {
		return NULL;
	}
	o = json_tokener_parse(s); /* trusted test data */
	assert_non_null(o);
	return o;
}

static void
test_formats(void **state)
{
	(void) state;
	for (size_t i = 0; i < sizeof(expects) / sizeof(expects[0]); i++) {
		for (int s = 0; s < N_ST; s++) {
			json_object *in = parse_json(inputs[s]);
			char *out = NULL;
			bool urgent = true;

			if (!expects[i].out[s]) {
				json_object_put(in);
				continue;
			}
			assert_int_equal(
			    output_status(in, NULL, expects[i].fmt, NULL,
				expects[i].follow, &out, &urgent),
			    0);
			if (strcmp(out, expects[i].out[s]) != 0) {
				fail_msg("format %d follow %d state %d:\n"
					 "got  [%s]\nwant [%s]",
				    expects[i].fmt, expects[i].follow, s, out,
				    expects[i].out[s]);
			}
			assert_int_equal(urgent, expects[i].urgent[s]);
			free(out);
			json_object_put(in);
		}
	}
}

/* The json format adds "state" and "text" and keeps the daemon's fields. */
static void
test_json_format(void **state)
{
	json_object *in = parse_json(error_json), *out_o, *v;
	char *out = NULL;

	(void) state;
	assert_int_equal(
	    output_status(in, NULL, OUTPUT_JSON, NULL, false, &out, NULL), 0);
	static const char head[] = "{\"state\":\"error\",\"text\":\"#54321 "
				   "11:06 !\",\"timers\":";

	assert_memory_equal(out, head, strlen(head));
	/* one line: the only newline is the last byte */
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
	out_o = json_tokener_parse(out);
	assert_non_null(out_o);
	assert_true(json_object_object_get_ex(out_o, "max_duration_s", &v));
	assert_int_equal(json_object_get_int(v), 36000);
	json_object_put(out_o);
	free(out);
	json_object_put(in);
}

/* The status request itself failed: error state with its message. */
static void
test_request_failed(void **state)
{
	char *out = NULL;
	bool urgent = false;

	(void) state;
	assert_int_equal(output_status(NULL, "unknown command 'status'",
			     OUTPUT_WAYBAR, NULL, false, &out, &urgent),
	    0);
	assert_string_equal(out,
	    "{\"text\":\"error\",\"alt\":\"error\",\"tooltip\":\"unknown "
	    "command &#39;status&#39;\",\"class\":\"error\","
	    "\"percentage\":0}\n");
	assert_false(urgent);
	free(out);
	assert_int_equal(output_status(NULL, "boom", OUTPUT_I3BLOCKS, NULL,
			     false, &out, &urgent),
	    0);
	assert_string_equal(out, "error\nerror\n#BF616A\n");
	assert_true(urgent);
	free(out);
	assert_int_equal(
	    output_status(NULL, "boom", OUTPUT_JSON, NULL, false, &out, NULL),
	    0);
	assert_string_equal(out,
	    "{\"state\":\"error\",\"text\":\"error\",\"error\":\"boom\"}\n");
	free(out);
}

/* A rejected entry is the error state even with nothing else wrong. */
static void
test_rejected_is_error(void **state)
{
	json_object *in = parse_json("{\"timers\":[],\"queue\":"
				     "{\"rejected\":1},\"submission\":"
				     "{\"state\":\"ok\"}}");
	char *out = NULL;
	bool urgent = false;

	(void) state;
	assert_int_equal(output_status(in, NULL, OUTPUT_I3BLOCKS, NULL, false,
			     &out, &urgent),
	    0);
	assert_string_equal(out, "error\nerror\n#BF616A\n");
	assert_true(urgent);
	free(out);
	json_object_put(in);
}

static void
test_templates(void **state)
{
	json_object *in = parse_json(running_json);
	char *out = NULL;
	struct errbuf e;

	(void) state;
	assert_int_equal(output_status(in, NULL, OUTPUT_WAYBAR,
			     "<b>{label}</b> {summary} {{{percentage}%}}",
			     false, &out, NULL),
	    0);
	static const char want[] = "{\"text\":\"<b>#54321</b> Printer "
				   "&lt;offline&gt; &amp; co {13%}\",";

	assert_memory_equal(out, want, strlen(want));
	free(out);
	assert_int_equal(
	    output_status(in, NULL, OUTPUT_PLAIN,
		"{target}|{state}|{elapsed_s}|{billing}|{work_type}|{timers}|"
		"{queued}|{pending}|{unknown}|{rejected}|{submission}|{reason}|"
		"{pause_reason}",
		false, &out, NULL),
	    0);
	assert_string_equal(out,
	    "ticket:54321|running|4980|Billable|Remote|"
	    "1|0|0|0|0|ok||\n");
	free(out);
	/* without a timer the text is the state word, template or not */
	json_object_put(in);
	in = parse_json(idle_json);
	assert_int_equal(
	    output_status(in, NULL, OUTPUT_TMUX, "{label}!", false, &out, NULL),
	    0);
	assert_string_equal(out, "idle\n");
	free(out);
	json_object_put(in);

	assert_int_equal(output_template_check("{label} {elapsed}", &e), 0);
	assert_int_equal(output_template_check("{{x}}", &e), 0);
	assert_true(output_template_check("{nope}", &e) < 0);
	assert_int_equal(e.code, ERR_USAGE);
	assert_true(output_template_check("{label", &e) < 0);
	assert_true(output_template_check("a}b", &e) < 0);
}

static void
test_format_names(void **state)
{
	(void) state;
	assert_int_equal(output_format_from_name(NULL), OUTPUT_HUMAN);
	assert_int_equal(output_format_from_name("waybar"), OUTPUT_WAYBAR);
	assert_int_equal(output_format_from_name("I3BLOCKS"), OUTPUT_I3BLOCKS);
	assert_int_equal(output_format_from_name("human"), OUTPUT_INVALID);
	assert_int_equal(output_format_from_name("xml"), OUTPUT_INVALID);
}

static void
test_label(void **state)
{
	char buf[64];

	(void) state;
	assert_string_equal(
	    output_label("ticket:54321", buf, sizeof(buf)), "#54321");
	assert_string_equal(output_label("54321", buf, sizeof(buf)), "#54321");
	assert_string_equal(
	    output_label("project:12", buf, sizeof(buf)), "project:12");
	assert_string_equal(
	    output_label("ticket:", buf, sizeof(buf)), "ticket:");
}

static void
test_generic(void **state)
{
	json_object *in = parse_json("{\"id\":9001,\"notes\":\"a\","
				     "\"company\":{\"id\":250,\"name\":\"X\"},"
				     "\"ids\":[1,{\"ok\":true}],\"x\":null}");
	char *out;

	(void) state;
	out = output_result_human(in);
	assert_string_equal(out,
	    "id: 9001\nnotes: a\ncompany:\n  id: 250\n"
	    "  name: X\nids:\n  - 1\n  -\n    ok: true\n"
	    "x: null\n");
	free(out);
	json_object_put(in);
	in = json_object_new_object();
	out = output_result_human(in);
	assert_string_equal(out, "");
	free(out);
	json_object_put(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_formats),
	    cmocka_unit_test(test_json_format),
	    cmocka_unit_test(test_request_failed),
	    cmocka_unit_test(test_rejected_is_error),
	    cmocka_unit_test(test_templates),
	    cmocka_unit_test(test_format_names),
	    cmocka_unit_test(test_label),
	    cmocka_unit_test(test_generic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
