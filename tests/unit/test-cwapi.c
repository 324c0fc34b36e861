/*
 * test-cwapi.c - ConnectWise requests through a fake transport: the exact
 * method, URL, headers and body of each request, the classification and
 * error text of each reply (connectwise-api.md 1, 2, 5, 6, 9, 11, 12).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/errcode.h"
#include "core/classify.h"
#include "daemon/config.h"
#include "daemon/cwapi.h"
#include "daemon/http.h"

#define MAXREQ 32

struct fake_req {
	int64_t tid;
	enum classify_method method;
	char url[2048];
	char headers[HTTP_MAX_HEADERS][512];
	int nh;
	char body[4096];
	size_t body_len;
	unsigned flags;
	http_done_fn *cb;
	void *userdata;
	bool cancelled;
	bool done;
};

struct fake {
	struct http_transport t; /* first */
	struct fake_req reqs[MAXREQ];
	int n;
};

static int64_t
fake_submit(struct http_transport *t, const struct http_request *req,
    http_done_fn *cb, void *userdata)
{
	struct fake *f = (struct fake *) t;
	struct fake_req *r;

	assert_true(f->n < MAXREQ);
	r = &f->reqs[f->n];
	memset(r, 0, sizeof(*r));
	r->tid = 1000 + f->n;
	r->method = req->method;
	snprintf(r->url, sizeof(r->url), "%s", req->url);
	for (int i = 0; i < HTTP_MAX_HEADERS && req->headers[i]; i++) {
		snprintf(r->headers[i], sizeof(r->headers[i]), "%s",
		    req->headers[i]);
		r->nh++;
	}
	if (req->body) {
		assert_true(req->body_len < sizeof(r->body));
		memcpy(r->body, req->body, req->body_len);
		r->body_len = req->body_len;
	}
	r->flags = req->flags;
	r->cb = cb;
	r->userdata = userdata;
	f->n++;
	return r->tid;
}

static void
fake_cancel(struct http_transport *t, int64_t tid)
{
	struct fake *f = (struct fake *) t;

	for (int i = 0; i < f->n; i++) {
		if (f->reqs[i].tid == tid) {
			f->reqs[i].cancelled = true;
		}
	}
}

static void
fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->t.submit = fake_submit;
	f->t.cancel = fake_cancel;
}

/* Completes request i with a reply. */
static void
fake_reply(struct fake *f, int i, int status, const char *body,
    const char *retry_after, const char *link)
{
	struct fake_req *r = &f->reqs[i];
	struct http_response resp = {.xfer = CLASSIFY_XFER_OK,
	    .status = status,
	    .bytes_sent = 300,
	    .body = body,
	    .body_len = strlen(body),
	    .retry_after = retry_after,
	    .link = link};

	assert_true(i < f->n);
	assert_false(r->cancelled);
	assert_false(r->done);
	r->done = true;
	r->cb(&resp, r->userdata);
}

static void
fake_fail(struct fake *f, int i, enum classify_xfer x, uint64_t sent)
{
	struct fake_req *r = &f->reqs[i];
	struct http_response resp = {.xfer = x,
	    .bytes_sent = sent,
	    .body = "",
	    .detail = "Recv failure: Connection reset by peer"};

	assert_false(r->done);
	r->done = true;
	r->cb(&resp, r->userdata);
}

/* What the callback got (copied). */
struct got {
	int calls;
	enum classify_class cls;
	enum classify_post post;
	int status;
	int64_t id;
	struct errbuf err;
	char cw_code[64];
	char retry_after[64];
	char link_next[512];
	char json[2048];
};

static void
on_result(const struct cwapi_result *res, void *userdata)
{
	struct got *g = userdata;

	g->calls++;
	g->cls = res->cls;
	g->post = res->post;
	g->status = res->status;
	g->id = res->id;
	g->err = res->err;
	snprintf(g->cw_code, sizeof(g->cw_code), "%s", res->cw_code);
	snprintf(g->retry_after, sizeof(g->retry_after), "%s",
	    res->retry_after ? res->retry_after : "");
	snprintf(g->link_next, sizeof(g->link_next), "%s",
	    res->link_next ? res->link_next : "");
	snprintf(g->json, sizeof(g->json), "%s",
	    res->json ? json_object_to_json_string_ext(
			    res->json, JSON_C_TO_STRING_PLAIN)
		      : "");
}

static struct secret test_secret = {
    .public_key = (char *) "PubKey123",
    .private_key = (char *) "Priv/Key+456",
    .client_id = (char *) "3c1d7e9a-0000-4000-8000-00000000c1d0",
};

#define BASE "https://cw.example.com/v4_6_release/apis/3.0"
#define AUTH "Authorization: Basic ZXhhbXBsZW1zcCtQdWJLZXkxMjM6UHJpdi9LZXkrNDU2"
#define CLIENTID "clientId: 3c1d7e9a-0000-4000-8000-00000000c1d0"
#define ACCEPT "Accept: application/vnd.connectwise.com+json; version=2025.8"
#define CTYPE "Content-Type: application/json"
#define GUID "0b9c6a8e-3f52-4d8e-9a43-6d1f0e7c2b15"

static struct cwapi *
api_new_url(struct fake *f)
{
	struct cwapi_config cfg = {.url = BASE "/", .company = "examplemsp"};
	struct cwapi *api = NULL;
	struct errbuf e;

	fake_init(f);
	assert_int_equal(cwapi_new(&cfg, &test_secret, &f->t, &api, &e), 0);
	assert_string_equal(cwapi_base_url(api), BASE);
	return api;
}

static void
assert_headers(const struct fake_req *r, const char *const *want)
{
	int n = 0;

	for (; want[n]; n++) {
		assert_true(n < r->nh);
		assert_string_equal(r->headers[n], want[n]);
	}
	assert_int_equal(r->nh, n);
}

