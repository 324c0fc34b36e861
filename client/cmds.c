/*
 * cmds.c - the verb table and the generic parser that turns argv into one
 * protocol request.
 *
 * Job: one declarative entry per verb; everything else (parsing, prefix
 * lookup, help, completions, the man page's COMMANDS) reads the table.
 * Invariants: parsing is pure (no I/O, no clock read: the caller passes
 * the time in), refuses bad input with ERR_USAGE or a value error before
 * anything is sent, and builds args in table order, so the same command
 * line always gives the same bytes. Never prints.
 */
#include "client/cmds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "common/cleanup.h"
#include "common/duration.h"
#include "common/errcode.h"
#include "common/proto.h"
#include "common/timeparse.h"

/* Argument specs shared by several verbs. */
#define A_TARGET_OPT                                                           \
	{                                                                      \
		"target", CMD_ARG_STRING, 0, "TARGET", NULL, NULL,             \
		    "ticket number or project:ID (default: the focused timer)" \
	}
#define A_TARGET_REQ                                                           \
	{                                                                      \
		"target", CMD_ARG_STRING, CMD_ARGF_REQUIRED, "TARGET", NULL,   \
		    NULL, "ticket number (54321, ticket:54321) or project:ID"  \
	}
#define A_ID                                                                   \
	{                                                                      \
		"id", CMD_ARG_ID, CMD_ARGF_REQUIRED, "ID", NULL, NULL,         \
		    "record id"                                                \
	}
#define A_IDS                                                                  \
	{                                                                      \
		"ids", CMD_ARG_ID, CMD_ARGF_REQUIRED | CMD_ARGF_REPEAT, "ID",  \
		    NULL, NULL, "one or more record ids"                       \
	}
#define A_WORK_TYPE                                                            \
	{                                                                      \
		"work-type", CMD_ARG_STRING, 0, "NAME|ID", NULL, NULL,         \
		    "work type, by name or id (see worktypes)"                 \
	}
#define A_ROLE                                                                 \
	{                                                                      \
		"role", CMD_ARG_STRING, 0, "NAME|ID", NULL, NULL,              \
		    "work role, by name or id (see roles)"                     \
	}
#define A_BILLING                                                              \
	{                                                                      \
		"billing", CMD_ARG_CHOICE, 0, "OPTION",                        \
		    "Billable|DoNotBill|NoCharge|NoDefault", NULL,             \
		    "billable option"                                          \
	}
#define A_AGREEMENT                                                            \
	{                                                                      \
		"agreement", CMD_ARG_ID, 0, "ID", NULL, NULL, "agreement id"   \
	}
#define A_NOTES                                                                \
	{                                                                      \
		"notes", CMD_ARG_STRING, 0, "TEXT", NULL, NULL,                \
		    "notes (ConnectWise: notes)"                               \
	}
#define A_INTERNAL_NOTES                                                       \
	{                                                                      \
		"internal-notes", CMD_ARG_STRING, 0, "TEXT", NULL, NULL,       \
		    "internal notes"                                           \
	}
#define A_AT                                                                   \
	{                                                                      \
		"at", CMD_ARG_TIME, 0, "TIME", NULL, "ago",                    \
		    "when it happened (a past time)"                           \
	}
#define A_AGO                                                                  \
	{                                                                      \
		"ago", CMD_ARG_DURATION, 0, "DURATION", NULL, "at",            \
		    "how long ago it happened"                                 \
	}
#define A_YES                                                                  \
	{                                                                      \
		"yes", CMD_ARG_FLAG, 0, NULL, NULL, NULL,                      \
		    "confirm discarding recorded time"                         \
	}
#define A_REFRESH                                                              \
	{                                                                      \
		"refresh", CMD_ARG_FLAG, 0, NULL, NULL, NULL,                  \
		    "fetch again from ConnectWise instead of the cache"        \
	}
#define A_MEMBER                                                               \
	{                                                                      \
		"member", CMD_ARG_ID_OR_ME, 0, "ID|me", NULL, NULL,            \
		    "member id, or me"                                         \
	}
#define A_LIMIT                                                                \
	{                                                                      \
		"limit", CMD_ARG_COUNT, 0, "N", NULL, NULL,                    \
		    "at most N records"                                        \
	}
#define A_FORMAT                                                               \
	{                                                                      \
		"format", CMD_ARG_CHOICE, CMD_ARGF_LOCAL, "FORMAT",            \
		    "plain|json|waybar|i3blocks|i3blocks-json|polybar|tmux",   \
		    NULL,                                                      \
		    "output format (cwtimectl(1), OUTPUT FORMATS)"             \
	}
#define A_TEMPLATE                                                             \
	{                                                                      \
		"template", CMD_ARG_STRING, CMD_ARGF_LOCAL, "TEMPLATE", NULL,  \
		    NULL,                                                      \
		    "the text, with {fields} (cwtimectl(1), TEMPLATE FIELDS)"  \
	}
#define A_END                                                                  \
	{                                                                      \
		NULL, 0, 0, NULL, NULL, NULL, NULL                             \
	}

