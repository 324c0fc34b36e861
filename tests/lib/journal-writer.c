/*
 * journal-writer.c - drives the real journal for the integration tests
 * (kill -9 loop, strace fault injection).
 *
 *   journal-writer [--count N] [--batch B] [--compact BYTES] STATE_DIR
 *       Opens the journal, then appends TEST records {"n":SEQ,...} in
 *       batches of 1..B and commits each batch. After a commit it prints
 *       "ack SEQ" for every record (stdout, flushed), or "fail SEQ CODE"
 *       when the batch failed. Runs until N records were acknowledged
 *       (N = 0: forever). Start-up prints "ready LAST".
 *   journal-writer --verify STATE_DIR
 *       Opens the journal and checks that every record's n equals its seq
 *       and seqs are contiguous; prints "last SEQ" and exits 0.
 *
 * Exit status, as the daemon's: 0 done, 65 journal damaged, 75 storage
 * failure (syncfs or fsync failed: outcome unknown), 1 anything else.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/errcode.h"
#include "core/records.h"
#include "daemon/journal.h"

#define EXIT_DATAERR 65
#define EXIT_TEMPFAIL 75

struct state {
	uint64_t last; /* highest seq applied */
	uint64_t bad;  /* first seq whose payload did not match, or 0 */
};

static int
on_apply(void *userdata, uint16_t type, uint64_t seq, json_object *payload,
    struct errbuf *reterr)
{
	struct state *s = userdata;
	json_object *n;

	if (type == JOURNAL_REC_CHECKPOINT) {
		if (!json_object_object_get_ex(payload, "last", &n)) {
			return errbuf_set(reterr, ERR_INTERNAL, -EINVAL,
			    "checkpoint without last");
		}
		s->last = (uint64_t) json_object_get_int64(n);
		if (s->last != seq) {
			return errbuf_set(reterr, ERR_INTERNAL, -EINVAL,
			    "checkpoint at seq %" PRIu64 " says %" PRIu64, seq,
			    s->last);
		}
		return 0;
	}
	if (!json_object_object_get_ex(payload, "n", &n) ||
	    (uint64_t) json_object_get_int64(n) != seq ||
	    seq != s->last + 1) {
		if (!s->bad) {
			s->bad = seq;
		}
		return errbuf_set(reterr, ERR_INTERNAL, -EINVAL,
		    "record seq %" PRIu64 " does not follow %" PRIu64
		    " or holds another number",
		    seq, s->last);
	}
	s->last = seq;
	return 0;
}

static json_object *
on_snapshot(void *userdata)
{
	struct state *s = userdata;
	json_object *o = json_object_new_object();

	if (o) {
		json_object_object_add(o, "last",
		    json_object_new_int64((int64_t) s->last));
	}
	return o;
}

static void
on_done(void *userdata, int status, const struct errbuf *err)
{
	uint64_t seq = (uint64_t) (uintptr_t) userdata;

	if (status == 0) {
		printf("ack %" PRIu64 "\n", seq);
	} else {
		printf("fail %" PRIu64 " %s\n", seq,
		    err ? errcode_name(err->code) : "?");
	}
}

static int
exit_for(int r, const struct errbuf *e)
{
	if (r == -EBADMSG || e->code == ERR_JOURNAL_CORRUPT) {
		return EXIT_DATAERR;
	}
	if (e->code == ERR_STORAGE_FAILED) {
		return EXIT_TEMPFAIL;
	}
	return 1;
}

static int
parse_u64(const char *s, uint64_t *ret)
{
	int used = 0;

	if (sscanf(s, "%" SCNu64 "%n", ret, &used) != 1 ||
	    (size_t) used != strlen(s)) {
		fprintf(stderr, "journal-writer: bad number '%s'\n", s);
		return -EINVAL;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct state st = { 0 };
	struct journal_config cfg = {
		.apply = on_apply,
		.snapshot = on_snapshot,
		.userdata = &st,
	};
	struct journal *j = NULL;
	struct errbuf e;
	uint64_t count = 0, batch = 8, acked = 0;
	unsigned fails = 0;
	bool verify = false;
	int i, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--verify") == 0) {
			verify = true;
		} else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
			if (parse_u64(argv[++i], &count) < 0) {
				return 2;
			}
		} else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
			if (parse_u64(argv[++i], &batch) < 0 || batch == 0) {
				return 2;
			}
		} else if (strcmp(argv[i], "--compact") == 0 && i + 1 < argc) {
			if (parse_u64(argv[++i], &cfg.compact_bytes) < 0) {
				return 2;
			}
		} else {
			fprintf(stderr, "journal-writer: unknown option %s\n",
			    argv[i]);
			return 2;
		}
	}
	if (i + 1 != argc) {
		fprintf(stderr, "usage: journal-writer [--verify] [--count N] "
				"[--batch B] [--compact BYTES] STATE_DIR\n");
		return 2;
	}
	cfg.state_dir = argv[i];
	errbuf_clear(&e);
	r = journal_open(&cfg, &j, &e);
	if (r < 0) {
		fprintf(stderr, "journal-writer: %s\n", e.msg);
		return exit_for(r, &e);
	}
	if (verify) {
		printf("last %" PRIu64 "\n", journal_last_seq(j));
		journal_free(j);
		return 0;
	}
	printf("ready %" PRIu64 "\n", journal_last_seq(j));
	srand((unsigned) time(NULL) ^ (unsigned) getpid());
	while (count == 0 || acked < count) {
		uint64_t nb = 1 + (uint64_t) rand() % batch;

		for (uint64_t k = 0; k < nb; k++) {
			uint64_t seq = journal_last_seq(j) + k + 1;
			json_object *o = json_object_new_object();

			json_object_object_add(o, "n",
			    json_object_new_int64((int64_t) seq));
			json_object_object_add(o, "pad",
			    json_object_new_string("the quick brown fox"));
			r = journal_append(j, JOURNAL_REC_TEST, o, false,
			    on_done, (void *) (uintptr_t) seq, &e);
			json_object_put(o);
			if (r < 0) {
				bool failed = journal_failed(j);

				fprintf(stderr, "journal-writer: append: %s\n",
				    e.msg);
				journal_free(j);
				return failed ? EXIT_TEMPFAIL : 1;
			}
		}
		r = journal_commit(j);
		if (journal_failed(j)) {
			fprintf(stderr, "journal-writer: storage failed (%s)\n",
			    strerror(-r));
			journal_free(j);
			return EXIT_TEMPFAIL;
		}
		if (r == 0) {
			acked += nb;
			fails = 0;
		} else if (++fails >= 100) {
			/* A persistent write error: give up like a person
			 * would, with nothing unacknowledged claimed. */
			fprintf(stderr, "journal-writer: commit keeps failing "
					"(%s)\n",
			    strerror(-r));
			journal_free(j);
			return 1;
		}
	}
	journal_free(j);
	return 0;
}