static void
test_post_entry_request(void **state)
{
	struct fake f;
	struct cwapi *api = api_new_url(&f);
	struct got g = {0};
	struct json_object *entry = json_object_new_object();
	const char *const hdrs[] = {AUTH, CLIENTID, ACCEPT, CTYPE, NULL};

	json_object_object_add(
	    entry, "timeStart", json_object_new_string("2025-03-03T14:00:00Z"));
	json_object_object_add(
	    entry, "mobileGuid", json_object_new_string(GUID));
	json_object_object_add(
	    entry, "notes", json_object_new_string("a/b \"c\""));
	assert_true(cwapi_post_entry(api, entry, on_result, &g) > 0);
	json_object_put(entry);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.reqs[0].method, CLASSIFY_POST);
	assert_string_equal(f.reqs[0].url, BASE "/time/entries");
	assert_headers(&f.reqs[0], hdrs);
	assert_int_equal(
	    f.reqs[0].flags & HTTP_FRESH_CONNECTION, HTTP_FRESH_CONNECTION);
	assert_string_equal(f.reqs[0].body,
	    "{\"timeStart\":\"2025-03-03T14:00:00Z\",\"mobileGuid\":\"" GUID
	    "\",\"notes\":\"a/b \\\"c\\\"\"}");
	assert_int_equal(g.calls, 0);
	fake_reply(
	    &f, 0, 201, "{\"id\":777,\"mobileGuid\":\"" GUID "\"}", NULL, NULL);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.cls, CLASSIFY_SUCCESS);
	assert_int_equal(g.post, CLASSIFY_POST_SUBMITTED);
	assert_int_equal(g.id, 777);
	assert_int_equal(g.err.code, ERR_OK);
	cwapi_free(api);
}

static int64_t
post_one(struct cwapi *api, struct got *g)
{
	struct json_object *entry = json_object_new_object();
	int64_t id;

	json_object_object_add(
	    entry, "timeStart", json_object_new_string("2025-03-03T14:00:00Z"));
	id = cwapi_post_entry(api, entry, on_result, g);
	json_object_put(entry);
	return id;
}

static void
test_post_entry_outcomes(void **state)
{
	struct fake f;
	struct cwapi *api = api_new_url(&f);
	struct got g = {0};

	/* 201 without a readable id: unknown */
	assert_true(post_one(api, &g) > 0);
	fake_reply(&f, 0, 201, "{\"timeStart\":\"x\"}", NULL, NULL);
	assert_int_equal(g.cls, CLASSIFY_UNKNOWN);
	assert_int_equal(g.post, CLASSIFY_POST_UNKNOWN);
	assert_int_equal(g.id, -1);
	/* 201 with a body that is not JSON */
	assert_true(post_one(api, &g) > 0);
	fake_reply(&f, 1, 201, "{\"id\":12", NULL, NULL);
	assert_int_equal(g.post, CLASSIFY_POST_UNKNOWN);

	/* 400 InvalidObject: REJECTED with ConnectWise's words */
	assert_true(post_one(api, &g) > 0);
	fake_reply(&f, 2, 400,
	    "{\"code\":\"InvalidObject\",\"message\":\"timeEntry object is "
	    "invalid\",\"errors\":[{\"code\":\"NotFound\",\"message\":"
	    "\"Ticket 99999 not found\",\"resource\":\"timeEntry\","
	    "\"field\":\"chargeToId\"}]}",
	    NULL, NULL);
	assert_int_equal(g.cls, CLASSIFY_PERMANENT);
	assert_int_equal(g.post, CLASSIFY_POST_REJECTED);
	assert_int_equal(g.err.code, ERR_API_REJECTED);
	assert_string_equal(g.err.msg,
	    "ConnectWise: timeEntry: chargeToId: Ticket 99999 not found");
	assert_string_equal(g.err.field, "chargeToId");
	assert_string_equal(g.cw_code, "InvalidObject");

	/* 429 with the "error" body and Retry-After */
	assert_true(post_one(api, &g) > 0);
	fake_reply(&f, 3, 429,
	    "{\"error\": \"ConnectWiseAPI\", \"message\": \"Too many "
	    "requests. Please try again in 30 seconds.\"}",
	    "30", NULL);
	assert_int_equal(g.cls, CLASSIFY_RETRY_AFTER);
	assert_int_equal(g.post, CLASSIFY_POST_PENDING);
	assert_string_equal(g.cw_code, "ConnectWiseAPI");
	assert_string_equal(g.err.msg,
	    "ConnectWise: Too many requests. "
	    "Please try again in 30 seconds.");
	assert_string_equal(g.retry_after, "30");
	assert_int_equal(g.err.code, ERR_API_ERROR);

	/* 502 from a proxy, HTML */
	assert_true(post_one(api, &g) > 0);
	fake_reply(
	    &f, 4, 502, "<html><body>Bad Gateway</body></html>", NULL, NULL);
	assert_int_equal(g.post, CLASSIFY_POST_UNKNOWN);
	assert_string_equal(g.err.msg, "ConnectWise: HTTP 502");
	assert_string_equal(g.cw_code, "");

	/* 401 and 403: rejected and the queue pauses */
	assert_true(post_one(api, &g) > 0);
	fake_reply(&f, 5, 401,
	    "{\"code\":\"Unauthorized\",\"message\":\"Authentication "
	    "failed.\",\"errors\":null}",
	    NULL, NULL);
	assert_int_equal(g.cls, CLASSIFY_ACCOUNT);
	assert_int_equal(g.post, CLASSIFY_POST_REJECTED_PAUSE);
	assert_int_equal(g.err.code, ERR_API_AUTH);
	assert_string_equal(g.err.msg, "ConnectWise: Authentication failed.");
	assert_true(post_one(api, &g) > 0);
	fake_reply(&f, 6, 403,
	    "{\"code\":\"Security\",\"message\":\"You do not have security "
	    "permission to perform this action.\"}",
	    NULL, NULL);
	assert_int_equal(g.post, CLASSIFY_POST_REJECTED_PAUSE);
	assert_string_equal(g.cw_code, "Security");

	/* reset after sending: unknown; before: pending */
	assert_true(post_one(api, &g) > 0);
	fake_fail(&f, 7, CLASSIFY_XFER_RESET, 250);
	assert_int_equal(g.post, CLASSIFY_POST_UNKNOWN);
	assert_int_equal(g.err.code, ERR_API_UNREACHABLE);
	assert_string_equal(g.err.msg,
	    "cannot reach ConnectWise (reset): "
	    "Recv failure: Connection reset by peer");
	assert_true(post_one(api, &g) > 0);
	fake_fail(&f, 8, CLASSIFY_XFER_CONNECT, 0);
	assert_int_equal(g.post, CLASSIFY_POST_PENDING);
	assert_true(post_one(api, &g) > 0);
	fake_fail(&f, 9, CLASSIFY_XFER_TLS_VERIFY, 0);
	assert_int_equal(g.post, CLASSIFY_POST_PENDING_PAUSE);
	assert_int_equal(g.cls, CLASSIFY_ACCOUNT);
	assert_int_equal(g.calls, 10);
	cwapi_free(api);
}