/* "options as start": what a new or queued entry may carry. */
static const struct cmd_arg entry_opts[] = {
    A_WORK_TYPE,
    A_ROLE,
    A_BILLING,
    A_NOTES,
    A_INTERNAL_NOTES,
    A_AGREEMENT,
    {"add-to", CMD_ARG_STRING, 0, "LIST", NULL, NULL,
	"also add the notes to the ticket: detail,internal,resolution"},
    {"email", CMD_ARG_STRING, 0, "LIST", NULL, NULL,
	"email the notes to: resource,contact,cc"},
    {"email-cc", CMD_ARG_STRING, 0, "ADDRESSES", NULL, NULL,
	"comma-separated cc addresses"},
    /* ChargeCode targets (code:N) carry no company of their own, and a
     * manager may log for someone else: both go to the daemon as typed,
     * which resolves an id or an identifier (connectwise-api.md 3). */
    {"company", CMD_ARG_STRING, 0, "ID|IDENTIFIER", NULL, NULL,
	"company of the entry, by id or identifier (needed for code:N)"},
    {"member", CMD_ARG_STRING, 0, "ID|IDENTIFIER", NULL, NULL,
	"member the entry is for, by id or identifier (default: you)"},
    A_END,
};

static const struct cmd_arg no_args[] = {A_END};
static const struct cmd_arg target_opt_pos[] = {A_TARGET_OPT, A_END};
static const struct cmd_arg target_req_pos[] = {A_TARGET_REQ, A_END};
static const struct cmd_arg id_pos[] = {A_ID, A_END};
/* Queued entries are named by a prefix of their UUID (queue lists them). */
static const struct cmd_arg uuid_pos[] = {
    {"id", CMD_ARG_STRING, CMD_ARGF_REQUIRED, "ID", NULL, NULL,
	"entry id: a unique prefix of its UUID, as 'cwtimectl queue' shows"},
    A_END};
static const struct cmd_arg ids_pos[] = {A_IDS, A_END};
static const struct cmd_arg refresh_opts[] = {A_REFRESH, A_END};
static const struct cmd_arg yes_opts[] = {A_YES, A_END};
static const struct cmd_arg status_opts[] = {A_FORMAT, A_TEMPLATE, A_END};

static const struct cmd_arg start_opts[] = {A_AT, A_AGO, A_END};

static const struct cmd_arg stop_opts[] = {
    {"all", CMD_ARG_FLAG, 0, NULL, NULL, "target", "stop every timer"},
    A_NOTES,
    A_AT,
    A_AGO,
    {"at-heartbeat", CMD_ARG_FLAG, 0, NULL, NULL, NULL,
	"end at the last moment the machine was known to be in use"},
    {"submit", CMD_ARG_FLAG, 0, NULL, NULL, NULL,
	"submit at once instead of waiting for the queue"},
    A_END,
};

static const struct cmd_arg set_opts[] = {
    A_WORK_TYPE,
    A_ROLE,
    A_BILLING,
    A_AGREEMENT,
    A_END,
};

static const struct cmd_arg note_pos[] = {
    A_TARGET_REQ,
    {"text", CMD_ARG_STRING, CMD_ARGF_REQUIRED | CMD_ARGF_REST, "TEXT", NULL,
	NULL, "text appended to the notes (words are joined)"},
    A_END,
};

static const struct cmd_arg adjust_opts[] = {
    {"start", CMD_ARG_TIME, CMD_ARGF_REQUIRED, "TIME", NULL, NULL,
	"the corrected start time"},
    A_END,
};

static const struct cmd_arg log_pos[] = {
    A_TARGET_REQ,
    {"duration", CMD_ARG_DURATION, CMD_ARGF_REQUIRED, "DURATION", NULL, NULL,
	"time worked (90m, 1h30m, 1.5h, 0:45)"},
    A_END,
};

static const struct cmd_arg log_opts[] = {
    {"at", CMD_ARG_TIME, 0, "START", NULL, NULL,
	"when the work started (default: DURATION ago)"},
    {"dry-run", CMD_ARG_FLAG, 0, NULL, NULL, NULL,
	"show the entry that would be queued, queue nothing"},
    A_END,
};

static const struct cmd_arg recent_opts[] = {A_LIMIT, A_END};

static const struct cmd_arg queue_opts[] = {
    {"all", CMD_ARG_FLAG, 0, NULL, NULL, NULL,
	"also list entries already submitted"},
    A_END,
};

static const struct cmd_arg entries_opts[] = {
    {"target", CMD_ARG_STRING, 0, "T", NULL, NULL,
	"ticket number or project:ID"},
    A_MEMBER,
    {"company", CMD_ARG_ID, 0, "ID", NULL, NULL, "company id"},
    {"since", CMD_ARG_DATE, 0, "DATE", NULL, NULL,
	"from this day on (YYYY-MM-DD, today, yesterday)"},
    {"until", CMD_ARG_DATE, CMD_ARGF_END_DAY, "DATE", NULL, NULL,
	"up to and including this day"},
    {"status", CMD_ARG_STRING, 0, "S", NULL, NULL, "entry status"},
    {"billing", CMD_ARG_CHOICE, 0, "O", "Billable|DoNotBill|NoCharge|NoDefault",
	NULL, "billable option"},
    {"work-type", CMD_ARG_STRING, 0, "NAME", NULL, NULL, "work type"},
    {"conditions", CMD_ARG_STRING, 0, "RAW", NULL, NULL,
	"raw ConnectWise conditions, ANDed with the rest"},
    {"order-by", CMD_ARG_STRING, 0, "FIELD", NULL, NULL,
	"ConnectWise orderBy, e.g. 'timeStart desc'"},
    A_LIMIT,
    {"mine", CMD_ARG_FLAG, 0, NULL, NULL, NULL, "only my entries"},
    {"today", CMD_ARG_FLAG, 0, NULL, NULL, NULL, "only today"},
    {"this-week", CMD_ARG_FLAG, 0, NULL, NULL, NULL, "only this week"},
    {"unbilled", CMD_ARG_FLAG, 0, NULL, NULL, NULL,
	"only entries not yet billed"},
    {"awaiting-billing", CMD_ARG_FLAG, 0, NULL, NULL, NULL,
	"only approved entries waiting for an invoice"},
    A_END,
};

