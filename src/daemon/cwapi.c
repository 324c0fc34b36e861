/*
 * cwapi.c - ConnectWise requests on an injected HTTP transport.
 *
 * Builds each request (base URL, Authorization, clientId, the Accept
 * header that pins the model version, Content-Type on bodies), sends it
 * through struct http_transport and turns the reply into a struct
 * cwapi_result: the class of connectwise-api.md section 12, the parsed
 * JSON, and on failure ConnectWise's own message and field.
 *
 * Invariants:
 * - no curl here; the transport is injected (http.c, or a test's fake);
 * - secrets exist in request form only for the duration of a submit and
 *   are wiped right after (the transport keeps its own copy until the
 *   request ends); they never reach a result, a message or a URL;
 * - a URL from a Link header is followed only when it lies under our own
 *   base URL, so credentials never go to another host;
 * - with [api] site, calls wait for the codebase lookup; a 404 on a
 *   collection path forgets the codebase, so the next call looks it up
 *   again (connectwise-api.md section 1);
 * - callbacks may cancel calls or free the client; the client is then
 *   freed when the outermost callback returns.
 * Does not log.
 */
#define _GNU_SOURCE 1 /* vasprintf */
#include "daemon/cwapi.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/base64.h"
#include "common/cleanup.h"
#include "common/jsonutil.h"
#include "common/timeparse.h"
#include "core/backoff.h"
#include "daemon/config.h"
#include "daemon/http.h"

#define CWAPI_JSON_DEPTH 64
#define CWAPI_LINK_MAX 4096

enum call_kind {
	KIND_PLAIN,	 /* result is the parsed body */
	KIND_POST_ENTRY, /* POST /time/entries: id, post outcome */
	KIND_ENTRY,	 /* one record: id when the reply has one */
	KIND_COUNT,	 /* {"count": N}: id = N */
	KIND_LOOKUP,	 /* /login/companyinfo/COMPANY */
};

enum call_state {
	CALL_WAIT_BASE, /* waits for the codebase lookup */
	CALL_QUEUED,	/* waits for the pacer */
	CALL_SENT,	/* with the transport (tid > 0) */
};

struct cwapi_call {
	struct cwapi *api;
	enum call_state state;
	struct cwapi_call *prev, *next;
	int64_t id;  /* ours, returned to the caller */
	int64_t tid; /* the transport's while CALL_SENT, else 0 */
	enum call_kind kind;
	enum classify_method method;
	enum classify_path path_kind;
	char *target; /* path under the base, or an absolute URL */
	bool absolute;
	char *body; /* NULL: none */
	size_t body_len;
	unsigned http_flags;
	bool forward_only;
	enum errcode gone_code;
	cwapi_done_fn *cb;
	void *userdata;
};

struct cwapi {
	char *url;
	char *site;
	char *company;
	char *api_version;
	struct cwapi_config cfg; /* numbers; strings point at the copies */
	const struct secret *secret;
	struct http_transport *t;
	char *base; /* NULL while unknown (site mode) */
	struct cwapi_call *calls;
	int64_t next_id;
	struct backoff_pacer pacer;
	struct cwapi_clock clock;
	bool has_clock;
	int busy;  /* callbacks running */
	bool dead; /* cwapi_free ran inside a callback */
};

static void
call_free(struct cwapi_call *c)
{
	if (!c) {
		return;
	}
	free(c->target);
	free(c->body);
	free(c);
}

static void
call_link(struct cwapi *api, struct cwapi_call *c)
{
	c->api = api;
	c->next = api->calls;
	if (api->calls) {
		api->calls->prev = c;
	}
	api->calls = c;
}

static void
call_unlink(struct cwapi_call *c)
{
	struct cwapi *api = c->api;

	if (c->prev) {
		c->prev->next = c->next;
	} else if (api->calls == c) {
		api->calls = c->next;
	}
	if (c->next) {
		c->next->prev = c->prev;
	}
	c->prev = c->next = NULL;
}

static void
api_destroy(struct cwapi *api)
{
	free(api->url);
	free(api->site);
	free(api->company);
	free(api->api_version);
	free(api->base);
	free(api);
}

/* Appends printable text, control characters as spaces. A multi-byte
 * UTF-8 sequence is copied only when all of it fits, so truncation never
 * leaves half a character. */
static void
append_clean(char *dst, size_t size, const char *src)
{
	size_t o = strlen(dst);

	for (; src && *src && o + 1 < size; src++) {
		unsigned char ch = (unsigned char) *src;
		size_t seq = 1;

		if (ch >= 0xf0) {
			seq = 4;
		} else if (ch >= 0xe0) {
			seq = 3;
		} else if (ch >= 0xc0) {
			seq = 2;
		}
		if (o + seq >= size) {
			break;
		}
		dst[o++] = ch < 0x20 || ch == 0x7f ? ' ' : (char) ch;
	}
	dst[o] = '\0';
}

/* Parses untrusted text with a depth-limited tokener; NULL on error. */
static struct json_object *
parse_json(const char *text, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;
	size_t used;

	if (!text || len == 0 || len > INT32_MAX) {
		return NULL;
	}
	tok = json_tokener_new_ex(CWAPI_JSON_DEPTH);
	if (!tok) {
		return NULL;
	}
	o = json_tokener_parse_ex(tok, text, (int) len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		json_tokener_free(tok);
		return NULL;
	}
	used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	for (; used < len; used++) {
		if (!strchr(" \t\r\n", text[used])) {
			json_object_put(o); /* trailing garbage */
			return NULL;
		}
	}
	return o;
}

void
cwapi_parse_error(int status, const char *body, size_t len, enum errcode code,
    struct errbuf *reterr, char *ret_code, size_t code_size)
{
	CLEANUP_JSON json_object *o = parse_json(body, len);
	struct json_object *errors = NULL;
	const char *top_code, *message;
	bool nested = false;

