/*
 * output.c - status formats, templates and the generic result printer.
 *
 * Job: turn a status result (the shape is documented in output.h and
 * cwtimectl(1)) into the exact bytes a status bar expects. Invariants:
 * pure (no I/O, no clock: elapsed times come from the daemon), every
 * output ends in one newline, and markup escaping (Pango for waybar)
 * applies to data, never to the user's template text.
 */
#include "client/output.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "client/textbuf.h"
#include "common/cleanup.h"
#include "common/duration.h"
#include "common/errcode.h"
#include "common/jsonutil.h"

/* Appends s escaped for Pango markup. */
static void
add_pango(struct textbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			textbuf_add(b, "&amp;");
			break;
		case '<':
			textbuf_add(b, "&lt;");
			break;
		case '>':
			textbuf_add(b, "&gt;");
			break;
		case '\'':
			textbuf_add(b, "&#39;");
			break;
		case '"':
			textbuf_add(b, "&quot;");
			break;
		default:
			textbuf_addn(b, s, 1);
		}
	}
}

static const char *const format_names[] = {
    [OUTPUT_HUMAN] = "human",
    [OUTPUT_PLAIN] = "plain",
    [OUTPUT_JSON] = "json",
    [OUTPUT_WAYBAR] = "waybar",
    [OUTPUT_I3BLOCKS] = "i3blocks",
    [OUTPUT_POLYBAR] = "polybar",
    [OUTPUT_TMUX] = "tmux",
    [OUTPUT_I3BLOCKS_JSON] = "i3blocks-json",
};

enum output_format
output_format_from_name(const char *name)
{
	if (!name) {
		return OUTPUT_HUMAN;
	}
	for (int f = OUTPUT_PLAIN; f < OUTPUT_INVALID; f++) {
		if (strcasecmp(name, format_names[f]) == 0) {
			return (enum output_format) f;
		}
	}
	return OUTPUT_INVALID;
}

/* --- the status model ---------------------------------------------------- */

enum state {
	STATE_RUNNING,
	STATE_PAUSED,
	STATE_IDLE,
	STATE_OFFLINE,
	STATE_ERROR,
};

static const char *const state_names[] = {
    [STATE_RUNNING] = "running",
    [STATE_PAUSED] = "paused",
    [STATE_IDLE] = "idle",
    [STATE_OFFLINE] = "offline",
    [STATE_ERROR] = "error",
};

static const char *const state_colours[] = {
    [STATE_RUNNING] = "#A3BE8C",
    [STATE_PAUSED] = "#EBCB8B",
    [STATE_IDLE] = "",
    [STATE_OFFLINE] = "#808080",
    [STATE_ERROR] = "#BF616A",
};

struct view {
	json_object *result; /* borrowed; NULL when offline or failed */
	const char *errmsg;  /* the failed request's message */
	json_object *timers; /* borrowed array or NULL */
	json_object *focus;  /* borrowed timer or NULL */
	enum state state;
	int64_t pending, unknown, rejected, max_duration_s;
	const char *submission, *reason;
};

/* A string member, or "" (numbers are shown as text). */
static const char *
get_str(json_object *o, const char *key)
{
	json_object *v = jsonutil_get(o, key);

	if (!v || json_object_is_type(v, json_type_null)) {
		return "";
	}
	if (json_object_is_type(v, json_type_string)) {
		return json_object_get_string(v);
	}
	if (json_object_is_type(v, json_type_int)) {
		return json_object_get_string(v);
	}
	return "";
}

static int64_t
get_int(json_object *o, const char *key)
{
	json_object *v = jsonutil_get(o, key);

	if (!v ||
	    !(json_object_is_type(v, json_type_int) ||
		json_object_is_type(v, json_type_double))) {
		return 0;
	}
	return json_object_get_int64(v);
}

