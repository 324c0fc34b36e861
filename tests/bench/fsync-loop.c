/*
 * fsync-loop.c - the anchor for durable acknowledgements: a bare loop that
 * appends one record-sized write to a file and fdatasync()s it, COUNT
 * times. Nothing can acknowledge durably faster than this on the same
 * filesystem, so the journal's commit rate is reported as a ratio to it.
 *
 *   fsync-loop [-p] DIR COUNT [SIZE]   (SIZE: bytes per write, default 120)
 *
 * The file DIR/fsync-loop.dat is created (0600) and removed at the end.
 * Without -p it grows by plain appends (the simplest durable log: every
 * fdatasync also has to make the new size durable). With -p it is first
 * preallocated (posix_fallocate, then fsync) and written in place, as the
 * journal does with its segments, so only the data has to reach the disk.
 * Exit status 0, or 1 with the failing call on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench-args.h"

int
main(int argc, char **argv)
{
	char path[4096], rec[4096];
	long count, size = 120;
	int fd, n, prealloc = 0;

	if (argc > 1 && strcmp(argv[1], "-p") == 0) {
		prealloc = 1;
		argc--;
		argv++;
	}
	if (argc < 3 || bench_parse_count(argv[2], &count) < 0 ||
	    (argc > 3 && (bench_parse_count(argv[3], &size) < 0 ||
	    size > (long) sizeof(rec)))) {
		fprintf(stderr, "usage: fsync-loop [-p] DIR COUNT [SIZE<=4096]\n");
		return 2;
	}
	n = snprintf(path, sizeof(path), "%s/fsync-loop.dat", argv[1]);
	if (n < 0 || (size_t) n >= sizeof(path)) {
		fprintf(stderr, "fsync-loop: path too long\n");
		return 1;
	}
	memset(rec, 'r', sizeof(rec));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "fsync-loop: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (prealloc) {
		n = posix_fallocate(fd, 0, (off_t) (count * size));
		if (n != 0 || fsync(fd) < 0) {
			fprintf(stderr, "fsync-loop: preallocate: %s\n",
			    strerror(n ? n : errno));
			return 1;
		}
	}
	for (long i = 0; i < count; i++) {
		if (pwrite(fd, rec, (size_t) size, (off_t) (i * size)) !=
		    (ssize_t) size) {
			fprintf(stderr, "fsync-loop: pwrite: %s\n",
			    strerror(errno));
			return 1;
		}
		if (fdatasync(fd) < 0) {
			fprintf(stderr, "fsync-loop: fdatasync: %s\n",
			    strerror(errno));
			return 1;
		}
	}
	close(fd);
	(void) unlink(path); /* best effort: the harness removes DIR too */
	return 0;
}
