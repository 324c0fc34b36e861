/*
 * cmd-ref.c - reference data (work types, work roles, charge codes) and
 * the helpers every ConnectWise pass-through command shares.
 *
 * Job: the `worktypes`, `roles` and `codes` commands; the daemon's cache
 * of those lists (core/refdata.c) with a TTL on loop time and refresh on
 * demand ([reference] ttl); cmdref_resolve() for any command or module
 * that takes a name; the work type and role names of queued entries made
 * ids (at stop, and before the POST through the submitter's ready hook);
 * a per-operation ConnectWise client; a pager that follows Link headers;
 * the error hints of the user's reference document.
 *
 * Invariants:
 * - every operation owns its client and closes it when it ends, so no
 *   handle outlives it; an operation tied to a request learns of the
 *   request's end through request_set_data's free function and then
 *   cancels its calls, so no callback ever touches a freed request;
 * - one fetch per list at a time: later askers wait on the same fetch;
 * - a list is replaced only by a complete fetch; a failed refresh keeps
 *   the old (possibly expired) list for naming ids, never for resolving;
 * - a queued entry's names change only through a journal record
 *   (ENTRY_EDITED, or a local REJECTED), journaled while the submitter
 *   has the entry claimed; a name never fails a stop.
 * Logs nothing itself: errors go back to the caller or the user.
 */
#include "daemon/cmd-ref.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>
#include <json-c/json.h>

#include "common/cleanup.h"
#include "daemon/cmd-more.h"
#include "daemon/config.h"
#include "daemon/cwapi.h"
#include "daemon/daemon.h"
#include "daemon/http.h"
#include "daemon/journal.h"
#include "daemon/submitter.h"
#include "core/entry.h"
#include "core/records.h"

/* ---- per-operation client ---- */

/* Each request of an interactive command counts against the submitter's
 * max_rate: ConnectWise limits the API member, not the connection, and
 * a search of several pages during a paced backlog would otherwise add
 * its requests on top of the rate (design.md 27). */
static void
charge_submitter(void *userdata)
{
	struct daemon *d = userdata;

	cwapi_charge(d->cwapi);
}

int
cmdref_client_open(
    struct daemon *d, struct cmdref_client *c, struct errbuf *reterr)
{
	struct cwapi_config cfg;
	struct http_options hopt;
	int r;

