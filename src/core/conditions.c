/*
 * conditions.c - the ConnectWise conditions builder.
 *
 * Job: turn filters into a conditions string whose structure no value
 * can alter. Invariants:
 * - every string value is quoted with a quote character it does not
 *   contain (the grammar has no escapes); a value with both kinds, or a
 *   control character, is refused, never mangled;
 * - top-level terms are joined with " and " only; any "or" lives inside
 *   parentheses, so the unknown precedence of and/or never matters;
 * - raw user text is wrapped in parentheses after checking that its own
 *   parentheses balance outside strings, so it cannot close ours;
 * - on any failure the builder is left as it was.
 * Pure: no allocation, no I/O, no clock, no logging.
 */
#include "core/conditions.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/errcode.h"
#include "common/timeparse.h"

void
conditions_init(struct conditions *c)
{
	c->text[0] = '\0';
	c->len = 0;
	c->terms = 0;
}

const char *
conditions_text(const struct conditions *c)
{
	return c->text;
}

bool
conditions_field_valid(const char *s)
{
	bool need_name = true;

	if (!s || !*s) {
		return false;
	}
	for (; *s; s++) {
		char ch = *s;

		if (ch == '/') {
			if (need_name) {
				return false;
			}
			need_name = true;
		} else if ((ch >= 'a' && ch <= 'z') ||
		    (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '_') {
			need_name = false;
		} else {
			return false;
		}
	}
	return !need_name;
}

static bool
op_valid(const char *op, bool string)
{
	static const char *const cmp[] = {"=", "!=", "<", "<=", ">", ">="};
	static const char *const str[] = {
	    "contains", "like", "not contains", "not like"};

	if (!op) {
		return false;
	}
	for (size_t i = 0; i < sizeof(cmp) / sizeof(cmp[0]); i++) {
		if (strcmp(op, cmp[i]) == 0) {
			return true;
		}
	}
	if (!string) {
		return false;
	}
	for (size_t i = 0; i < sizeof(str) / sizeof(str[0]); i++) {
		if (strcmp(op, str[i]) == 0) {
			return true;
		}
	}
	return false;
}

/* Words need spaces around them; symbols are written tight, as in the
 * contract's examples (chargeToId=54321). */
static const char *
op_pad(const char *op)
{
	return (op[0] >= 'a' && op[0] <= 'z') ? " " : "";
}

int
conditions_quote(const char *value, const char *field_name, char *buf,
    size_t size, struct errbuf *reterr)
{
	bool has_dq, has_sq;
	char q;
	int n;

	if (!value) {
		return errbuf_set(
		    reterr, ERR_BAD_FILTER, -EINVAL, "missing value");
	}
	for (const char *p = value; *p; p++) {
		if ((unsigned char) *p < 0x20 || *p == 0x7f) {
			errbuf_set(reterr, ERR_BAD_FILTER, -EINVAL,
			    "%s%sa value may not contain control characters",
			    field_name ? field_name : "",
			    field_name ? ": " : "");
			if (field_name) {
				errbuf_set_field(reterr, field_name);
			}
			return -EINVAL;
		}
	}
	has_dq = strchr(value, '"') != NULL;
	has_sq = strchr(value, '\'') != NULL;
	if (has_dq && has_sq) {
		/* No escape exists in the grammar: refuse, never guess. */
		errbuf_set(reterr, ERR_BAD_FILTER, -EINVAL,
		    "%s%sa value cannot hold both kinds of quote (\" and ') "
		    "in a ConnectWise condition",
		    field_name ? field_name : "", field_name ? ": " : "");
		if (field_name) {
			errbuf_set_field(reterr, field_name);
		}
		return -EINVAL;
	}
	q = has_dq ? '\'' : '"';
	n = snprintf(buf, size, "%c%s%c", q, value, q);
	if (n < 0 || (size_t) n >= size) {
		return errbuf_set(
		    reterr, ERR_BAD_FILTER, -ENOBUFS, "the filter is too long");
	}
	return 0;
}

/* Appends " and " (when needed) plus the term; all or nothing. */
static int
append_term(struct conditions *c, const char *term, struct errbuf *reterr)
{
	const char *sep = c->terms > 0 ? " and " : "";
	size_t need = strlen(sep) + strlen(term);

	if (c->len + need >= sizeof(c->text)) {
		return errbuf_set(reterr, ERR_BAD_FILTER, -ENOBUFS,
		    "the filter is too long (at most %d characters)",
		    CONDITIONS_MAX - 1);
	}
	memcpy(c->text + c->len, sep, strlen(sep));
	memcpy(c->text + c->len + strlen(sep), term, strlen(term));
	c->len += need;
	c->text[c->len] = '\0';
	c->terms++;
	return 0;
}

static int
check_field_op(
    const char *field, const char *op, bool string, struct errbuf *reterr)
{
	if (!conditions_field_valid(field)) {
		return errbuf_set(reterr, ERR_BAD_FILTER, -EINVAL,
		    "invalid field name '%s'", field ? field : "");
	}
	if (!op_valid(op, string)) {
		return errbuf_set(reterr, ERR_BAD_FILTER, -EINVAL,
		    "invalid operator '%s' for '%s'", op ? op : "", field);
	}
	return 0;
}

int
conditions_add_string(struct conditions *c, const char *field, const char *op,
    const char *value, struct errbuf *reterr)
{
	char quoted[CONDITIONS_MAX];
	char term[CONDITIONS_MAX];
	int r, n;

	r = check_field_op(field, op, true, reterr);
	if (r < 0) {
		return r;
	}
	r = conditions_quote(value, field, quoted, sizeof(quoted), reterr);
	if (r < 0) {
		return r;
	}
	n = snprintf(term, sizeof(term), "%s%s%s%s%s", field, op_pad(op), op,
	    op_pad(op), quoted);
	if (n < 0 || (size_t) n >= sizeof(term)) {
		return errbuf_set(
		    reterr, ERR_BAD_FILTER, -ENOBUFS, "the filter is too long");
	}
	return append_term(c, term, reterr);
}

int
conditions_add_int(struct conditions *c, const char *field, const char *op,
    int64_t value, struct errbuf *reterr)
{
	char term[CONDITIONS_MAX];
	int r;

	r = check_field_op(field, op, false, reterr);
	if (r < 0) {
		return r;
	}
	(void) snprintf(term, sizeof(term), "%s%s%" PRId64, field, op, value);
	return append_term(c, term, reterr);
}

int
conditions_add_date(struct conditions *c, const char *field, const char *op,
    int64_t value, struct errbuf *reterr)
{
	char when[TIMEPARSE_UTC_LEN];
	char term[CONDITIONS_MAX];
	int r;

	r = check_field_op(field, op, false, reterr);
	if (r < 0) {
		return r;
	}
	timeparse_format_utc(value, when);
	(void) snprintf(term, sizeof(term), "%s%s[%s]", field, op, when);
	return append_term(c, term, reterr);
}

int
conditions_check_raw(const char *text, struct errbuf *reterr)
{
	int depth = 0;
	char quote = 0;
	bool any = false;

	if (!text) {
		return errbuf_set(
		    reterr, ERR_BAD_FILTER, -EINVAL, "empty conditions");
	}
	for (const char *p = text; *p; p++) {
		char ch = *p;

		if ((unsigned char) ch < 0x20 || ch == 0x7f) {
			return errbuf_set(reterr, ERR_BAD_FILTER, -EINVAL,
			    "conditions may not contain control characters");
		}
		if (ch != ' ') {
			any = true;
		}
		if (quote) {
			if (ch == quote) {
				quote = 0; /* no escapes: the next quote ends */
			}
			continue;
		}
		if (ch == '"' || ch == '\'') {
			quote = ch;
		} else if (ch == '(') {
			depth++;
		} else if (ch == ')') {
			if (--depth < 0) {
				return errbuf_set(reterr, ERR_BAD_FILTER,
				    -EINVAL,
				    "conditions: unbalanced ')' at offset %zu",
				    (size_t) (p - text));
			}
		}
	}
	if (!any) {
		return errbuf_set(
		    reterr, ERR_BAD_FILTER, -EINVAL, "empty conditions");
	}
	if (quote) {
		return errbuf_set(reterr, ERR_BAD_FILTER, -EINVAL,
		    "conditions: unterminated %c string", quote);
	}
	if (depth != 0) {
		return errbuf_set(reterr, ERR_BAD_FILTER, -EINVAL,
		    "conditions: %d unclosed '('", depth);
	}
	return 0;
}

int
conditions_add_group(
    struct conditions *c, const char *text, struct errbuf *reterr)
{
	char term[CONDITIONS_MAX];
	int r, n;

	r = conditions_check_raw(text, reterr);
	if (r < 0) {
		return r;
	}
	n = snprintf(term, sizeof(term), "(%s)", text);
	if (n < 0 || (size_t) n >= sizeof(term)) {
		return errbuf_set(
		    reterr, ERR_BAD_FILTER, -ENOBUFS, "the filter is too long");
	}
	return append_term(c, term, reterr);
}

int
conditions_add_shortcut(
    struct conditions *c, const char *text, struct errbuf *reterr)
{
	return append_term(c, text, reterr);
}

int
conditions_add_or(struct conditions *c, const struct conditions *alts, size_t n,
    struct errbuf *reterr)
{
	char term[CONDITIONS_MAX];
	size_t len = 0;

	if (n == 0) {
		return errbuf_set(
		    reterr, ERR_BAD_FILTER, -EINVAL, "empty alternative");
	}
	if (n == 1) {
		if (alts[0].terms == 0) {
			return errbuf_set(reterr, ERR_BAD_FILTER, -EINVAL,
			    "empty alternative");
		}
		if (alts[0].terms == 1) {
			return append_term(c, alts[0].text, reterr);
		}
		return conditions_add_group(c, alts[0].text, reterr);
	}
	term[len++] = '(';
	for (size_t i = 0; i < n; i++) {
		bool wrap = alts[i].terms > 1;
		int k;

		if (alts[i].terms == 0) {
			return errbuf_set(reterr, ERR_BAD_FILTER, -EINVAL,
			    "empty alternative");
		}
		k = snprintf(term + len, sizeof(term) - len, "%s%s%s%s",
		    i > 0 ? " or " : "", wrap ? "(" : "", alts[i].text,
		    wrap ? ")" : "");
		if (k < 0 || (size_t) k >= sizeof(term) - len) {
			return errbuf_set(reterr, ERR_BAD_FILTER, -ENOBUFS,
			    "the filter is too long");
		}
		len += (size_t) k;
	}
	if (len + 2 > sizeof(term)) {
		return errbuf_set(
		    reterr, ERR_BAD_FILTER, -ENOBUFS, "the filter is too long");
	}
	term[len++] = ')';
	term[len] = '\0';
	return append_term(c, term, reterr);
}
