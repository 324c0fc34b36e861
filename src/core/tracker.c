/*
 * tracker.c - the timer state machine.
 *
 * Job: validate timer commands and turn them into journal payloads
 * (tracker_prepare_*), and change the state from committed payloads
 * (tracker_apply), identically for live commands and replay.
 *
 * Invariants:
 *  - prepare never changes the tracker; apply changes it only after the
 *    whole payload has been checked and memory reserved, so a bad payload
 *    changes nothing;
 *  - positions only grow: a stamp never moves a timer backwards (a
 *    back-dated pause keeps the stamp at now; only the start of the pause,
 *    paused_since_ns, lies earlier, never before run_since_ns, the start
 *    of the running segment);
 *  - pause intervals are sorted and disjoint; their number is unbounded
 *    (the array grows);
 *  - durations come from BOOTTIME/MONOTONIC deltas within one boot; the
 *    wall clock only labels position 0 (and measures time across a
 *    reboot, which is flagged);
 *  - the TIMER_STOPPED payload holds the complete entries, so the outbox
 *    never recomputes them.
 * Never logs, never reads a clock or a file.
 */
#include "core/tracker.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/errcode.h"
#include "common/jsonutil.h"
#include "common/timeparse.h"
#include "core/records.h"

#define NS 1000000000LL

static int
bad_payload(struct errbuf *reterr, const char *what)
{
	return errbuf_set(
	    reterr, ERR_JOURNAL_CORRUPT, -EBADMSG, "timer record: %s", what);
}

static const struct rules_config *
rules_of(const struct tracker *t)
{
	static struct rules_config defaults;
	static bool init;

	if (t->rules) {
		return t->rules;
	}
	if (!init) {
		rules_config_init(&defaults);
		init = true;
	}
	return &defaults;
}

/* ---- lifetime and lookup ---- */

static void
timer_free(struct tracker_timer *tm)
{
	if (!tm) {
		return;
	}
	free(tm->pauses);
	entry_fini(&tm->fields);
	free(tm->summary);
	free(tm);
}

/* A copy of a record's optional "summary" into *ret (NULL when absent or
 * empty). false: not a string, or longer than TRACKER_SUMMARY_MAX. */
static bool
summary_from_json(json_object *o, char **ret)
{
	const char *s = NULL;

	*ret = NULL;
	if (!jsonutil_opt_str(o, "summary", &s)) {
		return false;
	}
	if (!s) {
		return true;
	}
	if (strlen(s) > TRACKER_SUMMARY_MAX) {
		return false;
	}
	if (s[0]) {
		*ret = strdup(s);
		return *ret != NULL;
	}
	return true;
}

static struct tracker_timer *
timer_new(void)
{
	struct tracker_timer *tm = calloc(1, sizeof(*tm));

	if (!tm) {
		return NULL;
	}
	entry_init(&tm->fields);
	tm->reboot_pos_ns = -1;
	return tm;
}

void
tracker_init(struct tracker *t)
{
	memset(t, 0, sizeof(*t));
}

void
tracker_fini(struct tracker *t)
{
	if (!t) {
		return;
	}
	for (size_t i = 0; i < t->n_timers; i++) {
		timer_free(t->timers[i]);
	}
	free(t->timers);
	t->timers = NULL;
	t->n_timers = t->cap_timers = 0;
	t->focus[0] = '\0';
}

static ssize_t
find_index(const struct tracker *t, const char *key)
{
	for (size_t i = 0; key && i < t->n_timers; i++) {
		if (strcmp(t->timers[i]->key, key) == 0) {
			return (ssize_t) i;
		}
	}
	return -1;
}

struct tracker_timer *
tracker_find(const struct tracker *t, const char *key)
{
	ssize_t i = find_index(t, key);

	return i < 0 ? NULL : t->timers[i];
}

struct tracker_timer *
tracker_focused(const struct tracker *t)
{
	return t->focus[0] ? tracker_find(t, t->focus) : NULL;
}

static int
reserve_timers(struct tracker *t, size_t extra)
{
	size_t want = t->n_timers + extra, cap;
	struct tracker_timer **n;

	if (want <= t->cap_timers) {
		return 0;
	}
	cap = t->cap_timers ? t->cap_timers * 2 : 8;
	while (cap < want) {
		cap *= 2;
	}
	n = realloc(t->timers, cap * sizeof(*n));
	if (!n) {
		return -ENOMEM;
	}
	t->timers = n;
	t->cap_timers = cap;
	return 0;
}

/* Room for extra more pauses. The array doubles (from 8), so a timer
 * paused thousands of times costs O(1) amortised per pause and never
 * fails for its count; only memory (-ENOMEM) or a size that would
 * overflow (-E2BIG, unreachable in practice) can refuse. */
static int
reserve_pauses(struct tracker_timer *tm, size_t extra)
{
	struct tracker_pause *n;
	size_t want = tm->n_pauses + extra, cap;

	if (want <= tm->cap_pauses) {
		return 0;
	}
	if (want < tm->n_pauses || want > SIZE_MAX / 2 / sizeof(*n)) {
		return -E2BIG;
	}
	cap = tm->cap_pauses ? tm->cap_pauses : 8;
	while (cap < want) {
		cap *= 2;
	}
	n = realloc(tm->pauses, cap * sizeof(*n));
	if (!n) {
		return -ENOMEM;
	}
	tm->pauses = n;
	tm->cap_pauses = cap;
	return 0;
}

/* ---- pause reasons ---- */

static const char *const reason_names[TRACKER_REASON_COUNT] = {
    [TRACKER_REASON_NONE] = NULL,
    [TRACKER_REASON_USER] = "user",
    [TRACKER_REASON_SWITCH] = "switch",
    [TRACKER_REASON_CONCURRENCY] = "concurrency",
    [TRACKER_REASON_LOCK] = "lock",
    [TRACKER_REASON_IDLE] = "idle",
    [TRACKER_REASON_SLEEP] = "sleep",
};

const char *
tracker_pause_reason_to_string(enum tracker_pause_reason r)
{
	if ((int) r < 0 || r >= TRACKER_REASON_COUNT) {
		return NULL;
	}
	return reason_names[r];
}

enum tracker_pause_reason
tracker_pause_reason_from_string(const char *s)
{
	for (int i = 0; s && i < TRACKER_REASON_COUNT; i++) {
		if (reason_names[i] && strcmp(reason_names[i], s) == 0) {
			return (enum tracker_pause_reason) i;
		}
	}
	return TRACKER_REASON_INVALID;
}

/* ---- stamps ---- */

/* st := the clock reading now, at position 0 (the caller sets pos_ns). */
static void
stamp_set_now(struct tracker_stamp *st, const struct now *now)
{
	memset(st, 0, sizeof(*st));
	st->wall_s = now->wall_utc_s;
	st->mono_ns = now->mono_ns;
	st->boot_ns = now->boot_ns;
	snprintf(st->boot_id, sizeof(st->boot_id), "%s", now->boot_id);
}

struct calc {
	struct tracker_stamp st;
	int64_t gap_ns; /* suspended while running, since the anchor */
	bool step;
	bool reboot;
};

static void
calc_stamp(
    const struct tracker_timer *tm, const struct now *now, struct calc *c)
{
	const struct tracker_stamp *a = &tm->anchor;

	memset(c, 0, sizeof(*c));
	stamp_set_now(&c->st, now);
	if (strcmp(a->boot_id, now->boot_id) == 0) {
		int64_t dboot = now->boot_ns - a->boot_ns;
		int64_t dmono = now->mono_ns - a->mono_ns;
		int64_t dwall = (now->wall_utc_s - a->wall_s) * NS;

		/* Both clocks are monotonic within a boot; clamp anyway so
		 * that a bad caller cannot make time run backwards. */
		if (dboot < 0) {
			dboot = 0;
		}
		if (dmono < 0) {
			dmono = 0;
		}
		if (dmono > dboot) {
			dmono = dboot;
		}
		c->st.pos_ns = a->pos_ns + dboot;
		if (tm->state == TRACKER_RUNNING &&
		    dboot - dmono > TRACKER_SUSPEND_TOLERANCE_NS) {
			c->gap_ns = dboot - dmono;
		}
		c->step = dwall - dboot > TRACKER_STEP_TOLERANCE_NS ||
		    dboot - dwall > TRACKER_STEP_TOLERANCE_NS;
	} else {
		/* Another boot: the monotonic stamps mean nothing; the wall
		 * clock is all there is. Flagged for review. */
		int64_t dwall = now->wall_utc_s - a->wall_s;

		c->st.pos_ns = a->pos_ns + (dwall > 0 ? dwall * NS : 0);
		c->reboot = true;
	}
}

int64_t
tracker_timer_pos_ns(const struct tracker_timer *tm, const struct now *now)
{
	struct calc c;

	calc_stamp(tm, now, &c);
	return c.st.pos_ns;
}

bool
tracker_timer_rebooted(const struct tracker_timer *tm, const struct now *now)
{
	return (tm->state == TRACKER_RUNNING &&
		   strcmp(tm->anchor.boot_id, now->boot_id) != 0) ||
	    (tm->flags & TRACKER_FLAG_REBOOT);
}

int64_t
tracker_timer_worked_ns(const struct tracker_timer *tm, const struct now *now)
{
	struct calc c;
	int64_t w;

	calc_stamp(tm, now, &c);
	w = c.st.pos_ns - c.gap_ns;
	for (size_t i = 0; i < tm->n_pauses; i++) {
		w -= tm->pauses[i].to_ns - tm->pauses[i].from_ns;
	}
	if (tm->state == TRACKER_PAUSED) {
		w -= c.st.pos_ns - tm->paused_since_ns;
	}
	return w > 0 ? w : 0;
}

