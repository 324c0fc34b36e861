/*
 * fuzz-replay.c - journal replay on arbitrary bytes (RELIABILITY.md A6).
 *
 * The input is split at the first "CWTCKPT\0" magic found after offset 0:
 * the part before it becomes journal/0000000000000001.log, the rest (if
 * any) the checkpoint. journal_check (read-only) and then journal_open
 * (which may cut a torn tail) run on it. Neither may crash, leak or read
 * out of bounds; any return value is fine. A fresh directory per input,
 * in $TMPDIR or /dev/shm, removed afterwards.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/errcode.h"
#include "daemon/journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
on_apply(void *userdata, uint16_t type, uint64_t seq, json_object *payload,
    struct errbuf *reterr)
{
	(*(uint64_t *) userdata)++;
	return 0;
}

static json_object *
on_snapshot(void *userdata)
{
	return json_object_new_object();
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
put(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		return;
	}
	if (len > 0 && write(fd, data, len) != (ssize_t) len) {
		perror("write");
	}
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *base = getenv("TMPDIR");
	char root[256], state[300], path[400];
	const uint8_t *ck = NULL;
	size_t seglen = size;
	uint64_t applied = 0;
	struct journal_config cfg = {
		.apply = on_apply,
		.snapshot = on_snapshot,
		.userdata = &applied,
	};
	struct journal *j = NULL;
	struct errbuf e;
	FILE *out;

	if (size > (4u << 20)) {
		return 0; /* bounded time per input */
	}
	if (!base || !base[0]) {
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	}
	snprintf(root, sizeof(root), "%s/cwt-fuzz-XXXXXX", base);
	if (!mkdtemp(root)) {
		return 0;
	}
	snprintf(state, sizeof(state), "%s/state", root);
	if (size > 8) {
		ck = memmem(data + 1, size - 1, "CWTCKPT", 8);
	}
	if (ck) {
		seglen = (size_t) (ck - data);
	}
	(void) mkdir(state, 0700);
	snprintf(path, sizeof(path), "%s/journal", state);
	(void) mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/journal/0000000000000001.log", state);
	put(path, data, seglen);
	if (ck) {
		snprintf(path, sizeof(path), "%s/checkpoint", state);
		put(path, ck, size - seglen);
	}
	out = fopen("/dev/null", "w");
	errbuf_clear(&e);
	(void) journal_check(state, false, out, &e);
	cfg.state_dir = state;
	if (journal_open(&cfg, &j, &e) == 0) {
		json_object *o = json_object_new_object();

		/* A usable journal must accept and commit a record. */
		if (journal_append(j, 24, o, false, NULL, NULL, &e) == 0 &&
		    journal_commit(j) != 0) {
			abort();
		}
		json_object_put(o);
		journal_free(j);
	}
	errbuf_clear(&e);
	(void) journal_check(state, true, out, &e);
	if (out) {
		fclose(out);
	}
	(void) nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