	if (ret_code && code_size > 0) {
		ret_code[0] = '\0';
	}
	if (!reterr) {
		return;
	}
	errbuf_clear(reterr);
	reterr->code = code;
	if (!o || !json_object_is_type(o, json_type_object)) {
		snprintf(reterr->msg, sizeof(reterr->msg),
		    "ConnectWise: HTTP %d", status);
		return;
	}
	/* The 429 body says "error" where the others say "code". */
	top_code = jsonutil_str(o, "code");
	if (!top_code) {
		top_code = jsonutil_str(o, "error");
	}
	if (top_code && ret_code && code_size > 0) {
		append_clean(ret_code, code_size, top_code);
	}
	message = jsonutil_str(o, "message");
	snprintf(reterr->msg, sizeof(reterr->msg), "ConnectWise: ");
	if (json_object_object_get_ex(o, "errors", &errors) &&
	    json_object_is_type(errors, json_type_array)) {
		size_t n = json_object_array_length(errors);

		for (size_t i = 0; i < n; i++) {
			struct json_object *e =
			    json_object_array_get_idx(errors, i);
			const char *res = jsonutil_str(e, "resource");
			const char *field = jsonutil_str(e, "field");
			const char *msg = jsonutil_str(e, "message");

			if (!msg && !field) {
				continue;
			}
			if (nested) {
				append_clean(
				    reterr->msg, sizeof(reterr->msg), "; ");
			} else if (field) {
				char clean[sizeof(reterr->field)] = "";

				append_clean(clean, sizeof(clean), field);
				errbuf_set_field(reterr, clean);
			}
			nested = true;
			if (res && *res) {
				append_clean(
				    reterr->msg, sizeof(reterr->msg), res);
				append_clean(
				    reterr->msg, sizeof(reterr->msg), ": ");
			}
			if (field && *field) {
				append_clean(
				    reterr->msg, sizeof(reterr->msg), field);
				append_clean(
				    reterr->msg, sizeof(reterr->msg), ": ");
			}
			append_clean(reterr->msg, sizeof(reterr->msg),
			    msg ? msg : "invalid");
		}
	}
	if (!nested) {
		if (message && *message) {
			append_clean(reterr->msg, sizeof(reterr->msg), message);
		} else if (top_code && *top_code) {
			append_clean(
			    reterr->msg, sizeof(reterr->msg), top_code);
		} else {
			snprintf(reterr->msg, sizeof(reterr->msg),
			    "ConnectWise: HTTP %d", status);
		}
	}
}

int
cwapi_link_next(const char *link, char *buf, size_t size)
{
	const char *p = link;

	while (p && *p) {
		const char *url, *url_end, *params, *end;
		bool quoted = false, is_next = false;

		while (*p == ' ' || *p == '\t' || *p == ',') {
			p++;
		}
		if (*p != '<') {
			return -ENOENT; /* not a link-value: stop */
		}
		url = p + 1;
		url_end = strchr(url, '>');
		if (!url_end) {
			return -ENOENT;
		}
		params = url_end + 1;
		/* The parameters run to the next comma outside quotes. */
		for (end = params; *end && (quoted || *end != ','); end++) {
			if (*end == '"') {
				quoted = !quoted;
			}
		}
		for (const char *q = params; q < end; q++) {
			if (strncasecmp(q, "rel", 3) != 0) {
				continue;
			}
			q += 3;
			while (q < end && (*q == ' ' || *q == '\t')) {
				q++;
			}
			if (q >= end || *q != '=') {
				continue;
			}
			q++;
			while (
			    q < end && (*q == ' ' || *q == '\t' || *q == '"')) {
				q++;
			}
			/* rel may list several space-separated types */
			while (q < end && *q != '"' && *q != ';') {
				size_t n = strcspn(q, " \t\";,");

				if (n == 4 && strncasecmp(q, "next", 4) == 0) {
					is_next = true;
				}
				q += n ? n : 1; /* a stray ',' inside quotes */
				while (q < end && (*q == ' ' || *q == '\t')) {
					q++;
				}
			}
			break;
		}
		if (is_next) {
			size_t n = (size_t) (url_end - url);

			if (n + 1 > size) {
				return -ENOBUFS;
			}
			memcpy(buf, url, n);
			buf[n] = '\0';
			return 0;
		}
		p = end;
	}
	return -ENOENT;
}

static char *
dup_or_null(const char *s, bool *failed)
{
	char *d;

	if (!s) {
		return NULL;
	}
	d = strdup(s);
	if (!d) {
		*failed = true;
	}
	return d;
}

int
cwapi_new(const struct cwapi_config *cfg, const struct secret *secret,
    struct http_transport *transport, struct cwapi **ret, struct errbuf *reterr)
{
	struct cwapi *api;
	bool failed = false;
	int r;

	if (!cfg || !transport || !cfg->company || !*cfg->company ||
	    ((!cfg->url || !*cfg->url) && (!cfg->site || !*cfg->site))) {
		return errbuf_set(
		    reterr, ERR_API_NOT_CONFIGURED, -EINVAL, "%s", "");
	}
	if (cfg->url) {
		r = http_url_check(cfg->url, reterr);
		if (r < 0) {
			return r;
		}
	} else if (strpbrk(cfg->site, "/?#@ \t")) {
		return errbuf_set(reterr, ERR_CONFIG, -EINVAL,
		    "[api] site must be a host name (with an optional :port), "
		    "not '%.200s'",
		    cfg->site);
	}
	api = calloc(1, sizeof(*api));
	if (!api) {
		return -ENOMEM;
	}
	api->cfg = *cfg;
	api->url = dup_or_null(cfg->url, &failed);
	api->site = dup_or_null(cfg->site, &failed);
	api->company = dup_or_null(cfg->company, &failed);
	api->api_version = dup_or_null(
	    cfg->api_version ? cfg->api_version : CWAPI_DEFAULT_VERSION,
	    &failed);
	if (api->url) {
		size_t n = strlen(api->url);

		while (n > 0 && api->url[n - 1] == '/') {
			api->url[--n] = '\0';
		}
		api->base = dup_or_null(api->url, &failed);
	}
	if (failed) {
		api_destroy(api);
		return -ENOMEM;
	}
	api->cfg.url = api->url;
	api->cfg.site = api->site;
	api->cfg.company = api->company;
	api->cfg.api_version = api->api_version;
	api->secret = secret;
	api->t = transport;
	if (cfg->clock && cfg->clock->now_ms && cfg->clock->arm) {
		api->clock = *cfg->clock;
		api->has_clock = true;
	}
	api->cfg.clock = NULL;
	/* Without a clock nothing could wake a call waiting for a token, so
	 * only the in-flight cap applies (completions wake those). */
	backoff_pacer_init(&api->pacer, api->has_clock ? cfg->max_rate : 0,
	    cfg->max_in_flight ? cfg->max_in_flight : UINT32_MAX,
	    api->has_clock ? api->clock.now_ms(api->clock.userdata) : 0);
	*ret = api;
	return 0;
}

