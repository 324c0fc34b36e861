/*
 * cmd-more.c - the rest of a list longer than a reply line (cmd-more.h).
 */
#include "daemon/cmd-more.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/errcode.h"
#include "common/cleanup.h"
#include "common/proto.h"
#include "daemon/ipc.h"

/* Room kept in a line for the framing ({"v":1,"id":N,"ok":true,
 * "result":...}) and the "more", "returned" and "truncated" members. */
#define MORE_RESERVE 256

/* The connection's data (conn_set_data): only this module sets it. */
struct rest {
	json_object *items; /* NULL once read to the end */
	const char *key;    /* static: the member the items belong in */
	int64_t cursor;     /* grows with each list on the connection */
};

static void
rest_free(void *p)
{
	struct rest *r = p;

	if (r) {
		json_object_put(r->items);
		free(r);
	}
}

static size_t
json_len(json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	return s ? strlen(s) : 0;
}

/* Appends items[from...] to out while they fit in budget bytes (commas
 * counted); returns the index of the first one left out. At least one
 * item is taken when budget allows none, so that a reader always moves
 * on: an item larger than a line then fails the reply with "the reply
 * would exceed", which names the problem instead of looping. */
static size_t
fill(json_object *out, json_object *items, size_t from, size_t budget)
{
	size_t n = json_object_array_length(items), used = 0, i;

	for (i = from; i < n; i++) {
		json_object *e = json_object_array_get_idx(items, i);
		size_t len = json_len(e) + 1;

		if (used + len > budget && i > from) {
			break;
		}
		used += len;
		if (json_object_array_add(out, json_object_get(e)) < 0) {
			json_object_put(e);
			break;
		}
	}
	return i;
}

static json_object *
more_object(const struct rest *r, size_t from, size_t total)
{
	json_object *m = json_object_new_object();

	if (!m) {
		return NULL;
	}
	json_object_object_add(m, "cursor", json_object_new_int64(r->cursor));
	json_object_object_add(m, "from", json_object_new_int64((int64_t) from));
	json_object_object_add(
	    m, "total", json_object_new_int64((int64_t) total));
	json_object_object_add(m, "key", json_object_new_string(r->key));
	return m;
}

/* Puts items[from...] into result[key] and the counters; keeps or drops
 * the connection's rest accordingly; replies. */
static void
reply_part(struct request *req, json_object *result, const char *key,
    json_object *items, size_t from, struct rest *keep)
{
	json_object *list = json_object_new_array();
	size_t n = json_object_array_length(items), base, next;
	struct conn *c = request_conn(req);

	if (!result || !list) {
		json_object_put(result);
		json_object_put(list);
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	base = json_len(result) + strlen(key) + 4 + MORE_RESERVE;
	next = fill(list, items, from,
	    base < PROTO_LINE_MAX ? PROTO_LINE_MAX - base : 0);
	json_object_object_add(result, key, list);
	json_object_object_add(
	    result, "returned", json_object_new_int64((int64_t) (next - from)));
	json_object_object_add(
	    result, "truncated", json_object_new_boolean(next < n));
	if (next < n && c) {
		struct rest *r = keep;

		if (!r) {
			r = conn_data(c);
			if (!r) {
				r = calloc(1, sizeof(*r));
				if (!r) {
					request_reply(req, result);
					return;
				}
				conn_set_data(c, r, rest_free);
			}
			json_object_put(r->items);
			r->items = json_object_get(items);
			r->key = key;
			r->cursor++;
		}
		json_object_object_add(result, "more", more_object(r, next, n));
	} else if (keep) {
		/* read to the end: the memory goes now, not with the
		 * connection */
		json_object_put(keep->items);
		keep->items = NULL;
	}
	request_reply(req, result);
}

void
request_reply_list(struct request *req, json_object *result, const char *key,
    json_object *items)
{
	reply_part(req, result, key, items, 0, NULL);
}

static void
cmd_more(struct request *req)
{
	struct conn *c = request_conn(req);
	struct rest *r = c ? conn_data(c) : NULL;
	int64_t cursor = 0, from = 0;
	size_t n;

	(void) request_arg_int(req, "cursor", &cursor); /* required */
	(void) request_arg_int(req, "from", &from);     /* required */
	if (!r || !r->items || r->cursor != cursor) {
		request_failf(req, ERR_BAD_ARGUMENT, "cursor",
		    "no list %lld on this connection: it was read to the end, "
		    "or a newer long reply replaced it",
		    (long long) cursor);
		return;
	}
	n = json_object_array_length(r->items);
	if (from < 0 || (uint64_t) from >= n) {
		request_failf(req, ERR_BAD_ARGUMENT, "from",
		    "from %lld is outside the list's %zu items",
		    (long long) from, n);
		return;
	}
	json_object *o = json_object_new_object();

	if (o) {
		json_object_object_add(o, "from", json_object_new_int64(from));
		json_object_object_add(
		    o, "total", json_object_new_int64((int64_t) n));
	}
	/* reply_part may drop r->items: keep it alive for the call */
	CLEANUP_JSON json_object *items = json_object_get(r->items);

	reply_part(req, o, r->key, items, (size_t) from, r);
}

static const struct param_spec more_params[] = {
	{ "cursor", PARAM_INT, PARAM_REQUIRED },
	{ "from", PARAM_INT, PARAM_REQUIRED },
	{ NULL, 0, 0 },
};

static const struct cmd more_cmds[] = {
	{ "more", cmd_more, 0, more_params },
};

const struct cmd_table cmd_more_table = {
	more_cmds,
	ARRAY_SIZE(more_cmds),
};
