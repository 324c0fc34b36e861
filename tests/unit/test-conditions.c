/*
 * test-conditions.c - the ConnectWise conditions builder: exact strings,
 * quoting without escapes, parenthesised or-groups, raw text checks, and
 * hostile values that must never change the structure of a query (checked
 * with an independent tokenizer written from the contract's grammar).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/errcode.h"
#include "core/conditions.h"

/* ---- an independent tokenizer (connectwise-api.md 5) ---- */

enum tok_kind { T_WORD, T_OP, T_STRING, T_LPAREN, T_RPAREN, T_DATE, T_END };

struct tok {
	enum tok_kind kind;
	char text[CONDITIONS_MAX];
};

/* Splits s into tokens; returns the count, or -1 on a lexical error. */
static int
tokenize(const char *s, struct tok *toks, int max)
{
	int n = 0;

	while (*s) {
		struct tok *t = &toks[n];
		size_t len = 0;

		if (*s == ' ') {
			s++;
			continue;
		}
		if (n >= max) {
			return -1;
		}
		memset(t, 0, sizeof(*t));
		if (*s == '"' || *s == '\'') {
			const char *end = strchr(s + 1, *s);

			if (!end) {
				return -1;
			}
			t->kind = T_STRING;
			memcpy(t->text, s + 1, (size_t) (end - s - 1));
			s = end + 1;
		} else if (*s == '[') {
			const char *end = strchr(s, ']');

			if (!end) {
				return -1;
			}
			t->kind = T_DATE;
			memcpy(t->text, s + 1, (size_t) (end - s - 1));
			s = end + 1;
		} else if (*s == '(' || *s == ')') {
			t->kind = *s == '(' ? T_LPAREN : T_RPAREN;
			t->text[0] = *s++;
		} else if (strchr("=!<>", *s)) {
			t->kind = T_OP;
			while (*s && strchr("=!<>", *s)) {
				t->text[len++] = *s++;
			}
		} else {
			t->kind = T_WORD;
			while (*s && !strchr(" ()=!<>\"'[", *s)) {
				t->text[len++] = *s++;
			}
		}
		n++;
	}
	toks[n].kind = T_END;
	return n;
}

static struct tok toks[64];

/* ---- exact strings ---- */

static void
test_exact(void **state)
{
	struct conditions c;
	struct errbuf e;

	conditions_init(&c);
	assert_string_equal(conditions_text(&c), "");
	assert_int_equal(conditions_add_int(&c, "member/id", "=", 123, &e), 0);
	assert_int_equal(
	    conditions_add_date(&c, "timeStart", ">=", 1707696000, &e), 0);
	assert_int_equal(
	    conditions_add_date(&c, "timeStart", "<", 1708300800, &e), 0);
	assert_string_equal(conditions_text(&c),
	    "member/id=123 and timeStart>=[2024-02-12T00:00:00Z] and "
	    "timeStart<[2024-02-19T00:00:00Z]");

	conditions_init(&c);
	assert_int_equal(
	    conditions_add_string(&c, "chargeToType", "=", "ServiceTicket", &e),
	    0);
	assert_int_equal(
	    conditions_add_int(&c, "chargeToId", "=", 54321, &e), 0);
	assert_string_equal(conditions_text(&c),
	    "chargeToType=\"ServiceTicket\" and chargeToId=54321");

	conditions_init(&c);
	assert_int_equal(
	    conditions_add_string(&c, "notes", "not contains", "lunch", &e), 0);
	assert_string_equal(
	    conditions_text(&c), "notes not contains \"lunch\"");
}

static void
test_shortcuts(void **state)
{
	struct conditions c;
	struct errbuf e;

	assert_string_equal(CONDITIONS_UNBILLED,
	    "status=\"Open\" and billableOption=\"Billable\"");
	assert_string_equal(CONDITIONS_AWAITING_BILLING,
	    "(status=\"ApprovedByTierOne\" or status=\"ApprovedByTierTwo\" or "
	    "status=\"ReadyToBill\") and billableOption=\"Billable\"");
	conditions_init(&c);
	assert_int_equal(conditions_add_int(&c, "member/id", "=", 5, &e), 0);
	assert_int_equal(
	    conditions_add_shortcut(&c, CONDITIONS_AWAITING_BILLING, &e), 0);
	assert_string_equal(conditions_text(&c),
	    "member/id=5 and (status=\"ApprovedByTierOne\" or "
	    "status=\"ApprovedByTierTwo\" or status=\"ReadyToBill\") and "
	    "billableOption=\"Billable\"");
	/* The shortcuts check as balanced raw text too. */
	assert_int_equal(conditions_check_raw(CONDITIONS_UNBILLED, &e), 0);
	assert_int_equal(
	    conditions_check_raw(CONDITIONS_AWAITING_BILLING, &e), 0);
}

