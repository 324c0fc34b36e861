/*
 * cmd-ref.h - the reference data commands (worktypes, roles, codes), the
 * daemon's reference data cache with name resolution, and the helpers
 * the ConnectWise pass-through commands share (cmd-entry.c, cmd-sheet.c):
 * a per-operation ConnectWise client, a pager that follows Link headers
 * to the end, and the error hints of the user's reference document.
 *
 * Everything runs on the loop's thread and may be called from callbacks.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "common/errcode.h"
#include "common/proto.h"
#include "core/refdata.h"
#include "daemon/commands.h"

struct cwapi;
struct cwapi_list_query;
struct cwapi_result;
struct daemon;
struct http;

extern const struct cmd_table cmd_ref_table;

/* ---- a ConnectWise client for one operation ---- */

/*
 * Interactive commands use their own short-lived client (transport plus
 * cwapi), opened when the command starts and closed when it ends, so no
 * handle outlives the operation and shutdown needs no hook. Interactive
 * calls are rare; the extra connection costs nothing that matters.
 */
struct cmdref_client {
	struct http *http;
	struct cwapi *api;
};

/* Opens a client from d->config and d->secret. Returns 0, or a negative
 * errno with reterr (api-not-configured, config). Does not log. */
int cmdref_client_open(
    struct daemon *d, struct cmdref_client *c, struct errbuf *reterr);
/* Cancels its calls (no callbacks) and closes it; safe inside one of its
 * callbacks. Accepts a zeroed struct. */
void cmdref_client_close(struct cmdref_client *c);

/* ---- paging ---- */

/* The end of a list: r is 0 and items the records (borrowed, the
 * caller may json_object_get them), or r < 0 with err. pages: how many
 * GETs were made. */
typedef void cmdref_list_fn(int r, json_object *items, size_t pages,
    const struct errbuf *err, void *userdata);

/* Hard page limit of one listing (connectwise-api.md 6). */
#define CMDREF_MAX_PAGES 200

/*
 * GETs q and then every rel="next" page until the Link header has no
 * next, a page comes back short or empty, or limit records (0: no
 * limit) have arrived. q->page_size is the page size. cb runs once,
 * never from inside this call's own stack. Returns 0 or a negative errno
 * (then cb never runs).
 */
int cmdref_list_all(struct cmdref_client *c, const struct cwapi_list_query *q,
    size_t limit, cmdref_list_fn *cb, void *userdata);


/* ---- the reference data cache ---- */

/* The daemon's cache (one per process; its lists are fetched lazily),
 * with the TTL of d's [reference] ttl (d may be NULL: the TTL stays). */
struct refdata *cmdref_cache(struct daemon *d);

/* The time the cache's TTL is measured in: loop time in seconds, or the
 * clock of cmdref_set_clock. */
int64_t cmdref_now(struct daemon *d);
/* Test knob: measure the TTL on now_s(userdata) (NULL: loop time). */
void cmdref_set_clock(int64_t (*now_s)(void *userdata), void *userdata);

typedef void cmdref_resolved_fn(
    int r, int64_t id, const struct errbuf *err, void *userdata);

/*
 * refdata_resolve() for the daemon: resolves name (a name or a decimal
 * id) of kind to an id. Returns 0 and *ret_id at once when the cache
 * allows (ids, fresh lists); a negative errno with reterr for an unknown
 * or ambiguous name (ERR_UNKNOWN_NAME / ERR_AMBIGUOUS_NAME, with close
 * matches, field set to field_name); or -EINPROGRESS: the list is being
 * fetched and cb(r, id, err, userdata) runs later, exactly once, with
 * the outcome (userdata must stay valid until then). For timers started
 * with a name before the cache existed: call it at stop.
 */
int cmdref_resolve(struct daemon *d, enum refdata_kind kind, const char *name,
    const char *field_name, int64_t *ret_id, cmdref_resolved_fn *cb,
    void *userdata, struct errbuf *reterr);

/* Fetches the list of kind now (force) or when missing or expired, then
 * runs cb(r, 0, err, userdata) once (later). Returns 0, or a negative
 * errno (cb never runs). */
int cmdref_fetch(struct daemon *d, enum refdata_kind kind, bool force,
    cmdref_resolved_fn *cb, void *userdata);

/* ---- names in queued entries (connectwise-api.md 3.3) ---- */

/* Does the ConnectWise body give its workType or workRole by name only
 * ({"name": ...} without an integer id)? Pure. */
bool cmdref_body_has_names(json_object *body);

/*
 * Resolves the by-name workType and workRole of body from the cache,
 * without fetching. Returns 1 and replaces both in body with {"id": N,
 * "name": the cached spelling}; 0 when the body names none; -EAGAIN when
 * a list is missing or expired (*ret_missing, may be NULL, says which);
 * -ENOENT / -ENOTUNIQ / -EINVAL with reterr (unknown, ambiguous with the
 * close matches, inactive; field "workType" or "workRole"). body changes
 * only on 1. Does not log.
 */
int cmdref_resolve_body(struct daemon *d, json_object *body,
    enum refdata_kind *ret_missing, struct errbuf *reterr);

/* Starts a background fetch of the list of kind when it is missing or
 * expired, none runs, and the API is usable; its end kicks the
 * submitter. Never waits, never fails the caller. */
void cmdref_warm(struct daemon *d, enum refdata_kind kind);
/* cmdref_warm for each kind body names by name only. */
void cmdref_warm_body(struct daemon *d, json_object *body);

/*
 * The submitter's ready hook (struct submitter_ops.ready; ctx is the
 * daemon): may the PENDING entry uuid with body be posted now? true for
 * a body without names. Otherwise it resolves them: all known -> journals
 * ENTRY_EDITED with the ids; one unknown, ambiguous or inactive ->
 * journals REJECTED {"local": true} with the close matches (never sent);
 * a list missing -> fetches it; and returns false (the submitter is
 * kicked when that is done). When the list could not be fetched in the
 * last 5 minutes it returns true: the names go as they are, which
 * ConnectWise resolves itself (doc/design.md).
 */
bool cmdref_entry_ready(void *ctx, const char *uuid, json_object *body);

/* ---- errors ---- */

/*
 * Adds the explanation of the user's reference table to a ConnectWise
 * error in e (its message and field stay as ConnectWise wrote them):
 * missing chargeToId, member or timeStart; an unknown work type or role;
 * a billed entry; an invalid status; 429 (its body has "error", not
 * "code"). Pure string work; does not log.
 */
void cmdref_explain(struct errbuf *e, const struct cwapi_result *res);

/* Fails req with res's error (after cmdref_explain). */
void cmdref_fail_result(struct request *req, const struct cwapi_result *res);
