/*
 * conn.h - cwtimectl's side of the socket: blocking I/O, one JSON object
 * per line.
 *
 * No event loop: a hotkey connects, writes one line, reads one line and
 * exits. Timeouts come from SO_RCVTIMEO/SO_SNDTIMEO; short reads and
 * writes are looped; recv() == 0 is the end of the stream.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "common/proto.h"

struct errbuf;

/* A reply or event line is at most this long, newline included. */
#define CONN_REPLY_MAX PROTO_LINE_MAX
/* Seconds to wait for a reply: the daemon may be waiting on ConnectWise. */
#define CONN_REPLY_TIMEOUT_S 90
/* Seconds to wait for the daemon to take our request. */
#define CONN_SEND_TIMEOUT_S 10

struct conn {
	int fd;
	char *buf; /* received bytes not yet returned */
	size_t len, cap;
	size_t consumed; /* bytes of buf returned as the last line */
};

/* Writes the default socket path ($XDG_RUNTIME_DIR/cwtimed/socket, or
 * /run/user/UID/cwtimed/socket without XDG_RUNTIME_DIR) into buf.
 * Returns 0 or -ENAMETOOLONG. */
int conn_default_path(char *buf, size_t n);

/* Connects to path. timeout_s bounds every later read (0: block forever,
 * for follow mode). Returns 0, or a negative errno with
 * ERR_DAEMON_UNREACHABLE (or ERR_USAGE for a path too long) in *reterr.
 * conn_fini() is safe afterwards either way. */
int conn_open(
    struct conn *c, const char *path, int timeout_s, struct errbuf *reterr);

/* Closes and frees; accepts a zeroed or already finished conn. */
void conn_fini(struct conn *c);

/* Sends line plus '\n'. Returns 0 or a negative errno with
 * ERR_DAEMON_UNREACHABLE / ERR_TIMEOUT in *reterr. */
int conn_send_line(struct conn *c, const char *line, struct errbuf *reterr);

/* Reads the next line (without its '\n') into *ret_line, valid until the
 * next call. Returns 0, or -EPIPE at the end of the stream, -EAGAIN on
 * timeout, -EMSGSIZE for a line above CONN_REPLY_MAX, each with a reason
 * (ERR_DAEMON_UNREACHABLE, ERR_TIMEOUT, ERR_PROTOCOL_VERSION). */
int conn_read_line(
    struct conn *c, const char **ret_line, struct errbuf *reterr);

/* Whether a complete line is already buffered (poll() would not say). */
bool conn_has_line(const struct conn *c);

/* Reads lines until a message that is not an event and parses it with a
 * depth-limited tokener; checks "v". Returns 0 and the message in *ret
 * (caller puts it), or a negative errno with the reason in *reterr. */
int conn_read_reply(struct conn *c, json_object **ret, struct errbuf *reterr);

/* Parses one line as a protocol message (object, "v" == PROTO_VERSION).
 * Returns 0 and *ret, or -EPROTO with ERR_PROTOCOL_VERSION. */
int conn_parse_message(
    const char *line, json_object **ret, struct errbuf *reterr);
