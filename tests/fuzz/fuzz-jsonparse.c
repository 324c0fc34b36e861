/*
 * fuzz-jsonparse.c - the journal's fast JSON path (src/common/jsonparse.c)
 * against json_tokener on arbitrary bytes.
 *
 * Properties checked beyond "no crash, no leak": the fast path either
 * declines (-ENOTSUP) or returns an object that json_tokener, under the
 * journal's rules (depth 32, the whole input, an object), also returns,
 * and the two trees are equal (json_object_equal, and the same plain
 * serialisation, which also compares key order and int vs double).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/jsonparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_object *
tokener_parse(const char *text, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	json_object *o;

	if (!tok) {
		abort();
	}
	o = json_tokener_parse_ex(tok, text, (int) len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *fast = NULL, *ref;
	int r;

	if (size > 65536) {
		return 0;
	}
	r = jsonparse_object((const char *) data, size, 16, &fast);
	if (r == -ENOTSUP) {
		return 0;
	}
	if (r != 0) {
		abort(); /* -ENOMEM: not on this scale */
	}
	ref = tokener_parse((const char *) data, size);
	if (!ref || !json_object_equal(fast, ref) ||
	    strcmp(json_object_to_json_string_ext(fast,
		       JSON_C_TO_STRING_PLAIN),
		json_object_to_json_string_ext(ref,
		    JSON_C_TO_STRING_PLAIN)) != 0) {
		abort();
	}
	json_object_put(fast);
	json_object_put(ref);
	return 0;
}