static void
test_reads(void **state)
{
	struct fake f;
	struct cwapi *api = api_new_url(&f);
	struct got g = {0};
	const char *const hdrs[] = {AUTH, CLIENTID, ACCEPT, NULL};
	const char *const fwd_hdrs[] = {
	    AUTH, CLIENTID, ACCEPT, "pagination-type: forward-only", NULL};
	struct cwapi_natural_key key = {.member_identifier = "jdoe",
	    .charge_to_type = "ServiceTicket",
	    .charge_to_id = 54321,
	    .time_start = 1741010400};
	struct cwapi_list_query q = {.resource = "/time/entries",
	    .conditions = "timeSheet/id=812",
	    .fields = "id,timeStart",
	    .page_size = 1000,
	    .page_id = 0};

	/* primary reconciliation query */
	assert_true(cwapi_find_by_guid(api, GUID, on_result, &g) > 0);
	assert_int_equal(f.reqs[0].method, CLASSIFY_GET);
	assert_string_equal(f.reqs[0].url,
	    BASE "/time/entries?conditions="
		 "mobileGuid%3D%22" GUID "%22&fields=id%2CmobileGuid");
	assert_headers(&f.reqs[0], hdrs);
	assert_int_equal(f.reqs[0].flags, 0);
	assert_int_equal(f.reqs[0].body_len, 0);
	fake_reply(
	    &f, 0, 200, "[{\"id\":5,\"mobileGuid\":\"" GUID "\"}]", NULL, NULL);
	assert_int_equal(g.cls, CLASSIFY_SUCCESS);
	assert_string_equal(g.json, "[{\"id\":5,\"mobileGuid\":\"" GUID "\"}]");
	assert_int_equal(
	    cwapi_find_by_guid(api, "not-a-uuid", on_result, &g), -EINVAL);
	assert_int_equal(
	    cwapi_find_by_guid(api, GUID "\" or id>0", on_result, &g), -EINVAL);

	/* fallback: the natural key */
	assert_true(cwapi_find_by_natural_key(api, &key, on_result, &g) > 0);
	assert_string_equal(f.reqs[1].url,
	    BASE "/time/entries?conditions="
		 "member%2Fidentifier%3D%22jdoe%22%20and%20chargeToType%3D%22"
		 "ServiceTicket%22%20and%20chargeToId%3D54321%20and%20timeStart"
		 "%3D%5B2025-03-03T14%3A00%3A00Z%5D&fields=id%2CmobileGuid%2C"
		 "timeStart%2CtimeEnd%2CactualHours%2CinternalNotes");
	key.member_identifier = "j\"doe";
	assert_int_equal(
	    cwapi_find_by_natural_key(api, &key, on_result, &g), -EINVAL);

	/* forward-only list */
	assert_true(cwapi_list(api, &q, on_result, &g) > 0);
	assert_string_equal(f.reqs[2].url,
	    BASE "/time/entries?conditions="
		 "timeSheet%2Fid%3D812&fields=id%2CtimeStart&pageSize=1000&"
		 "pageId=0");
	assert_headers(&f.reqs[2], fwd_hdrs);
	fake_reply(&f, 2, 200, "[]", NULL,
	    "<" BASE "/time/entries?pageId=99&pageSize=1000>; rel=\"next\"");
	assert_string_equal(
	    g.link_next, BASE "/time/entries?pageId=99&pageSize=1000");
	assert_true(cwapi_list_next(api, g.link_next, true, on_result, &g) > 0);
	assert_string_equal(
	    f.reqs[3].url, BASE "/time/entries?pageId=99&pageSize=1000");
	assert_headers(&f.reqs[3], fwd_hdrs);
	/* never to another host, nor a look-alike prefix */
	assert_int_equal(
	    cwapi_list_next(api, "https://evil.example/x", true, on_result, &g),
	    -EPERM);
	assert_int_equal(
	    cwapi_list_next(api, BASE ".evil.example/x", true, on_result, &g),
	    -EPERM);
	/* orderBy with forward-only paging is refused; navigable is fine */
	q.order_by = "timeStart desc";
	assert_int_equal(cwapi_list(api, &q, on_result, &g), -EINVAL);
	q.page_id = -1;
	q.page = 2;
	q.page_size = 25;
	q.conditions = NULL;
	assert_true(cwapi_list(api, &q, on_result, &g) > 0);
	assert_string_equal(f.reqs[4].url,
	    BASE "/time/entries?orderBy="
		 "timeStart%20desc&fields=id%2CtimeStart&page=2&pageSize=25");
	assert_headers(&f.reqs[4], hdrs);

	/* one entry, a ticket, the probe */
	assert_true(cwapi_get_entry(api, 42, NULL, on_result, &g) > 0);
	assert_string_equal(f.reqs[5].url, BASE "/time/entries/42");
	fake_reply(&f, 5, 200, "{\"id\":42}", NULL, NULL);
	assert_int_equal(g.id, 42);
	assert_true(cwapi_get_ticket(
			api, CWAPI_TICKET_PROJECT, 7, NULL, on_result, &g) > 0);
	assert_string_equal(f.reqs[6].url,
	    BASE "/project/tickets/7?fields="
		 "id%2Csummary%2Ccompany");
	fake_reply(&f, 6, 404,
	    "{\"code\":\"NotFound\",\"message\":\"Ticket "
	    "7 not found\",\"errors\":null}",
	    NULL, NULL);
	assert_int_equal(g.cls, CLASSIFY_GONE);
	assert_int_equal(g.err.code, ERR_NO_SUCH_TICKET);
	assert_string_equal(g.err.msg, "ConnectWise: Ticket 7 not found");
	assert_true(cwapi_get_ticket(api, CWAPI_TICKET_SERVICE, 54321,
			"id,summary", on_result, &g) > 0);
	assert_string_equal(f.reqs[7].url,
	    BASE "/service/tickets/54321?"
		 "fields=id%2Csummary");
	assert_true(cwapi_count_worktypes(api, on_result, &g) > 0);
	assert_string_equal(f.reqs[8].url, BASE "/time/workTypes/count");
	fake_reply(&f, 8, 200, "{\"count\":12}", NULL, NULL);
	assert_int_equal(g.cls, CLASSIFY_SUCCESS);
	assert_int_equal(g.id, 12);
	assert_true(cwapi_count_worktypes(api, on_result, &g) > 0);
	fake_reply(&f, 9, 200, "<html>portal</html>", NULL, NULL);
	assert_int_equal(g.cls, CLASSIFY_RETRY);
	assert_int_equal(cwapi_get_entry(api, 0, NULL, on_result, &g), -EINVAL);
	cwapi_free(api);
}

