/*
 * jsonparse.h - a fast parser for the plain JSON that cwtimed itself
 * writes (journal payloads), producing the same json-c objects that
 * json_tokener would, or declining so that the caller uses json_tokener.
 */
#pragma once

#include <stddef.h>

#include <json-c/json.h>

/* Parses text[0..len) as exactly one JSON object filling all len bytes.
 * Returns 0 and a new object in *ret (the caller owns it), -ENOMEM, or
 * -ENOTSUP when the text is anything but the plain subset this parser
 * handles (leading or trailing bytes, \u escapes, control bytes, numbers
 * other than integers of up to 18 digits without leading zeros or "-0",
 * literals other than lowercase true/false/null, comments, more than
 * max_depth nested containers, malformed input): the caller must then
 * parse it with json_tokener, which decides. Never rejects on its own,
 * so it can never accept less than json_tokener does; when it accepts,
 * the result equals json_tokener's (same types, values, key order and
 * duplicate-key handling). Object keys are interned in a small
 * process-wide table (added with JSON_C_OBJECT_KEY_IS_CONSTANT), so
 * objects may outlive any buffer; thread-safe. Pure, does not log. */
int jsonparse_object(const char *text, size_t len, int max_depth,
    json_object **ret);
