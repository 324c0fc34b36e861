/*
 * rules.c - deduction, break top-up, rounding and splitting.
 *
 * Invariants: every part satisfies end - start == deduct + billed, with
 * deduct >= 0 and billed > 0; rounding moves the end only; the input is
 * never trusted (unsorted or overlapping pauses are refused, not
 * asserted). Pure arithmetic on whole seconds: no clock, no time zone, no
 * allocation, no logging.
 */
#include "core/rules.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/errcode.h"

void
rules_config_init(struct rules_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->concurrency = RULES_CONCURRENCY_SINGLE;
	cfg->pauses = RULES_PAUSES_DEDUCT;
	cfg->rounding.mode = RULES_ROUND_NONE;
}

static bool
work_type_matches(const char *rule, const char *wt)
{
	return rule && wt && strcasecmp(rule, wt) == 0;
}

const struct rules_rounding *
rules_rounding_for(
    const struct rules_config *cfg, const char *work_type, int charge_type)
{
	const struct rules_rounding *by_wt = NULL, *by_ct = NULL;

	for (size_t i = 0; i < cfg->n_round_rules; i++) {
		const struct rules_rounding_rule *r = &cfg->round_rules[i];
		bool wt = work_type_matches(r->work_type, work_type);
		bool ct = r->charge_type >= 0 && r->charge_type == charge_type;

		if (r->work_type && r->charge_type >= 0) {
			if (wt && ct) {
				return &r->rounding;
			}
		} else if (r->work_type) {
			if (wt && !by_wt) {
				by_wt = &r->rounding;
			}
		} else if (r->charge_type >= 0) {
			if (ct && !by_ct) {
				by_ct = &r->rounding;
			}
		}
	}
	if (by_wt) {
		return by_wt;
	}
	if (by_ct) {
		return by_ct;
	}
	return &cfg->rounding;
}

static const char *const round_names[RULES_ROUND_COUNT] = {
    [RULES_ROUND_NONE] = "none",
    [RULES_ROUND_UP] = "up",
    [RULES_ROUND_NEAREST] = "nearest",
    [RULES_ROUND_DOWN] = "down",
};

enum rules_round_mode
rules_round_mode_from_name(const char *s)
{
	for (int i = 0; s && i < RULES_ROUND_COUNT; i++) {
		if (strcasecmp(round_names[i], s) == 0) {
			return (enum rules_round_mode) i;
		}
	}
	return RULES_ROUND_INVALID;
}

const char *
rules_round_mode_name(enum rules_round_mode m)
{
	return (int) m >= 0 && m < RULES_ROUND_COUNT ? round_names[m] : NULL;
}

enum rules_pauses
rules_pauses_from_name(const char *s)
{
	if (s && strcasecmp(s, "deduct") == 0) {
		return RULES_PAUSES_DEDUCT;
	}
	if (s && strcasecmp(s, "split") == 0) {
		return RULES_PAUSES_SPLIT;
	}
	return RULES_PAUSES_INVALID;
}

enum rules_concurrency
rules_concurrency_from_name(const char *s)
{
	if (s && strcasecmp(s, "single") == 0) {
		return RULES_CONCURRENCY_SINGLE;
	}
	if (s && strcasecmp(s, "parallel") == 0) {
		return RULES_CONCURRENCY_PARALLEL;
	}
	return RULES_CONCURRENCY_INVALID;
}

int
rules_rounding_validate(const struct rules_rounding *r, struct errbuf *reterr)
{
	if ((int) r->mode < 0 || r->mode >= RULES_ROUND_COUNT) {
		return errbuf_set(reterr, ERR_CONFIG, -EINVAL,
		    "rounding mode must be none, up, nearest or down");
	}
	if (r->increment_s < 0 || r->minimum_s < 0) {
		return errbuf_set(reterr, ERR_CONFIG, -EINVAL,
		    "rounding increment and minimum must not be negative");
	}
	if (r->mode != RULES_ROUND_NONE && r->increment_s == 0) {
		return errbuf_set(reterr, ERR_CONFIG, -EINVAL,
		    "rounding mode '%s' needs an increment",
		    round_names[r->mode]);
	}
	return 0;
}

int64_t
rules_round(const struct rules_rounding *r, int64_t w)
{
	int64_t inc = r->increment_s, b = w;

	if (w <= 0) {
		return w;
	}
	if (inc > 0) {
		switch (r->mode) {
		case RULES_ROUND_UP:
			b = (w + inc - 1) / inc * inc;
			break;
		case RULES_ROUND_NEAREST:
			/* the half rounds up: w % inc >= inc - inc/2 */
			b = (w + inc / 2) / inc * inc;
			break;
		case RULES_ROUND_DOWN:
			b = w / inc * inc;
			break;
		case RULES_ROUND_NONE:
		case RULES_ROUND_INVALID:
			break;
		}
		if (b == 0) {
			/* An entry cannot be empty (ConnectWise refuses
			 * timeEnd <= timeStart); never round work away. */
			b = inc;
		}
	}
	if (b < r->minimum_s) {
		b = r->minimum_s;
	}
	return b;
}

