/*
 * floor-client.c - the cheapest possible cwtimed client, for the benchmarks.
 *
 * It is linked like cwtimectl (libcwtcommon.a and json-c, so the dynamic
 * loading cost is the same) but does only what any client must: connect to
 * $XDG_RUNTIME_DIR/cwtimed/socket, send one request line, read one reply
 * line and parse it. Its time is the floor that cwtimectl's own time is
 * compared with: whatever cwtimectl costs above it is argument parsing,
 * output formatting and the like.
 *
 *   floor-client [CMD]   sends {"v":1,"id":1,"cmd":CMD} (CMD: ping)
 *
 * Exit status 0 when the reply says "ok":true, 1 otherwise (the reply or
 * the error is printed on stderr).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/proto.h"

static char line[PROTO_LINE_MAX];

int
main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "ping";
	const char *rt = getenv("XDG_RUNTIME_DIR");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct json_tokener *tok;
	json_object *reply, *ok;
	size_t got = 0;
	char req[256];
	int fd, n, good;

	if (!rt || !rt[0]) {
		fprintf(stderr, "floor-client: XDG_RUNTIME_DIR is not set\n");
		return 1;
	}
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s/%s", rt,
	    PROTO_RUNTIME_SUBDIR, PROTO_SOCKET_NAME);
	if (n < 0 || (size_t) n >= sizeof(sa.sun_path)) {
		fprintf(stderr, "floor-client: socket path too long\n");
		return 1;
	}
	n = snprintf(req, sizeof(req), "{\"v\":%d,\"id\":1,\"cmd\":\"%s\"}\n",
	    PROTO_VERSION, cmd);
	if (n < 0 || (size_t) n >= sizeof(req)) {
		fprintf(stderr, "floor-client: command too long\n");
		return 1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
		fprintf(stderr, "floor-client: %s: %s\n", sa.sun_path,
		    strerror(errno));
		return 1;
	}
	if (write(fd, req, (size_t) n) != n) {
		fprintf(stderr, "floor-client: write: %s\n", strerror(errno));
		return 1;
	}
	/* Read up to the first newline; EOF before it is a failure. */
	while (got < sizeof(line) - 1 && !memchr(line, '\n', got)) {
		ssize_t r = read(fd, line + got, sizeof(line) - 1 - got);
		if (r <= 0) {
			fprintf(stderr, "floor-client: read: %s\n",
			    r < 0 ? strerror(errno) : "connection closed");
			return 1;
		}
		got += (size_t) r;
	}
	close(fd);
	line[got] = '\0';
	tok = json_tokener_new_ex(PROTO_JSON_DEPTH);
	if (!tok) {
		return 1;
	}
	reply = json_tokener_parse_ex(tok, line, (int) strcspn(line, "\n"));
	json_tokener_free(tok);
	good = reply && json_object_object_get_ex(reply, "ok", &ok) &&
	    json_object_get_boolean(ok);
	if (!good) {
		fprintf(stderr, "floor-client: reply: %s", line);
	}
	json_object_put(reply);
	return good ? 0 : 1;
}
