/*
 * print-timers.c - what cwtimectl prints for the timer verbs: one or two
 * short lines for start, stop, pause, resume, toggle, switch, cancel,
 * set, note, adjust and log, and tables for list, queue and recent.
 *
 * Job: read the daemon's reply (shapes in print-timers.h, made by
 * src/daemon/cmd-timer.c) and say what happened in words a person checks
 * at a glance: the target, the time so far, what was queued. Invariants:
 * pure apart from reading the TZ for local clock times (no clock read:
 * every number comes from the reply), every line ends in '\n', and a
 * reply of an unexpected shape gives NULL so that the generic printer
 * shows everything instead of a wrong summary. Never prints.
 */
#include "client/print-timers.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "client/textbuf.h"
#include "common/duration.h"
#include "common/jsonutil.h"
#include "common/timeparse.h"

/* Notes and summaries are cut to this many bytes in one-line output. */
#define PT_TEXT_MAX 60
/* Table cells: longer text is cut (the last column is never padded). */
#define PT_CELL 200
#define PT_COLS 6

/* ---- reading the reply ---- */

static int64_t
jint(json_object *o, const char *key)
{
	int64_t v = 0;

	(void) jsonutil_get_i64(o, key, &v);
	return v;
}

/* The timer of the status result named target, or NULL. */
static json_object *
find_timer(json_object *result, const char *target)
{
	json_object *timers = jsonutil_get_array(result, "timers");
	size_t n = timers ? json_object_array_length(timers) : 0;

	for (size_t i = 0; target && i < n; i++) {
		json_object *t = json_object_array_get_idx(timers, i);
		const char *tg = jsonutil_str(t, "target");

		if (tg && strcmp(tg, target) == 0) {
			return t;
		}
	}
	return NULL;
}

/* ---- formatting ---- */

static const char *
hm(int64_t s, char buf[DURATION_FORMAT_MAX])
{
	if (duration_format(s, buf, DURATION_FORMAT_MAX) < 0) {
		snprintf(buf, DURATION_FORMAT_MAX, "?");
	}
	return buf;
}

enum pt_when {
	PT_HM,	  /* "09:14" */
	PT_MD_HM, /* "11-29 09:14" */
};

/* A Unix time as local clock time. */
static const char *
local(int64_t t, enum pt_when how, char *buf, size_t n)
{
	time_t tt = (time_t) t;
	struct tm tm;
	size_t k = 0;

	if (localtime_r(&tt, &tm)) {
		k = how == PT_MD_HM ? strftime(buf, n, "%m-%d %H:%M", &tm)
				    : strftime(buf, n, "%H:%M", &tm);
	}
	if (k == 0) {
		snprintf(buf, n, "?");
	}
	return buf;
}

/* Copies text into buf on one line: control characters become spaces,
 * and more than max bytes are cut at a character boundary with "...". */
static const char *
one_line(const char *text, size_t max, char *buf, size_t n)
{
	size_t len = 0, i;

	if (max + 4 > n) {
		max = n - 4;
	}
	for (i = 0; text[i] && len < max; i++) {
		unsigned char c = (unsigned char) text[i];

		buf[len++] = c < 0x20 || c == 0x7f ? ' ' : (char) c;
	}
	if (text[i]) {
		/* do not leave half of a UTF-8 sequence behind */
		while (
		    len > 0 && ((unsigned char) buf[len - 1] & 0xc0) == 0x80) {
			len--;
		}
		if (len > 0 && ((unsigned char) buf[len - 1] & 0xc0) == 0xc0) {
			len--;
		}
		memcpy(buf + len, "...", 3);
		len += 3;
	}
	buf[len] = '\0';
	return buf;
}

/* Columns on screen: UTF-8 continuation bytes take none. */
static size_t
cols(const char *s)
{
	size_t n = 0;

	for (; *s; s++) {
		n += ((unsigned char) *s & 0xc0) != 0x80;
	}
	return n;
}

/* ---- one-line replies ---- */