static void
test_or_groups(void **state)
{
	struct conditions c, alts[2];
	struct errbuf e;

	conditions_init(&alts[0]);
	conditions_init(&alts[1]);
	assert_int_equal(conditions_add_string(&alts[0], "chargeToType", "=",
			     "ServiceTicket", &e),
	    0);
	assert_int_equal(conditions_add_string(&alts[1], "chargeToType", "=",
			     "ProjectTicket", &e),
	    0);
	conditions_init(&c);
	assert_int_equal(conditions_add_or(&c, alts, 2, &e), 0);
	assert_int_equal(
	    conditions_add_int(&c, "chargeToId", "=", 54321, &e), 0);
	assert_string_equal(conditions_text(&c),
	    "(chargeToType=\"ServiceTicket\" or "
	    "chargeToType=\"ProjectTicket\") and chargeToId=54321");

	/* An alternative of several terms gets its own parentheses. */
	assert_int_equal(
	    conditions_add_int(&alts[1], "company/id", "=", 7, &e), 0);
	conditions_init(&c);
	assert_int_equal(conditions_add_or(&c, alts, 2, &e), 0);
	assert_string_equal(conditions_text(&c),
	    "(chargeToType=\"ServiceTicket\" or "
	    "(chargeToType=\"ProjectTicket\" and company/id=7))");

	/* Raw text is always wrapped. */
	conditions_init(&c);
	assert_int_equal(conditions_add_int(&c, "member/id", "=", 1, &e), 0);
	assert_int_equal(conditions_add_group(&c, "a=1 or b=2", &e), 0);
	assert_string_equal(
	    conditions_text(&c), "member/id=1 and (a=1 or b=2)");
}