void
cwapi_free(struct cwapi *api)
{
	if (!api || api->dead) {
		return;
	}
	while (api->calls) {
		struct cwapi_call *c = api->calls;

		if (c->state == CALL_SENT) {
			api->t->cancel(api->t, c->tid);
		}
		call_unlink(c);
		call_free(c);
	}
	if (api->has_clock) {
		api->clock.arm(api->clock.userdata, -1);
	}
	if (api->busy > 0) {
		api->dead = true; /* freed when the callback returns */
		return;
	}
	api_destroy(api);
}

void
cwapi_set_secret(struct cwapi *api, const struct secret *secret)
{
	api->secret = secret;
}

static bool dispatch(struct cwapi *api);

void
cwapi_cancel(struct cwapi *api, int64_t id)
{
	for (struct cwapi_call *c = api->calls; c; c = c->next) {
		if (c->id == id && c->kind != KIND_LOOKUP) {
			bool sent = c->state == CALL_SENT;

			if (sent) {
				api->t->cancel(api->t, c->tid);
				backoff_pacer_done(&api->pacer);
			}
			call_unlink(c);
			call_free(c);
			if (sent && api->has_clock) {
				/* A slot is free: send from the next kick, not
				 * from inside this call. */
				api->clock.arm(api->clock.userdata, 0);
			} else if (sent) {
				(void) dispatch(api);
			}
			return;
		}
	}
}

void
cwapi_kick(struct cwapi *api)
{
	(void) dispatch(api);
}

const char *
cwapi_base_url(const struct cwapi *api)
{
	return api->base ? api->base : "";
}

/* Runs a callback; frees the client afterwards if it was freed inside. */
static bool
deliver(struct cwapi *api, cwapi_done_fn *cb, void *userdata,
    const struct cwapi_result *res)
{
	if (!cb) {
		return !api->dead;
	}
	api->busy++;
	cb(res, userdata);
	api->busy--;
	if (api->dead && api->busy == 0) {
		api_destroy(api);
		return false;
	}
	return !api->dead;
}

static void on_http_done(const struct http_response *resp, void *userdata);
static int lookup_start(struct cwapi *api, struct cwapi_call *requester);

/* "Name: value" in a new string. */
static char *
header_line(const char *name, const char *v1, const char *v2, const char *v3)
{
	size_t n = strlen(name) + 2 + strlen(v1) + (v2 ? strlen(v2) : 0) +
	    (v3 ? strlen(v3) : 0) + 1;
	char *s = malloc(n);

	if (s) {
		snprintf(
		    s, n, "%s: %s%s%s", name, v1, v2 ? v2 : "", v3 ? v3 : "");
	}
	return s;
}

static void
wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Hands one call to the transport. Returns the transport id or -errno. */
static int64_t
call_submit(struct cwapi *api, struct cwapi_call *c)
{
	struct http_request req;
	char *lines[6] = {NULL};
	char *url = NULL;
	size_t nl = 0;
	int64_t r = -ENOMEM;

	memset(&req, 0, sizeof(req));
	req.method = c->method;
	req.flags = c->http_flags;
	req.connect_timeout_ms = api->cfg.connect_timeout_ms;
	req.total_timeout_ms = api->cfg.total_timeout_ms;
	req.low_speed_time_s = api->cfg.low_speed_time_s;
	req.body_max = api->cfg.body_max;
	req.body = c->body;
	req.body_len = c->body_len;
	if (c->absolute) {
		url = strdup(c->target);
	} else {
		size_t n = strlen(api->base) + strlen(c->target) + 1;

		url = malloc(n);
		if (url) {
			snprintf(url, n, "%s%s", api->base, c->target);
		}
	}
	if (!url) {
		goto out;
	}
	req.url = url;

	if (c->kind == KIND_LOOKUP) {
		/* Sent without authentication (connectwise-api.md 1). */
		lines[nl] =
		    header_line("Accept", "application/json", NULL, NULL);
		if (!lines[nl++]) {
			goto out;
		}
	} else {
		const struct secret *s = api->secret;
		char *cred, *b64;
		size_t cn, bn;
		ssize_t bl;

		if (!s || !s->public_key || !s->private_key || !s->client_id) {
			r = -ENOKEY;
			goto out;
		}
		cn = strlen(api->company) + 1 + strlen(s->public_key) + 1 +
		    strlen(s->private_key) + 1;
		cred = malloc(cn);
		if (!cred) {
			goto out;
		}
		snprintf(cred, cn, "%s+%s:%s", api->company, s->public_key,
		    s->private_key);
		bn = base64_encoded_len(cn - 1) + 1;
		b64 = malloc(bn);
		bl = b64 ? base64_encode(cred, cn - 1, b64, bn) : -ENOMEM;
		wipe_free(cred);
		if (bl < 0) {
			free(b64);
			goto out;
		}
		lines[nl] = header_line("Authorization", "Basic ", b64, NULL);
		wipe_free(b64);
		if (!lines[nl++]) {
			goto out;
		}
		lines[nl] = header_line("clientId", s->client_id, NULL, NULL);
		if (!lines[nl++]) {
			goto out;
		}
		lines[nl] = header_line("Accept",
		    "application/vnd.connectwise.com+json; version=",
		    api->api_version, NULL);
		if (!lines[nl++]) {
			goto out;
		}
		if (c->body) {
			lines[nl] = header_line(
			    "Content-Type", "application/json", NULL, NULL);
			if (!lines[nl++]) {
				goto out;
			}
		}
		if (c->forward_only) {
			lines[nl] = header_line(
			    "pagination-type", "forward-only", NULL, NULL);
			if (!lines[nl++]) {
				goto out;
			}
		}
	}
	for (size_t i = 0; i < nl; i++) {
		req.headers[i] = lines[i];
	}
	r = api->t->submit(api->t, &req, on_http_done, c);
	if (r >= 0 && api->cfg.on_send) {
		api->cfg.on_send(api->cfg.on_send_userdata);
	}
out:
	for (size_t i = 0; i < nl; i++) {
		wipe_free(lines[i]); /* the transport has its own copy */
	}
	free(url);
	return r;
}

