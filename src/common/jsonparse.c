/*
 * jsonparse.c - a fast path for parsing journal payloads into json-c
 * objects.
 *
 * Why: replay parses one JSON object per record, and json_tokener costs
 * far more than the objects it builds (a character-at-a-time state
 * machine, a locale switch with newlocale/duplocale on every call, a new
 * tokener, strtoull, and a strdup for every key). This parser handles
 * the plain JSON that json_object_to_json_string writes and declines
 * (-ENOTSUP) everything else, so that the caller falls back to
 * json_tokener, which then accepts or rejects exactly as before.
 *
 * Invariants:
 * - Never rejects: every input it does not fully understand is declined,
 *   so what replay accepts and refuses is still decided by json_tokener
 *   (including damage: a malformed payload is declined, then refused by
 *   json_tokener).
 * - Whatever it accepts, json_tokener accepts too and builds an equal
 *   tree: int64 for integers of at most 18 digits (json_tokener also
 *   uses int64 for those), strings byte for byte (no UTF-8 checks, as
 *   json_tokener without JSON_TOKENER_VALIDATE_UTF8), keys added with
 *   json_object_object_add's replace-the-value rule for duplicates.
 *   tests/unit/test-jsonparse.c checks this against json_tokener.
 * - Object keys come from the intern table: NUL-terminated copies in a
 *   static arena that is never freed or changed once published, so the
 *   objects can be added with JSON_C_OBJECT_KEY_IS_CONSTANT (no strdup,
 *   no free) and may live as long as the process. Insertion is lock-free
 *   (C11 atomics); a full table or a long key falls back to a copied key.
 * - Recursion is bounded by max_depth.
 */
#include "common/jsonparse.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define INTERN_SLOTS 1024u     /* a power of two */
#define INTERN_PROBES 8
#define INTERN_ARENA (16u * 1024u)
#define INTERN_KEY_MAX 32u     /* longer keys are copied per object */
#define INT_DIGITS_MAX 18      /* below INT64_MAX: no overflow check */
#define SEEN_MAX 32            /* keys tracked per object (struct seen) */

static _Atomic(const char *) intern_slots[INTERN_SLOTS];
static char intern_arena[INTERN_ARENA];
static atomic_size_t intern_used;

struct jp {
	const char *p;
	const char *end;
	int max_depth;
};

/* ---- the key intern table ---- */

static uint32_t
key_hash(const char *k, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		h = (h ^ (uint8_t) k[i]) * 16777619u;
	}
	return h;
}

static bool
key_equal(const char *s, const char *k, size_t n)
{
	return memcmp(s, k, n) == 0 && s[n] == '\0';
}

/* The interned, NUL-terminated copy of k[0..n), or NULL when the key is
 * too long or the table is full. k holds no NUL byte. */
static const char *
intern(const char *k, size_t n)
{
	uint32_t h;

	if (n > INTERN_KEY_MAX) {
		return NULL;
	}
	h = key_hash(k, n);
	for (unsigned i = 0; i < INTERN_PROBES; i++) {
		_Atomic(const char *) *slot =
		    &intern_slots[(h + i) & (INTERN_SLOTS - 1)];
		const char *s = atomic_load_explicit(slot, memory_order_acquire);
		size_t off;
		char *copy;

		if (s) {
			if (key_equal(s, k, n)) {
				return s;
			}
			continue;
		}
		off = atomic_fetch_add_explicit(&intern_used, n + 1,
		    memory_order_relaxed);
		if (off > INTERN_ARENA || INTERN_ARENA - off < n + 1) {
			return NULL; /* full: those bytes stay unused */
		}
		copy = intern_arena + off;
		memcpy(copy, k, n);
		copy[n] = '\0';
		/* Publish the copy (release: its bytes are visible first).
		 * Another thread may have filled the slot meanwhile: then
		 * its key is checked, and our copy is simply never used. */
		if (atomic_compare_exchange_strong_explicit(slot, &s, copy,
			memory_order_release, memory_order_acquire)) {
			return copy;
		}
		if (key_equal(s, k, n)) {
			return s;
		}
	}
	return NULL;
}

/* ---- the parser ---- */

static int parse_value(struct jp *jp, int depth, json_object **ret);

static void
skip_ws(struct jp *jp)
{
	/* Only JSON's four: json_tokener also skips \v and \f, which
	 * then reach a parse step here and are declined. */
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\n' ||
	    *jp->p == '\r' || *jp->p == '\t')) {
		jp->p++;
	}
}

/* At a '"': the string's bytes in *ret_s and *ret_n, pointing into the text
 * when it has no escapes, else into *ret_owned (malloc'd, decoded). */