/* " (summary)" when the timer has one. */
static void
add_summary(struct textbuf *b, json_object *timer)
{
	const char *s = jsonutil_str(timer, "summary");
	char buf[PT_TEXT_MAX + 4];

	if (s && s[0]) {
		textbuf_addf(
		    b, " (%s)", one_line(s, PT_TEXT_MAX, buf, sizeof(buf)));
	}
}

static void
add_started(struct textbuf *b, json_object *res, const char *target)
{
	json_object *t = find_timer(res, target);
	json_object *checked = jsonutil_get(res, "ticket_checked");
	const char *warning = jsonutil_str(res, "warning");
	char when[16], el[DURATION_FORMAT_MAX];
	int64_t start;

	textbuf_addf(b, "started %s", target);
	add_summary(b, t);
	if (jsonutil_get_i64(t, "start", &start)) {
		textbuf_addf(
		    b, " at %s", local(start, PT_HM, when, sizeof(when)));
	}
	if (jint(t, "elapsed_s") > 0) {
		/* --ago, or a timer that already had time */
		textbuf_addf(b, ", %s so far", hm(jint(t, "elapsed_s"), el));
	}
	textbuf_addn(b, "\n", 1);
	if (warning && (!checked || !json_object_get_boolean(checked))) {
		textbuf_addf(b, "warning: %s\n", warning);
	}
}

/* "paused ticket:54321 at 0:42" (verb NULL: from the timer's state). */
static void
add_state(struct textbuf *b, json_object *res, const char *target,
    const char *verb)
{
	json_object *t = find_timer(res, target);
	const char *state = jsonutil_str(t, "state");
	char el[DURATION_FORMAT_MAX];

	if (!verb) {
		verb = state && strcmp(state, "running") == 0 ? "resumed"
							      : "paused";
	}
	textbuf_addf(b, "%s %s", verb, target);
	if (t) {
		textbuf_addf(b, " at %s", hm(jint(t, "elapsed_s"), el));
	}
	textbuf_addn(b, "\n", 1);
}

/* The name of a reference field ({"name":..} or {"id":N}). */
static const char *
ref_name(json_object *ref, char *buf, size_t n)
{
	const char *s = jsonutil_str(ref, "name");
	int64_t id;

	if (!s) {
		s = jsonutil_str(ref, "identifier");
	}
	if (s) {
		return one_line(s, PT_TEXT_MAX, buf, n);
	}
	if (jsonutil_get_i64(ref, "id", &id)) {
		snprintf(buf, n, "%" PRId64, id);
		return buf;
	}
	return NULL;
}

static void
add_set(struct textbuf *b, json_object *res, const char *target)
{
	json_object *f = jsonutil_get(find_timer(res, target), "fields");
	static const struct {
		const char *key, *label;
	} refs[] = {
	    {"workType", "work type"},
	    {"workRole", "role"},
	    {"agreement", "agreement"},
	    {"company", "company"},
	    {"member", "member"},
	};
	const char *sep = ": ";
	char buf[PT_TEXT_MAX + 4];

	textbuf_addf(b, "updated %s", target);
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		const char *name = ref_name(jsonutil_get(f, refs[i].key), buf,
		    sizeof(buf));

		if (name) {
			textbuf_addf(b, "%s%s %s", sep, refs[i].label, name);
			sep = ", ";
		}
		if (i == 1 && jsonutil_str(f, "billableOption")) {
			textbuf_addf(b, "%sbilling %s", sep,
			    one_line(jsonutil_str(f, "billableOption"),
				PT_TEXT_MAX, buf, sizeof(buf)));
			sep = ", ";
		}
	}
	textbuf_addn(b, "\n", 1);
}

static void
add_note(struct textbuf *b, json_object *res, const char *target)
{
	const char *notes = jsonutil_str(
	    jsonutil_get(find_timer(res, target), "fields"), "notes");
	char buf[PT_TEXT_MAX + 4];

	textbuf_addf(b, "notes of %s: %s\n", target,
	    notes ? one_line(notes, PT_TEXT_MAX, buf, sizeof(buf)) : "");
}

