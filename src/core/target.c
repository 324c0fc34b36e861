/*
 * target.c - parsing and formatting of charge targets.
 *
 * Invariant: target_format(target_parse(s)) is the canonical key of a
 * timer, so two spellings of one target ("54321", "ticket:54321") always
 * meet the same timer. Pure: no I/O.
 */
#include "core/target.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/errcode.h"

struct type_info {
	const char *short_name;
	const char *cw_name;
};

static const struct type_info types[TARGET_COUNT] = {
    [TARGET_SERVICE_TICKET] = {"ticket", "ServiceTicket"},
    [TARGET_PROJECT_TICKET] = {"project", "ProjectTicket"},
    [TARGET_CHARGE_CODE] = {"code", "ChargeCode"},
    [TARGET_ACTIVITY] = {"activity", "Activity"},
    [TARGET_COMPANY] = {"company", "Company"},
};

const char *
target_charge_type_name(enum target_type type)
{
	return (int) type >= 0 && type < TARGET_COUNT ? types[type].cw_name
						      : NULL;
}

const char *
target_type_short_name(enum target_type type)
{
	return (int) type >= 0 && type < TARGET_COUNT ? types[type].short_name
						      : NULL;
}

enum target_type
target_type_from_charge_name(const char *name)
{
	for (int i = 0; name && i < TARGET_COUNT; i++) {
		if (strcmp(types[i].cw_name, name) == 0) {
			return (enum target_type) i;
		}
	}
	return TARGET_INVALID;
}

enum target_type
target_type_from_name(const char *name)
{
	for (int i = 0; name && i < TARGET_COUNT; i++) {
		if (strcasecmp(types[i].cw_name, name) == 0 ||
		    strcasecmp(types[i].short_name, name) == 0) {
			return (enum target_type) i;
		}
	}
	return TARGET_INVALID;
}

/* 1..2147483647, digits only, no sign, no leading zero. */
static bool
parse_id(const char *s, size_t len, int64_t *ret)
{
	int64_t v = 0;

	if (len == 0 || len > 10 || s[0] == '0') {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
		v = v * 10 + (s[i] - '0');
	}
	if (v > 2147483647) {
		return false;
	}
	*ret = v;
	return true;
}

static bool
ident_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
	    c == '&';
}

int
target_parse(const char *s, struct target *ret, struct errbuf *reterr)
{
	const char *colon, *val;
	enum target_type type;
	struct target t = {.type = TARGET_INVALID};
	size_t len;

	if (!s || !*s) {
		return errbuf_set(
		    reterr, ERR_BAD_TARGET, -EINVAL, "empty target");
	}
	colon = strchr(s, ':');
	if (!colon) {
		type = TARGET_SERVICE_TICKET;
		val = s;
	} else {
		char prefix[16];
		size_t plen = (size_t) (colon - s);

		if (plen == 0 || plen >= sizeof(prefix)) {
			goto bad_prefix;
		}
		memcpy(prefix, s, plen);
		prefix[plen] = '\0';
		type = TARGET_INVALID;
		for (int i = 0; i < TARGET_COUNT; i++) {
			if (strcmp(types[i].short_name, prefix) == 0) {
				type = (enum target_type) i;
			}
		}
		if (type == TARGET_INVALID) {
			goto bad_prefix;
		}
		val = colon + 1;
	}
	len = strlen(val);
	t.type = type;
	if (parse_id(val, len, &t.id)) {
		*ret = t;
		return 0;
	}
	if (type != TARGET_COMPANY) {
		return errbuf_set(reterr, ERR_BAD_TARGET, -EINVAL,
		    "'%s': a %s id is a number from 1 to 2147483647", s,
		    types[type].cw_name);
	}
	if (len == 0 || len > 25) {
		return errbuf_set(reterr, ERR_BAD_TARGET, -EINVAL,
		    "'%s': a company identifier has 1 to 25 characters", s);
	}
	for (size_t i = 0; i < len; i++) {
		if (!ident_char(val[i])) {
			return errbuf_set(reterr, ERR_BAD_TARGET, -EINVAL,
			    "'%s': a company identifier may hold letters, "
			    "digits and _ . - &",
			    s);
		}
	}
	if (strspn(val, "0123456789") == len) {
		/* all digits but not a valid id (0, leading zero, too big) */
		return errbuf_set(reterr, ERR_BAD_TARGET, -EINVAL,
		    "'%s': a company id is a number from 1 to 2147483647", s);
	}
	memcpy(t.ident, val, len + 1);
	t.id = 0;
	*ret = t;
	return 0;
bad_prefix:
	return errbuf_set(reterr, ERR_BAD_TARGET, -EINVAL,
	    "'%s' is not a target: use 54321, ticket:54321, project:1234, "
	    "code:10, activity:77, company:19 or company:ACME",
	    s);
}

char *
target_format(const struct target *t, char buf[TARGET_STR_MAX])
{
	const char *name = target_type_short_name(t->type);

	if (!name) {
		snprintf(buf, TARGET_STR_MAX, "invalid");
	} else if (t->id > 0) {
		snprintf(
		    buf, TARGET_STR_MAX, "%s:%lld", name, (long long) t->id);
	} else {
		snprintf(buf, TARGET_STR_MAX, "%s:%s", name, t->ident);
	}
	return buf;
}

bool
target_equal(const struct target *a, const struct target *b)
{
	return a->type == b->type && a->id == b->id &&
	    strcmp(a->ident, b->ident) == 0;
}
