/*
 * fileops.h - the table of file operations the journal performs.
 *
 * Every system call the journal makes goes through one of these pointers
 * so that tests can fail the Nth call of any operation (fault injection)
 * or record the operations and build post-crash states (tests/lib/crashfs).
 * Convention: each returns >= 0 on success and -errno on failure (never
 * -1 with errno). fileops_real is the plain implementation.
 */
#pragma once

#include <stddef.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>

struct fileops {
	int (*openat)(int dirfd, const char *path, int flags, mode_t mode);
	int (*close)(int fd);
	ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwritev)(int fd, const struct iovec *iov, int iovcnt,
	    off_t off);
	int (*fdatasync)(int fd);
	int (*fsync)(int fd);
	int (*ftruncate)(int fd, off_t len);
	int (*fallocate)(int fd, int mode, off_t off, off_t len);
	int (*renameat)(int olddirfd, const char *oldpath, int newdirfd,
	    const char *newpath);
	int (*unlinkat)(int dirfd, const char *path, int flags);
	int (*mkdirat)(int dirfd, const char *path, mode_t mode);
	int (*flock)(int fd, int op);
	int (*syncfs)(int fd);
	int (*fstatvfs)(int fd, struct statvfs *ret);
	int (*fstat)(int fd, struct stat *ret);
	int (*fadvise)(int fd, off_t off, off_t len, int advice);
	/* Fills buf with len random bytes (getrandom(2)). */
	int (*getrandom)(void *buf, size_t len);
	/* Names of the entries of directory dirfd (without "." and ".."),
	 * as a malloc'd array of malloc'd strings in *ret_names. */
	int (*listdir)(int dirfd, char ***ret_names, size_t *ret_n);
};

/* The real system calls. */
extern const struct fileops fileops_real;

/* Frees what listdir returned. Accepts NULL. */
void fileops_names_free(char **names, size_t n);
