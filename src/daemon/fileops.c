/*
 * fileops.c - the real file operations behind struct fileops.
 *
 * Thin wrappers that turn libc's -1/errno into -errno. EINTR is retried
 * where the call is restartable; nothing else is hidden: a short pwritev
 * is returned as such (the journal treats it as an error).
 */
/* fallocate(2) and syncfs(2) are Linux extensions. */
#define _GNU_SOURCE 1

#include "daemon/fileops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

static int
real_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	int fd;

	do {
		fd = openat(dirfd, path, flags, mode);
	} while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

static int
real_close(int fd)
{
	/* Linux closes the fd even on EINTR: never retry. */
	return close(fd) < 0 ? -errno : 0;
}

static ssize_t
real_pread(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n;

	do {
		n = pread(fd, buf, len, off);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static ssize_t
real_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	ssize_t n;

	do {
		n = pwritev(fd, iov, iovcnt, off);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static int
real_fdatasync(int fd)
{
	/* No EINTR retry: a second sync after a failed one proves nothing
	 * (RELIABILITY.md 2.8). */
	return fdatasync(fd) < 0 ? -errno : 0;
}

static int
real_fsync(int fd)
{
	return fsync(fd) < 0 ? -errno : 0;
}

static int
real_ftruncate(int fd, off_t len)
{
	int r;

	do {
		r = ftruncate(fd, len);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static int
real_fallocate(int fd, int mode, off_t off, off_t len)
{
	int r;

	do {
		r = fallocate(fd, mode, off, len);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static int
real_renameat(int olddirfd, const char *oldpath, int newdirfd,
    const char *newpath)
{
	return renameat(olddirfd, oldpath, newdirfd, newpath) < 0 ? -errno : 0;
}

static int
real_unlinkat(int dirfd, const char *path, int flags)
{
	return unlinkat(dirfd, path, flags) < 0 ? -errno : 0;
}

static int
real_mkdirat(int dirfd, const char *path, mode_t mode)
{
	return mkdirat(dirfd, path, mode) < 0 ? -errno : 0;
}

static int
real_flock(int fd, int op)
{
	int r;

	do {
		r = flock(fd, op);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static int
real_syncfs(int fd)
{
	return syncfs(fd) < 0 ? -errno : 0;
}

static int
real_fstatvfs(int fd, struct statvfs *ret)
{
	return fstatvfs(fd, ret) < 0 ? -errno : 0;
}

static int
real_fstat(int fd, struct stat *ret)
{
	return fstat(fd, ret) < 0 ? -errno : 0;
}

static int
real_fadvise(int fd, off_t off, off_t len, int advice)
{
	/* posix_fadvise returns the error number itself. */
	return -posix_fadvise(fd, off, len, advice);
}

static int
real_getrandom(void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = getrandom((char *) buf + done, len - done, 0);

		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		done += (size_t) n;
	}
	return 0;
}

void
fileops_names_free(char **names, size_t n)
{
	if (!names) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		free(names[i]);
	}
	free(names);
}

static int
real_listdir(int dirfd, char ***ret_names, size_t *ret_n)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	/* fdopendir takes the fd over: give it its own. */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		(void) close(fd); /* read-only directory fd */
		return r;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0) {
			continue;
		}
		if (n == cap) {
			char **nn;

			cap = cap ? cap * 2 : 16;
			nn = realloc(names, cap * sizeof(*names));
			if (!nn) {
				r = -ENOMEM;
				break;
			}
			names = nn;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
		errno = 0;
	}
	if (r == 0 && errno != 0) {
		r = -errno;
	}
	(void) closedir(d); /* read-only directory stream */
	if (r < 0) {
		fileops_names_free(names, n);
		return r;
	}
	*ret_names = names;
	*ret_n = n;
	return 0;
}

const struct fileops fileops_real = {
	.openat = real_openat,
	.close = real_close,
	.pread = real_pread,
	.pwritev = real_pwritev,
	.fdatasync = real_fdatasync,
	.fsync = real_fsync,
	.ftruncate = real_ftruncate,
	.fallocate = real_fallocate,
	.renameat = real_renameat,
	.unlinkat = real_unlinkat,
	.mkdirat = real_mkdirat,
	.flock = real_flock,
	.syncfs = real_syncfs,
	.fstatvfs = real_fstatvfs,
	.fstat = real_fstat,
	.fadvise = real_fadvise,
	.getrandom = real_getrandom,
	.listdir = real_listdir,
};