static void
add_adjust(struct textbuf *b, json_object *res, const char *target)
{
	json_object *t = find_timer(res, target);
	char when[16], el[DURATION_FORMAT_MAX];
	int64_t start;

	if (!jsonutil_get_i64(t, "start", &start)) {
		textbuf_addf(b, "adjusted %s\n", target);
		return;
	}
	textbuf_addf(b, "%s now started at %s, %s so far\n", target,
	    local(start, PT_HM, when, sizeof(when)),
	    hm(jint(t, "elapsed_s"), el));
}

/* "stopped ticket:54321: 1:25 worked, 0:15 deducted, billed 1:30
 * (09:00-10:45) -> queued 3f2a9c1e" for one timer of a stop, or a log. */
static void
add_entries(struct textbuf *b, const char *verb, const char *target,
    json_object *one, bool dry_run)
{
	json_object *entries = jsonutil_get_array(one, "entries");
	size_t n = entries ? json_object_array_length(entries) : 0;
	int64_t deduct = 0, billed = 0, first = 0, last = 0;
	char el[DURATION_FORMAT_MAX], a[16], z[16];

	textbuf_addf(b, "%s %s: %s worked", verb, target,
	    hm(jint(jsonutil_get(one, "raw"), "worked_s"), el));
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(entries, i);

		deduct += jint(e, "deduct_s");
		billed += jint(e, "billed_s");
		if (i == 0) {
			first = jint(e, "start");
		}
		last = jint(e, "end");
	}
	if (n == 0) {
		textbuf_addn(b, ", nothing to queue\n", 19);
		return;
	}
	if (deduct > 0) {
		textbuf_addf(b, ", %s deducted", hm(deduct, el));
	}
	textbuf_addf(b, ", billed %s (%s-%s)", hm(billed, el),
	    local(first, PT_HM, a, sizeof(a)),
	    local(last, PT_HM, z, sizeof(z)));
	if (dry_run) {
		/* a preview: the UUIDs are thrown away with it */
		textbuf_addf(b, ", not queued (dry run)\n");
		return;
	}
	textbuf_addn(b, " -> queued ", 11);
	for (size_t i = 0; i < n; i++) {
		const char *u =
		    jsonutil_str(json_object_array_get_idx(entries, i), "uuid");

		/* 8 characters: what queue shows and retry/edit/drop take */
		textbuf_addf(b, "%s%.8s", i ? ", " : "", u ? u : "?");
	}
	textbuf_addn(b, "\n", 1);
}

static bool
add_stop(struct textbuf *b, json_object *res)
{
	json_object *timers = jsonutil_get_array(res, "timers");
	size_t n = timers ? json_object_array_length(timers) : 0;
	const char *submit = jsonutil_str(res, "submit");

	if (!timers && json_object_get_boolean(
	    jsonutil_get(res, "entries_omitted"))) {
		/* more entries than a reply line can name (cwtimed-ipc(7)) */
		textbuf_addf(b, "stopped; %" PRId64 " entries are pending: "
		    "'cwtimectl queue' lists them\n",
		    jint(jsonutil_get(res, "queue"), "pending"));
		return true;
	}
	if (!timers) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(timers, i);
		const char *target = jsonutil_str(t, "target");

		add_entries(b, "stopped", target ? target : "?", t, false);
	}
	if (n == 0) {
		textbuf_addn(b, "no timer was stopped\n", 21);
	}
	if (submit) {
		textbuf_addf(b, "note: %s\n", submit);
	}
	return true;
}

/* ---- tables ---- */

struct pt_table {
	size_t ncols;
	size_t width[PT_COLS];
	unsigned right; /* bit i: right-align column i */
};

/* Adds one row; pass 0 only measures. The last column is not padded and
 * trailing blanks are dropped. */
