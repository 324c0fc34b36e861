/*
 * paths.c - XDG path resolution and runtime directory checks.
 *
 * Invariants: every path handed out is absolute; the socket path fits in
 * sun_path; the runtime directory we listen in belongs to us and is
 * closed to group and others (RELIABILITY.md 6.1), checked on an open
 * descriptor so a concurrent rename cannot swap what we checked.
 *
 * Must never: follow a symlink for $XDG_RUNTIME_DIR/cwtimed, log, exit.
 */
#define _GNU_SOURCE 1 /* accept4, struct ucred, asprintf */

#include "daemon/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/proto.h"

/* The XDG spec: "If an implementation encounters a relative path in any of
 * these variables it should consider the path invalid and ignore it." */
static bool
usable(const char *v)
{
	return v && v[0] == '/';
}

static char *
join(const char *a, const char *b)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s", a, b) < 0) {
		return NULL;
	}
	return s;
}

void
paths_env_from_process(struct paths_env *ret)
{
	ret->home = getenv("HOME");
	ret->xdg_config_home = getenv("XDG_CONFIG_HOME");
	ret->xdg_state_home = getenv("XDG_STATE_HOME");
	ret->xdg_runtime_dir = getenv("XDG_RUNTIME_DIR");
}

void
paths_fini(struct paths *p)
{
	if (!p) {
		return;
	}
	free(p->config_file);
	free(p->config_dir);
	free(p->state_dir);
	free(p->xdg_runtime);
	free(p->runtime_dir);
	free(p->socket_path);
	memset(p, 0, sizeof(*p));
}

int
paths_resolve(const struct paths_env *env, const char *config_override,
    struct paths *ret, struct errbuf *reterr)
{
	struct paths p = { 0 };
	CLEANUP_FREE char *config_home = NULL;
	CLEANUP_FREE char *state_home = NULL;
	struct sockaddr_un sa;

	if (usable(env->xdg_config_home)) {
		config_home = strdup(env->xdg_config_home);
	} else if (usable(env->home)) {
		config_home = join(env->home, ".config");
	} else {
		return errbuf_set(reterr, ERR_CONFIG, -EINVAL,
		    "neither $XDG_CONFIG_HOME nor $HOME is an absolute path");
	}
	if (usable(env->xdg_state_home)) {
		state_home = strdup(env->xdg_state_home);
	} else if (usable(env->home)) {
		state_home = join(env->home, ".local/state");
	} else {
		return errbuf_set(reterr, ERR_CONFIG, -EINVAL,
		    "neither $XDG_STATE_HOME nor $HOME is an absolute path");
	}
	if (!config_home || !state_home) {
		return errbuf_set(reterr, ERR_INTERNAL, -ENOMEM, "out of memory");
	}
	if (!usable(env->xdg_runtime_dir)) {
		return errbuf_set(reterr, ERR_CONFIG, -EINVAL,
		    "$XDG_RUNTIME_DIR is not set to an absolute path; cwtimed "
		    "needs it for its socket (a user session sets it)");
	}

	p.config_dir = join(config_home, "cwtimed");
	if (config_override) {
		p.config_file = strdup(config_override);
	} else if (p.config_dir) {
		p.config_file = join(p.config_dir, "cwtimed.conf");
	}
	p.state_dir = join(state_home, "cwtimed");
	p.xdg_runtime = strdup(env->xdg_runtime_dir);
	p.runtime_dir = join(env->xdg_runtime_dir, PROTO_RUNTIME_SUBDIR);
	if (p.runtime_dir) {
		p.socket_path = join(p.runtime_dir, PROTO_SOCKET_NAME);
	}
	if (!p.config_dir || !p.config_file || !p.state_dir || !p.xdg_runtime ||
	    !p.runtime_dir || !p.socket_path) {
		paths_fini(&p);
		return errbuf_set(reterr, ERR_INTERNAL, -ENOMEM, "out of memory");
	}
	if (strlen(p.socket_path) >= sizeof(sa.sun_path)) {
		int r = errbuf_set(reterr, ERR_CONFIG, -ENAMETOOLONG,
		    "socket path '%s' is longer than %zu bytes", p.socket_path,
		    sizeof(sa.sun_path) - 1);

		paths_fini(&p);
		return r;
	}
	*ret = p;
	return 0;
}

