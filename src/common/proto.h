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

/* Connection limits (RELIABILITY.md 6.1). */
#define PROTO_MAX_CONNS 32
#define PROTO_MAX_CONNS_PER_UID 24
/* A partial line must be completed within this many milliseconds. */
#define PROTO_PARTIAL_LINE_MS 10000
/* Bytes queued for one connection (replies and events) before it is cut. */
#define PROTO_OUTPUT_MAX (256 * 1024)

/* Socket name inside $XDG_RUNTIME_DIR. */
#define PROTO_RUNTIME_SUBDIR "cwtimed"
#define PROTO_SOCKET_NAME "socket"