static const struct cmd_arg entry_edit_opts[] = {
    A_NOTES,
    A_INTERNAL_NOTES,
    {"hours", CMD_ARG_HOURS, 0, "H", NULL, NULL, "actual hours"},
    {"start", CMD_ARG_TIME, 0, "T", NULL, NULL, "start time"},
    {"end", CMD_ARG_TIME, 0, "T", NULL, NULL, "end time"},
    {"deduct", CMD_ARG_HOURS, 0, "H", NULL, NULL, "hours deducted"},
    A_WORK_TYPE,
    A_ROLE,
    A_BILLING,
    A_END,
};

static const struct cmd_arg reject_opts[] = {
    {"reason", CMD_ARG_STRING, CMD_ARGF_REQUIRED, "TEXT", NULL, NULL,
	"why, shown to the member"},
    A_END,
};

static const struct cmd_arg sheets_opts[] = {
    A_MEMBER,
    {"year", CMD_ARG_COUNT, 0, "Y", NULL, NULL, "year"},
    {"period", CMD_ARG_COUNT, 0, "N", NULL, NULL, "period of the year"},
    {"status", CMD_ARG_STRING, 0, "S", NULL, NULL, "time sheet status"},
    A_END,
};

static const struct cmd_arg sheet_approve_opts[] = {
    {"tier", CMD_ARG_COUNT_CHOICE, 0, "TIER", "1|2", NULL, "approval tier"},
    A_END,
};

static const struct cmd_arg help_pos[] = {
    {"command", CMD_ARG_STRING, CMD_ARGF_REST | CMD_ARGF_LOCAL, "COMMAND", NULL,
	NULL, "a command (or unique prefix)"},
    A_END,
};

const struct cmd_arg cmds_global_opts[] = {
    {"socket", CMD_ARG_STRING, CMD_ARGF_LOCAL, "PATH", NULL, NULL,
	"the daemon's socket "
	"(default: $XDG_RUNTIME_DIR/cwtimed/socket)"},
    {"json", CMD_ARG_FLAG, CMD_ARGF_LOCAL, NULL, NULL, NULL,
	"print the reply as JSON"},
    {"help", CMD_ARG_FLAG, CMD_ARGF_LOCAL, NULL, NULL, NULL,
	"show help (for the command, when given after it)"},
    {"version", CMD_ARG_FLAG, CMD_ARGF_LOCAL, NULL, NULL, NULL,
	"print cwtimectl's version"},
    A_END,
};

#define SUB(nm, wr, us, hl, kind_, p, o, o2)                                   \
	{                                                                      \
		nm, wr, us, hl, kind_, 0, p, o, o2, NULL, NULL                 \
	}
#define REQ CMD_KIND_REQUEST

/* A sub-verb goes on the wire as "queue.retry", "entry.edit", ... */
#define CMDS_SUB_SEP "."

/* Sub-verb tables carry their parent, for full names ("queue retry"). */
static const struct cmd queue_subs[];
static const struct cmd entry_subs[];
static const struct cmd sheet_subs[];

#define QSUB(nm, us, hl, p, o, o2)                                             \
	{                                                                      \
		nm, "queue" CMDS_SUB_SEP nm, us, hl, REQ, 0, p, o, o2, NULL,   \
		    &cmds_table[QUEUE_I]                                       \
	}
#define ESUB(nm, us, hl, p, o, o2)                                             \
	{                                                                      \
		nm, "entry" CMDS_SUB_SEP nm, us, hl, REQ, 0, p, o, o2, NULL,   \
		    &cmds_table[ENTRY_I]                                       \
	}
#define SSUB(nm, us, hl, p, o, o2)                                             \
	{                                                                      \
		nm, "sheet" CMDS_SUB_SEP nm, us, hl, REQ, 0, p, o, o2, NULL,   \
		    &cmds_table[SHEET_I]                                       \
	}

/* Indexes of the group verbs in cmds_table (checked by the unit test). */
#define ENTRY_I 5
#define QUEUE_I 14
#define SHEET_I 20

