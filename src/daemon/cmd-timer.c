/*
 * cmd-timer.c - the timer commands (start, stop, pause, resume, toggle,
 * switch, cancel, set, note, adjust, log, list) and the read-only views
 * status, recent and queue.
 *
 * Job: translate cwtimectl's arguments (client/cmds.c: "role", "billing",
 * "add_to", "email", "ago_s", ...) into the core's inputs, call the
 * matching tracker_prepare_*() with one clock reading, journal the record
 * and reply from the state after the commit.
 *
 * Invariants:
 * - a handler changes nothing itself: validation happens in prepare, the
 *   journal applies, and only then on_committed builds the reply; a
 *   refused command leaves the journal byte-identical;
 * - one clock reading per command (struct now), from d->ticker's clock;
 * - a timer command's reply carries the timers its record changed, not
 *   every timer (its cost must not grow with the timers open); status and
 *   list fit every timer they can in one line, the focused one always;
 * - the [defaults] of the target type fill the template of a NEW timer or
 *   logged entry only, under the user's options (a resumed timer keeps
 *   what "set" gave it).
 * - a start of a new ticket timer reads the ticket from ConnectWise first
 *   (deferred, at most CMD_TIMER_LOOKUP_TIMEOUT_MS, on its own short-lived
 *   client) and journals its summary; only a 404 refuses the start, any
 *   other failure starts it unchecked. log --dry-run asks ConnectWise for
 *   the defaults and journals nothing.
 * Must never: read a clock directly, log what a client sent above debug.
 */
#include "daemon/cmd-timer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "common/errcode.h"
#include "common/jsonutil.h"
#include "common/proto.h"
#include "common/timeparse.h"
#include "core/classify.h"
#include "core/entry.h"
#include "core/outbox.h"
#include "core/records.h"
#include "core/state.h"
#include "core/target.h"
#include "core/tracker.h"
#include "daemon/cmd-more.h"
#include "daemon/cmd-ref.h"
#include "daemon/commands.h"
#include "daemon/config.h"
#include "daemon/cwapi.h"
#include "daemon/daemon.h"
#include "daemon/http.h"
#include "daemon/submitter.h"
#include "daemon/ticker.h"
#include "daemon/session.h" /* session: stop --submit */

/* --ago beyond this is refused as absurd (log refuses the same). */
#define CMD_TIMER_MAX_AGO_S (7 * 86400)
/* Replies are one line of at most PROTO_LINE_MAX bytes: listings stop
 * below this and say what they left out. */
#define CMD_TIMER_REPLY_BUDGET (PROTO_LINE_MAX - 4096)
/* recent without --limit. */
#define CMD_TIMER_RECENT_DEFAULT 10

/* ---- small helpers ---- */

static void
put_json(void *p)
{
	json_object_put(p);
}

/* Reads the clock; fails the request (and returns false) when it cannot.
 */
static bool
read_now(struct request *req, struct now *ret)
{
	struct daemon *d = request_daemon(req);
	struct errbuf e;

	errbuf_clear(&e);
	if (!d->ticker) {
		request_failf(req, ERR_NOT_SUPPORTED, NULL,
		    "timers are not set up in this daemon");
		return false;
	}
	if (ticker_now(d->ticker, ret, &e) < 0) {
		request_fail(req, &e);
		return false;
	}
	return true;
}

static int
jadd(json_object *o, const char *key, json_object *v)
{
	if (!v) {
		return -ENOMEM;
	}
	json_object_object_add(o, key, v);
	return 0;
}

/* ---- arguments -> entry fields ---- */

/* Sets the named booleans of a comma-separated list ("detail,internal").
 * names[i] is the word, keys[i] the entry_fields_from_args key. */
static int
list_to_flags(const char *list, const char *field, const char *const *names,
    const char *const *keys, size_t n, json_object *out,
    struct errbuf *reterr)
{
	const char *p = list;
	int r;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t) (comma - p) : strlen(p);
		size_t i;

		for (i = 0; i < n; i++) {
			if (strlen(names[i]) == len &&
			    strncasecmp(names[i], p, len) == 0) {
				break;
			}
		}
		if (i == n || len == 0) {
			r = errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
			    "'%.*s' is not one of %s", (int) (len > 40 ? 40 :
			    len), p, strcmp(field, "add_to") == 0 ?
			    "detail, internal, resolution" :
			    "resource, contact, cc");
			errbuf_set_field(reterr, field);
			return r;
		}
		if (jadd(out, keys[i], json_object_new_boolean(1)) < 0) {
			return -ENOMEM;
		}
		p += len + (comma ? 1 : 0);
	}
	return 0;
}

static int
copy_string_arg(struct request *req, const char *from, const char *to,
    json_object *out)
{
	const char *s = request_arg_string(req, from);

	if (!s) {
		return 0;
	}
	return jadd(out, to, json_object_new_string(s));
}

/* The defaults of [defaults] / [defaults "TYPE"] for a target, as
 * entry_fields_from_args keys, and [api] member. The member goes into the
 * template of every NEW timer or logged entry, so it is journaled with
 * TIMER_STARTED / ENTRY_QUEUED (doc/records.md): a later change of the
 * config never changes whose time an old timer's entries are, and replay
 * needs no config. A user's --member still wins (it is added after). */
static int
defaults_to_args(const struct config *c, const struct target *tg,
    json_object *out)
{
	struct config_defaults def;
	enum config_target ct;
	const char *b;
	int r = 0;

	if (c->api.member && c->api.member[0]) {
		/* "jdoe" -> {"identifier"}, "142" -> {"id"}: the all-digit
		 * rule of entry_fields_from_args, as config.c parsed it */
		r = jadd(out, "member", json_object_new_string(c->api.member));
		if (r < 0) {
			return r;
		}
	}
	ct = config_target_from_string(target_type_short_name(tg->type));
	if (ct == CONFIG_TARGET_INVALID) {
		return 0;
	}
	config_defaults_for(c, ct, &def);
	if (def.work_type && r == 0) {
		r = jadd(out, "work_type",
		    json_object_new_string(def.work_type));
	}
	if (def.role && r == 0) {
		r = jadd(out, "work_role", json_object_new_string(def.role));
	}
	if (def.agreement && r == 0) {
		r = jadd(out, "agreement",
		    json_object_new_string(def.agreement));
	}
	b = config_billing_to_string(def.billing);
	if (b && def.billing != CONFIG_BILLING_UNSET && r == 0) {
		r = jadd(out, "billable", json_object_new_string(b));
	}
	return r;
}

/* Builds the field template from the request: the target type's defaults
 * (when defaults_for is not NULL) under the user's options. Returns 0 and
 * fills the initialised *ret, or fails with the reason in *reterr. */
static int
fields_from_request(struct request *req, const struct target *defaults_for,
    struct entry *ret, struct errbuf *reterr)
{
	static const char *const add_names[] = { "detail", "internal",
		"resolution" };
	static const char *const add_keys[] = { "add_to_detail",
		"add_to_internal", "add_to_resolution" };
	static const char *const email_names[] = { "resource", "contact",
		"cc" };
	static const char *const email_keys[] = { "email_resource",
		"email_contact", "email_cc_flag" };
	CLEANUP_JSON json_object *a = json_object_new_object();
	struct daemon *d = request_daemon(req);
	const char *s;
	int64_t id;
	int r = 0;

	if (!a) {
		return -ENOMEM;
	}
	if (defaults_for && d->have_config) {
		r = defaults_to_args(&d->config, defaults_for, a);
	}
	/* client/cmds.c's names -> entry_fields_from_args' names */
	if (r == 0) {
		r = copy_string_arg(req, "work_type", "work_type", a);
	}
	if (r == 0) {
		r = copy_string_arg(req, "role", "work_role", a);
	}
	if (r == 0) {
		r = copy_string_arg(req, "billing", "billable", a);
	}
	if (r == 0) {
		r = copy_string_arg(req, "notes", "notes", a);
	}
	if (r == 0) {
		r = copy_string_arg(req, "internal_notes", "internal_notes", a);
	}
	if (r == 0) {
		r = copy_string_arg(req, "email_cc", "email_cc", a);
	}
	if (r == 0) {
		r = copy_string_arg(req, "company", "company", a);
	}
	if (r == 0) {
		r = copy_string_arg(req, "member", "member", a);
	}
	if (r == 0 && request_arg_int(req, "agreement", &id)) {
		char buf[32];

		if (id <= 0 || id > 2147483647) {
			r = errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
			    "an agreement id is 1 to 2147483647");
			errbuf_set_field(reterr, "agreement");
			return r;
		}
		snprintf(buf, sizeof(buf), "%" PRId64, id);
		r = jadd(a, "agreement", json_object_new_string(buf));
	}
	if (r < 0) {
		return r;
	}
	s = request_arg_string(req, "add_to");
	if (s) {
		r = list_to_flags(s, "add_to", add_names, add_keys,
		    ARRAY_SIZE(add_names), a, reterr);
		if (r < 0) {
			return r;
		}
	}
	s = request_arg_string(req, "email");
	if (s) {
		r = list_to_flags(s, "email", email_names, email_keys,
		    ARRAY_SIZE(email_names), a, reterr);
		if (r < 0) {
			return r;
		}
	}
	r = entry_fields_from_args(a, ret, reterr);
	if (r == -EINVAL && reterr->field[0]) {
		/* name the option the user typed, not the internal key */
		if (strcmp(reterr->field, "work_role") == 0) {
			errbuf_set_field(reterr, "role");
		} else if (strcmp(reterr->field, "billable") == 0) {
			errbuf_set_field(reterr, "billing");
		}
	}
	return r;
}

