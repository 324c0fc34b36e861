/*
 * rules.h - pure billing rules: deduction, break top-up, rounding,
 * splitting at local midnight and at pauses.
 *
 * Everything is in whole Unix seconds (UTC labels). Nothing here reads a
 * clock or the time zone: local midnights come in as an array computed by
 * the caller (timeparse_next_local_midnight in src/common does that).
 *
 * For every part produced, the figures satisfy
 *     end - start == deduct + billed        (so actualHours =
 *     (timeEnd - timeStart)/3600 - hoursDeduct holds exactly)
 * and rounding moves only the end.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct errbuf;

enum rules_round_mode {
	RULES_ROUND_NONE,
	RULES_ROUND_UP,
	RULES_ROUND_NEAREST, /* a half increment rounds up */
	RULES_ROUND_DOWN,    /* never to zero: at least one increment */
	RULES_ROUND_INVALID,
	RULES_ROUND_COUNT = RULES_ROUND_INVALID
};

enum rules_pauses {
	RULES_PAUSES_DEDUCT, /* paused time becomes hoursDeduct */
	RULES_PAUSES_SPLIT,  /* each run between pauses is its own entry */
	RULES_PAUSES_INVALID
};

enum rules_concurrency {
	RULES_CONCURRENCY_SINGLE,   /* starting one timer pauses the others */
	RULES_CONCURRENCY_PARALLEL, /* timers run side by side */
	RULES_CONCURRENCY_INVALID
};

struct rules_rounding {
	enum rules_round_mode mode;
	int64_t increment_s; /* > 0 unless mode is NONE */
	int64_t minimum_s;   /* 0: none; applies in every mode */
};

/* A rounding that applies to one work type and/or one charge type. */
struct rules_rounding_rule {
	const char *work_type; /* name (case-insensitive) or NULL: any */
	int charge_type;       /* enum target_type, or -1: any */
	struct rules_rounding rounding;
};

struct rules_config {
	enum rules_concurrency concurrency;
	int64_t max_duration_s; /* 0: no limit */
	enum rules_pauses pauses;
	int64_t break_s;       /* 0: no break rule */
	int64_t break_after_s; /* the break is due once worked > this */
	bool split_at_midnight;
	struct rules_rounding rounding;		       /* the default */
	const struct rules_rounding_rule *round_rules; /* borrowed */
	size_t n_round_rules;
};

/* Defaults: single, no max_duration, pauses deduct, no break, no split,
 * rounding none. */
void rules_config_init(struct rules_config *cfg);

/* The rounding for an entry: a rule naming both the work type and the
 * charge type wins over one naming only the work type, which wins over
 * one naming only the charge type; otherwise the default. work_type may
 * be NULL. */
const struct rules_rounding *rules_rounding_for(
    const struct rules_config *cfg, const char *work_type, int charge_type);

/* Names <-> enums: "none" "up" "nearest" "down"; "deduct" "split";
 * "single" "parallel". Unknown names give the INVALID member. */
enum rules_round_mode rules_round_mode_from_name(const char *s);
const char *rules_round_mode_name(enum rules_round_mode m);
enum rules_pauses rules_pauses_from_name(const char *s);
enum rules_concurrency rules_concurrency_from_name(const char *s);

/* Checks a rounding: increment > 0 unless NONE, nothing negative. Returns
 * 0 or -EINVAL (ERR_CONFIG). */
int rules_rounding_validate(
    const struct rules_rounding *r, struct errbuf *reterr);

/* Rounds worked seconds (> 0) by r and applies the minimum. */
int64_t rules_round(const struct rules_rounding *r, int64_t worked_s);

struct rules_interval {
	int64_t from;
	int64_t to;
};

struct rules_input {
	int64_t start; /* Unix s */
	int64_t end;   /* Unix s, > start */
	/* Pauses (and excluded suspend gaps): sorted, disjoint, inside
	 * [start, end]. May be NULL when n_pauses is 0. */
	const struct rules_interval *pauses;
	size_t n_pauses;
	/* Local midnights, sorted; those outside (start, end) are ignored.
	 * Used only when cfg->split_at_midnight. */
	const int64_t *midnights;
	size_t n_midnights;
};

struct rules_part {
	int64_t start;
	int64_t end_raw;    /* before rounding */
	int64_t end;	    /* after rounding: start + deduct + billed */
	int64_t paused_s;   /* pauses inside this part (deduct mode) */
	int64_t deduct;	    /* paused_s + this part's share of the break */
	int64_t worked_raw; /* end_raw - start - deduct */
	int64_t billed;	    /* rules_round(worked_raw) */
};

/* The most parts rules_compute can make of in: one per run between
 * pauses plus one per midnight (a size for its ret). */
size_t rules_max_parts(const struct rules_input *in);

/* Turns a run of time into entries:
 *  1. parts: [start,end] (deduct mode) or each run between pauses (split
 *     mode), cut at the local midnights inside when split_at_midnight;
 *  2. deduct: the pauses inside each part (deduct mode);
 *  3. break: when break_s > 0 and the time worked (end - start - pauses)
 *     exceeds break_after_s, the total deduction is topped up to break_s
 *     (pauses already taken count toward it). The top-up goes to the part
 *     in which worked time passes break_after_s, then to later parts, then
 *     to earlier ones, each taking at most the time worked in it;
 *  4. rounding by *rounding, each part on its own, moving its end only.
 * A part left with no time worked is dropped. Returns the number of parts
 * (>= 1) written to ret[0..max), or -EINVAL (ERR_BAD_DURATION: nothing
 * worked, or bad input) / -E2BIG (more than max parts). Does not log. */
int rules_compute(const struct rules_config *cfg,
    const struct rules_rounding *rounding, const struct rules_input *in,
    struct rules_part *ret, size_t max, struct errbuf *reterr);
