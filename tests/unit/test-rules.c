/*
 * test-rules.c - deduction, break, rounding and splitting, table-driven.
 *
 * Every expected value is a literal worked out by hand (the comment on
 * each row shows the arithmetic). T0 is 2026-11-20T09:00:00Z, M is the
 * midnight 2026-11-21T00:00:00Z.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/errcode.h"
#include "common/timeparse.h"
#include "core/entry.h"
#include "core/rules.h"
#include "core/target.h"

#define T0 1795165200LL
#define M 1795219200LL

struct round_row {
	const char *what;
	enum rules_round_mode mode;
	int64_t inc, min, worked, want;
};

/* room for the parts of every row below */
#define TEST_PARTS 64

static const struct round_row round_rows[] = {
    {"none keeps the seconds", RULES_ROUND_NONE, 0, 0, 1234, 1234},
    {"up 15m, exactly on", RULES_ROUND_UP, 900, 0, 900, 900},
    {"up 15m, on + 1 s", RULES_ROUND_UP, 900, 0, 901, 1800},
    {"up 15m, on - 1 s", RULES_ROUND_UP, 900, 0, 899, 900},
    {"up 6m, on + 1 s", RULES_ROUND_UP, 360, 0, 361, 720},
    {"up 6m, exactly on", RULES_ROUND_UP, 360, 0, 360, 360},
    {"up 6m, on - 1 s", RULES_ROUND_UP, 360, 0, 359, 360},
    {"nearest 15m, half - 1 s", RULES_ROUND_NEAREST, 900, 0, 1349, 900},
    {"nearest 15m, exactly half", RULES_ROUND_NEAREST, 900, 0, 1350, 1800},
    {"nearest 15m, half + 1 s", RULES_ROUND_NEAREST, 900, 0, 1351, 1800},
    {"nearest 15m, exactly on", RULES_ROUND_NEAREST, 900, 0, 1800, 1800},
    {"nearest never to zero", RULES_ROUND_NEAREST, 900, 0, 449, 900},
    {"down 15m, on - 1 s", RULES_ROUND_DOWN, 900, 0, 1799, 900},
    {"down 15m, exactly on", RULES_ROUND_DOWN, 900, 0, 1800, 1800},
    {"down 15m, on + 1 s", RULES_ROUND_DOWN, 900, 0, 1801, 1800},
    {"down never to zero", RULES_ROUND_DOWN, 900, 0, 899, 900},
    {"minimum 15m, below", RULES_ROUND_NONE, 0, 900, 60, 900},
    {"minimum 15m, min - 1 s", RULES_ROUND_NONE, 0, 900, 899, 900},
    {"minimum 15m, exactly", RULES_ROUND_NONE, 0, 900, 900, 900},
    {"minimum 15m, min + 1 s", RULES_ROUND_NONE, 0, 900, 901, 901},
    {"up 6m then minimum 15m", RULES_ROUND_UP, 360, 900, 361, 900},
    {"up 6m above minimum", RULES_ROUND_UP, 360, 900, 901, 1080},
};

static void
test_round_table(void **state)
{
	for (size_t i = 0; i < sizeof(round_rows) / sizeof(round_rows[0]);
	     i++) {
		const struct round_row *r = &round_rows[i];
		struct rules_rounding ro = {r->mode, r->inc, r->min};
		int64_t got = rules_round(&ro, r->worked);

		if (got != r->want) {
			fail_msg("%s: rounded %lld to %lld, want %lld", r->what,
			    (long long) r->worked, (long long) got,
			    (long long) r->want);
		}
	}
}

struct want_part {
	int64_t start, end, deduct, billed;
};

struct compute_row {
	const char *what;
	enum rules_pauses pauses;
	int64_t break_s, break_after_s;
	bool split;
	struct rules_rounding rounding;
	int64_t start, end;
	struct rules_interval pauses_in[4];
	size_t n_pauses;
	int64_t midnights[2];
	size_t n_midnights;
	int want_n; /* < 0: the errno expected */
	struct want_part want[4];
};

#define NONE_R                                                                 \
	{                                                                      \
		RULES_ROUND_NONE, 0, 0                                         \
	}
