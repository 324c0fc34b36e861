/*
 * output.h - what cwtimectl prints: the status formats (plain, json,
 * waybar, i3blocks, polybar, tmux), templates, and a generic printer for
 * any reply's result.
 *
 * THE STATUS RESULT. cwtimed's reply to {"cmd":"status"} (and to "list",
 * which may return the same object) carries this "result"; fields not
 * listed are ignored, missing ones count as empty, zero or false:
 *
 *   {
 *     "timers": [                      every timer, in the daemon's order
 *       {
 *         "target": "ticket:54321",    "ticket:N" or "project:N" (any text)
 *         "summary": "Printer offline",  the ticket/project summary or ""
 *         "state": "running",          "running" | "paused"
 *         "elapsed_s": 4980,           recorded seconds so far (integer)
 *         "pause_reason": null,        null | "user" | "switch" |
 *                                      "concurrency" | "lock" | "idle" |
 *                                      "sleep" | ... (shown as given)
 *         "billable_option": "Billable",  as it will be sent, or null
 *         "work_type": "Remote",       name, or null
 *         "focus": true                the timer hotkeys act on; at most one
 *       }
 *     ],
 *     "queue": {
 *       "pending": 2,                  entries waiting to be submitted
 *       "unknown": 0,                  submitted, outcome not yet known
 *       "rejected": 1,                 refused by ConnectWise; need the user
 *       "oldest_pending_age_s": 3600   age of the oldest pending entry
 *     },
 *     "submission": {
 *       "state": "ok",                 "ok" | "paused" | "api-unreachable" |
 *                                      "offline"
 *       "reason": ""                   why, when not ok (ConnectWise's or
 *                                      curl's words)
 *     },
 *     "max_duration_s": 36000          [timers] max_duration, 0 if none
 *   }
 *
 * The focused timer is the one with "focus": true, else the first running
 * one, else the first one.
 *
 * THE STATE (waybar class, i3blocks colour, {state}), first match wins:
 *   offline  the daemon cannot be reached
 *   error    the status request failed, submission.state is
 *            "api-unreachable", or queue.rejected > 0
 *   running  the focused timer runs
 *   paused   the focused timer is paused
 *   idle     no timer
 *
 * THE TEXT. With a focused timer: --template expanded, or by default
 * "{label} {elapsed}", plus " paused" when paused and " !" in the error
 * state. Without one: the state word ("idle", "offline", "error").
 * TEMPLATE FIELDS: {target} {label} {summary} {state} {elapsed}
 * {elapsed_s} {pause_reason} {billing} {work_type} {timers} {queued}
 * {pending} {unknown} {rejected} {submission} {reason} {percentage};
 * "{{" and "}}" are literal braces. {label} is "#54321" for a ticket
 * (target "ticket:54321" or "54321"), the target otherwise; {elapsed} is
 * H:MM; {queued} is pending + unknown; {percentage} is the focused
 * timer's elapsed_s * 100 / max_duration_s, truncated, clamped to 0..100,
 * 0 without a timer or a maximum.
 *
 * FORMATS (every output ends with a newline):
 *   human     (status without --format) one line per timer
 *             "* #54321 1:23 running Printer offline" ('*' marks the focus,
 *             "(reason)" follows "paused"), then "queue: N pending, N
 *             unknown, N rejected" when any is non-zero and "submission:
 *             STATE: REASON" when not ok; "no timers" when there are none.
 *   plain, polybar, tmux   the text on one line.
 *   json      the status result with "state" and "text" added first, on
 *             one line; offline: {"state":"offline","text":"offline"}.
 *   waybar    {"text":..,"alt":STATE,"tooltip":..,"class":STATE,
 *             "percentage":N} on one line; text and tooltip are Pango
 *             markup: template fields and the tooltip are escaped (& < > '
 *             "), the template's own characters are not. The tooltip is
 *             the human format's lines (without the focus marks), or
 *             "cwtimed is not running", or the error message.
 *   i3blocks  three lines: full text, short text ({elapsed}, or the state
 *             word without a timer) and colour (running #A3BE8C, paused
 *             #EBCB8B, idle empty, offline #808080, error #BF616A);
 *             cwtimectl then exits 33 (urgent) in the error state. In
 *             follow mode only the full text line (i3blocks
 *             interval=persist reads one line per update).
 *   i3blocks-json  for a block with format=json: one object per line,
 *             {"full_text":..,"short_text":..,"color":..,"urgent":"true"}
 *             with the i3blocks texts and colour; "color" is left out
 *             when empty (idle) and "urgent" is present, as the STRING
 *             "true", only in the error state: i3blocks 1.4 drops a JSON
 *             boolean. Never exits 33 (the urgency is in the object).
 */
#pragma once

#include <stdbool.h>

#include <json-c/json.h>

struct errbuf;

enum output_format {
	OUTPUT_HUMAN,
	OUTPUT_PLAIN,
	OUTPUT_JSON,
	OUTPUT_WAYBAR,
	OUTPUT_I3BLOCKS,
	OUTPUT_POLYBAR,
	OUTPUT_TMUX,
	OUTPUT_I3BLOCKS_JSON,
	OUTPUT_INVALID,
};

/* i3blocks' "urgent" exit status. */
#define OUTPUT_I3BLOCKS_URGENT 33

/* Format for a --format name (case-insensitive); NULL gives OUTPUT_HUMAN.
 * OUTPUT_INVALID when unknown. */
enum output_format output_format_from_name(const char *name);

/* Checks a --template: every {field} known, braces balanced. Returns 0 or
 * -EINVAL with ERR_USAGE in *reterr. */
int output_template_check(const char *tmpl, struct errbuf *reterr);

/* Renders a status. result is the status result, or NULL: then errmsg
 * non-NULL means the status request failed with that message (error
 * state), NULL means the daemon is unreachable (offline state). follow
 * selects the one-line-per-update form. Returns 0 and a new string in
 * *ret (free()), with *ret_urgent (may be NULL) set when i3blocks must exit
 * 33 (never in follow mode); or -ENOMEM. tmpl NULL means the default text.
 * Pure: no I/O. */
int output_status(json_object *result, const char *errmsg,
    enum output_format fmt, const char *tmpl, bool follow, char **ret,
    bool *ret_urgent);

/* Writes a reply's result for people: scalars as "key: value", nested
 * objects and arrays indented (YAML-like). Returns a new string, or NULL
 * on ENOMEM. An empty object gives "". */
char *output_result_human(json_object *result);

/* "#54321" for "ticket:54321" or "54321", the target itself otherwise.
 * Writes into buf (n bytes) and returns it. */
const char *output_label(const char *target, char *buf, size_t n);
