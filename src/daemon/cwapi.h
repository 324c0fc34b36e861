/*
 * cwapi.h - ConnectWise PSA requests and replies on top of an injected
 * HTTP transport (connectwise-api.md). No curl here: the transport is
 * http.c's in the daemon and a fake in the tests.
 *
 * Every call is asynchronous: it returns a call id > 0 (or a negative
 * errno, and then the callback never runs) and later runs its callback
 * once with a struct cwapi_result, unless cancelled first. Nothing in
 * this module logs; results carry what the caller needs to log or reply.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "common/errcode.h"
#include "core/classify.h"

struct http_transport;
struct secret;
struct cwapi;

#define CWAPI_DEFAULT_VERSION "2025.8"

/*
 * The pacer's injected time: now_ms reads a monotonic clock in ms; arm
 * asks for one cwapi_kick() after delay_ms (a new arm replaces the last;
 * -1 cancels). The daemon backs arm with a uv_timer_t, tests with a
 * manual clock. arm is called only while calls wait for a token, so an
 * idle client arms nothing.
 */
struct cwapi_clock {
	int64_t (*now_ms)(void *userdata);
	void (*arm)(void *userdata, int64_t delay_ms);
	void *userdata;
};

struct cwapi_config {
	const char *url;     /* [api] url: the whole base ("https://h/v2025_1/
			      * apis/3.0"); wins over site. No trailing '/'. */
	const char *site;    /* [api] site: host[:port]; the codebase is looked
			      * up from /login/companyinfo/COMPANY */
	const char *company; /* company id (required) */
	const char *api_version;     /* NULL: CWAPI_DEFAULT_VERSION */
	uint32_t connect_timeout_ms; /* 0: transport default */
	uint32_t total_timeout_ms;   /* 0: transport default */
	uint32_t low_speed_time_s;   /* 0: transport default */
	size_t body_max;	     /* reply cap; 0: transport default */
	/* Pacing (RELIABILITY.md 5): at most max_rate requests a minute (0:
	 * unpaced; needs clock) and at most max_in_flight requests out at
	 * once (0: no limit). Calls beyond that wait in order. */
	uint32_t max_rate;
	uint32_t max_in_flight;
	const struct cwapi_clock *clock; /* NULL: no rate limit (copied) */
	/* Called as each request goes out (NULL: nothing). The interactive
	 * commands' clients charge the submitter's pacer with it. */
	void (*on_send)(void *userdata);
	void *on_send_userdata;
};

/* The outcome of one call; valid only during the callback. */
struct cwapi_result {
	enum classify_class cls; /* connectwise-api.md 12 */
	/* cwapi_post_entry only: what the entry ends in (RELIABILITY.md 4.1);
	 * CLASSIFY_POST_COUNT for every other call. */
	enum classify_post post;
	enum classify_xfer xfer;
	int status; /* HTTP status, 0 when no reply */
	uint64_t bytes_sent;
	/* POST/GET of one entry: its id (-1 when the reply had none); count
	 * calls: the count; otherwise -1. */
	int64_t id;
	/* The reply body parsed as JSON (borrowed: json_object_get to keep
	 * it); NULL when there is none or it is not JSON. */
	struct json_object *json;
	const char *retry_after; /* raw Retry-After, or NULL */
	const char *link_next;	 /* Link rel="next" URL, or NULL */
	/* On failure: code (api-auth, api-rejected, api-not-found,
	 * no-such-ticket, api-error, api-unreachable, config) and
	 * ConnectWise's own message and field, sanitised and truncated. */
	struct errbuf err;
	char cw_code[64];   /* ConnectWise's "code" (or "error"), or "" */
	const char *detail; /* transport detail when no reply, or NULL */
};

typedef void cwapi_done_fn(const struct cwapi_result *res, void *userdata);