static void
view_init(struct view *v, json_object *result, const char *errmsg)
{
	memset(v, 0, sizeof(*v));
	v->result = result;
	v->errmsg = errmsg;
	v->submission = "";
	v->reason = "";
	if (!result) {
		v->state = errmsg ? STATE_ERROR : STATE_OFFLINE;
		return;
	}
	v->timers = jsonutil_get(result, "timers");
	if (v->timers && !json_object_is_type(v->timers, json_type_array)) {
		v->timers = NULL;
	}
	size_t n = v->timers ? json_object_array_length(v->timers) : 0;

	for (size_t i = 0; i < n && !v->focus; i++) {
		json_object *t = json_object_array_get_idx(v->timers, i);

		if (jsonutil_is_true(t, "focus")) {
			v->focus = t;
		}
	}
	for (size_t i = 0; i < n && !v->focus; i++) {
		json_object *t = json_object_array_get_idx(v->timers, i);

		if (strcmp(get_str(t, "state"), "running") == 0) {
			v->focus = t;
		}
	}
	if (!v->focus && n > 0) {
		v->focus = json_object_array_get_idx(v->timers, 0);
	}
	json_object *q = jsonutil_get(result, "queue");
	json_object *sub = jsonutil_get(result, "submission");

	v->pending = get_int(q, "pending");
	v->unknown = get_int(q, "unknown");
	v->rejected = get_int(q, "rejected");
	v->submission = get_str(sub, "state");
	v->reason = get_str(sub, "reason");
	v->max_duration_s = get_int(result, "max_duration_s");

	if (strcmp(v->submission, "api-unreachable") == 0 || v->rejected > 0) {
		v->state = STATE_ERROR;
	} else if (!v->focus) {
		v->state = STATE_IDLE;
	} else if (strcmp(get_str(v->focus, "state"), "running") == 0) {
		v->state = STATE_RUNNING;
	} else {
		v->state = STATE_PAUSED;
	}
}

const char *
output_label(const char *target, char *buf, size_t n)
{
	const char *num = target;

	if (strncmp(target, "ticket:", 7) == 0) {
		num = target + 7;
	}
	bool digits = num[0] != '\0';

	for (const char *p = num; *p; p++) {
		if (*p < '0' || *p > '9') {
			digits = false;
		}
	}
	if (digits) {
		snprintf(buf, n, "#%s", num);
	} else {
		snprintf(buf, n, "%s", target);
	}
	return buf;
}

static int64_t
view_percentage(const struct view *v)
{
	if (!v->focus || v->max_duration_s <= 0) {
		return 0;
	}
	int64_t p = get_int(v->focus, "elapsed_s") * 100 / v->max_duration_s;

	return p < 0 ? 0 : p > 100 ? 100 : p;
}

/* The value of a template field into buf, or NULL when unknown. */
static const char *
field_value(
    const struct view *v, const char *name, size_t len, char *buf, size_t n)
{
	json_object *t = v->focus;

#define IS(s) (len == strlen(s) && strncmp(name, s, len) == 0)
	buf[0] = '\0';
	if (IS("target")) {
		return t ? get_str(t, "target") : "";
	} else if (IS("label")) {
		return t ? output_label(get_str(t, "target"), buf, n) : "";
	} else if (IS("summary")) {
		return t ? get_str(t, "summary") : "";
	} else if (IS("state")) {
		return state_names[v->state];
	} else if (IS("elapsed")) {
		if (t) {
			(void) duration_format(get_int(t, "elapsed_s"), buf,
			    n); /* DURATION_FORMAT_MAX fits */
		}
		return buf;
	} else if (IS("elapsed_s")) {
		if (t) {
			snprintf(buf, n, "%" PRId64, get_int(t, "elapsed_s"));
		}
		return buf;
	} else if (IS("pause_reason")) {
		return t ? get_str(t, "pause_reason") : "";
	} else if (IS("billing")) {
		return t ? get_str(t, "billable_option") : "";
	} else if (IS("work_type")) {
		return t ? get_str(t, "work_type") : "";
	} else if (IS("timers")) {
		snprintf(buf, n, "%zu",
		    v->timers ? json_object_array_length(v->timers) : 0);
		return buf;
	} else if (IS("queued")) {
		snprintf(buf, n, "%" PRId64, v->pending + v->unknown);
		return buf;
	} else if (IS("pending")) {
		snprintf(buf, n, "%" PRId64, v->pending);
		return buf;
	} else if (IS("unknown")) {
		snprintf(buf, n, "%" PRId64, v->unknown);
		return buf;
	} else if (IS("rejected")) {
		snprintf(buf, n, "%" PRId64, v->rejected);
		return buf;
	} else if (IS("submission")) {
		return v->submission;
	} else if (IS("reason")) {
		return v->errmsg ? v->errmsg : v->reason;
	} else if (IS("percentage")) {
		snprintf(buf, n, "%" PRId64, view_percentage(v));
		return buf;
	}
#undef IS
	return NULL;
}