/* The tracker a new record is validated against: the committed one plus
 * the records pending in this iteration's batch (stateview.h). Fails req
 * and returns NULL when the view cannot be built. */
static struct tracker *
tracker_view(struct request *req)
{
	struct errbuf e;
	struct state *s;

	errbuf_clear(&e);
	s = daemon_state_view(request_daemon(req), &e);
	if (!s) {
		request_fail(req, &e);
		return NULL;
	}
	return &s->tracker;
}

/* The start of a timer handler: now, and the tracker as the records
 * already waiting in this iteration's batch leave it (stateview.h). NULL
 * when the request has been answered with the error. */
static struct tracker *
timer_begin(struct request *req, struct now *now)
{
	if (!read_now(req, now)) {
		return NULL;
	}
	return tracker_view(req);
}

/* True when the request names a target that has no timer yet (so the
 * [defaults] apply); fills *ret. A target that does not parse gives
 * false: prepare reports it. */
static bool
new_target(struct request *req, const char *text, struct target *ret)
{
	struct daemon *d = request_daemon(req);
	char key[TARGET_STR_MAX];

	if (!text || target_parse(text, ret, NULL) < 0) {
		return false;
	}
	struct state *view = daemon_state_view(d, NULL);

	/* validated like the command itself: against the pending batch */
	return tracker_find(view ? &view->tracker : &d->state.tracker,
	    target_format(ret, key)) == NULL;
}

/* --at / --ago of start and stop into one label (0: now). */
static int
label_from_request(struct request *req, const struct now *now, int64_t *ret,
    struct errbuf *reterr)
{
	int64_t at = 0, ago = 0;
	bool has_at = request_arg_int(req, "at", &at);
	bool has_ago = request_arg_int(req, "ago_s", &ago);
	int r;

	*ret = 0;
	if (has_at && has_ago) {
		r = errbuf_set(reterr, ERR_USAGE, -EINVAL,
		    "give --at or --ago, not both");
		errbuf_set_field(reterr, "ago_s");
		return r;
	}
	if (has_ago) {
		if (ago <= 0) {
			r = errbuf_set(reterr, ERR_BAD_DURATION, -EINVAL,
			    "--ago must be more than zero");
			errbuf_set_field(reterr, "ago_s");
			return r;
		}
		if (ago > CMD_TIMER_MAX_AGO_S) {
			r = errbuf_set(reterr, ERR_BAD_DURATION, -EINVAL,
			    "--ago is longer than a week");
			errbuf_set_field(reterr, "ago_s");
			return r;
		}
		*ret = now->wall_utc_s - ago;
		return 0;
	}
	if (has_at) {
		if (at <= 0) {
			r = errbuf_set(reterr, ERR_BAD_TIME, -EINVAL,
			    "--at is out of range");
			errbuf_set_field(reterr, "at");
			return r;
		}
		if (at > now->wall_utc_s) {
			char buf[TIMEPARSE_UTC_LEN];

			r = errbuf_set(reterr, ERR_TIME_IN_FUTURE, -EINVAL,
			    "%s is in the future", timeparse_format_utc(at,
			    buf));
			errbuf_set_field(reterr, "at");
			return r;
		}
		*ret = at;
	}
	return 0;
}

/* ---- result objects ---- */

/* The timer object of client/output.h from one tracker_status_json
 * timer (which it extends in place). */
static int
decorate_timer(json_object *one)
{
	json_object *fields = NULL, *wt = NULL, *v = NULL;
	const char *b;
	int r = 0;

	if (json_object_object_get_ex(one, "worked_s", &v)) {
		r = jadd(one, "elapsed_s",
		    json_object_new_int64(json_object_get_int64(v)));
	}
	/* the ticket's summary from the start's lookup, else "" */
	if (r == 0 && !json_object_object_get_ex(one, "summary", NULL)) {
		r = jadd(one, "summary", json_object_new_string(""));
	}
	/* tracker_status_json gives it; null for a reply built otherwise */
	if (r == 0 && !json_object_object_get_ex(one, "pause_reason", NULL)) {
		json_object_object_add(one, "pause_reason", NULL);
	}
	(void) json_object_object_get_ex(one, "fields", &fields);
	b = jsonutil_str(fields, "billableOption");
	if (r == 0) {
		json_object_object_add(one, "billable_option",
		    b ? json_object_new_string(b) : NULL);
	}
	if (r == 0) {
		const char *name = NULL;
		char buf[32];

		if (fields &&
		    json_object_object_get_ex(fields, "workType", &wt)) {
			name = jsonutil_str(wt, "name");
			if (!name && json_object_object_get_ex(wt, "id", &v)) {
				snprintf(buf, sizeof(buf), "%" PRId64,
				    json_object_get_int64(v));
				name = buf;
			}
		}
		json_object_object_add(one, "work_type",
		    name ? json_object_new_string(name) : NULL);
	}
	return r;
}

/* Seconds since the end of the oldest pending entry (its body's timeEnd),
 * 0 when there is none. */
static int64_t
oldest_pending_age(const struct outbox *o, int64_t now)
{
	int64_t oldest = 0;

	for (size_t i = 0; i < o->n_entries; i++) {
		const struct outbox_entry *oe = o->entries[i];
		const char *te;
		int64_t t;

		if (oe->state != OUTBOX_PENDING &&
		    oe->state != OUTBOX_ATTEMPT_STARTED) {
			continue;
		}
		te = jsonutil_str(oe->body, "timeEnd");
		if (te && timeparse_parse_iso(te, &t, NULL) == 0 &&
		    (oldest == 0 || t < oldest)) {
			oldest = t;
		}
	}
	return oldest > 0 && now > oldest ? now - oldest : 0;
}

static json_object *
queue_counts(const struct outbox *o, int64_t now)
{
	json_object *q = json_object_new_object();

	if (!q) {
		return NULL;
	}
	json_object_object_add(q, "pending",
	    json_object_new_int64((int64_t) (outbox_count(o, OUTBOX_PENDING) +
	    outbox_count(o, OUTBOX_ATTEMPT_STARTED))));
	json_object_object_add(q, "unknown",
	    json_object_new_int64((int64_t) outbox_count(o, OUTBOX_UNKNOWN)));
	json_object_object_add(q, "rejected",
	    json_object_new_int64((int64_t) outbox_count(o, OUTBOX_REJECTED)));
	json_object_object_add(q, "oldest_pending_age_s",
	    json_object_new_int64(oldest_pending_age(o, now)));
	return q;
}

/* The "submission" object of client/output.h: the submitter's own view
 * (submitter_status_json: "ok", "paused" with the reason, "api-unreachable"
 * while the breaker is open, "offline"; breaker, oldest_pending_age_s,
 * oldest_flagged). Offline says why when the daemon knows better than the
 * submitter. New object or NULL. */
static json_object *
submission_json(struct daemon *d)
{
	json_object *s = submitter_status_json(d->submitter);
	const char *state = jsonutil_str(s, "state"), *why = NULL;

	if (!s) {
		return NULL;
	}
	if (!d->have_config || !config_api_configured(&d->config)) {
		why = "no [api] in the configuration";
	} else if (!d->have_secret) {
		why = "no ConnectWise credentials";
	}
	if (why && state && strcmp(state, "offline") == 0) {
		json_object_object_add(
		    s, "reason", json_object_new_string(why));
	}
	return s;
}

/* Bytes of o serialised as on the wire (about: escaping may differ by a
 * few bytes from proto.c's flags, which the budget's margin absorbs). */
static size_t
json_len(json_object *o)
{
	size_t len = 0;

	if (!json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN,
	    &len)) {
		return SIZE_MAX; /* ENOMEM: treat as too long */
	}
	return len;
}