	memset(c, 0, sizeof(*c));
	if (!daemon_api_usable(d, reterr)) {
		return -ENOTCONN;
	}
	memset(&hopt, 0, sizeof(hopt));
	hopt.ca_file = d->config.api.ca_file;
	r = http_new(&d->loop, &hopt, &c->http);
	if (r < 0) {
		return errbuf_set(reterr, ERR_INTERNAL, r,
		    "cannot set up HTTP: %s", strerror(-r));
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.url = d->config.api.url;
	cfg.site = d->config.api.site;
	cfg.company = d->config.api.company;
	cfg.api_version = d->config.api.api_version;
	cfg.connect_timeout_ms =
	    (uint32_t) (d->config.api.connect_timeout_s * 1000);
	cfg.total_timeout_ms =
	    (uint32_t) (d->config.api.total_timeout_s * 1000);
	cfg.low_speed_time_s = (uint32_t) d->config.api.low_speed_time_s;
	cfg.on_send = charge_submitter;
	cfg.on_send_userdata = d;
	r = cwapi_new(
	    &cfg, &d->secret, http_transport(c->http), &c->api, reterr);
	if (r < 0) {
		http_close(c->http);
		c->http = NULL;
		return r;
	}
	return 0;
}

void
cmdref_client_close(struct cmdref_client *c)
{
	if (!c) {
		return;
	}
	cwapi_free(c->api); /* cancels its calls; deferred inside callbacks */
	c->api = NULL;
	http_close(c->http); /* frees itself when its handles have closed */
	c->http = NULL;
}

/* ---- paging ---- */

struct pager {
	struct cmdref_client *client;
	bool forward_only;
	int64_t page_size;
	size_t limit;
	size_t pages;
	json_object *items;
	cmdref_list_fn *cb;
	void *userdata;
};

static void
pager_finish(struct pager *p, int r, const struct errbuf *err)
{
	cmdref_list_fn *cb = p->cb;
	void *userdata = p->userdata;
	json_object *items = p->items;
	size_t pages = p->pages;

	free(p);
	cb(r, items, pages, err, userdata);
	json_object_put(items);
}

static void
on_page(const struct cwapi_result *res, void *userdata)
{
	struct pager *p = userdata;
	struct errbuf e;
	size_t n;
	int64_t id;

	p->pages++;
	if (res->cls != CLASSIFY_SUCCESS) {
		e = res->err;
		cmdref_explain(&e, res);
		pager_finish(p, -EIO, &e);
		return;
	}
	if (!res->json || !json_object_is_type(res->json, json_type_array)) {
		errbuf_set(&e, ERR_API_ERROR, 0,
		    "ConnectWise: the reply to a list is not a JSON array");
		pager_finish(p, -EBADMSG, &e);
		return;
	}
	n = json_object_array_length(res->json);
	for (size_t i = 0; i < n; i++) {
		if (p->limit > 0 &&
		    json_object_array_length(p->items) >= p->limit) {
			break;
		}
		json_object_array_add(p->items,
		    json_object_get(json_object_array_get_idx(res->json, i)));
	}
	/* Stop on any of the three signs of the end (6), or the limit. */
	if (!res->link_next || n == 0 || (int64_t) n < p->page_size ||
	    (p->limit > 0 && json_object_array_length(p->items) >= p->limit)) {
		pager_finish(p, 0, NULL);
		return;
	}
	if (p->pages >= CMDREF_MAX_PAGES) {
		errbuf_set(&e, ERR_API_ERROR, 0,
		    "stopped after %d pages of %" PRId64 " records; narrow the "
		    "filter or use --limit",
		    CMDREF_MAX_PAGES, p->page_size);
		pager_finish(p, -E2BIG, &e);
		return;
	}
	id = cwapi_list_next(
	    p->client->api, res->link_next, p->forward_only, on_page, p);
	if (id < 0) {
		errbuf_set(&e, ERR_API_ERROR, 0,
		    "ConnectWise: cannot follow the next-page link: %s",
		    id == -EPERM ? "it points outside the API base"
				 : strerror((int) -id));
		pager_finish(p, (int) id, &e);
	}
}

int
cmdref_list_all(struct cmdref_client *c, const struct cwapi_list_query *q,
    size_t limit, cmdref_list_fn *cb, void *userdata)
{
	struct pager *p = calloc(1, sizeof(*p));
	int64_t id;

	if (!p) {
		return -ENOMEM;
	}
	p->items = json_object_new_array();
	if (!p->items) {
		free(p);
		return -ENOMEM;
	}
	p->client = c;
	p->forward_only = q->page_id >= 0;
	p->page_size = q->page_size > 0 ? q->page_size : 25;
	p->limit = limit;
	p->cb = cb;
	p->userdata = userdata;
	id = cwapi_list(c->api, q, on_page, p);
	if (id < 0) {
		json_object_put(p->items);
		free(p);
		return (int) id;
	}
	return 0;
}

/* ---- the cache ---- */

struct waiter {
	struct waiter *next;
	cmdref_resolved_fn *cb;
	void *userdata;
	char *name; /* NULL: a plain fetch */
	char *field;
};

struct fetch {
	struct daemon *d;
	enum refdata_kind kind;
	struct cmdref_client client;
	struct waiter *waiters;
};

static struct refdata cache;
static bool cache_init;
static struct fetch *fetches[REFDATA_KIND_COUNT];
/* Whether the last fetch of a kind failed, and when (cmdref_now): entry
 * resolution then falls back to sending names for a while (see below). */
static bool fetch_failed[REFDATA_KIND_COUNT];
static int64_t fetch_failed_at[REFDATA_KIND_COUNT];
static int64_t (*test_now)(void *userdata);
static void *test_now_userdata;

struct refdata *
cmdref_cache(struct daemon *d)
{
	if (!cache_init) {
		refdata_init(&cache, REFDATA_DEFAULT_TTL_S);
		cache_init = true;
	}
	/* [reference] ttl, read each time so a reload applies at once;
	 * config.c keeps it >= 1 s */
	if (d && d->have_config && d->config.reference.ttl_s > 0) {
		cache.ttl_s = d->config.reference.ttl_s;
	}
	return &cache;
}

void
cmdref_set_clock(int64_t (*now_s)(void *userdata), void *userdata)
{
	test_now = now_s;
	test_now_userdata = userdata;
}

int64_t
cmdref_now(struct daemon *d)
{
	if (test_now) {
		return test_now(test_now_userdata);
	}
	return (int64_t) (uv_now(&d->loop) / 1000);
}

static void
waiters_run(struct waiter *w, struct daemon *d, enum refdata_kind kind, int r,
    const struct errbuf *err)
{
	while (w) {
		struct waiter *next = w->next;
		struct errbuf e;
		int64_t id = 0;
		int rr = r;

		errbuf_clear(&e);
		if (rr == 0 && w->name) {
			rr = refdata_resolve(cmdref_cache(d), kind, w->name,
			    w->field, cmdref_now(d), &id, &e);
			if (rr == -EAGAIN) {
				/* fetched, yet not fresh: a TTL of 0 s? */
				rr = errbuf_set(&e, ERR_INTERNAL, -EAGAIN,
				    "the %s list expired at once",
				    refdata_kind_label(kind));
			}
		} else if (rr < 0 && err) {
			e = *err;
		}
		w->cb(rr, id, rr < 0 ? &e : NULL, w->userdata);
		free(w->name);
		free(w->field);
		free(w);
		w = next;
	}
}

static void
on_fetched(int r, json_object *items, size_t pages, const struct errbuf *err,
    void *userdata)
{
	struct fetch *f = userdata;
	struct waiter *w = f->waiters;
	struct daemon *d = f->d;
	enum refdata_kind kind = f->kind;
	struct errbuf e;

	errbuf_clear(&e);
	if (r == 0) {
		r = refdata_load(cmdref_cache(d), kind, items, cmdref_now(d));
		if (r < 0) {
			errbuf_set(&e, ERR_API_ERROR, r,
			    "cannot keep the %s list (%zu records): %s",
			    refdata_kind_label(kind),
			    json_object_array_length(items), strerror(-r));
			err = &e;
		}
	}
	fetch_failed[kind] = r < 0;
	fetch_failed_at[kind] = cmdref_now(d);
	fetches[kind] = NULL;
	cmdref_client_close(&f->client);
	free(f);
	waiters_run(w, d, kind, r, err);
}

static int
add_waiter(struct fetch *f, const char *name, const char *field,
    cmdref_resolved_fn *cb, void *userdata)
{
	struct waiter *w = calloc(1, sizeof(*w));
	struct waiter **tail;

	if (!w) {
		return -ENOMEM;
	}
	w->cb = cb;
	w->userdata = userdata;
	if (name) {
		w->name = strdup(name);
		w->field = strdup(field ? field : "");
		if (!w->name || !w->field) {
			free(w->name);
			free(w->field);
			free(w);
			return -ENOMEM;
		}
	}
	for (tail = &f->waiters; *tail; tail = &(*tail)->next) {
	}
	*tail = w;
	return 0;
}

/* Starts (or joins) the fetch of kind and queues a waiter. */
static int
fetch_start(struct daemon *d, enum refdata_kind kind, const char *name,
    const char *field, cmdref_resolved_fn *cb, void *userdata,
    struct errbuf *reterr)
{
	struct cwapi_list_query q;
	struct fetch *f = fetches[kind];
	int r;

