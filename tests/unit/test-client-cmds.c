/*
 * test-client-cmds.c - cwtimectl's verb table and parser: argv -> the exact
 * request line, prefix lookup, usage errors (nothing built), and the
 * table's own consistency (sorted, usage lines name every option).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "client/cmds.h"
#include "common/errcode.h"

/* 2026-11-29T12:00:00Z: TIME values must lie before it. */
#define NOW 1795953600

#define ARGV(...) ((const char *const[]){"cwtimectl", __VA_ARGS__, NULL})

static int
argc_of(const char *const *argv)
{
	int n = 0;

	while (argv[n]) {
		n++;
	}
	return n;
}

static int
parse(const char *const *argv, struct cmd_request *r, struct errbuf *e)
{
	struct cmd_ctx ctx = {.now = NOW};

	memset(r, 0, sizeof(*r));
	errbuf_clear(e);
	return cmds_parse(argc_of(argv), (char **) argv, &ctx, r, e);
}

struct good {
	const char *const *argv;
	const char *line;
};

static void
test_requests(void **state)
{
	const struct good cases[] = {
	    {ARGV("ping"), "{\"v\":1,\"id\":1,\"cmd\":\"ping\"}"},
	    {ARGV("version"), "{\"v\":1,\"id\":1,\"cmd\":\"version\"}"},
	    {ARGV("start", "54321"),
		"{\"v\":1,\"id\":1,\"cmd\":\"start\",\"args\":"
		"{\"target\":\"54321\"}}"},
	    {ARGV("start", "54321", "--work-type", "Remote", "--ago", "10m"),
		"{\"v\":1,\"id\":1,\"cmd\":\"start\",\"args\":"
		"{\"target\":\"54321\",\"ago_s\":600,"
		"\"work_type\":\"Remote\"}}"},
	    {ARGV("start", "project:12", "--at", "09:00", "--billing",
		 "nocharge", "--notes=a b", "--agreement", "77", "--add-to",
		 "detail,internal", "--email", "contact", "--email-cc",
		 "x@example.com", "--role", "Engineer", "--internal-notes",
		 "int"),
		"{\"v\":1,\"id\":1,\"cmd\":\"start\",\"args\":"
		"{\"target\":\"project:12\",\"at\":1795942800,"
		"\"role\":\"Engineer\",\"billing\":\"NoCharge\","
		"\"notes\":\"a b\",\"internal_notes\":\"int\","
		"\"agreement\":77,\"add_to\":\"detail,internal\","
		"\"email\":\"contact\",\"email_cc\":\"x@example.com\"}}"},
	    {ARGV("star", "54321"),
		"{\"v\":1,\"id\":1,\"cmd\":\"start\",\"args\":"
		"{\"target\":\"54321\"}}"},
	    {ARGV("stop"), "{\"v\":1,\"id\":1,\"cmd\":\"stop\"}"},
	    {ARGV("stop", "--all", "--submit", "--at-heartbeat"),
		"{\"v\":1,\"id\":1,\"cmd\":\"stop\",\"args\":"
		"{\"all\":true,\"at_heartbeat\":true,\"submit\":true}}"},
	    {ARGV("stop", "54321", "--notes", "done", "--ago", "1h30m"),
		"{\"v\":1,\"id\":1,\"cmd\":\"stop\",\"args\":"
		"{\"target\":\"54321\",\"notes\":\"done\","
		"\"ago_s\":5400}}"},
	    {ARGV("pause"), "{\"v\":1,\"id\":1,\"cmd\":\"pause\"}"},
	    {ARGV("resume", "54321"),
		"{\"v\":1,\"id\":1,\"cmd\":\"resume\",\"args\":"
		"{\"target\":\"54321\"}}"},
	    {ARGV("toggle"), "{\"v\":1,\"id\":1,\"cmd\":\"toggle\"}"},
	    {ARGV("switch", "54400"),
		"{\"v\":1,\"id\":1,\"cmd\":\"switch\",\"args\":"
		"{\"target\":\"54400\"}}"},
	    {ARGV("cancel", "--yes"),
		"{\"v\":1,\"id\":1,\"cmd\":\"cancel\",\"args\":"
		"{\"yes\":true}}"},
	    {ARGV(
		 "set", "54321", "--billing", "DoNotBill", "--work-type", "12"),
		"{\"v\":1,\"id\":1,\"cmd\":\"set\",\"args\":"
		"{\"target\":\"54321\",\"work_type\":\"12\","
		"\"billing\":\"DoNotBill\"}}"},
	    {ARGV("note", "54321", "called", "the", "customer"),
		"{\"v\":1,\"id\":1,\"cmd\":\"note\",\"args\":"
		"{\"target\":\"54321\",\"text\":\"called the customer\"}}"},
	    {ARGV("note", "54321", "--", "-5 degrees"),
		"{\"v\":1,\"id\":1,\"cmd\":\"note\",\"args\":"
		"{\"target\":\"54321\",\"text\":\"-5 degrees\"}}"},
	    {ARGV("adjust", "54321", "--start", "2026-11-29T08:15:00Z"),
		"{\"v\":1,\"id\":1,\"cmd\":\"adjust\",\"args\":"
		"{\"target\":\"54321\",\"start\":1795940100}}"},
	    {ARGV("log", "54321", "1h30m", "--at", "2026-11-29 08:00",
		 "--dry-run", "--work-type", "Remote"),
		"{\"v\":1,\"id\":1,\"cmd\":\"log\",\"args\":"
		"{\"target\":\"54321\",\"duration_s\":5400,"
		"\"at\":1795939200,\"dry_run\":true,"
		"\"work_type\":\"Remote\"}}"},
	    /* code:N needs a company; both go as typed, in table order */
	    {ARGV("start", "code:7", "--member", "jdoe", "--company",
		 "ACME"),
		"{\"v\":1,\"id\":1,\"cmd\":\"start\",\"args\":"
		"{\"target\":\"code:7\",\"company\":\"ACME\","
		"\"member\":\"jdoe\"}}"},
	    {ARGV("log", "code:7", "45m", "--company=19297", "--member",
		 "178"),
		"{\"v\":1,\"id\":1,\"cmd\":\"log\",\"args\":"
		"{\"target\":\"code:7\",\"duration_s\":2700,"
		"\"company\":\"19297\",\"member\":\"178\"}}"},
	    {ARGV("list"), "{\"v\":1,\"id\":1,\"cmd\":\"list\"}"},
	    {ARGV("status", "--format", "waybar"),
		"{\"v\":1,\"id\":1,\"cmd\":\"status\"}"},
	    {ARGV("follow", "--template", "{label}"),
		"{\"v\":1,\"id\":1,\"cmd\":\"subscribe\"}"},
	    {ARGV("recent", "--limit", "5"),
		"{\"v\":1,\"id\":1,\"cmd\":\"recent\",\"args\":"
		"{\"limit\":5}}"},
	    {ARGV("queue"), "{\"v\":1,\"id\":1,\"cmd\":\"queue\"}"},
	    {ARGV("queue", "--all"),
		"{\"v\":1,\"id\":1,\"cmd\":\"queue\",\"args\":"
		"{\"all\":true}}"},
	    {ARGV("queue", "retry", "3f2a"),
		"{\"v\":1,\"id\":1,\"cmd\":\"queue.retry\",\"args\":"
		"{\"id\":\"3f2a\"}}"},
	    {ARGV("queue", "ed", "12", "--notes", "x"),
		"{\"v\":1,\"id\":1,\"cmd\":\"queue.edit\",\"args\":"
		"{\"id\":\"12\",\"notes\":\"x\"}}"},
	    {ARGV("queue", "drop", "12", "--yes"),
		"{\"v\":1,\"id\":1,\"cmd\":\"queue.drop\",\"args\":"
		"{\"id\":\"12\",\"yes\":true}}"},
	    {ARGV("queue", "pause"),
		"{\"v\":1,\"id\":1,\"cmd\":\"queue.pause\"}"},
	    {ARGV("queue", "resume"),
		"{\"v\":1,\"id\":1,\"cmd\":\"queue.resume\"}"},
	    {ARGV("flush"), "{\"v\":1,\"id\":1,\"cmd\":\"flush\"}"},
	    {ARGV("entries", "--member", "me", "--since", "2026-11-01",
		 "--until", "2026-11-05", "--billing", "billable", "--limit",
		 "50", "--unbilled", "--order-by", "timeStart desc",
		 "--company", "250"),
		"{\"v\":1,\"id\":1,\"cmd\":\"entries\",\"args\":"
		"{\"member\":\"me\",\"company\":250,"
		"\"since\":1793491200,\"until\":1793923200,"
		"\"billing\":\"Billable\",\"order_by\":\"timeStart desc\","
		"\"limit\":50,\"unbilled\":true}}"},
	    {ARGV("entries", "--member", "42", "--today", "--mine",
		 "--this-week", "--awaiting-billing", "--conditions",
		 "billableOption=\"Billable\"", "--target", "54321", "--status",
		 "Open", "--work-type", "Remote"),
		"{\"v\":1,\"id\":1,\"cmd\":\"entries\",\"args\":"
		"{\"target\":\"54321\",\"member\":42,\"status\":\"Open\","
		"\"work_type\":\"Remote\","
		"\"conditions\":\"billableOption=\\\"Billable\\\"\","
		"\"mine\":true,\"today\":true,\"this_week\":true,"
		"\"awaiting_billing\":true}}"},
	    {ARGV("entry", "show", "9001"),
		"{\"v\":1,\"id\":1,\"cmd\":\"entry.show\",\"args\":"
		"{\"id\":9001}}"},
	    {ARGV("entry", "edit", "9001", "--hours", "1.5", "--deduct", "0.25",
		 "--end", "11:00", "--start", "10:00"),
		"{\"v\":1,\"id\":1,\"cmd\":\"entry.edit\",\"args\":"
		"{\"id\":9001,\"hours\":1.5,\"start\":1795946400,"
		"\"end\":1795950000,\"deduct\":0.25}}"},
	    {ARGV("entry", "delete", "9001", "--yes"),
		"{\"v\":1,\"id\":1,\"cmd\":\"entry.delete\",\"args\":"
		"{\"id\":9001,\"yes\":true}}"},
	    {ARGV("approve", "1", "2", "3"),
		"{\"v\":1,\"id\":1,\"cmd\":\"approve\",\"args\":"
		"{\"ids\":[1,2,3]}}"},
	    {ARGV("reject", "7", "--reason", "wrong ticket"),
		"{\"v\":1,\"id\":1,\"cmd\":\"reject\",\"args\":"
		"{\"ids\":[7],\"reason\":\"wrong ticket\"}}"},
	    {ARGV("sheets", "--member", "me", "--year", "2026", "--period",
		 "48", "--status", "Open"),
		"{\"v\":1,\"id\":1,\"cmd\":\"sheets\",\"args\":"
		"{\"member\":\"me\",\"year\":2026,\"period\":48,"
		"\"status\":\"Open\"}}"},
	    {ARGV("sheet", "show", "3"),
		"{\"v\":1,\"id\":1,\"cmd\":\"sheet.show\",\"args\":"
		"{\"id\":3}}"},
	    {ARGV("sheet", "submit", "3"),
		"{\"v\":1,\"id\":1,\"cmd\":\"sheet.submit\",\"args\":"
		"{\"id\":3}}"},
	    {ARGV("sheet", "approve", "3", "4", "--tier", "2"),
		"{\"v\":1,\"id\":1,\"cmd\":\"sheet.approve\",\"args\":"
		"{\"ids\":[3,4],\"tier\":2}}"},
	    {ARGV("sheet", "reject", "3"),
		"{\"v\":1,\"id\":1,\"cmd\":\"sheet.reject\",\"args\":"
		"{\"ids\":[3]}}"},
	    {ARGV("sheet", "reverse", "3"),
		"{\"v\":1,\"id\":1,\"cmd\":\"sheet.reverse\",\"args\":"
		"{\"id\":3}}"},
	    {ARGV("worktypes", "--refresh"),
		"{\"v\":1,\"id\":1,\"cmd\":\"worktypes\",\"args\":"
		"{\"refresh\":true}}"},
	    {ARGV("roles"), "{\"v\":1,\"id\":1,\"cmd\":\"roles\"}"},
	    {ARGV("codes"), "{\"v\":1,\"id\":1,\"cmd\":\"codes\"}"},
	    /* global options before and after the verb */
	    {ARGV("--json", "ping"), "{\"v\":1,\"id\":1,\"cmd\":\"ping\"}"},
	    {ARGV("ping", "--json", "--socket", "/x"),
		"{\"v\":1,\"id\":1,\"cmd\":\"ping\"}"},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cmd_request r;
		struct errbuf e;
		int k = parse(cases[i].argv, &r, &e);

		if (k < 0) {
			fail_msg(
			    "case %zu (%s): %s", i, cases[i].argv[1], e.msg);
		}
		char *line = cmds_request_line(&r, 1);

		assert_non_null(line);
		if (strcmp(line, cases[i].line) != 0) {
			fail_msg("case %zu:\n got  %s\n want %s", i, line,
			    cases[i].line);
		}
		free(line);
		cmds_request_fini(&r);
	}
}

