/*
 * cmd-timer.h - the timer commands' table (start, stop, pause, resume,
 * toggle, switch, cancel, set, note, adjust, log, list, status, recent,
 * queue). commands.c lists it in tables[]; the handlers reach the clock
 * and the rules through d->ticker (ticker.h).
 */
#pragma once

#include "daemon/commands.h"

struct daemon;

extern const struct cmd_table cmd_timer_table;

/* Sends subscribers a "timer" event with the status result (after a
 * change the ticker made: the max_duration auto-stop). Logs nothing. */
void cmd_timer_broadcast(struct daemon *d);

/* Sends subscribers a droppable "tick" event with the status result (the
 * ticker's minute tick while a timer runs). Logs nothing. */
void cmd_timer_tick(struct daemon *d);
