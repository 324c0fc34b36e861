/*
 * cwtimed.c - main: options, process hardening, logging set-up, sd_notify,
 * and the exit status. The only file that may exit.
 *
 * The daemon never forks (systemd Type=notify, or a terminal). Exit
 * statuses (cwtimed(1)): 0 ok, 1 failure, 64 usage, 65 journal corrupt,
 * 75 storage failure, 78 configuration error.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>
#include <systemd/sd-daemon.h>

#include "common/errcode.h"
#include "daemon/config.h"
#include "daemon/cwapi.h"
#include "daemon/daemon.h"
#include "daemon/http.h"
#include "daemon/journal.h"
#include "daemon/log.h"
#include "daemon/notify.h"
#include "daemon/paths.h"

static const char *arg_config;
static int arg_log_level = -1;
static bool arg_check_config;
static bool arg_check_journal;
static bool arg_repair;

static void
help(FILE *f)
{
	fprintf(f,
	    "Usage: cwtimed [OPTION]...\n"
	    "ConnectWise time tracking daemon (runs in the foreground).\n"
	    "\n"
	    "  -c, --config FILE      read FILE instead of\n"
	    "                         $XDG_CONFIG_HOME/cwtimed/cwtimed.conf\n"
	    "  -l, --log-level LEVEL  error, warning, notice (default), info "
	    "or debug\n"
	    "      --check-config     check the configuration and the "
	    "credentials,\n"
	    "                         print the effective settings, and exit\n"
	    "      --check-journal    check the journal and exit\n"
	    "      --repair           with --check-journal: move damage to\n"
	    "                         quarantine/ and keep every good record\n"
	    "  -V, --version          print the version and exit\n"
	    "  -h, --help             print this help and exit\n"
	    "\n"
	    "Exit status: 0 ok, 1 failure, 64 usage, 65 journal damaged,\n"
	    "75 storage failure, 78 configuration error. See cwtimed(1).\n");
}

enum {
	OPT_CHECK_CONFIG = 0x100,
	OPT_CHECK_JOURNAL,
	OPT_REPAIR,
};

/* Returns 1 to run, 0 to exit successfully, or an exit status > 1. */
static int
parse_argv(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
		{ "check-journal", no_argument, NULL, OPT_CHECK_JOURNAL },
		{ "repair", no_argument, NULL, OPT_REPAIR },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:l:Vh", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (!optarg[0]) {
				fprintf(stderr, "cwtimed: --config needs a file\n");
				return DAEMON_EXIT_USAGE;
			}
			arg_config = optarg;
			break;
		case 'l':
			arg_log_level = log_level_from_string(optarg);
			if (arg_log_level < 0) {
				fprintf(stderr, "cwtimed: unknown log level '%s' "
				    "(error, warning, notice, info, debug)\n",
				    optarg);
				return DAEMON_EXIT_USAGE;
			}
			break;
		case OPT_CHECK_CONFIG:
			arg_check_config = true;
			break;
		case OPT_CHECK_JOURNAL:
			arg_check_journal = true;
			break;
		case OPT_REPAIR:
			arg_repair = true;
			break;
		case 'V':
			printf("cwtimed %s\n", CWT_VERSION);
			return 0;
		case 'h':
			help(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'cwtimed --help'.\n");
			return DAEMON_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cwtimed: unexpected argument '%s'\n"
		    "Try 'cwtimed --help'.\n", argv[optind]);
		return DAEMON_EXIT_USAGE;
	}
	if (arg_repair && !arg_check_journal) {
		fprintf(stderr, "cwtimed: --repair works only with "
		    "--check-journal\n");
		return DAEMON_EXIT_USAGE;
	}
	if (arg_check_config && arg_check_journal) {
		fprintf(stderr, "cwtimed: --check-config and --check-journal "
		    "exclude each other\n");
		return DAEMON_EXIT_USAGE;
	}
	return 1;
}

/* Prints each line of a multi-line error message with the prefix. */
static void
print_lines(FILE *f, const char *msg)
{
	const char *p = msg;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int) (nl - p) : (int) strlen(p);

		if (n > 0) {
			fprintf(f, "cwtimed: %.*s\n", n, p);
		}
		p = nl ? nl + 1 : NULL;
	}
}

struct check_probe {
	bool done;
	int status;
};

