/*
 * config.c - cwtimed.conf and the credentials file.
 *
 * Job: read the INI configuration into a typed struct config with every
 * default filled in, and the secrets into a struct secret, refusing
 * anything doubtful with the file and line of each problem.
 *
 * How: the file is read whole (bounded) and fed to libinih through our
 * own line reader. The reader sees every raw line first, so it keeps the
 * line number, the full section name (inih cuts section names at 50
 * bytes and does not know our [name "sub"] form), and reports syntax
 * errors itself (inih only reports the first). It hands inih trimmed
 * "key = value" lines only, so inih's continuation-line rule (an indented
 * line continues the previous value) never applies; inih splits key from
 * value and strips inline "; comments".
 *
 * Invariants: every error is collected (up to CONFIG_MAX_ERRORS), sorted
 * by line; on error the caller's struct is left zeroed. Secret values
 * never reach a message: in the credentials file only known key names
 * are quoted, and secrets found in cwtimed.conf are named, not shown.
 * Buffers that held the credentials file are wiped with explicit_bzero.
 * Never logs; never reads secrets from argv or the environment.
 */
#define _GNU_SOURCE 1 /* asprintf, reallocarray, explicit_bzero */
#include "daemon/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "common/cleanup.h"
#include "common/duration.h"
#include "common/errcode.h"

/* Bounds on what a user-controlled file may make us hold. */
#define CONFIG_MAX_BYTES (1024 * 1024)
#define SECRET_MAX_BYTES (64 * 1024)
#define CONFIG_MAX_ERRORS 32
#define CONFIG_MAX_OVERRIDES 256
#define CONFIG_MAX_VALUE 200 /* names, paths, URLs */
#define KEYS_MAX 24	     /* keys per section, for duplicate tracking */
#define ERROR_TEXT_MAX 240

static const char *const concurrency_names[] = {"single", "parallel", NULL};
static const char *const round_mode_names[] = {
    "none", "up", "nearest", "down", NULL};
static const char *const pauses_names[] = {"deduct", "split", NULL};
static const char *const billing_names[] = {
    "", "Billable", "DoNotBill", "NoCharge", "NoDefault", NULL};
static const char *const entry_status_names[] = {"Open", "Rejected",
    "PendingApproval", "ErrorsCorrected", "PendingProjectApproval",
    "ApprovedByTierOne", "RejectBySecondTier", "ApprovedByTierTwo",
    "ReadyToBill", "Billed", "WrittenOff", "BilledAgreement", NULL};
static const char *const on_lock_names[] = {"keep", "pause", "stop", NULL};
static const char *const on_sleep_names[] = {"pause", "stop", NULL};
static const char *const on_logout_names[] = {"stop", "keep", NULL};
static const char *const target_names[] = {
    "ticket", "project", "code", "activity", "company", NULL};
/* ConnectWise chargeToType, for [rounding "charge:TYPE"]. */
static const char *const charge_type_names[] = {"ServiceTicket",
    "ProjectTicket", "ChargeCode", "Activity", "Company", NULL};
static const char *const secret_key_names[] = {
    "public_key", "private_key", "client_id", NULL};

enum sect {
	SECT_NONE = -1,
	SECT_API,
	SECT_TIMERS,
	SECT_ROUNDING,
	SECT_DEDUCTION,
	SECT_SESSION,
	SECT_DEFAULTS,
	SECT_APPROVALS,
	SECT_REFERENCE,
	SECT_COUNT,
	SECT_CREDENTIALS = SECT_COUNT, /* [api] of the credentials file */
};

static const char *const sect_names[] = {"api", "timers", "rounding",
    "deduction", "session", "defaults", "approvals", "reference", NULL};

enum key_type {
	K_NAME, /* free text: printable, no control bytes */
	K_URL,
	K_SITE,
	K_COMPANY,
	K_MEMBER,
	K_VERSION,
	K_PATH,
	K_INT,
	K_DURATION,
	K_BOOL,
	K_ENUM,
	K_BILLING,
	K_BREAK,
	K_ON_IDLE,
};

struct key_spec {
	const char *name;
	enum key_type type;
	size_t off;
	int64_t min, max;	  /* K_INT, K_DURATION */
	const char *const *names; /* K_ENUM */
};

