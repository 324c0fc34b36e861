/*
 * driver.c - replays fuzz corpus files through LLVMFuzzerTestOneInput
 * without libFuzzer, so that `make check` exercises every target's corpus
 * with the ordinary compiler (and the sanitizers when configured).
 *
 * Usage: fuzz-TARGET FILE_OR_DIR...; with no argument it replays the
 * directory named by $FUZZ_CORPUS. Exit 0 when every input ran.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			uint8_t *nb;

			cap = cap ? cap * 2 : 4096;
			if (cap > (64u << 20)) {
				fprintf(stderr, "'%s' is over 64 MiB\n", path);
				free(buf);
				fclose(f);
				return -1;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		if (n == 0) {
			break;
		}
		len += n;
	}
	fclose(f);
	(void) LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int
run_path(const char *path, unsigned *count)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "cannot stat '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	d = opendir(path);
	if (!d) {
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char sub[4096];

		if (de->d_name[0] == '.') {
			continue;
		}
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (run_path(sub, count) < 0) {
			r = -1;
		}
	}
	closedir(d);
	return r;
}

int
main(int argc, char **argv)
{
	unsigned count = 0;
	int r = 0;
	const char *env = getenv("FUZZ_CORPUS");

	if (argc < 2 && !env) {
		fprintf(stderr, "usage: %s FILE_OR_DIR... (or set FUZZ_CORPUS)\n",
		    argv[0]);
		return 2;
	}
	if (argc < 2) {
		r = run_path(env, &count);
	}
	for (int i = 1; i < argc; i++) {
		if (run_path(argv[i], &count) < 0) {
			r = -1;
		}
	}
	printf("%u inputs replayed\n", count);
	if (count == 0) {
		fprintf(stderr, "no corpus input found\n");
		return 1;
	}
	return r < 0 ? 1 : 0;
}
