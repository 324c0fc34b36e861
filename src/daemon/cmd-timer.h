/*
 * cmd-timer.h - the timer commands' table (start, stop, pause, resume,
 * toggle, switch, cancel, set, note, adjust, log, list, status, recent,
 * queue). commands.c lists it in tables[]; the handlers reach the clock
 * and the rules through d->ticker (ticker.h).
 */
#pragma once

#include <json-c/json.h>

#include "daemon/commands.h"

struct daemon;

extern const struct cmd_table cmd_timer_table;

/* The status result as `status` replies it, fitted to one line (many
 * timers lose their fields, then the last ones: "timers_omitted"); for
 * the hello event. New object, or NULL (no ticker, ENOMEM). */
json_object *cmd_timer_status(struct daemon *d);

/* Sends subscribers a "timer" event with the status result (after a
 * change the ticker made: the max_duration auto-stop). Logs nothing. */
void cmd_timer_broadcast(struct daemon *d);

/* Sends subscribers a droppable "tick" event with the status result (the
 * ticker's minute tick while a timer runs). Logs nothing. */
void cmd_timer_tick(struct daemon *d);