#define API(f) offsetof(struct config_api, f)
static const struct key_spec api_keys[] = {
    {"url", K_URL, API(url), 0, 0, NULL},
    {"site", K_SITE, API(site), 0, 0, NULL},
    {"company", K_COMPANY, API(company), 0, 0, NULL},
    {"member", K_MEMBER, API(member), 0, 0, NULL},
    {"api_version", K_VERSION, API(api_version), 0, 0, NULL},
    {"ca_file", K_PATH, API(ca_file), 0, 0, NULL},
    {"credentials", K_PATH, API(credentials), 0, 0, NULL},
    {"max_rate", K_INT, API(max_rate), 0, 100000, NULL},
    {"max_in_flight", K_INT, API(max_in_flight), 1, 64, NULL},
    {"connect_timeout", K_DURATION, API(connect_timeout_s), 1, 600, NULL},
    {"total_timeout", K_DURATION, API(total_timeout_s), 1, 3600, NULL},
    {"low_speed_time", K_DURATION, API(low_speed_time_s), 1, 3600, NULL},
    {"settle_delay", K_DURATION, API(settle_delay_s), 0, 86400, NULL},
    {"backoff_base", K_DURATION, API(backoff_base_s), 1, 3600, NULL},
    {"backoff_cap", K_DURATION, API(backoff_cap_s), 1, 86400, NULL},
    {"breaker_threshold", K_INT, API(breaker_threshold), 1, 1000, NULL},
    {"breaker_cooldown", K_DURATION, API(breaker_cooldown_s), 1, 86400,
	NULL},
    {"breaker_cooldown_max", K_DURATION, API(breaker_cooldown_max_s), 1,
	86400, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};
#undef API

#define TIM(f) offsetof(struct config_timers, f)
static const struct key_spec timers_keys[] = {
    {"concurrency", K_ENUM, TIM(concurrency), 0, 0, concurrency_names},
    {"max_duration", K_DURATION, TIM(max_duration_s), 0, DURATION_MAX_S, NULL},
    {"split_at_midnight", K_BOOL, TIM(split_at_midnight), 0, 0, NULL},
    {"heartbeat", K_DURATION, TIM(heartbeat_s), 10, 3600, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};
#undef TIM

#define RND(f) offsetof(struct config_rounding, f)
static const struct key_spec rounding_keys[] = {
    {"mode", K_ENUM, RND(mode), 0, 0, round_mode_names},
    {"increment", K_DURATION, RND(increment_s), 1, 86400, NULL},
    {"minimum", K_DURATION, RND(minimum_s), 0, 86400, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};
#undef RND

#define DED(f) offsetof(struct config_deduction, f)
static const struct key_spec deduction_keys[] = {
    {"pauses", K_ENUM, DED(pauses), 0, 0, pauses_names},
    {"break", K_BREAK, DED(break_s), 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};
#undef DED

#define SES(f) offsetof(struct config_session, f)
static const struct key_spec session_keys[] = {
    {"on_lock", K_ENUM, SES(on_lock), 0, 0, on_lock_names},
    {"on_sleep", K_ENUM, SES(on_sleep), 0, 0, on_sleep_names},
    {"on_idle", K_ON_IDLE, SES(on_idle), 0, 0, NULL},
    {"on_logout", K_ENUM, SES(on_logout), 0, 0, on_logout_names},
    {"resume_after_sleep", K_BOOL, SES(resume_after_sleep), 0, 0, NULL},
    {"submit_timeout", K_DURATION, SES(submit_timeout_s), 0, 600, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};
#undef SES

#define DEF(f) offsetof(struct config_defaults, f)
static const struct key_spec defaults_keys[] = {
    {"work_type", K_NAME, DEF(work_type), 0, 0, NULL},
    {"role", K_NAME, DEF(role), 0, 0, NULL},
    {"billing", K_BILLING, DEF(billing), 0, 0, NULL},
    {"agreement", K_NAME, DEF(agreement), 0, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};
#undef DEF

static const struct key_spec approvals_keys[] = {
    {"entry_status", K_ENUM, offsetof(struct config_approvals, entry_status), 0,
	0, entry_status_names},
    {NULL, 0, 0, 0, 0, NULL},
};

/* [reference]: the cache of work types, roles and charge codes (cmd-ref.c).
 * ttl at least 1 s (0 would expire a list the moment it arrives), at most a
 * week. */
static const struct key_spec reference_keys[] = {
    {"ttl", K_DURATION, offsetof(struct config_reference, ttl_s), 1,
	7 * 86400, NULL},
    {NULL, 0, 0, 0, 0, NULL},
};

static const struct key_spec *const sect_keys[] = {api_keys, timers_keys,
    rounding_keys, deduction_keys, session_keys, defaults_keys, approvals_keys,
    reference_keys};

struct cfg_error {
	int line;
	int seq;
	char text[ERROR_TEXT_MAX];
};

/* Per-override parse state, parallel to cfg->rounding_overrides. */
struct override_seen {
	int line[KEYS_MAX];
};

struct load_ctx {
	struct config *cfg;    /* NULL when reading credentials */
	struct secret *secret; /* credentials mode */
	const char *name;      /* file name in messages */
	const char *text;
	size_t len, pos;
	int line;

	/* The section the reader saw last. */
	enum sect sect;
	bool sect_bad; /* unknown or invalid: skip its keys */
	int sub;       /* override index or target; -1 = base */
	int sect_line;

	int seen_base[SECT_COUNT + 1][KEYS_MAX];
	int seen_target[CONFIG_TARGET_COUNT][KEYS_MAX];
	struct override_seen *seen_override;
	int secret_lines[3];	 /* secrets in cwtimed.conf: lines */
	int secret_key_lines[3]; /* credentials mode: duplicates */

	struct cfg_error errors[CONFIG_MAX_ERRORS];
	size_t n_errors; /* stored */
	size_t n_total;	 /* including those not stored */
	bool oom;
};

/* --- small helpers --------------------------------------------------- */

static int
name_index(const char *const *names, const char *s, bool icase)
{
	int i;

	for (i = 0; names[i]; i++) {
		if (icase ? strcasecmp(names[i], s) == 0
			  : strcmp(names[i], s) == 0) {
			return i;
		}
	}
	return -1;
}

/* Copies s for quoting in a message: printable ASCII only, cut at 60. */
static void
quote_value(const char *s, char *out, size_t n)
{
	size_t i = 0;

	for (; *s && i + 4 < n; s++) {
		if (i >= 60) {
			memcpy(out + i, "...", 3);
			i += 3;
			break;
		}
		out[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	}
	out[i] = '\0';
}

static void add_error(struct load_ctx *ctx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
add_error(struct load_ctx *ctx, int line, const char *fmt, ...)
{
	struct cfg_error *e;
	va_list ap;

	ctx->n_total++;
	if (ctx->n_errors >= CONFIG_MAX_ERRORS) {
		return;
	}
	e = &ctx->errors[ctx->n_errors];
	e->line = line;
	e->seq = (int) ctx->n_errors;
	ctx->n_errors++;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
}

static int
cmp_error(const void *a, const void *b)
{
	const struct cfg_error *x = a, *y = b;

	if (x->line != y->line) {
		return x->line < y->line ? -1 : 1;
	}
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Writes the collected errors into reterr, one per line, as many as fit,
 * then "(N more errors)". */
static int
report_errors(struct load_ctx *ctx, struct errbuf *reterr)
{
	char *out;
	size_t cap, used = 0, i;

	if (!reterr) {
		return -EINVAL;
	}
	qsort(ctx->errors, ctx->n_errors, sizeof(ctx->errors[0]), cmp_error);
	reterr->code = ERR_CONFIG;
	reterr->field[0] = '\0';
	out = reterr->msg;
	cap = sizeof(reterr->msg);
	out[0] = '\0';
	for (i = 0; i < ctx->n_errors; i++) {
		char one[ERROR_TEXT_MAX + 128];
		size_t k;

		if (ctx->errors[i].line > 0) {
			snprintf(one, sizeof(one), "%s:%d: %s", ctx->name,
			    ctx->errors[i].line, ctx->errors[i].text);
		} else {
			snprintf(one, sizeof(one), "%s: %s", ctx->name,
			    ctx->errors[i].text);
		}
		k = strlen(one);
		/* Keep 24 bytes for the "(N more errors)" line unless this
		 * is the last error. */
		if (used + (used ? 1 : 0) + k +
			(i + 1 == ctx->n_total ? 0 : 24) >=
		    cap) {
			break;
		}
		if (used) {
			out[used++] = '\n';
		}
		memcpy(out + used, one, k + 1);
		used += k;
	}
	if (i < ctx->n_total) {
		snprintf(out + used, cap - used, "%s(%zu more errors)",
		    used ? "\n" : "", ctx->n_total - i);
	}
	return -EINVAL;
}

/* Expands "~/" against $HOME; requires an absolute result. */
static int
expand_path(const char *v, char **ret, const char **why)
{
	const char *home;
	char *p;

	if (v[0] == '~' && v[1] == '/') {
		home = getenv("HOME");
		if (!home || home[0] != '/') {
			*why = "'~/' needs $HOME to be an absolute path";
			return -EINVAL;
		}
		if (asprintf(&p, "%s%s", home, v + 1) < 0) {
			return -ENOMEM;
		}
	} else if (v[0] == '/') {
		p = strdup(v);
		if (!p) {
			return -ENOMEM;
		}
	} else {
		*why = "must be an absolute path (or start with '~/')";
		return -EINVAL;
	}
	*ret = p;
	return 0;
}

static bool
is_loopback_host(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[64];
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0) {
		return true;
	}
	if (host[0] == '[' && n > 2 && n < sizeof(buf) && host[n - 1] == ']') {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		return inet_pton(AF_INET6, buf, &a6) == 1 &&
		    IN6_IS_ADDR_LOOPBACK(&a6);
	}
	if (inet_pton(AF_INET, host, &a4) == 1) {
		return (ntohl(a4.s_addr) >> 24) == 127;
	}
	return false;
}

static bool
is_host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Checks "host[:port]" (host may be a bracketed IPv6 literal); fills
 * hostbuf with the host part. */
static int
check_hostport(
    const char *hp, size_t n, char *hostbuf, size_t hostcap, const char **why)
{
	const char *colon = NULL;
	size_t hn, i;

	if (n == 0) {
		*why = "no host name";
		return -EINVAL;
	}
	if (hp[0] == '[') {
		const char *close = memchr(hp, ']', n);

		if (!close) {
			*why = "unterminated '[' in the host";
			return -EINVAL;
		}
		hn = (size_t) (close - hp) + 1;
		for (i = 1; i + 1 < hn; i++) {
			char c = hp[i];

			if (!((c >= '0' && c <= '9') ||
				(c >= 'a' && c <= 'f') ||
				(c >= 'A' && c <= 'F') || c == ':' ||
				c == '.')) {
				*why = "invalid IPv6 address";
				return -EINVAL;
			}
		}
		if (hn < n) {
			if (hp[hn] != ':') {
				*why = "junk after the IPv6 address";
				return -EINVAL;
			}
			colon = hp + hn;
		}
	} else {
		colon = memchr(hp, ':', n);
		hn = colon ? (size_t) (colon - hp) : n;
		for (i = 0; i < hn; i++) {
			if (!is_host_char(hp[i])) {
				*why = "invalid character in the host name";
				return -EINVAL;
			}
		}
	}
	if (hn == 0 || hn >= hostcap) {
		*why = hn == 0 ? "no host name" : "host name too long";
		return -EINVAL;
	}
	if (colon) {
		char port[8];
		size_t pn = n - (size_t) (colon - hp) - 1;
		uint64_t pv;

		if (pn == 0 || pn >= sizeof(port)) {
			*why = "invalid port";
			return -EINVAL;
		}
		memcpy(port, colon + 1, pn);
		port[pn] = '\0';
		if (parse_uint64(port, 1, 65535, &pv) < 0) {
			*why = "invalid port";
			return -EINVAL;
		}
	}
	memcpy(hostbuf, hp, hn);
	hostbuf[hn] = '\0';
	return 0;
}

/* [api] url: https://host[:port][/path], or http:// to a loopback host
 * only (the fake server in tests). No user info, query or fragment: the
 * credentials never go into a URL. Trailing '/' is stripped. */
static int
check_url(const char *v, char **ret, const char **why)
{
	const char *rest, *slash;
	char host[256];
	bool https;
	size_t n;
	char *p;

	if (strncasecmp(v, "https://", 8) == 0) {
		https = true;
		rest = v + 8;
	} else if (strncasecmp(v, "http://", 7) == 0) {
		https = false;
		rest = v + 7;
	} else {
		*why = "must start with https:// (http:// only for a loopback "
		       "address)";
		return -EINVAL;
	}
	if (strpbrk(v, " \t@?#\\\"")) {
		*why = "must not contain spaces, '@', '?', '#', '\\' or quotes";
		return -EINVAL;
	}
	slash = strchr(rest, '/');
	n = slash ? (size_t) (slash - rest) : strlen(rest);
	if (check_hostport(rest, n, host, sizeof(host), why) < 0) {
		return -EINVAL;
	}
	if (!https && !is_loopback_host(host)) {
		*why = "http:// is allowed only for 127.0.0.0/8, [::1] and "
		       "localhost; use https://";
		return -EINVAL;
	}
	p = strdup(v);
	if (!p) {
		return -ENOMEM;
	}
	n = strlen(p);
	while (n > (size_t) (rest - v) && p[n - 1] == '/') {
		p[--n] = '\0';
	}
	*ret = p;
	return 0;
}

/* Printable ASCII or UTF-8 (bytes >= 0x80), no control bytes. */
static bool
is_clean_text(const char *v)
{
	const unsigned char *p = (const unsigned char *) v;

	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			return false;
		}
	}
	return true;
}

/* No spaces, quotes, backslashes or control bytes. */
static bool
is_token(const char *v)
{
	const unsigned char *p = (const unsigned char *) v;

	for (; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\' ||
		    *p == '\'') {
			return false;
		}
	}
	return true;
}

static int
parse_bool(const char *v, bool *ret)
{
	static const char *const yes[] = {"yes", "true", "on", "1", NULL};
	static const char *const no[] = {"no", "false", "off", "0", NULL};

	if (name_index(yes, v, true) >= 0) {
		*ret = true;
		return 0;
	}
	if (name_index(no, v, true) >= 0) {
		*ret = false;
		return 0;
	}
	return -EINVAL;
}

/* "a, b, c" for an error message. */
static void
join_names(const char *const *names, char *out, size_t n)
{
	size_t used = 0;
	int i;

	out[0] = '\0';
	for (i = 0; names[i]; i++) {
		if (!names[i][0]) {
			continue;
		}
		used += (size_t) snprintf(
		    out + used, n - used, "%s%s", used ? ", " : "", names[i]);
		if (used >= n) {
			break;
		}
	}
}

/* --- key assignment -------------------------------------------------- */

/* snprintf that may truncate on purpose (a reason cut short is fine). */
static void set_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static int
set_string(char **field, const char *v)
{
	char *p = strdup(v);

	if (!p) {
		return -ENOMEM;
	}
	free(*field);
	*field = p;
	return 0;
}

/* Parses value v for key k into the struct at base. Returns 0, -ENOMEM,
 * or -EINVAL with the reason in why (a buffer of whylen bytes). */
static int
assign_key(const struct key_spec *k, void *base, const char *v, char *why,
    size_t whylen)
{
	void *field = (char *) base + k->off;
	const char *reason = NULL;
	struct errbuf e;
	char q[80], list[200];
	int64_t i64;
	int r, idx;

	quote_value(v, q, sizeof(q));
	if (!v[0] && k->type != K_NAME) {
		set_why(why, whylen, "empty value");
		return -EINVAL;
	}
	switch (k->type) {
	case K_NAME:
		if (!v[0] || strlen(v) > CONFIG_MAX_VALUE ||
		    !is_clean_text(v)) {
			set_why(why, whylen,
			    "invalid value '%s' (1 to %d "
			    "characters, no control characters)",
			    q, CONFIG_MAX_VALUE);
			return -EINVAL;
		}
		return set_string(field, v);
	case K_URL: {
		char *u = NULL;

		if (strlen(v) > CONFIG_MAX_VALUE) {
			reason = "too long";
			r = -EINVAL;
		} else {
			r = check_url(v, &u, &reason);
		}
		if (r == -EINVAL) {
			set_why(why, whylen, "invalid URL '%s': %s", q, reason);
		}
		if (r < 0) {
			return r;
		}
		free(*(char **) field);
		*(char **) field = u;
		return 0;
	}
	case K_SITE: {
		char host[256];

		if (strstr(v, "://")) {
			set_why(why, whylen,
			    "'%s' is a URL; 'site' is a host "
			    "name such as api-na.myconnectwise.net (a full "
			    "base URL goes in 'url')",
			    q);
			return -EINVAL;
		}
		if (strlen(v) > CONFIG_MAX_VALUE ||
		    check_hostport(v, strlen(v), host, sizeof(host), &reason) <
			0) {
			set_why(why, whylen, "invalid host name '%s'%s%s", q,
			    reason ? ": " : "", reason ? reason : "");
			return -EINVAL;
		}
		return set_string(field, v);
	}
	case K_COMPANY:
		/* It becomes "company+publickey" in a Basic user name. */
		if (strlen(v) > 64 || !is_token(v) || strchr(v, ':') ||
		    strchr(v, '+')) {
			set_why(why, whylen,
			    "invalid company id '%s' (no "
			    "spaces, quotes, ':' or '+'; at most 64 "
			    "characters)",
			    q);
			return -EINVAL;
		}
		return set_string(field, v);
	case K_MEMBER: {
		struct config_api *api = base;

		if (strlen(v) > 64 || !is_token(v)) {
			set_why(why, whylen,
			    "invalid member '%s' (an "
			    "identifier such as jdoe, or a numeric id)",
			    q);
			return -EINVAL;
		}
		api->member_id = 0;
		if (v[0] >= '0' && v[0] <= '9') {
			r = parse_int64(v, 1, INT32_MAX, &i64);
			if (r < 0) {
				set_why(why, whylen,
				    "invalid member id '%s' "
				    "(1 to %d)",
				    q, INT32_MAX);
				return -EINVAL;
			}
			api->member_id = i64;
		}
		return set_string(field, v);
	}
	case K_VERSION: {
		const char *p = v;
		int dots = 0;

		for (; *p; p++) {
			if (*p == '.') {
				dots++;
			} else if (*p < '0' || *p > '9') {
				break;
			}
		}
		if (*p || dots != 1 || v[0] == '.' || p[-1] == '.' ||
		    strlen(v) > 16) {
			set_why(why, whylen,
			    "invalid API version '%s' "
			    "(e.g. 2025.8)",
			    q);
			return -EINVAL;
		}
		return set_string(field, v);
	}
	case K_PATH: {
		char *path = NULL;

		if (strlen(v) > PATH_MAX || !is_clean_text(v)) {
			set_why(why, whylen, "invalid path '%s'", q);
			return -EINVAL;
		}
		r = expand_path(v, &path, &reason);
		if (r == -EINVAL) {
			set_why(
			    why, whylen, "invalid path '%s': %s", q, reason);
		}
		if (r < 0) {
			return r;
		}
		free(*(char **) field);
		*(char **) field = path;
		return 0;
	}
	case K_INT:
		r = parse_int64(v, k->min, k->max, &i64);
		if (r < 0) {
			set_why(why, whylen,
			    "invalid number '%s' (an integer "
			    "from %" PRId64 " to %" PRId64 ")",
			    q, k->min, k->max);
			return -EINVAL;
		}
		*(int64_t *) field = i64;
		return 0;
	case K_DURATION:
		r = duration_parse(v, &i64, &e);
		if (r < 0) {
			set_why(why, whylen, "%s", e.msg);
			return -EINVAL;
		}
		if (i64 < k->min || i64 > k->max) {
			char lo[DURATION_FORMAT_MAX], hi[DURATION_FORMAT_MAX];

			(void) duration_format_long(k->min, lo, sizeof(lo));
			(void) duration_format_long(k->max, hi, sizeof(hi));
			set_why(why, whylen,
			    "duration '%s' out of range "
			    "(%s to %s)",
			    q, lo, hi);
			return -EINVAL;
		}
		*(int64_t *) field = i64;
		return 0;
	case K_BOOL: {
		bool b;

		if (parse_bool(v, &b) < 0) {
			set_why(
			    why, whylen, "invalid value '%s' (yes or no)", q);
			return -EINVAL;
		}
		*(bool *) field = b;
		return 0;
	}
	case K_ENUM:
		/* Our lower-case words and ConnectWise's CamelCase names
		 * alike are matched case-insensitively. */
		idx = name_index(k->names, v, true);
		if (idx < 0) {
			join_names(k->names, list, sizeof(list));
			set_why(why, whylen, "invalid value '%s' (one of: %s)",
			    q, list);
			return -EINVAL;
		}
		*(int *) field = idx;
		return 0;
	case K_BILLING:
		idx = name_index(billing_names, v, true);
		if (idx <= 0) {
			join_names(billing_names, list, sizeof(list));
			set_why(why, whylen, "invalid value '%s' (one of: %s)",
			    q, list);
			return -EINVAL;
		}
		*(enum config_billing *) field = (enum config_billing) idx;
		return 0;
	case K_BREAK: {
		struct config_deduction *d = base;
		int64_t b, a;

		r = duration_parse_break(v, &b, &a, &e);
		if (r < 0) {
			set_why(why, whylen, "%s", e.msg);
			return -EINVAL;
		}
		d->break_s = b;
		d->break_after_s = a;
		return 0;
	}
	case K_ON_IDLE: {
		struct config_session *s = base;
		static const char pfx[] = "pause after ";

		if (strcasecmp(v, "keep") == 0) {
			s->on_idle = CONFIG_ON_IDLE_KEEP;
			s->idle_after_s = 0;
			return 0;
		}
		if (strncasecmp(v, pfx, sizeof(pfx) - 1) != 0) {
			set_why(why, whylen,
			    "invalid value '%s' (keep, or "
			    "pause after DURATION such as 'pause after 10m')",
			    q);
			return -EINVAL;
		}
		r = duration_parse(v + sizeof(pfx) - 1, &i64, &e);
		if (r < 0) {
			set_why(why, whylen, "%s", e.msg);
			return -EINVAL;
		}
		if (i64 < 60 || i64 > 86400) {
			set_why(why, whylen,
			    "idle time '%s' out of range "
			    "(1m to 24h)",
			    q);
			return -EINVAL;
		}
		s->on_idle = CONFIG_ON_IDLE_PAUSE;
		s->idle_after_s = i64;
		return 0;
	}
	}
	set_why(why, whylen, "internal error: unknown key type");
	return -EINVAL;
}

/* --- sections -------------------------------------------------------- */

static int
find_override(
    struct config *cfg, const char *work_type, const char *charge_type)
{
	size_t i;

	for (i = 0; i < cfg->n_rounding_overrides; i++) {
		const struct config_rounding_override *o =
		    &cfg->rounding_overrides[i];

		if (work_type && o->work_type &&
		    strcasecmp(o->work_type, work_type) == 0) {
			return (int) i;
		}
		if (charge_type && o->charge_type &&
		    strcmp(o->charge_type, charge_type) == 0) {
			return (int) i;
		}
	}
	return -1;
}

static int
add_override(
    struct load_ctx *ctx, const char *work_type, const char *charge_type)
{
	struct config *cfg = ctx->cfg;
	struct config_rounding_override *no;
	struct override_seen *ns;
	size_t n = cfg->n_rounding_overrides;
	int i = find_override(cfg, work_type, charge_type);

	if (i >= 0) {
		return i;
	}
	if (n >= CONFIG_MAX_OVERRIDES) {
		return -E2BIG;
	}
	no = reallocarray(cfg->rounding_overrides, n + 1, sizeof(*no));
	if (!no) {
		return -ENOMEM;
	}
	cfg->rounding_overrides = no;
	ns = reallocarray(ctx->seen_override, n + 1, sizeof(*ns));
	if (!ns) {
		return -ENOMEM;
	}
	ctx->seen_override = ns;
	memset(&no[n], 0, sizeof(no[n]));
	memset(&ns[n], 0, sizeof(ns[n]));
	if (work_type) {
		no[n].work_type = strdup(work_type);
		if (!no[n].work_type) {
			return -ENOMEM;
		}
	} else {
		no[n].charge_type = strdup(charge_type);
		if (!no[n].charge_type) {
			return -ENOMEM;
		}
	}
	cfg->n_rounding_overrides = n + 1;
	return (int) n;
}

/* Handles a "[name]" or "[name "sub"]" line (already trimmed, with the
 * brackets). Sets ctx->sect, ->sub, ->sect_bad. */
static void
enter_section(struct load_ctx *ctx, const char *s, size_t n)
{
	char name[32], sub[CONFIG_MAX_VALUE + 1], q[80];
	const char *p = s + 1, *end = s + n - 1; /* inside the brackets */
	size_t nl = 0, sl = 0;
	bool has_sub = false;
	int idx, r;

	ctx->sect = SECT_NONE;
	ctx->sect_bad = true;
	ctx->sub = -1;
	ctx->sect_line = ctx->line;
	while (p < end && (*p == ' ' || *p == '\t')) {
		p++;
	}
	while (p < end &&
	    ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		*p == '_' || (*p >= '0' && *p <= '9'))) {
		if (nl + 1 < sizeof(name)) {
			name[nl++] = *p;
		}
		p++;
	}
	name[nl] = '\0';
	while (p < end && (*p == ' ' || *p == '\t')) {
		p++;
	}
	if (p < end && *p == '"') {
		const char *close = memchr(p + 1, '"', (size_t) (end - p - 1));

		if (!close) {
			add_error(ctx, ctx->line,
			    "unterminated quote in "
			    "section header");
			return;
		}
		sl = (size_t) (close - p - 1);
		if (sl == 0 || sl > CONFIG_MAX_VALUE) {
			add_error(ctx, ctx->line,
			    "the name in quotes must "
			    "have 1 to %d characters",
			    CONFIG_MAX_VALUE);
			return;
		}
		memcpy(sub, p + 1, sl);
		sub[sl] = '\0';
		has_sub = true;
		p = close + 1;
		while (p < end && (*p == ' ' || *p == '\t')) {
			p++;
		}
	}
	if (p != end || nl == 0) {
		char raw[72];

		/* s is not NUL-terminated: it points into the file. */
		memcpy(raw, s, n < sizeof(raw) - 1 ? n : sizeof(raw) - 1);
		raw[n < sizeof(raw) - 1 ? n : sizeof(raw) - 1] = '\0';
		quote_value(raw, q, sizeof(q));
		add_error(ctx, ctx->line,
		    "invalid section header '%s' "
		    "(expected [name] or [name \"subname\"])",
		    ctx->secret ? "[...]" : q);
		return;
	}
	if (ctx->secret) {
		if (strcmp(name, "api") != 0 || has_sub) {
			add_error(ctx, ctx->line,
			    "unknown section (the "
			    "credentials file has only [api])");
			return;
		}
		ctx->sect = SECT_CREDENTIALS;
		ctx->sect_bad = false;
		return;
	}
	idx = name_index(sect_names, name, false);
	if (idx < 0) {
		add_error(ctx, ctx->line, "unknown section [%s]", name);
		return;
	}
	if (has_sub && idx != SECT_ROUNDING && idx != SECT_DEFAULTS) {
		quote_value(sub, q, sizeof(q));
		add_error(ctx, ctx->line,
		    "section [%s] takes no subsection "
		    "(found \"%s\")",
		    name, q);
		return;
	}
	ctx->sect = (enum sect) idx;
	if (!has_sub) {
		ctx->sect_bad = false;
		return;
	}
	if (!is_clean_text(sub)) {
		add_error(ctx, ctx->line,
		    "control character in the section "
		    "name");
		return;
	}
	if (idx == SECT_DEFAULTS) {
		int t = name_index(target_names, sub, false);

		if (t < 0) {
			char list[120];

			quote_value(sub, q, sizeof(q));
			join_names(target_names, list, sizeof(list));
			add_error(ctx, ctx->line,
			    "unknown target type "
			    "[defaults \"%s\"] (one of: %s)",
			    q, list);
			return;
		}
		ctx->sub = t;
		ctx->cfg->has_target_defaults[t] = true;
		ctx->sect_bad = false;
		return;
	}
	/* [rounding "WORKTYPE"] or [rounding "charge:TYPE"] */
	if (strncmp(sub, "charge:", 7) == 0) {
		if (name_index(charge_type_names, sub + 7, false) < 0) {
			char list[120];

			quote_value(sub, q, sizeof(q));
			join_names(charge_type_names, list, sizeof(list));
			add_error(ctx, ctx->line,
			    "unknown charge type "
			    "[rounding \"%s\"] (charge: followed by one of: "
			    "%s)",
			    q, list);
			return;
		}
		r = add_override(ctx, NULL, sub + 7);
	} else {
		r = add_override(ctx, sub, NULL);
	}
	if (r == -ENOMEM) {
		ctx->oom = true;
		return;
	}
	if (r < 0) {
		add_error(ctx, ctx->line,
		    "too many [rounding \"...\"] "
		    "sections (at most %d)",
		    CONFIG_MAX_OVERRIDES);
		return;
	}
	ctx->sub = r;
	ctx->sect_bad = false;
}

/* --- the reader and the handler -------------------------------------- */

static bool
is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* inih's ini_reader: returns the next line, normalised. See the top of
 * the file for why we classify lines here. */
static char *
on_read_line(char *str, int num, void *stream)
{
	struct load_ctx *ctx = stream;
	const char *s, *e, *eol, *eq;
	size_t n, k;

	if (ctx->pos >= ctx->len || num < 4) {
		return NULL;
	}
	s = ctx->text + ctx->pos;
	eol = memchr(s, '\n', ctx->len - ctx->pos);
	if (!eol) {
		eol = ctx->text + ctx->len;
	}
	ctx->pos = (size_t) (eol - ctx->text) + 1;
	ctx->line++;
	if (ctx->line == 1 && eol - s >= 3 &&
	    memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3; /* UTF-8 byte order mark */
	}
	e = eol;
	while (s < e && (*s == ' ' || *s == '\t')) {
		s++;
	}
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) {
		e--;
	}
	n = (size_t) (e - s);
	str[0] = '\n';
	str[1] = '\0';
	if (n == 0 || *s == ';' || *s == '#') {
		return str;
	}
	if (*s == '[') {
		if (e[-1] != ']') {
			add_error(ctx, ctx->line,
			    "section header without "
			    "closing ']'");
			ctx->sect = SECT_NONE;
			ctx->sect_bad = true;
			return str;
		}
		enter_section(ctx, s, n);
		return str;
	}
	/* One '=' separates key and value; the key is a plain word (inih
	 * would also split at ':', which we do not want). */
	eq = memchr(s, '=', n);
	for (k = 0; eq && s + k < eq; k++) {
		if (!is_key_char(s[k]) && s[k] != ' ' && s[k] != '\t') {
			break;
		}
	}
	if (!eq || eq == s || s + k < eq) {
		add_error(ctx, ctx->line,
		    "expected 'key = value', a "
		    "[section], or a comment starting with '#' or ';'");
		return str;
	}
	if (n + 2 > (size_t) num) {
		add_error(ctx, ctx->line, "line too long (at most %d bytes)",
		    num - 2);
		return str;
	}
	memcpy(str, s, n);
	str[n] = '\n';
	str[n + 1] = '\0';
	return str;
}

/* Strips one pair of surrounding double quotes. */
static const char *
unquote(const char *v, char *buf, size_t n)
{
	size_t len = strlen(v);

	if (len >= 2 && v[0] == '"' && v[len - 1] == '"' && len - 2 < n) {
		memcpy(buf, v + 1, len - 2);
		buf[len - 2] = '\0';
		return buf;
	}
	return v;
}

static int *
seen_slot(struct load_ctx *ctx, int key)
{
	if (ctx->sect == SECT_ROUNDING && ctx->sub >= 0) {
		return &ctx->seen_override[ctx->sub].line[key];
	}
	if (ctx->sect == SECT_DEFAULTS && ctx->sub >= 0) {
		return &ctx->seen_target[ctx->sub][key];
	}
	return &ctx->seen_base[ctx->sect][key];
}

static void *
section_base(struct load_ctx *ctx)
{
	struct config *c = ctx->cfg;

	switch (ctx->sect) {
	case SECT_API:
		return &c->api;
	case SECT_TIMERS:
		return &c->timers;
	case SECT_ROUNDING:
		return ctx->sub >= 0 ? &c->rounding_overrides[ctx->sub].r
				     : (void *) &c->rounding;
	case SECT_DEDUCTION:
		return &c->deduction;
	case SECT_SESSION:
		return &c->session;
	case SECT_DEFAULTS:
		return ctx->sub >= 0 ? &c->target_defaults[ctx->sub]
				     : &c->defaults;
	case SECT_APPROVALS:
		return &c->approvals;
	case SECT_REFERENCE:
		return &c->reference;
	default:
		return NULL;
	}
}

/* A label for messages: [rounding "Remote"]. */
static void
section_label(struct load_ctx *ctx, char *out, size_t n)
{
	char q[80];

	if (ctx->sect == SECT_CREDENTIALS) {
		snprintf(out, n, "[api]");
	} else if (ctx->sect == SECT_ROUNDING && ctx->sub >= 0) {
		const struct config_rounding_override *o =
		    &ctx->cfg->rounding_overrides[ctx->sub];

		if (o->work_type) {
			quote_value(o->work_type, q, sizeof(q));
			snprintf(out, n, "[rounding \"%s\"]", q);
		} else {
			snprintf(
			    out, n, "[rounding \"charge:%s\"]", o->charge_type);
		}
	} else if (ctx->sect == SECT_DEFAULTS && ctx->sub >= 0) {
		snprintf(out, n, "[defaults \"%s\"]", target_names[ctx->sub]);
	} else {
		snprintf(out, n, "[%s]", sect_names[ctx->sect]);
	}
}

static void
handle_secret_key(struct load_ctx *ctx, const char *key, const char *v)
{
	struct secret *s = ctx->secret;
	char **field;
	int idx = name_index(secret_key_names, key, false);

	if (idx < 0) {
		/* Do not echo the name: it might be a pasted key. */
		add_error(ctx, ctx->line,
		    "[api]: unknown key (only "
		    "public_key, private_key and client_id belong here)");
		return;
	}
	if (ctx->secret_key_lines[idx]) {
		add_error(ctx, ctx->line,
		    "[api] %s: given twice (first on "
		    "line %d)",
		    key, ctx->secret_key_lines[idx]);
		return;
	}
	ctx->secret_key_lines[idx] = ctx->line;
	if (!v[0]) {
		add_error(ctx, ctx->line, "[api] %s: empty value", key);
		return;
	}
	/* The public key and the client id go into headers and the Basic
	 * user name: no spaces, quotes or ':' there. */
	if (!is_clean_text(v) ||
	    (idx != 1 && (!is_token(v) || strchr(v, ':')))) {
		add_error(ctx, ctx->line,
		    "[api] %s: invalid characters in "
		    "the value (not shown)",
		    key);
		return;
	}
	field = idx == 0 ? &s->public_key
	    : idx == 1	 ? &s->private_key
			 : &s->client_id;
	*field = strdup(v);
	if (!*field) {
		ctx->oom = true;
	}
}

/* inih's handler; section is ignored (the reader tracks it). Always
 * returns 1: we collect errors instead of stopping. */
static int
on_key(void *user, const char *section, const char *key, const char *value)
{
	struct load_ctx *ctx = user;
	const struct key_spec *keys;
	char label[CONFIG_MAX_VALUE + 32], why[ERROR_TEXT_MAX], q[80];
	char vbuf[INI_MAX_LINE + 1];
	const char *v;
	void *base;
	int i, r, *slot;

	(void) section;
	v = unquote(value ? value : "", vbuf, sizeof(vbuf));
	if (ctx->sect == SECT_NONE && !ctx->sect_bad) {
		quote_value(key, q, sizeof(q));
		add_error(ctx, ctx->line,
		    "key '%s' outside of any section "
		    "(add e.g. [api] above it)",
		    ctx->secret ? "..." : q);
		return 1;
	}
	if (ctx->sect_bad) {
		return 1; /* reported once, at the section header */
	}
	if (ctx->sect == SECT_CREDENTIALS) {
		handle_secret_key(ctx, key, v);
		return 1;
	}
	section_label(ctx, label, sizeof(label));
	i = name_index(secret_key_names, key, false);
	if (i >= 0) {
		/* Never echo the value. The message is finished after
		 * parsing, when [api] credentials is known. */
		if (!ctx->secret_lines[i]) {
			ctx->secret_lines[i] = ctx->line;
		}
		return 1;
	}
	keys = sect_keys[ctx->sect];
	for (i = 0; keys[i].name; i++) {
		if (strcmp(keys[i].name, key) == 0) {
			break;
		}
	}
	if (!keys[i].name) {
		quote_value(key, q, sizeof(q));
		add_error(ctx, ctx->line, "%s %s: unknown key", label, q);
		return 1;
	}
	slot = seen_slot(ctx, i);
	if (*slot) {
		add_error(ctx, ctx->line,
		    "%s %s: given twice (first on line "
		    "%d)",
		    label, key, *slot);
		return 1;
	}
	*slot = ctx->line;
	base = section_base(ctx);
	why[0] = '\0';
	r = assign_key(&keys[i], base, v, why, sizeof(why));
	if (r == -ENOMEM) {
		ctx->oom = true;
	} else if (r < 0) {
		add_error(ctx, ctx->line, "%s %s: %s", label, key, why);
	}
	return 1;
}

/* Runs the reader and handler over text. Returns 0 or -ENOMEM; errors
 * are in ctx. */
static int
parse_text(struct load_ctx *ctx)
{
	int r;

	if (memchr(ctx->text, '\0', ctx->len)) {
		const char *z = memchr(ctx->text, '\0', ctx->len);
		int line = 1;
		const char *p;

		for (p = ctx->text; p < z; p++) {
			line += *p == '\n';
		}
		add_error(ctx, line,
		    "NUL byte in the file (is it a text "
		    "file?)");
		return 0;
	}
	ctx->sect = SECT_NONE;
	ctx->sect_bad = false;
	ctx->sub = -1;
	r = ini_parse_stream(on_read_line, ctx, on_key, ctx);
	if (r == -2 || ctx->oom) {
		return -ENOMEM;
	}
	if (r > 0) {
		/* The reader normalises lines so that inih never complains;
		 * if it does anyway, say where. */
		add_error(ctx, r, "syntax error");
	}
	return 0;
}

/* --- defaults, finishing, public API --------------------------------- */

int
config_init_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->api.api_version = strdup("2025.8");
	if (!c->api.api_version) {
		return -ENOMEM;
	}
	c->api.max_rate = 600;
	c->api.max_in_flight = 4;
	c->api.connect_timeout_s = 10;
	c->api.total_timeout_s = 60;
	c->api.low_speed_time_s = 30;
	c->api.settle_delay_s = 120;
	c->api.backoff_base_s = 2;
	c->api.backoff_cap_s = 15 * 60;
	c->api.breaker_threshold = 5;
	c->api.breaker_cooldown_s = 30;
	c->api.breaker_cooldown_max_s = 15 * 60;
	c->timers.concurrency = CONFIG_CONCURRENCY_SINGLE;
	c->timers.max_duration_s = 12 * 3600;
	c->timers.split_at_midnight = true;
	c->timers.heartbeat_s = 300;
	c->rounding.mode = CONFIG_ROUND_NONE;
	c->rounding.increment_s = 15 * 60;
	c->rounding.minimum_s = 0;
	c->deduction.pauses = CONFIG_PAUSES_DEDUCT;
	c->session.on_lock = CONFIG_ON_LOCK_KEEP;
	c->session.on_sleep = CONFIG_ON_SLEEP_PAUSE;
	c->session.on_idle = CONFIG_ON_IDLE_KEEP;
	c->session.on_logout = CONFIG_ON_LOGOUT_STOP;
	c->session.resume_after_sleep = true;
	c->session.submit_timeout_s = 10;
	c->approvals.entry_status = CONFIG_STATUS_APPROVED_BY_TIER_ONE;
	c->reference.ttl_s = 3600; /* REFDATA_DEFAULT_TTL_S */
	return 0;
}

static void
defaults_fini(struct config_defaults *d)
{
	free(d->work_type);
	free(d->role);
	free(d->agreement);
}

void
config_fini(struct config *c)
{
	size_t i;

	if (!c) {
		return;
	}
	free(c->path);
	free(c->api.url);
	free(c->api.site);
	free(c->api.company);
	free(c->api.member);
	free(c->api.api_version);
	free(c->api.ca_file);
	free(c->api.credentials);
	for (i = 0; i < c->n_rounding_overrides; i++) {
		free(c->rounding_overrides[i].work_type);
		free(c->rounding_overrides[i].charge_type);
	}
	free(c->rounding_overrides);
	defaults_fini(&c->defaults);
	for (i = 0; i < CONFIG_TARGET_COUNT; i++) {
		defaults_fini(&c->target_defaults[i]);
	}
	memset(c, 0, sizeof(*c));
}

static int
xdg_config_file(const char *leaf, char **ret)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *home;
	int k;

	/* The XDG spec: a relative XDG_CONFIG_HOME is invalid, ignore it. */
	if (x && x[0] == '/') {
		k = asprintf(ret, "%s/cwtimed/%s", x, leaf);
	} else {
		home = getenv("HOME");
		if (!home || home[0] != '/') {
			return -ENOENT;
		}
		k = asprintf(ret, "%s/.config/cwtimed/%s", home, leaf);
	}
	return k < 0 ? -ENOMEM : 0;
}

int
config_default_path(char **ret)
{
	return xdg_config_file("cwtimed.conf", ret);
}

/* Where secrets belong, for messages about secrets in cwtimed.conf:
 * [api] credentials or the XDG default ($CREDENTIALS_DIRECTORY is
 * systemd's business, not a file the user edits). */
static int
user_secret_path(const struct config *c, char **ret)
{
	if (c->api.credentials) {
		*ret = strdup(c->api.credentials);
		return *ret ? 0 : -ENOMEM;
	}
	return xdg_config_file("credentials", ret);
}

int
config_secret_path(const struct config *c, char **ret)
{
	const char *cd = getenv("CREDENTIALS_DIRECTORY");

	if (cd && cd[0]) {
		return asprintf(ret, "%s/cwtimed", cd) < 0 ? -ENOMEM : 0;
	}
	return user_secret_path(c, ret);
}

/* Checks that need several keys; run after parsing. */
static void
finish_config(struct load_ctx *ctx)
{
	struct config *c = ctx->cfg;
	int *api = ctx->seen_base[SECT_API];
	const int url = 0, site = 1, company = 2;
	const int connect = 9, total = 10, settle = 12;
	const int base = 13, cap = 14, cool = 16, cool_max = 17;
	size_t i;
	int k;

	/* On what was given, valid or not: one mistake, one message. */
	if ((api[url] || api[site]) && !api[company]) {
		add_error(ctx, api[url] ? api[url] : api[site],
		    "[api] %s: "
		    "'company' is needed too (the company id you log in "
		    "with)",
		    api[url] ? "url" : "site");
	}
	if (api[company] && !api[url] && !api[site]) {
		add_error(ctx, api[company],
		    "[api] company: 'site' (e.g. "
		    "api-na.myconnectwise.net) or 'url' is needed too");
	}
	if (c->api.total_timeout_s < c->api.connect_timeout_s) {
		add_error(ctx, api[total] ? api[total] : api[connect],
		    "[api] total_timeout (%" PRId64 "s) is shorter than "
		    "connect_timeout (%" PRId64 "s)",
		    c->api.total_timeout_s, c->api.connect_timeout_s);
	}
	if (c->api.backoff_cap_s < c->api.backoff_base_s) {
		add_error(ctx, api[cap] ? api[cap] : api[base],
		    "[api] backoff_cap (%" PRId64 "s) is shorter than "
		    "backoff_base (%" PRId64 "s)",
		    c->api.backoff_cap_s, c->api.backoff_base_s);
	}
	if (c->api.breaker_cooldown_max_s < c->api.breaker_cooldown_s) {
		add_error(ctx, api[cool_max] ? api[cool_max] : api[cool],
		    "[api] breaker_cooldown_max (%" PRId64 "s) is shorter "
		    "than breaker_cooldown (%" PRId64 "s)",
		    c->api.breaker_cooldown_max_s, c->api.breaker_cooldown_s);
	}
	if (!api[settle]) {
		c->api.settle_delay_s = 2 * c->api.total_timeout_s;
	}
	/* [rounding "..."] inherits what it does not set. */
	for (i = 0; i < c->n_rounding_overrides; i++) {
		struct config_rounding *r = &c->rounding_overrides[i].r;
		const int *seen = ctx->seen_override[i].line;

		if (!seen[0]) {
			r->mode = c->rounding.mode;
		}
		if (!seen[1]) {
			r->increment_s = c->rounding.increment_s;
		}
		if (!seen[2]) {
			r->minimum_s = c->rounding.minimum_s;
		}
	}
	for (k = 0; k < 3; k++) {
		CLEANUP_FREE char *where = NULL;

		if (!ctx->secret_lines[k]) {
			continue;
		}
		if (user_secret_path(c, &where) == -ENOMEM) {
			ctx->oom = true;
			return;
		}
		add_error(ctx, ctx->secret_lines[k],
		    "%s: secrets are not "
		    "read from this file; put it in the credentials file "
		    "%s (mode 0600), in section [api]",
		    secret_key_names[k],
		    where ? where : "$XDG_CONFIG_HOME/cwtimed/credentials");
	}
}

int
config_load_string(const char *text, size_t len, const char *name,
    struct config *ret, struct errbuf *reterr)
{
	struct load_ctx *ctx;
	struct config c;
	int r;

	r = config_init_defaults(&c);
	if (r < 0) {
		return errbuf_set(reterr, ERR_INTERNAL, r, "out of memory");
	}
	/* The context holds the error list: keep it off the stack. */
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		config_fini(&c);
		return errbuf_set(
		    reterr, ERR_INTERNAL, -ENOMEM, "out of memory");
	}
	ctx->cfg = &c;
	ctx->name = name ? name : "cwtimed.conf";
	ctx->text = text;
	ctx->len = len;
	c.path = strdup(ctx->name);
	c.file_found = true;
	r = c.path ? parse_text(ctx) : -ENOMEM;
	if (r == 0) {
		finish_config(ctx);
	}
	if (r < 0 || ctx->oom) {
		r = errbuf_set(reterr, ERR_INTERNAL, -ENOMEM, "out of memory");
	} else if (ctx->n_total > 0) {
		r = report_errors(ctx, reterr);
	}
	free(ctx->seen_override);
	free(ctx);
	if (r < 0) {
		config_fini(&c);
		memset(ret, 0, sizeof(*ret));
		return r;
	}
	*ret = c;
	return 0;
}

