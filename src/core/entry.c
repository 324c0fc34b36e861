/*
 * entry.c - the TimeEntry model and its ConnectWise JSON.
 *
 * Invariants: the POST body always has actualHours equal to
 * (timeEnd - timeStart)/3600 - hoursDeduct, written with enough decimals
 * that ConnectWise's 0.01 h check holds exactly; times are UTC with 'Z' in
 * whole seconds; mobileGuid carries the entry's UUID. Unset fields are
 * left out (the server fills defaults). Pure: no I/O, no logging.
 */
#include "core/entry.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "common/errcode.h"
#include "common/jsonutil.h"
#include "common/timeparse.h"

static const char *const billable_names[ENTRY_BILLABLE_COUNT] = {
    [ENTRY_BILLABLE_BILLABLE] = "Billable",
    [ENTRY_BILLABLE_DO_NOT_BILL] = "DoNotBill",
    [ENTRY_BILLABLE_NO_CHARGE] = "NoCharge",
    [ENTRY_BILLABLE_NO_DEFAULT] = "NoDefault",
};

static const char *const flag_names[ENTRY_FLAG_COUNT] = {
    [ENTRY_FLAG_ADD_TO_DETAIL] = "addToDetailDescriptionFlag",
    [ENTRY_FLAG_ADD_TO_INTERNAL] = "addToInternalAnalysisFlag",
    [ENTRY_FLAG_ADD_TO_RESOLUTION] = "addToResolutionFlag",
    [ENTRY_FLAG_EMAIL_RESOURCE] = "emailResourceFlag",
    [ENTRY_FLAG_EMAIL_CONTACT] = "emailContactFlag",
    [ENTRY_FLAG_EMAIL_CC] = "emailCcFlag",
};

/* IPC argument names of the flags (entry_fields_from_args). */
static const char *const flag_args[ENTRY_FLAG_COUNT] = {
    [ENTRY_FLAG_ADD_TO_DETAIL] = "add_to_detail",
    [ENTRY_FLAG_ADD_TO_INTERNAL] = "add_to_internal",
    [ENTRY_FLAG_ADD_TO_RESOLUTION] = "add_to_resolution",
    [ENTRY_FLAG_EMAIL_RESOURCE] = "email_resource",
    [ENTRY_FLAG_EMAIL_CONTACT] = "email_contact",
    [ENTRY_FLAG_EMAIL_CC] = "email_cc_flag",
};

static const char *const ref_names[ENTRY_REF_COUNT] = {
    [ENTRY_REF_COMPANY] = "company",
    [ENTRY_REF_MEMBER] = "member",
    [ENTRY_REF_WORK_TYPE] = "workType",
    [ENTRY_REF_WORK_ROLE] = "workRole",
    [ENTRY_REF_AGREEMENT] = "agreement",
};

static const char *const ref_args[ENTRY_REF_COUNT] = {
    [ENTRY_REF_COMPANY] = "company",
    [ENTRY_REF_MEMBER] = "member",
    [ENTRY_REF_WORK_TYPE] = "work_type",
    [ENTRY_REF_WORK_ROLE] = "work_role",
    [ENTRY_REF_AGREEMENT] = "agreement",
};

/* Company and member are named by identifier, the others by name. */
static const char *
ref_name_key(enum entry_refkind k)
{
	return k == ENTRY_REF_COMPANY || k == ENTRY_REF_MEMBER ? "identifier"
							       : "name";
}

void
entry_init(struct entry *e)
{
	memset(e, 0, sizeof(*e));
	e->target.type = TARGET_INVALID;
}

void
entry_fini(struct entry *e)
{
	if (!e) {
		return;
	}
	for (int i = 0; i < ENTRY_REF_COUNT; i++) {
		free(e->refs[i].name);
	}
	free(e->notes);
	free(e->internal_notes);
	free(e->email_cc);
	entry_init(e);
}

int
entry_set_string(char **slot, const char *s)
{
	char *d = NULL;

	if (s) {
		d = strdup(s);
		if (!d) {
			return -ENOMEM;
		}
	}
	free(*slot);
	*slot = d;
	return 0;
}

