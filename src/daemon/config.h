/*
 * config.h - cwtimed.conf (INI, libinih) and the credentials file.
 *
 * The reference for every key is doc/cwtimed.conf.5.scd. All durations
 * are whole seconds (int64_t, suffix _s); strings are heap copies owned
 * by struct config (NULL when the key was not given, unless a default is
 * documented here). Nothing in this module logs.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct errbuf;

/* [timers] concurrency */
enum config_concurrency {
	CONFIG_CONCURRENCY_SINGLE, /* default: starting a timer stops the other
				    */
	CONFIG_CONCURRENCY_PARALLEL,
	CONFIG_CONCURRENCY_COUNT,
	CONFIG_CONCURRENCY_INVALID = -1,
};

/* [rounding] mode */
enum config_round_mode {
	CONFIG_ROUND_NONE, /* default */
	CONFIG_ROUND_UP,
	CONFIG_ROUND_NEAREST,
	CONFIG_ROUND_DOWN,
	CONFIG_ROUND_COUNT,
	CONFIG_ROUND_INVALID = -1,
};

/* [deduction] pauses */
enum config_pauses {
	CONFIG_PAUSES_DEDUCT, /* default: one entry, pauses in hoursDeduct */
	CONFIG_PAUSES_SPLIT,  /* one entry per running span */
	CONFIG_PAUSES_COUNT,
	CONFIG_PAUSES_INVALID = -1,
};

/* [defaults] billing: ConnectWise's billableOption. UNSET = not sent. */
enum config_billing {
	CONFIG_BILLING_UNSET,
	CONFIG_BILLING_BILLABLE,  /* "Billable" */
	CONFIG_BILLING_DONOTBILL, /* "DoNotBill" */
	CONFIG_BILLING_NOCHARGE,  /* "NoCharge" */
	CONFIG_BILLING_NODEFAULT, /* "NoDefault" */
	CONFIG_BILLING_COUNT,
	CONFIG_BILLING_INVALID = -1,
};

/* [approvals] entry_status: ConnectWise's TimeEntry status list. */
enum config_entry_status {
	CONFIG_STATUS_OPEN,
	CONFIG_STATUS_REJECTED,
	CONFIG_STATUS_PENDING_APPROVAL,
	CONFIG_STATUS_ERRORS_CORRECTED,
	CONFIG_STATUS_PENDING_PROJECT_APPROVAL,
	CONFIG_STATUS_APPROVED_BY_TIER_ONE, /* default */
	CONFIG_STATUS_REJECT_BY_SECOND_TIER,
	CONFIG_STATUS_APPROVED_BY_TIER_TWO,
	CONFIG_STATUS_READY_TO_BILL,
	CONFIG_STATUS_BILLED,
	CONFIG_STATUS_WRITTEN_OFF,
	CONFIG_STATUS_BILLED_AGREEMENT,
	CONFIG_STATUS_COUNT,
	CONFIG_STATUS_INVALID = -1,
};

/* [session] on_lock */
enum config_on_lock {
	CONFIG_ON_LOCK_KEEP, /* default */
	CONFIG_ON_LOCK_PAUSE,
	CONFIG_ON_LOCK_STOP,
	CONFIG_ON_LOCK_COUNT,
	CONFIG_ON_LOCK_INVALID = -1,
};

/* [session] on_sleep */
enum config_on_sleep {
	CONFIG_ON_SLEEP_PAUSE, /* default */
	CONFIG_ON_SLEEP_STOP,
	CONFIG_ON_SLEEP_COUNT,
	CONFIG_ON_SLEEP_INVALID = -1,
};

/* [session] on_idle: "keep" or "pause after DURATION" (idle_after_s). */
enum config_on_idle {
	CONFIG_ON_IDLE_KEEP, /* default */
	CONFIG_ON_IDLE_PAUSE,
	CONFIG_ON_IDLE_COUNT,
	CONFIG_ON_IDLE_INVALID = -1,
};

/* [session] on_logout */
enum config_on_logout {
	CONFIG_ON_LOGOUT_STOP, /* default */
	CONFIG_ON_LOGOUT_KEEP,
	CONFIG_ON_LOGOUT_COUNT,
	CONFIG_ON_LOGOUT_INVALID = -1,
};

/* Target types of [defaults "TYPE"]; the order is fixed. */
enum config_target {
	CONFIG_TARGET_TICKET,	/* "ticket": ServiceTicket */
	CONFIG_TARGET_PROJECT,	/* "project": ProjectTicket */
	CONFIG_TARGET_CODE,	/* "code": ChargeCode */
	CONFIG_TARGET_ACTIVITY, /* "activity": Activity */
	CONFIG_TARGET_COMPANY,	/* "company": Company */
	CONFIG_TARGET_COUNT,
	CONFIG_TARGET_INVALID = -1,
};