/* Reads a whole regular file of at most max bytes into a new buffer
 * (NUL-terminated; *ret_len excludes the NUL). fd is consumed by the
 * caller. */
static int
read_all(int fd, size_t max, char **ret, size_t *ret_len)
{
	char *buf;
	size_t used = 0;

	buf = malloc(max + 1);
	if (!buf) {
		return -ENOMEM;
	}
	for (;;) {
		ssize_t k = read(fd, buf + used, max + 1 - used);

		if (k < 0) {
			int r = -errno;

			if (r == -EINTR) {
				continue;
			}
			explicit_bzero(buf, used);
			free(buf);
			return r;
		}
		if (k == 0) {
			break;
		}
		used += (size_t) k;
		if (used > max) {
			explicit_bzero(buf, used);
			free(buf);
			return -EFBIG;
		}
	}
	buf[used] = '\0';
	*ret = buf;
	*ret_len = used;
	return 0;
}

int
config_load(const char *path, struct config *ret, struct errbuf *reterr)
{
	CLEANUP_FREE char *defpath = NULL;
	CLEANUP_FREE char *text = NULL;
	CLEANUP_CLOSE int fd = -1;
	struct stat st;
	size_t len = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (!path) {
		r = config_default_path(&defpath);
		if (r == -ENOMEM) {
			return errbuf_set(
			    reterr, ERR_INTERNAL, r, "out of memory");
		}
		if (r < 0) {
			return errbuf_set(reterr, ERR_CONFIG, r,
			    "cannot find "
			    "the configuration: neither $XDG_CONFIG_HOME nor "
			    "$HOME is an absolute path");
		}
	}
	fd = open(path ? path : defpath, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT && !path) {
			/* No file at the default place: all defaults. */
			r = config_init_defaults(ret);
			if (r < 0) {
				return errbuf_set(
				    reterr, ERR_INTERNAL, r, "out of memory");
			}
			ret->path = TAKE_PTR(defpath);
			ret->file_found = false;
			return 0;
		}
		return errbuf_set(reterr, ERR_CONFIG, r, "cannot open '%s': %s",
		    path ? path : defpath, strerror(-r));
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		return errbuf_set(reterr, ERR_CONFIG, r, "cannot stat '%s': %s",
		    path ? path : defpath, strerror(-r));
	}
	if (!S_ISREG(st.st_mode)) {
		return errbuf_set(reterr, ERR_CONFIG, -EINVAL,
		    "'%s' is not a "
		    "regular file",
		    path ? path : defpath);
	}
	r = read_all(fd, CONFIG_MAX_BYTES, &text, &len);
	if (r == -EFBIG) {
		return errbuf_set(reterr, ERR_CONFIG, -EFBIG,
		    "'%s' is larger "
		    "than %d bytes",
		    path ? path : defpath, CONFIG_MAX_BYTES);
	}
	if (r < 0) {
		return errbuf_set(reterr, ERR_CONFIG, r, "cannot read '%s': %s",
		    path ? path : defpath, strerror(-r));
	}
	return config_load_string(
	    text, len, path ? path : defpath, ret, reterr);
}

