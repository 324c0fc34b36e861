/*
 * fuzz-cwreply.c - ConnectWise reply parsing on arbitrary bytes
 * (RELIABILITY.md A6): a reply body through cwapi's whole reply path
 * (depth-limited JSON, id extraction, classification, error text), plus
 * the Link and Retry-After header parsers.
 *
 * Input: byte 0 picks the status, byte 1 the call, the rest is the body
 * (and, as a C string, the Link and Retry-After values). Properties
 * checked beyond "no crash, no leak": the callback runs exactly once;
 * the error text is NUL-terminated, bounded and free of control
 * characters; a SUBMITTED POST has an id > 0; Retry-After never exceeds
 * one hour.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errcode.h"
#include "core/backoff.h"
#include "core/classify.h"
#include "daemon/config.h"
#include "daemon/cwapi.h"
#include "daemon/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fake {
	struct http_transport t;
	http_done_fn *cb;
	void *userdata;
};

static int64_t
fake_submit(struct http_transport *t, const struct http_request *req,
    http_done_fn *cb, void *userdata)
{
	struct fake *f = (struct fake *) t;

	f->cb = cb;
	f->userdata = userdata;
	return 1;
}

static void
fake_cancel(struct http_transport *t, int64_t id)
{
}

static int calls;

static void
check_text(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n >= cap) {
		abort();
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char) s[i];

		if (ch < 0x20 || ch == 0x7f) {
			abort();
		}
	}
}

static void
on_result(const struct cwapi_result *res, void *userdata)
{
	calls++;
	check_text(res->err.msg, sizeof(res->err.msg));
	check_text(res->err.field, sizeof(res->err.field));
	check_text(res->cw_code, sizeof(res->cw_code));
	if (res->post == CLASSIFY_POST_SUBMITTED && res->id <= 0) {
		abort();
	}
	if (res->json) {
		(void) json_object_to_json_string(res->json);
	}
}

static const int statuses[] = {200, 201, 204, 400, 401, 403, 404, 408, 409, 429,
    500, 502, 503, 0, 999, 301};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct secret sec = {.public_key = (char *) "pub",
	    .private_key = (char *) "priv",
	    .client_id = (char *) "cid"};
	struct cwapi_config cfg = {.url = "https://cw.example/v4_6_release/"
					  "apis/3.0",
	    .company = "co"};
	struct fake f = {.t = {fake_submit, fake_cancel}};
	struct cwapi *api = NULL;
	struct http_response resp;
	struct json_object *entry;
	char *text;
	char link[512];
	uint64_t ms;
	int status;
	int64_t id = 0;

	if (size < 2) {
		return 0;
	}
	status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	text = malloc(size - 1);
	if (!text) {
		abort();
	}
	memcpy(text, data + 2, size - 2);
	text[size - 2] = '\0';

	if (cwapi_new(&cfg, &sec, &f.t, &api, NULL) < 0) {
		abort();
	}
	switch (data[1] % 4) {
	case 0:
		entry = json_object_new_object();
		id = cwapi_post_entry(api, entry, on_result, NULL);
		json_object_put(entry);
		break;
	case 1:
		id = cwapi_count_worktypes(api, on_result, NULL);
		break;
	case 2:
		id = cwapi_get_ticket(
		    api, CWAPI_TICKET_SERVICE, 1, NULL, on_result, NULL);
		break;
	default:
		id = cwapi_find_by_guid(api,
		    "0b9c6a8e-3f52-4d8e-9a43-6d1f0e7c2b15", on_result, NULL);
		break;
	}
	if (id <= 0) {
		abort();
	}
	memset(&resp, 0, sizeof(resp));
	resp.xfer = status ? CLASSIFY_XFER_OK : CLASSIFY_XFER_RESET;
	resp.status = status;
	resp.bytes_sent = 100;
	resp.body = (const char *) data + 2;
	resp.body_len = size - 2;
	resp.link = text;
	resp.retry_after = text;
	resp.detail = "detail";
	calls = 0;
	f.cb(&resp, f.userdata);
	if (calls != 1) {
		abort();
	}
	cwapi_free(api);

	(void) cwapi_link_next(text, link, sizeof(link));
	if (backoff_parse_retry_after(text, 1700000000, &ms) == 0 &&
	    ms > 3600000) {
		abort();
	}
	free(text);
	return 0;
}
