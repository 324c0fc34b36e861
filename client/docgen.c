/*
 * docgen.c - help text, shell completions and man page source, all
 * generated from cmds_table.
 *
 * Invariant: every verb, sub-verb and option in the table shows up in
 * each output (tests/integration/test-cli.py walks the table and checks).
 * Pure apart from writing to the FILE it is given.
 */
#include "client/docgen.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "client/cmds.h"

/* Walks the options of c: its own, then its shared group. */
#define FOREACH_OPT(c, a)                                                      \
	for (int g_ = 0; g_ < 2; g_++)                                         \
		for (const struct cmd_arg *a = g_ == 0 ? (c)->opts             \
						       : (c)->opts2;           \
		     a && a->name; a++)

/* Walks every verb c and, through x, the verb and each of its sub-verbs. */
#define FOREACH_CMD(c, x)                                                      \
	for (const struct cmd *c = cmds_table; c->name; c++)                   \
		for (int k_ = -1; k_ < 0 || (c->subs && c->subs[k_].name);     \
		     k_++)                                                     \
			for (const struct cmd *x = k_ < 0 ? c : &c->subs[k_];  \
			     x; x = NULL)

static void
print_arg_line(FILE *f, const struct cmd_arg *a, bool positional)
{
	char left[64];

	if (positional) {
		snprintf(left, sizeof(left), "%s", a->metavar);
	} else if (cmds_arg_has_value(a)) {
		snprintf(left, sizeof(left), "--%s %s", a->name, a->metavar);
	} else {
		snprintf(left, sizeof(left), "--%s", a->name);
	}
	fprintf(f, "  %-24s %s", left, a->help);
	if (a->choices && a->type != CMD_ARG_COUNT_CHOICE) {
		fprintf(f, " (%s)", a->choices);
	}
	fprintf(f, "\n");
}

static void
print_global_opts(FILE *f)
{
	for (const struct cmd_arg *a = cmds_global_opts; a->name; a++) {
		print_arg_line(f, a, false);
	}
}

void
docgen_help_all(FILE *f)
{
	char name[64];

	fprintf(f,
	    "usage: cwtimectl [--socket PATH] [--json] COMMAND "
	    "[ARGUMENTS]\n\n");
	fprintf(f, "Commands (a unique prefix will do):\n");
	for (const struct cmd *c = cmds_table; c->name; c++) {
		fprintf(f, "  %s%s%s\n      %s\n", c->name,
		    c->usage[0] ? " " : "", c->usage, c->help);
		for (const struct cmd *s = c->subs; s && s->name; s++) {
			fprintf(f, "  %s%s%s\n      %s\n",
			    cmds_full_name(s, name, sizeof(name)),
			    s->usage[0] ? " " : "", s->usage, s->help);
		}
	}
	fprintf(f, "\nGlobal options (before or after the command):\n");
	print_global_opts(f);
	fprintf(f,
	    "\n'cwtimectl help COMMAND' shows a command's options; "
	    "man cwtimectl has the rest.\n");
}

static void
help_one(FILE *f, const struct cmd *c)
{
	char name[64];
	bool any = false;

	fprintf(f, "usage: cwtimectl %s%s%s\n\n%s\n",
	    cmds_full_name(c, name, sizeof(name)), c->usage[0] ? " " : "",
	    c->usage, c->help);
	for (const struct cmd_arg *a = c->pos; a && a->name; a++) {
		if (!any) {
			fprintf(f, "\nArguments:\n");
			any = true;
		}
		print_arg_line(f, a, true);
	}
	any = false;
	FOREACH_OPT(c, a)
	{
		if (!any) {
			fprintf(f, "\nOptions:\n");
			any = true;
		}
		print_arg_line(f, a, false);
	}
}

void
docgen_help_cmd(FILE *f, const struct cmd *c)
{
	if (c->kind != CMD_KIND_GROUP) {
		help_one(f, c);
	} else {
		fprintf(f, "usage: cwtimectl %s %s\n\n%s\n", c->name, c->usage,
		    c->help);
	}
	for (const struct cmd *s = c->subs; s && s->name; s++) {
		fprintf(f, "\n");
		help_one(f, s);
	}
	fprintf(f, "\nGlobal options:\n");
	print_global_opts(f);
}

