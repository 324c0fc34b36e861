/*
 * print-entries.c - tables for the ConnectWise pass-through replies:
 * entries, sheet show, sheets, worktypes/roles/codes, and the per-id
 * results of approve, reject and the sheet actions; and flush's
 * per-entry report.
 *
 * Job: turn a reply's result into aligned text with totals. Pure apart
 * from reading the process TZ for local dates: builds a string, never
 * prints; unknown shapes return NULL so the generic printer takes over.
 */
#include "client/print-entries.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "client/textbuf.h"
#include "common/jsonutil.h"
#include "common/timeparse.h"

static const char *
str(json_object *o, const char *key)
{
	json_object *v = jsonutil_get(o, key);

	return v && json_object_is_type(v, json_type_string)
	    ? json_object_get_string(v)
	    : "";
}

static double
num(json_object *o, const char *key)
{
	json_object *v = jsonutil_get(o, key);

	if (v &&
	    (json_object_is_type(v, json_type_double) ||
		json_object_is_type(v, json_type_int))) {
		return json_object_get_double(v);
	}
	return 0;
}

static long long
id_of(json_object *o)
{
	json_object *v = jsonutil_get(o, "id");

	return v && json_object_is_type(v, json_type_int)
	    ? (long long) json_object_get_int64(v)
	    : 0;
}

/* "2024-02-15 09:00" in local time, or the text as it came. */
static void
local_time(const char *iso, char *buf, size_t n)
{
	int64_t t;
	time_t tt;
	struct tm tm;

	if (timeparse_parse_iso(iso, &t, NULL) < 0) {
		snprintf(buf, n, "%s", iso);
		return;
	}
	tt = (time_t) t;
	if (!localtime_r(&tt, &tm) ||
	    strftime(buf, n, "%Y-%m-%d %H:%M", &tm) == 0) {
		snprintf(buf, n, "%s", iso);
	}
}

/* The notes on one line, cut to width characters. */
static void
one_line(const char *s, char *buf, size_t width)
{
	size_t i = 0;

	for (; *s && i + 1 < width; s++) {
		buf[i++] = (*s == '\n' || *s == '\r' || *s == '\t') ? ' ' : *s;
	}
	buf[i] = '\0';
}

static void
target_of(json_object *e, char *buf, size_t n)
{
	const char *type = str(e, "chargeToType");
	long long id = (long long) num(e, "chargeToId");

	if (strcmp(type, "ServiceTicket") == 0) {
		snprintf(buf, n, "ticket:%lld", id);
	} else if (strcmp(type, "ProjectTicket") == 0) {
		snprintf(buf, n, "project:%lld", id);
	} else if (strcmp(type, "ChargeCode") == 0) {
		snprintf(buf, n, "code:%lld", id);
	} else if (strcmp(type, "Activity") == 0) {
		snprintf(buf, n, "activity:%lld", id);
	} else {
		snprintf(buf, n, "company:%s",
		    str(jsonutil_get(e, "company"), "identifier"));
	}
}

static void
entry_rows(struct textbuf *b, json_object *entries)
{
	size_t n = json_object_array_length(entries);

	textbuf_addf(b, "%-8s %-16s %6s  %-9s %-17s %-10s %-14s %s\n", "ID", "START",
	    "HOURS", "BILLING", "STATUS", "MEMBER", "TARGET", "NOTES");
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(entries, i);
		char when[32], target[48], notes[41];

		local_time(str(e, "timeStart"), when, sizeof(when));
		target_of(e, target, sizeof(target));
		one_line(str(e, "notes"), notes, sizeof(notes));
		textbuf_addf(b, "%-8lld %-16s %6.2f  %-9s %-17s %-10s %-14s %s\n",
		    id_of(e), when, num(e, "actualHours"),
		    str(e, "billableOption"), str(e, "status"),
		    str(jsonutil_get(e, "member"), "identifier"), target,
		    notes);
	}
}

static char *
print_entries(json_object *r)
{
	struct textbuf b = {.ok = true};
	json_object *entries = jsonutil_get(r, "entries");

	if (!entries || !json_object_is_type(entries, json_type_array)) {
		return NULL;
	}
	entry_rows(&b, entries);
	textbuf_addf(&b, "%lld entries, %.2f h, billable %.2f h\n",
	    (long long) num(r, "count"), num(r, "hours"),
	    num(r, "billable_hours"));
	if (json_object_get_boolean(jsonutil_get(r, "truncated"))) {
		textbuf_addf(&b,
		    "(%lld shown: the totals cover all; narrow the filter or "
		    "use --limit)\n",
		    (long long) num(r, "returned"));
	}
	return textbuf_take(&b);
}

static char *
print_sheet(json_object *r)
{
	struct textbuf b = {.ok = true};
	json_object *s = jsonutil_get(r, "sheet");
	json_object *entries = jsonutil_get(r, "entries");

	if (!s || !entries || !json_object_is_type(entries, json_type_array)) {
		return NULL;
	}
	textbuf_addf(&b, "sheet %lld  %s  %.10s to %.10s  %s\n", id_of(s),
	    str(jsonutil_get(s, "member"), "identifier"), str(s, "dateStart"),
	    str(s, "dateEnd"), str(s, "status"));
	entry_rows(&b, entries);
	textbuf_addf(&b, "%lld entries, %.2f h\n", (long long) num(r, "count"),
	    num(r, "hours"));
	return textbuf_take(&b);
}

