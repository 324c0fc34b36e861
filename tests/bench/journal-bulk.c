/*
 * journal-bulk.c - big journals for the replay and start-up benchmarks
 * (issue 10), through the real journal API.
 *
 *   journal-bulk fill DIR COUNT
 *       Appends COUNT records to the journal in state directory DIR (made
 *       when missing): pairs of timer-started and timer-cancelled for
 *       ticket:(100000 + i % 1000), shaped exactly as cwtimed writes them
 *       (stamps from this boot's clocks and boot id), so that cwtimed
 *       replays them into a consistent state: a cancelled timer leaves
 *       nothing behind, and an odd COUNT leaves one timer running. Records
 *       go in batches of 4096 per commit, and compaction is disabled, so
 *       the result is COUNT records in segments and no checkpoint.
 *   journal-bulk replay DIR
 *       Opens the journal (replay with an apply that only counts) and
 *       closes it: the journal's own replay cost, without the daemon's
 *       state. Prints "records=N open_ns=T", T the time journal_open()
 *       took (its syncfs included), measured in-process, and C the CPU
 *       time it used (cpu_ns=C).
 *
 * Exit status 0, or 1 with the reason on stderr; 2 for usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <json-c/json.h>

#include "bench-args.h"
#include "common/errcode.h"
#include "core/records.h"
#include "daemon/journal.h"

#define BULK_BATCH 4096

static int
count_apply(void *userdata, uint16_t type, uint64_t seq,
    json_object *payload, struct errbuf *reterr)
{
	(*(uint64_t *) userdata)++;
	return 0;
}

static json_object *
snapshot_none(void *userdata)
{
	/* Never called: compaction is disabled (compact_bytes huge). */
	return NULL;
}

static int64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	(void) clock_gettime(id, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU time (user + system) of this process so far: on a shared machine
 * it is less disturbed by other load than the wall time. */
static int64_t
cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0) {
		return 0;
	}
	return ((int64_t) ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
	    1000000000 +
	    ((int64_t) ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* This boot's id, as cwtimed stamps it; "" when unreadable. */
static void
read_boot_id(char *out, size_t size)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	out[0] = '\0';
	if (f) {
		if (fgets(out, (int) size, f)) {
			out[strcspn(out, "\n")] = '\0';
		}
		fclose(f);
	}
}

static json_object *
make_stamp(const char *boot_id, int64_t pos_ns, int full)
{
	json_object *s = json_object_new_object();

	json_object_object_add(s, "wall",
	    json_object_new_int64((int64_t) time(NULL)));
	json_object_object_add(s, "mono_ns",
	    json_object_new_int64(clock_ns(CLOCK_MONOTONIC)));
	json_object_object_add(s, "boot_ns",
	    json_object_new_int64(clock_ns(CLOCK_BOOTTIME)));
	json_object_object_add(s, "boot_id", json_object_new_string(boot_id));
	json_object_object_add(s, "pos_ns", json_object_new_int64(pos_ns));
	if (full) {
		json_object_object_add(s, "gap_ns", json_object_new_int64(0));
		json_object_object_add(s, "step", json_object_new_boolean(0));
		json_object_object_add(s, "reboot",
		    json_object_new_boolean(0));
	}
	return s;
}

/* The payload of record i: even i starts a timer, odd i cancels it. */
static json_object *
make_record(long i, const char *boot_id, uint16_t *ret_type)
{
	json_object *p = json_object_new_object();
	char target[32];

	(void) snprintf(target, sizeof(target), "ticket:%ld",
	    100000 + (i / 2) % 1000);
	json_object_object_add(p, "target", json_object_new_string(target));
	if (i % 2 == 0) {
		*ret_type = JOURNAL_REC_TIMER_STARTED;
		json_object_object_add(p, "start",
		    json_object_new_int64((int64_t) time(NULL)));
		json_object_object_add(p, "stamp", make_stamp(boot_id, 0, 0));
		json_object_object_add(p, "fields", json_object_new_object());
		json_object_object_add(p, "pause", json_object_new_array());
	} else {
		*ret_type = JOURNAL_REC_TIMER_CANCELLED;
		json_object_object_add(p, "stamp", make_stamp(boot_id, 0, 1));
		json_object_object_add(p, "worked_s", json_object_new_int64(0));
	}
	return p;
}

static int
fill(struct journal *j, long count)
{
	char boot_id[64];
	struct errbuf e = { 0 };
	int r;

	read_boot_id(boot_id, sizeof(boot_id));
	for (long i = 0; i < count; i++) {
		uint16_t type;
		json_object *p = make_record(i, boot_id, &type);

		r = journal_append(j, type, p, false, NULL, NULL, &e);
		json_object_put(p);
		if (r >= 0 && (i % BULK_BATCH == BULK_BATCH - 1 ||
		    i == count - 1)) {
			r = journal_commit(j);
		}
		if (r < 0) {
			fprintf(stderr, "journal-bulk: record %ld: %s (%s)\n",
			    i, e.msg, strerror(-r));
			return 1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	uint64_t applied = 0;
	struct journal_config cfg = {
		.apply = count_apply,
		.snapshot = snapshot_none,
		.userdata = &applied,
		.compact_bytes = UINT64_MAX / 2,
	};
	struct errbuf e = { 0 };
	struct journal *j = NULL;
	long count = 0;
	int64_t t0, t1, c0;
	int r, rc = 0;

	if (argc == 4 && strcmp(argv[1], "fill") == 0 &&
	    bench_parse_count(argv[3], &count) == 0) {
		cfg.state_dir = argv[2];
	} else if (argc == 3 && strcmp(argv[1], "replay") == 0) {
		cfg.state_dir = argv[2];
	} else {
		fprintf(stderr, "usage: journal-bulk fill DIR COUNT\n"
				"       journal-bulk replay DIR\n");
		return 2;
	}
	c0 = cpu_ns();
	t0 = clock_ns(CLOCK_MONOTONIC);
	r = journal_open(&cfg, &j, &e);
	t1 = clock_ns(CLOCK_MONOTONIC);
	if (r < 0) {
		fprintf(stderr, "journal-bulk: open %s: %s (%s)\n",
		    cfg.state_dir, e.msg, strerror(-r));
		return 1;
	}
	if (count > 0) {
		rc = fill(j, count);
	} else {
		printf("records=%" PRIu64 " open_ns=%" PRId64 " cpu_ns=%" PRId64
		       "\n",
		    applied, t1 - t0, cpu_ns() - c0);
	}
	journal_free(j);
	return rc;
}