void
secret_fini(struct secret *s)
{
	char **f[3];
	size_t i;

	if (!s) {
		return;
	}
	f[0] = &s->public_key;
	f[1] = &s->private_key;
	f[2] = &s->client_id;
	for (i = 0; i < ARRAY_SIZE(f); i++) {
		if (*f[i]) {
			explicit_bzero(*f[i], strlen(*f[i]));
			free(*f[i]);
		}
	}
	free(s->source);
	memset(s, 0, sizeof(*s));
}

/* inih copies each line into a buffer on its stack; overwrite that
 * region after reading secrets (best effort: the same stack depth). */
static __attribute__((noinline)) void
scrub_stack(void)
{
	char pad[4 * INI_MAX_LINE + 1024];

	explicit_bzero(pad, sizeof(pad));
	__asm__ __volatile__("" : : "r"(pad) : "memory");
}

int
config_parse_secret(const char *text, size_t len, const char *name,
    struct secret *ret, struct errbuf *reterr)
{
	static const char *const need[] = {
	    "public_key", "private_key", "client_id"};
	struct load_ctx *ctx;
	struct secret s;
	int r, k;

	memset(ret, 0, sizeof(*ret));
	memset(&s, 0, sizeof(s));
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		return errbuf_set(
		    reterr, ERR_INTERNAL, -ENOMEM, "out of memory");
	}
	ctx->secret = &s;
	ctx->name = name;
	ctx->text = text;
	ctx->len = len;
	r = parse_text(ctx);
	scrub_stack();
	if (r == 0 && ctx->n_total == 0) {
		char *const *have[] = {
		    &s.public_key, &s.private_key, &s.client_id};

		for (k = 0; k < 3; k++) {
			if (!*have[k]) {
				add_error(
				    ctx, 0, "[api] %s is missing", need[k]);
			}
		}
	}
	if (r < 0 || ctx->oom) {
		r = errbuf_set(reterr, ERR_INTERNAL, -ENOMEM, "out of memory");
	} else if (ctx->n_total > 0) {
		r = report_errors(ctx, reterr);
	}
	free(ctx);
	if (r < 0) {
		secret_fini(&s);
		return r;
	}
	s.source = strdup(name);
	if (!s.source) {
		secret_fini(&s);
		return errbuf_set(
		    reterr, ERR_INTERNAL, -ENOMEM, "out of memory");
	}
	*ret = s;
	return 0;
}