static void
test_globals(void **state)
{
	struct cmd_request r;
	struct errbuf e;

	(void) state;
	assert_int_equal(
	    parse(ARGV("--json", "--socket", "/a", "ping"), &r, &e), 0);
	assert_true(r.json);
	assert_string_equal(r.socket, "/a");
	cmds_request_fini(&r);

	assert_int_equal(
	    parse(ARGV("ping", "--socket=/b", "--json"), &r, &e), 0);
	assert_true(r.json);
	assert_string_equal(r.socket, "/b");
	cmds_request_fini(&r);

	assert_int_equal(parse(ARGV("status", "--format", "I3Blocks",
				   "--template", "{label} {elapsed}"),
			     &r, &e),
	    0);
	assert_string_equal(r.format, "I3Blocks");
	assert_string_equal(r.template, "{label} {elapsed}");
	assert_null(r.args); /* local options are never sent */
	cmds_request_fini(&r);

	assert_int_equal(parse(ARGV("help", "queue", "retry"), &r, &e), 0);
	assert_string_equal(r.help_topic, "queue retry");
	assert_int_equal(r.cmd->kind, CMD_KIND_HELP);
	cmds_request_fini(&r);

	assert_int_equal(parse(ARGV("start", "--help"), &r, &e), 0);
	assert_true(r.help);
	assert_string_equal(r.cmd->name, "start");
	cmds_request_fini(&r);

	assert_int_equal(parse(ARGV("entry", "-h"), &r, &e), 0);
	assert_true(r.help);
	cmds_request_fini(&r);

	assert_int_equal(parse(ARGV("--version"), &r, &e), 0);
	assert_true(r.version);
	assert_null(r.cmd);
	cmds_request_fini(&r);

	assert_int_equal(parse(ARGV("--completions", "fish"), &r, &e), 0);
	assert_string_equal(r.completions, "fish");
	cmds_request_fini(&r);
}

