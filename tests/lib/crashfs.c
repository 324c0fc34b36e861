/*
 * crashfs.c - records file operations and builds post-crash states.
 *
 * Model (what a crash may leave behind; POSIX promises no more):
 * - A file's data, size included, is durable up to its last fsync or
 *   fdatasync. Later writes, truncates and preallocations are each
 *   independently applied, dropped, or (writes) torn at a 512-byte
 *   boundary of the file; when a dropped write had extended the file, the
 *   size may survive with zeros or garbage in place of the data.
 * - A directory entry (create, mkdir, rename, unlink) is durable once its
 *   directory was fsynced; before that each is independently kept or lost,
 *   applied in their original order.
 * - syncfs makes everything durable.
 * Paths are kept relative to the root; anything outside it passes through
 * unrecorded. Renames across directories are not modelled (the journal
 * does none). Test code: aborts on allocation failure.
 */
#define _GNU_SOURCE 1

#include "lib/crashfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum kind {
	K_CREATE, K_MKDIR, K_WRITE, K_TRUNC, K_EXTEND, K_FSYNC_FILE,
	K_FSYNC_DIR, K_RENAME, K_UNLINK, K_SYNCALL, K_ACK
};

struct entry {
	enum kind kind;
	char *path;
	char *path2;
	uint64_t off;
	uint64_t len;
	uint8_t *data;
	unsigned id;
};

static struct {
	bool on;
	char root[4096];
	size_t rootlen;
	struct entry *log;
	size_t n, cap;
	char *fdpath[4096]; /* root-relative path of an open fd, or NULL */
	bool fddir[4096];
} C;

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		abort();
	}
	return p;
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p) {
		abort();
	}
	return p;
}

static struct entry *
log_add(enum kind kind, const char *path)
{
	struct entry *e;

	if (C.n == C.cap) {
		C.cap = C.cap ? C.cap * 2 : 256;
		C.log = realloc(C.log, C.cap * sizeof(*C.log));
		if (!C.log) {
			abort();
		}
	}
	e = &C.log[C.n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->path = path ? xstrdup(path) : NULL;
	return e;
}

/* Root-relative path of dirfd/name, or NULL when outside the root. The
 * result is malloc'd. */
static char *
resolve(int dirfd, const char *name)
{
	char *out;

	if (name[0] == '/') {
		if (strncmp(name, C.root, C.rootlen) != 0 ||
		    (name[C.rootlen] != '/' && name[C.rootlen] != '\0')) {
			return NULL;
		}
		name += C.rootlen;
		while (*name == '/') {
			name++;
		}
		return xstrdup(name);
	}
	if (dirfd == AT_FDCWD || dirfd < 0 || dirfd >= 4096 ||
	    !C.fdpath[dirfd]) {
		return NULL;
	}
	if (strcmp(name, ".") == 0) {
		return xstrdup(C.fdpath[dirfd]);
	}
	if (C.fdpath[dirfd][0] == '\0') {
		return xstrdup(name);
	}
	out = xmalloc(strlen(C.fdpath[dirfd]) + strlen(name) + 2);
	snprintf(out, strlen(C.fdpath[dirfd]) + strlen(name) + 2, "%s/%s",
	    C.fdpath[dirfd], name);
	return out;
}

static const char *
fd_path(int fd)
{
	return C.on && fd >= 0 && fd < 4096 ? C.fdpath[fd] : NULL;
}

static int
c_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	char *rel = C.on ? resolve(dirfd, path) : NULL;
	struct stat st;
	bool existed = true;
	int fd;

	if (rel && (flags & O_CREAT)) {
		existed = fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
	}
	fd = fileops_real.openat(dirfd, path, flags, mode);
	if (fd < 0 || !rel) {
		free(rel);
		return fd;
	}
	if (!existed) {
		log_add(K_CREATE, rel);
	}
	if (fd < 4096) {
		free(C.fdpath[fd]);
		C.fdpath[fd] = rel;
		C.fddir[fd] = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
	} else {
		free(rel);
	}
	return fd;
}

static int
c_close(int fd)
{
	if (fd >= 0 && fd < 4096) {
		free(C.fdpath[fd]);
		C.fdpath[fd] = NULL;
	}
	return fileops_real.close(fd);
}

