/*
 * session.h - the daemon's glue between logind (logind.h), the pure
 * session policy (core/session_policy.h), the timers and the submitter:
 * sleep, wake, lock, idle, shutdown and logout become journal records,
 * a submission within a bound, the release of the delay inhibitor lock
 * and, for a logout, a clean exit. Also keeps systemd's STATUS= line
 * current, and serves "stop --all --submit" (submit, then reply).
 *
 * doc/session.md describes the behaviour; cwtimed(1) documents the exact
 * STATUS= strings. Everything runs on the loop's thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct daemon;
struct request;
struct session;
struct state;

/* STATUS= line for systemd (without "STATUS="), exactly:
 *   "<R> timer[s] running[, <P> paused], <Q> queued, last submit <L>"
 * R running timers, P paused timers (the part is left out when 0), Q
 * entries not yet accepted by ConnectWise (pending, being sent, outcome
 * unknown), L the local HH:MM of the newest accepted entry's attempt, or
 * "never". last_submit_utc_s 0 means never; tz_offset_s is added to it
 * before formatting (local time without a clock read here). Returns the
 * length or -ENOBUFS when buf is too small. Pure; exposed for tests. */
int session_status_format(size_t running, size_t paused, size_t queued,
    int64_t last_submit_utc_s, int64_t tz_offset_s, char *buf, size_t size);

/* Creates the session glue for d (after the ticker and the submitter) and
 * connects to logind. Without a system bus (or on any logind failure) it
 * logs once and runs without session handling; that is not an error.
 * Returns 0 and *ret, or -ENOMEM. Logs. */
int session_new(struct daemon *d, struct session **ret);

/* Shutdown (from daemon_stop): drops the logind connection and the lock,
 * answers every waiting "submit" with what is known, closes the bound
 * timers. No session callback runs afterwards. Accepts NULL. */
void session_close(struct session *s);

/* Frees s after the loop has closed its handles (daemon_fini). Accepts
 * NULL. */
void session_free(struct session *s);

/* Journal apply hook: a record of this type was applied; the STATUS=
 * line is refreshed before the loop next polls. Accepts NULL. */
void session_on_record(struct session *s, uint16_t type);

/* Commit hook (runs before every poll): sends STATUS= when it changed.
 * Cheap when nothing changed. Accepts NULL. */
void session_status_update(struct session *s);

/* SIGTERM: returns true when the session took the decision over (it asks
 * logind whether the user is logging out, stops and submits if so, then
 * calls daemon_stop itself); false when the caller should stop at once (no
 * logind, on_logout = keep, a second SIGTERM). Logs. */
bool session_on_sigterm(struct session *s);

/* For "stop --all --submit" (cmd-timer.c, after the stop committed):
 * defers req, flushes the submitter and replies with result (stolen) plus
 * "submit": {"finished": bool, "submitted": N, "waiting": N} counted over
 * the entries listed in result's "timers"[].entries[].uuid, once the
 * submission finished or [session] submit_timeout passed. */
void session_reply_after_submit(struct request *req, json_object *result);