int
config_load_secret(
    const struct config *c, struct secret *ret, struct errbuf *reterr)
{
	CLEANUP_FREE char *path = NULL;
	CLEANUP_CLOSE int fd = -1;
	const char *cd = getenv("CREDENTIALS_DIRECTORY");
	bool from_systemd = cd && cd[0];
	char *text = NULL;
	struct stat st;
	size_t len = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = config_secret_path(c, &path);
	if (r == -ENOMEM) {
		return errbuf_set(reterr, ERR_INTERNAL, r, "out of memory");
	}
	if (r < 0) {
		return errbuf_set(reterr, ERR_API_NOT_CONFIGURED, -ENOENT,
		    "no credentials: neither $XDG_CONFIG_HOME nor $HOME is an "
		    "absolute path");
	}
	/* O_NOFOLLOW: the checks below must be about the file itself. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT) {
			return errbuf_set(reterr, ERR_API_NOT_CONFIGURED, r,
			    "no credentials file '%s'", path);
		}
		if (r == -ELOOP) {
			return errbuf_set(reterr, ERR_PERMISSION, -EPERM,
			    "credentials file '%s' is a symbolic link; "
			    "refusing it",
			    path);
		}
		return errbuf_set(reterr, ERR_CONFIG, r, "cannot open '%s': %s",
		    path, strerror(-r));
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		return errbuf_set(reterr, ERR_CONFIG, r, "cannot stat '%s': %s",
		    path, strerror(-r));
	}
	if (!S_ISREG(st.st_mode)) {
		return errbuf_set(reterr, ERR_CONFIG, -EINVAL,
		    "credentials "
		    "file '%s' is not a regular file",
		    path);
	}
	/* As ssh does with private keys. systemd's credentials directory
	 * is private to the service already, and owned by its setup. */
	if (!from_systemd && st.st_uid != geteuid()) {
		return errbuf_set(reterr, ERR_PERMISSION, -EPERM,
		    "credentials file '%s' belongs to uid %u, not to you "
		    "(uid %u); refusing it",
		    path, (unsigned) st.st_uid, (unsigned) geteuid());
	}
	if (!from_systemd && (st.st_mode & 077) != 0) {
		return errbuf_set(reterr, ERR_PERMISSION, -EPERM,
		    "credentials file '%s' has mode %04o: others can read "
		    "it; run 'chmod 600 %s' (and consider changing the "
		    "keys)",
		    path, (unsigned) (st.st_mode & 07777), path);
	}
	r = read_all(fd, SECRET_MAX_BYTES, &text, &len);
	if (r == -EFBIG) {
		return errbuf_set(reterr, ERR_CONFIG, r,
		    "credentials file "
		    "'%s' is larger than %d bytes",
		    path, SECRET_MAX_BYTES);
	}
	if (r < 0) {
		return errbuf_set(reterr, ERR_CONFIG, r, "cannot read '%s': %s",
		    path, strerror(-r));
	}
	r = config_parse_secret(text, len, path, ret, reterr);
	explicit_bzero(text, len);
	free(text);
	return r;
}