static const struct cmd queue_subs[] = {
    QSUB("drop", "ID --yes",
	"Drop a queued or rejected entry; its time is lost.", uuid_pos, yes_opts,
	NULL),
    QSUB("edit", "ID [options as start]",
	"Change a queued or rejected entry and queue it again.", uuid_pos,
	entry_opts, NULL),
    QSUB("pause", "", "Stop submitting until queue resume.", no_args, no_args,
	NULL),
    QSUB("resume", "", "Submit again after queue pause.", no_args, no_args,
	NULL),
    QSUB("retry", "ID", "Retry a rejected or waiting entry now.", uuid_pos,
	no_args, NULL),
    {NULL, NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

static const struct cmd entry_subs[] = {
    ESUB("delete", "ID [--yes]", "Delete a time entry in ConnectWise.", id_pos,
	yes_opts, NULL),
    ESUB("edit",
	"ID [--notes TEXT] [--internal-notes TEXT] [--hours H] "
	"[--start T] [--end T] [--deduct H] [--work-type NAME|ID] "
	"[--role NAME|ID] [--billing OPTION]",
	"Change a time entry in ConnectWise.", id_pos, entry_edit_opts, NULL),
    ESUB("show", "ID", "Show one time entry from ConnectWise.", id_pos, no_args,
	NULL),
    {NULL, NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

static const struct cmd sheet_subs[] = {
    SSUB("approve", "ID... [--tier 1|2]", "Approve time sheets.", ids_pos,
	sheet_approve_opts, NULL),
    SSUB("reject", "ID...", "Reject time sheets.", ids_pos, no_args, NULL),
    SSUB("reverse", "ID", "Reverse an approved time sheet.", id_pos, no_args,
	NULL),
    SSUB("show", "ID", "Show a time sheet.", id_pos, no_args, NULL),
    SSUB("submit", "ID", "Submit a time sheet for approval.", id_pos, no_args,
	NULL),
    {NULL, NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

/* Keep sorted by name: help lists it in this order. */
const struct cmd cmds_table[] = {
    SUB("adjust", "adjust", "TARGET --start TIME",
	"Correct when a running timer started.", REQ, target_req_pos,
	adjust_opts, NULL),
    SUB("approve", "approve", "ID...", "Approve time entries.", REQ, ids_pos,
	no_args, NULL),
    SUB("cancel", "cancel", "[TARGET] [--yes]",
	"Discard a timer without creating an entry.", REQ, target_opt_pos,
	yes_opts, NULL),
    SUB("codes", "codes", "[--refresh]",
	"List the charge codes (for code:NAME targets), with their ids.", REQ,
	no_args, refresh_opts, NULL),
    SUB("entries", "entries",
	"[--target T] [--member ID|me] [--company ID] [--since DATE] "
	"[--until DATE] [--status S] [--billing O] [--work-type NAME] "
	"[--conditions RAW] [--order-by FIELD] [--limit N] [--mine] "
	"[--today] [--this-week] [--unbilled] [--awaiting-billing]",
	"Search time entries in ConnectWise.", REQ, no_args, entries_opts,
	NULL),
    {"entry", "entry", "show|edit|delete ID ...",
	"Show, change or delete one time entry in ConnectWise.", CMD_KIND_GROUP,
	0, no_args, no_args, NULL, entry_subs, NULL},
    SUB("flush", "flush", "", "Submit every queued entry now.", REQ, no_args,
	no_args, NULL),
    SUB("follow", "subscribe", "[--format F] [--template T]",
	"Print the status at once and again on every change; never exits.",
	CMD_KIND_FOLLOW, no_args, status_opts, NULL),
    SUB("help", NULL, "[COMMAND]", "Show the commands, or one in detail.",
	CMD_KIND_HELP, help_pos, no_args, NULL),
    SUB("list", "list", "", "List the timers.", REQ, no_args, no_args, NULL),
    SUB("log", "log",
	"TARGET DURATION [--at START] [--dry-run] [options as start]",
	"Queue an entry for time already worked.", REQ, log_pos, log_opts,
	entry_opts),
    SUB("note", "note", "TARGET TEXT", "Append text to a timer's notes.", REQ,
	note_pos, no_args, NULL),
    SUB("pause", "pause", "[TARGET]", "Pause a timer.", REQ, target_opt_pos,
	no_args, NULL),
    SUB("ping", "ping", "", "Check that cwtimed answers.", REQ, no_args,
	no_args, NULL),
    {"queue", "queue",
	"[--all] | retry ID | edit ID [options as start] | drop ID --yes "
	"| pause | resume",
	"List the entries waiting for submission, or act on one.", REQ,
	CMD_F_SUBS_OPTIONAL, no_args, queue_opts, NULL, queue_subs, NULL},
    SUB("recent", "recent", "[--limit N]", "List recently used targets.", REQ,
	no_args, recent_opts, NULL),
    SUB("reject", "reject", "ID... --reason TEXT", "Reject time entries.", REQ,
	ids_pos, reject_opts, NULL),
    SUB("resume", "resume", "[TARGET]", "Resume a paused timer.", REQ,
	target_opt_pos, no_args, NULL),
    SUB("roles", "roles", "[--refresh]", "List the work roles.", REQ, no_args,
	refresh_opts, NULL),
    SUB("set", "set",
	"TARGET [--work-type NAME|ID] [--role NAME|ID] "
	"[--billing OPTION] [--agreement ID]",
	"Change what a running timer's entry will carry.", REQ, target_req_pos,
	set_opts, NULL),
    {"sheet", "sheet",
	"show ID | submit ID | approve ID... [--tier 1|2] | reject ID... "
	"| reverse ID",
	"Act on one time sheet.", CMD_KIND_GROUP, 0, no_args, no_args, NULL,
	sheet_subs, NULL},
    SUB("sheets", "sheets",
	"[--member ID|me] [--year Y] [--period N] [--status S]",
	"List time sheets.", REQ, no_args, sheets_opts, NULL),
    SUB("start", "start",
	"TARGET [options as start] [--at TIME | --ago DURATION]",
	"Start a timer and focus it.", REQ, target_req_pos, start_opts,
	entry_opts),
    SUB("status", "status", "[--format F] [--template T]",
	"Show the timers, the queue and the submission state.", CMD_KIND_STATUS,
	no_args, status_opts, NULL),
    SUB("stop", "stop",
	"[TARGET | --all] [--notes TEXT] [--at TIME | --ago DURATION] "
	"[--at-heartbeat] [--submit]",
	"Stop a timer and queue its entry.", REQ, target_opt_pos, stop_opts,
	NULL),
    SUB("switch", "switch", "TARGET",
	"Pause the focused timer and start or resume TARGET.", REQ,
	target_req_pos, no_args, NULL),
    SUB("toggle", "toggle", "[TARGET]",
	"Pause a running timer, or resume a paused one.", REQ, target_opt_pos,
	no_args, NULL),
    SUB("version", "version", "", "Print cwtimectl's and cwtimed's versions.",
	CMD_KIND_VERSION, no_args, no_args, NULL),
    SUB("worktypes", "worktypes", "[--refresh]", "List the work types.", REQ,
	no_args, refresh_opts, NULL),
    {NULL, NULL, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL},
};

const char *
cmds_full_name(const struct cmd *c, char *buf, size_t n)
{
	if (c->parent) {
		snprintf(buf, n, "%s %s", c->parent->name, c->name);
	} else {
		snprintf(buf, n, "%s", c->name);
	}
	return buf;
}

bool
cmds_arg_has_value(const struct cmd_arg *a)
{
	return a->type != CMD_ARG_FLAG;
}

const struct cmd *
cmds_lookup(const struct cmd *table, const char *word, const char *what,
    struct errbuf *reterr)
{
	const struct cmd *found = NULL;
	size_t len = strlen(word);
	int n = 0;

	for (const struct cmd *c = table; c->name; c++) {
		if (strcmp(c->name, word) == 0) {
			return c; /* an exact name wins over longer ones */
		}
		if (len > 0 && strncmp(c->name, word, len) == 0) {
			found = c;
			n++;
		}
	}
	if (n == 1) {
		return found;
	}
	if (n == 0) {
		errbuf_set(reterr, ERR_USAGE, -EINVAL,
		    "unknown %s '%s'; try 'cwtimectl help'", what, word);
		return NULL;
	}
	/* "ambiguous command 'st', could be: start, status, stop" */
	char list[400] = "";
	size_t off = 0;

	for (const struct cmd *c = table; c->name; c++) {
		if (strncmp(c->name, word, len) == 0 && off < sizeof(list)) {
			int k = snprintf(list + off, sizeof(list) - off, "%s%s",
			    off ? ", " : "", c->name);
			off += k > 0 ? (size_t) k : 0;
		}
	}
	errbuf_set(reterr, ERR_USAGE, -EINVAL,
	    "ambiguous %s '%s', could be: %s", what, word, list);
	return NULL;
}

/* --- parsing ----------------------------------------------------------- */

#define MAX_SPECS 48

/* One argument spec of a verb, found by index across pos, opts, opts2. */
struct spec_list {
	const struct cmd_arg *a[MAX_SPECS];
	size_t npos;
	size_t n;
};

static void
spec_list_init(struct spec_list *l, const struct cmd *c)
{
	l->n = 0;
	for (const struct cmd_arg *a = c->pos; a && a->name; a++) {
		l->a[l->n++] = a;
	}
	l->npos = l->n;
	for (const struct cmd_arg *a = c->opts; a && a->name; a++) {
		l->a[l->n++] = a;
	}
	for (const struct cmd_arg *a = c->opts2; a && a->name; a++) {
		l->a[l->n++] = a;
	}
}

static const struct cmd_arg *
find_opt(const struct cmd_arg *opts, const char *name, size_t len)
{
	for (const struct cmd_arg *a = opts; a && a->name; a++) {
		if (strlen(a->name) == len &&
		    strncmp(a->name, name, len) == 0) {
			return a;
		}
	}
	return NULL;
}

/* How a word is shown in messages: "--work-type" or "TARGET". */
static const char *
arg_label(const struct cmd_arg *a, bool positional, char *buf, size_t n)
{
	if (positional) {
		snprintf(buf, n, "%s", a->metavar);
	} else {
		snprintf(buf, n, "--%s", a->name);
	}
	return buf;
}

/* Splits "--name=value" or "--name": *ret_name/len, *ret_value or NULL. */
static void
split_long(const char *word, const char **ret_name, size_t *ret_len,
    const char **ret_value)
{
	const char *name = word + 2;
	const char *eq = strchr(name, '=');

	*ret_name = name;
	*ret_len = eq ? (size_t) (eq - name) : strlen(name);
	*ret_value = eq ? eq + 1 : NULL;
}

/* Handles a global option at argv[*i]. Returns 1 when it was one, 0 when
 * the name is not global, or -EINVAL. */
static int
parse_global(
    int argc, char **argv, int *i, struct cmd_request *r, struct errbuf *reterr)
{
	const char *word = argv[*i], *name, *value;
	size_t len;

	if (strcmp(word, "-h") == 0) {
		r->help = true;
		return 1;
	}
	if (strcmp(word, "-V") == 0) {
		r->version = true;
		return 1;
	}
	if (strncmp(word, "--", 2) != 0) {
		return 0;
	}
	split_long(word, &name, &len, &value);
	/* Generators for the build: hidden from help, on purpose. */
	bool is_completions =
	    len == 11 && strncmp(name, "completions", 11) == 0;
	bool is_man = len == 12 && strncmp(name, "man-commands", 12) == 0;
	const struct cmd_arg *a = find_opt(cmds_global_opts, name, len);

	if (!a && !is_completions && !is_man) {
		return 0;
	}
	if ((is_man || (a && !cmds_arg_has_value(a))) && value) {
		return errbuf_set(reterr, ERR_USAGE, -EINVAL,
		    "option '--%.*s' takes no value", (int) len, name);
	}
	if (is_completions || (a && cmds_arg_has_value(a))) {
		if (!value) {
			if (*i + 1 >= argc) {
				return errbuf_set(reterr, ERR_USAGE, -EINVAL,
				    "option '--%.*s' needs a value", (int) len,
				    name);
			}
			value = argv[++*i];
		}
	}
	if (is_completions) {
		r->completions = value;
	} else if (is_man) {
		r->man_commands = true;
	} else if (strcmp(a->name, "socket") == 0) {
		if (value[0] == '\0') {
			return errbuf_set(reterr, ERR_USAGE, -EINVAL,
			    "option '--socket' needs a path");
		}
		r->socket = value;
	} else if (strcmp(a->name, "json") == 0) {
		r->json = true;
	} else if (strcmp(a->name, "help") == 0) {
		r->help = true;
	} else if (strcmp(a->name, "version") == 0) {
		r->version = true;
	}
	return 1;
}

/* Case-insensitive match against "a|b|c"; writes the canonical spelling. */
static int
match_choice(const char *choices, const char *value, char *ret, size_t n)
{
	const char *p = choices;

	while (*p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t) (bar - p) : strlen(p);

		if (strlen(value) == len && strncasecmp(p, value, len) == 0 &&
		    len < n) {
			memcpy(ret, p, len);
			ret[len] = '\0';
			return 0;
		}
		p += len + (bar ? 1 : 0);
	}
	return -EINVAL;
}

/* "1.5", "2", ".25": digits with at most one '.', 0..10000 hours. */
static int
parse_hours(const char *s, double *ret)
{
	int digits = 0, dots = 0;
	char *end;

	for (const char *p = s; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			digits++;
		} else if (*p == '.') {
			dots++;
		} else {
			return -EINVAL;
		}
	}
	if (digits == 0 || dots > 1) {
		return -EINVAL;
	}
	errno = 0;
	double v = strtod(s, &end);

	if (errno != 0 || *end != '\0' || v < 0 || v > 10000) {
		return -ERANGE;
	}
	*ret = v;
	return 0;
}

/* DATE: YYYY-MM-DD, today or yesterday, as the Unix seconds of that local
 * day's first instant (or of the next day's, for an exclusive end). */
static int
parse_date(const char *s, time_t now, bool end_of_day, int64_t *ret)
{
	struct tm tm;
	int y, m, d, n = -1;

	if (!localtime_r(&now, &tm)) {
		return -EINVAL;
	}
	if (strcmp(s, "today") == 0) {
		/* tm already holds today */
	} else if (strcmp(s, "yesterday") == 0) {
		tm.tm_mday -= 1;
	} else {
		if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') {
			return -EINVAL;
		}
		for (int k = 0; k < 10; k++) {
			if (k != 4 && k != 7 && (s[k] < '0' || s[k] > '9')) {
				return -EINVAL;
			}
		}
		if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 ||
		    n != 10 || m < 1 || m > 12 || d < 1 || d > 31) {
			return -EINVAL;
		}
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = y - 1900;
		tm.tm_mon = m - 1;
		tm.tm_mday = d;
	}
	if (end_of_day) {
		tm.tm_mday += 1;
	}
	/* Before mktime normalises them, remember the fields to catch 02-31. */
	int want_mday = tm.tm_mday;
	bool literal = !end_of_day && strcmp(s, "today") != 0 &&
	    strcmp(s, "yesterday") != 0;

	tm.tm_hour = 0;
	tm.tm_min = 0;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	time_t t = mktime(&tm);

	if (t == (time_t) -1) {
		return -EINVAL;
	}
	if (literal && tm.tm_mday != want_mday) {
		return -EINVAL;
	}
	*ret = (int64_t) t;
	return 0;
}

/* Adds one value converted by its spec to args. */
static int
add_value(json_object *args, const struct cmd_arg *a, bool positional,
    const char *value, const struct cmd_ctx *ctx, struct errbuf *reterr)
{
	char key[64], label[64], canon[32];
	json_object *v = NULL;
	int64_t i64;
	double d;
	int r;

	snprintf(key, sizeof(key), "%s", a->name);
	for (char *p = key; *p; p++) {
		if (*p == '-') {
			*p = '_';
		}
	}
	arg_label(a, positional, label, sizeof(label));

	switch (a->type) {
	case CMD_ARG_STRING:
		v = json_object_new_string(value);
		break;
	case CMD_ARG_ID_OR_ME:
		if (strcmp(value, "me") == 0) {
			v = json_object_new_string("me");
			break;
		}
		/* fall through */
	case CMD_ARG_ID:
		r = parse_int64(value, 1, INT64_C(9007199254740991), &i64);
		if (r < 0) {
			return errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
			    "%s: '%s' is not a record id", label, value);
		}
		v = json_object_new_int64(i64);
		break;
	case CMD_ARG_COUNT:
		r = parse_int64(value, 0, 1000000000, &i64);
		if (r < 0) {
			return errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
			    "%s: '%s' is not a number", label, value);
		}
		v = json_object_new_int64(i64);
		break;
	case CMD_ARG_HOURS:
		if (parse_hours(value, &d) < 0) {
			return errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
			    "%s: '%s' is not a number of hours (e.g. 1.5)",
			    label, value);
		}
		v = json_object_new_double(d);
		break;
	case CMD_ARG_DURATION:
		r = duration_parse(value, &i64, reterr);
		if (r < 0) {
			return r;
		}
		snprintf(key + strlen(key), sizeof(key) - strlen(key), "_s");
		v = json_object_new_int64(i64);
		break;
	case CMD_ARG_TIME:
		r = timeparse_parse(value, (int64_t) ctx->now, &i64, reterr);
		if (r < 0) {
			return r;
		}
		v = json_object_new_int64(i64);
		break;
	case CMD_ARG_DATE:
		if (parse_date(value, ctx->now, a->flags & CMD_ARGF_END_DAY,
			&i64) < 0) {
			return errbuf_set(reterr, ERR_BAD_TIME, -EINVAL,
			    "%s: invalid date '%s' (YYYY-MM-DD, today, "
			    "yesterday)",
			    label, value);
		}
		v = json_object_new_int64(i64);
		break;
	case CMD_ARG_FLAG:
		v = json_object_new_boolean(1);
		break;
	case CMD_ARG_CHOICE:
	case CMD_ARG_COUNT_CHOICE:
		if (match_choice(a->choices, value, canon, sizeof(canon)) < 0) {
			return errbuf_set(reterr, ERR_USAGE, -EINVAL,
			    "%s: '%s' is not one of %s", label, value,
			    a->choices);
		}
		if (a->type == CMD_ARG_CHOICE) {
			v = json_object_new_string(canon);
		} else {
			(void) parse_int64(canon, 0, 1000, &i64); /* table */
			v = json_object_new_int64(i64);
		}
		break;
	}
	if (!v) {
		return -ENOMEM;
	}
	json_object_object_add(args, key, v);
	return 0;
}

