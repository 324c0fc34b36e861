/*
 * jsonutil.h - small typed accessors for json-c objects: read a member of
 * a given type, add or append a new value. Shared by core, daemon and
 * client so that each file does not carry its own copy.
 *
 * Semantics common to every getter:
 *  - a member is "present" when the object has the key, even when its
 *    value is JSON null (json-c stores null as a NULL member);
 *  - a getter succeeds only when the member is present AND of the type
 *    named; a missing key, a member of another type (null included) and
 *    an o that is NULL or not an object all fail the same way, and a
 *    failing getter leaves *ret unchanged;
 *  - integers are json-c's json_type_int only: a double such as 1.0 or a
 *    string such as "1" is not an integer. An integer literal outside
 *    int64_t still parses as json_type_int and reads saturated, as
 *    json_object_get_int64 returns it: INT64_MAX above, INT64_MIN below;
 *  - returned pointers are borrowed from o and live only as long as o
 *    (json_object_get to keep one longer).
 * The "opt" getters are for optional members that must have the right
 * type when present: they succeed when the key is absent (leaving *ret
 * unchanged, so the caller sets the default first) and fail only for a
 * member of another type, null included.
 * Pure functions of their arguments; nothing here logs.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

/* The member key of o (any type), or NULL when absent, null, or o is NULL
 * or not an object. */
json_object *jsonutil_get(json_object *o, const char *key);

/* true when o has key, whatever its value (null included). */
bool jsonutil_has(json_object *o, const char *key);

/* An integer member: true and *ret set, or false (*ret unchanged). */
bool jsonutil_get_i64(json_object *o, const char *key, int64_t *ret);

/* A string member: true and *ret set (borrowed), or false. */
bool jsonutil_get_str(json_object *o, const char *key, const char **ret);

/* The same test as jsonutil_get_str, for use inside an expression: the
 * string (borrowed), or NULL. */
const char *jsonutil_str(json_object *o, const char *key);

/* A number member, an integer or a double: true and *ret set (an integer
 * converted to double), or false. */
bool jsonutil_get_num(json_object *o, const char *key, double *ret);

/* An array member (borrowed), or NULL. */
json_object *jsonutil_get_array(json_object *o, const char *key);

/* true only when the member is present, a boolean, and true: missing,
 * null, false and any other type all read as false. */
bool jsonutil_is_true(json_object *o, const char *key);

/* Optional typed members: true when key is absent (*ret unchanged) or of
 * the type (*ret set); false when present with another type or null. */
bool jsonutil_opt_i64(json_object *o, const char *key, int64_t *ret);
bool jsonutil_opt_bool(json_object *o, const char *key, bool *ret);
bool jsonutil_opt_str(json_object *o, const char *key, const char **ret);

/* Adds v to object o under key, taking v's reference (a previous value
 * of key is released). Returns 0, or -ENOMEM when v is NULL (a failed
 * json_object_new_*, so that calls can be chained without checking each
 * constructor) or json-c could not add it; v is released on failure, so
 * it never leaks. o must be an object. */
int jsonutil_add(json_object *o, const char *key, json_object *v);

/* Appends v to array a, with jsonutil_add's ownership and errors. a must
 * be an array. */
int jsonutil_push(json_object *a, json_object *v);