struct bad {
	const char *const *argv;
	enum errcode code;
	const char *msg; /* a substring of the message */
};

static void
test_usage_errors(void **state)
{
	const struct bad cases[] = {
	    {ARGV("st"), ERR_USAGE,
		"ambiguous command 'st', could be: start, status, stop"},
	    {ARGV("entr", "show", "1"), ERR_USAGE,
		"ambiguous command 'entr', could be: entries, entry"},
	    {ARGV("frobnicate"), ERR_USAGE, "unknown command 'frobnicate'"},
	    {ARGV("--bogus", "ping"), ERR_USAGE, "unknown option '--bogus'"},
	    {ARGV("ping", "--bogus"), ERR_USAGE,
		"unknown option '--bogus' for 'ping'"},
	    {ARGV("ping", "-x"), ERR_USAGE, "unknown option '-x'"},
	    {ARGV("ping", "extra"), ERR_USAGE, "unexpected argument 'extra'"},
	    {ARGV("start"), ERR_USAGE, "missing TARGET"},
	    {ARGV("start", "1", "--at", "09:00", "--ago", "5m"), ERR_USAGE,
		"--at and --ago exclude each other"},
	    {ARGV("stop", "1", "--all"), ERR_USAGE,
		"TARGET and --all exclude each other"},
	    {ARGV("stop", "--all=yes"), ERR_USAGE, "takes no value"},
	    {ARGV("start", "1", "--notes", "a", "--notes", "b"), ERR_USAGE,
		"given twice"},
	    {ARGV("start", "1", "--notes"), ERR_USAGE, "needs a value"},
	    {ARGV("start", "1", "--billing", "free"), ERR_USAGE,
		"not one of Billable|DoNotBill|NoCharge|NoDefault"},
	    {ARGV("start", "1", "--agreement", "x1"), ERR_BAD_ARGUMENT,
		"not a record id"},
	    {ARGV("start", "1", "--agreement", "0"), ERR_BAD_ARGUMENT,
		"not a record id"},
	    {ARGV("start", "1", "--ago", "10 minutes"), ERR_BAD_DURATION, ""},
	    {ARGV("log", "1", "ten"), ERR_BAD_DURATION, ""},
	    {ARGV("start", "1", "--at", "2026-11-29T13:00:00Z"),
		ERR_TIME_IN_FUTURE, ""},
	    {ARGV("start", "1", "--at", "9 o'clock"), ERR_BAD_TIME, ""},
	    {ARGV("adjust", "1"), ERR_USAGE, "'adjust' needs --start TIME"},
	    {ARGV("reject", "1"), ERR_USAGE, "'reject' needs --reason"},
	    {ARGV("reject", "--reason", "x"), ERR_USAGE, "missing ID"},
	    {ARGV("approve", "1", "x"), ERR_BAD_ARGUMENT, "not a record id"},
	    {ARGV("entry"), ERR_USAGE, "'entry' needs a command"},
	    {ARGV("entry", "frob", "1"), ERR_USAGE,
		"unknown entry command 'frob'"},
	    {ARGV("queue", "re", "1"), ERR_USAGE,
		"ambiguous queue command 're', could be: resume, retry"},
	    {ARGV("entry", "edit", "1", "--hours", "1,5"), ERR_BAD_ARGUMENT,
		"not a number of hours"},
	    {ARGV("entries", "--since", "2026-02-30"), ERR_BAD_TIME,
		"invalid date"},
	    {ARGV("recent", "--limit", "-1"), ERR_BAD_ARGUMENT,
		"'-1' is not a number"},
	    {ARGV("recent", "--limit", "x"), ERR_BAD_ARGUMENT, "not a number"},
	    {ARGV("sheet", "approve", "1", "--tier", "3"), ERR_USAGE,
		"not one of 1|2"},
	    {ARGV("status", "--format", "xml"), ERR_USAGE, "not one of"},
	    {ARGV("--socket"), ERR_USAGE, "needs a value"},
	    {ARGV("ping", "--completions", "bash"), ERR_USAGE,
		"before the command"},
	};

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cmd_request r;
		struct errbuf e;
		int k = parse(cases[i].argv, &r, &e);

		if (k >= 0) {
			fail_msg("case %zu (%s) parsed", i, cases[i].argv[1]);
		}
		if (e.code != cases[i].code || !strstr(e.msg, cases[i].msg)) {
			fail_msg("case %zu: got %s '%s', want %s '%s'", i,
			    errcode_name(e.code), e.msg,
			    errcode_name(cases[i].code), cases[i].msg);
		}
		/* every one of these is a usage/input error: exit 2 */
		assert_int_equal(errcode_exit_status(e.code), 2);
		assert_null(r.args);
	}
}