/* --- man page ------------------------------------------------------------ */

/* scdoc treats * _ \ as markup. */
static void
scd_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '*' || *s == '_' || *s == '\\') {
			fputc('\\', f);
		}
		fputc(*s, f);
	}
}

/* An argument: its name on an indented line, its help indented below. */
static void
man_arg(FILE *f, const struct cmd_arg *a, bool positional)
{
	fprintf(f, "\n\t");
	if (positional) {
		fprintf(f, "_");
		scd_escape(f, a->metavar);
		fprintf(f, "_");
	} else {
		fprintf(f, "*--%s*", a->name);
		if (cmds_arg_has_value(a)) {
			fprintf(f, " _");
			scd_escape(f, a->metavar);
			fprintf(f, "_");
		}
	}
	fprintf(f, "\n\t\t");
	scd_escape(f, a->help);
	if (a->choices && a->type != CMD_ARG_COUNT_CHOICE) {
		fprintf(f, " (");
		scd_escape(f, a->choices);
		fprintf(f, ")");
	}
	fprintf(f, ".\n");
}

/* A verb's entry: its usage, its help, then each argument. */
static void
man_one(FILE *f, const struct cmd *c)
{
	char name[64];

	fprintf(f, "*%s*", cmds_full_name(c, name, sizeof(name)));
	if (c->usage[0]) {
		fprintf(f, " ");
		scd_escape(f, c->usage);
	}
	fprintf(f, "\n\t");
	scd_escape(f, c->help);
	fprintf(f, "\n");
	for (const struct cmd_arg *a = c->pos; a && a->name; a++) {
		man_arg(f, a, true);
	}
	FOREACH_OPT(c, a)
	{
		man_arg(f, a, false);
	}
	fprintf(f, "\n");
}

void
docgen_man_commands(FILE *f)
{
	fprintf(f,
	    "Any unique prefix of a command (and of a sub-command) "
	    "will do: *cwtimectl sta* is ambiguous, *cwtimectl star* "
	    "means *start*. \"[options as start]\" stands for the "
	    "options of *start* from *--work-type* to *--email-cc*.\n\n");
	for (const struct cmd *c = cmds_table; c->name; c++) {
		if (c->kind == CMD_KIND_GROUP) {
			fprintf(f, "*%s* ", c->name);
			scd_escape(f, c->usage);
			fprintf(f, "\n\t");
			scd_escape(f, c->help);
			fprintf(f, "\n\n");
		} else {
			man_one(f, c);
		}
		for (const struct cmd *s = c->subs; s && s->name; s++) {
			man_one(f, s);
		}
	}
}

/* --- completions --------------------------------------------------------- */

/* Writes s inside single quotes for sh-like shells and fish. */
static void
squote(FILE *f, const char *s, bool fish)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'') {
			fputs(fish ? "\\'" : "'\\''", f);
		} else if (fish && *s == '\\') {
			fputs("\\\\", f);
		} else {
			fputc(*s, f);
		}
	}
	fputc('\'', f);
}

/* The choices "a|b|c" with spaces instead of bars. */
static void
put_choices(FILE *f, const char *choices)
{
	for (const char *p = choices; *p; p++) {
		fputc(*p == '|' ? ' ' : *p, f);
	}
}

/* Names already written by one generator, so that an option shared by
 * several verbs gets one value case. */
struct seen {
	const char *names[128];
	size_t n;
};

/* Returns true when name was seen before; records it otherwise. */
static bool
seen_before(struct seen *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->names[i], name) == 0) {
			return true;
		}
	}
	if (s->n < sizeof(s->names) / sizeof(s->names[0])) {
		s->names[s->n++] = name;
	}
	return false;
}

static void
bash_opts(FILE *f, const struct cmd *x)
{
	bool first = true;

	FOREACH_OPT(x, a)
	{
		fprintf(f, "%s--%s", first ? "" : " ", a->name);
		first = false;
	}
}

