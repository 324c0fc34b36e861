/*
 * test-submitter.c - the submission engine on a real loop with an
 * injected clock, a fake journal (records applied through state_apply
 * only when the test commits) and a fake HTTP transport under the real
 * cwapi: every row of connectwise-api.md 12, the reconciliation
 * decisions, the settle delay, pause and probe, the breaker, Retry-After,
 * idle-is-idle, and uv_loop_close() == 0.
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
#include <uv.h>
#include <json-c/json.h>

#include "common/errcode.h"
#include "core/backoff.h"
#include "core/outbox.h"
#include "core/records.h"
#include "core/state.h"
#include "daemon/clocksrc.h"
#include "daemon/config.h"
#include "daemon/cwapi.h"
#include "daemon/http.h"
#include "daemon/submitter.h"

#define U1 "11111111-1111-4111-8111-111111111111"
#define U2 "22222222-2222-4222-8222-222222222222"
#define BASE "https://cw.example.com/v4_6_release/apis/3.0"
#define SETTLE_MS 4000
#define MAXREQ 64
#define MAXREC 64

/* ---- the manual clock ---- */

static int64_t clk_ns;
static int64_t clk_wall = 1795000000;

static int64_t
c_wall(void *u)
{
	return clk_wall + clk_ns / 1000000000;
}

static int64_t
c_mono(void *u)
{
	return clk_ns;
}

static int
c_bootid(char buf[TRACKER_BOOT_ID_LEN], void *u)
{
	snprintf(buf, TRACKER_BOOT_ID_LEN, "boot");
	return 0;
}

static void
c_random(uint8_t *buf, size_t n, void *u)
{
	memset(buf, 0x55, n); /* mid-range jitter, deterministic */
}

static const struct clocksrc manual = {
    .wall_s = c_wall,
    .mono_ns = c_mono,
    .boot_ns = c_mono,
    .boot_id = c_bootid,
    .random = c_random,
};

static void
advance_ms(int64_t ms)
{
	clk_ns += ms * 1000000;
}

/* ---- the fake transport ---- */