static char *
print_sheets(json_object *r)
{
	struct textbuf b = {.ok = true};
	json_object *sheets = jsonutil_get(r, "sheets");
	size_t n;

	if (!sheets || !json_object_is_type(sheets, json_type_array)) {
		return NULL;
	}
	n = json_object_array_length(sheets);
	textbuf_addf(&b, "%-8s %-10s %4s %6s  %-10s %-10s %-17s %7s\n", "ID",
	    "MEMBER", "YEAR", "PERIOD", "START", "END", "STATUS", "HOURS");
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(sheets, i);

		textbuf_addf(&b,
		    "%-8lld %-10s %4lld %6lld  %-10.10s %-10.10s %-17s "
		    "%7.2f\n",
		    id_of(s), str(jsonutil_get(s, "member"), "identifier"),
		    (long long) num(s, "year"), (long long) num(s, "period"),
		    str(s, "dateStart"), str(s, "dateEnd"), str(s, "status"),
		    num(s, "hours"));
	}
	textbuf_addf(&b, "%zu sheets\n", n);
	return textbuf_take(&b);
}

static char *
print_items(json_object *r)
{
	struct textbuf b = {.ok = true};
	json_object *items = jsonutil_get(r, "items");
	size_t n;

	if (!items || !json_object_is_type(items, json_type_array)) {
		return NULL;
	}
	n = json_object_array_length(items);
	textbuf_addf(&b, "%-6s %s\n", "ID", "NAME");
	for (size_t i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(items, i);

		textbuf_addf(&b, "%-6lld %s%s\n", id_of(it), str(it, "name"),
		    json_object_get_boolean(jsonutil_get(it, "inactiveFlag"))
			? " (inactive)"
			: "");
	}
	return textbuf_take(&b);
}

static char *
print_results(json_object *r)
{
	struct textbuf b = {.ok = true};
	json_object *res = jsonutil_get(r, "results");
	size_t n;

	if (!res || !json_object_is_type(res, json_type_array)) {
		return NULL;
	}
	n = json_object_array_length(res);
	for (size_t i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(res, i);
		bool good = json_object_get_boolean(jsonutil_get(it, "ok"));

		textbuf_addf(&b, "%-8lld %-6s %s\n", id_of(it),
		    good ? "ok" : "failed",
		    !good		       ? str(it, "message")
			: str(it, "status")[0] ? str(it, "status")
					       : str(it, "action"));
	}
	return textbuf_take(&b);
}

/* flush: a summary, then one line per entry that still needs the user
 * (with ConnectWise's message), then one per submitted entry with its
 * ConnectWise id; entries the daemon left out of its one-line reply are
 * counted. */
static char *
print_flush(json_object *r)
{
	struct textbuf b = {.ok = true};
	json_object *ents = jsonutil_get(r, "entries");
	json_object *done = jsonutil_get(r, "submitted_entries");
	json_object *sub = jsonutil_get(r, "submission");
	size_t n;

	if (!ents || !json_object_is_type(ents, json_type_array)) {
		return NULL;
	}
	textbuf_addf(&b,
	    "flush: %.0f submitted, %.0f rejected, %.0f unknown, %.0f "
	    "pending\n",
	    num(r, "submitted"), num(r, "rejected"), num(r, "unknown"),
	    num(r, "pending") + num(r, "attempting"));
	if (str(sub, "state")[0] && strcmp(str(sub, "state"), "ok") != 0) {
		textbuf_addf(&b, "submission %s: %s\n", str(sub, "state"),
		    str(sub, "reason"));
	}
	n = json_object_array_length(ents);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(ents, i);
		json_object *err = jsonutil_get(e, "error");
		const char *msg = str(err, "message")[0] ? str(err, "message")
							 : str(err, "detail");
		char line[160];

		one_line(msg, line, sizeof(line));
		if (!line[0]) {
			textbuf_addf(
			    &b, "%-36s %s\n", str(e, "id"), str(e, "state"));
			continue;
		}
		textbuf_addf(&b, "%-36s %-15s %s%s%s\n", str(e, "id"),
		    str(e, "state"), line,
		    str(err, "field")[0] ? ", field " : "", str(err, "field"));
	}
	n = done && json_object_is_type(done, json_type_array)
	    ? json_object_array_length(done)
	    : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(done, i);
		const char *u =
		    json_object_get_string(json_object_array_get_idx(p, 0));

		textbuf_addf(&b, "%-36s %-15s %lld\n", u ? u : "?", "submitted",
		    (long long) json_object_get_int64(
			json_object_array_get_idx(p, 1)));
	}
	if (num(r, "omitted") > 0) {
		textbuf_addf(&b,
		    "(%.0f more not listed: the reply is full; see 'cwtimectl "
		    "queue')\n",
		    num(r, "omitted"));
	}
	return textbuf_take(&b);
}

char *
print_entries_result(const char *wire, json_object *result)
{
	if (!wire || !result ||
	    !json_object_is_type(result, json_type_object)) {
		return NULL;
	}
	if (strcmp(wire, "entries") == 0) {
		return print_entries(result);
	}
	if (strcmp(wire, "flush") == 0) {
		return print_flush(result);
	}
	if (strcmp(wire, "sheet.show") == 0) {
		return print_sheet(result);
	}
	if (strcmp(wire, "sheets") == 0) {
		return print_sheets(result);
	}
	if (strcmp(wire, "worktypes") == 0 || strcmp(wire, "roles") == 0 ||
	    strcmp(wire, "codes") == 0) {
		return print_items(result);
	}
	if (strcmp(wire, "approve") == 0 || strcmp(wire, "reject") == 0 ||
	    strncmp(wire, "sheet.", 6) == 0) {
		return print_results(result);
	}
	return NULL;
}