int
entry_append_string(char **slot, const char *sep, const char *s)
{
	size_t a, b, c;
	char *d;

	if (!s || !*s) {
		return 0;
	}
	if (!*slot || !**slot) {
		return entry_set_string(slot, s);
	}
	a = strlen(*slot);
	b = strlen(sep);
	c = strlen(s);
	d = malloc(a + b + c + 1);
	if (!d) {
		return -ENOMEM;
	}
	memcpy(d, *slot, a);
	memcpy(d + a, sep, b);
	memcpy(d + a + b, s, c + 1);
	free(*slot);
	*slot = d;
	return 0;
}

static int
ref_copy(struct entry_ref *dst, const struct entry_ref *src)
{
	int r = entry_set_string(&dst->name, src->name);

	if (r < 0) {
		return r;
	}
	dst->id = src->id;
	return 0;
}

int
entry_copy(struct entry *dst, const struct entry *src)
{
	struct entry tmp;

	entry_init(&tmp);
	memcpy(tmp.uuid, src->uuid, sizeof(tmp.uuid));
	tmp.target = src->target;
	tmp.time_start = src->time_start;
	tmp.time_end = src->time_end;
	tmp.deduct_s = src->deduct_s;
	tmp.billable = src->billable;
	memcpy(tmp.flags, src->flags, sizeof(tmp.flags));
	for (int i = 0; i < ENTRY_REF_COUNT; i++) {
		if (ref_copy(&tmp.refs[i], &src->refs[i]) < 0) {
			goto fail;
		}
	}
	if (entry_set_string(&tmp.notes, src->notes) < 0 ||
	    entry_set_string(&tmp.internal_notes, src->internal_notes) < 0 ||
	    entry_set_string(&tmp.email_cc, src->email_cc) < 0) {
		goto fail;
	}
	entry_fini(dst);
	*dst = tmp;
	return 0;
fail:
	entry_fini(&tmp);
	return -ENOMEM;
}

int
entry_merge(struct entry *dst, const struct entry *src)
{
	struct entry tmp;
	int r;

	/* Work on a copy so that a failure leaves dst unchanged. */
	entry_init(&tmp);
	r = entry_copy(&tmp, dst);
	if (r < 0) {
		return r;
	}
	if (src->billable != ENTRY_BILLABLE_UNSET) {
		tmp.billable = src->billable;
	}
	for (int i = 0; i < ENTRY_FLAG_COUNT; i++) {
		if (src->flags[i] != ENTRY_TRI_UNSET) {
			tmp.flags[i] = src->flags[i];
		}
	}
	for (int i = 0; i < ENTRY_REF_COUNT; i++) {
		if (src->refs[i].id > 0 || src->refs[i].name) {
			r = ref_copy(&tmp.refs[i], &src->refs[i]);
			if (r < 0) {
				goto fail;
			}
		}
	}
	if ((src->notes &&
		(r = entry_set_string(&tmp.notes, src->notes)) < 0) ||
	    (src->internal_notes &&
		(r = entry_set_string(
		     &tmp.internal_notes, src->internal_notes)) < 0) ||
	    (src->email_cc &&
		(r = entry_set_string(&tmp.email_cc, src->email_cc)) < 0)) {
		goto fail;
	}
	entry_fini(dst);
	*dst = tmp;
	return 0;
fail:
	entry_fini(&tmp);
	return r;
}

const char *
entry_billable_name(enum entry_billable b)
{
	return (int) b > 0 && b < ENTRY_BILLABLE_COUNT ? billable_names[b]
						       : NULL;
}

enum entry_billable
entry_billable_from_name(const char *name)
{
	static const struct {
		const char *alias;
		enum entry_billable b;
	} aliases[] = {
	    {"do-not-bill", ENTRY_BILLABLE_DO_NOT_BILL},
	    {"no-charge", ENTRY_BILLABLE_NO_CHARGE},
	    {"no-default", ENTRY_BILLABLE_NO_DEFAULT},
	};

	for (int i = 1; name && i < ENTRY_BILLABLE_COUNT; i++) {
		if (strcasecmp(billable_names[i], name) == 0) {
			return (enum entry_billable) i;
		}
	}
	for (size_t i = 0; name && i < ARRAY_SIZE(aliases); i++) {
		if (strcasecmp(aliases[i].alias, name) == 0) {
			return aliases[i].b;
		}
	}
	return ENTRY_BILLABLE_INVALID;
}