static void
completions_bash(FILE *f)
{
	fprintf(f,
	    "# bash completion for cwtimectl(1).\n"
	    "# Generated by 'cwtimectl --completions bash' from its command "
	    "table; do not edit.\n"
	    "_cwtimectl()\n{\n"
	    "\tlocal cur=${COMP_WORDS[COMP_CWORD]}\n"
	    "\tlocal prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	    "\tlocal i verb='' sub='' opts=''\n"
	    "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	    "\t\tcase ${COMP_WORDS[i]} in\n"
	    "\t\t--socket) ((i++)) ;;\n"
	    "\t\t-*) ;;\n"
	    "\t\t*)\n"
	    "\t\t\tif [[ -z $verb ]]; then verb=${COMP_WORDS[i]}\n"
	    "\t\t\telif [[ -z $sub ]]; then sub=${COMP_WORDS[i]}; fi ;;\n"
	    "\t\tesac\n"
	    "\tdone\n"
	    "\tcase $prev in\n"
	    "\t--socket) mapfile -t COMPREPLY < <(compgen -f -- \"$cur\"); "
	    "return ;;\n");
	/* Options with fixed values complete them; other value options
	 * complete nothing. */
	struct seen seen = {.n = 0};

	FOREACH_CMD(c, x)
	{
		FOREACH_OPT(x, a)
		{
			if (!cmds_arg_has_value(a) ||
			    seen_before(&seen, a->name)) {
				continue;
			}
			fprintf(f, "\t--%s) ", a->name);
			if (a->choices) {
				fprintf(f,
				    "mapfile -t COMPREPLY < <(compgen -W "
				    "'");
				put_choices(f, a->choices);
				fprintf(f, "' -- \"$cur\"); ");
			} else {
				fprintf(f, "COMPREPLY=(); ");
			}
			fprintf(f, "return ;;\n");
		}
	}
	fprintf(f,
	    "\tesac\n"
	    "\tif [[ -z $verb ]]; then\n"
	    "\t\tmapfile -t COMPREPLY < <(compgen -W '");
	for (const struct cmd_arg *a = cmds_global_opts; a->name; a++) {
		fprintf(f, "--%s ", a->name);
	}
	for (const struct cmd *c = cmds_table; c->name; c++) {
		fprintf(f, "%s%s", c->name, c[1].name ? " " : "");
	}
	fprintf(f, "' -- \"$cur\")\n\t\treturn\n\tfi\n\tcase $verb in\n");
	for (const struct cmd *c = cmds_table; c->name; c++) {
		fprintf(f, "\t%s)\n", c->name);
		if (c->subs) {
			fprintf(f,
			    "\t\tif [[ -z $sub && $cur != -* ]]; then\n"
			    "\t\t\tmapfile -t COMPREPLY < <(compgen -W '");
			for (const struct cmd *s = c->subs; s->name; s++) {
				fprintf(
				    f, "%s%s", s->name, s[1].name ? " " : "");
			}
			fprintf(f,
			    "' -- \"$cur\")\n\t\t\treturn\n\t\tfi\n"
			    "\t\tcase $sub in\n");
			for (const struct cmd *s = c->subs; s->name; s++) {
				fprintf(f, "\t\t%s) opts='", s->name);
				bash_opts(f, s);
				fprintf(f, "' ;;\n");
			}
			fprintf(f, "\t\t*) opts='");
			bash_opts(f, c);
			fprintf(f, "' ;;\n\t\tesac\n");
		} else {
			fprintf(f, "\t\topts='");
			bash_opts(f, c);
			fprintf(f, "'\n");
		}
		fprintf(f, "\t\t;;\n");
	}
	fprintf(f,
	    "\tesac\n"
	    "\tif [[ $cur == -* ]]; then\n"
	    "\t\tmapfile -t COMPREPLY < <(compgen -W \"$opts --json "
	    "--help\" -- \"$cur\")\n"
	    "\tfi\n"
	    "}\n"
	    "complete -F _cwtimectl cwtimectl\n");
}