/* Joins words with single spaces into a new string. */
static char *
join_words(char **words, size_t n)
{
	size_t len = 1;

	for (size_t k = 0; k < n; k++) {
		len += strlen(words[k]) + 1;
	}
	char *s = malloc(len), *p = s;

	if (!s) {
		return NULL;
	}
	for (size_t k = 0; k < n; k++) {
		size_t l = strlen(words[k]);

		if (k > 0) {
			*p++ = ' ';
		}
		memcpy(p, words[k], l);
		p += l;
	}
	*p = '\0';
	return s;
}

/* Fills r->cmd's args from the words after the verb. */
static int
parse_verb_args(int argc, char **argv, int i, const struct cmd_ctx *ctx,
    struct cmd_request *r, struct errbuf *reterr)
{
	const struct cmd *c = r->cmd;
	struct spec_list specs;
	const char *val[MAX_SPECS] = {NULL};
	CLEANUP_FREE char **words = calloc((size_t) argc + 1, sizeof(*words));
	CLEANUP_FREE char *joined = NULL;
	CLEANUP_JSON json_object *args = NULL;
	char label[64], name_buf[64];
	size_t nwords = 0;
	bool only_words = false;
	int k;

	if (!words) {
		return -ENOMEM;
	}
	spec_list_init(&specs, c);
	for (; i < argc; i++) {
		const char *word = argv[i];

		if (only_words || word[0] != '-' || word[1] == '\0') {
			words[nwords++] = argv[i];
			continue;
		}
		if (strcmp(word, "--") == 0) {
			only_words = true;
			continue;
		}
		k = parse_global(argc, argv, &i, r, reterr);
		if (k < 0) {
			return k;
		}
		if (k > 0) {
			if (r->man_commands || r->completions || r->version) {
				return errbuf_set(reterr, ERR_USAGE, -EINVAL,
				    "option '%s' must come before the command",
				    word);
			}
			continue;
		}
		const char *name, *value;
		size_t len;
		size_t s;

		if (word[1] != '-') {
			return errbuf_set(reterr, ERR_USAGE, -EINVAL,
			    "unknown option '%s' for '%s'", word,
			    cmds_full_name(c, name_buf, sizeof(name_buf)));
		}
		split_long(word, &name, &len, &value);
		for (s = specs.npos; s < specs.n; s++) {
			if (strlen(specs.a[s]->name) == len &&
			    strncmp(specs.a[s]->name, name, len) == 0) {
				break;
			}
		}
		if (s == specs.n) {
			return errbuf_set(reterr, ERR_USAGE, -EINVAL,
			    "unknown option '--%.*s' for '%s'", (int) len, name,
			    cmds_full_name(c, name_buf, sizeof(name_buf)));
		}
		if (val[s]) {
			return errbuf_set(reterr, ERR_USAGE, -EINVAL,
			    "option '--%s' given twice", specs.a[s]->name);
		}
		if (!cmds_arg_has_value(specs.a[s])) {
			if (value) {
				return errbuf_set(reterr, ERR_USAGE, -EINVAL,
				    "option '--%s' takes no value",
				    specs.a[s]->name);
			}
			value = "";
		} else if (!value) {
			if (i + 1 >= argc) {
				return errbuf_set(reterr, ERR_USAGE, -EINVAL,
				    "option '--%s' needs a value (%s)",
				    specs.a[s]->name, specs.a[s]->metavar);
			}
			value = argv[++i];
		}
		val[s] = value;
	}
	if (r->help) {
		return 0; /* help for the verb: the rest does not matter */
	}