static json_object *
stamp_to_json(const struct tracker_stamp *st, const struct calc *c)
{
	json_object *o = json_object_new_object();
	int r;

	if (!o) {
		return NULL;
	}
	r = jsonutil_add(o, "wall", json_object_new_int64(st->wall_s));
	if (r == 0) {
		r = jsonutil_add(
		    o, "mono_ns", json_object_new_int64(st->mono_ns));
	}
	if (r == 0) {
		r = jsonutil_add(
		    o, "boot_ns", json_object_new_int64(st->boot_ns));
	}
	if (r == 0) {
		r = jsonutil_add(
		    o, "boot_id", json_object_new_string(st->boot_id));
	}
	if (r == 0) {
		r = jsonutil_add(
		    o, "pos_ns", json_object_new_int64(st->pos_ns));
	}
	if (r == 0 && c) {
		r = jsonutil_add(o, "gap_ns", json_object_new_int64(c->gap_ns));
		if (r == 0) {
			r = jsonutil_add(
			    o, "step", json_object_new_boolean(c->step));
		}
		if (r == 0) {
			r = jsonutil_add(
			    o, "reboot", json_object_new_boolean(c->reboot));
		}
	}
	if (r < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static bool
stamp_from_json(json_object *o, struct calc *c)
{
	const char *bid;

	memset(c, 0, sizeof(*c));
	if (!json_object_is_type(o, json_type_object) ||
	    !jsonutil_get_i64(o, "wall", &c->st.wall_s) ||
	    !jsonutil_get_i64(o, "mono_ns", &c->st.mono_ns) ||
	    !jsonutil_get_i64(o, "boot_ns", &c->st.boot_ns) ||
	    !jsonutil_get_i64(o, "pos_ns", &c->st.pos_ns) ||
	    !jsonutil_get_str(o, "boot_id", &bid) ||
	    strlen(bid) >= sizeof(c->st.boot_id) || c->st.pos_ns < 0) {
		return false;
	}
	memcpy(c->st.boot_id, bid, strlen(bid) + 1);
	/* optional (absent: 0 and false, from the memset), but of the
	 * right type when present */
	if (!jsonutil_opt_i64(o, "gap_ns", &c->gap_ns) ||
	    !jsonutil_opt_bool(o, "step", &c->step) ||
	    !jsonutil_opt_bool(o, "reboot", &c->reboot)) {
		return false;
	}
	return c->gap_ns >= 0;
}

/* Checks that stamp c fits timer tm and says how many pauses it adds. */
static bool
stamp_check(
    const struct tracker_timer *tm, const struct calc *c, size_t *ret_pauses)
{
	*ret_pauses = 0;
	if (c->st.pos_ns < tm->anchor.pos_ns ||
	    c->gap_ns > c->st.pos_ns - tm->anchor.pos_ns) {
		return false;
	}
	if (c->gap_ns > 0 && tm->state == TRACKER_RUNNING) {
		*ret_pauses = 1;
	}
	return true;
}

/* Moves tm to stamp c. Pauses must have been reserved (stamp_check). */
static void
stamp_apply(struct tracker_timer *tm, const struct calc *c)
{
	if (c->gap_ns > 0 && tm->state == TRACKER_RUNNING) {
		tm->pauses[tm->n_pauses++] = (struct tracker_pause){
		    .from_ns = c->st.pos_ns - c->gap_ns,
		    .to_ns = c->st.pos_ns,
		    .kind = TRACKER_PAUSE_SUSPEND,
		};
		tm->flags |= TRACKER_FLAG_SUSPEND;
	}
	if (c->step) {
		tm->flags |= TRACKER_FLAG_CLOCK_STEP;
	}
	if (c->reboot && tm->state == TRACKER_RUNNING) {
		/* a paused timer has no time in doubt across a reboot */
		tm->flags |= TRACKER_FLAG_REBOOT;
		tm->reboot_pos_ns = tm->anchor.pos_ns;
	}
	tm->anchor = c->st;
}

/* ---- argument checks shared by the commands ---- */

static int
check_now(const struct now *now, struct errbuf *reterr)
{
	if (!now || now->boot_id[0] == '\0' || now->wall_utc_s <= 0) {
		return errbuf_set(
		    reterr, ERR_INTERNAL, -EINVAL, "no clock reading given");
	}
	return 0;
}

/* The timer a command names: target text, or the focus when NULL. */
static int
resolve_timer(const struct tracker *t, const char *target,
    struct tracker_timer **ret, struct errbuf *reterr)
{
	struct target tg;
	char key[TARGET_STR_MAX];
	int r;

	if (!target) {
		if (tracker_focused(t)) {
			*ret = tracker_focused(t);
			return 0;
		}
		if (t->n_timers == 1) {
			*ret = t->timers[0];
			return 0;
		}
		return errbuf_set(reterr, ERR_NO_SUCH_TIMER, -ENOENT,
		    t->n_timers ? "no timer has the focus; name the target"
				: "no timer runs");
	}
	r = target_parse(target, &tg, reterr);
	if (r < 0) {
		return r;
	}
	target_format(&tg, key);
	*ret = tracker_find(t, key);
	if (!*ret) {
		return errbuf_set(
		    reterr, ERR_NO_SUCH_TIMER, -ENOENT, "no timer for %s", key);
	}
	return 0;
}

static json_object *
new_payload(const char *key)
{
	json_object *o = json_object_new_object();

	if (o && jsonutil_add(o, "target", json_object_new_string(key)) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* {"target": key, "stamp": c}: what every record that moves an existing
 * timer starts with. NULL when out of memory. */
static json_object *
new_stamped_payload(const char *key, const struct calc *c)
{
	json_object *o = new_payload(key);

	if (o && jsonutil_add(o, "stamp", stamp_to_json(&c->st, c)) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The position a back-dated pause of tm starts at: back_ns before the
 * stamp's position, never before the running segment began. Suspend
 * intervals after that point are folded into the pause at apply. */
static int64_t
backdated_pos(const struct tracker_timer *tm, const struct calc *c,
    int64_t back_ns)
{
	int64_t p = c->st.pos_ns - back_ns;

	return p < tm->run_since_ns ? tm->run_since_ns : p;
}

/* Adds "pause": the running timers other than except_key that a start or
 * resume pauses (all of them with concurrency single; with only_focus, the
 * focused one), each with reason and, when back_ns > 0, the position its
 * pause begins at ("paused_since_ns", back-dated). */
static int
add_pause_others(const struct tracker *t, json_object *o,
    const char *except_key, bool only_focus, const struct now *now,
    enum tracker_pause_reason reason, int64_t back_ns)
{
	json_object *arr = json_object_new_array();
	int r = 0;

	if (!arr) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->n_timers && r == 0; i++) {
		const struct tracker_timer *tm = t->timers[i];
		json_object *p;
		struct calc c;

		if (tm->state != TRACKER_RUNNING ||
		    strcmp(tm->key, except_key) == 0 ||
		    (only_focus && strcmp(tm->key, t->focus) != 0)) {
			continue;
		}
		calc_stamp(tm, now, &c);
		p = new_stamped_payload(tm->key, &c);
		if (!p) {
			r = -ENOMEM;
			break;
		}
		r = jsonutil_add(p, "reason",
		    json_object_new_string(
			tracker_pause_reason_to_string(reason)));
		if (r == 0 && back_ns > 0 &&
		    backdated_pos(tm, &c, back_ns) < c.st.pos_ns) {
			r = jsonutil_add(p, "paused_since_ns",
			    json_object_new_int64(
				backdated_pos(tm, &c, back_ns)));
		}
		if (r == 0) {
			r = jsonutil_push(arr, p);
		} else {
			json_object_put(p);
		}
	}
	if (r < 0) {
		json_object_put(arr);
		return r;
	}
	return jsonutil_add(o, "pause", arr);
}

/* The entry template of a new timer or a logged span: target tg with
 * fields (may be NULL) merged over it, checked against ConnectWise's
 * target rules. The caller finishes tmpl whatever the result. */
static int
template_init(struct entry *tmpl, const struct target *tg,
    const struct entry *fields, struct errbuf *reterr)
{
	int r = 0;

	entry_init(tmpl);
	tmpl->target = *tg;
	if (fields) {
		r = entry_merge(tmpl, fields);
	}
	if (r == 0) {
		r = entry_validate(tmpl, false, reterr);
	}
	return r;
}

/* ---- start / resume / pause / toggle / switch ---- */

static int
build_resume(const struct tracker *t, const struct tracker_timer *tm,
    const struct entry *fields, bool only_focus_paused, const struct now *now,
    uint16_t *ret_type, json_object **ret_payload, struct errbuf *reterr)
{
	CLEANUP_JSON json_object *o = NULL;
	struct calc c;
	bool single = rules_of(t)->concurrency == RULES_CONCURRENCY_SINGLE;
	int r;

	if (tm->state == TRACKER_RUNNING) {
		return errbuf_set(reterr, ERR_TIMER_EXISTS, -EEXIST,
		    "the timer for %s already runs", tm->key);
	}
	calc_stamp(tm, now, &c);
	o = new_stamped_payload(tm->key, &c);
	if (!o) {
		return -ENOMEM;
	}
	r = add_pause_others(t, o, tm->key, !single && only_focus_paused, now,
	    only_focus_paused ? TRACKER_REASON_SWITCH
			      : TRACKER_REASON_CONCURRENCY,
	    0);
	if (r == 0 && !single && !only_focus_paused) {
		/* parallel resume pauses nothing: drop the empty list */
		json_object_object_del(o, "pause");
	}
	if (r == 0 && fields) {
		r = jsonutil_add(o, "fields", entry_fields_to_json(fields));
	}
	if (r < 0) {
		return r;
	}
	*ret_type = JOURNAL_REC_TIMER_RESUMED;
	*ret_payload = TAKE_PTR(o);
	return 0;
}

static int
build_start(const struct tracker *t, const struct tracker_start_args *a,
    bool switching, const struct now *now, uint16_t *ret_type,
    json_object **ret_payload, struct errbuf *reterr)
{
	CLEANUP_JSON json_object *o = NULL;
	struct tracker_timer *existing;
	struct tracker_stamp st;
	struct target tg;
	struct entry tmpl;
	char key[TARGET_STR_MAX];
	int64_t start;
	bool single = rules_of(t)->concurrency == RULES_CONCURRENCY_SINGLE;
	int r;

	r = check_now(now, reterr);
	if (r < 0) {
		return r;
	}
	if (!a || !a->target) {
		return errbuf_set(
		    reterr, ERR_BAD_TARGET, -EINVAL, "name a target to start");
	}
	r = target_parse(a->target, &tg, reterr);
	if (r < 0) {
		return r;
	}
	target_format(&tg, key);
	if (a->ago_s < 0) {
		return errbuf_set(reterr, ERR_BAD_DURATION, -EINVAL,
		    "--ago must be positive");
	}
	if (a->at != 0 && a->ago_s != 0) {
		return errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
		    "give --at or --ago, not both");
	}
	start = a->at != 0 ? a->at : now->wall_utc_s - a->ago_s;
	if (start > now->wall_utc_s) {
		char buf[TIMEPARSE_UTC_LEN];

		return errbuf_set(reterr, ERR_TIME_IN_FUTURE, -EINVAL,
		    "the start %s is in the future",
		    timeparse_format_utc(start, buf));
	}
	if (start <= 0) {
		return errbuf_set(
		    reterr, ERR_BAD_TIME, -EINVAL, "the start is out of range");
	}
	/* the template must already satisfy ConnectWise's target rules */
	r = template_init(&tmpl, &tg, a->fields, reterr);
	entry_fini(&tmpl);
	if (r < 0) {
		return r;
	}

	existing = tracker_find(t, key);
	if (existing) {
		if (a->at != 0 || a->ago_s != 0) {
			return errbuf_set(reterr, ERR_TIMER_EXISTS, -EEXIST,
			    "%s already has a timer; use adjust --start", key);
		}
		return build_resume(t, existing, a->fields, switching, now,
		    ret_type, ret_payload, reterr);
	}
	if (t->n_timers >= TRACKER_MAX_TIMERS) {
		return errbuf_set(reterr, ERR_BAD_ARGUMENT, -E2BIG,
		    "too many timers (%d)", TRACKER_MAX_TIMERS);
	}
	stamp_set_now(&st, now);
	st.pos_ns = (now->wall_utc_s - start) * NS;

	o = new_payload(key);
	if (!o) {
		return -ENOMEM;
	}
	r = jsonutil_add(o, "start", json_object_new_int64(start));
	if (r == 0) {
		r = jsonutil_add(o, "stamp", stamp_to_json(&st, NULL));
	}
	if (r == 0) {
		struct entry f;

		entry_init(&f);
		if (a->fields) {
			r = entry_merge(&f, a->fields);
		}
		if (r == 0) {
			r = jsonutil_add(o, "fields", entry_fields_to_json(&f));
		}
		entry_fini(&f);
	}
	if (r == 0 && a->summary && a->summary[0]) {
		size_t len = strlen(a->summary);

		/* cut a long summary at a character boundary (never inside
		 * a UTF-8 sequence), so apply always accepts it */
		if (len > TRACKER_SUMMARY_MAX) {
			len = TRACKER_SUMMARY_MAX;
			while (len > 0 &&
			    ((unsigned char) a->summary[len] & 0xC0) == 0x80) {
				len--;
			}
		}
		r = jsonutil_add(o, "summary",
		    json_object_new_string_len(a->summary, (int) len));
	}
	if (r == 0 && (single || switching)) {
		r = add_pause_others(t, o, key, !single, now,
		    switching ? TRACKER_REASON_SWITCH
			      : TRACKER_REASON_CONCURRENCY,
		    0);
	}
	if (r < 0) {
		return r;
	}
	*ret_type = JOURNAL_REC_TIMER_STARTED;
	*ret_payload = TAKE_PTR(o);
	return 0;
}

int
tracker_prepare_start(const struct tracker *t,
    const struct tracker_start_args *a, const struct now *now,
    uint16_t *ret_type, json_object **ret_payload, struct errbuf *reterr)
{
	return build_start(t, a, false, now, ret_type, ret_payload, reterr);
}

int
tracker_prepare_switch(const struct tracker *t,
    const struct tracker_start_args *a, const struct now *now,
    uint16_t *ret_type, json_object **ret_payload, struct errbuf *reterr)
{
	return build_start(t, a, true, now, ret_type, ret_payload, reterr);
}

int
tracker_prepare_pause(const struct tracker *t, const char *target,
    const struct now *now, uint16_t *ret_type, json_object **ret_payload,
    struct errbuf *reterr)
{
	CLEANUP_JSON json_object *o = NULL;
	struct tracker_timer *tm = NULL;
	struct calc c;
	int r;

	r = check_now(now, reterr);
	if (r == 0) {
		r = resolve_timer(t, target, &tm, reterr);
	}
	if (r < 0) {
		return r;
	}
	if (tm->state == TRACKER_PAUSED) {
		return errbuf_set(reterr, ERR_BAD_ARGUMENT, -EALREADY,
		    "the timer for %s is already paused", tm->key);
	}
	calc_stamp(tm, now, &c);
	o = new_stamped_payload(tm->key, &c);
	if (!o) {
		return -ENOMEM;
	}
	r = jsonutil_add(o, "reason",
	    json_object_new_string(
		tracker_pause_reason_to_string(TRACKER_REASON_USER)));
	if (r < 0) {
		return r;
	}
	*ret_type = JOURNAL_REC_TIMER_PAUSED;
	*ret_payload = TAKE_PTR(o);
	return 0;
}

int
tracker_prepare_pause_all(const struct tracker *t,
    enum tracker_pause_reason reason, int64_t at_s, const struct now *now,
    uint16_t *ret_type, json_object **ret_payload, struct errbuf *reterr)
{
	CLEANUP_JSON json_object *o = NULL;
	json_object *arr;
	int64_t back_ns = 0;
	int r;

	*ret_payload = NULL;
	r = check_now(now, reterr);
	if (r < 0) {
		return r;
	}
	if (!tracker_pause_reason_to_string(reason)) {
		return errbuf_set(
		    reterr, ERR_INTERNAL, -EINVAL, "no reason for the pause");
	}
	if (at_s > now->wall_utc_s) {
		return errbuf_set(reterr, ERR_TIME_IN_FUTURE, -EINVAL,
		    "a pause cannot start in the future");
	}
	if (at_s < 0) {
		return errbuf_set(
		    reterr, ERR_BAD_TIME, -EINVAL, "the pause is out of range");
	}
	/* Back-dated by a whole number of seconds of BOOTTIME from now:
	 * the stamp stays the exact reading of now (so the monotonic
	 * bookkeeping is untouched); only the pause begins earlier. */
	if (at_s > 0) {
		back_ns = (now->wall_utc_s - at_s) * NS;
	}
	o = json_object_new_object();
	if (!o) {
		return -ENOMEM;
	}
	r = add_pause_others(t, o, "", false, now, reason, back_ns);
	if (r < 0) {
		return r;
	}
	arr = jsonutil_get_array(o, "pause");
	if (!arr || json_object_array_length(arr) == 0) {
		return 0; /* nothing runs */
	}
	*ret_type = JOURNAL_REC_TIMER_PAUSED;
	*ret_payload = TAKE_PTR(o);
	return 0;
}

int
tracker_prepare_resume(const struct tracker *t, const char *target,
    const struct now *now, uint16_t *ret_type, json_object **ret_payload,
    struct errbuf *reterr)
{
	struct tracker_timer *tm = NULL;
	int r;

	r = check_now(now, reterr);
	if (r == 0) {
		r = resolve_timer(t, target, &tm, reterr);
	}
	if (r < 0) {
		return r;
	}
	return build_resume(
	    t, tm, NULL, false, now, ret_type, ret_payload, reterr);
}

int
tracker_prepare_toggle(const struct tracker *t,
    const struct tracker_start_args *a, const struct now *now,
    uint16_t *ret_type, json_object **ret_payload, struct errbuf *reterr)
{
	struct tracker_timer *tm = NULL;
	struct target tg;
	char key[TARGET_STR_MAX];
	int r;

	r = check_now(now, reterr);
	if (r < 0) {
		return r;
	}
	if (!a || !a->target) {
		tm = tracker_focused(t);
		if (!tm) {
			return errbuf_set(reterr, ERR_NO_SUCH_TIMER, -ENOENT,
			    "no timer has the focus; name a target");
		}
	} else {
		r = target_parse(a->target, &tg, reterr);
		if (r < 0) {
			return r;
		}
		tm = tracker_find(t, target_format(&tg, key));
		if (!tm) {
			return build_start(
			    t, a, false, now, ret_type, ret_payload, reterr);
		}
	}
	if (tm->state == TRACKER_RUNNING) {
		return tracker_prepare_pause(
		    t, tm->key, now, ret_type, ret_payload, reterr);
	}
	return build_resume(
	    t, tm, NULL, false, now, ret_type, ret_payload, reterr);
}

/* ---- stop, auto-stop, log: the entries ---- */

enum stop_reason { STOP_USER, STOP_MAX_DURATION, STOP_AT_HEARTBEAT, STOP_LOG };

static const char *const stop_reason_names[] = {
    [STOP_USER] = "user",
    [STOP_MAX_DURATION] = "max-duration",
    [STOP_AT_HEARTBEAT] = "at-heartbeat",
    [STOP_LOG] = "log",
};

static int64_t
ns_to_s(int64_t ns)
{
	return (ns + NS / 2) / NS;
}

static void
format_dur(int64_t s, char *buf, size_t len)
{
	if (s >= 3600) {
		snprintf(buf, len, "%lldh %02lldm", (long long) (s / 3600),
		    (long long) (s / 60 % 60));
	} else {
		snprintf(buf, len, "%lldm %02llds", (long long) (s / 60),
		    (long long) (s % 60));
	}
}

static json_object *
flags_to_json(unsigned flags)
{
	json_object *a = json_object_new_array();
	static const struct {
		unsigned f;
		const char *name;
	} names[] = {
	    {TRACKER_FLAG_CLOCK_STEP, "clock-step"},
	    {TRACKER_FLAG_SUSPEND, "suspend"},
	    {TRACKER_FLAG_REBOOT, "reboot"},
	    {TRACKER_FLAG_ADJUSTED, "adjusted"},
	};

	for (size_t i = 0; a && i < ARRAY_SIZE(names); i++) {
		if ((flags & names[i].f) &&
		    jsonutil_push(a, json_object_new_string(names[i].name)) <
			0) {
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

/* Local midnights inside (start, end) from the injected time zone, in a
 * new array *ret (NULL when there are none). Returns how many, or
 * -ENOMEM. */
static ssize_t
collect_midnights(const struct rules_config *cfg, const struct now *now,
    int64_t start, int64_t end, int64_t **ret)
{
	size_t n = 0, cap = 0;
	int64_t m;

	*ret = NULL;
	if (!cfg->split_at_midnight || !now->next_midnight) {
		return 0;
	}
	m = now->next_midnight(start, now->userdata);
	while (m > start && m < end) {
		int64_t next;

		if (n == cap) {
			int64_t *p;

			cap = cap ? cap * 2 : 8;
			p = reallocarray(*ret, cap, sizeof(**ret));
			if (!p) {
				free(*ret);
				*ret = NULL;
				return -ENOMEM;
			}
			*ret = p;
		}
		(*ret)[n++] = m;
		next = now->next_midnight(m, now->userdata);
		if (next <= m) {
			break;
		}
		m = next;
	}
	return (ssize_t) n;
}

/* A named integer member, for the figures of the entries records. */
struct i64_member {
	const char *key;
	int64_t v;
};

/* Adds the members to o in the order given (the records' key order). */
static int
add_i64_members(json_object *o, const struct i64_member *m, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		r = jsonutil_add(o, m[i].key, json_object_new_int64(m[i].v));
	}
	return r;
}

struct span {
	int64_t start, end; /* labels, s */
	struct rules_interval *pauses;
	size_t n_pauses;
	int64_t paused_s, suspended_s;
};

/* Builds entries for the span into array "entries" of o; raw figures go
 * beside them. */
static int
build_entries(const struct tracker *t, const struct target *tg,
    const struct entry *tmpl, const struct span *sp, const char *note,
    const struct now *now, json_object *o, struct errbuf *reterr)
{
	const struct rules_config *cfg = rules_of(t);
	const struct rules_rounding *ro;
	CLEANUP_FREE struct rules_part *parts = NULL;
	struct rules_input in = {0};
	CLEANUP_FREE int64_t *mids = NULL;
	json_object *arr, *raw;
	const char *wt = tmpl->refs[ENTRY_REF_WORK_TYPE].name;
	ssize_t nm;
	size_t max;
	int n, r;

	if (!now->random) {
		return errbuf_set(reterr, ERR_INTERNAL, -EINVAL,
		    "no random source for entry UUIDs");
	}
	in.start = sp->start;
	in.end = sp->end;
	in.pauses = sp->pauses;
	in.n_pauses = sp->n_pauses;
	nm = collect_midnights(cfg, now, sp->start, sp->end, &mids);
	if (nm < 0) {
		return (int) nm;
	}
	in.midnights = mids;
	in.n_midnights = (size_t) nm;
	/* no cap of our own: every run between pauses is an entry; what
	 * bounds a stop is the journal's record size (JOURNAL_RECORD_MAX) */
	max = rules_max_parts(&in);
	parts = calloc(max, sizeof(*parts));
	if (!parts) {
		return -ENOMEM;
	}
	ro = rules_rounding_for(cfg, wt, (int) tg->type);
	n = rules_compute(cfg, ro, &in, parts, max, reterr);
	if (n < 0) {
		return n;
	}
	raw = json_object_new_object();
	if (!raw) {
		return -ENOMEM;
	}
	r = jsonutil_add(o, "raw", raw);
	if (r == 0) {
		const struct i64_member figures[] = {
		    {"start", sp->start},
		    {"end", sp->end},
		    {"paused_s", sp->paused_s},
		    {"suspended_s", sp->suspended_s},
		    {"worked_s", sp->end - sp->start - sp->paused_s},
		};

		r = add_i64_members(raw, figures, ARRAY_SIZE(figures));
	}
	if (r < 0) {
		return r;
	}
	arr = json_object_new_array();
	r = jsonutil_add(o, "entries", arr);
	for (int i = 0; i < n && r == 0; i++) {
		const struct rules_part *p = &parts[i];
		json_object *je = NULL, *body = NULL;
		struct entry e;
		uint8_t rnd[16];
		char hours[32];

		entry_init(&e);
		r = entry_copy(&e, tmpl);
		if (r == 0 && note) {
			r = entry_append_string(&e.internal_notes, "\n", note);
		}
		if (r < 0) {
			entry_fini(&e);
			break;
		}
		e.target = *tg;
		e.time_start = p->start;
		e.time_end = p->end;
		e.deduct_s = p->deduct;
		now->random(rnd, sizeof(rnd), now->userdata);
		entry_uuid_from_bytes(rnd, e.uuid);
		r = entry_to_cw_json(&e, &body, reterr);
		if (r == 0) {
			je = json_object_new_object();
			r = jsonutil_add(
			    je, "uuid", json_object_new_string(e.uuid));
		}
		entry_fini(&e);
		if (r == 0) {
			const struct i64_member figures[] = {
			    {"start_raw", p->start},
			    {"end_raw", p->end_raw},
			    {"paused_s", p->paused_s},
			    {"worked_raw_s", p->worked_raw},
			    {"start", p->start},
			    {"end", p->end},
			    {"deduct_s", p->deduct},
			    {"billed_s", p->billed},
			};

			r = add_i64_members(je, figures, ARRAY_SIZE(figures));
		}
		if (r == 0) {
			r = jsonutil_add(je, "hours",
			    json_object_new_string(
				entry_format_hours(p->billed, hours)));
		}
		if (r == 0) {
			r = jsonutil_add(je, "body", TAKE_PTR(body));
		}
		if (r == 0) {
			r = jsonutil_push(arr, TAKE_PTR(je));
		}
		json_object_put(je);
		json_object_put(body);
	}
	return r;
}

/* The stop part of one timer, as an object of the "timers" array. */
static int
build_stop_one(const struct tracker *t, const struct tracker_timer *tm,
    enum stop_reason reason, int64_t at, const struct entry *fields,
    const struct now *now, json_object **ret, struct errbuf *reterr)
{
	CLEANUP_JSON json_object *o = NULL;
	CLEANUP_FREE struct tracker_pause *ps = NULL;
	CLEANUP_FREE struct rules_interval *iv = NULL;
	const struct rules_config *cfg = rules_of(t);
	struct entry tmpl;
	struct span sp = {0};
	struct calc c;
	size_t n = 0, ni = 0;
	int64_t end_pos, cap;
	char note[512] = "";
	unsigned flags;
	int r;

	calc_stamp(tm, now, &c);
	ps = calloc(tm->n_pauses + 1, sizeof(*ps));
	iv = calloc(tm->n_pauses + 1, sizeof(*iv));
	if (!ps || !iv) {
		return -ENOMEM;
	}
	if (tm->n_pauses > 0) {
		memcpy(ps, tm->pauses, tm->n_pauses * sizeof(*ps));
	}
	n = tm->n_pauses;
	if (tm->state == TRACKER_RUNNING) {
		end_pos = c.st.pos_ns;
		if (c.gap_ns > 0) {
			ps[n++] = (struct tracker_pause){
			    end_pos - c.gap_ns, end_pos, TRACKER_PAUSE_SUSPEND};
		}
	} else {
		end_pos = tm->paused_since_ns;
	}
	flags = tm->flags | (c.step ? TRACKER_FLAG_CLOCK_STEP : 0) |
	    (c.reboot && tm->state == TRACKER_RUNNING ? TRACKER_FLAG_REBOOT
						      : 0) |
	    (c.gap_ns > 0 && tm->state == TRACKER_RUNNING ? TRACKER_FLAG_SUSPEND
							  : 0);

	switch (reason) {
	case STOP_AT_HEARTBEAT: {
		int64_t hb = c.reboot ? tm->anchor.pos_ns : tm->reboot_pos_ns;

		if (!(flags & TRACKER_FLAG_REBOOT) || hb < 0) {
			return errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
			    "the timer for %s did not run across a reboot; "
			    "--at-heartbeat does not apply",
			    tm->key);
		}
		if (hb < end_pos) {
			end_pos = hb;
		}
		snprintf(note, sizeof(note),
		    "cwtimed: ended at the last heartbeat before a reboot");
		break;
	}
	case STOP_MAX_DURATION:
		cap = cfg->max_duration_s * NS;
		if (cfg->max_duration_s > 0 && cap < end_pos) {
			char d[32];

			end_pos = cap;
			format_dur(cfg->max_duration_s, d, sizeof(d));
			snprintf(note, sizeof(note),
			    "cwtimed: stopped automatically at start + "
			    "max_duration (%s); the timer had been left "
			    "running",
			    d);
		}
		break;
	case STOP_USER:
	case STOP_LOG:
		if (at != 0) {
			int64_t want = (at - tm->start_wall) * NS;

			if (want <= 0) {
				return errbuf_set(reterr, ERR_BAD_TIME, -EINVAL,
				    "--at is before the timer's start");
			}
			/* The caller refuses an --at in the future. A later
			 * --at still lands past end_pos when the timer is
			 * paused (its time ends where the pause began) or by
			 * a fraction of a second when the start fell inside
			 * a second (start_wall is whole seconds): both end
			 * at the timer's own end, as the stop with no --at
			 * does. */
			if (want < end_pos) {
				end_pos = want;
			}
		}
		break;
	}

	/* Cut the pauses at the end; a pause that reaches the end just
	 * ends the entry earlier. */
	sp.start = tm->start_wall;
	for (size_t i = 0; i < n; i++) {
		int64_t from = ps[i].from_ns, to = ps[i].to_ns;

		if (to > end_pos) {
			to = end_pos;
		}
		if (from >= to) {
			continue;
		}
		iv[ni].from = tm->start_wall + ns_to_s(from);
		iv[ni].to = tm->start_wall + ns_to_s(to);
		if (ps[i].kind == TRACKER_PAUSE_SUSPEND) {
			sp.suspended_s += iv[ni].to - iv[ni].from;
		}
		/* merge touching intervals (rounding to seconds can make a
		 * suspend and a pause meet) */
		if (ni > 0 && iv[ni].from <= iv[ni - 1].to) {
			if (iv[ni].to > iv[ni - 1].to) {
				iv[ni - 1].to = iv[ni].to;
			}
		} else if (iv[ni].to > iv[ni].from) {
			ni++;
		}
	}
	sp.end = tm->start_wall + ns_to_s(end_pos);
	while (ni > 0 && iv[ni - 1].to >= sp.end) {
		sp.end = iv[ni - 1].from;
		ni--;
	}
	sp.pauses = iv;
	sp.n_pauses = ni;
	for (size_t i = 0; i < ni; i++) {
		sp.paused_s += iv[i].to - iv[i].from;
	}
	if (sp.end <= sp.start) {
		return errbuf_set(reterr, ERR_BAD_DURATION, -EINVAL,
		    "the timer for %s has no time recorded; cancel it instead",
		    tm->key);
	}

	/* internalNotes: say what was unusual about this time */
	if (flags & TRACKER_FLAG_SUSPEND) {
		char d[32];
		size_t l = strlen(note);

		format_dur(sp.suspended_s, d, sizeof(d));
		snprintf(note + l, sizeof(note) - l,
		    "%scwtimed: %s of suspend excluded", l ? "\n" : "", d);
	}
	if (flags & TRACKER_FLAG_CLOCK_STEP) {
		size_t l = strlen(note);

		snprintf(note + l, sizeof(note) - l,
		    "%scwtimed: the wall clock stepped while the timer ran; "
		    "the duration follows the monotonic clock",
		    l ? "\n" : "");
	}
	if ((flags & TRACKER_FLAG_REBOOT) && reason != STOP_AT_HEARTBEAT) {
		size_t l = strlen(note);

		snprintf(note + l, sizeof(note) - l,
		    "%scwtimed: the timer ran across a reboot; please review",
		    l ? "\n" : "");
	}

	entry_init(&tmpl);
	r = entry_copy(&tmpl, &tm->fields);
	if (r == 0 && fields) {
		r = entry_merge(&tmpl, fields);
	}
	if (r < 0) {
		entry_fini(&tmpl);
		return r;
	}
	o = new_stamped_payload(tm->key, &c);
	r = o ? jsonutil_add(o, "flags", flags_to_json(flags)) : -ENOMEM;
	if (r == 0) {
		r = build_entries(t, &tm->target, &tmpl, &sp,
		    note[0] ? note : NULL, now, o, reterr);
	}
	entry_fini(&tmpl);
	if (r < 0) {
		return r;
	}
	*ret = TAKE_PTR(o);
	return 0;
}

static int
build_stop(const struct tracker *t, struct tracker_timer *const *list, size_t n,
    enum stop_reason reason, int64_t at, const struct entry *fields,
    const struct now *now, uint16_t *ret_type, json_object **ret_payload,
    struct errbuf *reterr)
{
	CLEANUP_JSON json_object *o = json_object_new_object();
	json_object *arr = json_object_new_array();
	int r;

	if (!o || !arr) {
		json_object_put(arr);
		return -ENOMEM;
	}
	r = jsonutil_add(
	    o, "reason", json_object_new_string(stop_reason_names[reason]));
	if (r == 0) {
		r = jsonutil_add(o, "timers", arr);
	} else {
		json_object_put(arr);
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		json_object *one = NULL;

		r = build_stop_one(
		    t, list[i], reason, at, fields, now, &one, reterr);
		if (r == 0) {
			r = jsonutil_push(arr, one);
		}
	}
	if (r < 0) {
		return r;
	}
	*ret_type = JOURNAL_REC_TIMER_STOPPED;
	*ret_payload = TAKE_PTR(o);
	return 0;
}

int
tracker_prepare_stop(const struct tracker *t, const struct tracker_stop_args *a,
    const struct now *now, uint16_t *ret_type, json_object **ret_payload,
    struct errbuf *reterr)
{
	struct tracker_timer *tm = NULL;
	enum stop_reason reason =
	    a->at_heartbeat ? STOP_AT_HEARTBEAT : STOP_USER;
	int r;

	r = check_now(now, reterr);
	if (r < 0) {
		return r;
	}
	if (a->at != 0 && a->at > now->wall_utc_s) {
		return errbuf_set(reterr, ERR_TIME_IN_FUTURE, -EINVAL,
		    "--at is in the future");
	}
	if (a->all) {
		if (a->target) {
			return errbuf_set(reterr, ERR_USAGE, -EINVAL,
			    "give a target or --all, not both");
		}
		if (t->n_timers == 0) {
			return errbuf_set(reterr, ERR_NO_SUCH_TIMER, -ENOENT,
			    "no timer runs");
		}
		return build_stop(t, t->timers, t->n_timers, reason, a->at,
		    a->fields, now, ret_type, ret_payload, reterr);
	}
	r = resolve_timer(t, a->target, &tm, reterr);
	if (r < 0) {
		return r;
	}
	return build_stop(t, &tm, 1, reason, a->at, a->fields, now, ret_type,
	    ret_payload, reterr);
}

int64_t
tracker_next_autostop_ns(const struct tracker *t, const struct now *now)
{
	const struct rules_config *cfg = rules_of(t);
	int64_t best = -1;

	if (cfg->max_duration_s <= 0) {
		return -1;
	}
	for (size_t i = 0; i < t->n_timers; i++) {
		int64_t d = cfg->max_duration_s * NS -
		    tracker_timer_pos_ns(t->timers[i], now);

		if (d < 0) {
			d = 0;
		}
		if (best < 0 || d < best) {
			best = d;
		}
	}
	return best;
}

int
tracker_prepare_autostop(const struct tracker *t, const struct now *now,
    uint16_t *ret_type, json_object **ret_payload, struct errbuf *reterr)
{
	CLEANUP_FREE struct tracker_timer **due = NULL;
	const struct rules_config *cfg = rules_of(t);
	size_t n = 0;
	int r;

	*ret_payload = NULL;
	r = check_now(now, reterr);
	if (r < 0 || cfg->max_duration_s <= 0 || t->n_timers == 0) {
		return r;
	}
	due = calloc(t->n_timers, sizeof(*due));
	if (!due) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->n_timers; i++) {
		if (tracker_timer_pos_ns(t->timers[i], now) >=
		    cfg->max_duration_s * NS) {
			due[n++] = t->timers[i];
		}
	}
	if (n == 0) {
		return 0;
	}
	return build_stop(t, due, n, STOP_MAX_DURATION, 0, NULL, now, ret_type,
	    ret_payload, reterr);
}

int
tracker_prepare_log(const struct tracker *t, const struct tracker_log_args *a,
    const struct now *now, uint16_t *ret_type, json_object **ret_payload,
    struct errbuf *reterr)
{
	CLEANUP_JSON json_object *o = NULL;
	struct target tg;
	struct entry tmpl;
	struct span sp = {0};
	char key[TARGET_STR_MAX];
	int r;

	r = check_now(now, reterr);
	if (r < 0) {
		return r;
	}
	if (!a->target) {
		return errbuf_set(reterr, ERR_BAD_TARGET, -EINVAL,
		    "name a target to log time on");
	}
	r = target_parse(a->target, &tg, reterr);
	if (r < 0) {
		return r;
	}
	if (a->duration_s <= 0) {
		return errbuf_set(reterr, ERR_BAD_DURATION, -EINVAL,
		    "the duration must be more than zero");
	}
	if (a->duration_s > 7 * 86400) {
		return errbuf_set(reterr, ERR_BAD_DURATION, -EINVAL,
		    "the duration is longer than a week");
	}
	sp.start = a->start != 0 ? a->start : now->wall_utc_s - a->duration_s;
	sp.end = sp.start + a->duration_s;
	if (sp.end > now->wall_utc_s) {
		return errbuf_set(reterr, ERR_TIME_IN_FUTURE, -EINVAL,
		    "the logged time would end in the future");
	}
	r = template_init(&tmpl, &tg, a->fields, reterr);
	if (r == 0) {
		o = new_payload(target_format(&tg, key));
		r = o ? 0 : -ENOMEM;
	}
	if (r == 0) {
		r = build_entries(t, &tg, &tmpl, &sp, NULL, now, o, reterr);
	}
	entry_fini(&tmpl);
	if (r < 0) {
		return r;
	}
	*ret_type = JOURNAL_REC_ENTRY_QUEUED;
	*ret_payload = TAKE_PTR(o);
	return 0;
}

/* ---- cancel, set, note, adjust, heartbeat ---- */

int
tracker_prepare_cancel(const struct tracker *t, const char *target,
    bool confirm, const struct now *now, uint16_t *ret_type,
    json_object **ret_payload, struct errbuf *reterr)
{
	CLEANUP_JSON json_object *o = NULL;
	struct tracker_timer *tm = NULL;
	int64_t worked;
	struct calc c;
	int r;

	r = check_now(now, reterr);
	if (r == 0) {
		r = resolve_timer(t, target, &tm, reterr);
	}
	if (r < 0) {
		return r;
	}
	worked = tracker_timer_worked_ns(tm, now);
	if (!confirm && worked > TRACKER_CANCEL_CONFIRM_S * NS) {
		char d[32];

		format_dur(worked / NS, d, sizeof(d));
		return errbuf_set(reterr, ERR_CONFIRM_NEEDED, -EPERM,
		    "cancelling %s discards %s of recorded time; repeat with "
		    "--yes",
		    tm->key, d);
	}
	calc_stamp(tm, now, &c);
	o = new_stamped_payload(tm->key, &c);
	if (!o) {
		return -ENOMEM;
	}
	r = jsonutil_add(o, "worked_s", json_object_new_int64(worked / NS));
	if (r < 0) {
		return r;
	}
	*ret_type = JOURNAL_REC_TIMER_CANCELLED;
	*ret_payload = TAKE_PTR(o);
	return 0;
}

int
tracker_prepare_set(const struct tracker *t, const char *target,
    const struct entry *fields, const struct now *now, uint16_t *ret_type,
    json_object **ret_payload, struct errbuf *reterr)
{
	CLEANUP_JSON json_object *o = NULL;
	struct tracker_timer *tm = NULL;
	struct entry merged;
	int r;

	r = resolve_timer(t, target, &tm, reterr);
	if (r < 0) {
		return r;
	}
	if (!fields) {
		return errbuf_set(reterr, ERR_USAGE, -EINVAL, "nothing to set");
	}
	entry_init(&merged);
	r = entry_copy(&merged, &tm->fields);
	if (r == 0) {
		r = entry_merge(&merged, fields);
	}
	if (r == 0) {
		merged.target = tm->target;
		r = entry_validate(&merged, false, reterr);
	}
	entry_fini(&merged);
	if (r < 0) {
		return r;
	}
	o = new_payload(tm->key);
	if (!o) {
		return -ENOMEM;
	}
	r = jsonutil_add(o, "fields", entry_fields_to_json(fields));
	if (r < 0) {
		return r;
	}
	*ret_type = JOURNAL_REC_TIMER_SET;
	*ret_payload = TAKE_PTR(o);
	return 0;
}

int
tracker_prepare_note(const struct tracker *t, const char *target,
    const char *text, const struct now *now, uint16_t *ret_type,
    json_object **ret_payload, struct errbuf *reterr)
{
	CLEANUP_JSON json_object *o = NULL;
	struct tracker_timer *tm = NULL;
	int r;

	r = resolve_timer(t, target, &tm, reterr);
	if (r < 0) {
		return r;
	}
	if (!text || !*text) {
		return errbuf_set(reterr, ERR_USAGE, -EINVAL, "empty note");
	}
	if (strlen(text) > 8000 ||
	    (tm->fields.notes &&
		strlen(tm->fields.notes) + strlen(text) > 32000)) {
		return errbuf_set(reterr, ERR_BAD_ARGUMENT, -E2BIG,
		    "the notes would be too long");
	}
	o = new_payload(tm->key);
	if (!o) {
		return -ENOMEM;
	}
	r = jsonutil_add(o, "text", json_object_new_string(text));
	if (r < 0) {
		return r;
	}
	*ret_type = JOURNAL_REC_TIMER_NOTES;
	*ret_payload = TAKE_PTR(o);
	return 0;
}

/* Smallest position of a timer (what a later start must stay before). */
static int64_t
first_pos(const struct tracker_timer *tm)
{
	int64_t p = tm->anchor.pos_ns;

	if (tm->n_pauses > 0 && tm->pauses[0].from_ns < p) {
		p = tm->pauses[0].from_ns;
	}
	if (tm->state == TRACKER_PAUSED && tm->paused_since_ns < p) {
		p = tm->paused_since_ns;
	}
	if (tm->reboot_pos_ns >= 0 && tm->reboot_pos_ns < p) {
		p = tm->reboot_pos_ns;
	}
	return p;
}

int
tracker_prepare_adjust(const struct tracker *t, const char *target,
    int64_t new_start, const struct now *now, uint16_t *ret_type,
    json_object **ret_payload, struct errbuf *reterr)
{
	CLEANUP_JSON json_object *o = NULL;
	struct tracker_timer *tm = NULL;
	int64_t delta_ns;
	int r;

	r = check_now(now, reterr);
	if (r == 0) {
		r = resolve_timer(t, target, &tm, reterr);
	}
	if (r < 0) {
		return r;
	}
	if (new_start > now->wall_utc_s) {
		return errbuf_set(reterr, ERR_TIME_IN_FUTURE, -EINVAL,
		    "the new start is in the future");
	}
	if (new_start <= 0) {
		return errbuf_set(reterr, ERR_BAD_TIME, -EINVAL,
		    "the new start is out of range");
	}
	delta_ns = (tm->start_wall - new_start) * NS;
	if (first_pos(tm) + delta_ns <= 0 ||
	    tracker_timer_pos_ns(tm, now) + delta_ns <= 0) {
		return errbuf_set(reterr, ERR_BAD_TIME, -EINVAL,
		    "the new start must be before the first pause and before "
		    "now");
	}
	o = new_payload(tm->key);
	if (!o) {
		return -ENOMEM;
	}
	r = jsonutil_add(o, "start", json_object_new_int64(new_start));
	if (r == 0) {
		r = jsonutil_add(
		    o, "old_start", json_object_new_int64(tm->start_wall));
	}
	if (r < 0) {
		return r;
	}
	*ret_type = JOURNAL_REC_TIMER_ADJUSTED;
	*ret_payload = TAKE_PTR(o);
	return 0;
}

int
tracker_prepare_heartbeat(const struct tracker *t, const struct now *now,
    uint16_t *ret_type, json_object **ret_payload, struct errbuf *reterr)
{
	CLEANUP_JSON json_object *o = NULL;
	json_object *arr;
	size_t n = 0;
	int r;

	*ret_payload = NULL;
	r = check_now(now, reterr);
	if (r < 0) {
		return r;
	}
	o = json_object_new_object();
	arr = json_object_new_array();
	r = jsonutil_add(o, "timers", arr);
	for (size_t i = 0; i < t->n_timers && r == 0; i++) {
		const struct tracker_timer *tm = t->timers[i];
		json_object *p;
		struct calc c;

		if (tm->state != TRACKER_RUNNING) {
			continue;
		}
		calc_stamp(tm, now, &c);
		p = new_stamped_payload(tm->key, &c);
		r = p ? jsonutil_push(arr, p) : -ENOMEM;
		n++;
	}
	if (r < 0) {
		return r;
	}
	if (n == 0) {
		return 0;
	}
	*ret_type = JOURNAL_REC_HEARTBEAT;
	*ret_payload = TAKE_PTR(o);
	return 0;
}

/* ---- apply ---- */

/* A stamp for an existing timer from an object {"target","stamp"}. */
struct stamp_ref {
	struct tracker_timer *tm;
	struct calc c;
	size_t add_pauses;
	/* pauses only: why, and where the pause begins (the stamp's
	 * position unless back-dated) */
	enum tracker_pause_reason reason;
	int64_t since_ns;
};

static int
parse_stamp_ref(struct tracker *t, json_object *o, struct stamp_ref *ret,
    struct errbuf *reterr)
{
	const char *key;
	json_object *st;

	if (!json_object_is_type(o, json_type_object) ||
	    !jsonutil_get_str(o, "target", &key)) {
		return bad_payload(reterr, "no target");
	}
	ret->tm = tracker_find(t, key);
	if (!ret->tm) {
		return errbuf_set(reterr, ERR_JOURNAL_CORRUPT, -EBADMSG,
		    "timer record: no timer for %s", key);
	}
	if (!json_object_object_get_ex(o, "stamp", &st) ||
	    !stamp_from_json(st, &ret->c) ||
	    !stamp_check(ret->tm, &ret->c, &ret->add_pauses)) {
		return errbuf_set(reterr, ERR_JOURNAL_CORRUPT, -EBADMSG,
		    "timer record: bad stamp for %s", key);
	}
	return 0;
}

/* An optional pause reason under key: absent means NONE (records and
 * checkpoints written before reasons existed). false: not a string, or
 * not a known name (*ret is then INVALID or NONE). */
static bool
reason_from_json(
    json_object *o, const char *key, enum tracker_pause_reason *ret)
{
	const char *s = NULL;

	*ret = TRACKER_REASON_NONE;
	if (!jsonutil_opt_str(o, key, &s)) {
		return false;
	}
	if (s) {
		*ret = tracker_pause_reason_from_string(s);
	}
	return *ret != TRACKER_REASON_INVALID;
}

/* The pause part of a {"target","stamp"} object: optional "reason" (a
 * known name; absent in records written before it existed: NONE) and
 * optional "paused_since_ns", the back-dated start of the pause, which
 * must lie in [run_since_ns, stamp position] of the (running) timer. */
static int
parse_pause_extra(json_object *o, struct stamp_ref *ref, struct errbuf *reterr)
{
	ref->since_ns = ref->c.st.pos_ns;
	if (!reason_from_json(o, "reason", &ref->reason)) {
		return bad_payload(reterr, "bad pause reason");
	}
	if (jsonutil_has(o, "paused_since_ns")) {
		if (!jsonutil_get_i64(o, "paused_since_ns", &ref->since_ns)) {
			return bad_payload(reterr, "bad paused_since_ns");
		}
		if (ref->since_ns < ref->tm->run_since_ns ||
		    ref->since_ns > ref->c.st.pos_ns) {
			return errbuf_set(reterr, ERR_JOURNAL_CORRUPT, -EBADMSG,
			    "timer record: the pause of %s begins outside "
			    "its running segment",
			    ref->tm->key);
		}
	}
	return 0;
}

/* Parses the "pause" list; each must name a distinct running timer. */
static int
parse_pause_list(struct tracker *t, json_object *payload, const char *self,
    struct stamp_ref **ret, size_t *ret_n, struct errbuf *reterr)
{
	json_object *arr = jsonutil_get_array(payload, "pause");
	struct stamp_ref *refs;
	size_t n;

	*ret = NULL;
	*ret_n = 0;
	if (!arr) {
		return jsonutil_has(payload, "pause")
		    ? bad_payload(reterr, "pause is not a list")
		    : 0;
	}
	n = json_object_array_length(arr);
	if (n > t->n_timers) {
		return bad_payload(reterr, "pause list too long");
	}
	refs = calloc(n + 1, sizeof(*refs));
	if (!refs) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *one = json_object_array_get_idx(arr, i);
		int r = parse_stamp_ref(t, one, &refs[i], reterr);

		if (r == 0) {
			r = parse_pause_extra(one, &refs[i], reterr);
		}
		if (r == 0 &&
		    (refs[i].tm->state != TRACKER_RUNNING ||
			(self && strcmp(refs[i].tm->key, self) == 0))) {
			r = bad_payload(reterr,
			    "pauses a timer that is not "
			    "running");
		}
		for (size_t j = 0; r == 0 && j < i; j++) {
			if (refs[j].tm == refs[i].tm) {
				r = bad_payload(reterr, "pauses a timer twice");
			}
		}
		if (r < 0) {
			free(refs);
			return r;
		}
	}
	for (size_t i = 0; i < n; i++) {
		/* +1: the pause interval that a later resume closes is
		 * not stored; reserve the suspend gap only */
		int r = reserve_pauses(refs[i].tm, refs[i].add_pauses);

		if (r < 0) {
			free(refs);
			return r;
		}
	}
	*ret = refs;
	*ret_n = n;
	return 0;
}

/* Pauses ref's timer at its stamp, the pause beginning at since_ns.
 * A back-dated pause covers the suspend intervals recorded inside the
 * running segment after since_ns (they lie at the tail of the sorted
 * list): they are dropped or cut at since_ns, so that no time is
 * excluded twice. Needs no memory (stamp_apply's suspend interval was
 * reserved with the ref). */
static void
apply_pause(const struct stamp_ref *ref, uint64_t seq)
{
	struct tracker_timer *tm = ref->tm;

	stamp_apply(tm, &ref->c);
	while (tm->n_pauses > 0 &&
	    tm->pauses[tm->n_pauses - 1].to_ns > ref->since_ns) {
		struct tracker_pause *last = &tm->pauses[tm->n_pauses - 1];

		if (last->from_ns >= ref->since_ns) {
			tm->n_pauses--;
		} else {
			last->to_ns = ref->since_ns;
			break;
		}
	}
	tm->state = TRACKER_PAUSED;
	tm->paused_since_ns = ref->since_ns;
	tm->pause_reason = ref->reason;
	tm->paused_seq = seq;
	tm->last_used = seq;
}

static int
parse_fields(json_object *payload, struct entry *ret, struct errbuf *reterr)
{
	json_object *f;

	if (!json_object_object_get_ex(payload, "fields", &f)) {
		return 0;
	}
	if (entry_fields_from_json(f, ret, reterr) < 0) {
		return bad_payload(reterr, "bad fields");
	}
	return 0;
}

static int
apply_started(
    struct tracker *t, uint64_t seq, json_object *p, struct errbuf *reterr)
{
	CLEANUP_FREE struct stamp_ref *others = NULL;
	struct tracker_timer *tm = NULL;
	struct target tg;
	const char *key;
	char canon[TARGET_STR_MAX];
	json_object *st;
	struct calc c;
	size_t n_others;
	int64_t start;
	int r;

	if (!jsonutil_get_str(p, "target", &key) ||
	    target_parse(key, &tg, NULL) < 0 ||
	    strcmp(target_format(&tg, canon), key) != 0) {
		return bad_payload(reterr, "bad target");
	}
	if (tracker_find(t, key)) {
		return errbuf_set(reterr, ERR_JOURNAL_CORRUPT, -EBADMSG,
		    "timer record: %s is started twice", key);
	}
	if (!jsonutil_get_i64(p, "start", &start) ||
	    !json_object_object_get_ex(p, "stamp", &st) ||
	    !stamp_from_json(st, &c)) {
		return bad_payload(reterr, "bad start stamp");
	}
	r = parse_pause_list(t, p, key, &others, &n_others, reterr);
	if (r < 0) {
		return r;
	}
	r = reserve_timers(t, 1);
	if (r < 0) {
		return r;
	}
	tm = timer_new();
	if (!tm) {
		return -ENOMEM;
	}
	r = parse_fields(p, &tm->fields, reterr);
	if (r == 0 && !summary_from_json(p, &tm->summary)) {
		r = bad_payload(reterr, "bad summary");
	}
	if (r < 0) {
		timer_free(tm);
		return r;
	}
	/* nothing fails from here on */
	for (size_t i = 0; i < n_others; i++) {
		apply_pause(&others[i], seq);
	}
	memcpy(tm->key, key, strlen(key) + 1);
	tm->target = tg;
	tm->state = TRACKER_RUNNING;
	tm->start_wall = start;
	tm->anchor = c.st;
	tm->last_used = seq;
	t->timers[t->n_timers++] = tm;
	memcpy(t->focus, key, strlen(key) + 1);
	return 0;
}

static int
apply_resumed(
    struct tracker *t, uint64_t seq, json_object *p, struct errbuf *reterr)
{
	CLEANUP_FREE struct stamp_ref *others = NULL;
	struct stamp_ref self;
	struct entry f;
	size_t n_others;
	int r;

	r = parse_stamp_ref(t, p, &self, reterr);
	if (r < 0) {
		return r;
	}
	if (self.tm->state != TRACKER_PAUSED) {
		return bad_payload(reterr, "resumes a running timer");
	}
	r = parse_pause_list(t, p, self.tm->key, &others, &n_others, reterr);
	if (r < 0) {
		return r;
	}
	r = reserve_pauses(self.tm, 1);
	if (r < 0) {
		return r;
	}
	entry_init(&f);
	r = entry_copy(&f, &self.tm->fields);
	if (r == 0) {
		r = parse_fields(p, &f, reterr);
	}
	if (r < 0) {
		entry_fini(&f);
		return r;
	}
	if (jsonutil_has(p, "fields")) {
		struct entry merged;

		entry_init(&merged);
		r = entry_copy(&merged, &self.tm->fields);
		if (r == 0) {
			r = entry_merge(&merged, &f);
		}
		entry_fini(&f);
		if (r < 0) {
			entry_fini(&merged);
			return r;
		}
		f = merged;
	}
	/* nothing fails from here on */
	for (size_t i = 0; i < n_others; i++) {
		apply_pause(&others[i], seq);
	}
	entry_fini(&self.tm->fields);
	self.tm->fields = f;
	stamp_apply(self.tm, &self.c);
	if (self.c.st.pos_ns > self.tm->paused_since_ns) {
		self.tm->pauses[self.tm->n_pauses++] = (struct tracker_pause){
		    .from_ns = self.tm->paused_since_ns,
		    .to_ns = self.c.st.pos_ns,
		    .kind = TRACKER_PAUSE_USER,
		};
	}
	self.tm->state = TRACKER_RUNNING;
	self.tm->run_since_ns = self.c.st.pos_ns;
	self.tm->pause_reason = TRACKER_REASON_NONE;
	self.tm->paused_seq = 0;
	self.tm->last_used = seq;
	memcpy(t->focus, self.tm->key, strlen(self.tm->key) + 1);
	return 0;
}

static int
apply_paused(
    struct tracker *t, uint64_t seq, json_object *p, struct errbuf *reterr)
{
	CLEANUP_FREE struct stamp_ref *all = NULL;
	struct stamp_ref self;
	size_t n_all;
	int r;

	if (!jsonutil_has(p, "target")) {
		/* pause --all: {"pause": [...]}, all checked first */
		r = parse_pause_list(t, p, NULL, &all, &n_all, reterr);
		if (r < 0) {
			return r;
		}
		if (n_all == 0) {
			return bad_payload(reterr, "pauses nothing");
		}
		for (size_t i = 0; i < n_all; i++) {
			apply_pause(&all[i], seq);
		}
		return 0;
	}
	r = parse_stamp_ref(t, p, &self, reterr);
	if (r == 0) {
		r = parse_pause_extra(p, &self, reterr);
	}
	if (r < 0) {
		return r;
	}
	if (self.tm->state != TRACKER_RUNNING) {
		return bad_payload(reterr, "pauses a paused timer");
	}
	r = reserve_pauses(self.tm, self.add_pauses);
	if (r < 0) {
		return r;
	}
	apply_pause(&self, seq);
	return 0;
}

/* The most recently used timer other than skip, for the focus. */
static void
refocus(struct tracker *t)
{
	const struct tracker_timer *best = NULL;

	if (tracker_focused(t)) {
		return;
	}
	for (size_t i = 0; i < t->n_timers; i++) {
		const struct tracker_timer *tm = t->timers[i];

		if (!best || tm->last_used > best->last_used) {
			best = tm;
		}
	}
	if (best) {
		memcpy(t->focus, best->key, strlen(best->key) + 1);
	} else {
		t->focus[0] = '\0';
	}
}

static void
remove_timer(struct tracker *t, struct tracker_timer *tm)
{
	ssize_t i = find_index(t, tm->key);

	if (i < 0) {
		return;
	}
	if (strcmp(t->focus, tm->key) == 0) {
		t->focus[0] = '\0';
	}
	memmove(&t->timers[i], &t->timers[i + 1],
	    (t->n_timers - (size_t) i - 1) * sizeof(t->timers[0]));
	t->n_timers--;
	timer_free(tm);
}

static int
apply_stopped(struct tracker *t, json_object *p, struct errbuf *reterr)
{
	json_object *arr = jsonutil_get_array(p, "timers");
	CLEANUP_FREE struct tracker_timer **gone = NULL;
	size_t n;

	if (!arr) {
		return bad_payload(reterr, "no timers");
	}
	n = json_object_array_length(arr);
	gone = calloc(n + 1, sizeof(*gone));
	if (!gone) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *one = json_object_array_get_idx(arr, i);
		const char *key;

		if (!json_object_is_type(one, json_type_object) ||
		    !jsonutil_get_str(one, "target", &key)) {
			return bad_payload(reterr, "no target");
		}
		gone[i] = tracker_find(t, key);
		if (!gone[i]) {
			return errbuf_set(reterr, ERR_JOURNAL_CORRUPT, -EBADMSG,
			    "timer record: stops %s, which has no timer", key);
		}
		for (size_t j = 0; j < i; j++) {
			if (gone[j] == gone[i]) {
				return bad_payload(
				    reterr, "stops a timer twice");
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		remove_timer(t, gone[i]);
	}
	refocus(t);
	return 0;
}

static int
apply_cancelled(struct tracker *t, json_object *p, struct errbuf *reterr)
{
	struct tracker_timer *tm = NULL;
	const char *key;

	if (!jsonutil_get_str(p, "target", &key)) {
		return bad_payload(reterr, "no target");
	}
	tm = tracker_find(t, key);
	if (!tm) {
		return errbuf_set(reterr, ERR_JOURNAL_CORRUPT, -EBADMSG,
		    "timer record: cancels %s, which has no timer", key);
	}
	remove_timer(t, tm);
	refocus(t);
	return 0;
}

static int
apply_set(
    struct tracker *t, uint64_t seq, json_object *p, struct errbuf *reterr)
{
	struct tracker_timer *tm = NULL;
	struct entry f, merged;
	const char *key;
	int r;

	if (!jsonutil_get_str(p, "target", &key) ||
	    !(tm = tracker_find(t, key))) {
		return bad_payload(reterr, "set: no such timer");
	}
	entry_init(&f);
	entry_init(&merged);
	r = parse_fields(p, &f, reterr);
	if (r == 0) {
		r = entry_copy(&merged, &tm->fields);
	}
	if (r == 0) {
		r = entry_merge(&merged, &f);
	}
	entry_fini(&f);
	if (r < 0) {
		entry_fini(&merged);
		return r;
	}
	entry_fini(&tm->fields);
	tm->fields = merged;
	tm->last_used = seq;
	return 0;
}

static int
apply_notes(
    struct tracker *t, uint64_t seq, json_object *p, struct errbuf *reterr)
{
	struct tracker_timer *tm = NULL;
	const char *key, *text;
	int r;

	if (!jsonutil_get_str(p, "target", &key) ||
	    !(tm = tracker_find(t, key)) ||
	    !jsonutil_get_str(p, "text", &text)) {
		return bad_payload(reterr, "note: no such timer or no text");
	}
	r = entry_append_string(&tm->fields.notes, "\n", text);
	if (r < 0) {
		return r;
	}
	tm->last_used = seq;
	return 0;
}

static int
apply_adjusted(
    struct tracker *t, uint64_t seq, json_object *p, struct errbuf *reterr)
{
	struct tracker_timer *tm = NULL;
	const char *key;
	int64_t start, old, d;

	if (!jsonutil_get_str(p, "target", &key) ||
	    !(tm = tracker_find(t, key)) ||
	    !jsonutil_get_i64(p, "start", &start) ||
	    !jsonutil_get_i64(p, "old_start", &old) || old != tm->start_wall) {
		return bad_payload(
		    reterr, "adjust: no such timer or bad start");
	}
	d = (old - start) * NS;
	if (first_pos(tm) + d <= 0 && !(first_pos(tm) + d == 0 && d == 0)) {
		return bad_payload(
		    reterr, "adjust: start after the first pause");
	}
	tm->start_wall = start;
	tm->anchor.pos_ns += d;
	if (tm->state == TRACKER_PAUSED) {
		tm->paused_since_ns += d;
	}
	if (tm->reboot_pos_ns >= 0) {
		tm->reboot_pos_ns += d;
	}
	/* 0 means "since the start", which moved with the label */
	if (tm->run_since_ns > 0) {
		tm->run_since_ns += d;
		if (tm->run_since_ns < 0) {
			tm->run_since_ns = 0;
		}
	}
	for (size_t i = 0; i < tm->n_pauses; i++) {
		tm->pauses[i].from_ns += d;
		tm->pauses[i].to_ns += d;
	}
	tm->flags |= TRACKER_FLAG_ADJUSTED;
	tm->last_used = seq;
	return 0;
}

static int
apply_heartbeat(struct tracker *t, json_object *p, struct errbuf *reterr)
{
	CLEANUP_FREE struct stamp_ref *refs = NULL;
	json_object *arr = jsonutil_get_array(p, "timers");
	size_t n;

	if (!arr) {
		return bad_payload(reterr, "heartbeat without timers");
	}
	n = json_object_array_length(arr);
	refs = calloc(n + 1, sizeof(*refs));
	if (!refs) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		int r = parse_stamp_ref(
		    t, json_object_array_get_idx(arr, i), &refs[i], reterr);

		if (r < 0) {
			return r;
		}
		for (size_t j = 0; j < i; j++) {
			if (refs[j].tm == refs[i].tm) {
				return bad_payload(reterr, "a timer twice");
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		int r = reserve_pauses(refs[i].tm, refs[i].add_pauses);

		if (r < 0) {
			return r;
		}
	}
	for (size_t i = 0; i < n; i++) {
		stamp_apply(refs[i].tm, &refs[i].c);
	}
	return 0;
}

int
tracker_apply(struct tracker *t, uint16_t type, uint64_t seq,
    json_object *payload, struct errbuf *reterr)
{
	if (!json_object_is_type(payload, json_type_object)) {
		switch (type) {
		case JOURNAL_REC_TIMER_STARTED:
		case JOURNAL_REC_TIMER_PAUSED:
		case JOURNAL_REC_TIMER_RESUMED:
		case JOURNAL_REC_TIMER_ADJUSTED:
		case JOURNAL_REC_TIMER_NOTES:
		case JOURNAL_REC_TIMER_CANCELLED:
		case JOURNAL_REC_TIMER_STOPPED:
		case JOURNAL_REC_TIMER_SET:
		case JOURNAL_REC_HEARTBEAT:
			return bad_payload(reterr, "payload is not an object");
		default:
			return 0;
		}
	}
	switch (type) {
	case JOURNAL_REC_TIMER_STARTED:
		return apply_started(t, seq, payload, reterr);
	case JOURNAL_REC_TIMER_RESUMED:
		return apply_resumed(t, seq, payload, reterr);
	case JOURNAL_REC_TIMER_PAUSED:
		return apply_paused(t, seq, payload, reterr);
	case JOURNAL_REC_TIMER_STOPPED:
		return apply_stopped(t, payload, reterr);
	case JOURNAL_REC_TIMER_CANCELLED:
		return apply_cancelled(t, payload, reterr);
	case JOURNAL_REC_TIMER_SET:
		return apply_set(t, seq, payload, reterr);
	case JOURNAL_REC_TIMER_NOTES:
		return apply_notes(t, seq, payload, reterr);
	case JOURNAL_REC_TIMER_ADJUSTED:
		return apply_adjusted(t, seq, payload, reterr);
	case JOURNAL_REC_HEARTBEAT:
		return apply_heartbeat(t, payload, reterr);
	default:
		return 0;
	}
}

/* ---- snapshot and status ---- */

static const char *
state_name(const struct tracker_timer *tm)
{
	return tm->state == TRACKER_RUNNING ? "running" : "paused";
}

/* {"focus": ..., "timers": []}, the empty array in *ret_timers (borrowed
 * from the result); NULL when out of memory. */
static json_object *
new_tracker_object(const struct tracker *t, json_object **ret_timers)
{
	json_object *o = json_object_new_object(), *arr;
	int r = o ? 0 : -ENOMEM;

	if (r == 0) {
		r = jsonutil_add(o, "focus", json_object_new_string(t->focus));
	}
	arr = json_object_new_array();
	if (r == 0) {
		r = jsonutil_add(o, "timers", arr);
	} else {
		json_object_put(arr);
	}
	if (r < 0) {
		json_object_put(o);
		return NULL;
	}
	*ret_timers = arr;
	return o;
}

static json_object *
timer_snapshot(const struct tracker_timer *tm)
{
	json_object *o = new_payload(tm->key), *ps;
	int r = o ? 0 : -ENOMEM;

	if (r == 0) {
		r = jsonutil_add(
		    o, "state", json_object_new_string(state_name(tm)));
	}
	if (r == 0) {
		r = jsonutil_add(
		    o, "start", json_object_new_int64(tm->start_wall));
	}
	if (r == 0) {
		r = jsonutil_add(o, "anchor", stamp_to_json(&tm->anchor, NULL));
	}
	if (r == 0) {
		r = jsonutil_add(o, "paused_since_ns",
		    json_object_new_int64(tm->paused_since_ns));
	}
	if (r == 0) {
		r = jsonutil_add(o, "reboot_pos_ns",
		    json_object_new_int64(tm->reboot_pos_ns));
	}
	if (r == 0) {
		r = jsonutil_add(
		    o, "run_since_ns", json_object_new_int64(tm->run_since_ns));
	}
	if (r == 0 && tm->pause_reason != TRACKER_REASON_NONE) {
		r = jsonutil_add(o, "pause_reason",
		    json_object_new_string(
			tracker_pause_reason_to_string(tm->pause_reason)));
	}
	if (r == 0 && tm->paused_seq != 0) {
		r = jsonutil_add(o, "paused_seq",
		    json_object_new_int64((int64_t) tm->paused_seq));
	}
	if (r == 0) {
		r = jsonutil_add(o, "flags", json_object_new_int64(tm->flags));
	}
	if (r == 0) {
		r = jsonutil_add(o, "last_used",
		    json_object_new_int64((int64_t) tm->last_used));
	}
	if (r == 0) {
		r = jsonutil_add(
		    o, "fields", entry_fields_to_json(&tm->fields));
	}
	if (r == 0 && tm->summary) {
		r = jsonutil_add(
		    o, "summary", json_object_new_string(tm->summary));
	}
	ps = json_object_new_array();
	if (r == 0) {
		r = jsonutil_add(o, "pauses", ps);
	} else {
		json_object_put(ps);
	}
	for (size_t i = 0; r == 0 && i < tm->n_pauses; i++) {
		json_object *one = json_object_new_array();

		r = one ? 0 : -ENOMEM;
		if (r == 0) {
			r = jsonutil_push(
			    one, json_object_new_int64(tm->pauses[i].from_ns));
		}
		if (r == 0) {
			r = jsonutil_push(
			    one, json_object_new_int64(tm->pauses[i].to_ns));
		}
		if (r == 0) {
			r = jsonutil_push(one,
			    json_object_new_string(
				tm->pauses[i].kind == TRACKER_PAUSE_SUSPEND
				    ? "suspend"
				    : "user"));
		}
		if (r == 0) {
			r = jsonutil_push(ps, one);
		} else {
			json_object_put(one);
		}
	}
	if (r < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

json_object *
tracker_snapshot(const struct tracker *t)
{
	json_object *arr = NULL, *o = new_tracker_object(t, &arr);
	int r = o ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < t->n_timers; i++) {
		r = jsonutil_push(arr, timer_snapshot(t->timers[i]));
	}
	if (r < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The optional members of a checkpoint timer: run_since_ns, pause_reason
 * (absent: NONE) and paused_seq (absent: last_used, the seq of the pause
 * unless something touched the timer since). false: of the wrong type or
 * unknown. */
static bool
restore_pause_extra(json_object *o, struct tracker_timer *tm)
{
	int64_t seq;

	tm->run_since_ns = 0;
	if (!jsonutil_opt_i64(o, "run_since_ns", &tm->run_since_ns) ||
	    tm->run_since_ns < 0 ||
	    !reason_from_json(o, "pause_reason", &tm->pause_reason)) {
		return false;
	}
	tm->paused_seq = tm->state == TRACKER_PAUSED ? tm->last_used : 0;
	if (jsonutil_has(o, "paused_seq")) {
		if (!jsonutil_get_i64(o, "paused_seq", &seq) || seq < 0) {
			return false;
		}
		tm->paused_seq = (uint64_t) seq;
	}
	return true;
}

static int
timer_restore(json_object *o, struct tracker_timer **ret, struct errbuf *reterr)
{
	struct tracker_timer *tm = timer_new();
	const char *key, *state;
	char canon[TARGET_STR_MAX];
	json_object *an, *ps, *f;
	struct calc c;
	int64_t flags, last_used;
	size_t n;

	if (!tm) {
		return -ENOMEM;
	}
	if (!json_object_is_type(o, json_type_object) ||
	    !jsonutil_get_str(o, "target", &key) ||
	    target_parse(key, &tm->target, NULL) < 0 ||
	    strcmp(target_format(&tm->target, canon), key) != 0 ||
	    !jsonutil_get_str(o, "state", &state) ||
	    !jsonutil_get_i64(o, "start", &tm->start_wall) ||
	    !json_object_object_get_ex(o, "anchor", &an) ||
	    !stamp_from_json(an, &c) ||
	    !jsonutil_get_i64(o, "paused_since_ns", &tm->paused_since_ns) ||
	    !jsonutil_get_i64(o, "reboot_pos_ns", &tm->reboot_pos_ns) ||
	    !jsonutil_get_i64(o, "flags", &flags) ||
	    !jsonutil_get_i64(o, "last_used", &last_used) ||
	    !(ps = jsonutil_get_array(o, "pauses")) ||
	    !json_object_object_get_ex(o, "fields", &f)) {
		timer_free(tm);
		return bad_payload(reterr, "checkpoint: bad timer");
	}
	memcpy(tm->key, key, strlen(key) + 1);
	if (strcmp(state, "running") == 0) {
		tm->state = TRACKER_RUNNING;
	} else if (strcmp(state, "paused") == 0) {
		tm->state = TRACKER_PAUSED;
	} else {
		timer_free(tm);
		return bad_payload(reterr, "checkpoint: bad timer state");
	}
	tm->anchor = c.st;
	tm->flags = (unsigned) flags;
	tm->last_used = (uint64_t) last_used;
	/* optional: checkpoints written before they existed lack them */
	if (!restore_pause_extra(o, tm)) {
		timer_free(tm);
		return bad_payload(reterr, "checkpoint: bad pause reason");
	}
	n = json_object_array_length(ps);
	if (reserve_pauses(tm, n) < 0 ||
	    entry_fields_from_json(f, &tm->fields, reterr) < 0 ||
	    !summary_from_json(o, &tm->summary)) {
		timer_free(tm);
		return bad_payload(reterr, "checkpoint: bad pauses or fields");
	}
	for (size_t i = 0; i < n; i++) {
		json_object *one = json_object_array_get_idx(ps, i);
		json_object *a, *b, *k;

		if (!json_object_is_type(one, json_type_array) ||
		    json_object_array_length(one) != 3 ||
		    !(a = json_object_array_get_idx(one, 0)) ||
		    !(b = json_object_array_get_idx(one, 1)) ||
		    !(k = json_object_array_get_idx(one, 2)) ||
		    !json_object_is_type(a, json_type_int) ||
		    !json_object_is_type(b, json_type_int) ||
		    !json_object_is_type(k, json_type_string)) {
			timer_free(tm);
			return bad_payload(reterr, "checkpoint: bad pause");
		}
		tm->pauses[i] = (struct tracker_pause){
		    .from_ns = json_object_get_int64(a),
		    .to_ns = json_object_get_int64(b),
		    .kind = strcmp(json_object_get_string(k), "suspend") == 0
			? TRACKER_PAUSE_SUSPEND
			: TRACKER_PAUSE_USER,
		};
		tm->n_pauses++;
	}
	if (!jsonutil_has(o, "run_since_ns")) {
		/* an older checkpoint: the last resume closed the last user
		 * pause (suspends lie inside running segments) */
		for (size_t i = 0; i < tm->n_pauses; i++) {
			if (tm->pauses[i].kind == TRACKER_PAUSE_USER) {
				tm->run_since_ns = tm->pauses[i].to_ns;
			}
		}
	}
	*ret = tm;
	return 0;
}

int
tracker_restore(struct tracker *t, json_object *o, struct errbuf *reterr)
{
	struct tracker tmp;
	json_object *arr;
	const char *focus;
	size_t n;
	int r;

	if (!json_object_is_type(o, json_type_object) ||
	    !jsonutil_get_str(o, "focus", &focus) ||
	    strlen(focus) >= TARGET_STR_MAX ||
	    !(arr = jsonutil_get_array(o, "timers"))) {
		return bad_payload(reterr, "checkpoint: bad tracker");
	}
	n = json_object_array_length(arr);
	if (n > TRACKER_MAX_TIMERS) {
		return bad_payload(reterr, "checkpoint: too many timers");
	}
	tracker_init(&tmp);
	r = reserve_timers(&tmp, n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct tracker_timer *tm = NULL;

		r = timer_restore(
		    json_object_array_get_idx(arr, i), &tm, reterr);
		if (r == 0 && tracker_find(&tmp, tm->key)) {
			timer_free(tm);
			r = bad_payload(reterr, "checkpoint: a timer twice");
		}
		if (r == 0) {
			tmp.timers[tmp.n_timers++] = tm;
		}
	}
	if (r == 0 && focus[0] && !tracker_find(&tmp, focus)) {
		r = bad_payload(reterr, "checkpoint: focus on no timer");
	}
	if (r < 0) {
		tracker_fini(&tmp);
		return r;
	}
	memcpy(tmp.focus, focus, strlen(focus) + 1);
	tmp.rules = t->rules;
	tracker_fini(t);
	*t = tmp;
	return 0;
}

json_object *
tracker_status_json(
    const struct tracker *t, const struct now *now, const char *only_key)
{
	json_object *arr = NULL, *o = new_tracker_object(t, &arr);
	int r = o ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < t->n_timers; i++) {
		const struct tracker_timer *tm = t->timers[i];
		unsigned flags = tm->flags;
		json_object *one;

		if (only_key && strcmp(only_key, tm->key) != 0) {
			continue;
		}
		if (tracker_timer_rebooted(tm, now)) {
			flags |= TRACKER_FLAG_REBOOT;
		}
		one = new_payload(tm->key);
		r = one ? 0 : -ENOMEM;
		if (r == 0) {
			r = jsonutil_add(one, "state",
			    json_object_new_string(state_name(tm)));
		}
		if (r == 0) {
			r = jsonutil_add(one, "start",
			    json_object_new_int64(tm->start_wall));
		}
		if (r == 0) {
			r = jsonutil_add(one, "worked_s",
			    json_object_new_int64(
				tracker_timer_worked_ns(tm, now) / NS));
		}
		if (r == 0) {
			const char *why = tm->state == TRACKER_PAUSED
			    ? tracker_pause_reason_to_string(tm->pause_reason)
			    : NULL;

			/* null: running, or paused by an old record */
			r = json_object_object_add(one, "pause_reason",
				why ? json_object_new_string(why) : NULL) < 0
			    ? -ENOMEM
			    : 0;
		}
		if (r == 0) {
			r = jsonutil_add(one, "focus",
			    json_object_new_boolean(
				strcmp(t->focus, tm->key) == 0));
		}
		if (r == 0) {
			r = jsonutil_add(one, "flags", flags_to_json(flags));
		}
		if (r == 0) {
			r = jsonutil_add(
			    one, "fields", entry_fields_to_json(&tm->fields));
		}
		if (r == 0 && tm->summary) {
			r = jsonutil_add(one, "summary",
			    json_object_new_string(tm->summary));
		}
		if (r == 0) {
			r = jsonutil_push(arr, one);
		} else {
			json_object_put(one);
		}
	}
	if (r < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}