/* Fills a result for a call that never got a reply of its own. */
static void
result_local(struct cwapi_result *res, const struct cwapi_call *c,
    enum classify_class cls, enum classify_xfer xfer, enum errcode code,
    const char *msg)
{
	memset(res, 0, sizeof(*res));
	res->cls = cls;
	res->xfer = xfer;
	res->id = -1;
	res->post = CLASSIFY_POST_COUNT;
	if (c->kind == KIND_POST_ENTRY) {
		/* Nothing was sent: the entry itself was not judged. */
		res->post = cls == CLASSIFY_ACCOUNT
		    ? CLASSIFY_POST_PENDING_PAUSE
		    : CLASSIFY_POST_PENDING;
	}
	res->err.code = code;
	snprintf(res->err.msg, sizeof(res->err.msg), "%s", msg);
}

static int64_t
now_ms(struct cwapi *api)
{
	return api->has_clock ? api->clock.now_ms(api->clock.userdata) : 0;
}

static bool
queued_any(const struct cwapi *api)
{
	for (const struct cwapi_call *c = api->calls; c; c = c->next) {
		if (c->state == CALL_QUEUED) {
			return true;
		}
	}
	return false;
}

/* Asks for a kick when the pacer will have a token (not for a free slot:
 * a completion brings that). */
static void
pacer_arm(struct cwapi *api, int64_t now)
{
	int64_t w = backoff_pacer_wait(&api->pacer, now);

	if (api->has_clock && w >= 0) {
		api->clock.arm(api->clock.userdata, w);
	}
}

void
cwapi_charge(struct cwapi *api)
{
	int64_t now;

	if (!api || !api->has_clock) {
		return;
	}
	now = now_ms(api);
	backoff_pacer_charge(&api->pacer, now);
	if (queued_any(api)) {
		pacer_arm(api, now); /* the wait just grew */
	}
}

/* Sends c now if the pacer allows and nothing older waits, else queues
 * it. On failure c is freed and its callback never runs. */
static int64_t
call_go(struct cwapi *api, struct cwapi_call *c)
{
	int64_t now = now_ms(api), tid;

	if (!queued_any(api) && backoff_pacer_wait(&api->pacer, now) == 0) {
		tid = call_submit(api, c);
		if (tid < 0) {
			call_free(c);
			return tid;
		}
		backoff_pacer_take(&api->pacer, now);
		c->tid = tid;
		c->state = CALL_SENT;
		call_link(api, c);
		return c->id;
	}
	c->state = CALL_QUEUED;
	call_link(api, c);
	pacer_arm(api, now);
	return c->id;
}

/* Starts a new call: after the lookup when the base is unknown, else
 * through the pacer. On failure the call is freed and the callback never
 * runs. */
static int64_t
call_start(struct cwapi *api, struct cwapi_call *c)
{
	const struct secret *s = api->secret;

	if (!s || !s->public_key || !s->private_key || !s->client_id) {
		call_free(c);
		return -ENOKEY; /* nothing can be sent without them */
	}
	c->id = ++api->next_id;
	if (!c->absolute && !api->base) {
		int r;

		c->state = CALL_WAIT_BASE;
		call_link(api, c);
		r = lookup_start(api, c);
		if (r < 0) {
			call_unlink(c);
			call_free(c);
			return r;
		}
		return c->id;
	}
	return call_go(api, c);
}

/* Sends queued calls while the pacer allows. Returns false when the
 * client was freed by a callback. */
static bool
dispatch(struct cwapi *api)
{
	for (;;) {
		struct cwapi_call *c = NULL;
		struct cwapi_result res;
		int64_t now, w, tid;

		/* The oldest queued call first (the list is newest first). */
		for (struct cwapi_call *q = api->calls; q; q = q->next) {
			if (q->state == CALL_QUEUED) {
				c = q;
			}
		}
		if (!c) {
			return true;
		}
		if (!c->absolute && !api->base) {
			/* The codebase was forgotten (a 404) while it waited.
			 */
			c->state = CALL_WAIT_BASE;
			if (lookup_start(api, c) == 0) {
				continue;
			}
			result_local(&res, c, CLASSIFY_RETRY,
			    CLASSIFY_XFER_LOCAL, ERR_INTERNAL,
			    "cannot look up the codebase");
		} else {
			now = now_ms(api);
			w = backoff_pacer_wait(&api->pacer, now);
			if (w != 0) {
				pacer_arm(api, now);
				return true;
			}
			tid = call_submit(api, c);
			if (tid > 0) {
				backoff_pacer_take(&api->pacer, now);
				c->tid = tid;
				c->state = CALL_SENT;
				continue;
			}
			result_local(&res, c, CLASSIFY_RETRY,
			    CLASSIFY_XFER_LOCAL,
			    tid == -ENOKEY ? ERR_API_NOT_CONFIGURED
					   : ERR_INTERNAL,
			    tid == -ENOKEY
				? errcode_message(ERR_API_NOT_CONFIGURED)
				: "cannot send the request");
		}
		call_unlink(c);
		if (!deliver(api, c->cb, c->userdata, &res)) {
			call_free(c);
			return false;
		}
		call_free(c);
	}
}