static ssize_t
c_pread(int fd, void *buf, size_t len, off_t off)
{
	return fileops_real.pread(fd, buf, len, off);
}

static ssize_t
c_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	ssize_t n = fileops_real.pwritev(fd, iov, iovcnt, off);
	const char *p = fd_path(fd);

	if (n > 0 && p) {
		struct entry *e = log_add(K_WRITE, p);
		size_t done = 0;

		e->off = (uint64_t) off;
		e->len = (uint64_t) n;
		e->data = xmalloc((size_t) n);
		for (int i = 0; i < iovcnt && done < (size_t) n; i++) {
			size_t k = iov[i].iov_len;

			if (k > (size_t) n - done) {
				k = (size_t) n - done;
			}
			memcpy(e->data + done, iov[i].iov_base, k);
			done += k;
		}
	}
	return n;
}

static int
c_sync(int fd, bool data_only)
{
	int r = data_only ? fileops_real.fdatasync(fd) : fileops_real.fsync(fd);
	const char *p = fd_path(fd);

	if (r == 0 && p) {
		log_add(C.fddir[fd] ? K_FSYNC_DIR : K_FSYNC_FILE, p);
	}
	return r;
}

static int
c_fdatasync(int fd)
{
	return c_sync(fd, true);
}

static int
c_fsync(int fd)
{
	return c_sync(fd, false);
}

static int
c_ftruncate(int fd, off_t len)
{
	int r = fileops_real.ftruncate(fd, len);
	const char *p = fd_path(fd);

	if (r == 0 && p) {
		log_add(K_TRUNC, p)->len = (uint64_t) len;
	}
	return r;
}

static int
c_fallocate(int fd, int mode, off_t off, off_t len)
{
	int r = fileops_real.fallocate(fd, mode, off, len);
	const char *p = fd_path(fd);

	if (r == 0 && p && mode == 0) {
		log_add(K_EXTEND, p)->len = (uint64_t) (off + len);
	}
	return r;
}

static int
c_renameat(int od, const char *op, int nd, const char *np)
{
	int r = fileops_real.renameat(od, op, nd, np);
	char *a, *b;

	if (r < 0 || !C.on) {
		return r;
	}
	a = resolve(od, op);
	b = resolve(nd, np);
	if (a && b) {
		log_add(K_RENAME, a)->path2 = xstrdup(b);
	}
	free(a);
	free(b);
	return r;
}

static int
c_unlinkat(int dirfd, const char *path, int flags)
{
	int r = fileops_real.unlinkat(dirfd, path, flags);
	char *rel;

	if (r < 0 || !C.on) {
		return r;
	}
	rel = resolve(dirfd, path);
	if (rel) {
		log_add(K_UNLINK, rel);
	}
	free(rel);
	return r;
}

static int
c_mkdirat(int dirfd, const char *path, mode_t mode)
{
	int r = fileops_real.mkdirat(dirfd, path, mode);
	char *rel;

	if (r < 0 || !C.on) {
		return r;
	}
	rel = resolve(dirfd, path);
	if (rel) {
		log_add(K_MKDIR, rel);
	}
	free(rel);
	return r;
}

static int
c_flock(int fd, int op)
{
	return fileops_real.flock(fd, op);
}

static int
c_syncfs(int fd)
{
	int r = fileops_real.syncfs(fd);

	if (r == 0 && C.on) {
		log_add(K_SYNCALL, NULL);
	}
	return r;
}

static int
c_fstatvfs(int fd, struct statvfs *ret)
{
	return fileops_real.fstatvfs(fd, ret);
}

static int
c_fstat(int fd, struct stat *ret)
{
	return fileops_real.fstat(fd, ret);
}

static int
c_fadvise(int fd, off_t off, off_t len, int advice)
{
	return fileops_real.fadvise(fd, off, len, advice);
}

static int
c_getrandom(void *buf, size_t len)
{
	return fileops_real.getrandom(buf, len);
}

static int
c_listdir(int dirfd, char ***names, size_t *n)
{
	return fileops_real.listdir(dirfd, names, n);
}

