/*
 * classify.h - the retry classification of connectwise-api.md section 12.
 *
 * One pure function maps the outcome of one HTTP call (method, kind of
 * path, status, transport result, whether request bytes went out, whether
 * a 2xx POST reply carried an id) to a class; a second says what a POST
 * of a time entry ends in. No I/O, no clock, no logging.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum classify_method {
	CLASSIFY_GET,
	CLASSIFY_POST,
	CLASSIFY_PUT,
	CLASSIFY_PATCH,
	CLASSIFY_DELETE,
	CLASSIFY_METHOD_COUNT,
};

/* What kind of path a call went to; it decides what a 404 means. */
enum classify_path {
	CLASSIFY_PATH_COLLECTION, /* POST /time/entries, list GETs, counts */
	CLASSIFY_PATH_BY_ID, /* /time/entries/{id}, /service/tickets/{id} */
	CLASSIFY_PATH_OTHER, /* sheet actions, /login/companyinfo/... */
};

/* The transport's result, translated from CURLcode by http.c (the only
 * file that knows curl). Whether request bytes went out is a separate
 * argument (bytes_sent), reported conservatively by the transport. */
enum classify_xfer {
	CLASSIFY_XFER_OK,	     /* a complete HTTP reply arrived */
	CLASSIFY_XFER_RESOLVE,	     /* DNS failure */
	CLASSIFY_XFER_CONNECT,	     /* connect refused or timed out */
	CLASSIFY_XFER_TLS_HANDSHAKE, /* TLS handshake failed */
	CLASSIFY_XFER_TLS_VERIFY,    /* certificate or host name not trusted */
	CLASSIFY_XFER_TIMEOUT,	 /* total timeout or below the speed limit */
	CLASSIFY_XFER_RESET,	 /* reset, EOF or a garbled reply */
	CLASSIFY_XFER_TOO_LARGE, /* reply body above the cap (status known) */
	CLASSIFY_XFER_LOCAL,	 /* local failure (memory, bad URL, option) */
	CLASSIFY_XFER_OTHER,	 /* anything else curl reported */
	CLASSIFY_XFER_COUNT,
};

enum classify_class {
	CLASSIFY_SUCCESS,     /* 2xx (and for an entry POST: an id came back) */
	CLASSIFY_UNKNOWN,     /* sent, outcome unknown: reconcile first */
	CLASSIFY_RETRY,	      /* not sent, or transient and not applied */
	CLASSIFY_RETRY_AFTER, /* 429: not applied; no sooner than Retry-After,
			       * and the whole queue waits */
	CLASSIFY_ACCOUNT,     /* account-wide: pause the queue, no retry */
	CLASSIFY_PERMANENT,   /* this request will never succeed as it is */
	CLASSIFY_GONE,	      /* 404 on a record by id: it does not exist */
	CLASSIFY_CLASS_COUNT,
};

/* What a POST of a time entry ends in (RELIABILITY.md 4.1). */
enum classify_post {
	CLASSIFY_POST_SUBMITTED,      /* 201 with an id */
	CLASSIFY_POST_UNKNOWN,	      /* reconcile before any new POST */
	CLASSIFY_POST_PENDING,	      /* back to PENDING with backoff */
	CLASSIFY_POST_PENDING_PAUSE,  /* PENDING, and the queue pauses (TLS) */
	CLASSIFY_POST_REJECTED,	      /* REJECTED with ConnectWise's message */
	CLASSIFY_POST_REJECTED_PAUSE, /* REJECTED, and the queue pauses */
	CLASSIFY_POST_COUNT,
};

/*
 * Classifies one call. status is the HTTP status (0 when no reply
 * arrived); bytes_sent > 0 means request bytes may have left (when in
 * doubt the transport says so); has_id matters only for a 2xx reply to a
 * POST on a collection path, where a missing id means the outcome is
 * unknown. Pure; may be called from anywhere.
 */
enum classify_class classify_outcome(enum classify_method method,
    enum classify_path path, int status, enum classify_xfer xfer,
    uint64_t bytes_sent, bool has_id);

/* What a POST /time/entries with this outcome ends in. Pure. */
enum classify_post classify_post_entry(
    int status, enum classify_xfer xfer, uint64_t bytes_sent, bool has_id);

/* true for the classes after which the queue pauses (401, 403, a 404 on a
 * collection path, TLS verification). */
bool classify_pauses_queue(enum classify_class c);

/* true when a permanent status is a bug on our side (405, 415, other 4xx
 * than 400/401/403/404/408/409/429, and 3xx, which we never follow), to be
 * logged as an internal error. */
bool classify_is_internal(int status);

/* Names for logs and journal records ("success", "unknown", "retry",
 * "retry-after", "account", "permanent", "gone"; "resolve", "connect",
 * "tls-handshake", ...). Never NULL. */
const char *classify_class_name(enum classify_class c);
const char *classify_xfer_name(enum classify_xfer x);
const char *classify_method_name(enum classify_method m);