static bool
lookup_running(const struct cwapi *api)
{
	for (const struct cwapi_call *c = api->calls; c; c = c->next) {
		if (c->kind == KIND_LOOKUP) {
			return true;
		}
	}
	return false;
}

static int
lookup_start(struct cwapi *api, struct cwapi_call *requester)
{
	struct cwapi_call *c;
	CLEANUP_FREE char *company = NULL;
	size_t n;
	int64_t tid;

	if (lookup_running(api)) {
		return 0;
	}
	if (!api->site) {
		return -EINVAL; /* url mode has a base from the start */
	}
	company = http_escape(api->company);
	c = calloc(1, sizeof(*c));
	if (!company || !c) {
		free(c);
		return -ENOMEM;
	}
	n = strlen("https://") + strlen(api->site) +
	    strlen("/login/companyinfo/") + strlen(company) + 1;
	c->target = malloc(n);
	if (!c->target) {
		call_free(c);
		return -ENOMEM;
	}
	snprintf(c->target, n, "https://%s/login/companyinfo/%s", api->site,
	    company);
	c->absolute = true;
	c->kind = KIND_LOOKUP;
	c->method = CLASSIFY_GET;
	/* A 401 or 404 here means a wrong site: account-wide. */
	c->path_kind = CLASSIFY_PATH_COLLECTION;
	c->gone_code = ERR_CONFIG;
	c->id = requester ? 0 : ++api->next_id;
	tid = call_go(api, c);
	return tid < 0 ? (int) tid : 0;
}

int64_t
cwapi_lookup(struct cwapi *api, cwapi_done_fn *cb, void *userdata)
{
	int r;

	if (!api->site) {
		return -EINVAL;
	}
	if (lookup_running(api)) {
		return -EBUSY;
	}
	r = lookup_start(api, NULL);
	if (r < 0) {
		return r;
	}
	for (struct cwapi_call *c = api->calls; c; c = c->next) {
		if (c->kind == KIND_LOOKUP) {
			c->cb = cb;
			c->userdata = userdata;
			return c->id;
		}
	}
	return -EINVAL;
}

static bool
codebase_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 64 || s[n - 1] != '/') {
		return false;
	}
	for (size_t i = 0; i + 1 < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			(ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
			ch == '-')) {
			return false;
		}
	}
	return true;
}

/* Sets the base from a lookup reply. Returns the class for the waiting
 * calls (SUCCESS when they can go) and fills err otherwise. */
static enum classify_class
lookup_apply(struct cwapi *api, struct cwapi_result *res)
{
	const char *cb;
	char *base;
	size_t n;

	if (res->cls != CLASSIFY_SUCCESS) {
		return res->cls == CLASSIFY_UNKNOWN ? CLASSIFY_RETRY : res->cls;
	}
	if (!res->json || json_object_is_type(res->json, json_type_null)) {
		/* An empty body or null: the company id is unknown. */
		res->cls = CLASSIFY_ACCOUNT;
		errbuf_set(&res->err, ERR_CONFIG, 0,
		    "ConnectWise does not know the company '%.100s' at "
		    "'%.200s'; check [api] company and site",
		    api->company, api->site);
		return res->cls;
	}
	cb = jsonutil_str(res->json, "Codebase");
	if (!cb || !codebase_valid(cb)) {
		res->cls = CLASSIFY_RETRY;
		errbuf_set(&res->err, ERR_API_ERROR, 0,
		    "ConnectWise's company info for '%.100s' has no usable "
		    "Codebase",
		    api->company);
		return res->cls;
	}
	n = strlen("https://") + strlen(api->site) + 1 + strlen(cb) +
	    strlen("apis/3.0") + 1;
	base = malloc(n);
	if (!base) {
		res->cls = CLASSIFY_RETRY;
		errbuf_set(&res->err, ERR_INTERNAL, 0, "out of memory");
		return res->cls;
	}
	snprintf(base, n, "https://%s/%sapis/3.0", api->site, cb);
	free(api->base);
	api->base = base;
	return CLASSIFY_SUCCESS;
}

/* After the lookup: queues (for dispatch) or fails every call that
 * waited for it. Returns false when a callback freed the client. */
static bool
lookup_drain(
    struct cwapi *api, enum classify_class cls, const struct cwapi_result *lres)
{
	if (cls == CLASSIFY_SUCCESS) {
		for (struct cwapi_call *c = api->calls; c; c = c->next) {
			if (c->state == CALL_WAIT_BASE) {
				c->state = CALL_QUEUED;
			}
		}
		return true;
	}
	for (;;) {
		struct cwapi_call *c = NULL;
		struct cwapi_result res;

		/* The oldest waiting call first (the list is newest first). */
		for (struct cwapi_call *w = api->calls; w; w = w->next) {
			if (w->state == CALL_WAIT_BASE) {
				c = w;
			}
		}
		if (!c) {
			return true;
		}
		result_local(&res, c, cls,
		    lres->xfer == CLASSIFY_XFER_OK ? CLASSIFY_XFER_LOCAL
						   : lres->xfer,
		    lres->err.code, lres->err.msg);
		call_unlink(c);
		if (!deliver(api, c->cb, c->userdata, &res)) {
			call_free(c);
			return false;
		}
		call_free(c);
	}
}