/* Expands tmpl into b; field values are Pango-escaped when pango. Returns
 * 0 or -EINVAL (unknown field, stray brace) with *ret_bad at the fault. */
static int
expand(const struct view *v, const char *tmpl, bool pango, struct textbuf *b,
    const char **ret_bad)
{
	char buf[256];
	const char *p = tmpl;

	while (*p) {
		if (p[0] == '{' && p[1] == '{') {
			textbuf_add(b, "{");
			p += 2;
		} else if (p[0] == '}' && p[1] == '}') {
			textbuf_add(b, "}");
			p += 2;
		} else if (p[0] == '}') {
			*ret_bad = p;
			return -EINVAL;
		} else if (p[0] == '{') {
			const char *end = strchr(p, '}');
			const char *val;

			if (!end) {
				*ret_bad = p;
				return -EINVAL;
			}
			val = field_value(
			    v, p + 1, (size_t) (end - p - 1), buf, sizeof(buf));
			if (!val) {
				*ret_bad = p;
				return -EINVAL;
			}
			if (pango) {
				add_pango(b, val);
			} else {
				textbuf_add(b, val);
			}
			p = end + 1;
		} else {
			textbuf_addn(b, p, 1);
			p++;
		}
	}
	return 0;
}

int
output_template_check(const char *tmpl, struct errbuf *reterr)
{
	struct view v;
	struct textbuf b = {.ok = true};
	const char *bad = NULL;

	view_init(&v, NULL, NULL);
	int r = expand(&v, tmpl, false, &b, &bad);

	free(b.s);
	if (r < 0) {
		return errbuf_set(reterr, ERR_USAGE, r,
		    "--template: bad field or brace at '%.20s' (fields: "
		    "{target} {label} {summary} {state} {elapsed} {elapsed_s} "
		    "{pause_reason} {billing} {work_type} {timers} {queued} "
		    "{pending} {unknown} {rejected} {submission} {reason} "
		    "{percentage})",
		    bad);
	}
	return 0;
}

/* The one-line text. */
static void
add_text(struct textbuf *b, const struct view *v, const char *tmpl, bool pango)
{
	const char *bad;

	if (!v->focus) {
		textbuf_add(b, state_names[v->state]);
		return;
	}
	if (tmpl) {
		(void) expand(v, tmpl, pango, b, &bad); /* checked at parse */
		return;
	}
	(void) expand(v, "{label} {elapsed}", pango, b, &bad);
	if (strcmp(get_str(v->focus, "state"), "running") != 0) {
		textbuf_add(b, " paused");
	}
	if (v->state == STATE_ERROR) {
		textbuf_add(b, " !");
	}
}

/* The human lines (status without --format, and the waybar tooltip),
 * without the final newline. */
static void
add_human(struct textbuf *b, const struct view *v, bool marks)
{
	char label[128], el[DURATION_FORMAT_MAX];
	size_t n = v->timers ? json_object_array_length(v->timers) : 0;
	bool first = true;

	if (!v->result) {
		textbuf_add(
		    b, v->errmsg ? v->errmsg : "cwtimed is not running");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(v->timers, i);
		const char *st = get_str(t, "state");
		const char *why = get_str(t, "pause_reason");
		const char *sum = get_str(t, "summary");

		(void) duration_format(get_int(t, "elapsed_s"), el, sizeof(el));
		textbuf_addf(b, "%s%s%s %s %s", first ? "" : "\n",
		    marks ? (t == v->focus ? "* " : "  ") : "",
		    output_label(get_str(t, "target"), label, sizeof(label)),
		    el, st);
		if (strcmp(st, "paused") == 0 && why[0]) {
			textbuf_addf(b, " (%s)", why);
		}
		if (sum[0]) {
			textbuf_add(b, " ");
			textbuf_add(b, sum);
		}
		first = false;
	}
	if (n == 0) {
		textbuf_add(b, "no timers");
		first = false;
	}
	if (v->pending || v->unknown || v->rejected) {
		textbuf_addf(b,
		    "\nqueue: %" PRId64 " pending, %" PRId64
		    " unknown, %" PRId64 " rejected",
		    v->pending, v->unknown, v->rejected);
	}
	if (v->submission[0] && strcmp(v->submission, "ok") != 0) {
		textbuf_addf(b, "\nsubmission: %s", v->submission);
		if (v->reason[0]) {
			textbuf_add(b, ": ");
			textbuf_add(b, v->reason);
		}
	}
}

