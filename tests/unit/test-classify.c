/*
 * test-classify.c - connectwise-api.md section 12, one row per line, and
 * every curl failure kind (RELIABILITY.md E5).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/classify.h"

#define GET CLASSIFY_GET
#define POST CLASSIFY_POST
#define PATCH CLASSIFY_PATCH
#define DELETE CLASSIFY_DELETE
#define PUT CLASSIFY_PUT
#define COLL CLASSIFY_PATH_COLLECTION
#define BYID CLASSIFY_PATH_BY_ID
#define OTHER CLASSIFY_PATH_OTHER
#define OK CLASSIFY_XFER_OK

struct row {
	int line;
	enum classify_method m;
	enum classify_path p;
	int status;
	enum classify_xfer x;
	uint64_t sent;
	bool has_id;
	enum classify_class want;
	enum classify_post want_post; /* for POST on a collection */
};

#define ROW(...)                                                               \
	{                                                                      \
		__LINE__, __VA_ARGS__                                          \
	}
#define NA CLASSIFY_POST_COUNT

static const struct row rows[] = {
    /* 201 with an id in the body: success, SUBMITTED(id) */
    ROW(POST, COLL, 201, OK, 500, true, CLASSIFY_SUCCESS,
	CLASSIFY_POST_SUBMITTED),
    /* 2xx on POST, but no readable id: unknown */
    ROW(POST, COLL, 201, OK, 500, false, CLASSIFY_UNKNOWN,
	CLASSIFY_POST_UNKNOWN),
    ROW(POST, COLL, 200, OK, 500, false, CLASSIFY_UNKNOWN,
	CLASSIFY_POST_UNKNOWN),
    /* a reply cut at the body cap has no readable id */
    ROW(POST, COLL, 201, CLASSIFY_XFER_TOO_LARGE, 500, true, CLASSIFY_UNKNOWN,
	CLASSIFY_POST_UNKNOWN),
    /* other 2xx */
    ROW(GET, COLL, 200, OK, 100, false, CLASSIFY_SUCCESS, NA),
    ROW(DELETE, BYID, 204, OK, 100, false, CLASSIFY_SUCCESS, NA),
    ROW(PATCH, BYID, 200, OK, 100, false, CLASSIFY_SUCCESS, NA),
    ROW(POST, OTHER, 200, OK, 100, false, CLASSIFY_SUCCESS, NA),
    /* DNS, connect refused or timed out, TLS handshake: not sent */
    ROW(POST, COLL, 0, CLASSIFY_XFER_RESOLVE, 0, false, CLASSIFY_RETRY,
	CLASSIFY_POST_PENDING),
    ROW(POST, COLL, 0, CLASSIFY_XFER_CONNECT, 0, false, CLASSIFY_RETRY,
	CLASSIFY_POST_PENDING),
    ROW(POST, COLL, 0, CLASSIFY_XFER_TLS_HANDSHAKE, 0, false, CLASSIFY_RETRY,
	CLASSIFY_POST_PENDING),
    ROW(POST, COLL, 0, CLASSIFY_XFER_TIMEOUT, 0, false, CLASSIFY_RETRY,
	CLASSIFY_POST_PENDING),
    ROW(POST, COLL, 0, CLASSIFY_XFER_RESET, 0, false, CLASSIFY_RETRY,
	CLASSIFY_POST_PENDING),
    ROW(POST, COLL, 0, CLASSIFY_XFER_LOCAL, 0, false, CLASSIFY_RETRY,
	CLASSIFY_POST_PENDING),
    ROW(GET, COLL, 0, CLASSIFY_XFER_RESOLVE, 0, false, CLASSIFY_RETRY, NA),
    ROW(GET, COLL, 0, CLASSIFY_XFER_CONNECT, 0, false, CLASSIFY_RETRY, NA),
    /* TLS certificate verification failed: account-wide, PENDING */
    ROW(POST, COLL, 0, CLASSIFY_XFER_TLS_VERIFY, 0, false, CLASSIFY_ACCOUNT,
	CLASSIFY_POST_PENDING_PAUSE),
    ROW(GET, COLL, 0, CLASSIFY_XFER_TLS_VERIFY, 0, false, CLASSIFY_ACCOUNT, NA),
    /* timeout, reset or EOF after request bytes went out: unknown */
    ROW(POST, COLL, 0, CLASSIFY_XFER_TIMEOUT, 1, false, CLASSIFY_UNKNOWN,
	CLASSIFY_POST_UNKNOWN),
    ROW(POST, COLL, 0, CLASSIFY_XFER_RESET, 350, false, CLASSIFY_UNKNOWN,
	CLASSIFY_POST_UNKNOWN),
    ROW(POST, COLL, 0, CLASSIFY_XFER_OTHER, 350, false, CLASSIFY_UNKNOWN,
	CLASSIFY_POST_UNKNOWN),
    /* any doubt about a connect failure after sending: unknown */
    ROW(POST, COLL, 0, CLASSIFY_XFER_CONNECT, 1, false, CLASSIFY_UNKNOWN,
	CLASSIFY_POST_UNKNOWN),
    ROW(PATCH, BYID, 0, CLASSIFY_XFER_TIMEOUT, 10, false, CLASSIFY_UNKNOWN, NA),
    ROW(DELETE, BYID, 0, CLASSIFY_XFER_RESET, 10, false, CLASSIFY_UNKNOWN, NA),
    /* a read that timed out after sending is simply retried */
    ROW(GET, COLL, 0, CLASSIFY_XFER_TIMEOUT, 10, false, CLASSIFY_RETRY, NA),
    ROW(GET, BYID, 0, CLASSIFY_XFER_RESET, 10, false, CLASSIFY_RETRY, NA),
    /* 500, 502, 503, 504: POST reconciled, others retried */
    ROW(POST, COLL, 500, OK, 500, false, CLASSIFY_UNKNOWN,
	CLASSIFY_POST_UNKNOWN),
    ROW(POST, COLL, 502, OK, 500, false, CLASSIFY_UNKNOWN,
	CLASSIFY_POST_UNKNOWN),
    ROW(POST, COLL, 503, OK, 500, false, CLASSIFY_UNKNOWN,
	CLASSIFY_POST_UNKNOWN),
    ROW(POST, COLL, 504, OK, 500, false, CLASSIFY_UNKNOWN,
	CLASSIFY_POST_UNKNOWN),
    ROW(GET, COLL, 500, OK, 100, false, CLASSIFY_RETRY, NA),
    ROW(GET, COLL, 503, OK, 100, false, CLASSIFY_RETRY, NA),
    ROW(GET, BYID, 504, OK, 100, false, CLASSIFY_RETRY, NA),
    ROW(PATCH, BYID, 502, OK, 100, false, CLASSIFY_RETRY, NA),
    /* 429: not applied, Retry-After */
    ROW(POST, COLL, 429, OK, 500, false, CLASSIFY_RETRY_AFTER,
	CLASSIFY_POST_PENDING),
    ROW(GET, COLL, 429, OK, 100, false, CLASSIFY_RETRY_AFTER, NA),
    /* 408 */
    ROW(POST, COLL, 408, OK, 500, false, CLASSIFY_RETRY, CLASSIFY_POST_PENDING),
    ROW(GET, BYID, 408, OK, 100, false, CLASSIFY_RETRY, NA),
    /* 400 */
    ROW(POST, COLL, 400, OK, 500, false, CLASSIFY_PERMANENT,
	CLASSIFY_POST_REJECTED),
    ROW(GET, COLL, 400, OK, 100, false, CLASSIFY_PERMANENT, NA),
    /* 401, 403 */
    ROW(POST, COLL, 401, OK, 500, false, CLASSIFY_ACCOUNT,
	CLASSIFY_POST_REJECTED_PAUSE),
    ROW(POST, COLL, 403, OK, 500, false, CLASSIFY_ACCOUNT,
	CLASSIFY_POST_REJECTED_PAUSE),
    ROW(GET, BYID, 401, OK, 100, false, CLASSIFY_ACCOUNT, NA),
    ROW(PATCH, BYID, 403, OK, 100, false, CLASSIFY_ACCOUNT, NA),
    /* 404 on a collection path: as 401 */
    ROW(POST, COLL, 404, OK, 500, false, CLASSIFY_ACCOUNT,
	CLASSIFY_POST_REJECTED_PAUSE),
    ROW(GET, COLL, 404, OK, 100, false, CLASSIFY_ACCOUNT, NA),
    /* 404 on /time/entries/{id}: gone */
    ROW(PATCH, BYID, 404, OK, 100, false, CLASSIFY_GONE, NA),
    ROW(DELETE, BYID, 404, OK, 100, false, CLASSIFY_GONE, NA),
    ROW(GET, BYID, 404, OK, 100, false, CLASSIFY_GONE, NA),
    ROW(GET, OTHER, 404, OK, 100, false, CLASSIFY_PERMANENT, NA),
    /* 409 */
    ROW(POST, COLL, 409, OK, 500, false, CLASSIFY_PERMANENT,
	CLASSIFY_POST_REJECTED),
    ROW(PATCH, BYID, 409, OK, 100, false, CLASSIFY_PERMANENT, NA),
    /* 405, 415, other 4xx; 3xx is never followed */
    ROW(POST, COLL, 405, OK, 500, false, CLASSIFY_PERMANENT,
	CLASSIFY_POST_REJECTED),
    ROW(POST, COLL, 415, OK, 500, false, CLASSIFY_PERMANENT,
	CLASSIFY_POST_REJECTED),
    ROW(POST, COLL, 422, OK, 500, false, CLASSIFY_PERMANENT,
	CLASSIFY_POST_REJECTED),
    ROW(POST, COLL, 301, OK, 500, false, CLASSIFY_PERMANENT,
	CLASSIFY_POST_REJECTED),
    /* a status no server sends is a garbled reply */
    ROW(POST, COLL, 999, OK, 500, true, CLASSIFY_UNKNOWN,
	CLASSIFY_POST_UNKNOWN),
    ROW(POST, COLL, 0, OK, 0, true, CLASSIFY_UNKNOWN, CLASSIFY_POST_UNKNOWN),
    ROW(GET, COLL, 0, OK, 0, false, CLASSIFY_RETRY, NA),
    /* other 5xx like 500 */
    ROW(POST, COLL, 501, OK, 500, false, CLASSIFY_UNKNOWN,
	CLASSIFY_POST_UNKNOWN),
};