static int
check_dir_fd(int fd, const char *path, uid_t uid, struct errbuf *reterr)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int r = -errno;

		return errbuf_set(reterr, ERR_PERMISSION, r, "cannot stat '%s': %s",
		    path, strerror(-r));
	}
	if (!S_ISDIR(st.st_mode)) {
		return errbuf_set(reterr, ERR_PERMISSION, -ENOTDIR,
		    "'%s' is not a directory", path);
	}
	if (st.st_uid != uid) {
		return errbuf_set(reterr, ERR_PERMISSION, -EPERM,
		    "'%s' belongs to uid %u, not to us (uid %u); refusing to "
		    "put the control socket there", path, (unsigned) st.st_uid,
		    (unsigned) uid);
	}
	if ((st.st_mode & 077) != 0) {
		return errbuf_set(reterr, ERR_PERMISSION, -EPERM,
		    "'%s' has mode %04o; it must not be accessible by group or "
		    "others (chmod 0700 '%s')", path,
		    (unsigned) (st.st_mode & 07777), path);
	}
	return 0;
}

int
paths_check_runtime(const struct paths *p, uid_t uid, struct errbuf *reterr)
{
	CLEANUP_CLOSE int base = -1;
	CLEANUP_CLOSE int sub = -1;
	int r;

	base = open(p->xdg_runtime, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (base < 0) {
		r = -errno;
		return errbuf_set(reterr, ERR_PERMISSION, r,
		    "cannot open $XDG_RUNTIME_DIR '%s': %s", p->xdg_runtime,
		    strerror(-r));
	}
	r = check_dir_fd(base, p->xdg_runtime, uid, reterr);
	if (r < 0) {
		return r;
	}
	if (mkdirat(base, PROTO_RUNTIME_SUBDIR, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		return errbuf_set(reterr, ERR_PERMISSION, r,
		    "cannot create '%s': %s", p->runtime_dir, strerror(-r));
	}
	sub = openat(base, PROTO_RUNTIME_SUBDIR,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0) {
		struct stat st;

		r = -errno;
		if (fstatat(base, PROTO_RUNTIME_SUBDIR, &st,
			AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
			return errbuf_set(reterr, ERR_PERMISSION, -ELOOP,
			    "'%s' is a symbolic link; refusing it",
			    p->runtime_dir);
		}
		return errbuf_set(reterr, ERR_PERMISSION, r,
		    "cannot open '%s': %s", p->runtime_dir, strerror(-r));
	}
	return check_dir_fd(sub, p->runtime_dir, uid, reterr);
}

/* fsyncs the directory that holds path (which must be absolute). */
static int
fsync_parent(const char *path)
{
	CLEANUP_FREE char *parent = strdup(path);
	CLEANUP_CLOSE int fd = -1;
	char *slash;

	if (!parent) {
		return -ENOMEM;
	}
	slash = strrchr(parent, '/');
	if (!slash) {
		return -EINVAL;
	}
	slash[slash == parent ? 1 : 0] = '\0';
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	if (fsync(fd) < 0) {
		return -errno;
	}
	return 0;
}

int
paths_mkdir_p(const char *path, mode_t mode, struct errbuf *reterr)
{
	CLEANUP_FREE char *copy = NULL;
	struct stat st;
	int r;

	if (!path || path[0] != '/') {
		return errbuf_set(reterr, ERR_CONFIG, -EINVAL,
		    "'%s' is not an absolute path", path ? path : "");
	}
	copy = strdup(path);
	if (!copy) {
		return errbuf_set(reterr, ERR_INTERNAL, -ENOMEM, "out of memory");
	}
	for (char *s = copy + 1;; s++) {
		bool last = (*s == '\0');

		if (*s != '/' && !last) {
			continue;
		}
		*s = '\0';
		if (copy[0] && mkdir(copy, mode) < 0) {
			if (errno != EEXIST) {
				r = -errno;
				return errbuf_set(reterr, ERR_CONFIG, r,
				    "cannot create '%s': %s", copy,
				    strerror(-r));
			}
		} else if (copy[0]) {
			/* A new directory entry survives power loss only once
			 * its parent is fsynced (RELIABILITY.md 2.5); records
			 * are acknowledged in it soon after. */
			r = fsync_parent(copy);
			if (r < 0) {
				return errbuf_set(reterr, ERR_STORAGE_FAILED, r,
				    "cannot sync the parent of '%s': %s", copy,
				    strerror(-r));
			}
		}
		if (last) {
			break;
		}
		*s = '/';
	}
	if (stat(path, &st) < 0) {
		r = -errno;
		return errbuf_set(reterr, ERR_CONFIG, r, "cannot stat '%s': %s",
		    path, strerror(-r));
	}
	if (!S_ISDIR(st.st_mode)) {
		return errbuf_set(reterr, ERR_CONFIG, -ENOTDIR,
		    "'%s' is not a directory", path);
	}
	return 0;
}
