/*
 * conn.c - blocking client I/O on the daemon's Unix socket.
 *
 * Invariants: every read and write is bounded in time by SO_RCVTIMEO /
 * SO_SNDTIMEO (except follow mode, which polls); short I/O is looped;
 * recv() == 0 ends the stream and is never mistaken for progress; the
 * input buffer never grows past CONN_REPLY_MAX. SIGPIPE cannot kill us:
 * every send uses MSG_NOSIGNAL.
 */
#include "client/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/errcode.h"
#include "common/proto.h"

int
conn_default_path(char *buf, size_t n)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	int k;

	if (dir && dir[0] == '/') {
		k = snprintf(buf, n, "%s/%s/%s", dir, PROTO_RUNTIME_SUBDIR,
		    PROTO_SOCKET_NAME);
	} else {
		k = snprintf(buf, n, "/run/user/%u/%s/%s", (unsigned) getuid(),
		    PROTO_RUNTIME_SUBDIR, PROTO_SOCKET_NAME);
	}
	return k < 0 || (size_t) k >= n ? -ENAMETOOLONG : 0;
}

int
conn_open(
    struct conn *c, const char *path, int timeout_s, struct errbuf *reterr)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = timeout_s};
	struct timeval stv = {.tv_sec = CONN_SEND_TIMEOUT_S};
	int r;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		return errbuf_set(reterr, ERR_USAGE, -ENAMETOOLONG,
		    "socket path too long: %s", path);
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		r = -errno;
		return errbuf_set(reterr, ERR_DAEMON_UNREACHABLE, r,
		    "cannot create a socket: %s", strerror(-r));
	}
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &stv, sizeof(stv)) < 0) {
		r = -errno;
		return errbuf_set(reterr, ERR_DAEMON_UNREACHABLE, r,
		    "cannot set socket timeouts: %s", strerror(-r));
	}
	/* A blocking connect on a Unix socket returns at once (or EAGAIN
	 * when the backlog is full): no timeout is needed here. */
	if (connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
		r = -errno;
		return errbuf_set(reterr, ERR_DAEMON_UNREACHABLE, r,
		    "cannot connect to %s: %s", path, strerror(-r));
	}
	return 0;
}

void
conn_fini(struct conn *c)
{
	if (!c) {
		return;
	}
	if (c->fd > 0) {
		(void) close(c->fd); /* nothing buffered on our side */
	}
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = c->consumed = 0;
}

int
conn_send_line(struct conn *c, const char *line, struct errbuf *reterr)
{
	size_t len = strlen(line);
	size_t off = 0;
	char *msg = malloc(len + 1);

	if (!msg) {
		return errbuf_set(
		    reterr, ERR_INTERNAL, -ENOMEM, "out of memory");
	}
	memcpy(msg, line, len);
	msg[len++] = '\n';
	while (off < len) {
		ssize_t k = send(c->fd, msg + off, len - off, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k < 0) {
			int r = -errno;

			free(msg);
			if (r == -EAGAIN || r == -EWOULDBLOCK) {
				return errbuf_set(reterr, ERR_TIMEOUT, r,
				    "cwtimed did not take the request within "
				    "%d s",
				    CONN_SEND_TIMEOUT_S);
			}
			return errbuf_set(reterr, ERR_DAEMON_UNREACHABLE, r,
			    "cannot send to cwtimed: %s", strerror(-r));
		}
		off += (size_t) k;
	}
	free(msg);
	return 0;
}

bool
conn_has_line(const struct conn *c)
{
	return c->len > c->consumed &&
	    memchr(c->buf + c->consumed, '\n', c->len - c->consumed) != NULL;
}

int
conn_read_line(struct conn *c, const char **ret_line, struct errbuf *reterr)
{
	/* Drop the line returned last time. */
	if (c->consumed > 0) {
		memmove(c->buf, c->buf + c->consumed, c->len - c->consumed);
		c->len -= c->consumed;
		c->consumed = 0;
	}
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;

		if (nl) {
			*nl = '\0';
			c->consumed = (size_t) (nl - c->buf) + 1;
			*ret_line = c->buf;
			return 0;
		}
		if (c->len >= CONN_REPLY_MAX) {
			/* proto_parse_object would refuse it anyway */
			return errbuf_set(reterr, ERR_PROTOCOL_VERSION,
			    -EMSGSIZE, "reply longer than %d bytes",
			    CONN_REPLY_MAX);
		}
		if (c->cap - c->len < 4096) {
			size_t cap = c->cap ? c->cap * 2 : 16384;

			if (cap > CONN_REPLY_MAX + 1) {
				cap = CONN_REPLY_MAX + 1;
			}
			char *p = realloc(c->buf, cap);

			if (!p) {
				return errbuf_set(reterr, ERR_INTERNAL, -ENOMEM,
				    "out of memory");
			}
			c->buf = p;
			c->cap = cap;
		}
		ssize_t k =
		    recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);

		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k < 0) {
			int r = -errno;

			if (r == -EAGAIN || r == -EWOULDBLOCK) {
				return errbuf_set(reterr, ERR_TIMEOUT, -EAGAIN,
				    "cwtimed did not answer within %d s",
				    CONN_REPLY_TIMEOUT_S);
			}
			return errbuf_set(reterr, ERR_DAEMON_UNREACHABLE, r,
			    "cannot read from cwtimed: %s", strerror(-r));
		}
		if (k == 0) {
			return errbuf_set(reterr, ERR_DAEMON_UNREACHABLE,
			    -EPIPE, "cwtimed closed the connection");
		}
		c->len += (size_t) k;
	}
}

int
conn_parse_message(const char *line, json_object **ret, struct errbuf *reterr)
{
	json_object *o = NULL, *v = NULL;
	struct errbuf e;

	/* Same size, depth and strictness rules as the daemon's parser. */
	if (proto_parse_object(line, strlen(line), &o, &e) < 0) {
		return errbuf_set(reterr, ERR_PROTOCOL_VERSION, -EPROTO,
		    "cwtimed sent a malformed reply: %s", e.msg);
	}
	if (!json_object_object_get_ex(o, "v", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != PROTO_VERSION) {
		int r = errbuf_set(reterr, ERR_PROTOCOL_VERSION, -EPROTO,
		    "cwtimed speaks protocol version %s, cwtimectl %d; "
		    "restart cwtimed after an upgrade",
		    v ? json_object_get_string(v) : "(none)", PROTO_VERSION);

		json_object_put(o);
		return r;
	}
	*ret = o;
	return 0;
}

int
conn_read_reply(struct conn *c, json_object **ret, struct errbuf *reterr)
{
	for (;;) {
		const char *line;
		json_object *o = NULL, *ev = NULL;
		int r = conn_read_line(c, &line, reterr);

		if (r < 0) {
			return r;
		}
		r = conn_parse_message(line, &o, reterr);
		if (r < 0) {
			return r;
		}
		if (json_object_object_get_ex(o, "event", &ev)) {
			json_object_put(o); /* not ours to answer */
			continue;
		}
		*ret = o;
		return 0;
	}
}