const char *
entry_flag_cw_name(enum entry_flag f)
{
	return (int) f >= 0 && f < ENTRY_FLAG_COUNT ? flag_names[f] : NULL;
}

const char *
entry_ref_cw_name(enum entry_refkind k)
{
	return (int) k >= 0 && k < ENTRY_REF_COUNT ? ref_names[k] : NULL;
}

void
entry_uuid_from_bytes(const uint8_t bytes[16], char uuid[ENTRY_UUID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[16];
	size_t o = 0;

	memcpy(b, bytes, 16);
	b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			uuid[o++] = '-';
		}
		uuid[o++] = hex[b[i] >> 4];
		uuid[o++] = hex[b[i] & 0x0f];
	}
	uuid[o] = '\0';
}

bool
entry_uuid_valid(const char *s)
{
	if (!s || strlen(s) != 36) {
		return false;
	}
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash != (s[i] == '-')) {
			return false;
		}
		if (!dash &&
		    !((s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}

char *
entry_format_hours(int64_t seconds, char buf[32])
{
	/* Hours in millionths, rounded half away from zero; 6 decimals keep
	 * the error under 0.0000005 h, far inside ConnectWise's 0.01 h. */
	int64_t neg = seconds < 0, s = neg ? -seconds : seconds;
	int64_t micro = (s * 1000000 + 1800) / 3600;
	char frac[8];
	size_t len;

	snprintf(frac, sizeof(frac), "%06lld", (long long) (micro % 1000000));
	len = 6;
	while (len > 2 && frac[len - 1] == '0') {
		len--;
	}
	frac[len] = '\0';
	snprintf(buf, 32, "%s%lld.%s", neg ? "-" : "",
	    (long long) (micro / 1000000), frac);
	return buf;
}

int
entry_validate(const struct entry *e, bool times, struct errbuf *reterr)
{
	const struct entry_ref *co = &e->refs[ENTRY_REF_COMPANY];
	bool has_company = co->id > 0 || co->name;
	int r = -EINVAL;

	switch (e->target.type) {
	case TARGET_SERVICE_TICKET:
	case TARGET_PROJECT_TICKET:
		if (has_company) {
			r = errbuf_set(reterr, ERR_BAD_TARGET, -EINVAL,
			    "time on a ticket goes to the ticket's company; "
			    "leave out the company");
			errbuf_set_field(reterr, "company");
			return r;
		}
		break;
	case TARGET_CHARGE_CODE:
		if (!has_company) {
			r = errbuf_set(reterr, ERR_BAD_TARGET, -EINVAL,
			    "time on a charge code needs a company "
			    "(--company)");
			errbuf_set_field(reterr, "company");
			return r;
		}
		break;
	case TARGET_ACTIVITY:
		break;
	case TARGET_COMPANY:
		if (has_company &&
		    ((e->target.id > 0 && co->id != e->target.id) ||
			(e->target.id == 0 &&
			    (!co->name ||
				strcasecmp(co->name, e->target.ident) != 0)))) {
			r = errbuf_set(reterr, ERR_BAD_TARGET, -EINVAL,
			    "the target is a company; --company must be the "
			    "same company or left out");
			errbuf_set_field(reterr, "company");
			return r;
		}
		break;
	case TARGET_INVALID:
	default:
		r = errbuf_set(
		    reterr, ERR_BAD_TARGET, -EINVAL, "the entry has no target");
		errbuf_set_field(reterr, "chargeToId");
		return r;
	}
	if (e->flags[ENTRY_FLAG_EMAIL_CC] == ENTRY_TRI_TRUE &&
	    (!e->email_cc || !*e->email_cc)) {
		r = errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
		    "emailCcFlag needs emailCc addresses");
		errbuf_set_field(reterr, "emailCc");
		return r;
	}
	if (!times) {
		return 0;
	}
	if (e->time_start <= 0 || e->time_end <= e->time_start) {
		r = errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
		    "timeEnd must be after timeStart");
		errbuf_set_field(reterr, "timeEnd");
		return r;
	}
	if (e->deduct_s < 0 || e->deduct_s >= e->time_end - e->time_start) {
		r = errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL,
		    "hoursDeduct must be >= 0 and leave time worked");
		errbuf_set_field(reterr, "hoursDeduct");
		return r;
	}
	return 0;
}