	/* Positionals, in usage order. */
	size_t w = 0;

	for (size_t s = 0; s < specs.npos; s++) {
		const struct cmd_arg *a = specs.a[s];

		if (w >= nwords) {
			if (a->flags & CMD_ARGF_REQUIRED) {
				return errbuf_set(reterr, ERR_USAGE, -EINVAL,
				    "missing %s; usage: cwtimectl %s %s",
				    a->metavar,
				    cmds_full_name(
					c, name_buf, sizeof(name_buf)),
				    c->usage);
			}
			continue;
		}
		if (a->flags & CMD_ARGF_REST) {
			joined = join_words(words + w, nwords - w);
			if (!joined) {
				return -ENOMEM;
			}
			val[s] = joined;
			w = nwords;
		} else if (!(a->flags & CMD_ARGF_REPEAT)) {
			val[s] = words[w++];
		} else {
			val[s] = words[w]; /* marks presence; added below */
		}
		if (a->flags & CMD_ARGF_REPEAT) {
			break;
		}
	}
	bool repeat = specs.npos > 0 &&
	    (specs.a[specs.npos - 1]->flags & CMD_ARGF_REPEAT);

	if (w < nwords && !repeat) {
		return errbuf_set(reterr, ERR_USAGE, -EINVAL,
		    "unexpected argument '%s' for '%s'", words[w],
		    cmds_full_name(c, name_buf, sizeof(name_buf)));
	}