static void
test_writes(void **state)
{
	struct fake f;
	struct cwapi *api = api_new_url(&f);
	struct got g = {0};
	struct json_object *ops = json_object_new_array();
	struct json_object *op = json_object_new_object();
	const char *const patch_hdrs[] = {AUTH, CLIENTID, ACCEPT, CTYPE, NULL};
	const char *const del_hdrs[] = {AUTH, CLIENTID, ACCEPT, NULL};

	json_object_object_add(op, "op", json_object_new_string("replace"));
	json_object_object_add(op, "path", json_object_new_string("notes"));
	json_object_object_add(
	    op, "value", json_object_new_string("Replaced PSU; tested."));
	json_object_array_add(ops, op);
	assert_true(cwapi_patch_entry(api, 42, ops, on_result, &g) > 0);
	json_object_put(ops);
	assert_int_equal(f.reqs[0].method, CLASSIFY_PATCH);
	assert_string_equal(f.reqs[0].url, BASE "/time/entries/42");
	assert_headers(&f.reqs[0], patch_hdrs);
	/* writes never reuse a connection (no library-level re-send) */
	assert_int_equal(f.reqs[0].flags, HTTP_FRESH_CONNECTION);
	assert_string_equal(f.reqs[0].body,
	    "[{\"op\":\"replace\",\"path\":"
	    "\"notes\",\"value\":\"Replaced PSU; tested.\"}]");
	fake_reply(&f, 0, 400,
	    "{\"code\":\"InvalidObject\",\"message\":"
	    "\"time sheet is not open\"}",
	    NULL, NULL);
	assert_int_equal(g.cls, CLASSIFY_PERMANENT);
	assert_string_equal(g.err.msg, "ConnectWise: time sheet is not open");
	assert_string_equal(g.err.field, "");

	assert_true(cwapi_delete_entry(api, 43, on_result, &g) > 0);
	assert_int_equal(f.reqs[1].method, CLASSIFY_DELETE);
	assert_string_equal(f.reqs[1].url, BASE "/time/entries/43");
	assert_headers(&f.reqs[1], del_hdrs);
	assert_int_equal(f.reqs[1].flags, HTTP_FRESH_CONNECTION);
	assert_int_equal(f.reqs[1].body_len, 0);
	fake_reply(&f, 1, 404,
	    "{\"code\":\"NotFound\",\"message\":\"TimeEntry"
	    " 43 not found\",\"errors\":null}",
	    NULL, NULL);
	assert_int_equal(g.cls, CLASSIFY_GONE);
	assert_int_equal(g.err.code, ERR_API_NOT_FOUND);
	assert_true(cwapi_delete_entry(api, 44, on_result, &g) > 0);
	fake_reply(&f, 2, 204, "", NULL, NULL);
	assert_int_equal(g.cls, CLASSIFY_SUCCESS);
	assert_int_equal(
	    cwapi_patch_entry(api, 42, NULL, on_result, &g), -EINVAL);
	cwapi_free(api);
}

/* The sheet actions: exact method, URL, headers and body; success without
 * an id; a refusal with ConnectWise's words; a missing sheet. */