static void
test_table(void **state)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		enum classify_class c = classify_outcome(
		    r->m, r->p, r->status, r->x, r->sent, r->has_id);

		if (c != r->want) {
			print_message(
			    "row at line %d: %s %d %s -> %s, want %s\n",
			    r->line, classify_method_name(r->m), r->status,
			    classify_xfer_name(r->x), classify_class_name(c),
			    classify_class_name(r->want));
		}
		assert_int_equal(c, r->want);
		if (r->m == POST && r->p == COLL) {
			enum classify_post p = classify_post_entry(
			    r->status, r->x, r->sent, r->has_id);

			if (p != r->want_post) {
				print_message("row at line %d: post %d, want "
					      "%d\n",
				    r->line, p, r->want_post);
			}
			assert_int_equal(p, r->want_post);
		}
	}
}

static void
test_pause_and_internal(void **state)
{
	assert_true(classify_pauses_queue(CLASSIFY_ACCOUNT));
	assert_false(classify_pauses_queue(CLASSIFY_PERMANENT));
	assert_false(classify_pauses_queue(CLASSIFY_RETRY_AFTER));
	assert_true(classify_is_internal(405));
	assert_true(classify_is_internal(415));
	assert_true(classify_is_internal(422));
	assert_true(classify_is_internal(302));
	assert_false(classify_is_internal(400));
	assert_false(classify_is_internal(401));
	assert_false(classify_is_internal(404));
	assert_false(classify_is_internal(409));
	assert_false(classify_is_internal(429));
	assert_false(classify_is_internal(500));
	assert_false(classify_is_internal(201));
}

static void
test_names(void **state)
{
	assert_string_equal(
	    classify_class_name(CLASSIFY_RETRY_AFTER), "retry-after");
	assert_string_equal(
	    classify_xfer_name(CLASSIFY_XFER_TLS_VERIFY), "tls-verify");
	assert_string_equal(classify_method_name(CLASSIFY_PATCH), "PATCH");
	assert_string_equal(
	    classify_class_name(CLASSIFY_CLASS_COUNT), "invalid");
	for (int i = 0; i < CLASSIFY_XFER_COUNT; i++) {
		assert_string_not_equal(classify_xfer_name(i), "invalid");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_pause_and_internal),
	    cmocka_unit_test(test_names),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
