/*
 * classify.c - connectwise-api.md section 12 as one pure function.
 *
 * Invariants: a POST whose request bytes may have left is never classed
 * as "not sent" (that would allow a second POST without reconciliation,
 * RELIABILITY.md 4.2); a certificate failure is never retried as if it
 * were a network blip; classification never looks at ConnectWise's error
 * codes, only at the status (section 9: codes are opaque).
 * No I/O, no clock, no logging.
 */
#include "core/classify.h"

#include <stddef.h>

/* A call that got no usable reply. Request bytes may have left: for a
 * POST the server may have acted, so the outcome is unknown; a read has no
 * outcome to be unsure about and is simply retried. */
static enum classify_class
classify_no_reply(
    enum classify_method method, enum classify_xfer xfer, uint64_t bytes_sent)
{
	if (xfer == CLASSIFY_XFER_TLS_VERIFY) {
		/* Waiting does not fix trust; never fall back to insecure. */
		return CLASSIFY_ACCOUNT;
	}
	if (bytes_sent == 0) {
		return CLASSIFY_RETRY; /* DNS, connect, handshake: not sent */
	}
	return method == CLASSIFY_GET ? CLASSIFY_RETRY : CLASSIFY_UNKNOWN;
}

static enum classify_class
classify_status(enum classify_method method, enum classify_path path,
    int status, bool has_id)
{
	if (status >= 200 && status <= 299) {
		if (method == CLASSIFY_POST &&
		    path == CLASSIFY_PATH_COLLECTION && !has_id) {
			return CLASSIFY_UNKNOWN; /* created, but which id? */
		}
		return CLASSIFY_SUCCESS;
	}
	if (status >= 500) {
		/* The server may have stored a POST before failing. */
		return method == CLASSIFY_POST ? CLASSIFY_UNKNOWN
					       : CLASSIFY_RETRY;
	}
	switch (status) {
	case 408:
		return CLASSIFY_RETRY;
	case 429:
		return CLASSIFY_RETRY_AFTER;
	case 401:
	case 403:
		return CLASSIFY_ACCOUNT;
	case 404:
		if (path == CLASSIFY_PATH_COLLECTION) {
			/* Wrong site or codebase, or bad credentials on
			 * cloud (section 1, the cloud caveat). */
			return CLASSIFY_ACCOUNT;
		}
		if (path == CLASSIFY_PATH_BY_ID) {
			return CLASSIFY_GONE;
		}
		return CLASSIFY_PERMANENT;
	default:
		/* 400, 409, 405, 415, other 4xx; 1xx and 3xx, which we never
		 * follow (FOLLOWLOCATION=0) and which carry no result. */
		return CLASSIFY_PERMANENT;
	}
}

enum classify_class
classify_outcome(enum classify_method method, enum classify_path path,
    int status, enum classify_xfer xfer, uint64_t bytes_sent, bool has_id)
{
	bool reply =
	    xfer == CLASSIFY_XFER_OK || xfer == CLASSIFY_XFER_TOO_LARGE;

	if (!reply || status < 100 || status > 599) {
		/* No reply, or a status line no server sends: both mean we
		 * do not know what happened. A reply needs request bytes. */
		if (reply && bytes_sent == 0) {
			bytes_sent = 1;
		}
		return classify_no_reply(method, xfer, bytes_sent);
	}
	if (xfer == CLASSIFY_XFER_TOO_LARGE) {
		has_id = false; /* the body was cut: no readable id */
	}
	return classify_status(method, path, status, has_id);
}

enum classify_post
classify_post_entry(
    int status, enum classify_xfer xfer, uint64_t bytes_sent, bool has_id)
{
	enum classify_class c = classify_outcome(CLASSIFY_POST,
	    CLASSIFY_PATH_COLLECTION, status, xfer, bytes_sent, has_id);

	switch (c) {
	case CLASSIFY_SUCCESS:
		return CLASSIFY_POST_SUBMITTED;
	case CLASSIFY_UNKNOWN:
		return CLASSIFY_POST_UNKNOWN;
	case CLASSIFY_RETRY:
	case CLASSIFY_RETRY_AFTER:
		return CLASSIFY_POST_PENDING;
	case CLASSIFY_ACCOUNT:
		/* A certificate failure sent nothing: the entry itself is
		 * fine and stays PENDING. 401/403/404 judged the request. */
		return xfer == CLASSIFY_XFER_TLS_VERIFY
		    ? CLASSIFY_POST_PENDING_PAUSE
		    : CLASSIFY_POST_REJECTED_PAUSE;
	case CLASSIFY_PERMANENT:
	case CLASSIFY_GONE:
	default:
		return CLASSIFY_POST_REJECTED;
	}
}

bool
classify_pauses_queue(enum classify_class c)
{
	return c == CLASSIFY_ACCOUNT;
}

bool
classify_is_internal(int status)
{
	if (status >= 300 && status <= 399) {
		return true;
	}
	if (status < 400 || status > 499) {
		return false;
	}
	switch (status) {
	case 400:
	case 401:
	case 403:
	case 404:
	case 408:
	case 409:
	case 429:
		return false;
	default:
		return true;
	}
}

const char *
classify_class_name(enum classify_class c)
{
	static const char *const names[CLASSIFY_CLASS_COUNT] = {
	    [CLASSIFY_SUCCESS] = "success",
	    [CLASSIFY_UNKNOWN] = "unknown",
	    [CLASSIFY_RETRY] = "retry",
	    [CLASSIFY_RETRY_AFTER] = "retry-after",
	    [CLASSIFY_ACCOUNT] = "account",
	    [CLASSIFY_PERMANENT] = "permanent",
	    [CLASSIFY_GONE] = "gone",
	};

	if ((int) c < 0 || c >= CLASSIFY_CLASS_COUNT) {
		return "invalid";
	}
	return names[c];
}

const char *
classify_xfer_name(enum classify_xfer x)
{
	static const char *const names[CLASSIFY_XFER_COUNT] = {
	    [CLASSIFY_XFER_OK] = "ok",
	    [CLASSIFY_XFER_RESOLVE] = "resolve",
	    [CLASSIFY_XFER_CONNECT] = "connect",
	    [CLASSIFY_XFER_TLS_HANDSHAKE] = "tls-handshake",
	    [CLASSIFY_XFER_TLS_VERIFY] = "tls-verify",
	    [CLASSIFY_XFER_TIMEOUT] = "timeout",
	    [CLASSIFY_XFER_RESET] = "reset",
	    [CLASSIFY_XFER_TOO_LARGE] = "too-large",
	    [CLASSIFY_XFER_LOCAL] = "local",
	    [CLASSIFY_XFER_OTHER] = "other",
	};

	if ((int) x < 0 || x >= CLASSIFY_XFER_COUNT) {
		return "invalid";
	}
	return names[x];
}

const char *
classify_method_name(enum classify_method m)
{
	static const char *const names[CLASSIFY_METHOD_COUNT] = {
	    [CLASSIFY_GET] = "GET",
	    [CLASSIFY_POST] = "POST",
	    [CLASSIFY_PUT] = "PUT",
	    [CLASSIFY_PATCH] = "PATCH",
	    [CLASSIFY_DELETE] = "DELETE",
	};

	if ((int) m < 0 || m >= CLASSIFY_METHOD_COUNT) {
		return "GET";
	}
	return names[m];
}