	/* Required options and exclusions. */
	for (size_t s = specs.npos; s < specs.n; s++) {
		if ((specs.a[s]->flags & CMD_ARGF_REQUIRED) && !val[s]) {
			return errbuf_set(reterr, ERR_USAGE, -EINVAL,
			    "'%s' needs --%s %s",
			    cmds_full_name(c, name_buf, sizeof(name_buf)),
			    specs.a[s]->name, specs.a[s]->metavar);
		}
	}
	for (size_t s = 0; s < specs.n; s++) {
		const char *ex = specs.a[s]->excludes;

		if (!val[s] || !ex) {
			continue;
		}
		for (size_t t = 0; t < specs.n; t++) {
			if (val[t] && strcmp(specs.a[t]->name, ex) == 0) {
				char l2[64];

				size_t lo = s < t ? s : t, hi = s < t ? t : s;

				/* named in table order: "--at and --ago" */
				return errbuf_set(reterr, ERR_USAGE, -EINVAL,
				    "%s and %s exclude each other",
				    arg_label(specs.a[lo], lo < specs.npos,
					label, sizeof(label)),
				    arg_label(specs.a[hi], hi < specs.npos, l2,
					sizeof(l2)));
			}
		}
	}

	/* Convert, in table order. */
	args = json_object_new_object();
	if (!args) {
		return -ENOMEM;
	}
	for (size_t s = 0; s < specs.n; s++) {
		const struct cmd_arg *a = specs.a[s];
		bool positional = s < specs.npos;
		int rr;

		if (!val[s]) {
			continue;
		}
		if (a->flags & CMD_ARGF_LOCAL) {
			if (strcmp(a->name, "format") == 0) {
				char canon[32];

				if (match_choice(a->choices, val[s], canon,
					sizeof(canon)) < 0) {
					return errbuf_set(reterr, ERR_USAGE,
					    -EINVAL,
					    "--format: '%s' is not one of %s",
					    val[s], a->choices);
				}
				r->format = val[s];
			} else if (strcmp(a->name, "template") == 0) {
				r->template = val[s];
			} else if (strcmp(a->name, "command") == 0) {
				r->help_topic = strdup(val[s]);
				if (!r->help_topic) {
					return -ENOMEM;
				}
			}
			continue;
		}
		if (positional && (a->flags & CMD_ARGF_REPEAT)) {
			json_object *arr = json_object_new_array();

			if (!arr) {
				return -ENOMEM;
			}
			json_object_object_add(args, a->name, arr);
			for (size_t x = w; x < nwords; x++) {
				CLEANUP_JSON json_object *tmp =
				    json_object_new_object();

				if (!tmp) {
					return -ENOMEM;
				}
				rr = add_value(
				    tmp, a, true, words[x], ctx, reterr);
				if (rr < 0) {
					return rr;
				}
				json_object *one = NULL;

				json_object_object_get_ex(tmp, a->name, &one);
				json_object_array_add(
				    arr, json_object_get(one));
			}
			continue;
		}
		rr = add_value(args, a, positional, val[s], ctx, reterr);
		if (rr < 0) {
			return rr;
		}
	}
	if (json_object_object_length(args) > 0) {
		r->args = TAKE_PTR(args);
	}
	return 0;
}

