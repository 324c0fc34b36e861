/*
 * print-timers.h - short human lines for the replies to the timer verbs
 * (start, stop, pause, resume, toggle, switch, cancel, set, note, adjust,
 * log) and tables for list, queue and recent.
 *
 * The reply shapes are src/daemon/cmd-timer.c's: the status result of
 * client/output.h plus "target" (start adds "ticket_checked" and
 * "warning"); stop and log answer with the journal record's payload
 * ({"timers":[{"target","raw","entries":[...]}]} for stop, {"target",
 * "raw","entries"} for log, "dry_run" for a preview) plus "queue"; queue
 * answers {"entries":[{"uuid","state","target","id"?,"entry":{TimeEntry},
 * "last_error"?}],"queue","paused","pause_reason"?,"submission",
 * "returned","truncated"}; recent {"recent":[{"target","summary","source"}]}.
 */
#pragma once

#include <json-c/json.h>

/* A new string (every line ends in '\n') for the reply to the wire
 * command wire, or NULL when wire has no printer here, the result has an
 * unexpected shape, or on ENOMEM: then use the generic printer. Reads
 * the process TZ for local times; no clock, never prints. */
char *print_timers_result(const char *wire, json_object *result);
