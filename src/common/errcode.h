/*
 * errcode.h - stable user-facing error codes.
 *
 * Numbers and names never change: scripts match on the names, and
 * doc/errors.md is generated from this table (cwtimectl --list-errors).
 * Each code maps to one cwtimectl exit status (STYLE.md section 5):
 *   0 success, 1 refused or failed, 2 usage or input error,
 *   3 daemon unreachable or another protocol version,
 *   4 ConnectWise refused or could not be reached on a passed-through call.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

/* X(enum suffix, number, name, exit status, default message) */
#define ERRCODE_TABLE(X)                                                       \
	X(OK, 0, "ok", 0, "success")                                           \
	X(INTERNAL, 1, "internal", 1, "internal error")                        \
	X(USAGE, 2, "usage", 2, "usage error")                                 \
	X(BAD_REQUEST, 3, "bad-request", 2, "malformed request")               \
	X(PROTOCOL_VERSION, 4, "protocol-version", 3,                          \
	    "the daemon speaks another protocol version")                      \
	X(LINE_TOO_LONG, 5, "line-too-long", 2,                                \
	    "request line longer than 64 KiB")                                 \
	X(UNKNOWN_COMMAND, 6, "unknown-command", 2, "unknown command")         \
	X(BAD_ARGUMENT, 7, "bad-argument", 2, "invalid argument")              \
	X(DAEMON_UNREACHABLE, 8, "daemon-unreachable", 3,                      \
	    "cannot reach cwtimed")                                            \
	X(CONFIG, 9, "config", 1, "invalid configuration")                     \
	X(PERMISSION, 10, "permission", 1, "permission denied")                \
	X(NO_SUCH_TIMER, 11, "no-such-timer", 1, "no such timer")              \
	X(NO_SUCH_TICKET, 12, "no-such-ticket", 1, "no such ticket")           \
	X(NO_SUCH_ENTRY, 13, "no-such-entry", 1, "no such entry")              \
	X(BAD_TARGET, 14, "bad-target", 2, "invalid target")                   \
	X(BAD_DURATION, 15, "bad-duration", 2, "invalid duration")             \
	X(BAD_TIME, 16, "bad-time", 2, "invalid time")                         \
	X(TIME_IN_FUTURE, 17, "time-in-future", 2, "time is in the future")    \
	X(AMBIGUOUS_TIME, 18, "ambiguous-time", 2,                             \
	    "local time is ambiguous or does not exist")                       \
	X(TIMER_EXISTS, 19, "timer-exists", 1,                                 \
	    "a timer for this target already runs")                            \
	X(CONFIRM_NEEDED, 20, "confirm-needed", 1,                             \
	    "this discards recorded time; repeat with --yes")                  \
	X(DISK_FULL, 21, "disk-full", 1, "no space left for the journal")      \
	X(DISK_ERROR, 22, "disk-error", 1, "cannot write the journal")         \
	X(STORAGE_FAILED, 23, "storage-failed", 1,                             \
	    "storage failed: outcome unknown; cwtimed restarts - check "       \
	    "'cwtimectl status'")                                              \
	X(ENTRY_BUSY, 24, "entry-busy", 1,                                     \
	    "the entry is being submitted; try again when its outcome is "     \
	    "known")                                                           \
	X(QUEUE_PAUSED, 25, "queue-paused", 1, "the submission queue is paused") \
	X(API_UNREACHABLE, 26, "api-unreachable", 4,                           \
	    "ConnectWise cannot be reached")                                   \
	X(API_AUTH, 27, "api-auth", 4, "ConnectWise refused the credentials")  \
	X(API_REJECTED, 28, "api-rejected", 4, "ConnectWise refused the request") \
	X(API_NOT_FOUND, 29, "api-not-found", 4, "ConnectWise has no such record") \
	X(API_ERROR, 30, "api-error", 4, "ConnectWise failed")                 \
	X(API_NOT_CONFIGURED, 31, "api-not-configured", 1,                     \
	    "no ConnectWise API is configured ([api] and credentials)")        \
	X(BAD_FILTER, 32, "bad-filter", 2, "invalid filter")                   \
	X(AMBIGUOUS_NAME, 33, "ambiguous-name", 2, "name matches several records") \
	X(UNKNOWN_NAME, 34, "unknown-name", 2, "no record has this name")      \
	X(BUSY, 35, "busy", 1, "too many connections to cwtimed")              \
	X(TIMEOUT, 36, "timeout", 3, "cwtimed did not answer in time")         \
	X(JOURNAL_CORRUPT, 37, "journal-corrupt", 1,                           \
	    "the journal is damaged; see cwtimed --check-journal")             \
	X(NOT_SUPPORTED, 38, "not-supported", 1, "not supported")

enum errcode {
#define ERRCODE_ENUM(sym, num, name, status, msg) ERR_##sym = num,
	ERRCODE_TABLE(ERRCODE_ENUM)
#undef ERRCODE_ENUM
	ERR_COUNT
};

/* A caller-owned error: code plus a user-facing message (ConnectWise's own
 * text travels here unchanged, with the field it names). Needs no
 * allocation on the failure path. */
struct errbuf {
	enum errcode code;
	char msg[512];
	char field[64];
};

/* Stable name ("no-such-timer") of a code; "internal" for an unknown one. */
const char *errcode_name(enum errcode code);
/* Default message of a code. */
const char *errcode_message(enum errcode code);
/* cwtimectl exit status for a code (0..4). */
int errcode_exit_status(enum errcode code);
/* Code for a name, or ERR_INTERNAL with *found = 0 when unknown. */
enum errcode errcode_from_name(const char *name, int *found);

/* Fills *reterr (which may be NULL) with code and a formatted message and
 * returns r unchanged, so that 'return errbuf_set(...)' fits one line.
 * An empty fmt uses the code's default message. Does not log. */
int errbuf_set(struct errbuf *reterr, enum errcode code, int r,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Sets the field the error is about (ConnectWise's "field"). */
void errbuf_set_field(struct errbuf *reterr, const char *field);
/* Empties an errbuf (code ERR_OK, empty strings). */
void errbuf_clear(struct errbuf *e);