static void
test_sheet_actions(void **state)
{
	struct fake f;
	struct cwapi *api = api_new_url(&f);
	struct got g = {0};
	struct json_object *tier = json_object_new_object();
	const char *const hdrs[] = {AUTH, CLIENTID, ACCEPT, NULL};
	const char *const body_hdrs[] = {AUTH, CLIENTID, ACCEPT, CTYPE, NULL};

	(void) state;
	assert_true(cwapi_sheet_action(
			api, 803, CWAPI_SHEET_SUBMIT, NULL, on_result, &g) > 0);
	assert_int_equal(f.reqs[0].method, CLASSIFY_POST);
	assert_string_equal(f.reqs[0].url, BASE "/time/sheets/803/submit");
	assert_headers(&f.reqs[0], hdrs);
	assert_int_equal(f.reqs[0].body_len, 0);
	assert_int_equal(f.reqs[0].flags, HTTP_FRESH_CONNECTION);
	fake_reply(&f, 0, 200, "{\"success\":true}", NULL, NULL);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.cls, CLASSIFY_SUCCESS);
	assert_int_equal(g.err.code, ERR_OK);
	assert_string_equal(g.json, "{\"success\":true}");

	json_object_object_add(tier, "id", json_object_new_int64(804));
	json_object_object_add(
	    tier, "approvalType", json_object_new_string("Tier1Update"));
	assert_true(cwapi_sheet_action(
			api, 804, CWAPI_SHEET_APPROVE, tier, on_result, &g) > 0);
	json_object_put(tier); /* copied */
	assert_string_equal(f.reqs[1].url, BASE "/time/sheets/804/approve");
	assert_headers(&f.reqs[1], body_hdrs);
	assert_string_equal(
	    f.reqs[1].body, "{\"id\":804,\"approvalType\":\"Tier1Update\"}");
	fake_reply(&f, 1, 400,
	    "{\"code\":\"InvalidObject\",\"message\":"
	    "\"time sheet 804 is ApprovedByTierOne\"}",
	    NULL, NULL);
	assert_int_equal(g.calls, 2);
	assert_int_equal(g.cls, CLASSIFY_PERMANENT);
	assert_int_equal(g.err.code, ERR_API_REJECTED);
	assert_string_equal(
	    g.err.msg, "ConnectWise: time sheet 804 is ApprovedByTierOne");
	assert_string_equal(g.cw_code, "InvalidObject");

	assert_true(cwapi_sheet_action(
			api, 9, CWAPI_SHEET_REJECT, NULL, on_result, &g) > 0);
	assert_string_equal(f.reqs[2].url, BASE "/time/sheets/9/reject");
	fake_reply(&f, 2, 404,
	    "{\"code\":\"NotFound\",\"message\":\"TimeSheet 9 not "
	    "found\"}",
	    NULL, NULL);
	assert_int_equal(g.cls, CLASSIFY_PERMANENT); /* never retried */
	assert_int_equal(g.err.code, ERR_API_NOT_FOUND);

	assert_true(cwapi_sheet_action(
			api, 10, CWAPI_SHEET_REVERSE, NULL, on_result, &g) > 0);
	assert_string_equal(f.reqs[3].url, BASE "/time/sheets/10/reverse");
	/* a POST cut off after sending: its outcome is unknown */
	fake_fail(&f, 3, CLASSIFY_XFER_RESET, 200);
	assert_int_equal(g.cls, CLASSIFY_UNKNOWN);
	assert_int_equal(g.err.code, ERR_API_UNREACHABLE);

	assert_int_equal(f.n, 4);
	assert_int_equal(cwapi_sheet_action(api, 0, CWAPI_SHEET_SUBMIT, NULL,
			     on_result, &g),
	    -EINVAL);
	assert_int_equal(cwapi_sheet_action(api, 5, CWAPI_SHEET_ACTION_COUNT,
			     NULL, on_result, &g),
	    -EINVAL);
	assert_int_equal(f.n, 4); /* nothing sent */
	cwapi_free(api);
}

static void
test_site_lookup(void **state)
{
	struct fake f;
	struct cwapi_config cfg = {.site = "api-na.myconnectwise.net",
	    .company = "examplemsp",
	    .api_version = "2026.4"};
	struct cwapi *api = NULL;
	struct errbuf e;
	struct got g = {0}, g2 = {0}, gl = {0};
	const char *const lookup_hdrs[] = {"Accept: application/json", NULL};
	const char *const hdrs[] = {AUTH, CLIENTID,
	    "Accept: application/vnd.connectwise.com+json; "
	    "version=2026.4",
	    NULL};

	fake_init(&f);
	assert_int_equal(cwapi_new(&cfg, &test_secret, &f.t, &api, &e), 0);
	assert_string_equal(cwapi_base_url(api), "");
	/* two calls wait for one lookup, sent without credentials */
	assert_true(cwapi_count_worktypes(api, on_result, &g) > 0);
	assert_true(cwapi_get_entry(api, 5, NULL, on_result, &g2) > 0);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.reqs[0].url,
	    "https://api-na.myconnectwise.net/"
	    "login/companyinfo/examplemsp");
	assert_headers(&f.reqs[0], lookup_hdrs);
	fake_reply(&f, 0, 200,
	    "{\"CompanyName\":\"Example MSP\",\"Codebase\":"
	    "\"v2025_1/\",\"IsCloud\":\"true\"}",
	    NULL, NULL);
	assert_string_equal(cwapi_base_url(api),
	    "https://api-na.myconnectwise.net/v2025_1/apis/3.0");
	assert_int_equal(f.n, 3);
	assert_int_equal(g.calls + g2.calls, 0);
	for (int i = 1; i <= 2; i++) {
		assert_headers(&f.reqs[i], hdrs);
	}
	/* in the order they were made */
	assert_string_equal(f.reqs[1].url,
	    "https://api-na.myconnectwise.net/"
	    "v2025_1/apis/3.0/time/workTypes/count");
	assert_string_equal(f.reqs[2].url,
	    "https://api-na.myconnectwise.net/"
	    "v2025_1/apis/3.0/time/entries/5");
	fake_reply(&f, 1, 200, "{\"count\":3}", NULL, NULL);
	fake_reply(&f, 2, 200, "{\"id\":5}", NULL, NULL);
	assert_int_equal(g.calls + g2.calls, 2);
	assert_int_equal(g.id, 3);
	assert_int_equal(g2.id, 5);

	/* a 404 on a collection forgets the codebase... */
	assert_true(cwapi_count_worktypes(api, on_result, &g) > 0);
	fake_reply(&f, 3, 404,
	    "{\"code\":\"NotFound\",\"message\":\"The "
	    "resource was not found\",\"errors\":null}",
	    NULL, NULL);
	assert_int_equal(g.cls, CLASSIFY_ACCOUNT);
	assert_int_equal(g.err.code, ERR_API_AUTH);
	assert_string_equal(cwapi_base_url(api), "");
	/* ...so the next call looks it up again; null = unknown company */
	assert_true(post_one(api, &g) > 0);
	assert_int_equal(f.n, 5);
	assert_string_equal(f.reqs[4].url,
	    "https://api-na.myconnectwise.net/"
	    "login/companyinfo/examplemsp");
	fake_reply(&f, 4, 200, "null", NULL, NULL);
	assert_int_equal(f.n, 5); /* the POST never went out */
	assert_int_equal(g.cls, CLASSIFY_ACCOUNT);
	assert_int_equal(g.post, CLASSIFY_POST_PENDING_PAUSE);
	assert_int_equal(g.err.code, ERR_CONFIG);
	assert_non_null(strstr(g.err.msg,
	    "does not know the company "
	    "'examplemsp'"));
	/* an explicit lookup, failing in transport: the waiting POST was
	 * not sent, whatever the lookup's bytes */
	assert_true(cwapi_lookup(api, on_result, &gl) > 0);
	assert_int_equal(cwapi_lookup(api, on_result, &gl), -EBUSY);
	assert_true(post_one(api, &g) > 0);
	assert_int_equal(f.n, 6);
	fake_fail(&f, 5, CLASSIFY_XFER_TIMEOUT, 100);
	assert_int_equal(gl.calls, 1);
	assert_int_equal(g.post, CLASSIFY_POST_PENDING);
	assert_int_equal(g.err.code, ERR_API_UNREACHABLE);
	cwapi_free(api);
}

