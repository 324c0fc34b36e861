/*
 * fuzz-replay.c - journal replay on arbitrary bytes (RELIABILITY.md A6).
 *
 * The first input byte chooses the layout of the rest (the body):
 *   byte % 3 == 0  segment: the body is one segment;
 *   byte % 3 == 1  checkpoint: the body is the checkpoint, no segment;
 *   byte % 3 == 2  checkpoint + segment: the body is split at the first
 *                  "CWTJRNL\0" magic after its first byte; the part
 *                  before it is the checkpoint, the rest the segment.
 * The segment is named after the number in its header (bytes 24-31), so
 * that a valid checkpoint + segment pair replays as a valid journal;
 * with the byte's top bit set, or a number out of range, it is
 * journal/0000000000000001.log (a name that may not match: damage).
 * journal_check (read-only) and then journal_open (which may cut a torn
 * tail) run on it. Neither may crash, leak or read out of bounds; any
 * return value is fine. A fresh directory per input, in $TMPDIR or
 * /dev/shm, removed afterwards. Seeds (tests/fuzz/corpus/replay/): ckpt-*
 * and with-checkpoint for the checkpoint layouts, both-* for checkpoint +
 * segment (valid, torn tail, misnamed), the others segments.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
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

enum layout {
	LAYOUT_SEGMENT,
	LAYOUT_CHECKPOINT,
	LAYOUT_BOTH,
};

/* The number a segment file is named after: its header's, when sane. */
static uint64_t
segment_number(const uint8_t *seg, size_t len, bool header_name)
{
	uint64_t n = 0;

	if (!header_name || len < 32) {
		return 1;
	}
	for (int i = 7; i >= 0; i--) {
		n = n << 8 | seg[24 + i];
	}
	return n >= 1 && n <= 9999999999999999ull ? n : 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *base = getenv("TMPDIR");
	char root[256], state[300], path[400];
	const uint8_t *body, *seg = NULL, *ck = NULL;
	size_t seglen = 0, cklen = 0, blen;
	uint64_t applied = 0;
	enum layout layout;
	struct journal_config cfg = {
		.apply = on_apply,
		.snapshot = on_snapshot,
		.userdata = &applied,
	};
	struct journal *j = NULL;
	struct errbuf e;
	FILE *out;

	if (size < 1 || size > (4u << 20)) {
		return 0; /* bounded time per input */
	}
	layout = (enum layout) (data[0] % 3);
	body = data + 1;
	blen = size - 1;
	switch (layout) {
	case LAYOUT_SEGMENT:
		seg = body;
		seglen = blen;
		break;
	case LAYOUT_CHECKPOINT:
		ck = body;
		cklen = blen;
		break;
	case LAYOUT_BOTH:
		ck = body;
		cklen = blen;
		if (blen > 8) {
			seg = memmem(body + 1, blen - 1, "CWTJRNL", 8);
		}
		if (seg) {
			cklen = (size_t) (seg - body);
			seglen = blen - cklen;
		}
		break;
	}
	if (!base || !base[0]) {
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	}
	snprintf(root, sizeof(root), "%s/cwt-fuzz-XXXXXX", base);
	if (!mkdtemp(root)) {
		return 0;
	}
	snprintf(state, sizeof(state), "%s/state", root);
	(void) mkdir(state, 0700);
	snprintf(path, sizeof(path), "%s/journal", state);
	(void) mkdir(path, 0700);
	if (seg) {
		snprintf(path, sizeof(path), "%s/journal/%016" PRIu64 ".log",
		    state, segment_number(seg, seglen, data[0] < 0x80));
		put(path, seg, seglen);
	}
	if (ck) {
		snprintf(path, sizeof(path), "%s/checkpoint", state);
		put(path, ck, cklen);
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
