/*
 * log.c - diagnostics to journald (structured) or to stderr (plain lines).
 *
 * Invariants: a message is rendered into a bounded stack buffer, then every
 * registered secret is masked, then it is written; nothing unmasked ever
 * reaches a file descriptor. Output failures are ignored: there is no
 * better place to report them. The registry copies secrets and wipes them
 * with explicit_bzero when forgotten.
 *
 * Must never: allocate on the logging path (it runs on -ENOMEM paths),
 * exit, or log through itself.
 */
#define _GNU_SOURCE 1 /* accept4, struct ucred, asprintf */

#include "daemon/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

#define LOG_SECRETS_MAX 16
#define LOG_MSG_MAX 2048
#define LOG_FIELDS_MAX 16

static int max_level = LOG_NOTICE;
static bool to_journal;
static char *secrets[LOG_SECRETS_MAX];

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg",
	[LOG_ALERT] = "alert",
	[LOG_CRIT] = "crit",
	[LOG_ERR] = "error",
	[LOG_WARNING] = "warning",
	[LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

/* True when stderr is the stream systemd connected to the journal: then a
 * structured record is better than a line the journal has to wrap. */
static bool
stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int n = 0;

	if (!e || !*e) {
		return false;
	}
	if (sscanf(e, "%llu:%llu%n", &dev, &ino, &n) != 2 || e[n] != '\0') {
		return false;
	}
	if (fstat(STDERR_FILENO, &st) < 0) {
		return false;
	}
	if ((unsigned long long) st.st_dev != dev ||
	    (unsigned long long) st.st_ino != ino) {
		return false;
	}
	/* sd_journal_sendv() drops records silently when journald's socket
	 * is missing (a container, journald stopped): then stderr it is. */
	return access("/run/systemd/journal/socket", F_OK) == 0;
}

void
log_setup(int level)
{
	to_journal = stderr_is_journal();
	log_set_max_level(level);
}

void
log_set_max_level(int level)
{
	if (level < LOG_EMERG) {
		level = LOG_EMERG;
	}
	if (level > LOG_DEBUG) {
		level = LOG_DEBUG;
	}
	max_level = level;
}

int
log_get_max_level(void)
{
	return max_level;
}

int
log_level_from_string(const char *s)
{
	if (!s) {
		return -EINVAL;
	}
	for (int i = LOG_ERR; i <= LOG_DEBUG; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			return i;
		}
	}
	if (strcmp(s, "err") == 0) {
		return LOG_ERR;
	}
	if (strcmp(s, "warn") == 0) {
		return LOG_WARNING;
	}
	return -EINVAL;
}

const char *
log_level_to_string(int level)
{
	if (level < LOG_EMERG || level > LOG_DEBUG) {
		return "unknown";
	}
	return level_names[level];
}

int
log_register_secret(const char *secret)
{
	size_t len;

	if (!secret) {
		return 0;
	}
	len = strlen(secret);
	if (len < 4) {
		return 0;
	}
	for (int i = 0; i < LOG_SECRETS_MAX; i++) {
		if (secrets[i] && strcmp(secrets[i], secret) == 0) {
			return 0;
		}
	}
	for (int i = 0; i < LOG_SECRETS_MAX; i++) {
		if (!secrets[i]) {
			secrets[i] = strdup(secret);
			return secrets[i] ? 0 : -ENOMEM;
		}
	}
	return -ENOSPC;
}

void
log_forget_secrets(void)
{
	for (int i = 0; i < LOG_SECRETS_MAX; i++) {
		if (secrets[i]) {
			explicit_bzero(secrets[i], strlen(secrets[i]));
			free(secrets[i]);
			secrets[i] = NULL;
		}
	}
}

void
log_mask_secrets(char *buf, unsigned long size)
{
	size_t len;

	if (!buf || size == 0) {
		return;
	}
	buf[size - 1] = '\0';
	len = strlen(buf);
	for (int i = 0; i < LOG_SECRETS_MAX; i++) {
		size_t slen;
		char *p;

		if (!secrets[i]) {
			continue;
		}
		slen = strlen(secrets[i]);
		/* "***" is shorter than any registered secret (>= 4 bytes),
		 * so the buffer only ever shrinks. */
		while ((p = strstr(buf, secrets[i])) != NULL) {
			memcpy(p, "***", 3);
			memmove(p + 3, p + slen, len - (size_t) (p - buf) - slen + 1);
			len -= slen - 3;
		}
	}
	/* A message cut in the middle of a secret by the buffer size could
	 * still end with its prefix; nothing of a secret ever goes to a
	 * message in the first place (STYLE.md 7), so this is accepted. */
}

