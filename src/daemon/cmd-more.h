/*
 * cmd-more.h - lists longer than a reply line: the reply carries the first
 * part, the rest stays on the connection, and the "more" command hands it
 * out one line-sized part at a time.
 *
 * A reply line is at most PROTO_LINE_MAX bytes (RELIABILITY.md 6.1); a
 * month of ConnectWise time entries is several times that. The search has
 * already followed ConnectWise's paging to the end, so what remains is
 * kept as the snapshot it is: no second search, no page that shifts under
 * the reader. One list per connection (a new long reply replaces it); it
 * is freed when read to the end or when the connection goes.
 */
#pragma once

#include <json-c/json.h>

#include "daemon/commands.h"

/*
 * Adds to result the member key with as many of items (references taken)
 * as fit in the reply line, "returned" (how many) and "truncated" (some
 * are not in this reply), then replies (result is consumed). When some do
 * not fit and the request has a connection, the rest stays there and
 * result gets
 *   "more": {"cursor": C, "from": K, "total": N, "key": key}
 * for the request {"cmd": "more", "args": {"cursor": C, "from": K}}.
 * items is borrowed.
 */
void request_reply_list(struct request *req, json_object *result,
    const char *key, json_object *items);