static json_object *
ref_to_json(const struct entry_ref *ref, enum entry_refkind k)
{
	json_object *o = json_object_new_object();
	int r;

	if (!o) {
		return NULL;
	}
	if (ref->id > 0) {
		r = jsonutil_add(o, "id", json_object_new_int64(ref->id));
	} else {
		r = jsonutil_add(
		    o, ref_name_key(k), json_object_new_string(ref->name));
	}
	if (r < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *
hours_to_json(int64_t seconds)
{
	char buf[32];

	entry_format_hours(seconds, buf);
	/* the string is what json-c prints: "1.50", not 1.5 */
	return json_object_new_double_s((double) seconds / 3600.0, buf);
}

static json_object *
time_to_json(int64_t t)
{
	char buf[TIMEPARSE_UTC_LEN];

	return json_object_new_string(timeparse_format_utc(t, buf));
}

/* The fields shared by the POST body and the template. */
static int
add_fields(json_object *o, const struct entry *e, bool with_refs_company)
{
	int r = 0;

	if (e->billable != ENTRY_BILLABLE_UNSET) {
		r = jsonutil_add(o, "billableOption",
		    json_object_new_string(billable_names[e->billable]));
	}
	for (int k = ENTRY_REF_WORK_TYPE; r == 0 && k <= ENTRY_REF_AGREEMENT;
	     k++) {
		if (e->refs[k].id > 0 || e->refs[k].name) {
			r = jsonutil_add(
			    o, ref_names[k], ref_to_json(&e->refs[k], k));
		}
	}
	if (r == 0 && e->notes) {
		r = jsonutil_add(o, "notes", json_object_new_string(e->notes));
	}
	if (r == 0 && e->internal_notes) {
		r = jsonutil_add(o, "internalNotes",
		    json_object_new_string(e->internal_notes));
	}
	for (int i = 0; r == 0 && i < ENTRY_FLAG_COUNT; i++) {
		if (e->flags[i] != ENTRY_TRI_UNSET) {
			r = jsonutil_add(o, flag_names[i],
			    json_object_new_boolean(
				e->flags[i] == ENTRY_TRI_TRUE));
		}
	}
	if (r == 0 && e->email_cc) {
		r = jsonutil_add(
		    o, "emailCc", json_object_new_string(e->email_cc));
	}
	(void) with_refs_company;
	return r;
}

int
entry_to_cw_json(
    const struct entry *e, json_object **ret, struct errbuf *reterr)
{
	CLEANUP_JSON json_object *o = NULL;
	const struct entry_ref *co = &e->refs[ENTRY_REF_COMPANY];
	const struct entry_ref *mem = &e->refs[ENTRY_REF_MEMBER];
	int r;

	r = entry_validate(e, true, reterr);
	if (r < 0) {
		return r;
	}
	o = json_object_new_object();
	if (!o) {
		return -ENOMEM;
	}
	if (e->target.id > 0) {
		r = jsonutil_add(
		    o, "chargeToId", json_object_new_int64(e->target.id));
	}
	if (r == 0) {
		r = jsonutil_add(o, "chargeToType",
		    json_object_new_string(
			target_charge_type_name(e->target.type)));
	}
	if (r == 0 && e->target.type == TARGET_COMPANY) {
		struct entry_ref tc = {.id = e->target.id,
		    .name = e->target.id > 0 ? NULL : (char *) e->target.ident};

		r = jsonutil_add(
		    o, "company", ref_to_json(&tc, ENTRY_REF_COMPANY));
	} else if (r == 0 && (co->id > 0 || co->name)) {
		r = jsonutil_add(
		    o, "company", ref_to_json(co, ENTRY_REF_COMPANY));
	}
	if (r == 0 && (mem->id > 0 || mem->name)) {
		r = jsonutil_add(
		    o, "member", ref_to_json(mem, ENTRY_REF_MEMBER));
	}
	if (r == 0) {
		r = jsonutil_add(o, "timeStart", time_to_json(e->time_start));
	}
	if (r == 0) {
		r = jsonutil_add(o, "timeEnd", time_to_json(e->time_end));
	}
	if (r == 0 && e->deduct_s != 0) {
		r = jsonutil_add(o, "hoursDeduct", hours_to_json(e->deduct_s));
	}
	if (r == 0) {
		r = jsonutil_add(o, "actualHours",
		    hours_to_json(e->time_end - e->time_start - e->deduct_s));
	}
	if (r == 0) {
		r = add_fields(o, e, false);
	}
	if (r == 0 && e->uuid[0]) {
		r = jsonutil_add(
		    o, "mobileGuid", json_object_new_string(e->uuid));
	}
	if (r < 0) {
		return r;
	}
	*ret = TAKE_PTR(o);
	return 0;
}

json_object *
entry_fields_to_json(const struct entry *e)
{
	json_object *o = json_object_new_object();
	int r = 0;

	if (!o) {
		return NULL;
	}
	for (int k = ENTRY_REF_COMPANY; r == 0 && k <= ENTRY_REF_MEMBER; k++) {
		if (e->refs[k].id > 0 || e->refs[k].name) {
			r = jsonutil_add(
			    o, ref_names[k], ref_to_json(&e->refs[k], k));
		}
	}
	if (r == 0) {
		r = add_fields(o, e, true);
	}
	if (r < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int
bad_field(struct errbuf *reterr, const char *field, const char *why)
{
	int r =
	    errbuf_set(reterr, ERR_BAD_ARGUMENT, -EINVAL, "%s: %s", field, why);

	errbuf_set_field(reterr, field);
	return r;
}

/* {"id":N} or {"identifier"/"name":"x"} */
static int
ref_from_json(json_object *v, enum entry_refkind k, struct entry_ref *ret,
    struct errbuf *reterr)
{
	json_object *id, *nm;

	if (!json_object_is_type(v, json_type_object)) {
		return bad_field(reterr, ref_names[k], "not an object");
	}
	if (json_object_object_get_ex(v, "id", &id) &&
	    json_object_is_type(id, json_type_int)) {
		int64_t i = json_object_get_int64(id);

		if (i <= 0) {
			return bad_field(reterr, ref_names[k], "bad id");
		}
		ret->id = i;
		return 0;
	}
	if ((json_object_object_get_ex(v, ref_name_key(k), &nm) ||
		json_object_object_get_ex(v, "name", &nm)) &&
	    json_object_is_type(nm, json_type_string)) {
		return entry_set_string(&ret->name, json_object_get_string(nm));
	}
	return 0;
}

static int
time_from_json(
    json_object *v, const char *field, int64_t *ret, struct errbuf *reterr)
{
	if (!json_object_is_type(v, json_type_string) ||
	    timeparse_parse_iso(json_object_get_string(v), ret, NULL) < 0) {
		return bad_field(reterr, field, "not an ISO 8601 date-time");
	}
	return 0;
}

/* Hours (a number) to whole seconds, rounded to the nearest second. */
static int
hours_from_json(
    json_object *v, const char *field, int64_t *ret, struct errbuf *reterr)
{
	double h;

	if (!json_object_is_type(v, json_type_double) &&
	    !json_object_is_type(v, json_type_int)) {
		return bad_field(reterr, field, "not a number");
	}
	h = json_object_get_double(v);
	if (!(h >= -100000.0 && h <= 100000.0)) {
		return bad_field(reterr, field, "out of range");
	}
	*ret = (int64_t) (h * 3600.0 + (h < 0 ? -0.5 : 0.5));
	return 0;
}

static int
parse_json(
    json_object *o, struct entry *ret, bool fields_only, struct errbuf *reterr)
{
	struct entry e;
	json_object *v;
	int64_t actual = -1;
	bool has_end = false;
	int r = 0;

	if (!json_object_is_type(o, json_type_object)) {
		return bad_field(reterr, "entry", "not an object");
	}
	entry_init(&e);
	/* {} is the empty entry. Most start records carry "fields": {}, and
	 * the thirty lookups below were 10-15% of a replay's start-up. */
	if (json_object_object_length(o) == 0) {
		entry_fini(ret);
		*ret = e;
		return 0;
	}
	if (json_object_object_get_ex(o, "chargeToType", &v) &&
	    json_object_is_type(v, json_type_string)) {
		e.target.type =
		    target_type_from_charge_name(json_object_get_string(v));
		if (e.target.type == TARGET_INVALID) {
			r = bad_field(reterr, "chargeToType", "unknown type");
			goto fail;
		}
	}
	if (json_object_object_get_ex(o, "chargeToId", &v) &&
	    json_object_is_type(v, json_type_int)) {
		e.target.id = json_object_get_int64(v);
		if (e.target.id <= 0 || e.target.id > 2147483647) {
			r = bad_field(reterr, "chargeToId", "out of range");
			goto fail;
		}
	}
	for (int k = 0; k < ENTRY_REF_COUNT; k++) {
		if (json_object_object_get_ex(o, ref_names[k], &v) &&
		    !json_object_is_type(v, json_type_null)) {
			r = ref_from_json(v, k, &e.refs[k], reterr);
			if (r < 0) {
				goto fail;
			}
		}
	}
	if (!fields_only && e.target.type == TARGET_INVALID &&
	    (e.refs[ENTRY_REF_COMPANY].id > 0 ||
		e.refs[ENTRY_REF_COMPANY].name)) {
		/* charged to the company (connectwise-api.md 14 row 2) */
		e.target.type = TARGET_COMPANY;
	}
	if (e.target.type == TARGET_COMPANY) {
		struct entry_ref *co = &e.refs[ENTRY_REF_COMPANY];

		if (e.target.id == 0 && co->id > 0) {
			e.target.id = co->id;
		} else if (e.target.id == 0 && co->name &&
		    strlen(co->name) < sizeof(e.target.ident)) {
			memcpy(e.target.ident, co->name, strlen(co->name) + 1);
		}
		/* the target names the company; do not send it twice */
		free(co->name);
		co->name = NULL;
		co->id = 0;
	}
	if (json_object_object_get_ex(o, "timeStart", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		r = time_from_json(v, "timeStart", &e.time_start, reterr);
		if (r < 0) {
			goto fail;
		}
	}
	if (json_object_object_get_ex(o, "timeEnd", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		r = time_from_json(v, "timeEnd", &e.time_end, reterr);
		if (r < 0) {
			goto fail;
		}
		has_end = true;
	}
	if (json_object_object_get_ex(o, "hoursDeduct", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		r = hours_from_json(v, "hoursDeduct", &e.deduct_s, reterr);
		if (r < 0) {
			goto fail;
		}
	}
	if (json_object_object_get_ex(o, "actualHours", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		r = hours_from_json(v, "actualHours", &actual, reterr);
		if (r < 0) {
			goto fail;
		}
	}
	if (!has_end && actual >= 0 && e.time_start > 0) {
		/* the seed document's form: timeStart + actualHours */
		e.time_end = e.time_start + actual + e.deduct_s;
	}
	if (json_object_object_get_ex(o, "billableOption", &v) &&
	    json_object_is_type(v, json_type_string)) {
		e.billable =
		    entry_billable_from_name(json_object_get_string(v));
		if (e.billable == ENTRY_BILLABLE_INVALID) {
			r = bad_field(
			    reterr, "billableOption", "unknown value");
			goto fail;
		}
	}
	for (int i = 0; i < ENTRY_FLAG_COUNT; i++) {
		if (json_object_object_get_ex(o, flag_names[i], &v) &&
		    json_object_is_type(v, json_type_boolean)) {
			e.flags[i] = json_object_get_boolean(v)
			    ? ENTRY_TRI_TRUE
			    : ENTRY_TRI_FALSE;
		}
	}
	if ((json_object_object_get_ex(o, "notes", &v) &&
		json_object_is_type(v, json_type_string) &&
		(r = entry_set_string(&e.notes, json_object_get_string(v))) <
		    0) ||
	    (json_object_object_get_ex(o, "internalNotes", &v) &&
		json_object_is_type(v, json_type_string) &&
		(r = entry_set_string(
		     &e.internal_notes, json_object_get_string(v))) < 0) ||
	    (json_object_object_get_ex(o, "emailCc", &v) &&
		json_object_is_type(v, json_type_string) &&
		(r = entry_set_string(&e.email_cc, json_object_get_string(v))) <
		    0)) {
		goto fail;
	}
	if (json_object_object_get_ex(o, "mobileGuid", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    entry_uuid_valid(json_object_get_string(v))) {
		memcpy(e.uuid, json_object_get_string(v), ENTRY_UUID_LEN);
	}
	entry_fini(ret);
	*ret = e;
	return 0;
fail:
	entry_fini(&e);
	return r;
}

int
entry_from_cw_json(json_object *o, struct entry *ret, struct errbuf *reterr)
{
	return parse_json(o, ret, false, reterr);
}

int
entry_fields_from_json(json_object *o, struct entry *ret, struct errbuf *reterr)
{
	return parse_json(o, ret, true, reterr);
}

static int
arg_string(
    json_object *args, const char *key, const char **ret, struct errbuf *reterr)
{
	json_object *v;

	*ret = NULL;
	if (!json_object_object_get_ex(args, key, &v) ||
	    json_object_is_type(v, json_type_null)) {
		return 0;
	}
	if (!json_object_is_type(v, json_type_string)) {
		return bad_field(reterr, key, "must be a string");
	}
	*ret = json_object_get_string(v);
	if (strlen(*ret) > 8000) {
		return bad_field(reterr, key, "longer than 8000 bytes");
	}
	return 0;
}

/* An all-digit value is an id, anything else a name. */
static int
ref_from_arg(const char *s, struct entry_ref *ref)
{
	size_t len = strlen(s);

	if (len > 0 && len <= 10 && strspn(s, "0123456789") == len &&
	    s[0] != '0') {
		int64_t v = 0;

		for (size_t i = 0; i < len; i++) {
			v = v * 10 + (s[i] - '0');
		}
		if (v <= 2147483647) {
			free(ref->name);
			ref->name = NULL;
			ref->id = v;
			return 0;
		}
	}
	ref->id = 0;
	return entry_set_string(&ref->name, s);
}

int
entry_fields_from_args(
    json_object *args, struct entry *e, struct errbuf *reterr)
{
	struct entry tmp;
	const char *s;
	json_object *v;
	int r;

	if (!args) {
		return 0;
	}
	if (!json_object_is_type(args, json_type_object)) {
		return bad_field(reterr, "args", "not an object");
	}
	entry_init(&tmp);
	r = entry_copy(&tmp, e);
	if (r < 0) {
		return r;
	}
	for (int k = 0; k < ENTRY_REF_COUNT; k++) {
		r = arg_string(args, ref_args[k], &s, reterr);
		if (r < 0) {
			goto fail;
		}
		if (s && !*s) {
			r = bad_field(reterr, ref_args[k], "empty");
			goto fail;
		}
		if (s && (r = ref_from_arg(s, &tmp.refs[k])) < 0) {
			goto fail;
		}
	}
	if ((r = arg_string(args, "notes", &s, reterr)) < 0 ||
	    (s && (r = entry_set_string(&tmp.notes, s)) < 0) ||
	    (r = arg_string(args, "internal_notes", &s, reterr)) < 0 ||
	    (s && (r = entry_set_string(&tmp.internal_notes, s)) < 0) ||
	    (r = arg_string(args, "email_cc", &s, reterr)) < 0 ||
	    (s && (r = entry_set_string(&tmp.email_cc, s)) < 0) ||
	    (r = arg_string(args, "billable", &s, reterr)) < 0) {
		goto fail;
	}
	if (s) {
		tmp.billable = entry_billable_from_name(s);
		if (tmp.billable == ENTRY_BILLABLE_INVALID) {
			r = bad_field(reterr, "billable",
			    "use Billable, DoNotBill, NoCharge or NoDefault");
			goto fail;
		}
	}
	for (int i = 0; i < ENTRY_FLAG_COUNT; i++) {
		if (!json_object_object_get_ex(args, flag_args[i], &v) ||
		    json_object_is_type(v, json_type_null)) {
			continue;
		}
		if (!json_object_is_type(v, json_type_boolean)) {
			r = bad_field(
			    reterr, flag_args[i], "must be true or false");
			goto fail;
		}
		tmp.flags[i] = json_object_get_boolean(v) ? ENTRY_TRI_TRUE
							  : ENTRY_TRI_FALSE;
	}
	entry_fini(e);
	*e = tmp;
	return 0;
fail:
	entry_fini(&tmp);
	return r;
}