	if (f) {
		return add_waiter(f, name, field, cb, userdata);
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		return -ENOMEM;
	}
	f->d = d;
	f->kind = kind;
	r = cmdref_client_open(d, &f->client, reterr);
	if (r < 0) {
		free(f);
		return r;
	}
	r = add_waiter(f, name, field, cb, userdata);
	if (r < 0) {
		cmdref_client_close(&f->client);
		free(f);
		return r;
	}
	memset(&q, 0, sizeof(q));
	q.resource = refdata_resource(kind);
	q.fields = kind == REFDATA_CHARGE_CODE
	    ? "id,name,inactiveFlag,billTime,company,workType,workRole"
	    : "id,name,inactiveFlag";
	q.page_size = 1000;
	q.page_id = 0; /* forward-only: id order, no orderBy (6) */
	r = cmdref_list_all(&f->client, &q, 0, on_fetched, f);
	if (r < 0) {
		while (f->waiters) { /* never called: the caller gets r */
			struct waiter *w = f->waiters;

			f->waiters = w->next;
			free(w->name);
			free(w->field);
			free(w);
		}
		cmdref_client_close(&f->client);
		free(f);
		return errbuf_set(reterr, ERR_INTERNAL, r,
		    "cannot list %ss: %s", refdata_kind_label(kind),
		    strerror(-r));
	}
	fetches[kind] = f;
	return 0;
}

int
cmdref_fetch(struct daemon *d, enum refdata_kind kind, bool force,
    cmdref_resolved_fn *cb, void *userdata)
{
	struct errbuf e;

	if (kind >= REFDATA_KIND_COUNT) {
		return -EINVAL;
	}
	(void) force; /* a fetch always fetches; the caller decides when */
	return fetch_start(d, kind, NULL, NULL, cb, userdata, &e);
}

int
cmdref_resolve(struct daemon *d, enum refdata_kind kind, const char *name,
    const char *field_name, int64_t *ret_id, cmdref_resolved_fn *cb,
    void *userdata, struct errbuf *reterr)
{
	int r;

	if (kind >= REFDATA_KIND_COUNT || !name) {
		return -EINVAL;
	}
	r = refdata_resolve(cmdref_cache(d), kind, name, field_name,
	    cmdref_now(d), ret_id, reterr);
	if (r != -EAGAIN) {
		return r;
	}
	if (!cb) {
		return r;
	}
	r = fetch_start(d, kind, name, field_name, cb, userdata, reterr);
	return r < 0 ? r : -EINPROGRESS;
}

/* ---- names in queued entries ---- */

/*
 * A timer keeps its work type and role as the user typed them (the start
 * journals them before any list may exist, and must not wait for one).
 * They become ids here: at stop, from a fresh cache, straight into the
 * TIMER_STOPPED / ENTRY_QUEUED record; otherwise before the POST, through
 * the submitter's ready hook, as an ENTRY_EDITED record (or a local
 * REJECTED listing close matches). doc/design.md has the reasons.
 */

static const struct {
	const char *cw; /* the body's key, also the error's field */
	enum refdata_kind kind;
} body_refs[] = {
    {"workType", REFDATA_WORK_TYPE},
    {"workRole", REFDATA_WORK_ROLE},
};

/* The name of a by-name reference (no integer id), or NULL. */
static const char *
ref_name_only(json_object *body, const char *key)
{
	json_object *ref = NULL, *v = NULL;

	if (!body || !json_object_object_get_ex(body, key, &ref) ||
	    !json_object_is_type(ref, json_type_object)) {
		return NULL;
	}
	if (json_object_object_get_ex(ref, "id", &v) &&
	    json_object_is_type(v, json_type_int)) {
		return NULL;
	}
	if (!json_object_object_get_ex(ref, "name", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		return NULL;
	}
	return json_object_get_string(v);
}

bool
cmdref_body_has_names(json_object *body)
{
	for (size_t i = 0; i < ARRAY_SIZE(body_refs); i++) {
		if (ref_name_only(body, body_refs[i].cw)) {
			return true;
		}
	}
	return false;
}

int
cmdref_resolve_body(struct daemon *d, json_object *body,
    enum refdata_kind *ret_missing, struct errbuf *reterr)
{
	struct refdata *rd = cmdref_cache(d);
	int64_t ids[ARRAY_SIZE(body_refs)];
	bool any = false;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(body_refs); i++) {
		const char *name = ref_name_only(body, body_refs[i].cw);

		ids[i] = 0;
		if (!name) {
			continue;
		}
		any = true;
		r = refdata_resolve(rd, body_refs[i].kind, name,
		    body_refs[i].cw, cmdref_now(d), &ids[i], reterr);
		if (r == -EAGAIN && ret_missing) {
			*ret_missing = body_refs[i].kind;
		}
		if (r < 0) {
			return r; /* nothing changed */
		}
	}
	if (!any) {
		return 0;
	}
	/* all resolved: {"id": N, "name": ConnectWise's spelling}. The name
	 * rides along for people reading the queue; ConnectWise goes by the
	 * id when a reference has both (connectwise-api.md 3.3). */
	for (size_t i = 0; i < ARRAY_SIZE(body_refs); i++) {
		json_object *ref;
		const char *nm;

		if (ids[i] <= 0) {
			continue;
		}
		ref = json_object_new_object();
		if (!ref) {
			return -ENOMEM;
		}
		nm = refdata_name(rd, body_refs[i].kind, ids[i]);
		json_object_object_add(
		    ref, "id", json_object_new_int64(ids[i]));
		if (nm) {
			json_object_object_add(
			    ref, "name", json_object_new_string(nm));
		}
		json_object_object_add(body, body_refs[i].cw, ref);
	}
	return 1;
}

/* One background waiter per kind on the fetch in flight (started here
 * or by a command), so that its end kicks the submitter exactly once. */
static struct warm {
	struct daemon *d;
	bool waiting;
} warms[REFDATA_KIND_COUNT];

static void
on_warmed(int r, int64_t id, const struct errbuf *err, void *userdata)
{
	struct warm *w = userdata;

	(void) r;
	(void) id;
	(void) err;
	w->waiting = false;
	/* entries waiting for this list are looked at again */
	if (w->d->submitter) {
		submitter_kick(w->d->submitter);
	}
}

/* Starts the fetch of kind, or joins the one in flight. 0 or -errno. */
static int
warm_join(struct daemon *d, enum refdata_kind kind)
{
	struct warm *w = &warms[kind];
	struct errbuf e;
	int r;

	if (w->waiting) {
		return 0;
	}
	w->d = d;
	errbuf_clear(&e);
	r = fetch_start(d, kind, NULL, NULL, on_warmed, w, &e);
	if (r == 0) {
		w->waiting = true;
	}
	return r;
}

void
cmdref_warm(struct daemon *d, enum refdata_kind kind)
{
	struct errbuf e;

	errbuf_clear(&e);
	if (kind >= REFDATA_KIND_COUNT ||
	    refdata_fresh(cmdref_cache(d), kind, cmdref_now(d)) ||
	    !daemon_api_usable(d, &e)) {
		return;
	}
	/* a fetch that cannot start is tried again at the next need */
	(void) warm_join(d, kind);
}

void
cmdref_warm_body(struct daemon *d, json_object *body)
{
	for (size_t i = 0; i < ARRAY_SIZE(body_refs); i++) {
		if (ref_name_only(body, body_refs[i].cw)) {
			cmdref_warm(d, body_refs[i].kind);
		}
	}
}

/* An ENTRY_EDITED or REJECTED of the ready hook while it commits. */
struct fixup {
	struct fixup *next;
	struct daemon *d;
	char uuid[ENTRY_UUID_LEN];
};

static struct fixup *fixups;

static struct fixup *
fixup_find(const char *uuid)
{
	for (struct fixup *f = fixups; f; f = f->next) {
		if (strcmp(f->uuid, uuid) == 0) {
			return f;
		}
	}
	return NULL;
}

static void
on_fixup_committed(void *userdata, int status, const struct errbuf *err)
{
	struct fixup *f = userdata, **pp;

	(void) status; /* failed: the entry is as it was; tried again */
	(void) err;
	for (pp = &fixups; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	if (f->d->submitter) {
		submitter_unclaim(f->d->submitter, f->uuid);
		submitter_kick(f->d->submitter);
	}
	free(f);
}

/* Journals one record about uuid (payload borrowed) while the submitter
 * leaves the entry alone. Returns 0 or a negative errno. */
static int
fixup_journal(struct daemon *d, const char *uuid, uint16_t type,
    json_object *payload)
{
	struct fixup *f;
	struct errbuf e;
	int r;

	if (!d->journal || !submitter_claim(d->submitter, uuid)) {
		return -EBUSY;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		submitter_unclaim(d->submitter, uuid);
		return -ENOMEM;
	}
	f->d = d;
	snprintf(f->uuid, sizeof(f->uuid), "%s", uuid);
	errbuf_clear(&e);
	r = journal_append(d->journal, type, payload, false,
	    on_fixup_committed, f, &e);
	if (r < 0) {
		submitter_unclaim(d->submitter, uuid);
		free(f);
		return r;
	}
	f->next = fixups;
	fixups = f;
	return 0;
}

/* A fetch that failed less than this long ago is not waited for again:
 * the entry goes with its names, which ConnectWise resolves itself. */
#define CMDREF_FALLBACK_S 300

bool
cmdref_entry_ready(void *ctx, const char *uuid, json_object *body)
{
	struct daemon *d = ctx;
	CLEANUP_JSON json_object *copy = NULL;
	CLEANUP_JSON json_object *p = NULL;
	enum refdata_kind missing = REFDATA_KIND_INVALID;
	struct errbuf e;
	int r;

	if (!cmdref_body_has_names(body)) {
		return true; /* the common case: ids, or nothing named */
	}
	if (fixup_find(uuid)) {
		return false; /* its record is committing */
	}
	if (json_object_deep_copy(body, &copy, NULL) < 0 || !copy) {
		return true; /* ENOMEM: send the names */
	}
	errbuf_clear(&e);
	r = cmdref_resolve_body(d, copy, &missing, &e);
	if (r == -EAGAIN) {
		if (missing < REFDATA_KIND_COUNT && fetch_failed[missing] &&
		    cmdref_now(d) - fetch_failed_at[missing] <
			CMDREF_FALLBACK_S) {
			/* the list cannot be had just now: send the names
			 * rather than hold the time back (and never refetch
			 * in a loop); one fetch per period after that */
			return true;
		}
		if (missing >= REFDATA_KIND_COUNT ||
		    warm_join(d, missing) < 0) {
			return true; /* cannot fetch: send the names */
		}
		return false; /* on_warmed kicks the submitter */
	}
	p = json_object_new_object();
	if (!p) {
		return true;
	}
	json_object_object_add(p, "uuid", json_object_new_string(uuid));
	if (r == 1) {
		json_object_object_add(p, "body", json_object_get(copy));
		return fixup_journal(d, uuid, JOURNAL_REC_ENTRY_EDITED, p) < 0;
	}
	if (r == -ENOENT || r == -ENOTUNIQ || r == -EINVAL) {
		char msg[sizeof(e.msg)];

		/* never sent: ConnectWise would refuse the name (or pick
		 * one of several); a person decides (queue edit) */
		snprintf(msg, sizeof(msg), "%.400s; not sent: fix it with "
		    "'cwtimectl queue edit' and re-queue", e.msg);
		json_object_object_add(p, "status", json_object_new_int(0));
		json_object_object_add(
		    p, "code", json_object_new_string(errcode_name(e.code)));
		json_object_object_add(
		    p, "message", json_object_new_string(msg));
		json_object_object_add(
		    p, "field", json_object_new_string(e.field));
		json_object_object_add(p, "attempts", json_object_new_int(0));
		json_object_object_add(p, "local", json_object_new_boolean(1));
		(void) fixup_journal(d, uuid, JOURNAL_REC_REJECTED, p);
		return false;
	}
	return true; /* ENOMEM and the like: send the names */
}

/* ---- errors ---- */

static void
append(struct errbuf *e, const char *text)
{
	size_t len = strlen(e->msg);

	(void) snprintf(e->msg + len, sizeof(e->msg) - len, "%s", text);
}

static bool
has(const char *hay, const char *needle)
{
	return hay && strstr(hay, needle) != NULL;
}

void
cmdref_explain(struct errbuf *e, const struct cwapi_result *res)
{
	const char *f = e->field;

	if (res && res->status == 429) {
		/* connectwise-api.md 9: this body says "error", not "code". */
		append(e,
		    res->retry_after
			? " (rate limited by ConnectWise; try again after the "
			  "Retry-After delay)"
			: " (rate limited by ConnectWise; try again later)");
		return;
	}
	if (strcmp(f, "chargeToId") == 0 || strcmp(f, "chargeToType") == 0) {
		if (has(e->msg, "required")) {
			append(e,
			    " (the entry needs something to charge: a "
			    "ticket, project:ID, code:NAME or company "
			    "target)");
		} else if (has(e->msg, "not found")) {
			append(e,
			    " (check the ticket, project or charge code "
			    "number)");
		}
	} else if (strcmp(f, "member") == 0) {
		append(e,
		    has(e->msg, "not found")
			? " (no such member: check [api] member in "
			  "cwtimed.conf)"
			: " (the entry needs a member: set [api] member in "
			  "cwtimed.conf to your member identifier)");
	} else if (strcmp(f, "timeStart") == 0) {
		append(e, " (the entry needs a start time)");
	} else if (strcmp(f, "workType") == 0) {
		append(e,
		    " (unknown or inactive work type: see 'cwtimectl "
		    "worktypes --refresh')");
	} else if (strcmp(f, "workRole") == 0) {
		append(e,
		    " (unknown or inactive work role: see 'cwtimectl "
		    "roles --refresh')");
	} else if (strcmp(f, "status") == 0 && has(e->msg, "billed")) {
		append(e, " (a billed entry cannot be changed or deleted)");
	} else if (strcmp(f, "status") == 0) {
		append(e,
		    " (status values: Open, Rejected, PendingApproval, "
		    "ApprovedByTierOne, ApprovedByTierTwo, ReadyToBill, "
		    "Billed ...)");
	} else if (strcmp(f, "timeSheet") == 0 ||
	    has(e->msg, "time sheet is not open")) {
		append(e,
		    " (its time sheet is submitted or approved: reverse "
		    "the sheet first with 'cwtimectl sheet reverse')");
	}
}

void
cmdref_fail_result(struct request *req, const struct cwapi_result *res)
{
	struct errbuf e = res->err;

	if (e.code == ERR_OK) {
		e.code = ERR_API_ERROR;
	}
	cmdref_explain(&e, res);
	request_fail(req, &e);
}

/* ---- commands: worktypes, roles, codes ---- */

/*
 * An asynchronous request waiting for something that may outlive it (a
 * fetch shared with other askers): the request's free function only
 * detaches it, and whoever finishes first frees the op.
 */
struct listop {
	struct request *req;
	enum refdata_kind kind;
};

static void
on_listop_req_freed(void *data)
{
	struct listop *op = data;

	op->req = NULL; /* shutdown: the fetch's callback frees op later */
}

/* Replies with the cached list: hundreds of charge codes pass a line,
 * so the items go in parts (cmd-more.h). */
static void
reply_list(struct request *req, enum refdata_kind kind)
{
	struct daemon *d = request_daemon(req);
	const struct refdata *rd = cmdref_cache(d);
	json_object *raw = refdata_raw(rd, kind);
	CLEANUP_JSON json_object *none = raw ? NULL : json_object_new_array();
	json_object *o = json_object_new_object();

	if (!o || (!raw && !none)) {
		json_object_put(o);
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	json_object_object_add(
	    o, "kind", json_object_new_string(refdata_kind_label(kind)));
	json_object_object_add(o, "age_s",
	    json_object_new_int64(cmdref_now(d) - rd->lists[kind].loaded_at));
	json_object_object_add(o, "ttl_s", json_object_new_int64(rd->ttl_s));
	request_reply_list(req, o, "items", raw ? raw : none);
}

static void
on_list_fetched(int r, int64_t id, const struct errbuf *err, void *userdata)
{
	struct listop *op = userdata;
	struct request *req = op->req;
	enum refdata_kind kind = op->kind;

	if (!req) {
		free(op); /* the request was failed at shutdown */
		return;
	}
	request_set_data(req, NULL, NULL); /* detaches op */
	free(op);
	if (r < 0) {
		request_fail(req, err);
		return;
	}
	reply_list(req, kind);
}

static void
cmd_list(struct request *req, enum refdata_kind kind)
{
	struct daemon *d = request_daemon(req);
	struct listop *op;
	struct errbuf e;
	int r;

	if (!request_arg_bool(req, "refresh", false) &&
	    refdata_fresh(cmdref_cache(d), kind, cmdref_now(d))) {
		reply_list(req, kind);
		return;
	}
	op = calloc(1, sizeof(*op));
	if (!op) {
		request_failf(req, ERR_INTERNAL, NULL, "out of memory");
		return;
	}
	op->req = req;
	op->kind = kind;
	errbuf_clear(&e);
	r = fetch_start(d, kind, NULL, NULL, on_list_fetched, op, &e);
	if (r < 0) {
		free(op);
		if (e.code == ERR_OK) {
			errbuf_set(&e, ERR_INTERNAL, r, "%s", strerror(-r));
		}
		request_fail(req, &e);
		return;
	}
	request_set_data(req, op, on_listop_req_freed);
	request_defer(req);
}

static void
cmd_worktypes(struct request *req)
{
	cmd_list(req, REFDATA_WORK_TYPE);
}

static void
cmd_roles(struct request *req)
{
	cmd_list(req, REFDATA_WORK_ROLE);
}

static void
cmd_codes(struct request *req)
{
	cmd_list(req, REFDATA_CHARGE_CODE);
}

static const struct param_spec refresh_params[] = {
    {"refresh", PARAM_BOOL, 0},
    {NULL, 0, 0},
};

static const struct cmd ref_cmds[] = {
    /* keep sorted by name */
    {"codes", cmd_codes, CMD_NEEDS_API, refresh_params},
    {"roles", cmd_roles, CMD_NEEDS_API, refresh_params},
    {"worktypes", cmd_worktypes, CMD_NEEDS_API, refresh_params},
};

const struct cmd_table cmd_ref_table = {ref_cmds, ARRAY_SIZE(ref_cmds)};