static void
on_probe_done(const struct cwapi_result *res, void *userdata)
{
	struct check_probe *pr = userdata;

	pr->done = true;
	if (res->status >= 200 && res->status < 300) {
		printf("ConnectWise: HTTP %d, %" PRId64 " work types visible "
		       "to this API member\n",
		    res->status, res->id);
		pr->status = 0;
		return;
	}
	fprintf(stderr, "cwtimed: ConnectWise: %s: %s\n",
	    errcode_name(res->err.code),
	    res->err.msg[0] ? res->err.msg
			    : (res->detail ? res->detail : "no answer"));
	pr->status = DAEMON_EXIT_CONFIG;
}

/* --check-config with [api] and credentials: look the codebase up when
 * needed and make one authenticated GET, printing ConnectWise's answer.
 * Runs its own short-lived loop; returns 0 or an exit status. */
static int
check_config_probe(const struct config *cfg, const struct secret *sec)
{
	struct check_probe pr = { false, DAEMON_EXIT_CONFIG };
	struct cwapi_config acfg;
	struct http_options hopt;
	struct http *http = NULL;
	struct cwapi *api = NULL;
	struct errbuf e;
	uv_loop_t loop;
	int64_t id;
	int r;

	errbuf_clear(&e);
	if (uv_loop_init(&loop) < 0) {
		fprintf(stderr, "cwtimed: cannot set up the event loop\n");
		return DAEMON_EXIT_FAILURE;
	}
	memset(&hopt, 0, sizeof(hopt));
	hopt.ca_file = cfg->api.ca_file;
	r = http_new(&loop, &hopt, &http);
	if (r < 0) {
		fprintf(stderr, "cwtimed: cannot set up HTTP: %s\n",
		    strerror(-r));
		pr.status = DAEMON_EXIT_FAILURE;
		goto out;
	}
	memset(&acfg, 0, sizeof(acfg));
	acfg.url = cfg->api.url;
	acfg.site = cfg->api.site;
	acfg.company = cfg->api.company;
	acfg.api_version = cfg->api.api_version;
	acfg.connect_timeout_ms = (uint32_t) (cfg->api.connect_timeout_s * 1000);
	acfg.total_timeout_ms = (uint32_t) (cfg->api.total_timeout_s * 1000);
	acfg.low_speed_time_s = (uint32_t) cfg->api.low_speed_time_s;
	r = cwapi_new(&acfg, sec, http_transport(http), &api, &e);
	if (r < 0) {
		fprintf(stderr, "cwtimed: %s\n", e.msg);
		goto out;
	}
	id = cwapi_count_worktypes(api, on_probe_done, &pr);
	if (id < 0) {
		fprintf(stderr, "cwtimed: cannot send the request: %s\n",
		    strerror((int) -id));
		goto out;
	}
	while (!pr.done && uv_run(&loop, UV_RUN_ONCE) != 0) {
		/* the request's own timeouts bound this */
	}
	if (!pr.done) {
		fprintf(stderr, "cwtimed: ConnectWise did not answer\n");
	}
out:
	cwapi_free(api);
	if (http) {
		http_close(http);
	}
	(void) uv_run(&loop, UV_RUN_DEFAULT); /* let the close callbacks run */
	if (uv_loop_close(&loop) != 0) {
		fprintf(stderr, "cwtimed: internal: handles left open\n");
	}
	return pr.status;
}

static int
run_check_config(void)
{
	struct config cfg;
	struct secret sec;
	struct errbuf e;
	int r, status = 0;

	memset(&cfg, 0, sizeof(cfg));
	memset(&sec, 0, sizeof(sec));
	errbuf_clear(&e);
	r = config_load(arg_config, &cfg, &e);
	if (r < 0) {
		print_lines(stderr, e.msg);
		config_fini(&cfg);
		return DAEMON_EXIT_CONFIG;
	}
	r = config_load_secret(&cfg, &sec, &e);
	if (r < 0 && r != -ENOENT) {
		print_lines(stderr, e.msg);
		status = DAEMON_EXIT_CONFIG;
	} else if (r == -ENOENT) {
		fprintf(stderr, "cwtimed: no credentials (%s): the daemon "
		    "would run offline\n", e.msg);
	}
	if (status == 0) {
		config_print(&cfg, stdout);
		if (r == 0 && config_api_configured(&cfg)) {
			status = check_config_probe(&cfg, &sec);
		}
	}
	secret_fini(&sec);
	config_fini(&cfg);
	return status;
}