struct fake_req {
	int64_t tid;
	enum classify_method method;
	char url[1024];
	char body[4096];
	unsigned flags;
	http_done_fn *cb;
	void *userdata;
	bool done, cancelled;
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
	r->tid = 100 + f->n;
	r->method = req->method;
	snprintf(r->url, sizeof(r->url), "%s", req->url);
	if (req->body) {
		snprintf(r->body, sizeof(r->body), "%.*s", (int) req->body_len,
		    req->body);
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

/* ---- the fake journal ---- */

struct rec {
	uint16_t type;
	json_object *payload;
	submitter_done_fn *done;
	void *ud;
	int batch;
};

struct world {
	uv_loop_t loop;
	struct fake fake;
	struct cwapi *api;
	struct state st;
	struct submitter *s;
	struct rec pending[MAXREC];
	int n_pending;
	struct rec log[256]; /* committed, for assertions */
	int n_log;
	int batches;
	uint64_t seq;
	bool fail_next_commit;
};

static struct world W;

static int
j_append(void *ctx, uint16_t type, json_object *payload,
    submitter_done_fn *done, void *ud, struct errbuf *reterr)
{
	struct rec *r;

	assert_true(W.n_pending < MAXREC);
	r = &W.pending[W.n_pending++];
	r->type = type;
	r->payload = json_tokener_parse(json_object_to_json_string(payload));
	r->done = done;
	r->ud = ud;
	return 0;
}

/* Commits the pending batch: apply each record, then the callbacks. */
static int
commit(void)
{
	int n = W.n_pending;
	struct rec batch[MAXREC];
	struct errbuf e;

	if (n == 0) {
		return 0;
	}
	memcpy(batch, W.pending, sizeof(batch[0]) * (size_t) n);
	W.n_pending = 0;
	W.batches++;
	if (W.fail_next_commit) {
		W.fail_next_commit = false;
		errbuf_set(&e, ERR_DISK_ERROR, -EIO, "injected");
		for (int i = 0; i < n; i++) {
			if (batch[i].done) {
				batch[i].done(batch[i].ud, -EIO, &e);
			}
			json_object_put(batch[i].payload);
		}
		return n;
	}
	for (int i = 0; i < n; i++) {
		errbuf_clear(&e);
		assert_int_equal(state_apply(&W.st, batch[i].type, ++W.seq,
				     batch[i].payload, &e),
		    0);
		submitter_on_record(W.s, batch[i].type);
		batch[i].batch = W.batches;
		W.log[W.n_log++] = batch[i];
	}
	for (int i = 0; i < n; i++) {
		if (batch[i].done) {
			batch[i].done(batch[i].ud, 0, NULL);
		}
	}
	return n;
}

/* Runs the loop and commits until nothing moves. */
static void
pump(void)
{
	for (int i = 0; i < 50; i++) {
		(void) uv_run(&W.loop, UV_RUN_NOWAIT);
		if (commit() == 0 && W.n_pending == 0) {
			(void) uv_run(&W.loop, UV_RUN_NOWAIT);
			if (W.n_pending == 0) {
				return;
			}
		}
	}
}

static struct secret secret = {
    .public_key = (char *) "pub",
    .private_key = (char *) "priv",
    .client_id = (char *) "3c1d7e9a-0000-4000-8000-00000000c1d0",
};

/* true: queue_entry leaves the member out (a body from before [api]
 * member was set) */
static bool queue_without_member;

static void
queue_entry(const char *uuid, int slot)
{
	char buf[1024];
	json_object *p;
	struct errbuf e;

	snprintf(buf, sizeof(buf),
	    "{\"entries\":[{\"uuid\":\"%s\",\"body\":{\"chargeToId\":54321,"
	    "\"chargeToType\":\"ServiceTicket\",%s\"timeStart\":"
	    "\"2026-02-23T%02d:00:00Z\",\"timeEnd\":"
	    "\"2026-02-23T%02d:30:00Z\",\"actualHours\":0.5,\"mobileGuid\":"
	    "\"%s\"}}]}",
	    uuid, queue_without_member ? "" :
	    "\"member\":{\"identifier\":\"jdoe\"},", 8 + slot, 8 + slot,
	    uuid);
	p = json_tokener_parse(buf);
	assert_non_null(p);
	assert_int_equal(
	    state_apply(&W.st, JOURNAL_REC_ENTRY_QUEUED, ++W.seq, p, &e), 0);
	json_object_put(p);
	submitter_on_record(W.s, JOURNAL_REC_ENTRY_QUEUED);
}

static int
setup(void **state)
{
	struct cwapi_config cc = {.url = BASE, .company = "examplemsp"};
	struct submitter_config sc = {.total_timeout_ms = SETTLE_MS / 2,
	    .settle_delay_ms = SETTLE_MS,
	    .max_rate = 0,
	    .max_in_flight = 4};
	struct submitter_ops ops = {.append = j_append};
	struct errbuf e;

	memset(&W, 0, sizeof(W));
	clk_ns = 1000000000000;
	assert_int_equal(uv_loop_init(&W.loop), 0);
	W.fake.t.submit = fake_submit;
	W.fake.t.cancel = fake_cancel;
	assert_int_equal(cwapi_new(&cc, &secret, &W.fake.t, &W.api, &e), 0);
	state_init(&W.st);
	assert_int_equal(submitter_new(&W.loop, &W.st.outbox, W.api, &sc, &ops,
			     &manual, &W.s),
	    0);
	return 0;
}

static int
teardown(void **state)
{
	submitter_close(W.s);
	cwapi_free(W.api);
	(void) uv_run(&W.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&W.loop), 0);
	for (int i = 0; i < W.n_log; i++) {
		json_object_put(W.log[i].payload);
	}
	for (int i = 0; i < W.n_pending; i++) {
		/* never committed: the journal still calls back (orphaned
		 * tickets free themselves) */
		if (W.pending[i].done) {
			W.pending[i].done(W.pending[i].ud, -ECANCELED, NULL);
		}
		json_object_put(W.pending[i].payload);
	}
	state_fini(&W.st);
	return 0;
}

/* ---- helpers over the fake ---- */

static struct fake_req *
last_req(void)
{
	assert_true(W.fake.n > 0);
	return &W.fake.reqs[W.fake.n - 1];
}

static int
open_reqs(void)
{
	int n = 0;

	for (int i = 0; i < W.fake.n; i++) {
		n += !W.fake.reqs[i].done && !W.fake.reqs[i].cancelled;
	}
	return n;
}

static void
reply(struct fake_req *r, int status, const char *body, const char *retry_after)
{
	struct http_response resp = {.xfer = CLASSIFY_XFER_OK,
	    .status = status,
	    .bytes_sent = 300,
	    .body = body,
	    .body_len = strlen(body),
	    .retry_after = retry_after};

	assert_false(r->done);
	assert_false(r->cancelled);
	r->done = true;
	r->cb(&resp, r->userdata);
	pump();
}

static void
xfail(struct fake_req *r, enum classify_xfer x, uint64_t sent)
{
	struct http_response resp = {
	    .xfer = x, .bytes_sent = sent, .body = "", .detail = "injected"};

	assert_false(r->done);
	r->done = true;
	r->cb(&resp, r->userdata);
	pump();
}

static enum outbox_state
state_of(const char *uuid)
{
	return outbox_find(&W.st.outbox, uuid)->state;
}

/* The committed record types since index from, as a string "10,14". */
static const char *
types_since(int from)
{
	static char buf[256];
	size_t o = 0;

	buf[0] = '\0';
	for (int i = from; i < W.n_log && o < sizeof(buf) - 8; i++) {
		o += (size_t) snprintf(buf + o, sizeof(buf) - o, "%s%s",
		    o ? "," : "", records_type_name(W.log[i].type));
	}
	return buf;
}

static bool
is_post(const struct fake_req *r)
{
	return r->method == CLASSIFY_POST && strstr(r->url, "/time/entries");
}

static bool
is_guid_get(const struct fake_req *r)
{
	return r->method == CLASSIFY_GET && strstr(r->url, "mobileGuid");
}

/* Queues U1, lets the attempt commit, returns the POST. */
static struct fake_req *
start_u1(void)
{
	queue_entry(U1, 0);
	(void) uv_run(&W.loop, UV_RUN_NOWAIT);
	/* ATTEMPT_STARTED is appended, not yet durable: nothing sent */
	assert_int_equal(W.n_pending, 1);
	assert_int_equal(W.pending[0].type, JOURNAL_REC_ATTEMPT_STARTED);
	assert_int_equal(W.fake.n, 0);
	pump();
	assert_int_equal(W.fake.n, 1);
	assert_true(is_post(last_req()));
	assert_true(last_req()->flags & HTTP_FRESH_CONNECTION);
	assert_non_null(strstr(last_req()->body, "\"mobileGuid\":\"" U1));
	return last_req();
}

/* ---- tests ---- */

static void
test_happy_path_and_idle(void **state)
{
	struct fake_req *r = start_u1();
	json_object *v;

	reply(r, 201, "{\"id\":77,\"mobileGuid\":\"" U1 "\"}", NULL);
	assert_int_equal(state_of(U1), OUTBOX_SUBMITTED);
	assert_string_equal(types_since(0), "attempt-started,submitted");
	assert_true(json_object_object_get_ex(W.log[1].payload, "id", &v));
	assert_int_equal(json_object_get_int64(v), 77);
	/* the echo makes it probe mobileGuid filtering once */
	assert_true(is_guid_get(last_req()));
	reply(last_req(), 200, "[{\"id\":77,\"mobileGuid\":\"" U1 "\"}]", NULL);
	/* idle is idle */
	assert_int_equal(open_reqs(), 0);
	assert_int_equal(submitter_timer_due_ms(W.s), -1);
	/* with mobileGuid proven, the next POST carries no marker */
	queue_entry(U2, 1);
	pump();
	assert_true(is_post(last_req()));
	assert_null(strstr(last_req()->body, "[cwtimed:"));
	reply(last_req(), 201, "{\"id\":78,\"mobileGuid\":\"" U2 "\"}", NULL);
	assert_int_equal(state_of(U2), OUTBOX_SUBMITTED);
}

/* One row of connectwise-api.md 12 for a POST. */
struct row {
	const char *name;
	int status;
	enum classify_xfer xfer;
	uint64_t sent;
	const char *body;
	enum outbox_state want;
	const char *records;
	bool pauses;
};

static void
test_classification_rows(void **state)
{
	static const struct row rows[] = {
	    {"201", 201, CLASSIFY_XFER_OK, 1, "{\"id\":5}", OUTBOX_SUBMITTED,
		"attempt-started,submitted", false},
	    {"2xx no id", 200, CLASSIFY_XFER_OK, 1, "{}", OUTBOX_UNKNOWN,
		"attempt-started,outcome-unknown", false},
	    {"dns", 0, CLASSIFY_XFER_RESOLVE, 0, "", OUTBOX_PENDING,
		"attempt-started,attempt-failed", false},
	    {"connect", 0, CLASSIFY_XFER_CONNECT, 0, "", OUTBOX_PENDING,
		"attempt-started,attempt-failed", false},
	    {"tls handshake", 0, CLASSIFY_XFER_TLS_HANDSHAKE, 0, "",
		OUTBOX_PENDING, "attempt-started,attempt-failed", false},
	    {"tls verify", 0, CLASSIFY_XFER_TLS_VERIFY, 0, "", OUTBOX_PENDING,
		"attempt-started,attempt-failed,queue-paused", true},
	    {"timeout after sending", 0, CLASSIFY_XFER_TIMEOUT, 200, "",
		OUTBOX_UNKNOWN, "attempt-started,outcome-unknown", false},
	    {"reset after sending", 0, CLASSIFY_XFER_RESET, 200, "",
		OUTBOX_UNKNOWN, "attempt-started,outcome-unknown", false},
	    {"500", 500, CLASSIFY_XFER_OK, 1, "{}", OUTBOX_UNKNOWN,
		"attempt-started,outcome-unknown", false},
	    {"502", 502, CLASSIFY_XFER_OK, 1, "{}", OUTBOX_UNKNOWN,
		"attempt-started,outcome-unknown", false},
	    {"503", 503, CLASSIFY_XFER_OK, 1, "{}", OUTBOX_UNKNOWN,
		"attempt-started,outcome-unknown", false},
	    {"504", 504, CLASSIFY_XFER_OK, 1, "{}", OUTBOX_UNKNOWN,
		"attempt-started,outcome-unknown", false},
	    {"429", 429, CLASSIFY_XFER_OK, 1, "{}", OUTBOX_PENDING,
		"attempt-started,attempt-failed", false},
	    {"408", 408, CLASSIFY_XFER_OK, 1, "{}", OUTBOX_PENDING,
		"attempt-started,attempt-failed", false},
	    {"400", 400, CLASSIFY_XFER_OK, 1,
		"{\"code\":\"InvalidObject\",\"message\":\"bad\",\"errors\":"
		"null}",
		OUTBOX_REJECTED, "attempt-started,rejected", false},
	    {"401", 401, CLASSIFY_XFER_OK, 1, "{}", OUTBOX_REJECTED,
		"attempt-started,rejected,queue-paused", true},
	    {"403", 403, CLASSIFY_XFER_OK, 1, "{}", OUTBOX_REJECTED,
		"attempt-started,rejected,queue-paused", true},
	    {"404 collection", 404, CLASSIFY_XFER_OK, 1, "{}", OUTBOX_REJECTED,
		"attempt-started,rejected,queue-paused", true},
	    {"409", 409, CLASSIFY_XFER_OK, 1, "{}", OUTBOX_REJECTED,
		"attempt-started,rejected", false},
	    {"405", 405, CLASSIFY_XFER_OK, 1, "{}", OUTBOX_REJECTED,
		"attempt-started,rejected", false},
	    {"415", 415, CLASSIFY_XFER_OK, 1, "{}", OUTBOX_REJECTED,
		"attempt-started,rejected", false},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *rw = &rows[i];
		struct fake_req *r;
		struct submitter_status st;

		teardown(state);
		setup(state);
		print_message("row %s\n", rw->name);
		r = start_u1();
		if (rw->xfer == CLASSIFY_XFER_OK) {
			reply(r, rw->status, rw->body, NULL);
		} else {
			xfail(r, rw->xfer, rw->sent);
		}
		assert_int_equal(state_of(U1), rw->want);
		assert_string_equal(types_since(0), rw->records);
		/* the result and the pause share one commit */
		assert_int_equal(W.log[W.n_log - 1].batch, W.log[1].batch);
		submitter_get_status(W.s, &st);
		assert_int_equal(st.health == SUBMITTER_PAUSED, rw->pauses);
		/* exactly one POST, and only reads may follow */
		for (int k = 1; k < W.fake.n; k++) {
			assert_false(is_post(&W.fake.reqs[k]));
		}
	}
}

/* POST -> UNKNOWN; returns the index of the first record after it. */
static int
to_unknown(void)
{
	struct fake_req *r = start_u1();

	xfail(r, CLASSIFY_XFER_RESET, 300);
	assert_int_equal(state_of(U1), OUTBOX_UNKNOWN);
	return W.n_log;
}

static void
test_settle_delay(void **state)
{
	int n0 = to_unknown(), reqs = W.fake.n;

	/* the timer is armed for the settle delay, nothing earlier */
	assert_in_range(
	    submitter_timer_due_ms(W.s), SETTLE_MS - 1000, SETTLE_MS);
	advance_ms(SETTLE_MS - 1500);
	submitter_kick(W.s);
	pump();
	assert_int_equal(W.fake.n, reqs);
	advance_ms(1500);
	submitter_kick(W.s);
	pump();
	assert_int_equal(W.fake.n, reqs + 1);
	assert_true(is_guid_get(last_req()));
	assert_int_equal(W.n_log, n0);
}

static void
test_reconcile_found(void **state)
{
	int n0 = to_unknown();

	advance_ms(SETTLE_MS);
	submitter_kick(W.s);
	pump();
	assert_true(is_guid_get(last_req()));
	reply(
	    last_req(), 200, "[{\"id\":901,\"mobileGuid\":\"" U1 "\"}]", NULL);
	assert_int_equal(state_of(U1), OUTBOX_SUBMITTED);
	assert_int_equal(outbox_find(&W.st.outbox, U1)->remote_id, 901);
	assert_string_equal(types_since(n0), "reconciled,submitted");
	assert_int_equal(W.log[n0].batch, W.log[n0 + 1].batch);
	for (int k = 1; k < W.fake.n; k++) {
		assert_false(is_post(&W.fake.reqs[k])); /* no re-send */
	}
}

static void
test_reconcile_two_matches(void **state)
{
	int n0 = to_unknown();
	json_object *v;

	advance_ms(SETTLE_MS);
	submitter_kick(W.s);
	pump();
	reply(last_req(), 200,
	    "[{\"id\":1,\"mobileGuid\":\"" U1 "\"},{\"id\":2,\"mobileGuid\":"
	    "\"" U1 "\"}]",
	    NULL);
	assert_int_equal(state_of(U1), OUTBOX_REJECTED);
	assert_string_equal(types_since(n0), "rejected");
	assert_true(json_object_object_get_ex(W.log[n0].payload, "code", &v));
	assert_string_equal(json_object_get_string(v), "ambiguous");
}

/* Absent needs two reads: the second right before the new POST, whose
 * RECONCILED(absent) and ATTEMPT_STARTED(2) commit together. */
static void
test_reconcile_absent_twice(void **state)
{
	int n0 = to_unknown(), posts = 0;

	advance_ms(SETTLE_MS);
	submitter_kick(W.s);
	pump();
	/* support unknown: an empty guid answer is not proof; the natural
	 * key is asked (member, target, timeStart) */
	assert_true(is_guid_get(last_req()));
	reply(last_req(), 200, "[]", NULL);
	assert_true(strstr(last_req()->url, "timeStart") != NULL);
	assert_int_equal(W.n_log, n0);
	reply(last_req(), 200, "[]", NULL); /* first absent */
	assert_int_equal(W.n_log, n0);	    /* nothing journaled yet */
	assert_int_equal(state_of(U1), OUTBOX_UNKNOWN);
	/* the second read goes at once, by the same key */
	assert_false(is_post(last_req()));
	assert_non_null(strstr(last_req()->url, "timeStart"));
	reply(last_req(), 200, "[]", NULL);
	assert_string_equal(types_since(n0), "reconciled,attempt-started");
	assert_int_equal(W.log[n0].batch, W.log[n0 + 1].batch);
	assert_true(is_post(last_req()));
	for (int k = 0; k < W.fake.n; k++) {
		posts += is_post(&W.fake.reqs[k]);
	}
	assert_int_equal(posts, 2);
	/* the re-sent POST carries the marker (mobileGuid not proven) and
	 * the same uuid */
	assert_non_null(strstr(last_req()->body, "[cwtimed:" U1 "]"));
	reply(last_req(), 201, "{\"id\":9}", NULL);
	assert_int_equal(state_of(U1), OUTBOX_SUBMITTED);
}

static void
test_natural_key_unmarked_is_ambiguous(void **state)
{
	int n0 = to_unknown();

	advance_ms(SETTLE_MS);
	submitter_kick(W.s);
	pump();
	reply(last_req(), 400,
	    "{\"code\":\"BadRequest\",\"message\":"
	    "\"Invalid conditions\",\"errors\":null}",
	    NULL);
	/* nofilter: the natural key at once */
	assert_non_null(strstr(last_req()->url, "timeStart"));
	reply(last_req(), 200,
	    "[{\"id\":44,\"timeStart\":\"2026-02-23T08:00:00Z\",\"timeEnd\":"
	    "\"2026-02-23T08:30:00Z\",\"actualHours\":0.5,\"internalNotes\":"
	    "\"by hand\"}]",
	    NULL);
	assert_int_equal(state_of(U1), OUTBOX_REJECTED);
	assert_string_equal(types_since(n0), "rejected");
}

static void
test_natural_key_marked_is_adopted(void **state)
{
	int n0 = to_unknown();

	advance_ms(SETTLE_MS);
	submitter_kick(W.s);
	pump();
	reply(last_req(), 400, "{\"code\":\"BadRequest\",\"message\":\"x\"}",
	    NULL);
	reply(last_req(), 200,
	    "[{\"id\":45,\"timeEnd\":\"2026-02-23T08:30:00Z\","
	    "\"internalNotes\":\"other [cwtimed:" U2 "]\"},"
	    "{\"id\":46,\"internalNotes\":\"x [cwtimed:" U1 "]\"}]",
	    NULL);
	assert_int_equal(state_of(U1), OUTBOX_SUBMITTED);
	assert_int_equal(outbox_find(&W.st.outbox, U1)->remote_id, 46);
	assert_string_equal(types_since(n0), "reconciled,submitted");
}

/* A body without a member and nothing learned from a 201: the natural
 * key takes [api] member (submitter_config.member_id), not nothing. */
static void
test_natural_key_configured_member(void **state)
{
	struct submitter_config sc = {.total_timeout_ms = SETTLE_MS / 2,
	    .settle_delay_ms = SETTLE_MS,
	    .max_in_flight = 4,
	    .member_id = 124};
	int n0;

	submitter_set_api(W.s, W.api, &sc);
	queue_without_member = true;
	n0 = to_unknown();
	queue_without_member = false;
	advance_ms(SETTLE_MS);
	submitter_kick(W.s);
	pump();
	/* nofilter: the natural key at once, by the configured member */
	reply(last_req(), 400, "{\"code\":\"BadRequest\",\"message\":\"x\"}",
	    NULL);
	assert_non_null(strstr(last_req()->url, "timeStart"));
	assert_true(strstr(last_req()->url, "member%2Fid%3D124") ||
	    strstr(last_req()->url, "member/id=124") ||
	    strstr(last_req()->url, "member/id%3D124"));
	reply(last_req(), 200,
	    "[{\"id\":47,\"internalNotes\":\"x [cwtimed:" U1 "]\"}]", NULL);
	assert_int_equal(state_of(U1), OUTBOX_SUBMITTED);
	assert_int_equal(outbox_find(&W.st.outbox, U1)->remote_id, 47);
	assert_string_equal(types_since(n0), "reconciled,submitted");
}

static void
test_query_failure_retries_with_backoff(void **state)
{
	int n0 = to_unknown(), reqs;

	advance_ms(SETTLE_MS);
	submitter_kick(W.s);
	pump();
	reply(last_req(), 503, "{}", NULL);
	assert_int_equal(state_of(U1), OUTBOX_UNKNOWN);
	assert_int_equal(W.n_log, n0);
	reqs = W.fake.n;
	assert_true(submitter_timer_due_ms(W.s) >= 0);
	advance_ms(BACKOFF_BASE_MS + 1);
	submitter_kick(W.s);
	pump();
	assert_int_equal(W.fake.n, reqs + 1);
	assert_true(is_guid_get(last_req()));
}

static void
test_attempt_commit_failure_sends_nothing(void **state)
{
	queue_entry(U1, 0);
	W.fail_next_commit = true;
	pump();
	assert_int_equal(W.fake.n, 0);
	assert_int_equal(state_of(U1), OUTBOX_PENDING);
	/* later, it is tried again */
	assert_true(submitter_timer_due_ms(W.s) >= 0);
	advance_ms(BACKOFF_BASE_MS + 1);
	submitter_kick(W.s);
	pump();
	assert_int_equal(W.fake.n, 1);
	assert_true(is_post(last_req()));
}

static void
test_pause_probe_resume(void **state)
{
	struct fake_req *r = start_u1();
	struct submitter_status st;
	int reqs;

	queue_entry(U2, 1); /* waits: one POST at a time */
	reply(r, 401, "{\"code\":\"Unauthorized\",\"message\":\"no\"}", NULL);
	submitter_get_status(W.s, &st);
	assert_int_equal(st.health, SUBMITTER_PAUSED);
	assert_non_null(strstr(st.reason, "401"));
	assert_int_equal(state_of(U2), OUTBOX_PENDING);
	reqs = W.fake.n;
	assert_int_equal(reqs, 1);
	/* one probe after an hour */
	assert_in_range(submitter_timer_due_ms(W.s), 3599000, 3600000);
	advance_ms(3600000);
	submitter_kick(W.s);
	pump();
	assert_int_equal(W.fake.n, 2);
	assert_non_null(strstr(last_req()->url, "/time/workTypes/count"));
	reply(last_req(), 200, "{\"count\":8}", NULL);
	assert_false(W.st.outbox.paused);
	assert_true(is_post(last_req()));
	assert_non_null(strstr(last_req()->body, U2));
}

static void
test_user_pause_has_no_probe(void **state)
{
	json_object *p = json_tokener_parse(
	    "{\"reason\":\"" SUBMITTER_USER_PAUSE_REASON "\"}");
	struct errbuf e;

	assert_int_equal(
	    state_apply(&W.st, JOURNAL_REC_QUEUE_PAUSED, ++W.seq, p, &e), 0);
	json_object_put(p);
	queue_entry(U1, 0);
	pump();
	assert_int_equal(W.fake.n, 0);
	assert_int_equal(submitter_timer_due_ms(W.s), -1);
}

static void
test_breaker_opens_and_closes(void **state)
{
	static const char *const u[] = {
	    "a0000000-0000-4000-8000-000000000001",
	    "a0000000-0000-4000-8000-000000000002",
	    "a0000000-0000-4000-8000-000000000003",
	    "a0000000-0000-4000-8000-000000000004",
	    "a0000000-0000-4000-8000-000000000005",
	    "a0000000-0000-4000-8000-000000000006",
	};
	struct submitter_status st;
	int64_t due;
	int reqs;

	for (int i = 0; i < 6; i++) {
		queue_entry(u[i], i);
	}
	pump();
	for (int i = 0; i < 5; i++) {
		assert_true(is_post(last_req()));
		xfail(last_req(), CLASSIFY_XFER_CONNECT, 0);
	}
	submitter_get_status(W.s, &st);
	assert_int_equal(st.health, SUBMITTER_UNREACHABLE);
	assert_string_equal(st.breaker, "open");
	reqs = W.fake.n;
	assert_int_equal(reqs, 5);
	/* nothing while open; the timer points at the cool-down */
	due = submitter_timer_due_ms(W.s);
	assert_in_range(due, 27000 - 1, 30000);
	advance_ms(due - 1);
	submitter_kick(W.s);
	pump();
	assert_int_equal(W.fake.n, reqs);
	advance_ms(1);
	submitter_kick(W.s);
	pump();
	/* exactly one probe: no reconciliation is due, so the count */
	assert_int_equal(W.fake.n, reqs + 1);
	assert_non_null(strstr(last_req()->url, "/time/workTypes/count"));
	assert_int_equal(open_reqs(), 1);
	reply(last_req(), 200, "{\"count\":8}", NULL);
	submitter_get_status(W.s, &st);
	assert_int_equal(st.health, SUBMITTER_OK);
	/* backoff of the entries still applies; after it, posts resume */
	advance_ms(BACKOFF_CAP_MS);
	submitter_kick(W.s);
	pump();
	assert_true(is_post(last_req()));
}

static void
test_retry_after_is_a_floor(void **state)
{
	struct fake_req *r = start_u1();
	int64_t due;

	reply(r, 429, "{\"error\":\"x\",\"message\":\"slow\"}", "7");
	due = submitter_timer_due_ms(W.s);
	assert_true(due >= 7000);
	assert_true(due <= 7700);
	advance_ms(6900);
	submitter_kick(W.s);
	pump();
	assert_int_equal(W.fake.n, 1);
	advance_ms(due - 6900);
	submitter_kick(W.s);
	pump();
	assert_int_equal(W.fake.n, 2);
	assert_true(is_post(last_req()));
}

static int flushed;

static void
on_flushed(void *userdata)
{
	flushed++;
}

static void
test_flush_waits_for_the_outcome(void **state)
{
	flushed = 0;
	queue_entry(U1, 0);
	assert_int_equal(submitter_flush(W.s, on_flushed, NULL), 0);
	assert_int_equal(flushed, 0); /* never from inside the call */
	pump();
	assert_true(is_post(last_req()));
	assert_int_equal(flushed, 0);
	reply(last_req(), 201, "{\"id\":3}", NULL);
	assert_int_equal(flushed, 1);
	/* nothing waiting: answered on the next turn */
	assert_int_equal(submitter_flush(W.s, on_flushed, NULL), 0);
	pump();
	assert_int_equal(flushed, 2);
}

/* The POST window (doc/design.md departures): one POST at a time until
 * one succeeds, one more per 201 up to max_in_flight (4), back to one on
 * any other outcome; the ATTEMPT_STARTED records of POSTs that start
 * together share one commit, and every POST still waits for its own. */
static struct fake_req *
open_post(const char *uuid)
{
	for (int i = 0; i < W.fake.n; i++) {
		struct fake_req *r = &W.fake.reqs[i];

		if (is_post(r) && !r->done && !r->cancelled &&
		    strstr(r->body, uuid)) {
			return r;
		}
	}
	return NULL;
}

static int
open_posts(void)
{
	int n = 0;

	for (int i = 0; i < W.fake.n; i++) {
		n += is_post(&W.fake.reqs[i]) && !W.fake.reqs[i].done &&
		    !W.fake.reqs[i].cancelled;
	}
	return n;
}

static void
test_post_window(void **state)
{
	static const char *const u[] = {U1, U2,
	    "33333333-3333-4333-8333-333333333333",
	    "44444444-4444-4444-8444-444444444444",
	    "55555555-5555-4555-8555-555555555555",
	    "66666666-6666-4666-8666-666666666666",
	    "77777777-7777-4777-8777-777777777777",
	    "88888888-8888-4888-8888-888888888888",
	    "99999999-9999-4999-8999-999999999999"};
	struct fake_req *r;
	int batch = -1, same = 0;

	for (int i = 0; i < 9; i++) {
		queue_entry(u[i], i);
	}
	pump();
	assert_int_equal(open_posts(), 1); /* nothing proven yet */
	r = open_post(u[0]);
	assert_non_null(r);
	reply(r, 201, "{\"id\":101}", NULL);
	assert_int_equal(open_posts(), 2);
	assert_non_null(open_post(u[1]));
	assert_non_null(open_post(u[2]));
	/* both ATTEMPT_STARTED records went in one commit */
	for (int i = 0; i < W.n_log; i++) {
		if (W.log[i].type == JOURNAL_REC_ATTEMPT_STARTED &&
		    (strstr(
			 json_object_to_json_string(W.log[i].payload), u[1]) ||
			strstr(json_object_to_json_string(W.log[i].payload),
			    u[2]))) {
			same += batch == W.log[i].batch;
			batch = W.log[i].batch;
		}
	}
	assert_int_equal(same, 1);
	reply(open_post(u[1]), 201, "{\"id\":102}", NULL);
	assert_int_equal(open_posts(), 3); /* u2, u3, u4 */
	reply(open_post(u[2]), 201, "{\"id\":103}", NULL);
	assert_int_equal(open_posts(), 4); /* the cap: max_in_flight 4 */
	reply(open_post(u[3]), 201, "{\"id\":104}", NULL);
	assert_int_equal(open_posts(), 4);
	/* a failure: back to one at a time; the three out stay out */
	reply(open_post(u[4]), 503, "{}", NULL);
	assert_int_equal(state_of(u[4]), OUTBOX_UNKNOWN);
	assert_int_equal(open_posts(), 3);
	reply(open_post(u[5]), 201, "{\"id\":106}", NULL);
	assert_int_equal(open_posts(), 2); /* window 2, two out: none new */
	reply(open_post(u[6]), 201, "{\"id\":107}", NULL);
	assert_int_equal(open_posts(), 2); /* window 3: one new */
	assert_non_null(open_post(u[8]));
	/* exactly one POST per entry so far */
	for (int i = 0; i < 9; i++) {
		int n = 0;

		for (int k = 0; k < W.fake.n; k++) {
			n += is_post(&W.fake.reqs[k]) &&
			    strstr(W.fake.reqs[k].body, u[i]) != NULL;
		}
		assert_int_equal(n, 1);
	}
}

/* With one request in flight at most, the mobileGuid filter probe after
 * the first 201 waits for the pacer's slot, takes it, and gives it back:
 * the next POST follows its answer (a probe that never kicked left the
 * queue standing). */
static void
test_guid_probe_takes_a_slot(void **state)
{
	struct submitter_config sc = {.total_timeout_ms = SETTLE_MS / 2,
	    .settle_delay_ms = SETTLE_MS,
	    .max_rate = 0,
	    .max_in_flight = 1};
	struct fake_req *r;

	submitter_set_api(W.s, W.api, &sc);
	r = start_u1();
	queue_entry(U2, 1);
	reply(r, 201, "{\"id\":77,\"mobileGuid\":\"" U1 "\"}", NULL);
	/* the probe has the one slot: no POST beside it */
	assert_true(is_guid_get(last_req()));
	assert_int_equal(open_reqs(), 1);
	reply(last_req(), 200, "[{\"id\":77,\"mobileGuid\":\"" U1 "\"}]", NULL);
	assert_int_equal(open_reqs(), 1);
	assert_true(is_post(last_req()));
	assert_non_null(strstr(last_req()->body, U2));
	reply(last_req(), 201, "{\"id\":78}", NULL);
	assert_int_equal(state_of(U2), OUTBOX_SUBMITTED);
	assert_int_equal(open_reqs(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_happy_path_and_idle, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_classification_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_settle_delay, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_reconcile_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_reconcile_two_matches, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_reconcile_absent_twice, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_natural_key_unmarked_is_ambiguous, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_natural_key_marked_is_adopted, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_natural_key_configured_member, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_query_failure_retries_with_backoff, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_attempt_commit_failure_sends_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_pause_probe_resume, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_user_pause_has_no_probe, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_breaker_opens_and_closes, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_retry_after_is_a_floor, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_flush_waits_for_the_outcome, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_post_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_guid_probe_takes_a_slot, setup, teardown),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