static void
test_lookup(void **state)
{
	struct errbuf e;
	const struct cmd *c;

	(void) state;
	c = cmds_lookup(cmds_table, "sta", "command", &e);
	assert_null(c);
	assert_string_equal(
	    e.msg, "ambiguous command 'sta', could be: start, status");
	c = cmds_lookup(cmds_table, "stat", "command", &e);
	assert_non_null(c);
	assert_string_equal(c->name, "status");
	c = cmds_lookup(cmds_table, "sheet", "command", &e);
	assert_string_equal(c->name, "sheet"); /* exact beats "sheets" */
	c = cmds_lookup(cmds_table, "w", "command", &e);
	assert_string_equal(c->name, "worktypes");
	c = cmds_lookup(cmds_table, "", "command", &e);
	assert_null(c);
	assert_int_equal(e.code, ERR_USAGE);
}

/* Whether usage names "--name" as a whole word. */
static int
usage_has_option(const char *usage, const char *name)
{
	char want[64];
	size_t n;

	snprintf(want, sizeof(want), "--%s", name);
	n = strlen(want);
	for (const char *p = strstr(usage, want); p; p = strstr(p + 1, want)) {
		char next = p[n];

		if (next == '\0' || next == ' ' || next == ']' || next == '=') {
			return 1;
		}
	}
	return 0;
}