static enum errcode
errcode_for(const struct cwapi_call *c, enum classify_class cls, int status)
{
	switch (cls) {
	case CLASSIFY_SUCCESS:
		return ERR_OK;
	case CLASSIFY_GONE:
		return c->gone_code;
	case CLASSIFY_ACCOUNT:
		return status > 0 ? ERR_API_AUTH : ERR_API_UNREACHABLE;
	case CLASSIFY_PERMANENT:
		/* A sheet action's 404 is "no such sheet", not a refusal of
		 * what was asked (classify keeps it permanent: no retry). */
		if (status == 404 && c->path_kind == CLASSIFY_PATH_OTHER &&
		    c->kind != KIND_LOOKUP) {
			return c->gone_code;
		}
		return ERR_API_REJECTED;
	default:
		return status > 0 ? ERR_API_ERROR : ERR_API_UNREACHABLE;
	}
}

static void
on_http_done(const struct http_response *resp, void *userdata)
{
	struct cwapi_call *c = userdata;
	struct cwapi *api = c->api;
	struct cwapi_result res;
	char next[CWAPI_LINK_MAX];
	bool has_id = false;
	CLEANUP_JSON json_object *json = NULL;
	bool alive;

	backoff_pacer_done(&api->pacer);
	memset(&res, 0, sizeof(res));
	res.xfer = resp->xfer;
	res.status = resp->status;
	res.bytes_sent = resp->bytes_sent;
	res.id = -1;
	res.post = CLASSIFY_POST_COUNT;
	res.retry_after = resp->retry_after;
	if (resp->link &&
	    cwapi_link_next(resp->link, next, sizeof(next)) == 0) {
		res.link_next = next;
	}
	if (resp->xfer == CLASSIFY_XFER_OK && resp->body_len > 0) {
		json = parse_json(resp->body, resp->body_len);
		res.json = json;
	}
	if (json &&
	    (c->kind == KIND_POST_ENTRY || c->kind == KIND_ENTRY ||
		c->kind == KIND_COUNT)) {
		struct json_object *v;
		const char *key = c->kind == KIND_COUNT ? "count" : "id";

		if (json_object_is_type(json, json_type_object) &&
		    json_object_object_get_ex(json, key, &v) &&
		    json_object_is_type(v, json_type_int)) {
			int64_t n = json_object_get_int64(v);

			if (c->kind == KIND_COUNT ? n >= 0 : n > 0) {
				res.id = n;
				has_id = true;
			}
		}
	}
	res.cls = classify_outcome(c->method, c->path_kind, resp->status,
	    resp->xfer, resp->bytes_sent, has_id);
	if (c->kind == KIND_POST_ENTRY) {
		res.post = classify_post_entry(
		    resp->status, resp->xfer, resp->bytes_sent, has_id);
	}
	if (res.cls == CLASSIFY_SUCCESS && c->kind == KIND_COUNT && !has_id) {
		/* 200 without the count we asked for: a proxy's page? */
		res.cls = CLASSIFY_RETRY;
	}
	if (res.cls != CLASSIFY_SUCCESS) {
		enum errcode code = errcode_for(c, res.cls, resp->status);

		if (resp->status > 0) {
			cwapi_parse_error(resp->status, resp->body,
			    resp->body_len, code, &res.err, res.cw_code,
			    sizeof(res.cw_code));
		} else {
			res.detail = resp->detail;
			errbuf_set(&res.err, code, 0,
			    "cannot reach ConnectWise (%s): %.300s",
			    classify_xfer_name(resp->xfer),
			    resp->detail ? resp->detail : "");
		}
		if (c->kind == KIND_POST_ENTRY &&
		    res.post == CLASSIFY_POST_SUBMITTED) {
			res.post = CLASSIFY_POST_UNKNOWN; /* cannot happen */
		}
	}
	/* A 404 on a collection may mean the codebase moved: ask again on
	 * the next call (connectwise-api.md 1). */
	if (api->site && resp->status == 404 &&
	    c->path_kind == CLASSIFY_PATH_COLLECTION &&
	    c->kind != KIND_LOOKUP) {
		free(api->base);
		api->base = NULL;
	}

	call_unlink(c);
	if (c->kind == KIND_LOOKUP) {
		enum classify_class cls = lookup_apply(api, &res);

		if (c->cb && !deliver(api, c->cb, c->userdata, &res)) {
			call_free(c);
			return;
		}
		call_free(c);
		if (lookup_drain(api, cls, &res)) {
			(void) dispatch(api);
		}
		return;
	}
	alive = deliver(api, c->cb, c->userdata, &res);
	call_free(c);
	if (alive) {
		(void) dispatch(api); /* a slot is free */
	}
}

/* A new call of the given shape; target is taken over. */
static struct cwapi_call *
call_new(enum call_kind kind, enum classify_method method,
    enum classify_path pk, char *target, cwapi_done_fn *cb, void *userdata)
{
	struct cwapi_call *c;

	if (!target) {
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		free(target);
		return NULL;
	}
	c->kind = kind;
	c->method = method;
	c->path_kind = pk;
	/* RELIABILITY.md 4.4: libcurl re-sends a request whose reused
	 * connection died before the reply; for anything but a read that
	 * would be a library-level retry nobody decided. So every write goes
	 * on a fresh connection that is not kept. */
	if (method != CLASSIFY_GET) {
		c->http_flags = HTTP_FRESH_CONNECTION;
	}
	c->target = target;
	c->gone_code = ERR_API_NOT_FOUND;
	c->cb = cb;
	c->userdata = userdata;
	return c;
}

static char *str_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static char *
str_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

/* Appends "&name=escaped(value)" (or "?name=" for the first). */
static int
query_add(char **url, const char *name, const char *value)
{
	CLEANUP_FREE char *esc = NULL;
	char *n;

	if (!value) {
		return 0;
	}
	esc = http_escape(value);
	if (!esc) {
		return -ENOMEM;
	}
	n = str_printf(
	    "%s%c%s=%s", *url, strchr(*url, '?') ? '&' : '?', name, esc);
	if (!n) {
		return -ENOMEM;
	}
	free(*url);
	*url = n;
	return 0;
}

