/*
 * journal-commit.c - the journal's durable commit rate, to compare with
 * fsync-loop (the bare append+fdatasync anchor) in the same run.
 *
 *   journal-commit DIR COUNT   COUNT times: journal_append() one small
 *                              timer record, journal_commit() it
 *
 * Each commit is one batch of one record: the worst case, what a single
 * client waiting for its acknowledgement costs. DIR is used as a fresh
 * state directory. Exit status 0, or 1 with the reason on stderr.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "bench-args.h"
#include "common/errcode.h"
#include "core/records.h"
#include "daemon/journal.h"

static int
apply_nothing(void *userdata, uint16_t type, uint64_t seq,
    json_object *payload, struct errbuf *reterr)
{
	return 0;
}

static json_object *
snapshot_empty(void *userdata)
{
	return json_object_new_object();
}

int
main(int argc, char **argv)
{
	struct journal_config cfg = {
		.apply = apply_nothing,
		.snapshot = snapshot_empty,
	};
	struct errbuf e = { 0 };
	struct journal *j = NULL;
	json_object *payload;
	long count;
	int r;

	if (argc != 3 || bench_parse_count(argv[2], &count) < 0) {
		fprintf(stderr, "usage: journal-commit DIR COUNT\n");
		return 2;
	}
	cfg.state_dir = argv[1];
	r = journal_open(&cfg, &j, &e);
	if (r < 0) {
		fprintf(stderr, "journal-commit: open %s: %s (%s)\n", argv[1],
		    e.msg, strerror(-r));
		return 1;
	}
	/* About the size of a real timer-started record. */
	payload = json_object_new_object();
	if (!payload ||
	    json_object_object_add(payload, "target",
		json_object_new_string("54321")) < 0 ||
	    json_object_object_add(payload, "work_type",
		json_object_new_string("Remote")) < 0 ||
	    json_object_object_add(payload, "wall_s",
		json_object_new_int64(1764406800)) < 0) {
		fprintf(stderr, "journal-commit: out of memory\n");
		return 1;
	}
	for (long i = 0; i < count; i++) {
		r = journal_append(j, JOURNAL_REC_TEST, payload, false, NULL,
		    NULL, &e);
		if (r >= 0) {
			r = journal_commit(j);
		}
		if (r < 0) {
			fprintf(stderr, "journal-commit: record %ld: %s (%s)\n",
			    i, e.msg, strerror(-r));
			return 1;
		}
	}
	json_object_put(payload);
	journal_free(j);
	return 0;
}