/* --- lookups and printing -------------------------------------------- */

const struct config_rounding *
config_rounding_for(
    const struct config *c, const char *work_type, const char *charge_type)
{
	size_t i;

	if (work_type) {
		for (i = 0; i < c->n_rounding_overrides; i++) {
			const struct config_rounding_override *o =
			    &c->rounding_overrides[i];

			if (o->work_type &&
			    strcasecmp(o->work_type, work_type) == 0) {
				return &o->r;
			}
		}
	}
	if (charge_type) {
		for (i = 0; i < c->n_rounding_overrides; i++) {
			const struct config_rounding_override *o =
			    &c->rounding_overrides[i];

			if (o->charge_type &&
			    strcmp(o->charge_type, charge_type) == 0) {
				return &o->r;
			}
		}
	}
	return &c->rounding;
}

void
config_defaults_for(const struct config *c, enum config_target type,
    struct config_defaults *ret)
{
	const struct config_defaults *t = NULL;

	*ret = c->defaults;
	if ((int) type < 0 || type >= CONFIG_TARGET_COUNT) {
		return;
	}
	t = &c->target_defaults[type];
	if (t->work_type) {
		ret->work_type = t->work_type;
	}
	if (t->role) {
		ret->role = t->role;
	}
	if (t->billing != CONFIG_BILLING_UNSET) {
		ret->billing = t->billing;
	}
	if (t->agreement) {
		ret->agreement = t->agreement;
	}
}