/* Control characters other than tab would let a value break a plain
 * line or forge another one; replace them. */
static void
sanitise_line(char *s)
{
	for (; *s; s++) {
		if ((unsigned char) *s < 0x20 && *s != '\t') {
			*s = ' ';
		} else if (*s == 0x7f) {
			*s = ' ';
		}
	}
}

static int
write_journal(int level, int r, const char *file, int line, const char *func,
    const char *const *fields, const char *msg)
{
	char f_msg[LOG_MSG_MAX + 16];
	char f_prio[32], f_errno[32], f_file[512], f_line[32], f_func[256];
	char f_extra[LOG_FIELDS_MAX][512];
	struct iovec iov[8 + LOG_FIELDS_MAX];
	int n = 0;

	snprintf(f_msg, sizeof(f_msg), "MESSAGE=%s", msg);
	snprintf(f_prio, sizeof(f_prio), "PRIORITY=%d", level);
	snprintf(f_file, sizeof(f_file), "CODE_FILE=%s", file ? file : "");
	snprintf(f_line, sizeof(f_line), "CODE_LINE=%d", line);
	snprintf(f_func, sizeof(f_func), "CODE_FUNC=%s", func ? func : "");
	iov[n++] = (struct iovec) { f_msg, strlen(f_msg) };
	iov[n++] = (struct iovec) { f_prio, strlen(f_prio) };
	iov[n++] = (struct iovec) { (char *) "SYSLOG_IDENTIFIER=cwtimed",
	    strlen("SYSLOG_IDENTIFIER=cwtimed") };
	iov[n++] = (struct iovec) { f_file, strlen(f_file) };
	iov[n++] = (struct iovec) { f_line, strlen(f_line) };
	iov[n++] = (struct iovec) { f_func, strlen(f_func) };
	if (r != 0) {
		snprintf(f_errno, sizeof(f_errno), "ERRNO=%d", r < 0 ? -r : r);
		iov[n++] = (struct iovec) { f_errno, strlen(f_errno) };
	}
	for (int i = 0; fields && fields[i] && i < LOG_FIELDS_MAX; i++) {
		snprintf(f_extra[i], sizeof(f_extra[i]), "%s", fields[i]);
		log_mask_secrets(f_extra[i], sizeof(f_extra[i]));
		/* A field needs KEY=; anything else would be refused whole. */
		if (!strchr(f_extra[i], '=')) {
			continue;
		}
		iov[n++] = (struct iovec) { f_extra[i], strlen(f_extra[i]) };
	}
	return sd_journal_sendv(iov, n);
}

int
log_emit(int level, int r, const char *file, int line, const char *func,
    const char *const *fields, const char *fmt, ...)
{
	char msg[LOG_MSG_MAX];
	int saved = errno;
	va_list ap;

	if (level > max_level) {
		errno = saved;
		return r;
	}
	if (r != 0) {
		errno = r < 0 ? -r : r; /* for %m */
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_mask_secrets(msg, sizeof(msg));

	/* If the journal refuses the record (journald gone), the line still
	 * goes to stderr, which systemd connected to the journal anyway. */
	if (!to_journal ||
	    write_journal(level, r, file, line, func, fields, msg) < 0) {
		char out[LOG_MSG_MAX + 64];
		int n;

		sanitise_line(msg);
		if (level <= LOG_ERR) {
			n = snprintf(out, sizeof(out), "cwtimed: error: %s\n", msg);
		} else if (level == LOG_WARNING) {
			n = snprintf(out, sizeof(out), "cwtimed: warning: %s\n",
			    msg);
		} else {
			n = snprintf(out, sizeof(out), "cwtimed: %s\n", msg);
		}
		if (n > (int) sizeof(out) - 1) {
			n = (int) sizeof(out) - 1;
			out[n - 1] = '\n';
		}
		/* One write per line, so that lines of concurrent writers
		 * to the same stderr do not interleave. */
		(void) !write(STDERR_FILENO, out, (size_t) n);
	}
	errno = saved;
	return r;
}