#define UP15                                                                   \
	{                                                                      \
		RULES_ROUND_UP, 900, 0                                         \
	}
#define H 3600

static const struct compute_row compute_rows[] = {
    {"one pause deducted: 60m - 10m", RULES_PAUSES_DEDUCT, 0, 0, false, NONE_R,
	T0, T0 + H, {{T0 + 600, T0 + 1200}}, 1, {0}, 0, 1,
	{{T0, T0 + H, 600, 3000}}},
    {"break: worked exactly 6h, no top-up", RULES_PAUSES_DEDUCT, 1800, 6 * H,
	false, NONE_R, T0, T0 + 21600, {{0}}, 0, {0}, 0, 1,
	{{T0, T0 + 21600, 0, 21600}}},
    {"break: worked 6h - 1 s, no top-up", RULES_PAUSES_DEDUCT, 1800, 6 * H,
	false, NONE_R, T0, T0 + 21599, {{0}}, 0, {0}, 0, 1,
	{{T0, T0 + 21599, 0, 21599}}},
    {"break: worked 6h + 1 s, deduct 30m -> 21601 - 1800 = 19801",
	RULES_PAUSES_DEDUCT, 1800, 6 * H, false, NONE_R, T0, T0 + 21601, {{0}},
	0, {0}, 0, 1, {{T0, T0 + 21601, 1800, 19801}}},
    {"break: 10m pause counts, top-up 20m: 7h - 30m = 23400",
	RULES_PAUSES_DEDUCT, 1800, 6 * H, false, NONE_R, T0, T0 + 7 * H,
	{{T0 + H, T0 + H + 600}}, 1, {0}, 0, 1,
	{{T0, T0 + 25200, 1800, 23400}}},
    {"break: 40m pause already covers it", RULES_PAUSES_DEDUCT, 1800, 6 * H,
	false, NONE_R, T0, T0 + 7 * H, {{T0 + H, T0 + H + 2400}}, 1, {0}, 0, 1,
	{{T0, T0 + 25200, 2400, 22800}}},
    {"break: 10m pause, worked 6h exactly (22200 - 600), no top-up",
	RULES_PAUSES_DEDUCT, 1800, 6 * H, false, NONE_R, T0, T0 + 22200,
	{{T0 + H, T0 + H + 600}}, 1, {0}, 0, 1, {{T0, T0 + 22200, 600, 21600}}},
    {"break: 10m pause, worked 6h + 1 s, deduct 1800 -> 20401",
	RULES_PAUSES_DEDUCT, 1800, 6 * H, false, NONE_R, T0, T0 + 22201,
	{{T0 + H, T0 + H + 600}}, 1, {0}, 0, 1,
	{{T0, T0 + 22201, 1800, 20401}}},
    {"up 15m: worked 45m exactly stays", RULES_PAUSES_DEDUCT, 0, 0, false, UP15,
	T0, T0 + 3000, {{T0 + 600, T0 + 900}}, 1, {0}, 0, 1,
	{{T0, T0 + 3000, 300, 2700}}},
    {"up 15m: worked 45m + 1 s -> 60m, end = T0 + 300 + 3600",
	RULES_PAUSES_DEDUCT, 0, 0, false, UP15, T0, T0 + 3001,
	{{T0 + 600, T0 + 900}}, 1, {0}, 0, 1, {{T0, T0 + 3900, 300, 3600}}},
    {"split at a pause: 1h, 30m pause, 1h30m", RULES_PAUSES_SPLIT, 0, 0, false,
	NONE_R, T0, T0 + 3 * H, {{T0 + H, T0 + H + 1800}}, 1, {0}, 0, 2,
	{{T0, T0 + H, 0, 3600}, {T0 + 5400, T0 + 10800, 0, 5400}}},
    {"split + break: 13200 + 13200 worked, 10m pause, top-up 20m on the "
     "second part (where 6h is passed)",
	RULES_PAUSES_SPLIT, 1800, 6 * H, false, NONE_R, T0, T0 + 27000,
	{{T0 + 13200, T0 + 13800}}, 1, {0}, 0, 2,
	{{T0, T0 + 13200, 0, 13200}, {T0 + 13800, T0 + 27000, 1200, 12000}}},
    {"midnight split, pause across midnight, each part rounded up 15m: "
     "3000 -> 3600 ends M + 600; 4800 -> 5400 ends M + 600 + 5400",
	RULES_PAUSES_DEDUCT, 0, 0, true, UP15, M - H, M + 5400,
	{{M - 600, M + 600}}, 1, {M, M + 86400}, 2, 2,
	{{M - H, M + 600, 600, 3600}, {M, M + 6000, 600, 5400}}},
    {"midnight given but split off: one part", RULES_PAUSES_DEDUCT, 0, 0, false,
	NONE_R, M - H, M + H, {{0}}, 0, {M}, 1, 1, {{M - H, M + H, 0, 7200}}},
    {"midnight exactly at the end: no empty part", RULES_PAUSES_DEDUCT, 0, 0,
	true, NONE_R, M - H, M, {{0}}, 0, {M}, 1, 1, {{M - H, M, 0, 3600}}},
    {"all paused: refused", RULES_PAUSES_DEDUCT, 0, 0, false, NONE_R, T0,
	T0 + 600, {{T0, T0 + 600}}, 1, {0}, 0, -EINVAL, {{0}}},
    {"end before start: refused", RULES_PAUSES_DEDUCT, 0, 0, false, NONE_R, T0,
	T0, {{0}}, 0, {0}, 0, -EINVAL, {{0}}},
    {"overlapping pauses: refused", RULES_PAUSES_DEDUCT, 0, 0, false, NONE_R,
	T0, T0 + H, {{T0 + 100, T0 + 300}, {T0 + 200, T0 + 400}}, 2, {0}, 0,
	-EINVAL, {{0}}},
};

