/*
 * cmds.h - cwtimectl's verb table and the generic argv -> request parser.
 *
 * Every verb is one entry of one table (name, usage, help, argument spec,
 * handler), in the style of tmux and smtpctl. Argument parsing,
 * unique-prefix lookup, `cwtimectl help`, the shell completions and the
 * COMMANDS section of cwtimectl(1) are all derived from it.
 *
 * Request arguments follow the protocol's convention (doc/protocol.md):
 * positionals under the name of their usage word in lower case, options
 * under their long name with '-' turned into '_', flags as true, DURATION
 * values as integer seconds under NAME_s, TIME values as Unix seconds (UTC),
 * ConnectWise record ids as JSON integers, counts (--limit, --year,
 * --period, --tier) as JSON integers, hours (--hours, --deduct) as JSON
 * numbers, and everything else as a JSON string exactly as typed.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

struct errbuf;

enum cmd_arg_type {
	CMD_ARG_STRING,	      /* JSON string, as typed */
	CMD_ARG_ID,	      /* ConnectWise record id: JSON integer >= 1 */
	CMD_ARG_ID_OR_ME,     /* record id, or the string "me" */
	CMD_ARG_COUNT,	      /* integer >= 0 (--limit, --year, --period) */
	CMD_ARG_HOURS,	      /* decimal hours >= 0: JSON number */
	CMD_ARG_DURATION,     /* integer seconds, sent as NAME_s */
	CMD_ARG_TIME,	      /* a past time: Unix seconds */
	CMD_ARG_DATE,	      /* a date: Unix seconds of local midnight */
	CMD_ARG_FLAG,	      /* option without value: true */
	CMD_ARG_CHOICE,	      /* one of ->choices, sent as a string */
	CMD_ARG_COUNT_CHOICE, /* one of ->choices, sent as an integer */
};

/* Argument flags. */
#define CMD_ARGF_REQUIRED 0x01 /* positional or option that must be given */
#define CMD_ARGF_REPEAT 0x02   /* positional taking every remaining word */
#define CMD_ARGF_REST 0x04     /* positional joining remaining words */
#define CMD_ARGF_LOCAL 0x08    /* used by cwtimectl itself, never sent */
#define CMD_ARGF_END_DAY 0x10  /* DATE: the end of that day (exclusive) */

struct cmd_arg {
	const char *name; /* long option without "--", or positional key */
	enum cmd_arg_type type;
	unsigned flags;	      /* CMD_ARGF_* */
	const char *metavar;  /* TIME, TEXT, ... (NULL for flags) */
	const char *choices;  /* "a|b|c" for CMD_ARG_CHOICE */
	const char *excludes; /* name of an argument this one excludes */
	const char *help;
};

struct cmd;
struct cmd_request;

/* What a verb does once its request is built. */
enum cmd_kind {
	CMD_KIND_REQUEST, /* send one request, print the reply */
	CMD_KIND_HELP,	  /* local: help [COMMAND] */
	CMD_KIND_STATUS,  /* status with --format/--template */
	CMD_KIND_FOLLOW,  /* subscribe and print a line per change */
	CMD_KIND_VERSION, /* our version, then the daemon's */
	CMD_KIND_GROUP,	  /* only sub-verbs (entry, sheet) */
};

/* Verb flags. */
#define CMD_F_SUBS_OPTIONAL 0x01 /* bare verb is itself a request (queue) */

struct cmd {
	const char *name;  /* as typed (the last word for a sub-verb) */
	const char *wire;  /* "cmd" sent on the wire ("queue.retry") */
	const char *usage; /* arguments after the name, as shown to users */
	const char *help;  /* one sentence */
	enum cmd_kind kind;
	unsigned flags;
	const struct cmd_arg *pos;   /* positionals, NULL-terminated */
	const struct cmd_arg *opts;  /* options, NULL-terminated */
	const struct cmd_arg *opts2; /* a shared option group, or NULL */
	const struct cmd *subs;	     /* sub-verbs, NULL-name terminated */
	const struct cmd *parent;    /* set for sub-verbs (for full names) */
};

/* The verb table, sorted by name and terminated by a NULL name. */
extern const struct cmd cmds_table[];
/* Global options (--socket, --json, --help, --version). */
extern const struct cmd_arg cmds_global_opts[];

/* A parsed command line. */
struct cmd_request {
	const struct cmd *cmd; /* the (sub-)verb */
	json_object *args;     /* owned; NULL when there are none */
	const char *socket;    /* --socket, or NULL */
	bool json;	       /* --json */
	bool help;	       /* --help / -h (given after a verb or alone) */
	bool version;	       /* --version with no verb */
	const char *format;    /* status/follow --format (validated), or NULL */
	const char *template;  /* status/follow --template, or NULL */
	char *help_topic;      /* help VERB... joined by spaces (owned) */
	const char *completions; /* --completions SHELL */
	bool man_commands;	 /* --man-commands */
};

/* Context for value conversion: the current time, so that tests can fix
 * it (TIME values before it; "HH:MM" means today). */
struct cmd_ctx {
	time_t now;
};

/* Looks a verb up in table by exact name or unique prefix. Returns it, or
 * NULL with ERR_USAGE in *reterr ("unknown command 'x'" or "ambiguous
 * command 'st', could be: start, status, stop"). what is "command" or
 * e.g. "queue command", used in the message. */
const struct cmd *cmds_lookup(const struct cmd *table, const char *word,
    const char *what, struct errbuf *reterr);

/* Parses argv (argv[0] is the program name) into *ret. Returns 0, or
 * -EINVAL with ERR_USAGE / ERR_BAD_DURATION / ERR_BAD_TIME ... in *reterr;
 * nothing is sent on failure. ret->cmd is NULL when only global options
 * were given. Free with cmds_request_fini(). Does not print. */
int cmds_parse(int argc, char **argv, const struct cmd_ctx *ctx,
    struct cmd_request *ret, struct errbuf *reterr);
void cmds_request_fini(struct cmd_request *r);

/* Builds the request line {"v":1,"id":ID,"cmd":...,"args":{...}} without
 * the newline. Returns a new string (free()), or NULL on ENOMEM. */
char *cmds_request_line(const struct cmd_request *r, int64_t id);

/* "queue retry" for a sub-verb, "start" otherwise. Writes into buf. */
const char *cmds_full_name(const struct cmd *c, char *buf, size_t n);

/* Whether an argument takes a value. */
bool cmds_arg_has_value(const struct cmd_arg *a);