const struct fileops crashfs_ops = {
	.openat = c_openat,
	.close = c_close,
	.pread = c_pread,
	.pwritev = c_pwritev,
	.fdatasync = c_fdatasync,
	.fsync = c_fsync,
	.ftruncate = c_ftruncate,
	.fallocate = c_fallocate,
	.renameat = c_renameat,
	.unlinkat = c_unlinkat,
	.mkdirat = c_mkdirat,
	.flock = c_flock,
	.syncfs = c_syncfs,
	.fstatvfs = c_fstatvfs,
	.fstat = c_fstat,
	.fadvise = c_fadvise,
	.getrandom = c_getrandom,
	.listdir = c_listdir,
};

int
crashfs_start(const char *root)
{
	crashfs_free();
	if (strlen(root) >= sizeof(C.root)) {
		return -ENAMETOOLONG;
	}
	snprintf(C.root, sizeof(C.root), "%s", root);
	C.rootlen = strlen(C.root);
	while (C.rootlen > 1 && C.root[C.rootlen - 1] == '/') {
		C.root[--C.rootlen] = '\0';
	}
	C.on = true;
	return 0;
}

void
crashfs_stop(void)
{
	C.on = false;
}

void
crashfs_mark_ack(unsigned id)
{
	if (C.on) {
		log_add(K_ACK, NULL)->id = id;
	}
}

unsigned
crashfs_points(void)
{
	return (unsigned) C.n;
}

void
crashfs_free(void)
{
	for (size_t i = 0; i < C.n; i++) {
		free(C.log[i].path);
		free(C.log[i].path2);
		free(C.log[i].data);
	}
	free(C.log);
	C.log = NULL;
	C.n = C.cap = 0;
	for (int i = 0; i < 4096; i++) {
		free(C.fdpath[i]);
		C.fdpath[i] = NULL;
	}
	C.on = false;
}

/* ---- building a state ---- */

/* File content: size bytes, of which those past blen are zeros. */
struct content {
	uint64_t size;
	uint8_t *buf;
	size_t blen;
};

static void
content_write(struct content *c, uint64_t off, const uint8_t *data,
    uint64_t len)
{
	if (off + len > c->blen) {
		c->buf = realloc(c->buf, (size_t) (off + len));
		if (!c->buf) {
			abort();
		}
		memset(c->buf + c->blen, 0, (size_t) (off + len - c->blen));
		c->blen = (size_t) (off + len);
	}
	memcpy(c->buf + off, data, (size_t) len);
	if (off + len > c->size) {
		c->size = off + len;
	}
}

static void
content_trunc(struct content *c, uint64_t len)
{
	c->size = len;
	if (c->blen > len) {
		c->blen = (size_t) len;
	}
}

static void
content_apply(struct content *c, const struct entry *e)
{
	switch (e->kind) {
	case K_WRITE:
		content_write(c, e->off, e->data, e->len);
		break;
	case K_TRUNC:
		content_trunc(c, e->len);
		break;
	case K_EXTEND:
		if (e->len > c->size) {
			c->size = e->len;
		}
		break;
	default:
		break;
	}
}

struct inode {
	bool dir;
	struct content dur;
	size_t *pend; /* log indices of unsynced data operations */
	size_t npend;
};

struct name {
	char *path;
	int ino;
};

struct ns {
	struct name *v;
	size_t n;
};

static int
ns_find(const struct ns *s, const char *path)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->v[i].path, path) == 0) {
			return (int) i;
		}
	}
	return -1;
}

static void
ns_set(struct ns *s, const char *path, int ino)
{
	int i = ns_find(s, path);

	if (i >= 0) {
		s->v[i].ino = ino;
		return;
	}
	s->v = realloc(s->v, (s->n + 1) * sizeof(*s->v));
	if (!s->v) {
		abort();
	}
	s->v[s->n].path = xstrdup(path);
	s->v[s->n].ino = ino;
	s->n++;
}

static void
ns_del(struct ns *s, const char *path)
{
	int i = ns_find(s, path);

	if (i < 0) {
		return;
	}
	free(s->v[i].path);
	s->v[i] = s->v[--s->n];
}

static void
ns_free(struct ns *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].path);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static void
ns_copy(struct ns *dst, const struct ns *src)
{
	dst->v = xmalloc((src->n + 1) * sizeof(*dst->v));
	dst->n = src->n;
	for (size_t i = 0; i < src->n; i++) {
		dst->v[i].path = xstrdup(src->v[i].path);
		dst->v[i].ino = src->v[i].ino;
	}
}