static void
check_cmd(const struct cmd *c, const struct cmd_arg *start_group)
{
	for (int g = 0; g < 2; g++) {
		const struct cmd_arg *opts = g == 0 ? c->opts : c->opts2;

		for (const struct cmd_arg *a = opts; a && a->name; a++) {
			int grouped = opts == start_group &&
			    strstr(c->usage, "[options as start]");

			if (!grouped && !usage_has_option(c->usage, a->name)) {
				fail_msg(
				    "'%s' usage lacks --%s", c->name, a->name);
			}
		}
	}
	/* and every --word of the usage line exists in the spec */
	for (const char *p = strstr(c->usage, "--"); p;
	     p = strstr(p + 2, "--")) {
		char name[64];
		size_t n = 0;
		int found = 0;

		p += 2;
		while (p[n] && p[n] != ' ' && p[n] != ']' && n < 63) {
			name[n] = p[n];
			n++;
		}
		name[n] = '\0';
		p -= 2;
		/* a group's usage line also shows its sub-verbs' options */
		for (int k = -1; k < 0 || (c->subs && c->subs[k].name); k++) {
			const struct cmd *x = k < 0 ? c : &c->subs[k];

			for (int g = 0; g < 2; g++) {
				const struct cmd_arg *opts =
				    g == 0 ? x->opts : x->opts2;

				for (const struct cmd_arg *a = opts;
				     a && a->name; a++) {
					found |= strcmp(a->name, name) == 0;
				}
			}
		}
		if (!found) {
			fail_msg("'%s' usage names --%s, the spec does not",
			    c->name, name);
		}
	}
}