/*
 * Creates the client. cfg is copied; secret and transport are borrowed
 * and must outlive it (cwapi_set_secret swaps the secret). The URL is
 * checked (https, or http to loopback). Returns 0 and *ret, or -EINVAL
 * with reterr (ERR_CONFIG / ERR_API_NOT_CONFIGURED), -ENOMEM.
 */
int cwapi_new(const struct cwapi_config *cfg, const struct secret *secret,
    struct http_transport *transport, struct cwapi **ret,
    struct errbuf *reterr);

/* Cancels every outstanding call (no callbacks) and frees. Accepts NULL. */
void cwapi_free(struct cwapi *api);

/* Uses another secret from now on (after a reload). Borrowed. */
void cwapi_set_secret(struct cwapi *api, const struct secret *secret);

/* The delay asked for through cwapi_clock.arm has passed: sends the
 * calls the pacer now allows. May run callbacks (of queued calls that
 * could not be sent). */
void cwapi_kick(struct cwapi *api);

/* A request went out on another client (cwapi_config.on_send): it counts
 * against this client's max_rate (backoff_pacer_charge), so that our
 * requests and the others together keep to it. No effect unpaced. */
void cwapi_charge(struct cwapi *api);

/* Drops a call: its callback never runs. Unknown ids are ignored. The
 * request may still reach the server. */
void cwapi_cancel(struct cwapi *api, int64_t id);

/* The base URL in use ("" while the codebase is unknown). Borrowed. */
const char *cwapi_base_url(const struct cwapi *api);

/* Starts the codebase lookup now (site mode) instead of on the first
 * call; cb gets the lookup's own result. */
int64_t cwapi_lookup(struct cwapi *api, cwapi_done_fn *cb, void *userdata);

/* POST /time/entries with entry (a TimeEntry object) on a fresh
 * connection. res->id is the new id; cls is classify_outcome's, with
 * has_id from the reply. */
int64_t cwapi_post_entry(struct cwapi *api, struct json_object *entry,
    cwapi_done_fn *cb, void *userdata);

/* POST /time/entries/defaults with entry (a TimeEntry object): the entry
 * with ConnectWise's defaults filled in (res->json), stored nowhere. For
 * `log --dry-run`. */
int64_t cwapi_entry_defaults(struct cwapi *api, struct json_object *entry,
    cwapi_done_fn *cb, void *userdata);

/* GET /time/entries/{id}[?fields=...]. fields may be NULL. */
int64_t cwapi_get_entry(struct cwapi *api, int64_t id, const char *fields,
    cwapi_done_fn *cb, void *userdata);

/* GET /time/entries?conditions=mobileGuid="<uuid>"&fields=id,mobileGuid.
 * uuid must be a canonical 36-character UUID (-EINVAL otherwise).
 * res->json is the array of matches. */
int64_t cwapi_find_by_guid(
    struct cwapi *api, const char *uuid, cwapi_done_fn *cb, void *userdata);

/* The natural key of connectwise-api.md 11 (fallback match). */
struct cwapi_natural_key {
	const char *member_identifier; /* or NULL and member_id > 0 */
	int64_t member_id;
	const char *charge_to_type; /* "ServiceTicket", ... */
	int64_t charge_to_id;	    /* <= 0: not part of the key */
	int64_t time_start;	    /* Unix seconds (UTC) */
};

/* GET /time/entries?conditions=member/... and chargeToType=... and
 * chargeToId=... and timeStart=[...]&fields=id,mobileGuid,timeStart,
 * timeEnd,actualHours,internalNotes. Values containing '"' are refused
 * with -EINVAL. res->json is the array of matches. */
int64_t cwapi_find_by_natural_key(struct cwapi *api,
    const struct cwapi_natural_key *key, cwapi_done_fn *cb, void *userdata);

/* PATCH /time/entries/{id} with ops (a JSON Patch array, section 7). */
int64_t cwapi_patch_entry(struct cwapi *api, int64_t id,
    struct json_object *ops, cwapi_done_fn *cb, void *userdata);

