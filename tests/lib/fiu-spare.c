/*
 * fiu-spare.c - an LD_PRELOAD library for the D4 soak (test-rel-fiu.py):
 * keeps libfiu's injected faults off libuv's internal descriptors, so that
 * every abort the soak sees is cwtimed's own.
 *
 * libuv talks to itself through pipes (the loop's signal pipe, and the
 * process-wide lock pipe that uv_signal_start takes) and an eventfd
 * (uv_async_send). The kernel never fails a read or write on those, so
 * libuv calls abort() when one fails (uv__signal_lock, uv__signal_event,
 * uv__async_io, uv__async_send). libfiu's POSIX preload fails any read()
 * or write() at random (posix/io/rw/read, posix/io/rw/write), whatever the
 * descriptor, and so aborted libuv from under cwtimed.
 *
 * Loaded before fiu_posix_preload.so, this library's read() and write()
 * are the ones the program and libuv call. On a pipe, or an eventfd (an
 * anonymous inode: no file type bits in st_mode), they go straight to the
 * kernel with syscall(); on anything else (the IPC sockets, the journal's
 * files, the log) they call the next definition, libfiu's, which may
 * inject a fault. cwtimed itself creates no pipe or eventfd (grep src/ for
 * pipe and eventfd), so exactly libuv's internal descriptors are spared.
 * Every other fault point under posix/io stays as libfiu makes it.
 *
 * Invariant: async-signal-safe. libuv's signal handler writes to its pipe,
 * so the call path uses only fstat() and syscall(); the next definitions
 * are looked up once, in a constructor, and until then (or when there is
 * none) every call goes to the kernel.
 */
#define _GNU_SOURCE 1

#include <dlfcn.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef ssize_t read_fn(int fd, void *buf, size_t count);
typedef ssize_t write_fn(int fd, const void *buf, size_t count);

static read_fn *next_read;
static write_fn *next_write;

__attribute__((constructor)) static void
spare_init(void)
{
	next_read = (read_fn *) dlsym(RTLD_NEXT, "read");
	next_write = (write_fn *) dlsym(RTLD_NEXT, "write");
}

/* True for a descriptor libuv uses to talk to itself: a pipe or an
 * eventfd. On an fstat failure the call is not spared (the fault point
 * decides, as without this library). */
static bool
spare_fd(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		return false;
	}
	return S_ISFIFO(st.st_mode) || (st.st_mode & S_IFMT) == 0;
}

ssize_t
read(int fd, void *buf, size_t count)
{
	if (next_read == NULL || spare_fd(fd)) {
		return (ssize_t) syscall(SYS_read, fd, buf, count);
	}
	return next_read(fd, buf, count);
}

ssize_t
write(int fd, const void *buf, size_t count)
{
	if (next_write == NULL || spare_fd(fd)) {
		return (ssize_t) syscall(SYS_write, fd, buf, count);
	}
	return next_write(fd, buf, count);
}
