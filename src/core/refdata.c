/*
 * refdata.c - cached work types, roles and charge codes; name resolution.
 *
 * Invariants: a list is replaced whole or not at all; resolution never
 * guesses: an exact (case-insensitive) name wins, else a unique prefix,
 * else the error lists the close matches (prefix, substring or an edit
 * distance of at most 2), so the user can retype. An inactive record is
 * never resolved: ConnectWise would refuse it anyway.
 * Pure: the time comes in as an argument; no I/O, no logging.
 */
#include "core/refdata.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/errcode.h"

/* Candidates kept for an ambiguity message. */
#define REFDATA_LIST_CAP (REFDATA_MAX_SUGGESTIONS + 1)

static const char *const resources[REFDATA_KIND_COUNT] = {
    "/time/workTypes",
    "/time/workRoles",
    "/time/chargeCodes",
};

static const char *const labels[REFDATA_KIND_COUNT] = {
    "work type",
    "work role",
    "charge code",
};

const char *
refdata_resource(enum refdata_kind kind)
{
	return kind < REFDATA_KIND_COUNT ? resources[kind] : NULL;
}

const char *
refdata_kind_label(enum refdata_kind kind)
{
	return kind < REFDATA_KIND_COUNT ? labels[kind] : "record";
}

void
refdata_init(struct refdata *rd, int64_t ttl_s)
{
	memset(rd, 0, sizeof(*rd));
	rd->ttl_s = ttl_s > 0 ? ttl_s : REFDATA_DEFAULT_TTL_S;
}

static void
list_clear(struct refdata_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].name);
	}
	free(l->items);
	if (l->raw) {
		json_object_put(l->raw);
	}
	memset(l, 0, sizeof(*l));
}

void
refdata_fini(struct refdata *rd)
{
	if (!rd) {
		return;
	}
	for (int k = 0; k < REFDATA_KIND_COUNT; k++) {
		list_clear(&rd->lists[k]);
	}
}

int
refdata_load(
    struct refdata *rd, enum refdata_kind kind, json_object *array, int64_t now)
{
	struct refdata_list l;
	size_t n;

	if (kind >= REFDATA_KIND_COUNT || !array ||
	    !json_object_is_type(array, json_type_array)) {
		return -EINVAL;
	}
	n = json_object_array_length(array);
	if (n > REFDATA_MAX_ITEMS) {
		return -EINVAL;
	}
	memset(&l, 0, sizeof(l));
	l.items = calloc(n > 0 ? n : 1, sizeof(*l.items));
	if (!l.items) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(array, i);
		json_object *id, *name, *inactive;
		struct refdata_item *it;

		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, "id", &id) ||
		    !json_object_is_type(id, json_type_int) ||
		    json_object_get_int64(id) <= 0 ||
		    !json_object_object_get_ex(o, "name", &name) ||
		    !json_object_is_type(name, json_type_string)) {
			continue;
		}
		it = &l.items[l.n];
		it->id = json_object_get_int64(id);
		it->name = strdup(json_object_get_string(name));
		if (!it->name) {
			list_clear(&l);
			return -ENOMEM;
		}
		it->inactive =
		    json_object_object_get_ex(o, "inactiveFlag", &inactive) &&
		    json_object_is_type(inactive, json_type_boolean) &&
		    json_object_get_boolean(inactive);
		l.n++;
	}
	l.raw = json_object_get(array);
	l.loaded = true;
	l.loaded_at = now;
	list_clear(&rd->lists[kind]);
	rd->lists[kind] = l;
	return 0;
}

bool
refdata_fresh(const struct refdata *rd, enum refdata_kind kind, int64_t now)
{
	const struct refdata_list *l;

	if (kind >= REFDATA_KIND_COUNT) {
		return false;
	}
	l = &rd->lists[kind];
	/* A clock that went backwards also counts as expired. */
	return l->loaded && now >= l->loaded_at &&
	    now - l->loaded_at < rd->ttl_s;
}

void
refdata_invalidate(struct refdata *rd, enum refdata_kind kind)
{
	if (kind < REFDATA_KIND_COUNT) {
		list_clear(&rd->lists[kind]);
	}
}

json_object *
refdata_raw(const struct refdata *rd, enum refdata_kind kind)
{
	if (kind >= REFDATA_KIND_COUNT || !rd->lists[kind].loaded) {
		return NULL;
	}
	return rd->lists[kind].raw;
}

const char *
refdata_name(const struct refdata *rd, enum refdata_kind kind, int64_t id)
{
	if (kind >= REFDATA_KIND_COUNT) {
		return NULL;
	}
	for (size_t i = 0; i < rd->lists[kind].n; i++) {
		if (rd->lists[kind].items[i].id == id) {
			return rd->lists[kind].items[i].name;
		}
	}
	return NULL;
}

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

size_t
refdata_distance(const char *a, const char *b, size_t cap)
{
	/* Levenshtein with two rows; names are short (ConnectWise: 50). */
	size_t la = strlen(a), lb = strlen(b);
	size_t prev[64], cur[64];

	if (la > 62 || lb > 62) {
		return strcasecmp(a, b) == 0 ? 0 : cap + 1;
	}
	if ((la > lb ? la - lb : lb - la) > cap) {
		return cap + 1;
	}
	for (size_t j = 0; j <= lb; j++) {
		prev[j] = j;
	}
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] +
			    (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? sub : del;
			if (ins < cur[j]) {
				cur[j] = ins;
			}
		}
		memcpy(prev, cur, sizeof(size_t) * (lb + 1));
	}
	return prev[lb] > cap ? cap + 1 : prev[lb];
}