/* zsh's _describe takes "name:description" with ':' escaped. */
static void
zsh_item(FILE *f, const char *name, const char *desc)
{
	char buf[512];
	size_t o = 0;

	for (const char *p = name; *p && o + 3 < sizeof(buf); p++) {
		if (*p == ':') {
			buf[o++] = '\\';
		}
		buf[o++] = *p;
	}
	if (o + 1 < sizeof(buf)) {
		buf[o++] = ':';
	}
	for (const char *p = desc; *p && o + 1 < sizeof(buf); p++) {
		buf[o++] = *p;
	}
	buf[o] = '\0';
	fprintf(f, "\t\t\t");
	squote(f, buf, false);
	fprintf(f, "\n");
}

static void
zsh_opts(FILE *f, const struct cmd *x)
{
	char name[64];

	FOREACH_OPT(x, a)
	{
		snprintf(name, sizeof(name), "--%s", a->name);
		zsh_item(f, name, a->help);
	}
}

static void
completions_zsh(FILE *f)
{
	fprintf(f,
	    "#compdef cwtimectl\n"
	    "# zsh completion for cwtimectl(1).\n"
	    "# Generated by 'cwtimectl --completions zsh' from its command "
	    "table; do not edit.\n"
	    "_cwtimectl() {\n"
	    "\tlocal verb='' sub='' i\n"
	    "\tlocal -a items\n"
	    "\tfor ((i = 2; i < CURRENT; i++)); do\n"
	    "\t\tcase ${words[i]} in\n"
	    "\t\t--socket) ((i++)) ;;\n"
	    "\t\t-*) ;;\n"
	    "\t\t*)\n"
	    "\t\t\tif [[ -z $verb ]]; then verb=${words[i]}\n"
	    "\t\t\telif [[ -z $sub ]]; then sub=${words[i]}; fi ;;\n"
	    "\t\tesac\n"
	    "\tdone\n"
	    "\tcase ${words[CURRENT-1]} in\n"
	    "\t--socket) _files; return ;;\n");
	struct seen seen = {.n = 0};

	FOREACH_CMD(c, x)
	{
		FOREACH_OPT(x, a)
		{
			if (!cmds_arg_has_value(a) ||
			    seen_before(&seen, a->name)) {
				continue;
			}
			fprintf(f, "\t--%s) ", a->name);
			if (a->choices) {
				fprintf(f, "compadd -- ");
				put_choices(f, a->choices);
				fprintf(f, "; ");
			} else {
				fprintf(f, "_message '%s'; ", a->metavar);
			}
			fprintf(f, "return ;;\n");
		}
	}
	fprintf(f,
	    "\tesac\n"
	    "\tif [[ -z $verb ]]; then\n"
	    "\t\tif [[ ${words[CURRENT]} == -* ]]; then\n"
	    "\t\t\titems=(\n");
	for (const struct cmd_arg *a = cmds_global_opts; a->name; a++) {
		char name[64];

		snprintf(name, sizeof(name), "--%s", a->name);
		zsh_item(f, name, a->help);
	}
	fprintf(f,
	    "\t\t\t)\n\t\t\t_describe -t options option items\n"
	    "\t\telse\n\t\t\titems=(\n");
	for (const struct cmd *c = cmds_table; c->name; c++) {
		zsh_item(f, c->name, c->help);
	}
	fprintf(f,
	    "\t\t\t)\n\t\t\t_describe -t commands command items\n"
	    "\t\tfi\n\t\treturn\n\tfi\n"
	    "\tcase $verb in\n");
	for (const struct cmd *c = cmds_table; c->name; c++) {
		fprintf(f, "\t%s)\n", c->name);
		if (c->subs) {
			fprintf(f,
			    "\t\tif [[ -z $sub && ${words[CURRENT]} != -* "
			    "]]; then\n\t\t\titems=(\n");
			for (const struct cmd *s = c->subs; s->name; s++) {
				zsh_item(f, s->name, s->help);
			}
			fprintf(f,
			    "\t\t\t)\n\t\t\t_describe -t commands "
			    "command items\n\t\t\treturn\n\t\tfi\n"
			    "\t\tcase $sub in\n");
			for (const struct cmd *s = c->subs; s->name; s++) {
				fprintf(f, "\t\t%s) items=(\n", s->name);
				zsh_opts(f, s);
				fprintf(f, "\t\t\t) ;;\n");
			}
			fprintf(f, "\t\t*) items=(\n");
			zsh_opts(f, c);
			fprintf(f, "\t\t\t) ;;\n\t\tesac\n");
		} else {
			fprintf(f, "\t\titems=(\n");
			zsh_opts(f, c);
			fprintf(f, "\t\t)\n");
		}
		fprintf(f, "\t\t;;\n");
	}
	fprintf(f,
	    "\tesac\n"
	    "\titems+=('--json:print the reply as JSON' "
	    "'--help:show help for the command')\n"
	    "\tif [[ ${words[CURRENT]} == -* ]]; then\n"
	    "\t\t_describe -t options option items\n"
	    "\tfi\n"
	    "}\n"
	    "_cwtimectl \"$@\"\n");
}