static void
test_quoting(void **state)
{
	char buf[64];
	struct errbuf e;

	assert_int_equal(
	    conditions_quote("plain", NULL, buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, "\"plain\"");
	assert_int_equal(
	    conditions_quote("say \"hi\"", NULL, buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, "'say \"hi\"'");
	assert_int_equal(
	    conditions_quote("O'Brien", NULL, buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, "\"O'Brien\"");
	/* A backslash is an ordinary character: no escapes exist. */
	assert_int_equal(
	    conditions_quote("a\\", NULL, buf, sizeof(buf), &e), 0);
	assert_string_equal(buf, "\"a\\\"");
	errbuf_clear(&e);
	assert_int_equal(conditions_quote("O'Brien & \"Sons\"", "notes", buf,
			     sizeof(buf), &e),
	    -EINVAL);
	assert_int_equal(e.code, ERR_BAD_FILTER);
	assert_string_equal(e.field, "notes");
	assert_non_null(strstr(e.msg, "both kinds of quote"));
	assert_int_equal(
	    conditions_quote("tab\there", NULL, buf, sizeof(buf), &e), -EINVAL);
	assert_int_equal(e.code, ERR_BAD_FILTER);
	assert_int_equal(
	    conditions_quote("0123456789", NULL, buf, 8, &e), -ENOBUFS);
}

/* Hostile values: the structure stays "field op STRING" plus the rest. */
static void
test_hostile_values(void **state)
{
	static const char *const hostile[] = {
	    "x\" or chargeToId>0 or notes=\"",
	    "x' or chargeToId>0 or notes='",
	    "a) or (b=1",
	    "((((",
	    "))))",
	    "and or not in like contains",
	    "\" and (member/id=1 or member/id=2",
	    "[2024-01-01]",
	    "%2B+&=?#",
	    "\\\"",
	    "O'Brien (Plumbing) and/or sons",
	    "\"Sons\" (Plumbing) or x",
	    "",
	};
	struct errbuf e;

	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		struct conditions c;
		int n;

		conditions_init(&c);
		assert_int_equal(
		    conditions_add_int(&c, "member/id", "=", 123, &e), 0);
		assert_int_equal(conditions_add_string(
				     &c, "notes", "contains", hostile[i], &e),
		    0);
		assert_int_equal(conditions_add_string(
				     &c, "company/name", "=", hostile[i], &e),
		    0);
		n = tokenize(conditions_text(&c), toks, 60);
		/* member/id = 123 and notes contains S and company/name = S */
		assert_int_equal(n, 11);
		assert_int_equal(toks[0].kind, T_WORD);
		assert_string_equal(toks[0].text, "member/id");
		assert_string_equal(toks[3].text, "and");
		assert_string_equal(toks[4].text, "notes");
		assert_string_equal(toks[5].text, "contains");
		assert_int_equal(toks[6].kind, T_STRING);
		assert_string_equal(toks[6].text, hostile[i]);
		assert_string_equal(toks[7].text, "and");
		assert_int_equal(toks[10].kind, T_STRING);
		assert_string_equal(toks[10].text, hostile[i]);
	}
}

static void
test_raw_checks(void **state)
{
	struct conditions c;
	struct errbuf e;

	conditions_init(&c);
	assert_int_equal(conditions_add_int(&c, "member/id", "=", 1, &e), 0);
	/* would close our parenthesis and escape the AND */
	assert_int_equal(conditions_add_group(&c, "x=1) or (y=2", &e), -EINVAL);
	assert_int_equal(e.code, ERR_BAD_FILTER);
	assert_int_equal(conditions_add_group(&c, "x=\"open", &e), -EINVAL);
	assert_int_equal(conditions_add_group(&c, "(x=1", &e), -EINVAL);
	assert_int_equal(conditions_add_group(&c, "   ", &e), -EINVAL);
	/* parentheses inside strings do not count */
	assert_int_equal(
	    conditions_add_group(&c, "notes=\")\" or id=2", &e), 0);
	assert_string_equal(
	    conditions_text(&c), "member/id=1 and (notes=\")\" or id=2)");
	/* failures left the builder unchanged */
	assert_int_equal(c.terms, 2);
}

static void
test_bad_fields_and_ops(void **state)
{
	struct conditions c;
	struct errbuf e;

	conditions_init(&c);
	assert_int_equal(
	    conditions_add_int(&c, "id or 1", "=", 1, &e), -EINVAL);
	assert_int_equal(e.code, ERR_BAD_FILTER);
	assert_int_equal(conditions_add_int(&c, "a//b", "=", 1, &e), -EINVAL);
	assert_int_equal(conditions_add_int(&c, "/a", "=", 1, &e), -EINVAL);
	assert_int_equal(
	    conditions_add_int(&c, "a", "contains", 1, &e), -EINVAL);
	assert_int_equal(
	    conditions_add_string(&c, "a", "= 1 or a", "x", &e), -EINVAL);
	assert_int_equal(c.terms, 0);
	assert_string_equal(conditions_text(&c), "");
	assert_true(conditions_field_valid("_info/lastUpdated"));
	assert_false(conditions_field_valid("a/"));
}

static void
test_too_long(void **state)
{
	struct conditions c;
	struct errbuf e;
	char big[CONDITIONS_MAX];
	int r = 0;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	conditions_init(&c);
	assert_int_equal(
	    conditions_add_string(&c, "notes", "=", big, &e), -ENOBUFS);
	for (int i = 0; i < 200 && r == 0; i++) {
		r = conditions_add_int(&c, "chargeToId", "!=", 1000000 + i, &e);
	}
	assert_int_equal(r, -ENOBUFS);
	assert_true(strlen(conditions_text(&c)) < CONDITIONS_MAX);
	assert_true(c.terms > 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact),
	    cmocka_unit_test(test_shortcuts),
	    cmocka_unit_test(test_or_groups),
	    cmocka_unit_test(test_quoting),
	    cmocka_unit_test(test_hostile_values),
	    cmocka_unit_test(test_raw_checks),
	    cmocka_unit_test(test_bad_fields_and_ops),
	    cmocka_unit_test(test_too_long),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