static void
test_table(void **state)
{
	static const char *const verbs[] = {"ping", "version", "start", "stop",
	    "pause", "resume", "toggle", "switch", "cancel", "set", "note",
	    "adjust", "log", "list", "status", "follow", "recent", "queue",
	    "flush", "entries", "entry", "approve", "reject", "sheets", "sheet",
	    "worktypes", "roles", "codes", "help"};
	const struct cmd *start = NULL;
	size_t n = 0;

	(void) state;
	for (const struct cmd *c = cmds_table; c->name; c++, n++) {
		if (c[1].name) {
			assert_true(strcmp(c->name, c[1].name) < 0);
		}
		if (strcmp(c->name, "start") == 0) {
			start = c;
		}
		for (const struct cmd *s = c->subs; s && s->name; s++) {
			assert_ptr_equal(s->parent, c);
			assert_non_null(s->wire);
			assert_true(
			    strncmp(s->wire, c->name, strlen(c->name)) == 0);
			if (s[1].name) {
				assert_true(strcmp(s->name, s[1].name) < 0);
			}
		}
	}
	assert_int_equal(n, sizeof(verbs) / sizeof(verbs[0]));
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		struct errbuf e;
		const struct cmd *c =
		    cmds_lookup(cmds_table, verbs[i], "command", &e);

		assert_non_null(c);
		assert_string_equal(c->name, verbs[i]);
	}
	assert_non_null(start);
	for (const struct cmd *c = cmds_table; c->name; c++) {
		check_cmd(c, start->opts2);
		for (const struct cmd *s = c->subs; s && s->name; s++) {
			check_cmd(s, start->opts2);
		}
	}
}

static void
test_dst(void **state)
{
	struct cmd_request r;
	struct errbuf e;

	(void) state;
	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	/* 2026-10-25 02:30 happened twice in Berlin */
	assert_true(
	    parse(ARGV("start", "1", "--at", "2026-10-25 02:30"), &r, &e) < 0);
	assert_int_equal(e.code, ERR_AMBIGUOUS_TIME);
	/* 09:00 local = 08:00Z on 2026-11-29 */
	assert_int_equal(parse(ARGV("start", "1", "--at", "09:00"), &r, &e), 0);
	char *line = cmds_request_line(&r, 1);

	assert_string_equal(line,
	    "{\"v\":1,\"id\":1,\"cmd\":\"start\","
	    "\"args\":{\"target\":\"1\","
	    "\"at\":1795939200}}");
	free(line);
	cmds_request_fini(&r);
	/* a DATE is the local midnight: 2026-11-01T00:00+01:00 */
	assert_int_equal(
	    parse(ARGV("entries", "--since", "2026-11-01"), &r, &e), 0);
	line = cmds_request_line(&r, 1);
	assert_string_equal(line,
	    "{\"v\":1,\"id\":1,\"cmd\":\"entries\","
	    "\"args\":{\"since\":1793487600}}");
	free(line);
	cmds_request_fini(&r);
	setenv("TZ", "UTC", 1);
	tzset();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_requests),
	    cmocka_unit_test(test_globals),
	    cmocka_unit_test(test_usage_errors),
	    cmocka_unit_test(test_lookup),
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_dst),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