static int
run_check_journal(void)
{
	struct paths_env env;
	struct paths p;
	struct errbuf e;
	int r;

	memset(&p, 0, sizeof(p));
	errbuf_clear(&e);
	paths_env_from_process(&env);
	/* The runtime directory does not matter here; only the state dir. */
	if (!env.xdg_runtime_dir) {
		env.xdg_runtime_dir = "/nonexistent";
	}
	r = paths_resolve(&env, arg_config, &p, &e);
	if (r < 0) {
		fprintf(stderr, "cwtimed: %s\n", e.msg);
		return DAEMON_EXIT_CONFIG;
	}
	r = journal_check(p.state_dir, arg_repair, stdout, &e);
	if (r < 0) {
		fprintf(stderr, "cwtimed: %s\n", e.msg[0] ? e.msg :
		    strerror(-r));
		paths_fini(&p);
		if (r == -EBADMSG || e.code == ERR_JOURNAL_CORRUPT) {
			return DAEMON_EXIT_DATAERR;
		}
		return r == -EIO ? DAEMON_EXIT_TEMPFAIL : DAEMON_EXIT_FAILURE;
	}
	paths_fini(&p);
	return 0;
}

static int
on_notify(const char *state)
{
	return notify_send(state); /* no NOTIFY_SOCKET: nothing to do */
}

/* CWTIMED_TEST_LINE_DEADLINE_MS: a test knob that shortens the partial
 * line deadline (cwtimed(1), ENVIRONMENT). Honoured only when set to a
 * positive integer. */
static uint64_t
test_line_deadline(void)
{
	const char *e = getenv("CWTIMED_TEST_LINE_DEADLINE_MS");
	unsigned long long v;
	int n = 0;

	if (!e || !*e) {
		return 0;
	}
	if (sscanf(e, "%llu%n", &v, &n) != 1 || e[n] != '\0' || v == 0 ||
	    v > 3600000ULL || e[0] == '-' || e[0] == '+' || e[0] == ' ') {
		log_warning("ignoring invalid CWTIMED_TEST_LINE_DEADLINE_MS='%s'",
		    e);
		return 0;
	}
	return (uint64_t) v;
}

int
main(int argc, char **argv)
{
	struct daemon d;
	struct daemon_options opts;
	struct errbuf e;
	uint64_t wd_usec = 0;
	int r, status;

	r = parse_argv(argc, argv);
	if (r != 1) {
		return r;
	}

	/* Before anything is created or read: no core dumps and no same-uid
	 * ptrace that could read the API key (RELIABILITY.md 6.3), and
	 * nothing we create is open to others (6.1). */
	(void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	umask(077);
	/* A client that hangs up must not kill us with SIGPIPE. */
	(void) signal(SIGPIPE, SIG_IGN);

	log_setup(arg_log_level >= 0 ? arg_log_level : LOG_NOTICE);

	if (arg_check_config) {
		return run_check_config();
	}
	if (arg_check_journal) {
		return run_check_journal();
	}

	memset(&d, 0, sizeof(d));
	memset(&opts, 0, sizeof(opts));
	opts.config_path = arg_config;
	opts.log_level = arg_log_level;
	opts.line_deadline_ms = test_line_deadline();
	opts.notify = on_notify;
	if (sd_watchdog_enabled(0, &wd_usec) > 0) {
		opts.watchdog_usec = wd_usec;
	}
	errbuf_clear(&e);
	r = daemon_start(&d, &opts, &status, &e);
	if (r < 0) {
		if (strchr(e.msg, '\n')) {
			log_error("cannot start:");
			for (char *p = e.msg, *nl; p && *p; p = nl ? nl + 1 : NULL) {
				nl = strchr(p, '\n');
				if (nl) {
					*nl = '\0';
				}
				if (*p) {
					log_error("  %s", p);
				}
			}
		} else {
			log_error_errno(r, "cannot start: %s", e.msg[0] ? e.msg :
			    strerror(-r));
		}
		(void) daemon_fini(&d);
		return status ? status : DAEMON_EXIT_FAILURE;
	}
	/* Replay is done and the socket listens (RELIABILITY.md 2.6/8). */
	{
		char ready[DAEMON_NOTIFY_LEN];

		snprintf(ready, sizeof(ready), "READY=1\nMAINPID=%d",
		    (int) getpid());
		(void) daemon_notify(&d, ready); /* never blocks */
	}
	log_info("ready, listening on '%s'", d.paths.socket_path);

	status = daemon_run(&d);
	r = daemon_fini(&d);
	if (r < 0) {
		log_error("a libuv handle was still open at exit (bug)");
		if (status == 0) {
			status = DAEMON_EXIT_FAILURE;
		}
	}
	return status;
}