static void
check_row(const struct compute_row *row)
{
	struct rules_config cfg;
	struct rules_input in = {0};
	struct rules_part parts[TEST_PARTS];
	struct errbuf e = {0};
	int n;

	rules_config_init(&cfg);
	cfg.pauses = row->pauses;
	cfg.break_s = row->break_s;
	cfg.break_after_s = row->break_after_s;
	cfg.split_at_midnight = row->split;
	in.start = row->start;
	in.end = row->end;
	in.pauses = row->pauses_in;
	in.n_pauses = row->n_pauses;
	in.midnights = row->midnights;
	in.n_midnights = row->n_midnights;
	n = rules_compute(
	    &cfg, &row->rounding, &in, parts, TEST_PARTS, &e);
	if (n != row->want_n) {
		fail_msg("%s: %d parts (%s), want %d", row->what, n, e.msg,
		    row->want_n);
	}
	for (int i = 0; i < n; i++) {
		const struct want_part *w = &row->want[i];
		const struct rules_part *p = &parts[i];

		if (p->start != w->start || p->end != w->end ||
		    p->deduct != w->deduct || p->billed != w->billed) {
			fail_msg("%s: part %d is start %+lld end %+lld deduct "
				 "%lld billed %lld; want %+lld %+lld %lld %lld",
			    row->what, i, (long long) (p->start - T0),
			    (long long) (p->end - T0), (long long) p->deduct,
			    (long long) p->billed, (long long) (w->start - T0),
			    (long long) (w->end - T0), (long long) w->deduct,
			    (long long) w->billed);
		}
		/* the invariant behind actualHours */
		assert_int_equal(p->end - p->start, p->deduct + p->billed);
	}
}

static void
test_compute_table(void **state)
{
	for (size_t i = 0; i < sizeof(compute_rows) / sizeof(compute_rows[0]);
	     i++) {
		check_row(&compute_rows[i]);
	}
}

/* Midnights from the real TZ database on both DST days of two zones. */
struct dst_row {
	const char *tz;
	const char *what;
	int64_t start, end;
	int64_t want_midnight;		/* first local midnight after start */
	int64_t want_next_midnight;	/* the one after it */
	int64_t want_part0, want_part1; /* seconds in each part */
};

