/*
 * conditions.h - builds ConnectWise `conditions` strings
 * (connectwise-api.md section 5) so that no value can change a query's
 * meaning.
 *
 * The grammar has no escape inside strings: a value is quoted with the
 * quote character it does not contain, and a value holding both kinds is
 * refused (bad-filter). Terms are joined with " and "; an "or" group is
 * always parenthesised, and so is raw user text, after a check that its
 * parentheses balance outside strings. Dates go in brackets in UTC.
 * Pure: no allocation, no I/O, no clock; does not log.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct errbuf;

/* Keeps the whole URL well under ConnectWise's ~2,000 characters once
 * percent-encoded (worst case x3 for the few quote bytes). */
#define CONDITIONS_MAX 1024

/* The shortcuts (the man page quotes these exact strings). */
#define CONDITIONS_UNBILLED "status=\"Open\" and billableOption=\"Billable\""
#define CONDITIONS_AWAITING_BILLING                                            \
	"(status=\"ApprovedByTierOne\" or status=\"ApprovedByTierTwo\" or "    \
	"status=\"ReadyToBill\") and billableOption=\"Billable\""

struct conditions {
	char text[CONDITIONS_MAX];
	size_t len;
	unsigned terms; /* top-level terms joined with " and " */
};

/* Empties c. */
void conditions_init(struct conditions *c);

/* The text built so far ("" when empty). Borrowed from c. */
const char *conditions_text(const struct conditions *c);

/*
 * Quotes value into buf (with "..." or, if it holds a '"', with '...').
 * Returns 0, or -EINVAL (ERR_BAD_FILTER, field set to field_name when
 * not NULL) when value holds both quote kinds or a control character,
 * -ENOBUFS (ERR_BAD_FILTER) when buf is too small.
 */
int conditions_quote(const char *value, const char *field_name, char *buf,
    size_t size, struct errbuf *reterr);

/*
 * Adds "field op value" joined with " and ". field is a path of
 * [A-Za-z0-9_] names separated by '/'; op one of = != < <= > >= and, for
 * strings only, contains, like, "not contains", "not like". Each returns
 * 0, or -EINVAL / -ENOBUFS with ERR_BAD_FILTER in reterr; c is unchanged
 * on failure.
 */
int conditions_add_string(struct conditions *c, const char *field,
    const char *op, const char *value, struct errbuf *reterr);
int conditions_add_int(struct conditions *c, const char *field, const char *op,
    int64_t value, struct errbuf *reterr);
/* value: Unix seconds, written [YYYY-MM-DDTHH:MM:SSZ]. */
int conditions_add_date(struct conditions *c, const char *field, const char *op,
    int64_t value, struct errbuf *reterr);

/*
 * Adds "(alt1 or alt2 ...)" where each alternative is a builder's text,
 * itself parenthesised when it has more than one term. n >= 1; with one
 * alternative it is added like conditions_add_group. Returns as above.
 */
int conditions_add_or(struct conditions *c, const struct conditions *alts,
    size_t n, struct errbuf *reterr);

/*
 * Adds trusted, fixed text (one of the CONDITIONS_* shortcuts) or raw
 * user text as "(text)". The text must balance its parentheses outside
 * quoted strings and must not end inside a string, so it cannot reach
 * outside its own parentheses; -EINVAL (ERR_BAD_FILTER) otherwise, or
 * for empty text.
 */
int conditions_add_group(
    struct conditions *c, const char *text, struct errbuf *reterr);

/* Adds one of the CONDITIONS_* constants as it is (their top level is
 * joined with "and" only, so no parentheses are needed). Never for user
 * text. Returns 0 or -ENOBUFS (ERR_BAD_FILTER). */
int conditions_add_shortcut(
    struct conditions *c, const char *text, struct errbuf *reterr);

/* Checks raw conditions text as conditions_add_group does. Pure. */
int conditions_check_raw(const char *text, struct errbuf *reterr);

/* True when s is a valid field path (see conditions_add_string). */
bool conditions_field_valid(const char *s);
