/*
 * cmd-sheet.h - the time sheet commands passed through to ConnectWise:
 * sheets, sheet.show, sheet.submit, sheet.approve, sheet.reject,
 * sheet.reverse.
 */
#pragma once

#include "daemon/commands.h"

extern const struct cmd_table cmd_sheet_table;