/* [rounding], [rounding "WORKTYPE"], [rounding "charge:TYPE"]. Rounding
 * happens once, at stop, and moves timeEnd only (see cwtimed.conf(5)). */
struct config_rounding {
	enum config_round_mode mode; /* default CONFIG_ROUND_NONE */
	int64_t increment_s;	     /* default 900 (15m); > 0 */
	int64_t minimum_s;	     /* default 0: no minimum */
};

/* One [rounding "..."] section, merged over [rounding] at load time
 * (keys it does not set are inherited). Exactly one of work_type and
 * charge_type is set. */
struct config_rounding_override {
	/* [rounding "Remote"]: matched case-insensitively */
	char *work_type;
	/* [rounding "charge:ServiceTicket"]: a chargeToType */
	char *charge_type;
	struct config_rounding r;
};

/* [defaults] and [defaults "TYPE"]. NULL / UNSET = not configured (let
 * ConnectWise apply its own defaults). */
struct config_defaults {
	char *work_type;
	char *role;
	enum config_billing billing;
	char *agreement;
};

struct config_api {
	char *url;     /* base URL, trailing '/' stripped; wins over site */
	char *site;    /* host[:port], e.g. "api-na.myconnectwise.net" */
	char *company; /* company id (Authorization user name prefix) */
	char *member;  /* member identifier ("jdoe") or numeric id as text */
	int64_t member_id;     /* > 0 when member is a numeric id, else 0 */
	char *api_version;     /* default "2025.8" (never NULL after load) */
	char *ca_file;	       /* absolute path, or NULL for the system store */
	char *credentials;     /* absolute path, or NULL for the default */
	int64_t max_rate;      /* requests/minute, default 600, 0 unpaced */
	int64_t max_in_flight; /* default 4, 1..64 */
	int64_t connect_timeout_s; /* default 10 */
	int64_t total_timeout_s;   /* default 60 */
	int64_t low_speed_time_s;  /* default 30 */
	int64_t settle_delay_s;	   /* default 2 x total_timeout_s */
	/* retry timing (RELIABILITY.md 5), configurable so tests wait
	 * seconds: backoff base 2s, cap 15m; the breaker opens after 5
	 * transient failures for 30s, doubling up to 15m */
	int64_t backoff_base_s;
	int64_t backoff_cap_s;
	int64_t breaker_threshold;
	int64_t breaker_cooldown_s;
	int64_t breaker_cooldown_max_s;
};

struct config_timers {
	enum config_concurrency concurrency; /* default SINGLE */
	int64_t max_duration_s; /* default 43200 (12h); 0 = no limit */
	bool split_at_midnight; /* default true */
	int64_t heartbeat_s;	/* default 300 */
};

struct config_deduction {
	enum config_pauses pauses; /* default DEDUCT */
	int64_t break_s;	   /* "break = 30m after 6h": 1800; 0 = none */
	int64_t break_after_s;	   /* ... 21600; 0 when break_s is 0 */
};

struct config_session {
	enum config_on_lock on_lock;	 /* default KEEP */
	enum config_on_sleep on_sleep;	 /* default PAUSE */
	enum config_on_idle on_idle;	 /* default KEEP */
	int64_t idle_after_s;		 /* "pause after 10m": 600; else 0 */
	enum config_on_logout on_logout; /* default STOP */
	bool resume_after_sleep;	 /* default true */
	int64_t submit_timeout_s;	 /* default 10 */
};

struct config_approvals {
	enum config_entry_status
	    entry_status; /* default APPROVED_BY_TIER_ONE */
};

struct config_reference {
	int64_t ttl_s; /* default 3600 (1h), 1 s .. 7 days */
};

struct config {
	char *path;	 /* the file read (or that would be read) */
	bool file_found; /* false: a missing default file, all defaults */
	struct config_api api;
	struct config_timers timers;
	struct config_rounding rounding;
	struct config_rounding_override *rounding_overrides;
	size_t n_rounding_overrides;
	struct config_deduction deduction;
	struct config_session session;
	struct config_approvals approvals;
	struct config_reference reference; /* [reference] */
	struct config_defaults defaults; /* [defaults] */
	struct config_defaults target_defaults[CONFIG_TARGET_COUNT]; /* raw */
	bool has_target_defaults[CONFIG_TARGET_COUNT];
};

/* The secrets. Only ever filled from the credentials file or
 * $CREDENTIALS_DIRECTORY/cwtimed; wiped with explicit_bzero. */
