/*
 * print-entries.h - human tables for the ConnectWise pass-through
 * replies (entries, sheet show, sheets, worktypes, roles, codes, and the
 * per-id results of approve, reject and sheet actions), and flush's
 * per-entry report.
 */
#pragma once

#include <json-c/json.h>

/* A new string with the table for the reply to the wire command wire,
 * or NULL when wire has no table (or on ENOMEM): then use the generic
 * printer. Reads the TZ for local times; never prints. */
char *print_entries_result(const char *wire, json_object *result);
