/*
 * log.h - the daemon's only way to write a diagnostic.
 *
 * Levels are syslog's (LOG_ERR .. LOG_DEBUG). When stderr is connected to
 * the journal ($JOURNAL_STREAM names stderr's device and inode) records go
 * out through sd_journal_sendv() with structured fields; otherwise as one
 * plain line per message on stderr ("cwtimed: warning: ...").
 *
 * Rules (STYLE.md section 7): src/common and src/core never log; the
 * daemon logs once, where an error is acted on. Secrets are never passed
 * here; as a last line of defence every registered secret value is masked
 * as "***" in messages and fields.
 *
 * Not thread-safe (the daemon has one thread). None of these functions
 * fail in a way the caller could act on.
 */
#pragma once

#include <stdbool.h>
#include <syslog.h>

/* Sets up the output (journald or stderr) and the maximum level written.
 * May be called again (e.g. after --log-level). */
void log_setup(int max_level);
void log_set_max_level(int max_level);
int log_get_max_level(void);

/* Parses "error", "warning", "notice", "info", "debug" (or "err", "warn")
 * into a syslog level. Returns the level, or -EINVAL. */
int log_level_from_string(const char *s);
/* Name of a level ("warning"). */
const char *log_level_to_string(int level);

/* Adds a value that must never appear in output; it is masked as "***".
 * The value is copied (and wiped when forgotten). Values shorter than
 * four bytes are ignored: masking them would garble every message.
 * Returns 0 or -ENOMEM / -ENOSPC (registry full). */
int log_register_secret(const char *secret);
/* Wipes and forgets every registered secret (at reload and exit). */
void log_forget_secrets(void);

/* The engine. r is 0 or a negative errno: when non-zero, errno is set to
 * -r for %m and the record carries ERRNO=. fields is NULL or a
 * NULL-terminated list of "KEY=value" journal fields (KEY upper case,
 * e.g. "CWTIMED_TICKET=54321"); on stderr they are not printed.
 * Returns r, so that 'return log_error_errno(r, ...)' fits one line. */
int log_emit(int level, int r, const char *file, int line, const char *func,
    const char *const *fields, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Writes the rendered form of a message into buf the way log_emit would
 * mask it (exposed for the unit tests of the masking). */
void log_mask_secrets(char *buf, unsigned long size);

#define log_full_errno(level, r, ...)                                          \
	log_emit((level), (r), __FILE__, __LINE__, __func__, NULL, __VA_ARGS__)
#define log_fields(level, fields, ...)                                         \
	log_emit((level), 0, __FILE__, __LINE__, __func__, (fields), __VA_ARGS__)

#define log_error(...) ((void) log_full_errno(LOG_ERR, 0, __VA_ARGS__))
#define log_warning(...) ((void) log_full_errno(LOG_WARNING, 0, __VA_ARGS__))
#define log_notice(...) ((void) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__))
#define log_info(...) ((void) log_full_errno(LOG_INFO, 0, __VA_ARGS__))
#define log_debug(...) ((void) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__))

#define log_error_errno(r, ...) log_full_errno(LOG_ERR, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) log_full_errno(LOG_WARNING, (r), __VA_ARGS__)
#define log_notice_errno(r, ...) log_full_errno(LOG_NOTICE, (r), __VA_ARGS__)
#define log_info_errno(r, ...) log_full_errno(LOG_INFO, (r), __VA_ARGS__)
#define log_debug_errno(r, ...) log_full_errno(LOG_DEBUG, (r), __VA_ARGS__)