bool
config_api_configured(const struct config *c)
{
	return c->api.company && (c->api.url || c->api.site);
}

static const char *
enum_name(const char *const *names, int count, int v)
{
	if (v < 0 || v >= count) {
		return NULL;
	}
	return names[v];
}

const char *
config_concurrency_to_string(enum config_concurrency v)
{
	return enum_name(concurrency_names, CONFIG_CONCURRENCY_COUNT, v);
}

const char *
config_round_mode_to_string(enum config_round_mode v)
{
	return enum_name(round_mode_names, CONFIG_ROUND_COUNT, v);
}

const char *
config_pauses_to_string(enum config_pauses v)
{
	return enum_name(pauses_names, CONFIG_PAUSES_COUNT, v);
}

const char *
config_billing_to_string(enum config_billing v)
{
	if (v == CONFIG_BILLING_UNSET) {
		return NULL;
	}
	return enum_name(billing_names, CONFIG_BILLING_COUNT, v);
}

const char *
config_entry_status_to_string(enum config_entry_status v)
{
	return enum_name(entry_status_names, CONFIG_STATUS_COUNT, v);
}

const char *
config_target_to_string(enum config_target v)
{
	return enum_name(target_names, CONFIG_TARGET_COUNT, v);
}

enum config_target
config_target_from_string(const char *s)
{
	int i = s ? name_index(target_names, s, false) : -1;

	return i < 0 ? CONFIG_TARGET_INVALID : (enum config_target) i;
}

