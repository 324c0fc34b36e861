/*
 * target.h - what time is charged to: the TARGET argument.
 *
 *   54321, ticket:54321   ServiceTicket 54321
 *   project:1234          ProjectTicket 1234
 *   code:10               ChargeCode 10 (needs a company on the entry)
 *   activity:77           Activity 77
 *   company:19            Company with id 19
 *   company:ACME          Company with identifier ACME (sent as
 *                         company.identifier, no chargeToId)
 * The canonical form ("ticket:54321", "company:ACME") is the key of a
 * timer and what the journal stores.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct errbuf;

enum target_type {
	TARGET_SERVICE_TICKET,
	TARGET_PROJECT_TICKET,
	TARGET_CHARGE_CODE,
	TARGET_ACTIVITY,
	TARGET_COMPANY,
	TARGET_INVALID,
	TARGET_COUNT = TARGET_INVALID
};

/* ConnectWise company identifiers are at most 25 characters. */
#define TARGET_IDENT_MAX 32
/* Longest canonical form, NUL included ("activity:2147483647",
 * "company:" + identifier). */
#define TARGET_STR_MAX 48

struct target {
	enum target_type type;
	int64_t id;		      /* > 0, or 0 when ident is used */
	char ident[TARGET_IDENT_MAX]; /* company identifier, or "" */
};

/* Parses a TARGET. Ids are 1..2147483647 (ConnectWise ids are int32).
 * A company identifier is 1..25 of [A-Za-z0-9_.&-] and not all digits.
 * Returns 0 or -EINVAL with ERR_BAD_TARGET in *reterr. Does not log. */
int target_parse(const char *s, struct target *ret, struct errbuf *reterr);

/* Writes the canonical form into buf; returns buf. */
char *target_format(const struct target *t, char buf[TARGET_STR_MAX]);

/* ConnectWise chargeToType ("ServiceTicket", "Company", ...), or NULL for
 * an invalid type. */
const char *target_charge_type_name(enum target_type type);
/* The type for a chargeToType name, or TARGET_INVALID. */
enum target_type target_type_from_charge_name(const char *name);
/* Short name used in config sections and canonical forms ("ticket",
 * "project", "code", "activity", "company"), or NULL. */
const char *target_type_short_name(enum target_type type);
/* Type for a short name or a chargeToType name (case-insensitive), or
 * TARGET_INVALID. */
enum target_type target_type_from_name(const char *name);

/* True when both name the same target. */
bool target_equal(const struct target *a, const struct target *b);
