/*
 * proto.h - every constant of the cwtimectl <-> cwtimed wire protocol.
 *
 * Bump PROTO_VERSION when any message shape changes. doc/protocol.md and
 * cwtimed-ipc(7) are the reference for what travels on the socket.
 */
#pragma once

#define PROTO_VERSION 1

/* One request or reply is one JSON object on one line of at most this many
 * bytes, newline included. */
#define PROTO_LINE_MAX (64 * 1024)
/* Nesting depth accepted by the daemon's tokener. */
#define PROTO_JSON_DEPTH 16

/* Connection limits (RELIABILITY.md 6.1 said 32 and 24; issue 6 wants 100
 * follow subscribers plus commands, so they are 256 and 192: see
 * doc/design.md, departures). Memory stays bounded: the input buffer is
 * allocated at the first byte, and events for a subscriber that does not
 * read are coalesced (ipc.h), never queued. */
#define PROTO_MAX_CONNS 256
#define PROTO_MAX_CONNS_PER_UID 192
/* A partial line must be completed within this many milliseconds. */
#define PROTO_PARTIAL_LINE_MS 10000
/* Bytes queued for one connection (replies and events) before it is cut. */
#define PROTO_OUTPUT_MAX (256 * 1024)

/* Socket name inside $XDG_RUNTIME_DIR. */
#define PROTO_RUNTIME_SUBDIR "cwtimed"
#define PROTO_SOCKET_NAME "socket"

/* ---- framing and message building (proto.c) ----
 * Pure functions: no I/O, no logging, no global state. Shared by cwtimed
 * and cwtimectl. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "common/errcode.h"

/* Longest command name accepted on the wire. */
#define PROTO_CMD_MAX 64

/* One parsed request line. root is owned; args points into it (never NULL
 * after a successful parse: an absent "args" becomes an empty object that
 * root owns too). Release with proto_request_fini(). */
struct proto_request {
	json_object *root;
	json_object *args;
	int64_t id;
	bool has_id;           /* false: reply with "id":null */
	char cmd[PROTO_CMD_MAX];
};

/* Parses one request line (without its '\n'; a trailing '\r' is
 * tolerated). Checks, in order: the size (ERR_LINE_TOO_LONG when len + 1
 * exceeds PROTO_LINE_MAX), NUL bytes, JSON syntax with a depth-limited
 * strict tokener that validates UTF-8 and refuses trailing text, a
 * top-level object, an integer "id" (taken first so that every later
 * error can name it), "v" == PROTO_VERSION (ERR_PROTOCOL_VERSION when it
 * is another integer), a string "cmd" of [a-z0-9_.-] and an object "args"
 * when present; any other top-level member is refused. Returns 0 and fills
 * *ret, or -EBADMSG / -E2BIG / -EPROTO / -ENOMEM with the reason in
 * *reterr; on failure ret->id/has_id still carry the id when it was
 * readable, and ret holds nothing to free. */
int proto_request_parse(const char *line, size_t len,
    struct proto_request *ret, struct errbuf *reterr);

/* Releases what a parsed request owns. Accepts a zeroed struct. */
void proto_request_fini(struct proto_request *req);

/* Parses one line that must hold a JSON object (replies and events on the
 * client side) with the same size, depth and strictness rules. Returns 0
 * and a new reference in *ret, or a negative errno with *reterr. */
int proto_parse_object(const char *line, size_t len, json_object **ret,
    struct errbuf *reterr);

/* Builders. Each returns 0 and a new malloc'd line ending in "\n" in *ret
 * (length without the NUL in *ret_len), -E2BIG when the line would exceed
 * PROTO_LINE_MAX, or -ENOMEM. The JSON arguments are borrowed.
 *   {"v":1,"id":ID,"ok":true,"result":RESULT}   (RESULT NULL: {})
 *   {"v":1,"id":ID,"ok":false,"error":{"code":..,"message":..,"field":..}}
 *   {"v":1,"event":NAME,"seq":SEQ,"data":DATA}  (DATA NULL: {})
 * "id" is null when has_id is false; "field" is left out when empty. */
int proto_build_reply(int64_t id, bool has_id, json_object *result,
    char **ret, size_t *ret_len);
int proto_build_error(int64_t id, bool has_id, const struct errbuf *e,
    char **ret, size_t *ret_len);
int proto_build_event(const char *name, uint64_t seq, json_object *data,
    char **ret, size_t *ret_len);
/* A request line (client side): {"v":1,"id":ID,"cmd":CMD,"args":ARGS}. */
int proto_build_request(int64_t id, const char *cmd, json_object *args,
    char **ret, size_t *ret_len);