/* Keeps the status within one reply line: many timers with long notes
 * lose their "fields" first ("fields_omitted"), then timers from the end
 * ("timers_omitted"), but never the focused one. Linear: each timer is
 * measured once (a loop that re-measured the whole reply per dropped
 * timer made `list` of 1,000 timers quadratic). */
static void
fit_reply(json_object *o, json_object *timers)
{
	const size_t budget = CMD_TIMER_REPLY_BUDGET;
	CLEANUP_FREE size_t *lens = NULL;
	size_t n, total, sum = 0, used, dropped = 0, focus = SIZE_MAX;
	json_object *kept;

	if (!timers || json_len(o) <= budget) {
		return;
	}
	n = json_object_array_length(timers);
	for (size_t i = 0; i < n; i++) {
		json_object_object_del(json_object_array_get_idx(timers, i),
		    "fields");
	}
	json_object_object_add(o, "fields_omitted", json_object_new_boolean(1));
	total = json_len(o);
	if (total <= budget) {
		return;
	}
	lens = calloc(n ? n : 1, sizeof(*lens));
	kept = json_object_new_array();
	if (!lens || !kept) {
		json_object_put(kept);
		return; /* ENOMEM: the reply fails on its size, not silently */
	}
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(timers, i);
		json_object *f = NULL;

		lens[i] = json_len(t) + 1; /* and its comma */
		sum += lens[i];
		if (json_object_object_get_ex(t, "focus", &f) &&
		    json_object_get_boolean(f)) {
			focus = i;
		}
	}
	/* the rest of the reply, plus room for "timers_omitted":N */
	used = (total > sum ? total - sum : 0) + 32;
	if (focus != SIZE_MAX) {
		used += lens[focus];
	}
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(timers, i);

		if (i != focus && used + lens[i] > budget) {
			dropped++;
			continue;
		}
		if (i != focus) {
			used += lens[i];
		}
		json_object_array_add(kept, json_object_get(t));
	}
	json_object_object_add(o, "timers", kept); /* frees the old array */
	if (dropped > 0) {
		json_object_object_add(o, "timers_omitted",
		    json_object_new_int64((int64_t) dropped));
	}
}

/* The status result of client/output.h, fitted to one line when fit
 * (status and its events; list hands its timers over in parts instead).
 * New object or NULL. */
static json_object *
status_json(struct daemon *d, const struct now *now, bool fit)
{
	CLEANUP_JSON json_object *o =
	    tracker_status_json(&d->state.tracker, now, NULL);
	json_object *timers = NULL;
	int r = o ? 0 : -ENOMEM;

	if (r == 0 && json_object_object_get_ex(o, "timers", &timers)) {
		size_t n = json_object_array_length(timers);

		for (size_t i = 0; r == 0 && i < n; i++) {
			r = decorate_timer(
			    json_object_array_get_idx(timers, i));
		}
	}
	if (r == 0) {
		r = jadd(o, "queue", queue_counts(&d->state.outbox,
		    now->wall_utc_s));
	}
	if (r == 0) {
		r = jadd(o, "submission", submission_json(d));
	}
	if (r == 0) {
		r = jadd(o, "max_duration_s", json_object_new_int64(
		    d->ticker ? d->ticker->rules.max_duration_s : 0));
	}
	if (r < 0) {
		return NULL;
	}
	if (fit) {
		fit_reply(o, timers);
	}
	return TAKE_PTR(o);
}

/* The reply of a timer command (protocol.md): the status result with only
 * the timers its record changed, the one it names and those it paused,
 * plus "timers_total". Every timer in every reply made a start cost
 * O(timers) in bytes: a thousand timers took minutes to start, and past
 * about 1,200 a reply no longer fitted one line. New object or NULL. */
static json_object *
changed_json(struct daemon *d, const struct now *now, json_object *payload)
{
	const struct tracker *tr = &d->state.tracker;
	const char *target = jsonutil_str(payload, "target");
	json_object *pause = NULL, *timers = NULL;
	/* "": no timer has that key (a cancel's timer is gone) */
	CLEANUP_JSON json_object *o =
	    tracker_status_json(tr, now, target ? target : "");
	int r = o ? 0 : -ENOMEM;

	if (r == 0 && !json_object_object_get_ex(o, "timers", &timers)) {
		r = -ENOMEM;
	}
	if (r == 0 && json_object_object_get_ex(payload, "pause", &pause) &&
	    json_object_is_type(pause, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(pause); i++) {
			const char *k = jsonutil_str(
			    json_object_array_get_idx(pause, i), "target");
			CLEANUP_JSON json_object *one = k ?
			    tracker_status_json(tr, now, k) : NULL;
			json_object *arr = NULL;

			if (one && json_object_object_get_ex(one, "timers",
			    &arr) && json_object_array_length(arr) == 1) {
				json_object_array_add(timers, json_object_get(
				    json_object_array_get_idx(arr, 0)));
			}
		}
	}
	for (size_t i = 0; r == 0 && i < json_object_array_length(timers);
	     i++) {
		r = decorate_timer(json_object_array_get_idx(timers, i));
	}
	if (r == 0) {
		r = jadd(o, "timers_total",
		    json_object_new_int64((int64_t) tr->n_timers));
	}
	if (r == 0) {
		r = jadd(o, "queue", queue_counts(&d->state.outbox,
		    now->wall_utc_s));
	}
	if (r == 0) {
		r = jadd(o, "submission", submission_json(d));
	}
	if (r == 0) {
		r = jadd(o, "max_duration_s", json_object_new_int64(
		    d->ticker ? d->ticker->rules.max_duration_s : 0));
	}
	if (r < 0) {
		return NULL;
	}
	fit_reply(o, timers);
	return TAKE_PTR(o);
}

static void
reply_or_oom(struct request *req, json_object *o)
{
	if (!o) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	request_reply(req, o);
}

/* Tells subscribers that the timers changed (the status result). */
static void
broadcast_status(struct daemon *d, const struct now *now)
{
	CLEANUP_JSON json_object *st = NULL;

	if (!d->ipc_init || ipc_subscribers(&d->ipc) == 0) {
		return; /* nobody listens: do not build it (O(timers)) */
	}
	st = status_json(d, now, true);
	if (st) {
		daemon_broadcast(d, "timer", st, false);
	}
}

void
cmd_timer_broadcast(struct daemon *d)
{
	struct now now;

	if (d->ticker && ticker_now(d->ticker, &now, NULL) == 0) {
		broadcast_status(d, &now);
	}
}

void
cmd_timer_tick(struct daemon *d)
{
	struct now now;

	if (d->ticker && ticker_now(d->ticker, &now, NULL) == 0) {
		CLEANUP_JSON json_object *st = status_json(d, &now, true);

		if (st) {
			daemon_broadcast(d, "tick", st, true);
		}
	}
}

/* ---- the mutation path ---- */

/* Journals a prepared record and commits: the payload is kept as request
 * data for on_committed. On error fails the request. */
static void
journal_and_commit(struct request *req, int r, uint16_t type,
    json_object *payload, bool reserve_space, struct errbuf *e,
    request_commit_fn *done)
{
	if (r < 0) {
		json_object_put(payload);
		request_fail(req, e);
		return;
	}
	if (!payload) {
		request_failf(req, ERR_NO_SUCH_TIMER, NULL, "no timer runs");
		return;
	}
	request_set_data(req, payload, put_json);
	r = request_journal(req, type, payload, reserve_space, e);
	if (r < 0) {
		request_fail(req, e);
		return;
	}
	request_commit(req, done);
}

/* After a timer record: the status, the target the record named, and the
 * start-specific note about the unchecked ticket. */
static void
on_timer_committed(struct request *req)
{
	struct daemon *d = request_daemon(req);
	json_object *payload = request_data(req);
	json_object *o;
	const char *target = jsonutil_str(payload, "target");
	struct now now;

	ticker_kick(d->ticker);
	if (!read_now(req, &now)) {
		return;
	}
	o = changed_json(d, &now, payload);
	if (o && target) {
		json_object_object_add(o, "target",
		    json_object_new_string(target));
	}
	broadcast_status(d, &now);
	reply_or_oom(req, o);
}

/* After a start (or a toggle/switch that started a timer): the status,
 * the target, and whether ConnectWise confirmed the ticket. start_journal
 * put "ticket_checked" and "warning" into the payload after journaling
 * it (reply-only keys); a toggle or switch has neither: not checked. */
