/*
 * errcode.c - the table of stable user-facing error codes.
 *
 * Invariant: a code's number, name and exit status never change once
 * released; new codes are appended.
 */
#include "common/errcode.h"

#include <stdio.h>
#include <string.h>

struct errcode_info {
	const char *name;
	int status;
	const char *msg;
};

static const struct errcode_info errcodes[ERR_COUNT] = {
#define ERRCODE_INFO(sym, num, nm, st, m) [num] = { nm, st, m },
	ERRCODE_TABLE(ERRCODE_INFO)
#undef ERRCODE_INFO
};

static const struct errcode_info *
info(enum errcode code)
{
	if ((int) code < 0 || code >= ERR_COUNT || !errcodes[code].name) {
		return &errcodes[ERR_INTERNAL];
	}
	return &errcodes[code];
}

const char *
errcode_name(enum errcode code)
{
	return info(code)->name;
}

const char *
errcode_message(enum errcode code)
{
	return info(code)->msg;
}

int
errcode_exit_status(enum errcode code)
{
	return info(code)->status;
}

enum errcode
errcode_from_name(const char *name, int *found)
{
	for (int i = 0; i < ERR_COUNT; i++) {
		if (errcodes[i].name && name && strcmp(errcodes[i].name, name) == 0) {
			if (found) {
				*found = 1;
			}
			return (enum errcode) i;
		}
	}
	if (found) {
		*found = 0;
	}
	return ERR_INTERNAL;
}

int
errbuf_set(struct errbuf *reterr, enum errcode code, int r, const char *fmt,
    ...)
{
	va_list ap;

	if (!reterr) {
		return r;
	}
	reterr->code = code;
	reterr->field[0] = '\0';
	if (!fmt || !fmt[0]) {
		snprintf(reterr->msg, sizeof(reterr->msg), "%s",
		    errcode_message(code));
		return r;
	}
	va_start(ap, fmt);
	vsnprintf(reterr->msg, sizeof(reterr->msg), fmt, ap);
	va_end(ap);
	return r;
}

void
errbuf_set_field(struct errbuf *reterr, const char *field)
{
	if (reterr) {
		snprintf(reterr->field, sizeof(reterr->field), "%s",
		    field ? field : "");
	}
}

void
errbuf_clear(struct errbuf *e)
{
	if (e) {
		e->code = ERR_OK;
		e->msg[0] = '\0';
		e->field[0] = '\0';
	}
}