static int
body_set(struct cwapi_call *c, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!s) {
		return -ENOMEM;
	}
	c->body = strdup(s);
	if (!c->body) {
		return -ENOMEM;
	}
	c->body_len = strlen(c->body);
	return 0;
}

int64_t
cwapi_post_entry(struct cwapi *api, struct json_object *entry,
    cwapi_done_fn *cb, void *userdata)
{
	struct cwapi_call *c;

	if (!entry || !json_object_is_type(entry, json_type_object)) {
		return -EINVAL;
	}
	c = call_new(KIND_POST_ENTRY, CLASSIFY_POST, CLASSIFY_PATH_COLLECTION,
	    strdup("/time/entries"), cb, userdata);
	if (!c) {
		return -ENOMEM;
	}
	/* RELIABILITY.md 4.4: never a reused connection for a POST (set by
	 * call_new for every write; repeated here because it matters most). */
	c->http_flags = HTTP_FRESH_CONNECTION;
	if (body_set(c, entry) < 0) {
		call_free(c);
		return -ENOMEM;
	}
	return call_start(api, c);
}

int64_t
cwapi_entry_defaults(struct cwapi *api, struct json_object *entry,
    cwapi_done_fn *cb, void *userdata)
{
	struct cwapi_call *c;

	if (!entry || !json_object_is_type(entry, json_type_object)) {
		return -EINVAL;
	}
	/* PATH_OTHER: its 200 is success without an id (it stores nothing:
	 * connectwise-api.md 4), and a 404 is not "no such record" */
	c = call_new(KIND_PLAIN, CLASSIFY_POST, CLASSIFY_PATH_OTHER,
	    strdup("/time/entries/defaults"), cb, userdata);
	if (!c) {
		return -ENOMEM;
	}
	if (body_set(c, entry) < 0) {
		call_free(c);
		return -ENOMEM;
	}
	return call_start(api, c);
}

int64_t
cwapi_get_entry(struct cwapi *api, int64_t id, const char *fields,
    cwapi_done_fn *cb, void *userdata)
{
	struct cwapi_call *c;
	char *path;

	if (id <= 0) {
		return -EINVAL;
	}
	path = str_printf("/time/entries/%" PRId64, id);
	if (path && query_add(&path, "fields", fields) < 0) {
		free(path);
		path = NULL;
	}
	c = call_new(
	    KIND_ENTRY, CLASSIFY_GET, CLASSIFY_PATH_BY_ID, path, cb, userdata);
	if (!c) {
		return -ENOMEM;
	}
	return call_start(api, c);
}

static bool
uuid_valid(const char *s)
{
	if (!s || strlen(s) != 36) {
		return false;
	}
	for (int i = 0; i < 36; i++) {
		char ch = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (ch != '-') {
				return false;
			}
		} else if (!((ch >= '0' && ch <= '9') ||
			       (ch >= 'a' && ch <= 'f') ||
			       (ch >= 'A' && ch <= 'F'))) {
			return false;
		}
	}
	return true;
}

/* GET of a collection with a query built by the caller. */
static int64_t
get_collection(struct cwapi *api, enum call_kind kind, char *path,
    bool forward_only, cwapi_done_fn *cb, void *userdata)
{
	struct cwapi_call *c = call_new(
	    kind, CLASSIFY_GET, CLASSIFY_PATH_COLLECTION, path, cb, userdata);

	if (!c) {
		return -ENOMEM;
	}
	c->forward_only = forward_only;
	return call_start(api, c);
}

int64_t
cwapi_find_by_guid(
    struct cwapi *api, const char *uuid, cwapi_done_fn *cb, void *userdata)
{
	CLEANUP_FREE char *cond = NULL;
	char *path;

	if (!uuid_valid(uuid)) {
		return -EINVAL;
	}
	cond = str_printf("mobileGuid=\"%s\"", uuid);
	path = strdup("/time/entries");
	if (!cond || !path || query_add(&path, "conditions", cond) < 0 ||
	    query_add(&path, "fields", "id,mobileGuid") < 0) {
		free(path);
		return -ENOMEM;
	}
	return get_collection(api, KIND_PLAIN, path, false, cb, userdata);
}

static bool
quotable(const char *s)
{
	return s && *s && !strchr(s, '"');
}

int64_t
cwapi_find_by_natural_key(struct cwapi *api, const struct cwapi_natural_key *k,
    cwapi_done_fn *cb, void *userdata)
{
	CLEANUP_FREE char *member = NULL;
	CLEANUP_FREE char *charge = NULL;
	CLEANUP_FREE char *cond = NULL;
	char when[TIMEPARSE_UTC_LEN];
	char *path;

	if (!k || !quotable(k->charge_to_type) ||
	    (!k->member_identifier && k->member_id <= 0) ||
	    (k->member_identifier && !quotable(k->member_identifier))) {
		return -EINVAL;
	}
	member = k->member_identifier
	    ? str_printf("member/identifier=\"%s\"", k->member_identifier)
	    : str_printf("member/id=%" PRId64, k->member_id);
	charge = k->charge_to_id > 0
	    ? str_printf(" and chargeToId=%" PRId64, k->charge_to_id)
	    : strdup("");
	if (!member || !charge) {
		return -ENOMEM;
	}
	timeparse_format_utc(k->time_start, when);
	cond = str_printf("%s and chargeToType=\"%s\"%s and timeStart=[%s]",
	    member, k->charge_to_type, charge, when);
	path = strdup("/time/entries");
	if (!cond || !path || query_add(&path, "conditions", cond) < 0 ||
	    query_add(&path, "fields",
		"id,mobileGuid,timeStart,timeEnd,actualHours,"
		"internalNotes") < 0) {
		free(path);
		return -ENOMEM;
	}
	return get_collection(api, KIND_PLAIN, path, false, cb, userdata);
}