static void
test_config_checks(void **state)
{
	struct fake f;
	struct cwapi *api = NULL;
	struct errbuf e;
	struct cwapi_config cfg = {
	    .url = "http://cw.example.com/apis/3.0", .company = "examplemsp"};
	struct secret none = {0};
	struct got g = {0};

	fake_init(&f);
	assert_int_equal(cwapi_new(&cfg, &test_secret, &f.t, &api, &e), -EPERM);
	assert_int_equal(e.code, ERR_CONFIG);
	cfg.url = NULL;
	assert_int_equal(
	    cwapi_new(&cfg, &test_secret, &f.t, &api, &e), -EINVAL);
	assert_int_equal(e.code, ERR_API_NOT_CONFIGURED);
	cfg.site = "evil.example/x";
	assert_int_equal(
	    cwapi_new(&cfg, &test_secret, &f.t, &api, &e), -EINVAL);
	cfg.site = NULL;
	cfg.url = "http://127.0.0.1:8080/v4_6_release/apis/3.0";
	assert_int_equal(cwapi_new(&cfg, &none, &f.t, &api, &e), 0);
	/* no credentials: nothing is sent */
	assert_int_equal(cwapi_count_worktypes(api, on_result, &g), -ENOKEY);
	assert_int_equal(f.n, 0);
	cwapi_set_secret(api, &test_secret);
	assert_true(cwapi_count_worktypes(api, on_result, &g) > 0);
	assert_string_equal(f.reqs[0].url,
	    "http://127.0.0.1:8080/v4_6_release/apis/3.0/time/workTypes/count");
	cwapi_free(api);
	assert_true(f.reqs[0].cancelled);
	cwapi_free(NULL);
}

struct manual_clock {
	int64_t now;
	int64_t armed; /* -1: not armed */
	int arms;
};

static int64_t
mc_now(void *userdata)
{
	return ((struct manual_clock *) userdata)->now;
}

static void
mc_arm(void *userdata, int64_t delay_ms)
{
	struct manual_clock *mc = userdata;

	mc->armed = delay_ms < 0 ? -1 : mc->now + delay_ms;
	mc->arms++;
}

static void
test_pacing(void **state)
{
	struct fake f;
	struct manual_clock mc = {.now = 5000, .armed = -1};
	struct cwapi_clock clock = {mc_now, mc_arm, &mc};
	/* 60/min: a burst of one, then one a second; two in flight */
	struct cwapi_config cfg = {.url = BASE,
	    .company = "examplemsp",
	    .max_rate = 60,
	    .max_in_flight = 2,
	    .clock = &clock};
	struct cwapi *api = NULL;
	struct errbuf e;
	struct got g[5] = {{0}};
	int64_t id3;

	fake_init(&f);
	assert_int_equal(cwapi_new(&cfg, &test_secret, &f.t, &api, &e), 0);
	assert_int_equal(mc.arms, 0); /* idle: nothing armed */
	for (int i = 0; i < 4; i++) {
		assert_true(
		    cwapi_get_entry(api, 100 + i, NULL, on_result, &g[i]) > 0);
	}
	/* one went out; the next token is due in one second */
	assert_int_equal(f.n, 1);
	assert_string_equal(f.reqs[0].url, BASE "/time/entries/100");
	assert_int_equal(mc.armed, 6000);
	mc.now = 5999;
	cwapi_kick(api);
	assert_int_equal(f.n, 1);
	assert_int_equal(mc.armed, 6000);
	mc.now = 6000;
	cwapi_kick(api);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.reqs[1].url, BASE "/time/entries/101");
	/* two out: a token later, the in-flight cap still holds them */
	mc.now = 9000;
	mc.armed = -1;
	cwapi_kick(api);
	assert_int_equal(f.n, 2);
	assert_int_equal(mc.armed, -1); /* a completion will wake it */
	/* a completion frees a slot: the oldest waiting call goes */
	fake_reply(&f, 0, 200, "{\"id\":100}", NULL, NULL);
	assert_int_equal(g[0].calls, 1);
	assert_int_equal(f.n, 3);
	assert_string_equal(f.reqs[2].url, BASE "/time/entries/102");
	/* a call made now waits behind the queued one, in order */
	id3 = cwapi_get_entry(api, 104, NULL, on_result, &g[4]);
	assert_true(id3 > 0);
	assert_int_equal(f.n, 3);
	/* a completion while no token is there: armed for the token */
	fake_reply(&f, 1, 200, "{\"id\":101}", NULL, NULL);
	assert_int_equal(f.n, 3); /* no token until 10000 */
	assert_int_equal(mc.armed, 10000);
	mc.now = 10000;
	cwapi_kick(api);
	assert_int_equal(f.n, 4);
	assert_string_equal(f.reqs[3].url, BASE "/time/entries/103");
	mc.now = 11000;
	cwapi_kick(api);
	assert_int_equal(f.n, 4); /* 102 and 103 are out */
	cwapi_cancel(api, id3);	  /* a queued call: simply dropped */
	fake_reply(&f, 2, 200, "{\"id\":102}", NULL, NULL);
	fake_reply(&f, 3, 200, "{\"id\":103}", NULL, NULL);
	assert_int_equal(f.n, 4);
	assert_int_equal(g[4].calls, 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(g[i].calls, 1);
		assert_int_equal(g[i].id, 100 + i);
	}
	/* cancelling a sent call frees its slot at the next kick */
	mc.now = 20000;
	id3 = cwapi_get_entry(api, 105, NULL, on_result, &g[4]);
	assert_true(cwapi_get_entry(api, 106, NULL, on_result, &g[4]) > 0);
	assert_int_equal(f.n, 5);
	assert_int_equal(mc.armed, 21000);
	cwapi_cancel(api, id3);
	assert_true(f.reqs[4].cancelled);
	assert_int_equal(mc.armed, 20000); /* kick soon, not from cancel */
	assert_int_equal(f.n, 5);
	cwapi_kick(api);
	assert_int_equal(mc.armed, 21000);
	mc.now = 21000;
	cwapi_kick(api);
	assert_int_equal(f.n, 6);
	assert_string_equal(f.reqs[5].url, BASE "/time/entries/106");
	cwapi_free(api);
	assert_true(f.reqs[5].cancelled);
	assert_int_equal(mc.armed, -1); /* freeing disarms */
}