enum config_billing
config_billing_from_string(const char *s)
{
	int i = s ? name_index(billing_names, s, true) : -1;

	return i <= 0 ? CONFIG_BILLING_INVALID : (enum config_billing) i;
}

/* A value that the parser would read differently unless quoted:
 * surrounding blanks (trimmed), surrounding quotes (stripped once), or a
 * ';' (inline comment). */
static bool
needs_quotes(const char *v)
{
	size_t n = strlen(v);

	if (n == 0) {
		return false;
	}
	return v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' ||
	    v[n - 1] == '\t' || strchr(v, ';') ||
	    (n >= 2 && v[0] == '"' && v[n - 1] == '"');
}

static void
print_str(FILE *f, const char *key, const char *v)
{
	if (v && needs_quotes(v)) {
		fprintf(f, "%s = \"%s\"\n", key, v);
	} else if (v) {
		fprintf(f, "%s = %s\n", key, v);
	} else {
		fprintf(f, "# %s = (not set)\n", key);
	}
}

static void
print_dur(FILE *f, const char *key, int64_t s)
{
	char buf[DURATION_FORMAT_MAX];

	(void) duration_format_long(s, buf, sizeof(buf));
	fprintf(f, "%s = %s\n", key, buf);
}

static void
print_rounding(FILE *f, const struct config_rounding *r)
{
	fprintf(f, "mode = %s\n", config_round_mode_to_string(r->mode));
	print_dur(f, "increment", r->increment_s);
	print_dur(f, "minimum", r->minimum_s);
}

static void
print_defaults(FILE *f, const struct config_defaults *d, bool all)
{
	if (all || d->work_type) {
		print_str(f, "work_type", d->work_type);
	}
	if (all || d->role) {
		print_str(f, "role", d->role);
	}
	if (d->billing != CONFIG_BILLING_UNSET) {
		const char *b = config_billing_to_string(d->billing);

		fprintf(f, "billing = %s\n", b ? b : "?");
	} else if (all) {
		fprintf(f, "# billing = (not set)\n");
	}
	if (all || d->agreement) {
		print_str(f, "agreement", d->agreement);
	}
}

void
config_print(const struct config *c, FILE *f)
{
	CLEANUP_FREE char *sp = NULL;
	const char *cd = getenv("CREDENTIALS_DIRECTORY");
	struct stat st;
	size_t i;
	int t;

	fprintf(f, "# cwtimed configuration (%s%s)\n",
	    c->path ? c->path : "defaults",
	    c->file_found ? "" : ", not found: all defaults");
	if (config_secret_path(c, &sp) >= 0) {
		fprintf(f, "# credentials: %s (%s%s)\n", sp,
		    stat(sp, &st) == 0 ? "present" : "missing",
		    cd && cd[0] ? ", from $CREDENTIALS_DIRECTORY" : "");
	}
	fprintf(f, "\n[api]\n");
	print_str(f, "url", c->api.url);
	print_str(f, "site", c->api.site);
	print_str(f, "company", c->api.company);
	print_str(f, "member", c->api.member);
	print_str(f, "api_version", c->api.api_version);
	print_str(f, "ca_file", c->api.ca_file);
	print_str(f, "credentials", c->api.credentials);
	fprintf(f, "max_rate = %" PRId64 "\n", c->api.max_rate);
	fprintf(f, "max_in_flight = %" PRId64 "\n", c->api.max_in_flight);
	print_dur(f, "connect_timeout", c->api.connect_timeout_s);
	print_dur(f, "total_timeout", c->api.total_timeout_s);
	print_dur(f, "low_speed_time", c->api.low_speed_time_s);
	print_dur(f, "settle_delay", c->api.settle_delay_s);
	print_dur(f, "backoff_base", c->api.backoff_base_s);
	print_dur(f, "backoff_cap", c->api.backoff_cap_s);
	fprintf(f, "breaker_threshold = %" PRId64 "\n",
	    c->api.breaker_threshold);
	print_dur(f, "breaker_cooldown", c->api.breaker_cooldown_s);
	print_dur(f, "breaker_cooldown_max", c->api.breaker_cooldown_max_s);

	fprintf(f, "\n[timers]\n");
	fprintf(f, "concurrency = %s\n",
	    config_concurrency_to_string(c->timers.concurrency));
	print_dur(f, "max_duration", c->timers.max_duration_s);
	fprintf(f, "split_at_midnight = %s\n",
	    c->timers.split_at_midnight ? "yes" : "no");
	print_dur(f, "heartbeat", c->timers.heartbeat_s);

	fprintf(f, "\n[rounding]\n");
	print_rounding(f, &c->rounding);
	for (i = 0; i < c->n_rounding_overrides; i++) {
		const struct config_rounding_override *o =
		    &c->rounding_overrides[i];

		if (o->work_type) {
			fprintf(f, "\n[rounding \"%s\"]\n", o->work_type);
		} else {
			fprintf(
			    f, "\n[rounding \"charge:%s\"]\n", o->charge_type);
		}
		print_rounding(f, &o->r);
	}

	fprintf(f, "\n[deduction]\n");
	fprintf(
	    f, "pauses = %s\n", config_pauses_to_string(c->deduction.pauses));
	if (c->deduction.break_s > 0) {
		char b[DURATION_FORMAT_MAX], a[DURATION_FORMAT_MAX];

		(void) duration_format_long(c->deduction.break_s, b, sizeof(b));
		(void) duration_format_long(
		    c->deduction.break_after_s, a, sizeof(a));
		fprintf(f, "break = %s after %s\n", b, a);
	} else {
		fprintf(f, "break = none\n");
	}

	fprintf(f, "\n[session]\n");
	fprintf(f, "on_lock = %s\n", on_lock_names[c->session.on_lock]);
	fprintf(f, "on_sleep = %s\n", on_sleep_names[c->session.on_sleep]);
	if (c->session.on_idle == CONFIG_ON_IDLE_PAUSE) {
		char b[DURATION_FORMAT_MAX];

		(void) duration_format_long(
		    c->session.idle_after_s, b, sizeof(b));
		fprintf(f, "on_idle = pause after %s\n", b);
	} else {
		fprintf(f, "on_idle = keep\n");
	}
	fprintf(f, "on_logout = %s\n", on_logout_names[c->session.on_logout]);
	fprintf(f, "resume_after_sleep = %s\n",
	    c->session.resume_after_sleep ? "yes" : "no");
	print_dur(f, "submit_timeout", c->session.submit_timeout_s);

	fprintf(f, "\n[approvals]\n");
	fprintf(f, "entry_status = %s\n",
	    config_entry_status_to_string(c->approvals.entry_status));

	fprintf(f, "\n[reference]\n");
	print_dur(f, "ttl", c->reference.ttl_s);

	fprintf(f, "\n[defaults]\n");
	print_defaults(f, &c->defaults, true);
	for (t = 0; t < CONFIG_TARGET_COUNT; t++) {
		if (!c->has_target_defaults[t]) {
			continue;
		}
		fprintf(f, "\n[defaults \"%s\"]\n", target_names[t]);
		print_defaults(f, &c->target_defaults[t], false);
	}
}
