/*
 * jsonutil.c - typed member access and checked adds for json-c objects.
 *
 * Job: the one copy of the little helpers that tracker, outbox, session,
 * submitter and the client each used to write out (read "an integer
 * member", "a string member", ...; add a new value without leaking it).
 *
 * Invariants (jsonutil.h has the full contract):
 *  - every getter goes through json_object_object_get_ex, which fails for
 *    a NULL or non-object o, so no getter needs its own NULL check;
 *  - "present" is json_object_object_get_ex's answer, which is true for a
 *    JSON null member (stored as NULL): an opt getter therefore rejects
 *    null rather than treating it as absent;
 *  - a failing getter never writes *ret.
 * Never logs.
 */
#include "common/jsonutil.h"

#include <errno.h>

/* The member of type t, or NULL. */
static json_object *
member_of_type(json_object *o, const char *key, enum json_type t)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, t)) {
		return NULL;
	}
	return v;
}

json_object *
jsonutil_get(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v)) {
		return NULL;
	}
	return v;
}

bool
jsonutil_has(json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

bool
jsonutil_get_i64(json_object *o, const char *key, int64_t *ret)
{
	json_object *v = member_of_type(o, key, json_type_int);

	if (!v) {
		return false;
	}
	*ret = json_object_get_int64(v);
	return true;
}

bool
jsonutil_get_str(json_object *o, const char *key, const char **ret)
{
	json_object *v = member_of_type(o, key, json_type_string);

	if (!v) {
		return false;
	}
	*ret = json_object_get_string(v);
	return true;
}

const char *
jsonutil_str(json_object *o, const char *key)
{
	const char *s = NULL;

	(void) jsonutil_get_str(o, key, &s);
	return s;
}

bool
jsonutil_get_num(json_object *o, const char *key, double *ret)
{
	json_object *v = jsonutil_get(o, key);

	if (!v || (!json_object_is_type(v, json_type_int) &&
		      !json_object_is_type(v, json_type_double))) {
		return false;
	}
	*ret = json_object_get_double(v);
	return true;
}

json_object *
jsonutil_get_array(json_object *o, const char *key)
{
	return member_of_type(o, key, json_type_array);
}

bool
jsonutil_is_true(json_object *o, const char *key)
{
	json_object *v = member_of_type(o, key, json_type_boolean);

	return v && json_object_get_boolean(v);
}

bool
jsonutil_opt_i64(json_object *o, const char *key, int64_t *ret)
{
	return !jsonutil_has(o, key) || jsonutil_get_i64(o, key, ret);
}

bool
jsonutil_opt_bool(json_object *o, const char *key, bool *ret)
{
	json_object *v;

	if (!jsonutil_has(o, key)) {
		return true;
	}
	v = member_of_type(o, key, json_type_boolean);
	if (!v) {
		return false;
	}
	*ret = json_object_get_boolean(v);
	return true;
}

bool
jsonutil_opt_str(json_object *o, const char *key, const char **ret)
{
	return !jsonutil_has(o, key) || jsonutil_get_str(o, key, ret);
}

int
jsonutil_add(json_object *o, const char *key, json_object *v)
{
	if (!v) {
		return -ENOMEM;
	}
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int
jsonutil_push(json_object *a, json_object *v)
{
	if (!v) {
		return -ENOMEM;
	}
	if (json_object_array_add(a, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}