static void
count_send(void *userdata)
{
	(*(int *) userdata)++;
}

/* The interactive commands' clients: on_send runs once per request that
 * goes out, and cwapi_charge makes the paced client's queued calls wait
 * for the requests charged to it (design.md 27). */
static void
test_charge_shared_rate(void **state)
{
	struct fake fi, fp;
	struct manual_clock mc = {.now = 5000, .armed = -1};
	struct cwapi_clock clock = {mc_now, mc_arm, &mc};
	int sent = 0;
	struct cwapi_config icfg = {.url = BASE,
	    .company = "examplemsp",
	    .on_send = count_send,
	    .on_send_userdata = &sent};
	/* 60/min: one a second */
	struct cwapi_config pcfg = {.url = BASE,
	    .company = "examplemsp",
	    .max_rate = 60,
	    .max_in_flight = 8,
	    .clock = &clock};
	struct cwapi *inter = NULL, *paced = NULL;
	struct errbuf e;
	struct got g[4] = {{0}};

	(void) state;
	fake_init(&fi);
	fake_init(&fp);
	assert_int_equal(cwapi_new(&icfg, &test_secret, &fi.t, &inter, &e), 0);
	assert_int_equal(cwapi_new(&pcfg, &test_secret, &fp.t, &paced, &e), 0);
	/* the paced client sends one, the next waits a second */
	assert_true(cwapi_get_entry(paced, 1, NULL, on_result, &g[0]) > 0);
	assert_true(cwapi_get_entry(paced, 2, NULL, on_result, &g[1]) > 0);
	assert_int_equal(fp.n, 1);
	assert_int_equal(mc.armed, 6000);
	/* two interactive requests go out at once, each counted... */
	assert_true(cwapi_get_entry(inter, 7, NULL, on_result, &g[2]) > 0);
	assert_true(cwapi_get_entry(inter, 8, NULL, on_result, &g[3]) > 0);
	assert_int_equal(fi.n, 2);
	assert_int_equal(sent, 2);
	/* ...and charged: the paced call now waits three seconds */
	cwapi_charge(paced);
	cwapi_charge(paced);
	assert_int_equal(mc.armed, 8000);
	mc.now = 7999;
	cwapi_kick(paced);
	assert_int_equal(fp.n, 1);
	mc.now = 8000;
	cwapi_kick(paced);
	assert_int_equal(fp.n, 2);
	cwapi_charge(NULL); /* offline: no paced client */
	cwapi_free(inter);
	cwapi_free(paced);
}

static void
test_in_flight_without_clock(void **state)
{
	struct fake f;
	struct cwapi_config cfg = {.url = BASE,
	    .company = "examplemsp",
	    .max_rate = 1, /* ignored without a clock */
	    .max_in_flight = 1};
	struct cwapi *api = NULL;
	struct errbuf e;
	struct got g = {0};
	int64_t id;

	fake_init(&f);
	assert_int_equal(cwapi_new(&cfg, &test_secret, &f.t, &api, &e), 0);
	id = cwapi_get_entry(api, 1, NULL, on_result, &g);
	assert_true(cwapi_get_entry(api, 2, NULL, on_result, &g) > 0);
	assert_true(cwapi_get_entry(api, 3, NULL, on_result, &g) > 0);
	assert_int_equal(f.n, 1);
	cwapi_cancel(api, id); /* frees the slot: the next goes at once */
	assert_true(f.reqs[0].cancelled);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.reqs[1].url, BASE "/time/entries/2");
	fake_reply(&f, 1, 200, "{\"id\":2}", NULL, NULL);
	assert_int_equal(f.n, 3);
	fake_reply(&f, 2, 200, "{\"id\":3}", NULL, NULL);
	assert_int_equal(g.calls, 2);
	cwapi_free(api);
}

static struct cwapi *free_me;

static void
on_result_free(const struct cwapi_result *res, void *userdata)
{
	on_result(res, userdata);
	cwapi_free(free_me);
}

static void
test_cancel_and_free_in_callback(void **state)
{
	struct fake f;
	struct cwapi *api = api_new_url(&f);
	struct got g = {0}, g2 = {0};
	int64_t id;

	id = cwapi_get_entry(api, 1, NULL, on_result, &g);
	assert_true(id > 0);
	cwapi_cancel(api, id);
	assert_true(f.reqs[0].cancelled);
	cwapi_cancel(api, id);
	cwapi_cancel(api, 999);
	/* freeing the client inside a callback cancels the others */
	free_me = api;
	assert_true(cwapi_get_entry(api, 2, NULL, on_result_free, &g) > 0);
	assert_true(cwapi_get_entry(api, 3, NULL, on_result, &g2) > 0);
	fake_reply(&f, 1, 200, "{\"id\":2}", NULL, NULL);
	assert_int_equal(g.calls, 1);
	assert_true(f.reqs[2].cancelled);
	assert_int_equal(g2.calls, 0);
}