static void
table_row(struct textbuf *b, struct pt_table *t, char cells[][PT_CELL],
    bool measure)
{
	size_t last = 0;

	for (size_t i = 0; i < t->ncols; i++) {
		if (measure) {
			size_t w = cols(cells[i]);

			if (w > t->width[i]) {
				t->width[i] = w;
			}
		}
		if (cells[i][0]) {
			last = i;
		}
	}
	if (measure) {
		return;
	}
	for (size_t i = 0; i <= last; i++) {
		size_t pad = t->width[i] - cols(cells[i]);

		if (i > 0) {
			textbuf_addn(b, "  ", 2);
		}
		if (t->right & (1u << i)) {
			for (size_t k = 0; k < pad; k++) {
				textbuf_addn(b, " ", 1);
			}
		}
		textbuf_addn(b, cells[i], strlen(cells[i]));
		if (!(t->right & (1u << i)) && i < last) {
			for (size_t k = 0; k < pad; k++) {
				textbuf_addn(b, " ", 1);
			}
		}
	}
	textbuf_addn(b, "\n", 1);
}

/* list: "  TARGET  STATE  ELAPSED  SINCE  SUMMARY", '*' on the focus. */
static void
list_cells(json_object *t, char c[][PT_CELL])
{
	const char *state = jsonutil_str(t, "state"),
		   *why = jsonutil_str(t, "pause_reason");
	json_object *focus = jsonutil_get(t, "focus");
	char el[DURATION_FORMAT_MAX];
	int64_t start;

	char tg[PT_CELL - 8];

	/* the mark and the target share a cell: "* ticket:54321" */
	one_line(jsonutil_str(t, "target") ? jsonutil_str(t, "target") : "?",
	    100, tg, sizeof(tg));
	snprintf(c[0], PT_CELL, "%s %s",
	    focus && json_object_get_boolean(focus) ? "*" : " ", tg);
	if (why && why[0]) {
		snprintf(c[1], PT_CELL, "%s (%.40s)", state ? state : "?", why);
	} else {
		snprintf(c[1], PT_CELL, "%s", state ? state : "?");
	}
	snprintf(c[2], PT_CELL, "%s", hm(jint(t, "elapsed_s"), el));
	if (jsonutil_get_i64(t, "start", &start)) {
		local(start, PT_HM, c[3], PT_CELL);
	} else {
		c[3][0] = '\0';
	}
	one_line(jsonutil_str(t, "summary") ? jsonutil_str(t, "summary") : "",
	    PT_TEXT_MAX, c[4], PT_CELL);
}

static bool
add_list(struct textbuf *b, json_object *res)
{
	static const char *const head[] = {"  TARGET", "STATE", "ELAPSED",
	    "SINCE", "SUMMARY"};
	json_object *timers = jsonutil_get_array(res, "timers");
	size_t n = timers ? json_object_array_length(timers) : 0;
	struct pt_table t = {.ncols = 5, .right = 1u << 2};
	char c[PT_COLS][PT_CELL];

	if (!timers) {
		return false;
	}
	if (n == 0) {
		textbuf_addn(b, "no timers\n", 10);
		return true;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < t.ncols; k++) {
			snprintf(c[k], PT_CELL, "%s", head[k]);
		}
		table_row(b, &t, c, pass == 0);
		for (size_t i = 0; i < n; i++) {
			list_cells(json_object_array_get_idx(timers, i), c);
			table_row(b, &t, c, pass == 0);
		}
	}
	if (jint(res, "timers_omitted") > 0) {
		textbuf_addf(b, "(%" PRId64 " more timers not shown)\n",
		    jint(res, "timers_omitted"));
	}
	return true;
}