/* DELETE /time/entries/{id}. */
int64_t cwapi_delete_entry(
    struct cwapi *api, int64_t id, cwapi_done_fn *cb, void *userdata);

/* A list query (connectwise-api.md 5 and 6). */
struct cwapi_list_query {
	const char *resource;	/* "/time/entries", "/time/workTypes", ... */
	const char *conditions; /* NULL: none */
	const char *order_by;	/* NULL: none; refused with page_id >= 0 */
	const char *fields;	/* NULL: all */
	int64_t page;		/* > 0: navigable page number */
	int64_t page_size;	/* > 0: pageSize (1..1000) */
	int64_t page_id;	/* >= 0: forward-only paging from this id;
				 * < 0: navigable */
};

/* GET resource?conditions=...&orderBy=...&fields=...&page=...&pageSize=
 * ...[&pageId=...] (pagination-type: forward-only with pageId).
 * res->json is the array, res->link_next the next page's URL. */
int64_t cwapi_list(struct cwapi *api, const struct cwapi_list_query *q,
    cwapi_done_fn *cb, void *userdata);

/* GET of a next-page URL taken from res->link_next. It must lie under the
 * base URL (credentials never go elsewhere): -EPERM otherwise. */
int64_t cwapi_list_next(struct cwapi *api, const char *url, bool forward_only,
    cwapi_done_fn *cb, void *userdata);

enum cwapi_ticket_kind {
	CWAPI_TICKET_SERVICE, /* /service/tickets/{id} */
	CWAPI_TICKET_PROJECT, /* /project/tickets/{id} */
};

/* GET /service/tickets/{id} or /project/tickets/{id} with fields (NULL:
 * "id,summary,company"). A 404 gives ERR_NO_SUCH_TICKET. */
int64_t cwapi_get_ticket(struct cwapi *api, enum cwapi_ticket_kind kind,
    int64_t id, const char *fields, cwapi_done_fn *cb, void *userdata);

/* The time sheet actions of connectwise-api.md 4. */
enum cwapi_sheet_action {
	CWAPI_SHEET_SUBMIT,  /* technician submits the period */
	CWAPI_SHEET_APPROVE, /* body: a TimeSheetTierUpdate, or NULL */
	CWAPI_SHEET_REJECT,
	CWAPI_SHEET_REVERSE, /* undo an approval or submission */
	CWAPI_SHEET_ACTION_COUNT,
};

/* POST /time/sheets/{id}/submit|approve|reject|reverse on a fresh
 * connection, with body (a JSON object, copied; NULL sends none) as
 * ConnectWise's request body. res->json is the SuccessResponse. A 404
 * (no such sheet) gives ERR_API_NOT_FOUND, other refusals
 * ERR_API_REJECTED with ConnectWise's message. -EINVAL for id <= 0, an
 * unknown action or a body that is not an object. */
int64_t cwapi_sheet_action(struct cwapi *api, int64_t id,
    enum cwapi_sheet_action action, struct json_object *body,
    cwapi_done_fn *cb, void *userdata);

/* GET /time/workTypes/count: the breaker's cheap authenticated probe.
 * res->id is the count. */
int64_t cwapi_count_worktypes(
    struct cwapi *api, cwapi_done_fn *cb, void *userdata);

/*
 * Parses a ConnectWise error body (section 9: code or error, message,
 * errors[].code/message/field/resource) into reterr->msg / field and
 * *ret_code (size code_size). A body that is not JSON gives "HTTP
 * <status>". Text is stripped of control characters and truncated.
 * Pure; exposed for the tests and the fuzzer.
 */
void cwapi_parse_error(int status, const char *body, size_t len,
    enum errcode code, struct errbuf *reterr, char *ret_code, size_t code_size);

/* Finds the rel="next" target in an RFC 8288 Link header value. Returns
 * 0 and the URL in buf, -ENOENT when there is none, -ENOBUFS. Pure. */
int cwapi_link_next(const char *link, char *buf, size_t size);
