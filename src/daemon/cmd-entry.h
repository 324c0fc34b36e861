/*
 * cmd-entry.h - the time entry commands passed through to ConnectWise
 * (entries, entry.show, entry.edit, entry.delete, approve, reject) and
 * the helpers cmd-sheet.c shares with them.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "common/errcode.h"
#include "daemon/commands.h"

struct conditions;
struct daemon;

extern const struct cmd_table cmd_entry_table;

/* Canonical ConnectWise status for s (case-insensitive), or -EINVAL
 * with a specific ERR_BAD_ARGUMENT message (the reference's simplified
 * "Approved" and "Submitted" are named as such) and field. Pure. */
int cmdentry_status_canon(
    const char *s, const char *field, const char **ret, struct errbuf *reterr);

/* Adds the member filter for a "member" argument (an id, or "me": the
 * [api] member of the config, by id or identifier). Returns 0 or a
 * negative errno with reterr (field "member"). */
int cmdentry_add_member(struct daemon *d, json_object *member,
    struct conditions *c, struct errbuf *reterr);

/* The "ids" argument (already checked to be an array) as a new array of
 * distinct ids > 0; on failure the request has been failed. */
int cmdentry_parse_ids(struct request *req, int64_t **ret, size_t *ret_n);

/* One id's outcome; err->code ERR_OK means success. */
struct id_result_view {
	int64_t id;
	const struct errbuf *err;
};

/* Answers a several-ids request: {"results": table} when every id
 * succeeded (table stolen), else an error with the first failure's code
 * naming each failed id with its reason and the ids that succeeded. */
void cmdentry_batch_finish(struct request *req, const char *verb,
    const struct id_result_view *v, size_t n, json_object *table);
