/*
 * docgen.h - text generated from the verb table: help, shell completions
 * and the COMMANDS section of cwtimectl(1).
 *
 * All of them walk cmds_table, so a verb or option added to the table
 * appears everywhere at once; nothing here is kept in step by hand.
 */
#pragma once

#include <stdio.h>

struct cmd;

/* `cwtimectl help`: usage, every verb with its usage and help line, and
 * the global options. */
void docgen_help_all(FILE *f);

/* `cwtimectl help VERB`: usage, description, arguments and options (and
 * the sub-verbs of a group). */
void docgen_help_cmd(FILE *f, const struct cmd *c);

/* The scdoc source of the COMMANDS section (without its heading). */
void docgen_man_commands(FILE *f);

/* A completion script for shell "bash", "zsh" or "fish". Returns 0, or
 * -EINVAL for another shell. */
int docgen_completions(FILE *f, const char *shell);
