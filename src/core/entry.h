/*
 * entry.h - the TimeEntry model and its ConnectWise JSON.
 *
 * struct entry holds every field a user may set. Times are Unix seconds
 * UTC (whole seconds); actualHours is always derived as
 * (timeEnd - timeStart)/3600 - hoursDeduct (connectwise-api.md 13), so the
 * three can never disagree. A reference (company, member, work type, work
 * role, agreement) is given by id or, until resolved, by name/identifier.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/target.h"

struct errbuf;

#define ENTRY_UUID_LEN 37 /* 36 characters and the NUL */

/* billableOption; 0 means "not set" (the server picks the default). */
enum entry_billable {
	ENTRY_BILLABLE_UNSET,
	ENTRY_BILLABLE_BILLABLE,
	ENTRY_BILLABLE_DO_NOT_BILL,
	ENTRY_BILLABLE_NO_CHARGE,
	ENTRY_BILLABLE_NO_DEFAULT,
	ENTRY_BILLABLE_INVALID,
	ENTRY_BILLABLE_COUNT = ENTRY_BILLABLE_INVALID
};

/* The boolean fields; each is unset, false or true. */
enum entry_flag {
	ENTRY_FLAG_ADD_TO_DETAIL,     /* addToDetailDescriptionFlag */
	ENTRY_FLAG_ADD_TO_INTERNAL,   /* addToInternalAnalysisFlag */
	ENTRY_FLAG_ADD_TO_RESOLUTION, /* addToResolutionFlag */
	ENTRY_FLAG_EMAIL_RESOURCE,    /* emailResourceFlag */
	ENTRY_FLAG_EMAIL_CONTACT,     /* emailContactFlag */
	ENTRY_FLAG_EMAIL_CC,	      /* emailCcFlag */
	ENTRY_FLAG_COUNT
};

enum entry_tri { ENTRY_TRI_UNSET, ENTRY_TRI_FALSE, ENTRY_TRI_TRUE };

/* Which reference. */
enum entry_refkind {
	ENTRY_REF_COMPANY,   /* {"id"} or {"identifier"} */
	ENTRY_REF_MEMBER,    /* {"id"} or {"identifier"} */
	ENTRY_REF_WORK_TYPE, /* {"id"} or {"name"} */
	ENTRY_REF_WORK_ROLE, /* {"id"} or {"name"} */
	ENTRY_REF_AGREEMENT, /* {"id"} or {"name"} */
	ENTRY_REF_COUNT
};

/* id > 0 wins; otherwise name (heap, owned) when not NULL; else unset. */
struct entry_ref {
	int64_t id;
	char *name;
};

struct entry {
	char uuid[ENTRY_UUID_LEN]; /* "" until given; sent as mobileGuid */
	struct target target;	   /* type TARGET_INVALID: not set */
	int64_t time_start;	   /* Unix s UTC; 0: not set */
	int64_t time_end;	   /* Unix s UTC; 0: not set */
	int64_t deduct_s;	   /* hoursDeduct in seconds */
	enum entry_billable billable;
	struct entry_ref refs[ENTRY_REF_COUNT];
	char *notes;			 /* heap, owned, or NULL */
	char *internal_notes;		 /* heap, owned, or NULL */
	char *email_cc;			 /* heap, owned, or NULL */
	uint8_t flags[ENTRY_FLAG_COUNT]; /* enum entry_tri */
};

/* Zeroes e; target type TARGET_INVALID. */
void entry_init(struct entry *e);
/* Frees the strings; accepts a zeroed entry. Leaves e initialised. */
void entry_fini(struct entry *e);
/* Deep copy into an initialised *dst (whose old content is freed).
 * Returns 0 or -ENOMEM. */
int entry_copy(struct entry *dst, const struct entry *src);

/* Copies every field that is set in src over dst (used by "set" and by the
 * start options). The target and times are not touched. Returns 0 or
 * -ENOMEM. */
int entry_merge(struct entry *dst, const struct entry *src);