static int
parse_string(struct jp *jp, const char **ret_s, size_t *ret_n,
    char **ret_owned)
{
	const char *start = jp->p + 1, *q = start;
	char *buf, *w;

	while (q < jp->end && *q != '"' && *q != '\\' &&
	    (unsigned char) *q >= 0x20) {
		q++;
	}
	if (q >= jp->end || (unsigned char) *q < 0x20) {
		return -ENOTSUP;
	}
	if (*q == '"') {
		*ret_s = start;
		*ret_n = (size_t) (q - start);
		*ret_owned = NULL;
		jp->p = q + 1;
		return 0;
	}
	/* Escapes: decode the simple ones; \u and anything else decline. */
	buf = malloc((size_t) (jp->end - start));
	if (!buf) {
		return -ENOMEM;
	}
	memcpy(buf, start, (size_t) (q - start));
	w = buf + (q - start);
	while (q < jp->end && *q != '"') {
		unsigned char c = (unsigned char) *q;

		if (c < 0x20) {
			free(buf);
			return -ENOTSUP;
		}
		if (c != '\\') {
			*w++ = (char) c;
			q++;
			continue;
		}
		if (q + 1 >= jp->end) {
			break;
		}
		switch (q[1]) {
		case '"':
		case '\\':
		case '/':
			*w++ = q[1];
			break;
		case 'b':
			*w++ = '\b';
			break;
		case 'f':
			*w++ = '\f';
			break;
		case 'n':
			*w++ = '\n';
			break;
		case 'r':
			*w++ = '\r';
			break;
		case 't':
			*w++ = '\t';
			break;
		default:
			free(buf);
			return -ENOTSUP;
		}
		q += 2;
	}
	if (q >= jp->end) {
		free(buf);
		return -ENOTSUP;
	}
	*ret_s = buf;
	*ret_n = (size_t) (w - buf);
	*ret_owned = buf;
	jp->p = q + 1;
	return 0;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
parse_int(struct jp *jp, json_object **ret)
{
	const char *q = jp->p;
	bool neg = false;
	int64_t v = 0;
	int digits = 0;

	if (*q == '-') {
		neg = true;
		q++;
	}
	if (q >= jp->end || !is_digit(*q)) {
		return -ENOTSUP;
	}
	if (*q == '0') {
		/* "0" alone; "-0" (json_tokener keeps its sign as a
		 * double) and leading zeros decline. */
		q++;
		if (neg || (q < jp->end && is_digit(*q))) {
			return -ENOTSUP;
		}
	} else {
		while (q < jp->end && is_digit(*q)) {
			if (++digits > INT_DIGITS_MAX) {
				return -ENOTSUP;
			}
			v = v * 10 + (*q - '0');
			q++;
		}
	}
	if (q < jp->end && (*q == '.' || *q == 'e' || *q == 'E')) {
		return -ENOTSUP; /* a double: json_tokener keeps its text */
	}
	*ret = json_object_new_int64(neg ? -v : v);
	if (!*ret) {
		return -ENOMEM;
	}
	jp->p = q;
	return 0;
}

static bool
literal(struct jp *jp, const char *word, size_t n)
{
	if ((size_t) (jp->end - jp->p) < n || memcmp(jp->p, word, n) != 0) {
		return false;
	}
	jp->p += n;
	return true;
}

/* The interned keys an object got so far: an interned key is new to
 * the object when its pointer is not among them (equal strings intern
 * to the same pointer, and a string that failed to intern once always
 * fails), which spares json-c's lookup by string. */
struct seen {
	const char *keys[SEEN_MAX];
	size_t n;
};

/* Adds v under k[0..n) the way json_tokener does (a duplicate replaces
 * the earlier value in place). Takes v in every case. */
static int
object_put(json_object *o, struct seen *seen, const char *k, size_t n,
    json_object *v)
{
	const char *ik = intern(k, n);
	int r;

	if (ik) {
		unsigned opts = JSON_C_OBJECT_KEY_IS_CONSTANT;
		bool dup = seen->n == SEEN_MAX; /* unknown: let json-c look */

		for (size_t i = 0; i < seen->n && !dup; i++) {
			dup = seen->keys[i] == ik;
		}
		if (!dup) {
			/* Neither an interned key (seen) nor a copied one
			 * (that string would have failed to intern too). */
			opts |= JSON_C_OBJECT_ADD_KEY_IS_NEW;
			if (seen->n < SEEN_MAX) {
				seen->keys[seen->n++] = ik;
			}
		}
		r = json_object_object_add_ex(o, ik, v, opts);
	} else {
		char *copy = strndup(k, n);

		if (!copy) {
			json_object_put(v);
			return -ENOMEM;
		}
		r = json_object_object_add(o, copy, v);
		free(copy);
	}
	if (r < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* At a '{'. */
static int
parse_obj(struct jp *jp, int depth, json_object **ret)
{
	struct seen seen;
	json_object *o;
	int r;

	if (depth > jp->max_depth) {
		return -ENOTSUP;
	}
	seen.n = 0;
	o = json_object_new_object();
	if (!o) {
		return -ENOMEM;
	}
	jp->p++;
	skip_ws(jp);
	if (jp->p < jp->end && *jp->p == '}') {
		jp->p++;
		*ret = o;
		return 0;
	}
	for (;;) {
		const char *k;
		size_t n;
		char *owned;
		json_object *v = NULL;

		if (jp->p >= jp->end || *jp->p != '"') {
			r = -ENOTSUP; /* also a trailing comma */
			goto fail;
		}
		r = parse_string(jp, &k, &n, &owned);
		if (r < 0) {
			goto fail;
		}
		if (owned && memchr(owned, '\0', n)) {
			free(owned); /* cannot happen without \u; be sure */
			r = -ENOTSUP;
			goto fail;
		}
		skip_ws(jp);
		if (jp->p >= jp->end || *jp->p != ':') {
			free(owned);
			r = -ENOTSUP;
			goto fail;
		}
		jp->p++;
		skip_ws(jp);
		r = parse_value(jp, depth, &v);
		if (r == 0) {
			r = object_put(o, &seen, k, n, v);
		}
		free(owned);
		if (r < 0) {
			goto fail;
		}
		skip_ws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			skip_ws(jp);
			continue;
		}
		if (jp->p < jp->end && *jp->p == '}') {
			jp->p++;
			*ret = o;
			return 0;
		}
		r = -ENOTSUP;
		goto fail;
	}
fail:
	json_object_put(o);
	return r;
}

/* At a '['. */
static int
parse_array(struct jp *jp, int depth, json_object **ret)
{
	json_object *a;
	int r;

	if (depth > jp->max_depth) {
		return -ENOTSUP;
	}
	a = json_object_new_array();
	if (!a) {
		return -ENOMEM;
	}
	jp->p++;
	skip_ws(jp);
	if (jp->p < jp->end && *jp->p == ']') {
		jp->p++;
		*ret = a;
		return 0;
	}
	for (;;) {
		json_object *v = NULL;

		r = parse_value(jp, depth, &v);
		if (r < 0) {
			goto fail;
		}
		if (json_object_array_add(a, v) < 0) {
			json_object_put(v);
			r = -ENOMEM;
			goto fail;
		}
		skip_ws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			skip_ws(jp);
			continue;
		}
		if (jp->p < jp->end && *jp->p == ']') {
			jp->p++;
			*ret = a;
			return 0;
		}
		r = -ENOTSUP;
		goto fail;
	}
fail:
	json_object_put(a);
	return r;
}

/* A value inside a container at depth; null gives *ret == NULL. */
static int
parse_value(struct jp *jp, int depth, json_object **ret)
{
	const char *s;
	size_t n;
	char *owned;
	int r;

	if (jp->p >= jp->end) {
		return -ENOTSUP;
	}
	switch (*jp->p) {
	case '{':
		return parse_obj(jp, depth + 1, ret);
	case '[':
		return parse_array(jp, depth + 1, ret);
	case '"':
		r = parse_string(jp, &s, &n, &owned);
		if (r < 0) {
			return r;
		}
		*ret = json_object_new_string_len(s, (int) n);
		free(owned);
		return *ret ? 0 : -ENOMEM;
	case 't':
		if (!literal(jp, "true", 4)) {
			return -ENOTSUP;
		}
		*ret = json_object_new_boolean(1);
		return *ret ? 0 : -ENOMEM;
	case 'f':
		if (!literal(jp, "false", 5)) {
			return -ENOTSUP;
		}
		*ret = json_object_new_boolean(0);
		return *ret ? 0 : -ENOMEM;
	case 'n':
		if (!literal(jp, "null", 4)) {
			return -ENOTSUP;
		}
		*ret = NULL;
		return 0;
	default:
		return parse_int(jp, ret);
	}
}

int
jsonparse_object(const char *text, size_t len, int max_depth,
    json_object **ret)
{
	struct jp jp = { .p = text, .end = text + len,
		.max_depth = max_depth };
	json_object *o = NULL;
	int r;

	/* Strings longer than INT_MAX cannot be json-c strings. */
	if (len == 0 || len > INT32_MAX || text[0] != '{') {
		return -ENOTSUP;
	}
	r = parse_obj(&jp, 1, &o);
	if (r < 0) {
		return r;
	}
	if (jp.p != jp.end) {
		json_object_put(o);
		return -ENOTSUP; /* trailing bytes: json_tokener decides */
	}
	*ret = o;
	return 0;
}