static void
on_start_committed(struct request *req)
{
	struct daemon *d = request_daemon(req);
	json_object *payload = request_data(req);
	const char *target = jsonutil_str(payload, "target");
	const char *warning = jsonutil_str(payload, "warning");
	json_object *checked = NULL, *o;
	struct now now;

	ticker_kick(d->ticker);
	if (!read_now(req, &now)) {
		return;
	}
	(void) json_object_object_get_ex(payload, "ticket_checked", &checked);
	o = changed_json(d, &now, payload);
	if (o && target) {
		json_object_object_add(o, "target",
		    json_object_new_string(target));
		json_object_object_add(o, "ticket_checked",
		    json_object_new_boolean(json_object_get_boolean(checked)));
		if (warning) {
			json_object_object_add(o, "warning",
			    json_object_new_string(warning));
		}
	}
	broadcast_status(d, &now);
	reply_or_oom(req, o);
}

/* Calls fn on the body of every entry of a TIMER_STOPPED payload
 * ("timers"[]."entries"[]) or an ENTRY_QUEUED one ("entries"[]). */
static void
foreach_body(json_object *payload, void (*fn)(json_object *body, void *u),
    void *u)
{
	json_object *timers = NULL, *entries = NULL, *body = NULL;
	size_t nt = 1;

	if (json_object_object_get_ex(payload, "timers", &timers)) {
		nt = json_object_array_length(timers);
	}
	for (size_t i = 0; i < nt; i++) {
		json_object *owner = timers ?
		    json_object_array_get_idx(timers, i) : payload;

		if (!json_object_object_get_ex(owner, "entries", &entries) ||
		    !json_object_is_type(entries, json_type_array)) {
			continue;
		}
		for (size_t j = 0; j < json_object_array_length(entries);
		     j++) {
			if (json_object_object_get_ex(
			    json_object_array_get_idx(entries, j), "body",
			    &body)) {
				fn(body, u);
			}
		}
	}
}

/* Work type and role names to ids at stop (cmd-ref.h): from a fresh
 * cache into the record itself; a missing list is fetched in the
 * background and the submitter's ready hook resolves before the POST; an
 * unknown name stays, and the hook rejects the entry (the stop never
 * fails for a name: the time is kept). */
static void
resolve_one(json_object *body, void *u)
{
	struct daemon *d = u;
	struct errbuf e;

	errbuf_clear(&e);
	if (cmdref_body_has_names(body) &&
	    cmdref_resolve_body(d, body, NULL, &e) == -EAGAIN) {
		cmdref_warm_body(d, body);
	}
}

struct warn_ctx {
	struct daemon *d;
	json_object *warnings;
};

/* For the reply: why an entry will not be sent as it is. */
static void
warn_one(json_object *body, void *u)
{
	struct warn_ctx *w = u;
	CLEANUP_JSON json_object *copy = NULL;
	struct errbuf e;
	int r;

	if (!cmdref_body_has_names(body) ||
	    json_object_deep_copy(body, &copy, NULL) < 0) {
		return;
	}
	errbuf_clear(&e);
	r = cmdref_resolve_body(w->d, copy, NULL, &e);
	if (r == -ENOENT || r == -ENOTUNIQ || r == -EINVAL) {
		json_object_array_add(
		    w->warnings, json_object_new_string(e.msg));
	}
}

/* A copy of an "entries" array without each entry's "body" (the entry
 * objects are shared with the record and the outbox: not changed). */
static json_object *
entries_without_bodies(json_object *entries)
{
	size_t n = json_object_array_length(entries);
	json_object *out = json_object_new_array_ext((int) n);

	for (size_t i = 0; out && i < n; i++) {
		json_object *e = json_object_array_get_idx(entries, i);
		json_object *c = json_object_new_object();

		if (!c || json_object_array_add(out, c) < 0) {
			json_object_put(c);
			json_object_put(out);
			return NULL;
		}
		json_object_object_foreach(e, key, val)
		{
			if (strcmp(key, "body") != 0) {
				json_object_object_add(
				    c, key, json_object_get(val));
			}
		}
	}
	return out;
}

/* The reply to a stop or log repeats the record, and a stop of many
 * stretches with long notes makes a record of up to JOURNAL_RECORD_MAX,
 * four reply lines. The change is durable by now, so its reply must not
 * fail for its size: past the line (less room for "submit" and the
 * framing) the entries lose their ConnectWise bodies, which `queue`
 * lists, and "bodies_omitted" says so. Returns false when even that does
 * not fit (the caller then answers with the counts only). */
static bool
fit_entries_reply(json_object *o)
{
	const size_t budget = CMD_TIMER_REPLY_BUDGET - 4096;
	json_object *timers = NULL, *entries = NULL;
	size_t nt = 1;

	if (json_len(o) <= budget) {
		return true;
	}
	if (json_object_object_get_ex(o, "timers", &timers)) {
		json_object *copy = json_object_new_array();

		nt = json_object_array_length(timers);
		for (size_t i = 0; copy && i < nt; i++) {
			json_object *t = json_object_array_get_idx(timers, i);
			json_object *c = json_object_new_object();

			if (!c || json_object_array_add(copy, c) < 0) {
				json_object_put(c);
				json_object_put(copy);
				return false;
			}
			json_object_object_foreach(t, key, val)
			{
				json_object_object_add(c, key,
				    strcmp(key, "entries") == 0 ?
				    entries_without_bodies(val) :
				    json_object_get(val));
			}
		}
		if (!copy) {
			return false;
		}
		json_object_object_add(o, "timers", copy);
	} else if (json_object_object_get_ex(o, "entries", &entries)) {
		json_object_object_add(
		    o, "entries", entries_without_bodies(entries));
	}
	json_object_object_add(o, "bodies_omitted", json_object_new_boolean(1));
	return json_len(o) <= budget;
}

/* After TIMER_STOPPED / ENTRY_QUEUED: what was queued (the record's
 * figures and bodies) and the queue counts. */
static void
on_entries_committed(struct request *req)
{
	struct daemon *d = request_daemon(req);
	json_object *payload = request_data(req);
	json_object *o = json_object_new_object();
	struct now now;

	ticker_kick(d->ticker);
	if (!read_now(req, &now)) {
		json_object_put(o);
		return;
	}
	if (!o) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	json_object_object_foreach(payload, key, val)
	{
		json_object_object_add(o, key, json_object_get(val));
	}
	if (!fit_entries_reply(o)) {
		/* thousands of entries: say how many, `queue` has them */
		json_object_put(o);
		o = json_object_new_object();
		if (!o) {
			request_failf(req, ERR_INTERNAL, NULL, "out of memory");
			return;
		}
		json_object_object_add(o, "entries_omitted",
		    json_object_new_boolean(1));
	}
	json_object_object_add(o, "queue", queue_counts(&d->state.outbox,
	    now.wall_utc_s));
	{
		/* a name the cache knows to be wrong: the entry is kept and
		 * rejected before submission; say so now */
		struct warn_ctx w = { d, json_object_new_array() };

		if (w.warnings) {
			foreach_body(payload, warn_one, &w);
		}
		if (w.warnings && json_object_array_length(w.warnings) > 0) {
			json_object_object_add(o, "warnings", w.warnings);
		} else {
			json_object_put(w.warnings);
		}
	}
	broadcast_status(d, &now);
	/* session (session.c): --submit waits for the submission, bounded
	 * by [session] submit_timeout, and adds "submit" to the reply */
	if (request_arg_bool(req, "submit", false)) {
		session_reply_after_submit(req, o);
		return;
	}
	request_reply(req, o);
}

/* ---- handlers ---- */

/* ---- start and its ticket lookup ---- */

/* A start waits at most this long for ConnectWise; then the timer starts
 * unchecked (the user wants it to run now, not after a minute's timeout).
 */
#define CMD_TIMER_LOOKUP_TIMEOUT_MS 5000u
#define CMD_TIMER_LOOKUP_CONNECT_MS 3000u

/* A start while its ticket lookup runs (the request's data until the
 * record is journaled). */
struct start_lookup {
	struct cmdref_client client;
	struct entry fields;
	int64_t label;	  /* from --at / --ago; 0: none */
	int64_t asked_at; /* wall second the command arrived */
	char key[TARGET_STR_MAX];
};

static void
start_lookup_free(void *p)
{
	struct start_lookup *lk = p;

	if (!lk) {
		return;
	}
	cmdref_client_close(&lk->client); /* cancels the GET: no callback */
	entry_fini(&lk->fields);
	free(lk);
}

/* Like cmdref_client_open, with short timeouts (see above). */
static int
lookup_client_open(struct daemon *d, struct cmdref_client *c,
    struct errbuf *reterr)
{
	const struct config_api *api = &d->config.api;
	struct cwapi_config cfg;
	struct http_options hopt;
	int r;