/* Replaces *slot with a copy of s (NULL clears). 0 or -ENOMEM. */
int entry_set_string(char **slot, const char *s);
/* Appends s to *slot, separated by sep when *slot is not empty. */
int entry_append_string(char **slot, const char *sep, const char *s);

const char *entry_billable_name(enum entry_billable b); /* NULL if unset */
/* Case-insensitive; also accepts "do-not-bill", "no-charge". */
enum entry_billable entry_billable_from_name(const char *name);
/* ConnectWise name of a flag field ("addToDetailDescriptionFlag"). */
const char *entry_flag_cw_name(enum entry_flag f);
/* ConnectWise name of a reference field ("workType"). */
const char *entry_ref_cw_name(enum entry_refkind k);

/* Fills uuid with a version 4 UUID made from 16 random bytes (the caller
 * supplies the randomness). */
void entry_uuid_from_bytes(const uint8_t bytes[16], char uuid[ENTRY_UUID_LEN]);
/* True for 36 characters of lowercase hex in the 8-4-4-4-12 layout. */
bool entry_uuid_valid(const char *s);

/* Formats seconds as decimal hours with at least two and at most six
 * decimals ("1.50", "0.027778"); exact for whole minutes. Returns buf. */
char *entry_format_hours(int64_t seconds, char buf[32]);

/* Checks what ConnectWise would refuse: a target must be set; ChargeCode
 * needs a company; a company target must not name a different company;
 * tickets take their company from the ticket (a company is refused);
 * timeEnd must be after timeStart and hoursDeduct must be >= 0 and leave
 * time worked > 0; emailCcFlag needs emailCc. With times == false the
 * times are not checked (a timer's field template). Returns 0 or -EINVAL
 * with ERR_BAD_TARGET or ERR_BAD_ARGUMENT in *reterr. */
int entry_validate(const struct entry *e, bool times, struct errbuf *reterr);

/* Builds the exact ConnectWise POST body for /time/entries: chargeToId,
 * chargeToType, company, member, timeStart, timeEnd, hoursDeduct (when
 * non-zero), actualHours, billableOption, workType, workRole, agreement,
 * notes, internalNotes, the flags that are set, emailCc, mobileGuid (the
 * uuid). Unset fields are left out. Validates first (entry_validate with
 * times). Returns 0 and a new object in *ret, or a negative errno. */
int entry_to_cw_json(
    const struct entry *e, json_object **ret, struct errbuf *reterr);

/* Parses a ConnectWise TimeEntry (a POST body of ours or a GET reply):
 * every field optional, fractional seconds and offsets accepted, unknown
 * fields ignored. mobileGuid goes to uuid. Fills an initialised *ret.
 * Returns 0 or -EINVAL (ERR_BAD_ARGUMENT naming the field). */
int entry_from_cw_json(
    json_object *o, struct entry *ret, struct errbuf *reterr);

/* The user-settable fields only (no target, no times), in ConnectWise
 * spelling, for timer templates in the journal. New object or NULL. */
json_object *entry_fields_to_json(const struct entry *e);
/* The reverse of entry_fields_to_json, into an initialised *ret (whose
 * content is replaced). Returns 0 or -EINVAL / -ENOMEM. */
int entry_fields_from_json(
    json_object *o, struct entry *ret, struct errbuf *reterr);

/* Reads IPC arguments into the field template e (an initialised entry):
 * "notes", "internal_notes", "work_type", "work_role", "agreement",
 * "member", "company", "billable", "email_cc" (strings; an all-digit value
 * of a reference is an id), and the booleans "add_to_detail",
 * "add_to_internal", "add_to_resolution", "email_resource",
 * "email_contact", "email_cc_flag". Other keys are ignored. Returns 0 or
 * -EINVAL (ERR_BAD_ARGUMENT with the field) / -ENOMEM. */
int entry_fields_from_args(
    json_object *args, struct entry *e, struct errbuf *reterr);