/* Adds "key":"value" JSON-escaped through json-c. */
static void
add_json_string(struct textbuf *b, const char *s)
{
	json_object *o = json_object_new_string(s);

	if (!o) {
		b->ok = false;
		return;
	}
	textbuf_add(b,
	    json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void
add_json(struct textbuf *b, const struct view *v, const char *tmpl)
{
	struct textbuf text = {.ok = true};
	CLEANUP_JSON json_object *out = json_object_new_object();
	CLEANUP_FREE char *t = NULL;

	add_text(&text, v, tmpl, false);
	t = textbuf_take(&text);
	if (!out || !t) {
		b->ok = false;
		return;
	}
	json_object_object_add(
	    out, "state", json_object_new_string(state_names[v->state]));
	json_object_object_add(out, "text", json_object_new_string(t));
	if (v->errmsg) {
		json_object_object_add(
		    out, "error", json_object_new_string(v->errmsg));
	}
	if (v->result && json_object_is_type(v->result, json_type_object)) {
		json_object_object_foreach(v->result, key, val)
		{
			if (strcmp(key, "state") != 0 &&
			    strcmp(key, "text") != 0) {
				json_object_object_add(
				    out, key, json_object_get(val));
			}
		}
	}
	textbuf_add(b,
	    json_object_to_json_string_ext(
		out, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void
add_waybar(struct textbuf *b, const struct view *v, const char *tmpl)
{
	struct textbuf text = {.ok = true}, tip = {.ok = true},
		       raw = {.ok = true};
	CLEANUP_FREE char *t = NULL, *tt = NULL, *r = NULL;

	add_text(&text, v, tmpl, true);
	add_human(&raw, v, false);
	r = textbuf_take(&raw);
	if (r) {
		add_pango(&tip, r);
	}
	t = textbuf_take(&text);
	tt = textbuf_take(&tip);
	if (!t || !tt) {
		b->ok = false;
		return;
	}
	textbuf_add(b, "{\"text\":");
	add_json_string(b, t);
	textbuf_add(b, ",\"alt\":");
	add_json_string(b, state_names[v->state]);
	textbuf_add(b, ",\"tooltip\":");
	add_json_string(b, tt);
	textbuf_add(b, ",\"class\":");
	add_json_string(b, state_names[v->state]);
	textbuf_addf(b, ",\"percentage\":%" PRId64 "}", view_percentage(v));
}

/* The short text of the i3blocks formats: {elapsed}, or the state word
 * without a timer. */
static void
add_short(struct textbuf *b, const struct view *v)
{
	char el[DURATION_FORMAT_MAX];

	if (v->focus) {
		(void) duration_format(
		    get_int(v->focus, "elapsed_s"), el, sizeof(el));
		textbuf_add(b, el);
	} else {
		textbuf_add(b, state_names[v->state]);
	}
}

/* i3blocks format=json: i3bar keys, "urgent" as a string (i3blocks 1.4
 * passes strings through and drops booleans). */
static void
add_i3blocks_json(struct textbuf *b, const struct view *v, const char *tmpl)
{
	struct textbuf text = {.ok = true}, sh = {.ok = true};
	CLEANUP_FREE char *t = NULL, *st = NULL;

	add_text(&text, v, tmpl, false);
	add_short(&sh, v);
	t = textbuf_take(&text);
	st = textbuf_take(&sh);
	if (!t || !st) {
		b->ok = false;
		return;
	}
	textbuf_add(b, "{\"full_text\":");
	add_json_string(b, t);
	textbuf_add(b, ",\"short_text\":");
	add_json_string(b, st);
	if (state_colours[v->state][0]) {
		textbuf_add(b, ",\"color\":");
		add_json_string(b, state_colours[v->state]);
	}
	if (v->state == STATE_ERROR) {
		textbuf_add(b, ",\"urgent\":\"true\"");
	}
	textbuf_add(b, "}");
}

int
output_status(json_object *result, const char *errmsg, enum output_format fmt,
    const char *tmpl, bool follow, char **ret, bool *ret_urgent)
{
	struct textbuf b = {.ok = true};
	struct view v;

	view_init(&v, result, errmsg);
	switch (fmt) {
	case OUTPUT_HUMAN:
		if (follow) {
			add_text(&b, &v, tmpl, false);
		} else {
			add_human(&b, &v, true);
		}
		break;
	case OUTPUT_JSON:
		add_json(&b, &v, tmpl);
		break;
	case OUTPUT_WAYBAR:
		add_waybar(&b, &v, tmpl);
		break;
	case OUTPUT_I3BLOCKS:
		add_text(&b, &v, tmpl, false);
		if (follow) {
			break;
		}
		textbuf_add(&b, "\n");
		add_short(&b, &v);
		textbuf_add(&b, "\n");
		textbuf_add(&b, state_colours[v.state]);
		break;
	case OUTPUT_I3BLOCKS_JSON:
		add_i3blocks_json(&b, &v, tmpl);
		break;
	case OUTPUT_PLAIN:
	case OUTPUT_POLYBAR:
	case OUTPUT_TMUX:
	case OUTPUT_INVALID:
		add_text(&b, &v, tmpl, false);
		break;
	}
	textbuf_add(&b, "\n");
	*ret = textbuf_take(&b);
	if (!*ret) {
		return -ENOMEM;
	}
	if (ret_urgent) {
		*ret_urgent =
		    !follow && fmt == OUTPUT_I3BLOCKS && v.state == STATE_ERROR;
	}
	return 0;
}

/* --- the generic printer ------------------------------------------------- */

static void
indent(struct textbuf *b, int depth)
{
	for (int i = 0; i < depth; i++) {
		textbuf_add(b, "  ");
	}
}

static void add_value(struct textbuf *b, json_object *v, int depth);

static void
add_scalar(struct textbuf *b, json_object *v)
{
	if (!v) {
		textbuf_add(b, "null");
	} else if (json_object_is_type(v, json_type_string)) {
		textbuf_add(b, json_object_get_string(v));
	} else {
		textbuf_add(b,
		    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	}
}

static bool
is_container(json_object *v)
{
	return v &&
	    (json_object_is_type(v, json_type_object) ||
		json_object_is_type(v, json_type_array));
}

/* Writes an object's members, or an array's items, one per line. */
static void
add_value(struct textbuf *b, json_object *v, int depth)
{
	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, val)
		{
			indent(b, depth);
			textbuf_add(b, key);
			textbuf_add(b, ":");
			if (is_container(val)) {
				textbuf_add(b, "\n");
				add_value(b, val, depth + 1);
			} else {
				textbuf_add(b, " ");
				add_scalar(b, val);
				textbuf_add(b, "\n");
			}
		}
		return;
	}
	size_t n = json_object_array_length(v);

	for (size_t i = 0; i < n; i++) {
		json_object *item = json_object_array_get_idx(v, i);

		indent(b, depth);
		textbuf_add(b, "-");
		if (is_container(item)) {
			textbuf_add(b, "\n");
			add_value(b, item, depth + 1);
		} else {
			textbuf_add(b, " ");
			add_scalar(b, item);
			textbuf_add(b, "\n");
		}
	}
}

char *
output_result_human(json_object *result)
{
	struct textbuf b = {.ok = true};

	if (is_container(result)) {
		add_value(&b, result, 0);
	} else if (result) {
		add_scalar(&b, result);
		textbuf_add(&b, "\n");
	}
	return textbuf_take(&b);
}