static void
test_parse_error(void **state)
{
	struct errbuf e;
	char code[64];
	char big[3000];
	const char *s;

	/* control characters never reach the user */
	s = "{\"code\":\"Bad\\u0007\",\"message\":\"line1\\nline2\\u001b["
	    "31m\"}";
	cwapi_parse_error(
	    400, s, strlen(s), ERR_API_REJECTED, &e, code, sizeof(code));
	assert_string_equal(e.msg, "ConnectWise: line1 line2 [31m");
	assert_string_equal(code, "Bad ");
	assert_int_equal(e.code, ERR_API_REJECTED);
	/* several nested errors */
	s = "{\"code\":\"InvalidObject\",\"errors\":[{\"field\":\"timeEnd\","
	    "\"message\":\"The field timeEnd must be after timeStart\"},"
	    "{\"code\":\"MaxLengthField\",\"field\":\"notes\",\"message\":"
	    "\"maximum length of 100\"}]}";
	cwapi_parse_error(
	    400, s, strlen(s), ERR_API_REJECTED, &e, code, sizeof(code));
	assert_string_equal(e.msg,
	    "ConnectWise: timeEnd: The field timeEnd "
	    "must be after timeStart; notes: maximum "
	    "length of 100");
	assert_string_equal(e.field, "timeEnd");
	/* not JSON, empty, a JSON string, no message */
	cwapi_parse_error(503, "Service Unavailable", 19, ERR_API_ERROR, &e,
	    code, sizeof(code));
	assert_string_equal(e.msg, "ConnectWise: HTTP 503");
	assert_string_equal(code, "");
	cwapi_parse_error(500, "", 0, ERR_API_ERROR, &e, code, sizeof(code));
	assert_string_equal(e.msg, "ConnectWise: HTTP 500");
	cwapi_parse_error(
	    500, "\"x\"", 3, ERR_API_ERROR, &e, code, sizeof(code));
	assert_string_equal(e.msg, "ConnectWise: HTTP 500");
	cwapi_parse_error(400, "{}", 2, ERR_API_ERROR, &e, code, sizeof(code));
	assert_string_equal(e.msg, "ConnectWise: HTTP 400");
	cwapi_parse_error(400, "{\"code\":\"BadRequest\"} x", 23, ERR_API_ERROR,
	    &e, code, sizeof(code));
	assert_string_equal(e.msg, "ConnectWise: HTTP 400"); /* garbage */
	/* a long message is cut, never in the middle of a character */
	memcpy(big, "{\"message\":\"", 12);
	for (int i = 0; i < 1200; i++) {
		memcpy(big + 12 + 2 * i, "\xc3\xa9", 2); /* é */
	}
	memcpy(big + 12 + 2400, "\"}", 3);
	cwapi_parse_error(
	    400, big, strlen(big), ERR_API_REJECTED, &e, code, sizeof(code));
	assert_true(strlen(e.msg) < sizeof(e.msg));
	assert_true(strlen(e.msg) > 400);
	assert_int_equal((strlen(e.msg) - strlen("ConnectWise: ")) % 2, 0);
	/* deep nesting is refused by the tokener, not a crash */
	memset(big, '[', 2000);
	big[2000] = '\0';
	cwapi_parse_error(
	    400, big, 2000, ERR_API_REJECTED, &e, code, sizeof(code));
	assert_string_equal(e.msg, "ConnectWise: HTTP 400");
}

static void
test_link_next(void **state)
{
	char buf[256];

	assert_int_equal(cwapi_link_next("<https://h/a?page=1>; rel=\"first\", "
					 "<https://h/a?page=3>; rel=\"next\", "
					 "<https://h/a?page=9>; rel=\"last\"",
			     buf, sizeof(buf)),
	    0);
	assert_string_equal(buf, "https://h/a?page=3");
	assert_int_equal(cwapi_link_next("<https://h/a?pageId=5>;rel=next", buf,
			     sizeof(buf)),
	    0);
	assert_string_equal(buf, "https://h/a?pageId=5");
	/* several relation types; a comma inside a quoted parameter */
	assert_int_equal(cwapi_link_next("<https://h/x>; title=\"a, b\"; "
					 "rel=\"prev\", <https://h/y>; "
					 "rel=\"last next\"",
			     buf, sizeof(buf)),
	    0);
	assert_string_equal(buf, "https://h/y");
	/* a comma inside the quoted rel value ends nothing (and no loop) */
	assert_int_equal(cwapi_link_next("<https://h/z>; rel=\"prev,next\"",
			     buf, sizeof(buf)),
	    0);
	assert_string_equal(buf, "https://h/z");
	assert_int_equal(cwapi_link_next("<https://h/a>; rel=\"nextpage\"", buf,
			     sizeof(buf)),
	    -ENOENT);
	assert_int_equal(
	    cwapi_link_next("<https://h/a>; rel=\"prev\"", buf, sizeof(buf)),
	    -ENOENT);
	assert_int_equal(cwapi_link_next("garbage", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(
	    cwapi_link_next("<https://h/a", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(cwapi_link_next("", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(
	    cwapi_link_next("<https://h/aaaa>; rel=next", buf, 5), -ENOBUFS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_post_entry_request),
	    cmocka_unit_test(test_post_entry_outcomes),
	    cmocka_unit_test(test_reads),
	    cmocka_unit_test(test_writes),
	    cmocka_unit_test(test_sheet_actions),
	    cmocka_unit_test(test_site_lookup),
	    cmocka_unit_test(test_config_checks),
	    cmocka_unit_test(test_pacing),
	    cmocka_unit_test(test_in_flight_without_clock),
	    cmocka_unit_test(test_charge_shared_rate),
	    cmocka_unit_test(test_cancel_and_free_in_callback),
	    cmocka_unit_test(test_parse_error),
	    cmocka_unit_test(test_link_next),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
