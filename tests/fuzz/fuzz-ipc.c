/*
 * fuzz-ipc.c - the IPC request parser and the checks that run before a
 * handler: the input is split into lines as the daemon splits them (at
 * '\n', at most PROTO_LINE_MAX bytes each), every line goes through
 * proto_request_parse(), the command lookup and the parameter checks, and
 * the reply or error line built for it must be exactly one line that
 * parses back as a JSON object. Any crash, leak or broken invariant is a
 * finding.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/errcode.h"
#include "common/proto.h"
#include "daemon/commands.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_line(const char *line, size_t len)
{
	json_object *back = NULL;
	struct errbuf e;

	/* one line: the only '\n' is the last byte */
	if (len == 0 || line[len - 1] != '\n' ||
	    memchr(line, '\n', len - 1) != NULL) {
		abort();
	}
	if (proto_parse_object(line, len - 1, &back, &e) < 0) {
		abort();
	}
	json_object_put(back);
}

static void
one_line(const char *p, size_t len)
{
	struct proto_request req;
	struct errbuf e;
	char *out = NULL;
	size_t out_len = 0;
	int r;

	errbuf_clear(&e);
	r = proto_request_parse(p, len, &req, &e);
	if (r == 0) {
		const struct cmd *cmd = commands_find(req.cmd);

		if (cmd) {
			r = commands_check_params(cmd->params, req.args, &e);
		} else {
			r = errbuf_set(&e, ERR_UNKNOWN_COMMAND, -ENOENT,
			    "unknown command '%s'", req.cmd);
		}
		if (r == 0) {
			/* echo the args back as a result: any value the
			 * parser accepted must serialise within the limit or
			 * be refused with -E2BIG, never overflow */
			r = proto_build_reply(req.id, req.has_id, req.args, &out,
			    &out_len);
			if (r == 0) {
				check_line(out, out_len);
			} else if (r != -E2BIG && r != -ENOMEM) {
				abort();
			}
			free(out);
			out = NULL;
		}
	}
	if (r < 0) {
		if (e.code == ERR_OK || e.msg[0] == '\0') {
			abort(); /* every failure names a code and a reason */
		}
		if (proto_build_error(req.id, req.has_id, &e, &out,
			&out_len) == 0) {
			check_line(out, out_len);
		}
		free(out);
	}
	proto_request_fini(&req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *) data;
	size_t start = 0;

	(void) commands_init(NULL);
	while (start < size) {
		const char *nl = memchr(p + start, '\n', size - start);
		size_t len = nl ? (size_t) (nl - (p + start)) : size - start;

		if (len > PROTO_LINE_MAX) {
			/* the daemon refuses it before parsing; so must the
			 * parser if it ever saw it */
			struct proto_request req;
			struct errbuf e;

			if (proto_request_parse(p + start, len, &req, &e) != -E2BIG ||
			    e.code != ERR_LINE_TOO_LONG) {
				abort();
			}
		} else if (len > 0) {
			one_line(p + start, len);
		}
		start += len + 1;
	}
	return 0;
}