/* What became of a queued entry: its ConnectWise id, or why not. */
static void
queue_result(json_object *e, char *buf, size_t n)
{
	json_object *le = jsonutil_get(e, "last_error");
	const char *msg = jsonutil_str(le, "message"),
		   *field = jsonutil_str(le, "field");
	int64_t id, status;
	char tmp[PT_CELL];

	if (jsonutil_get_i64(e, "id", &id)) {
		snprintf(buf, n, "id %" PRId64, id);
		return;
	}
	if (!le) {
		buf[0] = '\0';
		return;
	}
	if (!msg) {
		msg = jsonutil_str(le, "detail");
	}
	if ((!msg || !msg[0]) && jsonutil_get_i64(le, "status", &status)) {
		snprintf(tmp, sizeof(tmp), "HTTP %" PRId64, status);
		msg = tmp;
	} else if (!msg || !msg[0]) {
		msg = jsonutil_str(le, "curl") ? jsonutil_str(le, "curl")
					       : "failed";
	}
	one_line(msg, 100, buf, n);
	if (field && field[0]) {
		size_t l = strlen(buf);

		snprintf(buf + l, n - l, " (field %.40s)", field);
	}
}

static void
queue_cells(json_object *e, char c[][PT_CELL])
{
	json_object *entry = jsonutil_get(e, "entry"),
		    *h = jsonutil_get(entry, "actualHours");
	const char *uuid = jsonutil_str(e, "uuid"),
		   *ts = jsonutil_str(entry, "timeStart");
	int64_t t;

	snprintf(c[0], PT_CELL, "%.8s", uuid ? uuid : "?");
	snprintf(c[1], PT_CELL, "%s",
	    jsonutil_str(e, "state") ? jsonutil_str(e, "state") : "?");
	one_line(jsonutil_str(e, "target") ? jsonutil_str(e, "target") : "", 60,
	    c[2], PT_CELL);
	if (ts && timeparse_parse_iso(ts, &t, NULL) == 0) {
		local(t, PT_MD_HM, c[3], PT_CELL);
	} else {
		c[3][0] = '\0';
	}
	if (h && (json_object_is_type(h, json_type_double) ||
	    json_object_is_type(h, json_type_int))) {
		snprintf(c[4], PT_CELL, "%.2f", json_object_get_double(h));
	} else {
		c[4][0] = '\0';
	}
	queue_result(e, c[5], PT_CELL);
}

static bool
add_queue(struct textbuf *b, json_object *res)
{
	static const char *const head[PT_COLS] = {"ID", "STATE", "TARGET",
	    "START", "HOURS", "RESULT"};
	json_object *entries = jsonutil_get_array(res, "entries");
	json_object *sub = jsonutil_get(res, "submission"),
		    *paused = jsonutil_get(res, "paused");
	size_t n = entries ? json_object_array_length(entries) : 0;
	bool truncated = json_object_get_boolean(jsonutil_get(res, "truncated"));
	struct pt_table t = {.ncols = PT_COLS, .right = 1u << 4};
	const char *state = jsonutil_str(sub, "state"),
		   *why = jsonutil_str(sub, "reason");
	char c[PT_COLS][PT_CELL];

	if (!entries) {
		return false;
	}
	if (n == 0 && !truncated) {
		textbuf_addn(b, "queue empty\n", 12);
	}
	for (int pass = 0; n > 0 && pass < 2; pass++) {
		for (size_t k = 0; k < PT_COLS; k++) {
			snprintf(c[k], PT_CELL, "%s", head[k]);
		}
		table_row(b, &t, c, pass == 0);
		for (size_t i = 0; i < n; i++) {
			queue_cells(json_object_array_get_idx(entries, i), c);
			table_row(b, &t, c, pass == 0);
		}
	}
	/* cwtimectl reads every part of a long queue (cwtimed-ipc(7),
	 * "more"); a reply that is still short of the list says so */
	if (truncated) {
		textbuf_addf(b, "(only the first %zu entries are shown)\n", n);
	}
	/* why nothing moves, when it does not */
	if (paused && json_object_get_boolean(paused)) {
		const char *pr = jsonutil_str(res, "pause_reason");
		char buf[PT_TEXT_MAX * 2 + 4];

		textbuf_addf(b,
		    "submission paused%s%s; 'cwtimectl queue resume' "
		    "resumes it\n",
		    pr && pr[0] ? ": " : "",
		    pr ? one_line(pr, PT_TEXT_MAX * 2, buf, sizeof(buf)) : "");
	} else if (state && strcmp(state, "ok") != 0) {
		char buf[PT_TEXT_MAX * 2 + 4];

		textbuf_addf(b, "submission %s%s%s\n", state,
		    why && why[0] ? ": " : "",
		    why ? one_line(why, PT_TEXT_MAX * 2, buf, sizeof(buf))
			: "");
	}
	return true;
}