static int64_t
overlap(int64_t a0, int64_t a1, int64_t b0, int64_t b1)
{
	int64_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;

	return hi > lo ? hi - lo : 0;
}

/* Appends [from,to) cut at the midnights inside it. */
static int
add_segment(const struct rules_config *cfg, const struct rules_input *in,
    int64_t from, int64_t to, struct rules_part *ret, size_t max, size_t *n)
{
	int64_t cur = from;

	if (to <= from) {
		return 0;
	}
	for (size_t i = 0; cfg->split_at_midnight && i < in->n_midnights; i++) {
		int64_t m = in->midnights[i];

		if (m <= cur || m >= to) {
			continue;
		}
		if (*n >= max) {
			return -E2BIG;
		}
		ret[(*n)++] = (struct rules_part){.start = cur, .end_raw = m};
		cur = m;
	}
	if (*n >= max) {
		return -E2BIG;
	}
	ret[(*n)++] = (struct rules_part){.start = cur, .end_raw = to};
	return 0;
}

static int64_t
part_worked(const struct rules_part *p)
{
	return p->end_raw - p->start - p->deduct;
}

size_t
rules_max_parts(const struct rules_input *in)
{
	return in->n_pauses + in->n_midnights + 1;
}

int
rules_compute(const struct rules_config *cfg,
    const struct rules_rounding *rounding, const struct rules_input *in,
    struct rules_part *ret, size_t max, struct errbuf *reterr)
{
	int64_t paused_total = 0, worked_total = 0, prev;
	size_t n = 0, out;
	int r = 0;

	if (in->end <= in->start) {
		return errbuf_set(reterr, ERR_BAD_DURATION, -EINVAL,
		    "the end (%lld) is not after the start (%lld)",
		    (long long) in->end, (long long) in->start);
	}
	prev = in->start;
	for (size_t i = 0; i < in->n_pauses; i++) {
		const struct rules_interval *p = &in->pauses[i];

		if (p->from < prev || p->to < p->from || p->to > in->end) {
			return errbuf_set(reterr, ERR_INTERNAL, -EINVAL,
			    "pause %zu is out of order or outside the run", i);
		}
		paused_total += p->to - p->from;
		prev = p->to;
	}
	if (in->end - in->start - paused_total <= 0) {
		return errbuf_set(reterr, ERR_BAD_DURATION, -EINVAL,
		    "no time was worked (all of it paused)");
	}

	/* 1. parts */
	if (cfg->pauses == RULES_PAUSES_SPLIT) {
		prev = in->start;
		for (size_t i = 0; i < in->n_pauses && r == 0; i++) {
			r = add_segment(
			    cfg, in, prev, in->pauses[i].from, ret, max, &n);
			prev = in->pauses[i].to;
		}
		if (r == 0) {
			r = add_segment(cfg, in, prev, in->end, ret, max, &n);
		}
	} else {
		r = add_segment(cfg, in, in->start, in->end, ret, max, &n);
	}
	if (r < 0) {
		return errbuf_set(reterr, ERR_BAD_ARGUMENT, r,
		    "this time would make more than %zu entries", max);
	}

	/* 2. deduction of the pauses inside each part (deduct mode) */
	for (size_t i = 0; i < n; i++) {
		ret[i].paused_s = 0;
		if (cfg->pauses != RULES_PAUSES_SPLIT) {
			for (size_t j = 0; j < in->n_pauses; j++) {
				ret[i].paused_s +=
				    overlap(ret[i].start, ret[i].end_raw,
					in->pauses[j].from, in->pauses[j].to);
			}
		}
		ret[i].deduct = ret[i].paused_s;
		worked_total += part_worked(&ret[i]);
	}

	/* 3. the break rule: pauses already taken count toward it */
	if (cfg->break_s > 0 && worked_total > cfg->break_after_s &&
	    paused_total < cfg->break_s) {
		int64_t topup = cfg->break_s - paused_total, cum = 0;
		size_t k = n - 1;

		for (size_t i = 0; i < n; i++) {
			cum += part_worked(&ret[i]);
			if (cum > cfg->break_after_s) {
				k = i;
				break;
			}
		}
		/* k, k+1, ..., n-1, then k-1, ..., 0 */
		for (size_t step = 0; step < n && topup > 0; step++) {
			size_t i = k + step < n ? k + step : n - 1 - step;
			int64_t w = part_worked(&ret[i]);
			int64_t take = w < topup ? w : topup;

			ret[i].deduct += take;
			topup -= take;
		}
	}

	/* 4. rounding, each part on its own; drop parts with nothing worked */
	out = 0;
	for (size_t i = 0; i < n; i++) {
		struct rules_part p = ret[i];

		p.worked_raw = part_worked(&p);
		if (p.worked_raw <= 0) {
			continue;
		}
		p.billed = rules_round(rounding, p.worked_raw);
		p.end = p.start + p.deduct + p.billed;
		ret[out++] = p;
	}
	if (out == 0) {
		return errbuf_set(
		    reterr, ERR_BAD_DURATION, -EINVAL, "no time was worked");
	}
	return (int) out;
}