	memset(c, 0, sizeof(*c));
	memset(&hopt, 0, sizeof(hopt));
	hopt.ca_file = api->ca_file;
	r = http_new(&d->loop, &hopt, &c->http);
	if (r < 0) {
		return errbuf_set(reterr, ERR_INTERNAL, r,
		    "cannot set up HTTP: %s", strerror(-r));
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.url = api->url;
	cfg.site = api->site;
	cfg.company = api->company;
	cfg.api_version = api->api_version;
	cfg.connect_timeout_ms = (uint32_t) (api->connect_timeout_s * 1000);
	if (cfg.connect_timeout_ms == 0 ||
	    cfg.connect_timeout_ms > CMD_TIMER_LOOKUP_CONNECT_MS) {
		cfg.connect_timeout_ms = CMD_TIMER_LOOKUP_CONNECT_MS;
	}
	cfg.total_timeout_ms = (uint32_t) (api->total_timeout_s * 1000);
	if (cfg.total_timeout_ms == 0 ||
	    cfg.total_timeout_ms > CMD_TIMER_LOOKUP_TIMEOUT_MS) {
		cfg.total_timeout_ms = CMD_TIMER_LOOKUP_TIMEOUT_MS;
	}
	cfg.low_speed_time_s = (uint32_t) api->low_speed_time_s;
	r = cwapi_new(&cfg, &d->secret, http_transport(c->http), &c->api,
	    reterr);
	if (r < 0) {
		http_close(c->http);
		c->http = NULL;
	}
	return r;
}

/* Journals a prepared start. The reply-only keys "ticket_checked" and
 * "warning" go into the payload after request_journal() serialised it,
 * so they reach on_start_committed but never the journal. */
static void
start_journal(struct request *req, int r, uint16_t type, json_object *payload,
    struct errbuf *e, bool checked, const char *warning)
{
	if (r < 0) {
		json_object_put(payload);
		request_fail(req, e);
		return;
	}
	request_set_data(req, payload, put_json); /* frees a start_lookup */
	/* a new timer takes space: refuse it below the free-space floor */
	r = request_journal(req, type, payload,
	    type == JOURNAL_REC_TIMER_STARTED, e);
	if (r < 0) {
		request_fail(req, e);
		return;
	}
	json_object_object_add(payload, "ticket_checked",
	    json_object_new_boolean(checked));
	if (warning && warning[0]) {
		json_object_object_add(payload, "warning",
		    json_object_new_string(warning));
	}
	request_commit(req, on_start_committed);
}

/* A timer started with a work type or role name: fetch that list now, in
 * the background, so that the stop finds it fresh and journals ids. */
static void
warm_names(struct daemon *d, const struct entry *fields)
{
	const struct entry_ref *wt = &fields->refs[ENTRY_REF_WORK_TYPE];
	const struct entry_ref *wr = &fields->refs[ENTRY_REF_WORK_ROLE];

	if (wt->id <= 0 && wt->name) {
		cmdref_warm(d, REFDATA_WORK_TYPE);
	}
	if (wr->id <= 0 && wr->name) {
		cmdref_warm(d, REFDATA_WORK_ROLE);
	}
}

/* Prepares and journals the start of the request's target with fields,
 * label (0: now) and the ticket's summary (NULL: unknown). */
static void
start_finish(struct request *req, const struct entry *fields, int64_t label,
    const char *summary, bool checked, const char *warning)
{
	struct tracker_start_args a;
	json_object *payload = NULL;
	struct errbuf e;
	struct now now;
	uint16_t type = 0;
	int r;

	errbuf_clear(&e);
	if (!read_now(req, &now)) {
		return;
	}
	memset(&a, 0, sizeof(a));
	a.target = request_arg_string(req, "target");
	a.at = label;
	a.fields = fields;
	a.summary = summary;
	struct tracker *tr = tracker_view(req);
	if (!tr) {
		return;
	}
	r = tracker_prepare_start(tr, &a, &now, &type, &payload,
	    &e);
	if (r == 0 && fields) {
		warm_names(request_daemon(req), fields);
	}
	start_journal(req, r, type, payload, &e, checked, warning);
}

static void
on_ticket_looked_up(const struct cwapi_result *res, void *userdata)
{
	struct request *req = userdata;
	struct start_lookup *lk = request_data(req);
	struct daemon *d = request_daemon(req);
	char warning[sizeof(((struct errbuf *) 0)->msg) + 128];
	const char *summary;
	int64_t label = lk->label;
	struct now now;
	struct errbuf e;

	if (label == 0 && d->ticker && ticker_now(d->ticker, &now, NULL) == 0 &&
	    now.wall_utc_s > lk->asked_at) {
		/* the timer starts when it was asked for, not when
		 * ConnectWise answered */
		label = lk->asked_at;
	}
	if (res->cls == CLASSIFY_SUCCESS) {
		summary = jsonutil_str(res->json, "summary");
		start_finish(req, &lk->fields, label, summary ? summary : "",
		    true, NULL);
		return;
	}
	if (res->err.code == ERR_NO_SUCH_TICKET) {
		/* ConnectWise's own words; nothing is journaled */
		e = res->err;
		errbuf_set_field(&e, "target");
		request_fail(req, &e);
		return;
	}
	/* anything else (down, slow, 5xx, refused keys): the timer runs
	 * and the user is told that the ticket is unconfirmed */
	snprintf(warning, sizeof(warning), "%s was not checked with "
	    "ConnectWise (%s: %s); the timer runs", lk->key,
	    errcode_name(res->err.code), res->err.msg);
	start_finish(req, &lk->fields, label, NULL, false, warning);
}

/* Starts the ticket lookup of a new timer on tg. Returns true when the
 * request is now deferred (the callback finishes it), false when it was
 * not started: then *why says why (for the warning). */
static bool
start_lookup_begin(struct request *req, const struct target *tg,
    const struct entry *fields, int64_t label, const struct now *now,
    char *why, size_t why_size)
{
	struct daemon *d = request_daemon(req);
	struct start_lookup *lk;
	struct errbuf e;
	int64_t c;

	errbuf_clear(&e);
	if (!daemon_api_usable(d, &e)) {
		/* offline (no [api] or credentials) or the breaker is open */
		snprintf(why, why_size, "%s", e.code == ERR_API_NOT_CONFIGURED ?
		    "offline" : errcode_name(e.code));
		return false;
	}
	lk = calloc(1, sizeof(*lk));
	if (!lk) {
		snprintf(why, why_size, "out of memory");
		return false;
	}
	entry_init(&lk->fields);
	lk->label = label;
	lk->asked_at = now->wall_utc_s;
	(void) target_format(tg, lk->key);
	if (entry_copy(&lk->fields, fields) < 0 ||
	    lookup_client_open(d, &lk->client, &e) < 0) {
		snprintf(why, why_size, "%s", e.msg[0] ? e.msg :
		    "out of memory");
		start_lookup_free(lk);
		return false;
	}
	c = cwapi_get_ticket(lk->client.api,
	    tg->type == TARGET_PROJECT_TICKET ? CWAPI_TICKET_PROJECT :
	    CWAPI_TICKET_SERVICE, tg->id, "id,summary", on_ticket_looked_up,
	    req);
	if (c < 0) {
		snprintf(why, why_size, "%s", strerror((int) -c));
		start_lookup_free(lk);
		return false;
	}
	request_set_data(req, lk, start_lookup_free);
	request_defer(req);
	return true;
}

static void
cmd_start(struct request *req)
{
	CLEANUP(entry_fini) struct entry f;
	struct target tg;
	struct errbuf e;
	struct now now;
	char why[sizeof(((struct errbuf *) 0)->msg)];
	char warning[sizeof(why) + 128];
	char key[TARGET_STR_MAX];
	const char *target = request_arg_string(req, "target");
	bool is_new;
	int64_t label;
	int r;

	entry_init(&f);
	errbuf_clear(&e);
	if (!read_now(req, &now)) {
		return;
	}
	r = label_from_request(req, &now, &label, &e);
	is_new = new_target(req, target, &tg);
	if (r == 0) {
		r = fields_from_request(req, is_new ? &tg : NULL, &f, &e);
	}
	if (r < 0) {
		request_fail(req, &e);
		return;
	}
	warning[0] = '\0';
	/* Only a NEW timer on a ticket is looked up (a resume keeps what its
	 * start learnt); the lookup checks the ticket exists and journals
	 * its summary with TIMER_STARTED. */
	if (is_new && (tg.type == TARGET_SERVICE_TICKET ||
	    tg.type == TARGET_PROJECT_TICKET)) {
		struct tracker_start_args a;
		json_object *trial = NULL;
		uint16_t type = 0;

		/* refuse what the start itself refuses (a company on a
		 * ticket, too many timers...) before asking ConnectWise */
		memset(&a, 0, sizeof(a));
		a.target = target;
		a.at = label;
		a.fields = &f;
		r = tracker_prepare_start(&request_daemon(req)->state.tracker,
		    &a, &now, &type, &trial, &e);
		json_object_put(trial);
		if (r < 0) {
			request_fail(req, &e);
			return;
		}
		why[0] = '\0';
		if (start_lookup_begin(req, &tg, &f, label, &now, why,
		    sizeof(why))) {
			return; /* on_ticket_looked_up finishes it */
		}
		snprintf(warning, sizeof(warning), "%s was not checked with "
		    "ConnectWise (%s)", target_format(&tg, key), why[0] ? why :
		    "offline");
	}
	start_finish(req, &f, label, NULL, false, warning);
}

static void
cmd_stop(struct request *req)
{
	CLEANUP(entry_fini) struct entry f;
	struct tracker_stop_args a;
	json_object *payload = NULL;
	struct errbuf e;
	struct now now;
	uint16_t type = 0;
	int r;

	entry_init(&f);
	errbuf_clear(&e);
	if (!read_now(req, &now)) {
		return;
	}
	memset(&a, 0, sizeof(a));
	a.target = request_arg_string(req, "target");
	a.all = request_arg_bool(req, "all", false);
	a.at_heartbeat = request_arg_bool(req, "at_heartbeat", false);
	r = label_from_request(req, &now, &a.at, &e);
	if (r == 0 && a.at == now.wall_utc_s) {
		/* "--at" this very second is now: positions run on BOOTTIME
		 * from a whole-second start, so the label of the current
		 * second may lie up to 1 s past the timer's exact end */
		a.at = 0;
	}
	if (r == 0 && a.at_heartbeat && a.at != 0) {
		r = errbuf_set(&e, ERR_USAGE, -EINVAL,
		    "--at-heartbeat and --at/--ago exclude each other");
	}
	if (r == 0) {
		r = fields_from_request(req, NULL, &f, &e);
	}
	if (r < 0) {
		request_fail(req, &e);
		return;
	}
	a.fields = &f;
	struct tracker *tr = tracker_view(req);
	if (!tr) {
		return;
	}
	r = tracker_prepare_stop(tr, &a, &now, &type, &payload,
	    &e);
	if (r == 0) {
		foreach_body(payload, resolve_one, request_daemon(req));
	}
	journal_and_commit(req, r, type, payload, false, &e,
	    on_entries_committed);
}

/* A tracker_prepare_* that needs only the target: pause, resume. */
typedef int target_prepare_fn(const struct tracker *t, const char *target,
    const struct now *now, uint16_t *ret_type, json_object **ret_payload,
    struct errbuf *reterr);

static void
run_on_target(struct request *req, target_prepare_fn *prepare)
{
	json_object *payload = NULL;
	struct errbuf e;
	struct now now;
	uint16_t type = 0;
	int r;

	errbuf_clear(&e);
	struct tracker *tr = timer_begin(req, &now);

	if (!tr) {
		return;
	}
	r = prepare(tr, request_arg_string(req, "target"), &now, &type,
	    &payload, &e);
	journal_and_commit(req, r, type, payload, false, &e,
	    on_timer_committed);
}

static void
cmd_pause(struct request *req)
{
	run_on_target(req, tracker_prepare_pause);
}

static void
cmd_resume(struct request *req)
{
	run_on_target(req, tracker_prepare_resume);
}

/* toggle and switch: both may start a new timer, which takes the
 * [defaults] of its type. */
static void
toggle_or_switch(struct request *req, bool is_switch, const char *target)
{
	CLEANUP(entry_fini) struct entry f;
	struct tracker_start_args a;
	json_object *payload = NULL;
	struct target tg;
	struct errbuf e;
	struct now now;
	uint16_t type = 0;
	int r;

	entry_init(&f);
	errbuf_clear(&e);
	if (!read_now(req, &now)) {
		return;
	}
	memset(&a, 0, sizeof(a));
	a.target = target;
	if (a.target && new_target(req, a.target, &tg)) {
		r = fields_from_request(req, &tg, &f, &e);
		if (r < 0) {
			request_fail(req, &e);
			return;
		}
		a.fields = &f;
	}
	if (is_switch) {
		struct tracker *tr = tracker_view(req);
		if (!tr) {
			return;
		}
		r = tracker_prepare_switch(tr, &a, &now, &type,
		    &payload, &e);
	} else {
		struct tracker *tr = tracker_view(req);
		if (!tr) {
			return;
		}
		r = tracker_prepare_toggle(tr, &a, &now, &type,
		    &payload, &e);
	}
	journal_and_commit(req, r, type, payload,
	    type == JOURNAL_REC_TIMER_STARTED, &e,
	    type == JOURNAL_REC_TIMER_STARTED ? on_start_committed :
	    on_timer_committed);
}

static void
cmd_toggle(struct request *req)
{
	const struct tracker *tr = &request_daemon(req)->state.tracker;
	const struct tracker_timer *last = NULL;
	const char *target = request_arg_string(req, "target");

	/* No target and no focus: act on the timer used last (the core
	 * wants a name once several timers exist). */
	if (!target && !tracker_focused(tr) && tr->n_timers > 1) {
		for (size_t i = 0; i < tr->n_timers; i++) {
			if (!last ||
			    tr->timers[i]->last_used > last->last_used) {
				last = tr->timers[i];
			}
		}
		target = last->key;
	}
	toggle_or_switch(req, false, target);
}

static void
cmd_switch(struct request *req)
{
	toggle_or_switch(req, true, request_arg_string(req, "target"));
}

static void
cmd_cancel(struct request *req)
{
	json_object *payload = NULL;
	struct errbuf e;
	struct now now;
	uint16_t type = 0;
	int r;

	errbuf_clear(&e);
	struct tracker *tr = timer_begin(req, &now);

	if (!tr) {
		return;
	}
	r = tracker_prepare_cancel(tr,
	    request_arg_string(req, "target"),
	    request_arg_bool(req, "yes", false), &now, &type, &payload, &e);
	journal_and_commit(req, r, type, payload, false, &e,
	    on_timer_committed);
}

static void
cmd_set(struct request *req)
{
	CLEANUP(entry_fini) struct entry f;
	json_object *payload = NULL;
	struct errbuf e;
	struct now now;
	uint16_t type = 0;
	int r;

	entry_init(&f);
	errbuf_clear(&e);
	if (!read_now(req, &now)) {
		return;
	}
	r = fields_from_request(req, NULL, &f, &e);
	if (r < 0) {
		request_fail(req, &e);
		return;
	}
	struct tracker *tr = tracker_view(req);
	if (!tr) {
		return;
	}
	r = tracker_prepare_set(tr,
	    request_arg_string(req, "target"), &f, &now, &type, &payload, &e);
	journal_and_commit(req, r, type, payload, false, &e,
	    on_timer_committed);
}

static void
cmd_note(struct request *req)
{
	json_object *payload = NULL;
	struct errbuf e;
	struct now now;
	uint16_t type = 0;
	int r;

	errbuf_clear(&e);
	struct tracker *tr = timer_begin(req, &now);

	if (!tr) {
		return;
	}
	r = tracker_prepare_note(tr,
	    request_arg_string(req, "target"), request_arg_string(req, "text"),
	    &now, &type, &payload, &e);
	journal_and_commit(req, r, type, payload, false, &e,
	    on_timer_committed);
}

static void
cmd_adjust(struct request *req)
{
	json_object *payload = NULL;
	struct errbuf e;
	struct now now;
	uint16_t type = 0;
	int64_t start = 0;
	int r;

	errbuf_clear(&e);
	if (!read_now(req, &now)) {
		return;
	}
	(void) request_arg_int(req, "start", &start); /* required */
	if (start <= 0) {
		request_failf(req, ERR_BAD_TIME, "start",
		    "--start is out of range");
		return;
	}
	struct tracker *tr = tracker_view(req);
	if (!tr) {
		return;
	}
	r = tracker_prepare_adjust(tr,
	    request_arg_string(req, "target"), start, &now, &type, &payload,
	    &e);
	journal_and_commit(req, r, type, payload, false, &e,
	    on_timer_committed);
}

/* ---- log --dry-run: ConnectWise's defaults for what would be queued ---- */

/* A dry run asking POST /time/entries/defaults for each entry of the
 * prepared ENTRY_QUEUED payload in turn (the request's data). */
struct dry_run {
	struct cmdref_client client;
	json_object *reply; /* the payload, "dry_run": true */
	json_object *entries; /* borrowed from reply */
	size_t next;	      /* the entry whose defaults are asked for */
};

static void
dry_run_free(void *p)
{
	struct dry_run *dr = p;

	if (!dr) {
		return;
	}
	cmdref_client_close(&dr->client); /* cancels: no callback */
	json_object_put(dr->reply);
	free(dr);
}

static void on_defaults(const struct cwapi_result *res, void *userdata);

/* Asks for the defaults of entry dr->next, or replies when all are in.
 */
static void
dry_run_next(struct request *req)
{
	struct dry_run *dr = request_data(req);
	json_object *one, *body = NULL;
	int64_t c;

	if (dr->next >= json_object_array_length(dr->entries)) {
		request_reply(req, json_object_get(dr->reply));
		return;
	}
	one = json_object_array_get_idx(dr->entries, dr->next);
	(void) json_object_object_get_ex(one, "body", &body);
	c = cwapi_entry_defaults(dr->client.api, body, on_defaults, req);
	if (c < 0) {
		request_failf(req, ERR_INTERNAL, NULL,
		    "cannot ask ConnectWise for the defaults: %s",
		    strerror((int) -c));
	}
}

static void
on_defaults(const struct cwapi_result *res, void *userdata)
{
	struct request *req = userdata;
	struct dry_run *dr = request_data(req);
	json_object *one = json_object_array_get_idx(dr->entries, dr->next);

	if (res->cls != CLASSIFY_SUCCESS || !res->json) {
		/* ConnectWise's refusal (what a submission would get) or why
		 * it could not be asked, in its own words */
		cmdref_fail_result(req, res);
		return;
	}
	json_object_object_add(one, "defaults", json_object_get(res->json));
	dr->next++;
	dry_run_next(req);
}

/* log --dry-run: replies with the prepared payload (payload stolen) plus,
 * per entry, "defaults": the TimeEntry ConnectWise would make of the
 * body. Offline the payload alone, with "defaults_checked": false and a
 * warning. Nothing is journaled in either case. */
static void
dry_run_begin(struct request *req, json_object *payload)
{
	struct daemon *d = request_daemon(req);
	struct dry_run *dr;
	struct errbuf e;

	errbuf_clear(&e);
	json_object_object_add(payload, "dry_run", json_object_new_boolean(1));
	if (!daemon_api_usable(d, &e)) {
		char msg[sizeof(e.msg) + 64];

		snprintf(msg, sizeof(msg), "ConnectWise's defaults were not "
		    "asked for (%s)", e.msg);
		json_object_object_add(payload, "defaults_checked",
		    json_object_new_boolean(0));
		json_object_object_add(payload, "warning",
		    json_object_new_string(msg));
		request_reply(req, payload);
		return;
	}
	dr = calloc(1, sizeof(*dr));
	if (!dr) {
		json_object_put(payload);
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	dr->reply = payload;
	json_object_object_add(payload, "defaults_checked",
	    json_object_new_boolean(1));
	if (!json_object_object_get_ex(payload, "entries", &dr->entries) ||
	    !json_object_is_type(dr->entries, json_type_array)) {
		dry_run_free(dr);
		request_failf(req, ERR_INTERNAL, NULL, "no entries prepared");
		return;
	}
	request_set_data(req, dr, dry_run_free);
	if (lookup_client_open(d, &dr->client, &e) < 0) {
		request_fail(req, &e);
		return;
	}
	request_defer(req);
	dry_run_next(req);
}

static void
cmd_log(struct request *req)
{
	CLEANUP(entry_fini) struct entry f;
	struct tracker_log_args a;
	json_object *payload = NULL;
	struct target tg;
	struct errbuf e;
	struct now now;
	uint16_t type = 0;
	int64_t at = 0;
	int r;

	entry_init(&f);
	errbuf_clear(&e);
	if (!read_now(req, &now)) {
		return;
	}
	memset(&a, 0, sizeof(a));
	a.target = request_arg_string(req, "target");
	(void) request_arg_int(req, "duration_s", &a.duration_s); /* req. */
	if (request_arg_int(req, "at", &at)) {
		if (at <= 0) {
			request_failf(req, ERR_BAD_TIME, "at",
			    "--at is out of range");
			return;
		}
		if (at > now.wall_utc_s) {
			request_failf(req, ERR_TIME_IN_FUTURE, "at",
			    "--at is in the future");
			return;
		}
		a.start = at;
	}
	/* a log always makes a new entry: the type's defaults apply */
	r = fields_from_request(req, target_parse(a.target, &tg, NULL) == 0 ?
	    &tg : NULL, &f, &e);
	if (r < 0) {
		request_fail(req, &e);
		return;
	}
	a.fields = &f;
	struct tracker *tr = tracker_view(req);
	if (!tr) {
		return;
	}
	r = tracker_prepare_log(tr, &a, &now, &type, &payload,
	    &e);
	if (r == 0) {
		/* when the entries began to wait (outbox queued_at): their
		 * pending age survives a restart */
		r = jadd(payload, "queued_at",
		    json_object_new_int64(now.wall_utc_s));
	}
	if (r == 0) {
		foreach_body(payload, resolve_one, request_daemon(req));
	}
	if (r == 0 && request_arg_bool(req, "dry_run", false)) {
		dry_run_begin(req, payload); /* journals nothing */
		return;
	}
	journal_and_commit(req, r, type, payload, true, &e,
	    on_entries_committed);
}

static void
cmd_status(struct request *req)
{
	struct now now;

	if (!read_now(req, &now)) {
		return;
	}
	reply_or_oom(req, status_json(request_daemon(req), &now, true));
}

json_object *
cmd_timer_status(struct daemon *d)
{
	struct now now;
	struct errbuf e;

	errbuf_clear(&e);
	if (!d->ticker || ticker_now(d->ticker, &now, &e) < 0) {
		return NULL;
	}
	return status_json(d, &now, true);
}

/* list: the status with every timer, its fields included; a thousand
 * timers come in parts (cmd-more.h). status keeps to one line: a status
 * bar reads one. */
static void
cmd_list(struct request *req)
{
	struct now now;
	CLEANUP_JSON json_object *o = NULL;
	CLEANUP_JSON json_object *timers = NULL;

	if (!read_now(req, &now)) {
		return;
	}
	o = status_json(request_daemon(req), &now, false);
	if (!o || !json_object_object_get_ex(o, "timers", &timers)) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	json_object_get(timers);
	json_object_object_del(o, "timers");
	request_reply_list(req, TAKE_PTR(o), "timers", timers);
}

/* ---- queue and recent: read-only views of the outbox ---- */

/* The canonical target of a ConnectWise body, or "" when it has none. */
static const char *
body_target(json_object *body, char buf[TARGET_STR_MAX])
{
	json_object *v = NULL, *co = NULL;
	const char *type = jsonutil_str(body, "chargeToType");
	struct target tg;

	buf[0] = '\0';
	memset(&tg, 0, sizeof(tg));
	tg.type = type ? target_type_from_charge_name(type) : TARGET_INVALID;
	if (tg.type == TARGET_INVALID) {
		return buf;
	}
	if (json_object_object_get_ex(body, "chargeToId", &v) &&
	    json_object_is_type(v, json_type_int)) {
		tg.id = json_object_get_int64(v);
	} else if (tg.type == TARGET_COMPANY &&
	    json_object_object_get_ex(body, "company", &co) && jsonutil_str(co,
	    "identifier")) {
		snprintf(tg.ident, sizeof(tg.ident), "%s",
		    jsonutil_str(co, "identifier"));
	} else {
		return buf;
	}
	return target_format(&tg, buf);
}

static json_object *
outbox_entry_json(const struct outbox_entry *oe)
{
	json_object *o = json_object_new_object();
	char tgt[TARGET_STR_MAX];

	if (!o) {
		return NULL;
	}
	json_object_object_add(o, "uuid", json_object_new_string(oe->uuid));
	json_object_object_add(o, "state",
	    json_object_new_string(outbox_state_name(oe->state)));
	json_object_object_add(o, "target",
	    json_object_new_string(body_target(oe->body, tgt)));
	json_object_object_add(o, "attempts",
	    json_object_new_int64((int64_t) oe->attempts));
	if (oe->remote_id > 0) {
		json_object_object_add(o, "id",
		    json_object_new_int64(oe->remote_id));
	}
	json_object_object_add(o, "seq",
	    json_object_new_int64((int64_t) oe->seq_created));
	json_object_object_add(o, "entry", json_object_get(oe->body));
	if (oe->last_error) {
		json_object_object_add(o, "last_error",
		    json_object_get(oe->last_error));
	}
	return o;
}

static void
cmd_queue(struct request *req)
{
	struct daemon *d = request_daemon(req);
	const struct outbox *ob = &d->state.outbox;
	bool all = request_arg_bool(req, "all", false);
	CLEANUP_JSON json_object *o = json_object_new_object();
	CLEANUP_JSON json_object *arr = json_object_new_array();
	struct now now;

	if (!read_now(req, &now)) {
		return;
	}
	if (!o || !arr) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	for (size_t i = 0; i < ob->n_entries; i++) {
		const struct outbox_entry *oe = ob->entries[i];
		json_object *one;

		if (!all && (oe->state == OUTBOX_SUBMITTED ||
		    oe->state == OUTBOX_DISCARDED)) {
			continue;
		}
		one = outbox_entry_json(oe);
		if (!one || json_object_array_add(arr, one) < 0) {
			json_object_put(one);
			request_failf(req, ERR_INTERNAL, NULL, "out of memory");
			return;
		}
	}
	json_object_object_add(o, "queue", queue_counts(ob, now.wall_utc_s));
	json_object_object_add(o, "paused",
	    json_object_new_boolean(ob->paused));
	if (ob->paused) {
		json_object_object_add(o, "pause_reason",
		    json_object_new_string(ob->pause_reason));
	}
	json_object_object_add(o, "submission", submission_json(d));
	/* a long queue (a week offline) comes in parts: cmd-more.h */
	request_reply_list(req, TAKE_PTR(o), "entries", arr);
}

/* Adds target to the recent list unless present. */
static int
recent_add(json_object *arr, const char *target, const char *summary,
    const char *source, int64_t limit)
{
	json_object *one;

	if (!target[0] || (int64_t) json_object_array_length(arr) >= limit) {
		return 0;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		if (strcmp(jsonutil_str(
			       json_object_array_get_idx(arr, i), "target"),
			target) == 0) {
			return 0;
		}
	}
	one = json_object_new_object();
	if (!one) {
		return -ENOMEM;
	}
	json_object_object_add(one, "target", json_object_new_string(target));
	/* a timer's summary from its start's lookup; entries have none */
	json_object_object_add(one, "summary",
	    json_object_new_string(summary ? summary : ""));
	json_object_object_add(one, "source", json_object_new_string(source));
	json_object_array_add(arr, one);
	return 0;
}

static int
cmp_last_used(const void *a, const void *b)
{
	const struct tracker_timer *const *x = a, *const *y = b;

	return (*x)->last_used < (*y)->last_used ? 1 :
	    (*x)->last_used > (*y)->last_used ? -1 : 0;
}

static void
cmd_recent(struct request *req)
{
	struct daemon *d = request_daemon(req);
	const struct tracker *tr = &d->state.tracker;
	const struct outbox *ob = &d->state.outbox;
	CLEANUP_JSON json_object *o = json_object_new_object();
	CLEANUP_FREE struct tracker_timer **tm = NULL;
	CLEANUP_JSON json_object *arr = json_object_new_array();
	int64_t limit = CMD_TIMER_RECENT_DEFAULT;
	char tgt[TARGET_STR_MAX];
	int r = 0;

	if (!o || !arr) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	/* arr goes out in parts when a thousand summaries pass the line
	 * (cmd-more.h) */
	if (request_arg_int(req, "limit", &limit) && (limit < 1 ||
	    limit > 1000)) {
		request_failf(req, ERR_BAD_ARGUMENT, "limit",
		    "--limit is 1 to 1000");
		return;
	}
	/* timers first, most recently touched first; then finished entries,
	 * newest first */
	if (tr->n_timers > 0) {
		tm = calloc(tr->n_timers, sizeof(*tm));
		if (!tm) {
			request_failf(req, ERR_INTERNAL, NULL, "out of memory");
			return;
		}
		memcpy(tm, tr->timers, tr->n_timers * sizeof(*tm));
		qsort(tm, tr->n_timers, sizeof(*tm), cmp_last_used);
	}
	for (size_t i = 0; r == 0 && i < tr->n_timers; i++) {
		r = recent_add(arr, tm[i]->key, tm[i]->summary, "timer",
		    limit);
	}
	for (size_t i = ob->n_entries; r == 0 && i > 0; i--) {
		r = recent_add(arr, body_target(ob->entries[i - 1]->body, tgt),
		    NULL, "entry", limit);
	}
	if (r < 0) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	request_reply_list(req, TAKE_PTR(o), "recent", arr);
}

/* ---- the table ---- */

/* The options of an entry template, as client/cmds.c sends them
 * (entry_opts), plus company and member which ConnectWise accepts. */
#define ENTRY_PARAMS                                                          \
	{ "work_type", PARAM_STRING, 0 }, { "role", PARAM_STRING, 0 },       \
	    { "billing", PARAM_STRING, 0 }, { "notes", PARAM_STRING, 0 },    \
	    { "internal_notes", PARAM_STRING, 0 },                            \
	    { "agreement", PARAM_INT, 0 }, { "add_to", PARAM_STRING, 0 },    \
	    { "email", PARAM_STRING, 0 }, { "email_cc", PARAM_STRING, 0 },   \
	    { "company", PARAM_STRING, 0 }, { "member", PARAM_STRING, 0 }

static const struct param_spec start_params[] = {
	{ "target", PARAM_STRING, PARAM_REQUIRED },
	{ "at", PARAM_INT, 0 },
	{ "ago_s", PARAM_INT, 0 },
	ENTRY_PARAMS,
	{ NULL, 0, 0 },
};

static const struct param_spec stop_params[] = {
	{ "target", PARAM_STRING, 0 },
	{ "all", PARAM_BOOL, 0 },
	{ "notes", PARAM_STRING, 0 },
	{ "at", PARAM_INT, 0 },
	{ "ago_s", PARAM_INT, 0 },
	{ "at_heartbeat", PARAM_BOOL, 0 },
	{ "submit", PARAM_BOOL, 0 },
	{ NULL, 0, 0 },
};

static const struct param_spec target_opt_params[] = {
	{ "target", PARAM_STRING, 0 },
	{ NULL, 0, 0 },
};

static const struct param_spec target_req_params[] = {
	{ "target", PARAM_STRING, PARAM_REQUIRED },
	{ NULL, 0, 0 },
};

static const struct param_spec cancel_params[] = {
	{ "target", PARAM_STRING, 0 },
	{ "yes", PARAM_BOOL, 0 },
	{ NULL, 0, 0 },
};

static const struct param_spec set_params[] = {
	{ "target", PARAM_STRING, PARAM_REQUIRED },
	ENTRY_PARAMS,
	{ NULL, 0, 0 },
};

static const struct param_spec note_params[] = {
	{ "target", PARAM_STRING, PARAM_REQUIRED },
	{ "text", PARAM_STRING, PARAM_REQUIRED },
	{ NULL, 0, 0 },
};

static const struct param_spec adjust_params[] = {
	{ "target", PARAM_STRING, PARAM_REQUIRED },
	{ "start", PARAM_INT, PARAM_REQUIRED },
	{ NULL, 0, 0 },
};

static const struct param_spec log_params[] = {
	{ "target", PARAM_STRING, PARAM_REQUIRED },
	{ "duration_s", PARAM_INT, PARAM_REQUIRED },
	{ "at", PARAM_INT, 0 },
	{ "dry_run", PARAM_BOOL, 0 },
	ENTRY_PARAMS,
	{ NULL, 0, 0 },
};

static const struct param_spec recent_params[] = {
	{ "limit", PARAM_INT, 0 },
	{ NULL, 0, 0 },
};

static const struct param_spec queue_params[] = {
	{ "all", PARAM_BOOL, 0 },
	{ NULL, 0, 0 },
};

static const struct cmd timer_cmds[] = {
	/* keep sorted by name */
	{ "adjust", cmd_adjust, CMD_MUTATES, adjust_params },
	{ "cancel", cmd_cancel, CMD_MUTATES, cancel_params },
	{ "list", cmd_list, 0, NULL },
	{ "log", cmd_log, CMD_MUTATES, log_params },
	{ "note", cmd_note, CMD_MUTATES, note_params },
	{ "pause", cmd_pause, CMD_MUTATES, target_opt_params },
	{ "queue", cmd_queue, 0, queue_params },
	{ "recent", cmd_recent, 0, recent_params },
	{ "resume", cmd_resume, CMD_MUTATES, target_opt_params },
	{ "set", cmd_set, CMD_MUTATES, set_params },
	{ "start", cmd_start, CMD_MUTATES, start_params },
	{ "status", cmd_status, 0, NULL },
	{ "stop", cmd_stop, CMD_MUTATES, stop_params },
	{ "switch", cmd_switch, CMD_MUTATES, target_req_params },
	{ "toggle", cmd_toggle, CMD_MUTATES, target_opt_params },
};

const struct cmd_table cmd_timer_table = {
	timer_cmds,
	ARRAY_SIZE(timer_cmds),
};