static void
fish_opt(FILE *f, const char *cond, const struct cmd_arg *a)
{
	fprintf(f, "complete -c cwtimectl -n ");
	squote(f, cond, true);
	fprintf(f, " -l %s", a->name);
	if (cmds_arg_has_value(a)) {
		if (strcmp(a->name, "socket") == 0) {
			fprintf(f, " -r -F");
		} else {
			fprintf(f, " -x");
		}
		if (a->choices) {
			fprintf(f, " -a ");
			fputc('\'', f);
			put_choices(f, a->choices);
			fputc('\'', f);
		}
	}
	fprintf(f, " -d ");
	squote(f, a->help, true);
	fprintf(f, "\n");
}

static void
completions_fish(FILE *f)
{
	char cond[512];
	size_t off;

	fprintf(f,
	    "# fish completion for cwtimectl(1).\n"
	    "# Generated by 'cwtimectl --completions fish' from its "
	    "command table; do not edit.\n"
	    "complete -c cwtimectl -f\n");
	for (const struct cmd_arg *a = cmds_global_opts; a->name; a++) {
		fish_opt(f, "true", a);
	}
	for (const struct cmd *c = cmds_table; c->name; c++) {
		fprintf(f,
		    "complete -c cwtimectl -n __fish_use_subcommand "
		    "-a %s -d ",
		    c->name);
		squote(f, c->help, true);
		fprintf(f, "\n");
	}
	for (const struct cmd *c = cmds_table; c->name; c++) {
		snprintf(cond, sizeof(cond), "__fish_seen_subcommand_from %s",
		    c->name);
		FOREACH_OPT(c, a)
		{
			fish_opt(f, cond, a);
		}
		if (!c->subs) {
			continue;
		}
		off = (size_t) snprintf(cond, sizeof(cond),
		    "__fish_seen_subcommand_from %s; and not "
		    "__fish_seen_subcommand_from",
		    c->name);
		for (const struct cmd *s = c->subs; s->name; s++) {
			off += (size_t) snprintf(
			    cond + off, sizeof(cond) - off, " %s", s->name);
		}
		for (const struct cmd *s = c->subs; s->name; s++) {
			fprintf(f, "complete -c cwtimectl -n ");
			squote(f, cond, true);
			fprintf(f, " -a %s -d ", s->name);
			squote(f, s->help, true);
			fprintf(f, "\n");
		}
		for (const struct cmd *s = c->subs; s->name; s++) {
			char sc[256];

			snprintf(sc, sizeof(sc),
			    "__fish_seen_subcommand_from %s; and "
			    "__fish_seen_subcommand_from %s",
			    c->name, s->name);
			FOREACH_OPT(s, a)
			{
				fish_opt(f, sc, a);
			}
		}
	}
}

int
docgen_completions(FILE *f, const char *shell)
{
	if (strcmp(shell, "bash") == 0) {
		completions_bash(f);
	} else if (strcmp(shell, "zsh") == 0) {
		completions_zsh(f);
	} else if (strcmp(shell, "fish") == 0) {
		completions_fish(f);
	} else {
		return -EINVAL;
	}
	return 0;
}