static const struct dst_row dst_rows[] = {
    /* 2026-03-28 22:00 CET (21:00Z) .. 2026-03-29 04:00 CEST (02:00Z):
     * 5 h real, though the wall shows 6 h. Midnight 00:00 CET = 23:00Z;
     * the next day has 23 h: 2026-03-30 00:00 CEST = 2026-03-29T22:00Z */
    {"Europe/Berlin", "spring forward", 1774731600, 1774731600 + 5 * H,
	1774738800, 1774821600, 7200, 10800},
    /* 2026-10-24 22:00 CEST (20:00Z) .. 2026-10-25 04:00 CET (03:00Z):
     * 7 h real. Midnight 00:00 CEST = 22:00Z; that day has 25 h:
     * 2026-10-26 00:00 CET = 2026-10-25T23:00Z */
    {"Europe/Berlin", "fall back", 1792879200 - 2 * H, 1792879200 + 5 * H,
	1792879200, 1792969200, 7200, 18000},
    /* 2026-03-07 23:00 EST (03-08T04:00Z) .. 03-08 04:00 EDT (08:00Z):
     * 4 h real. Midnight 00:00 EST = 05:00Z; 23 h day: 03-09 00:00 EDT
     * = 04:00Z */
    {"America/New_York", "spring forward", 1772946000 - H, 1772946000 + 3 * H,
	1772946000, 1773028800, 3600, 10800},
    /* 2026-10-31 23:00 EDT (11-01T03:00Z) .. 11-01 03:00 EST (08:00Z):
     * 5 h real. Midnight 00:00 EDT = 04:00Z; 25 h day: 11-02 00:00 EST
     * = 05:00Z */
    {"America/New_York", "fall back", 1793505600 - H, 1793505600 + 4 * H,
	1793505600, 1793595600, 3600, 14400},
};

/* rules_max_parts bounds what rules_compute makes, and a ret smaller
 * than the parts is refused with E2BIG, naming the count. Split mode with
 * 300 pauses makes 301 entries (there used to be a cap of 64). */
static void
test_many_parts(void **state)
{
	enum { NP = 300 };
	struct rules_config cfg;
	struct rules_rounding none = NONE_R;
	struct rules_input in = {0};
	struct rules_interval pauses[NP];
	struct rules_part *parts;
	struct errbuf e = {0};
	size_t max;
	int n;

	(void) state;
	rules_config_init(&cfg);
	cfg.pauses = RULES_PAUSES_SPLIT;
	for (int i = 0; i < NP; i++) {
		pauses[i].from = T0 + 120 * i + 60;
		pauses[i].to = T0 + 120 * i + 120;
	}
	in.start = T0;
	in.end = T0 + 120 * NP + 60;
	in.pauses = pauses;
	in.n_pauses = NP;
	max = rules_max_parts(&in);
	assert_int_equal(max, NP + 1);
	parts = calloc(max, sizeof(*parts));
	assert_non_null(parts);
	n = rules_compute(&cfg, &none, &in, parts, max, &e);
	assert_int_equal(n, NP + 1);
	for (int i = 0; i < n; i++) {
		assert_int_equal(parts[i].start, T0 + 120 * i);
		assert_int_equal(parts[i].end, T0 + 120 * i + 60);
		assert_int_equal(parts[i].billed, 60);
	}
	n = rules_compute(&cfg, &none, &in, parts, NP, &e);
	assert_int_equal(n, -E2BIG);
	assert_string_equal(e.msg, "this time would make more than 300 entries");
	free(parts);
}

