/*
 * test-config.c - cwtimed.conf and credentials parsing (src/daemon/config.c).
 *
 * Every test works in its own mkdtemp directory, with XDG_CONFIG_HOME,
 * HOME and CREDENTIALS_DIRECTORY set (or unset) explicitly.
 */
#define _GNU_SOURCE 1 /* asprintf, mkdtemp, nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/errcode.h"
#include "daemon/config.h"

struct tmp {
	char dir[64];
};

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(p);
}

static int
setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));
	char *x = NULL;

	if (!t) {
		return -1;
	}
	snprintf(t->dir, sizeof(t->dir), "/tmp/test-config-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	if (asprintf(&x, "%s/xdg", t->dir) < 0) {
		return -1;
	}
	(void) mkdir(x, 0700);
	setenv("XDG_CONFIG_HOME", x, 1);
	setenv("HOME", t->dir, 1);
	unsetenv("CREDENTIALS_DIRECTORY");
	free(x);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tmp *t = *state;

	(void) nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

/* Writes text to dir/name with mode; returns the path (static buffer). */
static const char *
put_file(const struct tmp *t, const char *name, const char *text, mode_t mode)
{
	static char path[256];
	char sub[256];
	char *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	/* mkdir -p of the parents */
	snprintf(sub, sizeof(sub), "%s", path);
	for (slash = strchr(sub + strlen(t->dir) + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		(void) mkdir(sub, 0700);
		*slash = '/';
	}
	(void) unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static int
load_str(const char *text, struct config *c, struct errbuf *e)
{
	errbuf_clear(e);
	return config_load_string(text, strlen(text), "t.conf", c, e);
}

/* Loads text expecting failure; returns the message (static). */
static const char *
load_err(const char *text)
{
	static struct errbuf e;
	struct config c;
	int r;

	r = load_str(text, &c, &e);
	if (r != -EINVAL) {
		fail_msg("expected -EINVAL, got %d for:\n%s", r, text);
	}
	assert_int_equal(e.code, ERR_CONFIG);
	/* the struct is zeroed on error and fini is harmless */
	assert_null(c.api.api_version);
	config_fini(&c);
	return e.msg;
}

static void
test_defaults(void **state)
{
	struct config c;
	struct errbuf e;

	(void) state;
	assert_int_equal(load_str("", &c, &e), 0);
	assert_string_equal(c.api.api_version, "2025.8");
	assert_null(c.api.url);
	assert_null(c.api.site);
	assert_null(c.api.company);
	assert_null(c.api.credentials);
	assert_int_equal(c.api.max_rate, 600);
	assert_int_equal(c.api.max_in_flight, 4);
	assert_int_equal(c.api.connect_timeout_s, 10);
	assert_int_equal(c.api.total_timeout_s, 60);
	assert_int_equal(c.api.low_speed_time_s, 30);
	assert_int_equal(c.api.settle_delay_s, 120);
	/* RELIABILITY.md 5: backoff 2s..15m, breaker 5 / 30s..15m */
	assert_int_equal(c.api.backoff_base_s, 2);
	assert_int_equal(c.api.backoff_cap_s, 900);
	assert_int_equal(c.api.breaker_threshold, 5);
	assert_int_equal(c.api.breaker_cooldown_s, 30);
	assert_int_equal(c.api.breaker_cooldown_max_s, 900);
	assert_int_equal(c.timers.concurrency, CONFIG_CONCURRENCY_SINGLE);
	assert_int_equal(c.timers.max_duration_s, 43200);
	assert_true(c.timers.split_at_midnight);
	assert_int_equal(c.timers.heartbeat_s, 300);
	assert_int_equal(c.rounding.mode, CONFIG_ROUND_NONE);
	assert_int_equal(c.rounding.increment_s, 900);
	assert_int_equal(c.rounding.minimum_s, 0);
	assert_int_equal(c.deduction.pauses, CONFIG_PAUSES_DEDUCT);
	assert_int_equal(c.deduction.break_s, 0);
	assert_int_equal(c.session.on_lock, CONFIG_ON_LOCK_KEEP);
	assert_int_equal(c.session.on_sleep, CONFIG_ON_SLEEP_PAUSE);
	assert_int_equal(c.session.on_idle, CONFIG_ON_IDLE_KEEP);
	assert_int_equal(c.session.on_logout, CONFIG_ON_LOGOUT_STOP);
	assert_true(c.session.resume_after_sleep);
	assert_int_equal(c.session.submit_timeout_s, 10);
	assert_int_equal(
	    c.approvals.entry_status, CONFIG_STATUS_APPROVED_BY_TIER_ONE);
	assert_int_equal(c.reference.ttl_s, 3600);
	assert_int_equal(c.defaults.billing, CONFIG_BILLING_UNSET);
	assert_false(config_api_configured(&c));
	config_fini(&c);
	config_fini(&c); /* twice is fine */
	config_fini(NULL);
}

static const char full_conf[] =
    "# every key\n"
    "[api]\n"
    "url = https://cw.example.com/v4_6_release/apis/3.0/\n"
    "site = api-na.myconnectwise.net\n"
    "company = examplemsp\n"
    "member = jdoe\n"
    "api_version = 2025.1\n"
    "ca_file = /etc/ssl/private-ca.pem\n"
    "credentials = ~/secrets/cw\n"
    "max_rate = 0\n"
    "max_in_flight = 2\n"
    "connect_timeout = 5s\n"
    "total_timeout = 2m\n"
    "low_speed_time = 45s\n"
    "backoff_base = 1s\n"
    "backoff_cap = 1m\n"
    "breaker_threshold = 3\n"
    "breaker_cooldown = 2s\n"
    "breaker_cooldown_max = 10s\n"
    "\n"
    "[timers]\n"
    "concurrency = parallel\n"
    "max_duration = 10h\n"
    "split_at_midnight = no\n"
    "heartbeat = 1m\n"
    "[rounding]\n"
    "mode = up\n"
    "increment = 6m\n"
    "minimum = 15m\n"
    "[rounding \"Remote\"]\n"
    "mode = nearest\n"
    "[rounding \"charge:ServiceTicket\"]\n"
    "increment = 0:30\n"
    "[deduction]\n"
    "pauses = split\n"
    "break = 30m after 6h\n"
    "[session]\n"
    "on_lock = pause\n"
    "on_sleep = stop\n"
    "on_idle = \"pause after 10m\"\n"
    "on_logout = keep\n"
    "resume_after_sleep = false\n"
    "submit_timeout = 4s\n"
    "[approvals]\n"
    "entry_status = ApprovedByTierTwo\n"
    "[reference]\n"
    "ttl = 1h30m\n"
    "[defaults]\n"
    "work_type = Remote Support\n"
    "role = Engineer\n"
    "billing = Billable\n"
    "agreement = Managed Services  ; inline comment\n"
    "[defaults \"code\"]\n"
    "billing = DoNotBill\n"
    "work_type = Admin\n"
    "[defaults \"ticket\"]\n"
    "role = Dispatcher\n";

static void
test_every_key(void **state)
{
	struct config c;
	struct errbuf e;
	struct config_defaults d;
	const struct config_rounding *r;
	char home[128];

	(void) state;
	snprintf(home, sizeof(home), "%s/secrets/cw", getenv("HOME"));
	if (load_str(full_conf, &c, &e) != 0) {
		fail_msg("%s", e.msg);
	}
	assert_string_equal(
	    c.api.url, "https://cw.example.com/v4_6_release/apis/3.0");
	assert_string_equal(c.api.site, "api-na.myconnectwise.net");
	assert_string_equal(c.api.company, "examplemsp");
	assert_string_equal(c.api.member, "jdoe");
	assert_int_equal(c.api.member_id, 0);
	assert_string_equal(c.api.api_version, "2025.1");
	assert_string_equal(c.api.ca_file, "/etc/ssl/private-ca.pem");
	assert_string_equal(c.api.credentials, home);
	assert_int_equal(c.api.max_rate, 0);
	assert_int_equal(c.api.max_in_flight, 2);
	assert_int_equal(c.api.connect_timeout_s, 5);
	assert_int_equal(c.api.total_timeout_s, 120);
	assert_int_equal(c.api.low_speed_time_s, 45);
	assert_int_equal(c.api.settle_delay_s, 240); /* 2 x total_timeout */
	assert_int_equal(c.api.backoff_base_s, 1);
	assert_int_equal(c.api.backoff_cap_s, 60);
	assert_int_equal(c.api.breaker_threshold, 3);
	assert_int_equal(c.api.breaker_cooldown_s, 2);
	assert_int_equal(c.api.breaker_cooldown_max_s, 10);
	assert_true(config_api_configured(&c));
	assert_int_equal(c.timers.concurrency, CONFIG_CONCURRENCY_PARALLEL);
	assert_int_equal(c.timers.max_duration_s, 36000);
	assert_false(c.timers.split_at_midnight);
	assert_int_equal(c.timers.heartbeat_s, 60);
	assert_int_equal(c.rounding.mode, CONFIG_ROUND_UP);
	assert_int_equal(c.rounding.increment_s, 360);
	assert_int_equal(c.rounding.minimum_s, 900);
	assert_int_equal(c.n_rounding_overrides, 2);
	assert_int_equal(c.deduction.pauses, CONFIG_PAUSES_SPLIT);
	assert_int_equal(c.deduction.break_s, 1800);
	assert_int_equal(c.deduction.break_after_s, 21600);
	assert_int_equal(c.session.on_lock, CONFIG_ON_LOCK_PAUSE);
	assert_int_equal(c.session.on_sleep, CONFIG_ON_SLEEP_STOP);
	assert_int_equal(c.session.on_idle, CONFIG_ON_IDLE_PAUSE);
	assert_int_equal(c.session.idle_after_s, 600);
	assert_int_equal(c.session.on_logout, CONFIG_ON_LOGOUT_KEEP);
	assert_false(c.session.resume_after_sleep);
	assert_int_equal(c.session.submit_timeout_s, 4);
	assert_int_equal(
	    c.approvals.entry_status, CONFIG_STATUS_APPROVED_BY_TIER_TWO);
	assert_int_equal(c.reference.ttl_s, 5400);
	assert_string_equal(c.defaults.work_type, "Remote Support");
	assert_string_equal(c.defaults.role, "Engineer");
	assert_int_equal(c.defaults.billing, CONFIG_BILLING_BILLABLE);
	assert_string_equal(c.defaults.agreement, "Managed Services");

	/* [rounding "Remote"] sets mode only, inherits the rest. */
	r = config_rounding_for(&c, "remote", "ServiceTicket");
	assert_int_equal(r->mode, CONFIG_ROUND_NEAREST);
	assert_int_equal(r->increment_s, 360);
	assert_int_equal(r->minimum_s, 900);
	/* No work-type section: the charge type's applies. */
	r = config_rounding_for(&c, "Onsite", "ServiceTicket");
	assert_int_equal(r->mode, CONFIG_ROUND_UP);
	assert_int_equal(r->increment_s, 1800);
	assert_int_equal(r->minimum_s, 900);
	r = config_rounding_for(&c, NULL, "ProjectTicket");
	assert_ptr_equal(r, &c.rounding);
	assert_ptr_equal(config_rounding_for(&c, NULL, NULL), &c.rounding);

	config_defaults_for(&c, CONFIG_TARGET_CODE, &d);
	assert_string_equal(d.work_type, "Admin");
	assert_string_equal(d.role, "Engineer");
	assert_int_equal(d.billing, CONFIG_BILLING_DONOTBILL);
	assert_string_equal(d.agreement, "Managed Services");
	config_defaults_for(&c, CONFIG_TARGET_TICKET, &d);
	assert_string_equal(d.work_type, "Remote Support");
	assert_string_equal(d.role, "Dispatcher");
	assert_int_equal(d.billing, CONFIG_BILLING_BILLABLE);
	config_defaults_for(&c, CONFIG_TARGET_COMPANY, &d);
	assert_string_equal(d.role, "Engineer");
	config_defaults_for(&c, CONFIG_TARGET_INVALID, &d);
	assert_string_equal(d.role, "Engineer");
	config_fini(&c);
}

static void
test_syntax_variants(void **state)
{
	struct config c;
	struct errbuf e;
	char longname[200], text[400];
	const struct config_rounding *r;

	(void) state;
	/* Indentation, CRLF, comments, BOM, spaces around '=', case. */
	assert_int_equal(load_str("\xef\xbb\xbf; comment\r\n"
				  "  [timers]  \r\n"
				  "\tconcurrency=PARALLEL\r\n"
				  "    max_duration   =   1h 30m\r\n"
				  "# another\n"
				  "  heartbeat = 30s\n"
				  "[api]\n"
				  "member = 42\n",
			     &c, &e),
	    0);
	assert_int_equal(c.timers.concurrency, CONFIG_CONCURRENCY_PARALLEL);
	assert_int_equal(c.timers.max_duration_s, 5400);
	assert_int_equal(c.timers.heartbeat_s, 30);
	assert_string_equal(c.api.member, "42");
	assert_int_equal(c.api.member_id, 42);
	config_fini(&c);

	/* Section names longer than inih's 50-byte section buffer. */
	memset(longname, 'W', 120);
	longname[120] = '\0';
	snprintf(
	    text, sizeof(text), "[rounding \"%s\"]\nmode = down\n", longname);
	assert_int_equal(load_str(text, &c, &e), 0);
	assert_int_equal(c.n_rounding_overrides, 1);
	assert_string_equal(c.rounding_overrides[0].work_type, longname);
	r = config_rounding_for(&c, longname, NULL);
	assert_int_equal(r->mode, CONFIG_ROUND_DOWN);
	config_fini(&c);

	/* The same subsection twice is one section. */
	assert_int_equal(load_str("[rounding \"A\"]\nmode = up\n"
				  "[timers]\n[rounding \"a\"]\nminimum = 1m\n",
			     &c, &e),
	    0);
	assert_int_equal(c.n_rounding_overrides, 1);
	assert_int_equal(c.rounding_overrides[0].r.mode, CONFIG_ROUND_UP);
	assert_int_equal(c.rounding_overrides[0].r.minimum_s, 60);
	config_fini(&c);

	/* http:// to loopback addresses, https anywhere. */
	assert_int_equal(load_str("[api]\nurl = http://127.0.0.1:8080\n"
				  "company = x\n",
			     &c, &e),
	    0);
	assert_string_equal(c.api.url, "http://127.0.0.1:8080");
	config_fini(&c);
	assert_int_equal(load_str("[api]\nurl = http://[::1]:9/cw//\n"
				  "company = x\n",
			     &c, &e),
	    0);
	assert_string_equal(c.api.url, "http://[::1]:9/cw");
	config_fini(&c);
	assert_int_equal(load_str("[api]\nurl = http://localhost/\n"
				  "company = x\n",
			     &c, &e),
	    0);
	assert_string_equal(c.api.url, "http://localhost");
	config_fini(&c);
	assert_int_equal(load_str("[api]\nurl = http://127.9.8.7\n"
				  "company = x\n",
			     &c, &e),
	    0);
	config_fini(&c);
	assert_int_equal(load_str("[api]\nsite = api-eu.myconnectwise.net\n"
				  "company = x\n[deduction]\nbreak = none\n"
				  "[session]\non_idle = keep\n",
			     &c, &e),
	    0);
	assert_true(config_api_configured(&c));
	assert_null(c.api.url);
	config_fini(&c);
}

static void
test_error_lines(void **state)
{
	struct {
		const char *text;
		const char *msg;
	} cases[] = {
	    {"[timers]\nmax_duration = 10x\n",
		"t.conf:2: [timers] max_duration: invalid duration '10x' "
		"(examples: 90m, 1h30m, 1.5h, 0:45)"},
	    {"[bogus]\nx = 1\ny = 2\n", "t.conf:1: unknown section [bogus]"},
	    {"\n[timers]\nconcurency = single\n",
		"t.conf:3: [timers] concurency: unknown key"},
	    {"[timers]\nconcurrency = both\n",
		"t.conf:2: [timers] concurrency: invalid value 'both' "
		"(one of: single, parallel)"},
	    {"[rounding]\nmode = sideways\n",
		"t.conf:2: [rounding] mode: invalid value 'sideways' (one "
		"of: none, up, nearest, down)"},
	    {"[defaults]\nbilling = Maybe\n",
		"t.conf:2: [defaults] billing: invalid value 'Maybe' (one "
		"of: Billable, DoNotBill, NoCharge, NoDefault)"},
	    {"[timers]\nsplit_at_midnight = perhaps\n",
		"t.conf:2: [timers] split_at_midnight: invalid value "
		"'perhaps' (yes or no)"},
	    {"[api]\nmax_in_flight = 0\n",
		"t.conf:2: [api] max_in_flight: invalid number '0' (an "
		"integer from 1 to 64)"},
	    {"[api]\nmax_rate = 10/s\n",
		"t.conf:2: [api] max_rate: invalid number '10/s' (an "
		"integer from 0 to 100000)"},
	    {"[timers]\nheartbeat = 1s\n",
		"t.conf:2: [timers] heartbeat: duration '1s' out of range "
		"(10s to 1h)"},
	    {"[deduction]\nbreak = 30m before 6h\n",
		"t.conf:2: [deduction] break: invalid break '30m before "
		"6h' (expected e.g. '30m after 6h', or 'none')"},
	    {"[session]\non_idle = pause\n",
		"t.conf:2: [session] on_idle: invalid value 'pause' "
		"(keep, or pause after DURATION such as 'pause after "
		"10m')"},
	    {"[session]\non_sleep = keep\n",
		"t.conf:2: [session] on_sleep: invalid value 'keep' (one "
		"of: pause, stop)"},
	    {"[approvals]\nentry_status = Done\n",
		"t.conf:2: [approvals] entry_status: invalid value 'Done' "
		"(one of: Open, Rejected, PendingApproval, "
		"ErrorsCorrected, PendingProjectApproval, "
		"ApprovedByTierOne, RejectBySecondTier, ApprovedByTierTwo, "
		"ReadyToBill, Billed, WrittenOff, BilledAgreement)"},
	    {"[reference]\nttl = 0\n",
		"t.conf:2: [reference] ttl: duration '0' out of range (1s "
		"to 168h)"},
	    {"[reference]\nttl = soon\n",
		"t.conf:2: [reference] ttl: invalid duration 'soon' "
		"(examples: 90m, 1h30m, 1.5h, 0:45)"},
	    {"[reference]\nlifetime = 1h\n",
		"t.conf:2: [reference] lifetime: unknown key"},
	    {"max_rate = 5\n",
		"t.conf:1: key 'max_rate' outside of any section (add e.g. "
		"[api] above it)"},
	    {"[timers]\njust some words\n",
		"t.conf:2: expected 'key = value', a [section], or a "
		"comment starting with '#' or ';'"},
	    {"[timers]\nheartbeat: 5m\n",
		"t.conf:2: expected 'key = value', a [section], or a "
		"comment starting with '#' or ';'"},
	    {"[timers\n", "t.conf:1: section header without closing ']'"},
	    {"[timers \"x\"]\n",
		"t.conf:1: section [timers] takes no subsection (found "
		"\"x\")"},
	    {"[defaults \"tickets\"]\n",
		"t.conf:1: unknown target type [defaults \"tickets\"] (one "
		"of: ticket, project, code, activity, company)"},
	    {"[rounding \"charge:Ticket\"]\n",
		"t.conf:1: unknown charge type [rounding "
		"\"charge:Ticket\"] (charge: followed by one of: "
		"ServiceTicket, ProjectTicket, ChargeCode, Activity, "
		"Company)"},
	    {"[rounding \"\"]\n",
		"t.conf:1: the name in quotes must have 1 to 200 "
		"characters"},
	    {"[rounding \"x]\n",
		"t.conf:1: unterminated quote in section header"},
	    {"[rounding \"Remote\"]\nincrement = 0\n",
		"t.conf:2: [rounding \"Remote\"] increment: duration '0' "
		"out of range (1s to 24h)"},
	    {"[timers]\nheartbeat = 5m\nheartbeat = 6m\n",
		"t.conf:3: [timers] heartbeat: given twice (first on line "
		"2)"},
	    {"[api]\nurl = http://example.com\ncompany = x\n",
		"t.conf:2: [api] url: invalid URL 'http://example.com': "
		"http:// is allowed only for 127.0.0.0/8, [::1] and "
		"localhost; use https://"},
	    {"[api]\nurl = http://128.0.0.1\ncompany = x\n",
		"t.conf:2: [api] url: invalid URL 'http://128.0.0.1': "
		"http:// is allowed only for 127.0.0.0/8, [::1] and "
		"localhost; use https://"},
	    {"[api]\nurl = ftp://x\ncompany = x\n",
		"t.conf:2: [api] url: invalid URL 'ftp://x': must start "
		"with https:// (http:// only for a loopback address)"},
	    {"[api]\nurl = https://u:p@host\ncompany = x\n",
		"t.conf:2: [api] url: invalid URL 'https://u:p@host': "
		"must not contain spaces, '@', '?', '#', '\\' or quotes"},
	    {"[api]\nurl = https://host:99999\ncompany = x\n",
		"t.conf:2: [api] url: invalid URL 'https://host:99999': "
		"invalid port"},
	    {"[api]\nsite = https://na.myconnectwise.net\ncompany = x\n",
		"t.conf:2: [api] site: 'https://na.myconnectwise.net' is "
		"a URL; 'site' is a host name such as "
		"api-na.myconnectwise.net (a full base URL goes in "
		"'url')"},
	    {"[api]\nsite = api-na.myconnectwise.net\n",
		"t.conf:2: [api] site: 'company' is needed too (the "
		"company id you log in with)"},
	    {"[api]\n\ncompany = x\n",
		"t.conf:3: [api] company: 'site' (e.g. "
		"api-na.myconnectwise.net) or 'url' is needed too"},
	    {"[api]\ncompany = a:b\nsite = h\n",
		"t.conf:2: [api] company: invalid company id 'a:b' (no "
		"spaces, quotes, ':' or '+'; at most 64 characters)"},
	    {"[api]\nca_file = certs/ca.pem\n",
		"t.conf:2: [api] ca_file: invalid path 'certs/ca.pem': "
		"must be an absolute path (or start with '~/')"},
	    {"[api]\napi_version = latest\n",
		"t.conf:2: [api] api_version: invalid API version 'latest' "
		"(e.g. 2025.8)"},
	    {"[api]\nconnect_timeout = 2m\n",
		"t.conf:2: [api] total_timeout (60s) is shorter than "
		"connect_timeout (120s)"},
	    {"[api]\nbackoff_base = 20m\n",
		"t.conf:2: [api] backoff_cap (900s) is shorter than "
		"backoff_base (1200s)"},
	    {"[api]\nbreaker_cooldown = 1h\n",
		"t.conf:2: [api] breaker_cooldown_max (900s) is shorter "
		"than breaker_cooldown (3600s)"},
	    {"[api]\nbreaker_threshold = 0\n",
		"t.conf:2: [api] breaker_threshold: invalid number '0' (an "
		"integer from 1 to 1000)"},
	    {"[api]\nbackoff_base = 0\n",
		"t.conf:2: [api] backoff_base: duration '0' out of range "
		"(1s to 1h)"},
	    {"[defaults]\nrole =\n",
		"t.conf:2: [defaults] role: invalid value '' (1 to 200 "
		"characters, no control characters)"},
	    {"[timers]\nmax_duration = \"\"\n",
		"t.conf:2: [timers] max_duration: empty value"},
	};
	size_t i;

	(void) state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *m = load_err(cases[i].text);

		if (strcmp(m, cases[i].msg) != 0) {
			fail_msg("case %zu:\n got: %s\nwant: %s", i, m,
			    cases[i].msg);
		}
	}
}

/* Every error is reported, sorted by line, up to what fits. */
static void
test_all_errors(void **state)
{
	const char *m;
	char big[8192];
	size_t used = 0;
	int i;

	(void) state;
	m = load_err("[timers]\n"
		     "max_duration = 10x\n"
		     "bogus = 1\n"
		     "[nope]\n"
		     "ignored = because the section is unknown\n"
		     "[session]\n"
		     "on_lock = never\n");
	assert_string_equal(m,
	    "t.conf:2: [timers] max_duration: invalid duration '10x' "
	    "(examples: 90m, 1h30m, 1.5h, 0:45)\n"
	    "t.conf:3: [timers] bogus: unknown key\n"
	    "t.conf:4: unknown section [nope]\n"
	    "t.conf:7: [session] on_lock: invalid value 'never' (one of: "
	    "keep, pause, stop)");

	/* A line longer than inih's buffer is refused, not cut. */
	used = (size_t) snprintf(big, sizeof(big), "[defaults]\nrole = ");
	memset(big + used, 'r', 300);
	snprintf(big + used + 300, sizeof(big) - used - 300,
	    "\n[timers]\nheartbeat = 7x\n");
	m = load_err(big);
	assert_string_equal(m,
	    "t.conf:2: line too long (at most 198 bytes)\n"
	    "t.conf:4: [timers] heartbeat: invalid duration '7x' (examples: "
	    "90m, 1h30m, 1.5h, 0:45)");
	used = 0;

	/* Too many to show: the last line counts the rest. */
	used += (size_t) snprintf(big, sizeof(big), "[timers]\n");
	for (i = 0; i < 60; i++) {
		used += (size_t) snprintf(
		    big + used, sizeof(big) - used, "bad%d = 1\n", i);
	}
	m = load_err(big);
	assert_non_null(strstr(m, "t.conf:2: [timers] bad0: unknown key\n"));
	assert_non_null(strstr(m, "more errors)"));
	assert_true(strlen(m) < sizeof(((struct errbuf *) 0)->msg));
	{
		/* shown + "N more" = 60 */
		int shown = 0, more = 0;
		const char *p;

		for (p = m; (p = strstr(p, ": unknown key")) != NULL; p++) {
			shown++;
		}
		p = strrchr(m, '(');
		assert_int_equal(sscanf(p, "(%d more errors)", &more), 1);
		assert_int_equal(shown + more, 60);
	}
}

static void
test_secret_in_conf(void **state)
{
	const char *m;
	char want[512];

	(void) state;
	m = load_err("[api]\nsite = h\ncompany = c\n"
		     "private_key = CANARY-1234567890\n");
	snprintf(want, sizeof(want),
	    "t.conf:4: private_key: secrets are not "
	    "read from this file; put it in the credentials file "
	    "%s/cwtimed/credentials (mode 0600), in section [api]",
	    getenv("XDG_CONFIG_HOME"));
	assert_string_equal(m, want);
	assert_null(strstr(m, "CANARY"));

	/* It names [api] credentials when set, wherever that line is. */
	m = load_err("[api]\nclient_id = CANARY-1234567890\n"
		     "credentials = /run/keys/cw\n");
	assert_string_equal(m,
	    "t.conf:2: client_id: secrets are not read "
	    "from this file; put it in the credentials file /run/keys/cw "
	    "(mode 0600), in section [api]");
	/* In any section. */
	m = load_err("[timers]\npublic_key = CANARY-1234567890\n");
	assert_null(strstr(m, "CANARY"));
	assert_non_null(strstr(m, "t.conf:2: public_key: secrets"));
}

static void
test_load_files(void **state)
{
	struct tmp *t = *state;
	struct config c;
	struct errbuf e;
	char want[512], *dp = NULL;
	const char *p;

	/* No file at the default path: defaults, no error. */
	assert_int_equal(config_load(NULL, &c, &e), 0);
	assert_false(c.file_found);
	assert_int_equal(config_default_path(&dp), 0);
	snprintf(want, sizeof(want), "%s/xdg/cwtimed/cwtimed.conf", t->dir);
	assert_string_equal(dp, want);
	assert_string_equal(c.path, want);
	assert_int_equal(c.api.max_rate, 600);
	config_fini(&c);

	/* An explicit path that is missing is an error. */
	snprintf(want, sizeof(want), "%s/none.conf", t->dir);
	errbuf_clear(&e);
	assert_int_equal(config_load(want, &c, &e), -ENOENT);
	assert_int_equal(e.code, ERR_CONFIG);
	assert_non_null(strstr(e.msg, "none.conf"));

	/* The default file is read when present; errors name its path. */
	p = put_file(
	    t, "xdg/cwtimed/cwtimed.conf", "[timers]\nheartbeat = 2m\n", 0644);
	assert_int_equal(config_load(NULL, &c, &e), 0);
	assert_true(c.file_found);
	assert_int_equal(c.timers.heartbeat_s, 120);
	config_fini(&c);
	p = put_file(t, "other.conf", "\n\n[timers]\nheartbeat = 2x\n", 0600);
	assert_int_equal(config_load(p, &c, &e), -EINVAL);
	snprintf(want, sizeof(want),
	    "%s:4: [timers] heartbeat: invalid "
	    "duration '2x' (examples: 90m, 1h30m, 1.5h, 0:45)",
	    p);
	assert_string_equal(e.msg, want);

	/* XDG_CONFIG_HOME unset: ~/.config. Relative: ignored. */
	unsetenv("XDG_CONFIG_HOME");
	free(dp);
	assert_int_equal(config_default_path(&dp), 0);
	snprintf(want, sizeof(want), "%s/.config/cwtimed/cwtimed.conf", t->dir);
	assert_string_equal(dp, want);
	free(dp);
	setenv("XDG_CONFIG_HOME", "relative", 1);
	assert_int_equal(config_default_path(&dp), 0);
	assert_string_equal(dp, want);
	free(dp);

	/* A directory, and a NUL byte. */
	assert_int_equal(config_load(t->dir, &c, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a regular file"));
	assert_int_equal(
	    config_load_string("[timers]\n\0x", 11, "n.conf", &c, &e), -EINVAL);
	assert_string_equal(e.msg,
	    "n.conf:2: NUL byte in the file (is it a "
	    "text file?)");
}

static const char good_secret[] =
    "# credentials\n"
    "[api]\n"
    "public_key = PUBLIC1\n"
    "private_key = \"priv ate:KEY\"\n"
    "client_id = 11111111-2222-3333-4444-555555555555\n";

static void
test_secret_ok(void **state)
{
	struct tmp *t = *state;
	struct config c;
	struct secret s;
	struct errbuf e;
	const char *p;

	assert_int_equal(load_str("", &c, &e), 0);
	p = put_file(t, "xdg/cwtimed/credentials", good_secret, 0600);
	assert_int_equal(config_load_secret(&c, &s, &e), 0);
	assert_string_equal(s.public_key, "PUBLIC1");
	assert_string_equal(s.private_key, "priv ate:KEY");
	assert_string_equal(
	    s.client_id, "11111111-2222-3333-4444-555555555555");
	assert_string_equal(s.source, p);
	secret_fini(&s);
	assert_null(s.private_key);
	secret_fini(&s);
	secret_fini(NULL);

	/* 0400 is stricter than 0600: fine. */
	p = put_file(t, "xdg/cwtimed/credentials", good_secret, 0400);
	assert_int_equal(config_load_secret(&c, &s, &e), 0);
	secret_fini(&s);
	config_fini(&c);
}

static void
test_secret_path_choice(void **state)
{
	struct tmp *t = *state;
	struct config c;
	struct secret s;
	struct errbuf e;
	char conf[512], credsdir[256], *sp = NULL;
	const char *p;

	/* [api] credentials names the file. */
	p = put_file(t, "elsewhere/cw", good_secret, 0600);
	snprintf(conf, sizeof(conf), "[api]\ncredentials = %s\n", p);
	assert_int_equal(load_str(conf, &c, &e), 0);
	assert_int_equal(config_load_secret(&c, &s, &e), 0);
	assert_string_equal(s.source, p);
	secret_fini(&s);

	/* $CREDENTIALS_DIRECTORY wins, and systemd owns its modes. */
	p = put_file(t, "creds/cwtimed",
	    "[api]\npublic_key=SD\nprivate_key=SDP\nclient_id=SDC\n", 0440);
	snprintf(credsdir, sizeof(credsdir), "%s/creds", t->dir);
	setenv("CREDENTIALS_DIRECTORY", credsdir, 1);
	assert_int_equal(config_secret_path(&c, &sp), 0);
	assert_string_equal(sp, p);
	free(sp);
	assert_int_equal(config_load_secret(&c, &s, &e), 0);
	assert_string_equal(s.public_key, "SD");
	assert_string_equal(s.source, p);
	secret_fini(&s);

	/* ...even when its file is missing: no fallback. */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(config_load_secret(&c, &s, &e), -ENOENT);
	assert_int_equal(e.code, ERR_API_NOT_CONFIGURED);
	assert_non_null(strstr(e.msg, "creds/cwtimed"));
	unsetenv("CREDENTIALS_DIRECTORY");
	config_fini(&c);
}

static void
test_secret_refused(void **state)
{
	struct tmp *t = *state;
	struct config c;
	struct secret s;
	struct errbuf e;
	char want[512], link[300];
	const char *p;

	assert_int_equal(load_str("", &c, &e), 0);

	/* Missing: -ENOENT, the daemon runs offline. */
	assert_int_equal(config_load_secret(&c, &s, &e), -ENOENT);
	assert_int_equal(e.code, ERR_API_NOT_CONFIGURED);
	snprintf(want, sizeof(want),
	    "no credentials file "
	    "'%s/xdg/cwtimed/credentials'",
	    t->dir);
	assert_string_equal(e.msg, want);

	/* Loose modes. */
	p = put_file(t, "xdg/cwtimed/credentials", good_secret, 0644);
	assert_int_equal(config_load_secret(&c, &s, &e), -EPERM);
	assert_int_equal(e.code, ERR_PERMISSION);
	snprintf(want, sizeof(want),
	    "credentials file '%s' has mode 0644: "
	    "others can read it; run 'chmod 600 %s' (and consider changing "
	    "the keys)",
	    p, p);
	assert_string_equal(e.msg, want);
	assert_null(s.private_key);
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(config_load_secret(&c, &s, &e), -EPERM);
	assert_non_null(strstr(e.msg, "mode 0640"));
	assert_int_equal(chmod(p, 0604), 0);
	assert_int_equal(config_load_secret(&c, &s, &e), -EPERM);

	/* A symlink to a good file is refused too. */
	p = put_file(t, "real", good_secret, 0600);
	snprintf(link, sizeof(link), "%s/xdg/cwtimed/credentials", t->dir);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink(p, link), 0);
	assert_int_equal(config_load_secret(&c, &s, &e), -EPERM);
	assert_non_null(strstr(e.msg, "symbolic link"));
	assert_int_equal(unlink(link), 0);
	config_fini(&c);
}

static void
test_secret_wrong_owner(void **state)
{
	struct tmp *t = *state;
	struct config c;
	struct secret s;
	struct errbuf e;
	const char *p;

	if (geteuid() != 0) {
		print_message("skip-probe: chown to another uid needs root "
			      "(geteuid() = %u): EPERM\n",
		    (unsigned) geteuid());
		skip();
	}
	assert_int_equal(load_str("", &c, &e), 0);
	p = put_file(t, "xdg/cwtimed/credentials", good_secret, 0600);
	assert_int_equal(chown(p, 65534, 65534), 0);
	assert_int_equal(config_load_secret(&c, &s, &e), -EPERM);
	assert_int_equal(e.code, ERR_PERMISSION);
	assert_non_null(strstr(e.msg, "belongs to uid 65534, not to you"));
	config_fini(&c);
}

static void
test_secret_bad_content(void **state)
{
	struct tmp *t = *state;
	struct {
		const char *text;
		const char *msg; /* after "PATH" */
	} cases[] = {
	    {"[api]\npublic_key = A\nprivate_key = CANARY-1234567890\n",
		": [api] client_id is missing"},
	    {"[api]\npublic_key=A\nprivate_key=B\nclient_id=C\n"
	     "CANARY-1234567890 = x\n",
		":5: [api]: unknown key (only public_key, private_key and "
		"client_id belong here)"},
	    {"[api]\npublic_key=A\nprivate_key=B\nclient_id=C\n"
	     "CANARY-1234567890\n",
		":5: expected 'key = value', a [section], or a comment "
		"starting with '#' or ';'"},
	    {"[CANARY-1234567890]\n",
		":1: invalid section header '[...]' (expected [name] or "
		"[name \"subname\"])"},
	    {"[timers]\n",
		":1: unknown section (the credentials file has only "
		"[api])"},
	    {"public_key = CANARY-1234567890\n",
		":1: key '...' outside of any section (add e.g. [api] "
		"above it)"},
	    {"[api]\npublic_key=A\nprivate_key=B\nclient_id=C\n"
	     "private_key = CANARY-1234567890\n",
		":5: [api] private_key: given twice (first on line 3)"},
	    {"[api]\npublic_key=CANARY:1234567890\nprivate_key=B\n"
	     "client_id=C\n",
		":2: [api] public_key: invalid characters in the value "
		"(not shown)"},
	    {"[api]\npublic_key=\nprivate_key=B\nclient_id=C\n",
		":2: [api] public_key: empty value"},
	};
	struct config c;
	struct secret s;
	struct errbuf e;
	char want[512];
	size_t i;

	assert_int_equal(load_str("", &c, &e), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p =
		    put_file(t, "xdg/cwtimed/credentials", cases[i].text, 0600);

		errbuf_clear(&e);
		assert_int_equal(config_load_secret(&c, &s, &e), -EINVAL);
		assert_null(s.public_key);
		assert_int_equal(e.code, ERR_CONFIG);
		snprintf(want, sizeof(want), "%s%s", p, cases[i].msg);
		if (strcmp(e.msg, want) != 0) {
			fail_msg(
			    "case %zu:\n got: %s\nwant: %s", i, e.msg, want);
		}
		assert_null(strstr(e.msg, "CANARY"));
	}
	config_fini(&c);
}

/* config_print writes every key, never a secret, and reads back to the
 * same configuration. */
static void
test_print_roundtrip(void **state)
{
	struct tmp *t = *state;
	struct config c, c2;
	struct errbuf e;
	char *out1 = NULL, *out2 = NULL;
	size_t n1 = 0, n2 = 0;
	FILE *f;

	put_file(t, "xdg/cwtimed/credentials", good_secret, 0600);
	assert_int_equal(load_str(full_conf, &c, &e), 0);
	f = open_memstream(&out1, &n1);
	assert_non_null(f);
	config_print(&c, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out1, "\nheartbeat = 1m\n"));
	assert_non_null(strstr(out1, "\nbreak = 30m after 6h\n"));
	assert_non_null(strstr(out1, "\non_idle = pause after 10m\n"));
	assert_non_null(strstr(out1,
	    "\n[defaults \"code\"]\nwork_type = "
	    "Admin\nbilling = DoNotBill\n"));
	assert_non_null(strstr(out1, "\nsettle_delay = 4m\n"));
	assert_non_null(strstr(out1, "# credentials: "));
	assert_non_null(strstr(out1, "secrets/cw (missing)"));
	assert_null(strstr(out1, "PUBLIC1"));
	assert_null(strstr(out1, "priv ate"));

	if (load_str(out1, &c2, &e) != 0) {
		fail_msg("%s\n---\n%s", e.msg, out1);
	}
	f = open_memstream(&out2, &n2);
	assert_non_null(f);
	config_print(&c2, f);
	assert_int_equal(fclose(f), 0);
	/* Only the first line (the file name) differs. */
	assert_string_equal(strchr(out1, '\n'), strchr(out2, '\n'));
	free(out1);
	free(out2);
	config_fini(&c);
	config_fini(&c2);
}

/* Reads $top_srcdir/REL into a new string; NULL (and a skip) when the
 * source tree is not known. */
static char *
read_srcdir_file(const char *rel)
{
	const char *top = getenv("top_srcdir");
	char path[1024], *buf;
	FILE *f;
	long n;

	if (!top) {
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", top, rel);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = calloc(1, (size_t) n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
	fclose(f);
	return buf;
}

/* The shipped examples, and the EXAMPLE in cwtimed.conf(5), load. */
static void
test_doc_examples(void **state)
{
	struct config c;
	struct secret s;
	struct errbuf e;
	char *text, *start, *end;

	(void) state;
	text = read_srcdir_file("doc/examples/cwtimed.conf");
	if (!text) {
		print_message("skip-probe: getenv(\"top_srcdir\"): unset "
			      "(ENOENT); run through make check\n");
		skip();
	}
	if (load_str(text, &c, &e) != 0) {
		fail_msg("doc/examples/cwtimed.conf: %s", e.msg);
	}
	assert_int_equal(c.rounding.mode, CONFIG_ROUND_UP);
	assert_int_equal(c.n_rounding_overrides, 2);
	assert_int_equal(c.session.idle_after_s, 600);
	config_fini(&c);
	free(text);

	text = read_srcdir_file("doc/examples/credentials");
	assert_int_equal(
	    config_parse_secret(text, strlen(text), "credentials", &s, &e), 0);
	assert_string_equal(s.public_key, "REPLACE-WITH-PUBLIC-KEY");
	secret_fini(&s);
	free(text);

	text = read_srcdir_file("doc/cwtimed.conf.5.scd");
	start = strstr(text, "\n# EXAMPLE\n");
	assert_non_null(start);
	start = strstr(start, "```\n");
	assert_non_null(start);
	start += 4;
	end = strstr(start, "```\n");
	assert_non_null(end);
	*end = '\0';
	if (load_str(start, &c, &e) != 0) {
		fail_msg("EXAMPLE of cwtimed.conf.5.scd: %s", e.msg);
	}
	assert_string_equal(c.api.site, "api-na.myconnectwise.net");
	config_fini(&c);
	free(text);
}

static void
test_enum_strings(void **state)
{
	(void) state;
	assert_string_equal(
	    config_billing_to_string(CONFIG_BILLING_NOCHARGE), "NoCharge");
	assert_null(config_billing_to_string(CONFIG_BILLING_UNSET));
	assert_null(config_billing_to_string(CONFIG_BILLING_COUNT));
	assert_int_equal(
	    config_billing_from_string("donotbill"), CONFIG_BILLING_DONOTBILL);
	assert_int_equal(
	    config_billing_from_string(""), CONFIG_BILLING_INVALID);
	assert_int_equal(
	    config_billing_from_string(NULL), CONFIG_BILLING_INVALID);
	assert_int_equal(
	    config_target_from_string("activity"), CONFIG_TARGET_ACTIVITY);
	assert_int_equal(
	    config_target_from_string("Ticket"), CONFIG_TARGET_INVALID);
	assert_string_equal(
	    config_target_to_string(CONFIG_TARGET_COMPANY), "company");
	assert_string_equal(
	    config_entry_status_to_string(CONFIG_STATUS_BILLED_AGREEMENT),
	    "BilledAgreement");
	assert_string_equal(
	    config_round_mode_to_string(CONFIG_ROUND_NEAREST), "nearest");
	assert_string_equal(
	    config_pauses_to_string(CONFIG_PAUSES_SPLIT), "split");
	assert_string_equal(
	    config_concurrency_to_string(CONFIG_CONCURRENCY_SINGLE), "single");
	assert_null(config_concurrency_to_string(CONFIG_CONCURRENCY_INVALID));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_syntax_variants, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_all_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_secret_in_conf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_secret_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_secret_path_choice, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_secret_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_secret_wrong_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_secret_bad_content, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_print_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_doc_examples, setup, teardown),
	    cmocka_unit_test(test_enum_strings),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
