/*
 * notify.c - sd_notify without blocking (notify.h).
 */
#include "daemon/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>


int
notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t salen;
	size_t n, len;
	ssize_t w;
	int fd, r = 0;

	if (!path || !path[0]) {
		return 0;
	}
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path)) {
		return -EINVAL;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@') {
		sa.sun_path[0] = '\0'; /* abstract: no terminating NUL */
		salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n +
		    1);
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	len = strlen(state);
	w = sendto(fd, state, len, MSG_DONTWAIT | MSG_NOSIGNAL,
	    (const struct sockaddr *) &sa, salen);
	if (w < 0) {
		r = errno == EWOULDBLOCK ? -EAGAIN : -errno;
	} else if ((size_t) w != len) {
		r = -EMSGSIZE;
	}
	(void) close(fd);
	return r;
}

bool
notify_may_drop(const char *state)
{
	return strncmp(state, "STATUS=", 7) == 0 ||
	    strcmp(state, "WATCHDOG=1") == 0;
}