int
cmds_parse(int argc, char **argv, const struct cmd_ctx *ctx,
    struct cmd_request *ret, struct errbuf *reterr)
{
	struct cmd_request r = {0};
	int i = 1, k;

	/* Global options before the verb. */
	for (; i < argc; i++) {
		const char *word = argv[i];

		if (word[0] != '-' || word[1] == '\0') {
			break;
		}
		if (strcmp(word, "--") == 0) {
			i++;
			break;
		}
		k = parse_global(argc, argv, &i, &r, reterr);
		if (k < 0) {
			return k;
		}
		if (k == 0) {
			return errbuf_set(reterr, ERR_USAGE, -EINVAL,
			    "unknown option '%s'", word);
		}
	}
	if (i >= argc) {
		*ret = r;
		return 0;
	}
	r.cmd = cmds_lookup(cmds_table, argv[i], "command", reterr);
	if (!r.cmd) {
		return -EINVAL;
	}
	i++;
	/* A sub-verb is the word right after its verb (smtpctl style). */
	if (r.cmd->subs) {
		char what[64];

		snprintf(what, sizeof(what), "%s command", r.cmd->name);
		if (i < argc && argv[i][0] != '-') {
			const struct cmd *sub =
			    cmds_lookup(r.cmd->subs, argv[i], what, reterr);

			if (!sub) {
				return -EINVAL;
			}
			r.cmd = sub;
			i++;
		} else if (!(r.cmd->flags & CMD_F_SUBS_OPTIONAL)) {
			bool help = false;

			for (int j = i; j < argc; j++) {
				if (strcmp(argv[j], "--help") == 0 ||
				    strcmp(argv[j], "-h") == 0) {
					help = true;
				}
			}
			if (!help) {
				return errbuf_set(reterr, ERR_USAGE, -EINVAL,
				    "'%s' needs a command: cwtimectl %s %s",
				    r.cmd->name, r.cmd->name, r.cmd->usage);
			}
		}
	}
	k = parse_verb_args(argc, argv, i, ctx, &r, reterr);
	if (k < 0) {
		cmds_request_fini(&r);
		return k;
	}
	*ret = r;
	return 0;
}

void
cmds_request_fini(struct cmd_request *r)
{
	if (!r) {
		return;
	}
	if (r->args) {
		json_object_put(r->args);
	}
	r->args = NULL;
	free(r->help_topic);
	r->help_topic = NULL;
}

char *
cmds_request_line(const struct cmd_request *r, int64_t id)
{
	char *line = NULL;
	size_t len = 0;

	if (!r->cmd || !r->cmd->wire ||
	    proto_build_request(id, r->cmd->wire, r->args, &line, &len) < 0) {
		return NULL;
	}
	line[len - 1] = '\0'; /* the caller's transport adds the newline */
	return line;
}