int64_t
cwapi_patch_entry(struct cwapi *api, int64_t id, struct json_object *ops,
    cwapi_done_fn *cb, void *userdata)
{
	struct cwapi_call *c;

	if (id <= 0 || !ops || !json_object_is_type(ops, json_type_array)) {
		return -EINVAL;
	}
	c = call_new(KIND_ENTRY, CLASSIFY_PATCH, CLASSIFY_PATH_BY_ID,
	    str_printf("/time/entries/%" PRId64, id), cb, userdata);
	if (!c) {
		return -ENOMEM;
	}
	if (body_set(c, ops) < 0) {
		call_free(c);
		return -ENOMEM;
	}
	return call_start(api, c);
}

int64_t
cwapi_delete_entry(
    struct cwapi *api, int64_t id, cwapi_done_fn *cb, void *userdata)
{
	struct cwapi_call *c;

	if (id <= 0) {
		return -EINVAL;
	}
	c = call_new(KIND_PLAIN, CLASSIFY_DELETE, CLASSIFY_PATH_BY_ID,
	    str_printf("/time/entries/%" PRId64, id), cb, userdata);
	if (!c) {
		return -ENOMEM;
	}
	return call_start(api, c);
}

int64_t
cwapi_sheet_action(struct cwapi *api, int64_t id,
    enum cwapi_sheet_action action, struct json_object *body,
    cwapi_done_fn *cb, void *userdata)
{
	static const char *const names[CWAPI_SHEET_ACTION_COUNT] = {
	    [CWAPI_SHEET_SUBMIT] = "submit",
	    [CWAPI_SHEET_APPROVE] = "approve",
	    [CWAPI_SHEET_REJECT] = "reject",
	    [CWAPI_SHEET_REVERSE] = "reverse",
	};
	struct cwapi_call *c;

	if (id <= 0 || (int) action < 0 || action >= CWAPI_SHEET_ACTION_COUNT ||
	    (body && !json_object_is_type(body, json_type_object))) {
		return -EINVAL;
	}
	/* PATH_OTHER: a 2xx is success without an id, and nothing of the
	 * collection's "wrong codebase" reading applies. */
	c = call_new(KIND_PLAIN, CLASSIFY_POST, CLASSIFY_PATH_OTHER,
	    str_printf("/time/sheets/%" PRId64 "/%s", id, names[action]), cb,
	    userdata);
	if (!c) {
		return -ENOMEM;
	}
	if (body && body_set(c, body) < 0) {
		call_free(c);
		return -ENOMEM;
	}
	return call_start(api, c);
}

int64_t
cwapi_list(struct cwapi *api, const struct cwapi_list_query *q,
    cwapi_done_fn *cb, void *userdata)
{
	char num[32];
	char *path;
	int r = 0;

	if (!q || !q->resource || q->resource[0] != '/' ||
	    strpbrk(q->resource, "?#") || (q->page_id >= 0 && q->order_by) ||
	    q->page_size > 1000) {
		/* orderBy is not allowed with forward-only paging (6). */
		return -EINVAL;
	}
	path = strdup(q->resource);
	if (!path) {
		return -ENOMEM;
	}
	r = query_add(&path, "conditions", q->conditions);
	if (r == 0) {
		r = query_add(&path, "orderBy", q->order_by);
	}
	if (r == 0) {
		r = query_add(&path, "fields", q->fields);
	}
	if (r == 0 && q->page > 0 && q->page_id < 0) {
		snprintf(num, sizeof(num), "%" PRId64, q->page);
		r = query_add(&path, "page", num);
	}
	if (r == 0 && q->page_size > 0) {
		snprintf(num, sizeof(num), "%" PRId64, q->page_size);
		r = query_add(&path, "pageSize", num);
	}
	if (r == 0 && q->page_id >= 0) {
		snprintf(num, sizeof(num), "%" PRId64, q->page_id);
		r = query_add(&path, "pageId", num);
	}
	if (r < 0) {
		free(path);
		return r;
	}
	return get_collection(
	    api, KIND_PLAIN, path, q->page_id >= 0, cb, userdata);
}

int64_t
cwapi_list_next(struct cwapi *api, const char *url, bool forward_only,
    cwapi_done_fn *cb, void *userdata)
{
	struct cwapi_call *c;
	size_t n;

	if (!url || !api->base) {
		return -EINVAL;
	}
	/* Only under our own base: "<base>/..." exactly. */
	n = strlen(api->base);
	if (strncmp(url, api->base, n) != 0 || url[n] != '/' ||
	    strpbrk(url, " \r\n\t")) {
		return -EPERM;
	}
	c = call_new(KIND_PLAIN, CLASSIFY_GET, CLASSIFY_PATH_COLLECTION,
	    strdup(url), cb, userdata);
	if (!c) {
		return -ENOMEM;
	}
	c->absolute = true;
	c->forward_only = forward_only;
	return call_start(api, c);
}

int64_t
cwapi_get_ticket(struct cwapi *api, enum cwapi_ticket_kind kind, int64_t id,
    const char *fields, cwapi_done_fn *cb, void *userdata)
{
	struct cwapi_call *c;
	char *path;

	if (id <= 0 ||
	    (kind != CWAPI_TICKET_SERVICE && kind != CWAPI_TICKET_PROJECT)) {
		return -EINVAL;
	}
	path = str_printf("/%s/tickets/%" PRId64,
	    kind == CWAPI_TICKET_SERVICE ? "service" : "project", id);
	if (path &&
	    query_add(&path, "fields", fields ? fields : "id,summary,company") <
		0) {
		free(path);
		path = NULL;
	}
	c = call_new(
	    KIND_ENTRY, CLASSIFY_GET, CLASSIFY_PATH_BY_ID, path, cb, userdata);
	if (!c) {
		return -ENOMEM;
	}
	c->gone_code = ERR_NO_SUCH_TICKET;
	return call_start(api, c);
}

int64_t
cwapi_count_worktypes(struct cwapi *api, cwapi_done_fn *cb, void *userdata)
{
	return get_collection(api, KIND_COUNT, strdup("/time/workTypes/count"),
	    false, cb, userdata);
}
