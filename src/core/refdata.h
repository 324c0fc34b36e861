/*
 * refdata.h - the reference data cache (work types, work roles, charge
 * codes) and name-to-id resolution with close matches.
 *
 * Pure: the caller fetches the lists from ConnectWise and passes the time
 * in (any monotonic seconds); nothing here does I/O, reads a clock or
 * logs. Lists expire ttl_s seconds after they were loaded.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct errbuf;

enum refdata_kind {
	REFDATA_WORK_TYPE,
	REFDATA_WORK_ROLE,
	REFDATA_CHARGE_CODE,
	REFDATA_KIND_COUNT,
	REFDATA_KIND_INVALID = REFDATA_KIND_COUNT,
};

/* Default time to live of a list: 1 hour. */
#define REFDATA_DEFAULT_TTL_S 3600
/* Entries kept per list (ConnectWise pages hold 1000). */
#define REFDATA_MAX_ITEMS 5000
/* Close matches listed in an error. */
#define REFDATA_MAX_SUGGESTIONS 5

struct refdata_item {
	int64_t id;
	char *name;
	bool inactive;
};

struct refdata_list {
	struct refdata_item *items;
	size_t n;
	json_object *raw; /* the ConnectWise objects as fetched (owned) */
	int64_t loaded_at;
	bool loaded;
};

struct refdata {
	struct refdata_list lists[REFDATA_KIND_COUNT];
	int64_t ttl_s;
};

/* ConnectWise collection path of a kind ("/time/workTypes", ...). */
const char *refdata_resource(enum refdata_kind kind);
/* Words for messages ("work type", "work role", "charge code"). */
const char *refdata_kind_label(enum refdata_kind kind);

/* Empties rd; ttl_s <= 0 uses REFDATA_DEFAULT_TTL_S. */
void refdata_init(struct refdata *rd, int64_t ttl_s);
/* Frees every list. Accepts a zeroed struct. */
void refdata_fini(struct refdata *rd);

/*
 * Replaces the list of kind with the objects of array (a JSON array of
 * ConnectWise records with "id", "name" and optionally "inactiveFlag";
 * a reference is taken on array). Records without an integer id > 0 or a
 * string name are skipped. Returns 0, -EINVAL (not an array, or too many
 * records; the old list stays), -ENOMEM.
 */
int refdata_load(struct refdata *rd, enum refdata_kind kind, json_object *array,
    int64_t now);

/* Is the list of kind loaded and younger than the TTL at now? */
bool refdata_fresh(
    const struct refdata *rd, enum refdata_kind kind, int64_t now);

/* Forgets the list of kind (--refresh). */
void refdata_invalidate(struct refdata *rd, enum refdata_kind kind);

/* The list's ConnectWise objects (borrowed), or NULL when not loaded. */
json_object *refdata_raw(const struct refdata *rd, enum refdata_kind kind);

/*
 * Resolves name (a decimal id, or a name matched without regard to case:
 * exactly, or else as a unique prefix) to an id.
 * Returns 0 and *ret_id; -EAGAIN when the list is missing or expired at
 * now (fetch it, then call again; a decimal id never needs the list and
 * is returned as it is); -ENOENT with ERR_UNKNOWN_NAME and close matches
 * in reterr; -ENOTUNIQ with ERR_AMBIGUOUS_NAME listing the candidates;
 * -EINVAL (ERR_UNKNOWN_NAME) when the match is inactive. field_name
 * (e.g. "work_type") goes into reterr->field.
 */
int refdata_resolve(const struct refdata *rd, enum refdata_kind kind,
    const char *name, const char *field_name, int64_t now, int64_t *ret_id,
    struct errbuf *reterr);

/* The name of id in the (possibly expired) list, or NULL. Borrowed. */
const char *refdata_name(
    const struct refdata *rd, enum refdata_kind kind, int64_t id);

/* Edit distance of a and b ignoring case, capped at cap + 1. Pure;
 * exposed for the tests. */
size_t refdata_distance(const char *a, const char *b, size_t cap);