static bool
has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static bool
contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++) {
		if (strncasecmp(hay, needle, n) == 0) {
			return true;
		}
	}
	return false;
}

/* Appends "'name' (id)" items to msg for the listed indexes. */
static void
append_names(char *msg, size_t size, const struct refdata_list *l,
    const size_t *idx, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(msg);

		(void) snprintf(msg + len, size - len, "%s'%s' (%" PRId64 ")",
		    i > 0 ? ", " : "", l->items[idx[i]].name,
		    l->items[idx[i]].id);
	}
}

static bool
parse_id(const char *s, int64_t *ret)
{
	int64_t v = 0;

	if (!*s || strlen(s) > 15) {
		return false;
	}
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9') {
			return false;
		}
		v = v * 10 + (*p - '0');
	}
	if (v <= 0) {
		return false;
	}
	*ret = v;
	return true;
}

static int
fail(struct errbuf *reterr, enum errcode code, int r, const char *field)
{
	if (reterr) {
		reterr->code = code;
		if (field) {
			errbuf_set_field(reterr, field);
		}
	}
	return r;
}

int
refdata_resolve(const struct refdata *rd, enum refdata_kind kind,
    const char *name, const char *field_name, int64_t now, int64_t *ret_id,
    struct errbuf *reterr)
{
	const struct refdata_list *l;
	const char *label = refdata_kind_label(kind);
	size_t exact[REFDATA_MAX_SUGGESTIONS + 1], nexact = 0;
	size_t pref[REFDATA_MAX_SUGGESTIONS + 1], npref = 0;
	size_t near[REFDATA_MAX_SUGGESTIONS], nnear = 0;
	size_t pick;
	int64_t id;

	if (kind >= REFDATA_KIND_COUNT || !name) {
		return -EINVAL;
	}
	if (parse_id(name, &id)) {
		*ret_id = id;
		return 0;
	}
	if (!*name) {
		errbuf_set(reterr, ERR_UNKNOWN_NAME, 0, "empty %s name", label);
		return fail(reterr, ERR_UNKNOWN_NAME, -ENOENT, field_name);
	}
	if (!refdata_fresh(rd, kind, now)) {
		return -EAGAIN;
	}
	l = &rd->lists[kind];
	for (size_t i = 0; i < l->n; i++) {
		const char *nm = l->items[i].name;

		if (strcasecmp(nm, name) == 0) {
			if (nexact < REFDATA_LIST_CAP) {
				exact[nexact] = i;
			}
			nexact++;
		} else if (has_prefix_ci(nm, name)) {
			if (npref < REFDATA_LIST_CAP) {
				pref[npref] = i;
			}
			npref++;
		}
	}
	if (nexact > 1) {
		errbuf_set(reterr, ERR_AMBIGUOUS_NAME, 0,
		    "%zu %ss are called '%s': ", nexact, label, name);
		append_names(reterr->msg, sizeof(reterr->msg), l, exact,
		    nexact < REFDATA_LIST_CAP ? nexact : REFDATA_LIST_CAP);
		strncat(reterr->msg, "; give the id instead",
		    sizeof(reterr->msg) - strlen(reterr->msg) - 1);
		return fail(reterr, ERR_AMBIGUOUS_NAME, -ENOTUNIQ, field_name);
	}
	if (nexact == 0 && npref > 1) {
		errbuf_set(reterr, ERR_AMBIGUOUS_NAME, 0,
		    "%s '%s' is ambiguous, could be: ", label, name);
		append_names(reterr->msg, sizeof(reterr->msg), l, pref,
		    npref < REFDATA_LIST_CAP ? npref : REFDATA_LIST_CAP);
		return fail(reterr, ERR_AMBIGUOUS_NAME, -ENOTUNIQ, field_name);
	}
	if (nexact == 1 || npref == 1) {
		pick = nexact == 1 ? exact[0] : pref[0];
		if (l->items[pick].inactive) {
			errbuf_set(reterr, ERR_UNKNOWN_NAME, 0,
			    "%s '%s' (%" PRId64 ") is inactive in ConnectWise",
			    label, l->items[pick].name, l->items[pick].id);
			return fail(
			    reterr, ERR_UNKNOWN_NAME, -EINVAL, field_name);
		}
		*ret_id = l->items[pick].id;
		return 0;
	}
	/* Unknown: suggest what the user may have meant. */
	for (size_t i = 0; i < l->n && nnear < REFDATA_MAX_SUGGESTIONS; i++) {
		const char *nm = l->items[i].name;

		if (l->items[i].inactive) {
			continue;
		}
		if (contains_ci(nm, name) || contains_ci(name, nm) ||
		    refdata_distance(nm, name, 2) <= 2) {
			near[nnear++] = i;
		}
	}
	errbuf_set(reterr, ERR_UNKNOWN_NAME, 0, "unknown %s '%s'", label, name);
	if (nnear > 0) {
		strncat(reterr->msg, "; close matches: ",
		    sizeof(reterr->msg) - strlen(reterr->msg) - 1);
		append_names(reterr->msg, sizeof(reterr->msg), l, near, nnear);
	} else {
		size_t len = strlen(reterr->msg);

		(void) snprintf(reterr->msg + len, sizeof(reterr->msg) - len,
		    "; see 'cwtimectl %s'",
		    kind == REFDATA_WORK_TYPE	    ? "worktypes"
			: kind == REFDATA_WORK_ROLE ? "roles"
						    : "codes");
	}
	return fail(reterr, ERR_UNKNOWN_NAME, -ENOENT, field_name);
}