/* The directory holding path ("" for the root). */
static void
parent_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, len, "%.*s", (int) (slash - path), path);
}

/* Applies a namespace operation (log entry e, inode ino for creates). */
static void
ns_apply(struct ns *s, const struct entry *e, int ino)
{
	int i;

	switch (e->kind) {
	case K_CREATE:
	case K_MKDIR:
		ns_set(s, e->path, ino);
		break;
	case K_RENAME:
		i = ns_find(s, e->path);
		if (i >= 0) {
			int moved = s->v[i].ino;

			ns_del(s, e->path);
			ns_set(s, e->path2, moved);
		}
		break;
	case K_UNLINK:
		ns_del(s, e->path);
		break;
	default:
		break;
	}
}

static uint64_t rs;

static uint64_t
rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static int
materialise(const char *dest, const char *rel, const struct content *c)
{
	char path[8192];
	uint64_t keep;
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", dest, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		return -errno;
	}
	keep = c->blen < c->size ? c->blen : c->size;
	if (keep > 0 && pwrite(fd, c->buf, (size_t) keep, 0) != (ssize_t) keep) {
		r = -EIO;
	}
	if (r == 0 && ftruncate(fd, (off_t) c->size) < 0) {
		r = -errno;
	}
	close(fd);
	return r;
}

