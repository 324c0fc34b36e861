/*
 * proto.c - parse request lines and build reply, error and event lines.
 *
 * The parser sees hostile bytes (it is fuzzed by tests/fuzz/fuzz-ipc.c):
 * the length is checked before anything is parsed, the tokener is depth
 * limited, strict and UTF-8 validating, and the whole line must be one
 * JSON object with nothing after it. Every failure is a specific errcode
 * with a short message that never echoes the input back.
 *
 * Must never: allocate a size taken from the input, use
 * json_tokener_parse(), log, or keep a borrowed json-c pointer past its
 * parent.
 */
#include "common/proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

static int
parse_object(const char *line, size_t len, json_object **ret,
    struct errbuf *reterr)
{
	struct json_tokener *tok;
	json_object *o;
	enum json_tokener_error jerr;
	size_t end;

	if (len > 0 && line[len - 1] == '\r') {
		len--;
	}
	if (len + 1 > PROTO_LINE_MAX) {
		return errbuf_set(reterr, ERR_LINE_TOO_LONG, -E2BIG,
		    "request line longer than %d bytes", PROTO_LINE_MAX);
	}
	if (memchr(line, '\0', len)) {
		return errbuf_set(reterr, ERR_BAD_REQUEST, -EBADMSG,
		    "NUL byte in the line");
	}
	/* json-c's length argument is an int; PROTO_LINE_MAX keeps it far
	 * below INT_MAX. */
	tok = json_tokener_new_ex(PROTO_JSON_DEPTH);
	if (!tok) {
		return errbuf_set(reterr, ERR_INTERNAL, -ENOMEM, "out of memory");
	}
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, line, (int) len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!o && jerr == json_tokener_continue) {
		/* The line ended inside a value: feed the end marker so the
		 * tokener finishes a bare number or reports truncation. */
		o = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	if (!o || jerr != json_tokener_success) {
		int r = errbuf_set(reterr, ERR_BAD_REQUEST, -EBADMSG,
		    "malformed JSON: %s",
		    jerr == json_tokener_continue ? "unexpected end of line" :
		    jerr == json_tokener_error_depth ?
		    "nested deeper than allowed" :
		    json_tokener_error_desc(jerr));

		if (o) {
			json_object_put(o);
		}
		json_tokener_free(tok);
		return r;
	}
	json_tokener_free(tok);
	for (size_t i = end; i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t') {
			json_object_put(o);
			return errbuf_set(reterr, ERR_BAD_REQUEST, -EBADMSG,
			    "text after the JSON object");
		}
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return errbuf_set(reterr, ERR_BAD_REQUEST, -EBADMSG,
		    "the line is not a JSON object");
	}
	*ret = o;
	return 0;
}

int
proto_parse_object(const char *line, size_t len, json_object **ret,
    struct errbuf *reterr)
{
	return parse_object(line, len, ret, reterr);
}

/* An integer JSON value that fits int64_t (json-c keeps larger positive
 * ones as uint64 and would clamp them silently). */
static bool
get_int64(json_object *v, int64_t *ret)
{
	int64_t i;

	if (!json_object_is_type(v, json_type_int)) {
		return false;
	}
	i = json_object_get_int64(v);
	if (i == INT64_MAX && json_object_get_uint64(v) != (uint64_t) INT64_MAX) {
		return false;
	}
	*ret = i;
	return true;
}

static bool
cmd_name_valid(const char *s, size_t len)
{
	if (len == 0 || len >= PROTO_CMD_MAX) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		/* '.' joins a verb and its sub-verb: "queue.retry". */
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_' || c == '.')) {
			return false;
		}
	}
	return true;
}

int
proto_request_parse(const char *line, size_t len, struct proto_request *ret,
    struct errbuf *reterr)
{
	CLEANUP_JSON json_object *root = NULL;
	json_object *v, *id, *cmd, *args;
	int64_t n;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = parse_object(line, len, &root, reterr);
	if (r < 0) {
		return r;
	}
	if (json_object_object_get_ex(root, "id", &id)) {
		if (!get_int64(id, &n)) {
			r = errbuf_set(reterr, ERR_BAD_REQUEST, -EBADMSG,
			    "\"id\" must be an integer");
			errbuf_set_field(reterr, "id");
			return r;
		}
		ret->id = n;
		ret->has_id = true;
	}
	if (!json_object_object_get_ex(root, "v", &v)) {
		r = errbuf_set(reterr, ERR_BAD_REQUEST, -EBADMSG,
		    "missing protocol version \"v\"");
		errbuf_set_field(reterr, "v");
		return r;
	}
	if (!get_int64(v, &n)) {
		r = errbuf_set(reterr, ERR_BAD_REQUEST, -EBADMSG,
		    "\"v\" must be an integer");
		errbuf_set_field(reterr, "v");
		return r;
	}
	if (n != PROTO_VERSION) {
		r = errbuf_set(reterr, ERR_PROTOCOL_VERSION, -EPROTO,
		    "protocol version %" PRId64 " is not supported; cwtimed "
		    "speaks version %d", n, PROTO_VERSION);
		errbuf_set_field(reterr, "v");
		return r;
	}
	if (!ret->has_id) {
		r = errbuf_set(reterr, ERR_BAD_REQUEST, -EBADMSG,
		    "missing request \"id\"");
		errbuf_set_field(reterr, "id");
		return r;
	}
	if (!json_object_object_get_ex(root, "cmd", &cmd) ||
	    !json_object_is_type(cmd, json_type_string)) {
		r = errbuf_set(reterr, ERR_BAD_REQUEST, -EBADMSG,
		    "\"cmd\" must be a string");
		errbuf_set_field(reterr, "cmd");
		return r;
	}
	if (!cmd_name_valid(json_object_get_string(cmd),
		(size_t) json_object_get_string_len(cmd))) {
		r = errbuf_set(reterr, ERR_UNKNOWN_COMMAND, -EBADMSG,
		    "invalid command name");
		errbuf_set_field(reterr, "cmd");
		return r;
	}
	json_object_object_foreach(root, key, val)
	{
		(void) val;
		if (strcmp(key, "v") != 0 && strcmp(key, "id") != 0 &&
		    strcmp(key, "cmd") != 0 && strcmp(key, "args") != 0) {
			r = errbuf_set(reterr, ERR_BAD_REQUEST, -EBADMSG,
			    "unknown member in the request");
			errbuf_set_field(reterr, key);
			return r;
		}
	}
	if (json_object_object_get_ex(root, "args", &args)) {
		if (!json_object_is_type(args, json_type_object)) {
			r = errbuf_set(reterr, ERR_BAD_REQUEST, -EBADMSG,
			    "\"args\" must be an object");
			errbuf_set_field(reterr, "args");
			return r;
		}
	} else {
		args = json_object_new_object();
		if (!args || json_object_object_add(root, "args", args) < 0) {
			json_object_put(args);
			return errbuf_set(reterr, ERR_INTERNAL, -ENOMEM,
			    "out of memory");
		}
	}
	snprintf(ret->cmd, sizeof(ret->cmd), "%s", json_object_get_string(cmd));
	ret->args = args;
	ret->root = TAKE_PTR(root);
	return 0;
}