/* recent: "TARGET  SUMMARY", the target first so a picker can cut it. */
static bool
add_recent(struct textbuf *b, json_object *res)
{
	json_object *arr = jsonutil_get_array(res, "recent");
	size_t n = arr ? json_object_array_length(arr) : 0;
	struct pt_table t = {.ncols = 2};
	char c[PT_COLS][PT_CELL];

	if (!arr) {
		return false;
	}
	if (n == 0) {
		textbuf_addn(b, "no recent targets\n", 18);
		return true;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			json_object *r = json_object_array_get_idx(arr, i);

			one_line(jsonutil_str(r, "target")
				? jsonutil_str(r, "target")
				: "?",
			    60, c[0], PT_CELL);
			one_line(jsonutil_str(r, "summary")
				? jsonutil_str(r, "summary")
				: "",
			    PT_TEXT_MAX, c[1], PT_CELL);
			table_row(b, &t, c, pass == 0);
		}
	}
	return true;
}

/* ---- dispatch ---- */

char *
print_timers_result(const char *wire, json_object *result)
{
	struct textbuf b = {.ok = true};
	const char *target = jsonutil_str(result, "target");
	json_object *dry = jsonutil_get(result, "dry_run");
	bool done = true;

	if (!wire || !result ||
	    !json_object_is_type(result, json_type_object)) {
		return NULL;
	}
	if (strcmp(wire, "list") == 0) {
		done = add_list(&b, result);
	} else if (strcmp(wire, "queue") == 0) {
		done = add_queue(&b, result);
	} else if (strcmp(wire, "recent") == 0) {
		done = add_recent(&b, result);
	} else if (strcmp(wire, "stop") == 0) {
		done = add_stop(&b, result);
	} else if (!target) {
		done = false; /* every other verb names its timer */
	} else if (strcmp(wire, "start") == 0) {
		add_started(&b, result, target);
	} else if (strcmp(wire, "pause") == 0) {
		add_state(&b, result, target, "paused");
	} else if (strcmp(wire, "resume") == 0) {
		add_state(&b, result, target, "resumed");
	} else if (strcmp(wire, "toggle") == 0) {
		add_state(&b, result, target, NULL);
	} else if (strcmp(wire, "switch") == 0) {
		add_state(&b, result, target, "switched to");
	} else if (strcmp(wire, "cancel") == 0) {
		textbuf_addf(
		    &b, "cancelled %s: its time was discarded\n", target);
	} else if (strcmp(wire, "set") == 0) {
		add_set(&b, result, target);
	} else if (strcmp(wire, "note") == 0) {
		add_note(&b, result, target);
	} else if (strcmp(wire, "adjust") == 0) {
		add_adjust(&b, result, target);
	} else if (strcmp(wire, "log") == 0) {
		bool d = dry && json_object_get_boolean(dry);

		add_entries(&b, d ? "would log" : "logged", target, result, d);
	} else {
		done = false;
	}
	if (done && (strcmp(wire, "stop") == 0 || strcmp(wire, "log") == 0)) {
		/* a work type or role name the daemon knows to be wrong: the
		 * entry is kept, rejected before it is sent (cwtimed) */
		json_object *w = jsonutil_get_array(result, "warnings");

		for (size_t i = 0; w && i < json_object_array_length(w); i++) {
			json_object *s = json_object_array_get_idx(w, i);

			if (json_object_is_type(s, json_type_string)) {
				textbuf_addf(&b,
				    "warning: %s; the entry will be "
				    "rejected: fix it with 'cwtimectl queue "
				    "edit'\n",
				    json_object_get_string(s));
			}
		}
	}
	if (!done) {
		free(b.s);
		return NULL;
	}
	return textbuf_take(&b);
}
