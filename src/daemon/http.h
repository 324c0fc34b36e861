/*
 * http.h - the HTTP transport: libcurl's multi interface on the daemon's
 * libuv loop, behind an injectable struct http_transport.
 *
 * http.c is the only file that includes <curl/curl.h>. Callers (cwapi,
 * tests) see requests, responses and the transport result of classify.h;
 * CURLcode never leaves http.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "core/classify.h"

struct errbuf;

/* Request flags. */
enum {
	/* A new connection that is closed afterwards (CURLOPT_FRESH_CONNECT
	 * + CURLOPT_FORBID_REUSE): every POST of an entry, so libcurl can
	 * never re-send its body on a dead keep-alive connection
	 * (RELIABILITY.md 4.4). */
	HTTP_FRESH_CONNECTION = 1 << 0,
};

/* Defaults (RELIABILITY.md section 5). */
#define HTTP_CONNECT_TIMEOUT_MS 10000u
#define HTTP_TOTAL_TIMEOUT_MS 60000u
#define HTTP_LOW_SPEED_TIME_S 30u
#define HTTP_BODY_MAX (8u * 1024u * 1024u)
#define HTTP_MAX_HEADERS 16

/*
 * One request. Everything is copied by submit; the caller may free it
 * right after. Header lines are "Name: value"; they may hold secrets
 * (Authorization, clientId): the transport wipes its copies when the
 * request ends and never logs them.
 */
struct http_request {
	enum classify_method method;
	const char *url;
	const char *headers[HTTP_MAX_HEADERS]; /* NULL-terminated if < max */
	const char *body;		       /* NULL: no body */
	size_t body_len;
	unsigned flags;		     /* HTTP_FRESH_CONNECTION */
	uint32_t connect_timeout_ms; /* 0: default */
	uint32_t total_timeout_ms;   /* 0: default */
	/* Abort when slower than 1 byte/s for this long; 0: default. */
	uint32_t low_speed_time_s;
	size_t body_max; /* reply body cap; 0: default */
};

/* The outcome. Valid only during the callback: copy what you keep. */
struct http_response {
	enum classify_xfer xfer;
	int status;	     /* HTTP status, 0 when no reply arrived */
	uint64_t bytes_sent; /* > 0 when request bytes may have left */
	const char *body;    /* NUL-terminated; "" when none */
	size_t body_len;
	const char *retry_after; /* header value, NULL when absent */
	const char *link;	 /* Link header value, NULL when absent */
	int transport_code; /* the transport's own code (CURLcode), for logs */
	const char *detail; /* transport's message; never has secrets */
};

typedef void http_done_fn(const struct http_response *resp, void *userdata);

/*
 * The transport as callers see it. submit() returns a call id > 0, or a
 * negative errno (then cb never runs). cb runs exactly once, later, from
 * the loop, unless the call is cancelled first; cancel() of an unknown or
 * finished id does nothing. Neither may be called after the transport is
 * closed.
 */
struct http_transport {
	int64_t (*submit)(struct http_transport *t,
	    const struct http_request *req, http_done_fn *cb, void *userdata);
	void (*cancel)(struct http_transport *t, int64_t id);
};

/* Options of the curl transport. */
typedef void http_debug_fn(const char *line, void *userdata);

struct http_options {
	const char *ca_file;  /* CURLOPT_CAINFO; NULL: system store */
	http_debug_fn *debug; /* non-NULL: protocol trace without secrets */
	void *debug_userdata;
};

struct http;

/*
 * Creates the curl transport on loop (the caller's, never the default
 * loop). Returns 0 and *ret, or a negative errno (-ENOMEM, -EIO when curl
 * cannot be set up). Does not log.
 */
int http_new(
    uv_loop_t *loop, const struct http_options *opt, struct http **ret);

/* The transport interface of h (lives as long as h). */
struct http_transport *http_transport(struct http *h);

/*
 * Starts closing: every outstanding call is dropped without its callback,
 * then the timer and socket handles close; h is freed in the last close
 * callback, after which the loop has nothing of ours. Accepts NULL. Safe
 * to call from an http_done_fn.
 */
void http_close(struct http *h);

/*
 * Is url acceptable as a request URL? https:// always; http:// only to a
 * loopback host (127.0.0.0/8, ::1, localhost). Returns 0, or -EINVAL /
 * -EPERM with a reason in reterr (ERR_CONFIG). Pure.
 */
int http_url_check(const char *url, struct errbuf *reterr);

/*
 * Percent-encodes s for a query component: every byte outside
 * A-Z a-z 0-9 - . _ ~ (connectwise-api.md section 5). Returns a new
 * string, or NULL on -ENOMEM.
 */
char *http_escape(const char *s);