void
proto_request_fini(struct proto_request *req)
{
	if (!req) {
		return;
	}
	if (req->root) {
		json_object_put(req->root);
	}
	req->root = NULL;
	req->args = NULL;
}

/* Serialises o plus a newline into a new buffer. */
static int
finish_line(json_object *o, char **ret, size_t *ret_len)
{
	const char *s;
	size_t len;
	char *line;

	s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s) {
		return -ENOMEM;
	}
	len = strlen(s);
	if (len + 1 > PROTO_LINE_MAX) {
		return -E2BIG;
	}
	line = malloc(len + 2);
	if (!line) {
		return -ENOMEM;
	}
	memcpy(line, s, len);
	line[len] = '\n';
	line[len + 1] = '\0';
	*ret = line;
	if (ret_len) {
		*ret_len = len + 1;
	}
	return 0;
}

/* Adds key -> val to o, taking val; false on allocation failure. */
static bool
add(json_object *o, const char *key, json_object *val)
{
	if (!val) {
		return false;
	}
	if (json_object_object_add(o, key, val) < 0) {
		json_object_put(val);
		return false;
	}
	return true;
}

static json_object *
new_head(int64_t id, bool has_id, bool with_id)
{
	json_object *o = json_object_new_object();

	if (!o) {
		return NULL;
	}
	if (!add(o, "v", json_object_new_int(PROTO_VERSION))) {
		json_object_put(o);
		return NULL;
	}
	if (with_id) {
		/* json_object_object_add accepts NULL as JSON null. */
		if (json_object_object_add(o, "id",
			has_id ? json_object_new_int64(id) : NULL) < 0) {
			json_object_put(o);
			return NULL;
		}
	}
	return o;
}

static json_object *
borrow_or_empty(json_object *x)
{
	return x ? json_object_get(x) : json_object_new_object();
}

int
proto_build_reply(int64_t id, bool has_id, json_object *result, char **ret,
    size_t *ret_len)
{
	CLEANUP_JSON json_object *o = new_head(id, has_id, true);

	if (!o || !add(o, "ok", json_object_new_boolean(1)) ||
	    !add(o, "result", borrow_or_empty(result))) {
		return -ENOMEM;
	}
	return finish_line(o, ret, ret_len);
}

int
proto_build_error(int64_t id, bool has_id, const struct errbuf *e, char **ret,
    size_t *ret_len)
{
	CLEANUP_JSON json_object *o = new_head(id, has_id, true);
	json_object *err;
	enum errcode code = e ? e->code : ERR_INTERNAL;
	const char *msg;

	if (code == ERR_OK) {
		code = ERR_INTERNAL; /* an error reply always names a failure */
	}
	msg = (e && e->msg[0]) ? e->msg : errcode_message(code);
	err = json_object_new_object();
	if (!o || !add(o, "ok", json_object_new_boolean(0)) ||
	    !add(o, "error", err)) {
		return -ENOMEM;
	}
	if (!add(err, "code", json_object_new_string(errcode_name(code))) ||
	    !add(err, "message", json_object_new_string(msg))) {
		return -ENOMEM;
	}
	if (e && e->field[0] &&
	    !add(err, "field", json_object_new_string(e->field))) {
		return -ENOMEM;
	}
	return finish_line(o, ret, ret_len);
}

int
proto_build_event(const char *name, uint64_t seq, json_object *data,
    char **ret, size_t *ret_len)
{
	CLEANUP_JSON json_object *o = new_head(0, false, false);

	if (!o || !add(o, "event", json_object_new_string(name)) ||
	    !add(o, "seq", json_object_new_uint64(seq)) ||
	    !add(o, "data", borrow_or_empty(data))) {
		return -ENOMEM;
	}
	return finish_line(o, ret, ret_len);
}

int
proto_build_request(int64_t id, const char *cmd, json_object *args,
    char **ret, size_t *ret_len)
{
	CLEANUP_JSON json_object *o = new_head(id, true, true);

	if (!o || !add(o, "cmd", json_object_new_string(cmd))) {
		return -ENOMEM;
	}
	if (args && !add(o, "args", json_object_get(args))) {
		return -ENOMEM;
	}
	return finish_line(o, ret, ret_len);
}