struct secret {
	char *public_key;
	char *private_key;
	char *client_id;
	char *source; /* path read from (not secret; for messages) */
};

/* Fills *ret with defaults, then reads path (or config_default_path()
 * when path is NULL). A missing file is fine only for the default path
 * (ret->file_found = false); an explicit path that is missing gives
 * -ENOENT. Every error (unknown section or key, bad value, secret in this
 * file) is collected with "FILE:LINE: [section] key: reason", one per
 * line in reterr->msg (ERR_CONFIG), up to a bound; the result is then
 * -EINVAL and *ret is left zeroed (config_fini is still safe). Does not
 * log. */
int config_load(const char *path, struct config *ret, struct errbuf *reterr);

/* Same as config_load on an in-memory text of len bytes (name is used in
 * messages; a NUL byte is an error). For tests and the fuzzer. */
int config_load_string(const char *text, size_t len, const char *name,
    struct config *ret, struct errbuf *reterr);

/* Frees what config_load allocated; accepts NULL or a zeroed config. */
void config_fini(struct config *c);

/* Sets every key to its default (no allocation failures except for
 * api_version: returns -ENOMEM). Called by config_load. */
int config_init_defaults(struct config *c);

/* $XDG_CONFIG_HOME/cwtimed/cwtimed.conf (or ~/.config/...). Returns 0 and
 * a new string in *ret, -ENOENT when neither XDG_CONFIG_HOME nor HOME is
 * usable, -ENOMEM. */
int config_default_path(char **ret);

/* The credentials file the daemon would read: $CREDENTIALS_DIRECTORY/
 * cwtimed when that variable is set (non-empty), else [api] credentials,
 * else $XDG_CONFIG_HOME/cwtimed/credentials. New string in *ret. */
int config_secret_path(const struct config *c, char **ret);

/* Reads the secrets from config_secret_path(). Returns 0 and fills *ret;
 * -ENOENT when the file does not exist (the daemon then runs offline;
 * reterr says where it looked); -EPERM when the file is not ours or is
 * readable by group or others (ssh style; not checked for
 * $CREDENTIALS_DIRECTORY, which systemd owns); -EINVAL for syntax errors,
 * unknown keys or a missing key (all three keys are required). Messages
 * never contain secret values. Does not log. */
int config_load_secret(
    const struct config *c, struct secret *ret, struct errbuf *reterr);

/* The parsing half of config_load_secret, on a text of len bytes (name
 * is used in messages and kept in ret->source). No permission checks:
 * for tests and the fuzzer. The caller wipes text. */
int config_parse_secret(const char *text, size_t len, const char *name,
    struct secret *ret, struct errbuf *reterr);

/* Wipes (explicit_bzero) and frees; accepts NULL or a zeroed secret. */
void secret_fini(struct secret *s);

/* Writes the effective configuration in cwtimed.conf syntax (every key,
 * defaults included) for --check-config. Never prints secrets: it prints
 * the credentials path and whether it exists. */
void config_print(const struct config *c, FILE *f);

/* The rounding that applies to an entry: the [rounding "WORK_TYPE"]
 * section (case-insensitive) if any, else [rounding "charge:CHARGE_TYPE"]
 * if any, else [rounding]. Either argument may be NULL. Never NULL;
 * borrowed from c. */
const struct config_rounding *config_rounding_for(
    const struct config *c, const char *work_type, const char *charge_type);

/* The defaults for a target type: each field from [defaults "TYPE"] when
 * set there, else from [defaults]. Strings are borrowed from c. */
void config_defaults_for(const struct config *c, enum config_target type,
    struct config_defaults *ret);

/* true when [api] is complete enough to talk to ConnectWise (company and
 * url or site). */
bool config_api_configured(const struct config *c);

/* Enum names as written in the file ("parallel", "ApprovedByTierOne",
 * "Billable"...); NULL for an out-of-range value / UNSET billing. */
const char *config_concurrency_to_string(enum config_concurrency v);
const char *config_round_mode_to_string(enum config_round_mode v);
const char *config_pauses_to_string(enum config_pauses v);
const char *config_billing_to_string(enum config_billing v);
const char *config_entry_status_to_string(enum config_entry_status v);
const char *config_target_to_string(enum config_target v);
/* "ticket" -> CONFIG_TARGET_TICKET, else CONFIG_TARGET_INVALID. */
enum config_target config_target_from_string(const char *s);
/* "Billable" (case-insensitive) -> CONFIG_BILLING_BILLABLE, else INVALID. */
enum config_billing config_billing_from_string(const char *s);