int
crashfs_build(unsigned point, uint64_t seed, const char *dest,
    unsigned char *acked, size_t nacked)
{
	struct inode *inodes = NULL;
	size_t ninodes = 0;
	int *op_ino = xmalloc((point + 1) * sizeof(int));
	size_t *dirpend = xmalloc((point + 1) * sizeof(size_t));
	size_t ndirpend = 0;
	struct ns cur = { 0 }, dur = { 0 }, fin = { 0 };
	char par[4096];
	int r = 0;

	rs = seed ? seed : 1;
	if (point > C.n) {
		point = (unsigned) C.n;
	}
	/* Phase 1: replay the log up to the point: durable state and the
	 * operations still pending at the crash. */
	for (size_t k = 0; k < point; k++) {
		const struct entry *e = &C.log[k];
		int i, ino;

		op_ino[k] = -1;
		switch (e->kind) {
		case K_CREATE:
		case K_MKDIR:
			inodes = realloc(inodes,
			    (ninodes + 1) * sizeof(*inodes));
			if (!inodes) {
				abort();
			}
			memset(&inodes[ninodes], 0, sizeof(*inodes));
			inodes[ninodes].dir = e->kind == K_MKDIR;
			ino = (int) ninodes++;
			op_ino[k] = ino;
			ns_set(&cur, e->path, ino);
			dirpend[ndirpend++] = k;
			break;
		case K_RENAME:
		case K_UNLINK:
			ns_apply(&cur, e, -1);
			dirpend[ndirpend++] = k;
			break;
		case K_WRITE:
		case K_TRUNC:
		case K_EXTEND:
			i = ns_find(&cur, e->path);
			if (i < 0) {
				break; /* a file that existed before: none */
			}
			ino = cur.v[i].ino;
			inodes[ino].pend = realloc(inodes[ino].pend,
			    (inodes[ino].npend + 1) * sizeof(size_t));
			if (!inodes[ino].pend) {
				abort();
			}
			inodes[ino].pend[inodes[ino].npend++] = k;
			break;
		case K_FSYNC_FILE:
			i = ns_find(&cur, e->path);
			if (i < 0) {
				break;
			}
			ino = cur.v[i].ino;
			for (size_t p = 0; p < inodes[ino].npend; p++) {
				content_apply(&inodes[ino].dur,
				    &C.log[inodes[ino].pend[p]]);
			}
			inodes[ino].npend = 0;
			break;
		case K_FSYNC_DIR: {
			size_t w = 0;

			for (size_t p = 0; p < ndirpend; p++) {
				const struct entry *d = &C.log[dirpend[p]];

				parent_of(d->path, par, sizeof(par));
				if (strcmp(par, e->path) == 0) {
					ns_apply(&dur, d, op_ino[dirpend[p]]);
				} else {
					dirpend[w++] = dirpend[p];
				}
			}
			ndirpend = w;
			break;
		}
		case K_SYNCALL:
			for (size_t p = 0; p < ndirpend; p++) {
				ns_apply(&dur, &C.log[dirpend[p]],
				    op_ino[dirpend[p]]);
			}
			ndirpend = 0;
			for (size_t n = 0; n < ninodes; n++) {
				for (size_t p = 0; p < inodes[n].npend; p++) {
					content_apply(&inodes[n].dur,
					    &C.log[inodes[n].pend[p]]);
				}
				inodes[n].npend = 0;
			}
			break;
		case K_ACK:
			if (e->id < nacked) {
				acked[e->id] = 1;
			}
			break;
		}
	}
	/* Phase 2: the crash. Each pending namespace operation kept or lost,
	 * in order. */
	ns_copy(&fin, &dur);
	for (size_t p = 0; p < ndirpend; p++) {
		if (rnd() % 2) {
			ns_apply(&fin, &C.log[dirpend[p]], op_ino[dirpend[p]]);
		}
	}
	/* Directories first (shorter paths first), then files. */
	for (int pass = 0; pass < 2 && r == 0; pass++) {
		for (size_t len = 0; len < 4096 && r == 0; len++) {
			for (size_t i = 0; i < fin.n && r == 0; i++) {
				struct inode *in = &inodes[fin.v[i].ino];
				struct content c = { 0 };
				char path[8192];

				if (strlen(fin.v[i].path) != len ||
				    in->dir != (pass == 0)) {
					continue;
				}
				parent_of(fin.v[i].path, par, sizeof(par));
				if (par[0] && (ns_find(&fin, par) < 0 ||
						  !inodes[fin.v[ns_find(&fin,
							par)].ino].dir)) {
					continue; /* its directory is gone */
				}
				if (in->dir) {
					snprintf(path, sizeof(path), "%s/%s",
					    dest, fin.v[i].path);
					if (mkdir(path, 0700) < 0) {
						r = -errno;
					}
					continue;
				}
				/* The durable content, then each pending data
				 * operation applied, dropped or torn. */
				c.size = in->dur.size;
				c.blen = in->dur.blen;
				c.buf = xmalloc(c.blen);
				if (c.blen > 0) {
					memcpy(c.buf, in->dur.buf, c.blen);
				}
				for (size_t p = 0; p < in->npend; p++) {
					const struct entry *e =
					    &C.log[in->pend[p]];
					unsigned pick = (unsigned) (rnd() % 10);
					uint64_t cut = e->off;

					if (e->kind != K_WRITE) {
						if (pick < 5) {
							content_apply(&c, e);
						}
						continue;
					}
					if (pick < 4) {
						content_apply(&c, e);
						continue;
					}
					if (pick < 7) {
						/* Torn: the sectors up to a
						 * 512-byte boundary landed. */
						uint64_t first =
						    (e->off / 512 + 1) * 512;

						if (first < e->off + e->len) {
							uint64_t nb = (e->off +
							    e->len - first) / 512 + 1;

							cut = first +
							    (rnd() % nb) * 512;
							if (cut > e->off +
								e->len) {
								cut = e->off +
								    e->len;
							}
							content_write(&c,
							    e->off, e->data,
							    cut - e->off);
						}
					}
					/* The rest is lost; an extension may
					 * keep its size with zeros or garbage
					 * in place of the data. */
					if (e->off + e->len > c.size) {
						unsigned how = (unsigned) (rnd() %
						    3);

						if (how == 1) {
							c.size = e->off + e->len;
						} else if (how == 2) {
							uint64_t from = c.size >
								cut ?
							    c.size :
							    cut;
							uint64_t nlen = e->off +
							    e->len - from;
							uint8_t *g = xmalloc(
							    (size_t) nlen);

							for (uint64_t q = 0;
							    q < nlen; q++) {
								g[q] = (uint8_t)
								    rnd();
							}
							content_write(&c, from,
							    g, nlen);
							free(g);
						}
					}
				}
				r = materialise(dest, fin.v[i].path, &c);
				free(c.buf);
			}
		}
	}
	for (size_t n = 0; n < ninodes; n++) {
		free(inodes[n].dur.buf);
		free(inodes[n].pend);
	}
	free(inodes);
	free(op_ino);
	free(dirpend);
	ns_free(&cur);
	ns_free(&dur);
	ns_free(&fin);
	return r;
}