static void
test_dst_midnight_split(void **state)
{
	for (size_t i = 0; i < sizeof(dst_rows) / sizeof(dst_rows[0]); i++) {
		const struct dst_row *d = &dst_rows[i];
		struct rules_config cfg;
		struct rules_rounding none = NONE_R;
		struct rules_input in = {0};
		struct rules_part parts[TEST_PARTS];
		int64_t mids[2];
		int n;

		setenv("TZ", d->tz, 1);
		tzset();
		mids[0] = timeparse_next_local_midnight(d->start, NULL);
		mids[1] = timeparse_next_local_midnight(mids[0], NULL);
		if (mids[0] != d->want_midnight ||
		    mids[1] != d->want_next_midnight) {
			fail_msg("%s %s: midnights %lld %lld, want %lld %lld",
			    d->tz, d->what, (long long) mids[0],
			    (long long) mids[1], (long long) d->want_midnight,
			    (long long) d->want_next_midnight);
		}
		rules_config_init(&cfg);
		cfg.split_at_midnight = true;
		in.start = d->start;
		in.end = d->end;
		in.midnights = mids;
		in.n_midnights = 2;
		n = rules_compute(
		    &cfg, &none, &in, parts, TEST_PARTS, NULL);
		assert_int_equal(n, 2);
		assert_int_equal(parts[0].billed, d->want_part0);
		assert_int_equal(parts[1].billed, d->want_part1);
		assert_int_equal(parts[1].start, d->want_midnight);
		assert_int_equal(parts[1].end, d->end);
	}
	unsetenv("TZ");
	tzset();
}

static void
test_rounding_for(void **state)
{
	static const struct rules_rounding_rule rules[] = {
	    {NULL, TARGET_CHARGE_CODE, {RULES_ROUND_NONE, 0, 0}},
	    {"Remote", -1, {RULES_ROUND_UP, 360, 0}},
	    {"remote", TARGET_PROJECT_TICKET, {RULES_ROUND_UP, 900, 0}},
	};
	struct rules_config cfg;

	rules_config_init(&cfg);
	cfg.rounding = (struct rules_rounding){RULES_ROUND_NEAREST, 60, 0};
	cfg.round_rules = rules;
	cfg.n_round_rules = 3;
	assert_int_equal(
	    rules_rounding_for(&cfg, "REMOTE", TARGET_PROJECT_TICKET)
		->increment_s,
	    900);
	assert_int_equal(
	    rules_rounding_for(&cfg, "Remote", TARGET_SERVICE_TICKET)
		->increment_s,
	    360);
	assert_int_equal(
	    rules_rounding_for(&cfg, "Remote", TARGET_CHARGE_CODE)->increment_s,
	    360);
	assert_int_equal(
	    rules_rounding_for(&cfg, "Onsite", TARGET_CHARGE_CODE)->mode,
	    RULES_ROUND_NONE);
	assert_int_equal(
	    rules_rounding_for(&cfg, NULL, TARGET_SERVICE_TICKET)->increment_s,
	    60);
}

static void
test_names_and_validate(void **state)
{
	struct rules_rounding bad = {RULES_ROUND_UP, 0, 0};
	struct errbuf e = {0};

	assert_int_equal(
	    rules_round_mode_from_name("Nearest"), RULES_ROUND_NEAREST);
	assert_int_equal(
	    rules_round_mode_from_name("ceil"), RULES_ROUND_INVALID);
	assert_int_equal(rules_pauses_from_name("split"), RULES_PAUSES_SPLIT);
	assert_int_equal(rules_concurrency_from_name("parallel"),
	    RULES_CONCURRENCY_PARALLEL);
	assert_int_equal(rules_rounding_validate(&bad, &e), -EINVAL);
	assert_int_equal(e.code, ERR_CONFIG);
	bad.increment_s = 900;
	assert_int_equal(rules_rounding_validate(&bad, &e), 0);
}

static void
test_format_hours(void **state)
{
	static const struct {
		int64_t s;
		const char *want;
	} rows[] = {
	    {5400, "1.50"},
	    {3600, "1.00"},
	    {900, "0.25"},
	    {0, "0.00"},
	    {100, "0.027778"},
	    {19801, "5.500278"},
	    {60, "0.016667"},
	    {1800, "0.50"},
	    {36000, "10.00"},
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_string_equal(
		    entry_format_hours(rows[i].s, buf), rows[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_table),
	    cmocka_unit_test(test_compute_table),
	    cmocka_unit_test(test_dst_midnight_split),
	    cmocka_unit_test(test_many_parts),
	    cmocka_unit_test(test_rounding_for),
	    cmocka_unit_test(test_names_and_validate),
	    cmocka_unit_test(test_format_hours),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
