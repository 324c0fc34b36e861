/*
 * http.c - libcurl's multi interface driven by the daemon's libuv loop.
 *
 * The shape follows curl's docs/examples/multi-uv.c: curl tells us which
 * sockets to watch (on_curl_socket) and when to call it back
 * (on_curl_timer); libuv tells curl when a socket is ready (on_poll) or
 * the timer fired (on_timeout); finished transfers are collected in
 * check_multi_info. Nothing here blocks the loop.
 *
 * Invariants:
 * - one easy handle per request, CURLOPT_PRIVATE pointing at its call;
 *   the handle leaves the multi before curl_easy_cleanup, and a CURLMsg
 *   is never touched after that;
 * - one uv_poll_t per curl socket, freed only in its close callback;
 *   struct http is freed only after its timer and every poll handle have
 *   closed (http_close);
 * - no library-level retry, no redirects, TLS 1.2+ with verification
 *   always on; plain http only to loopback hosts; POSTs flagged
 *   HTTP_FRESH_CONNECTION never reuse a connection (RELIABILITY.md 4.4);
 * - reply bodies are capped in the write callback (curl 7.88's
 *   CURLOPT_MAXFILESIZE only checks announced sizes);
 * - header lines are wiped when a call ends and never reach the debug
 *   output for Authorization and clientId.
 * This is the only file that includes <curl/curl.h>; CURLcode is
 * translated into enum classify_xfer here and nowhere else.
 */
#define _GNU_SOURCE 1 /* strncasecmp, explicit_bzero */
#include "daemon/http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>
#include <curl/curl.h>

#include "common/errcode.h"

struct http_sock;

struct http_call {
	struct http *h;
	struct http_call *prev, *next;
	int64_t id;
	CURL *easy;
	struct curl_slist *headers;
	http_done_fn *cb;
	void *userdata;
	bool https;
	char *body; /* the reply, NUL-terminated */
	size_t body_len;
	size_t body_cap;
	size_t body_max;
	bool too_large;
	bool has_retry_after;
	char retry_after[128];
	char *link; /* all Link header values joined with ", " */
	char errbuf[CURL_ERROR_SIZE];
};

struct http_sock {
	uv_poll_t poll;
	struct http *h;
	curl_socket_t fd;
	struct http_sock *prev, *next;
};

/* Reset easy handles kept for reuse (more are cleaned up). */
#define HTTP_SPARE_MAX 8

struct http {
	struct http_transport transport; /* first: the interface points here */
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	bool timer_closed;
	bool closing;
	char *ca_file;
	http_debug_fn *debug;
	void *debug_userdata;
	struct http_call *calls;
	struct http_sock *socks; /* open or closing poll handles */
	int64_t next_id;
	/* Easy handles of finished calls, reset (curl_easy_reset keeps the
	 * buffers, drops every option): a queue of a thousand entries is a
	 * thousand calls, and a new handle each time was malloc churn of
	 * its 16 KiB buffers. Connections are not in them but in the
	 * multi's cache, so a POST's fresh-connection rule is unchanged. */
	CURL *spare[HTTP_SPARE_MAX];
	size_t n_spare;
};

#define HTTP_LINK_MAX 8192

/* A reset handle to reuse, or a new one; NULL on ENOMEM. */
static CURL *
easy_get(struct http *h)
{
	return h->n_spare > 0 ? h->spare[--h->n_spare] : curl_easy_init();
}

/* A handle that is no longer in the multi: kept for the next call, or
 * cleaned up. */
static void
easy_put(struct http *h, CURL *e)
{
	if (!e) {
		return;
	}
	if (h->closing || h->n_spare >= HTTP_SPARE_MAX) {
		curl_easy_cleanup(e);
		return;
	}
	curl_easy_reset(e);
	h->spare[h->n_spare++] = e;
}

static void
easy_spares_free(struct http *h)
{
	while (h->n_spare > 0) {
		curl_easy_cleanup(h->spare[--h->n_spare]);
	}
}

static void check_multi_info(struct http *h);

static void
http_maybe_free(struct http *h)
{
	if (!h->closing || !h->timer_closed || h->socks) {
		return;
	}
	free(h->ca_file);
	free(h);
	curl_global_cleanup(); /* balances http_new's curl_global_init */
}

static void
on_sock_closed(uv_handle_t *handle)
{
	struct http_sock *s = handle->data;
	struct http *h = s->h;

	if (s->prev) {
		s->prev->next = s->next;
	} else {
		h->socks = s->next;
	}
	if (s->next) {
		s->next->prev = s->prev;
	}
	free(s);
	http_maybe_free(h);
}

static void
sock_close(struct http_sock *s)
{
	if (!uv_is_closing((uv_handle_t *) &s->poll)) {
		uv_close((uv_handle_t *) &s->poll, on_sock_closed);
	}
}

static void
on_poll(uv_poll_t *handle, int status, int events)
{
	struct http_sock *s = handle->data;
	struct http *h = s->h;
	int flags = 0, running;

	if (status < 0) {
		flags = CURL_CSELECT_ERR;
	}
	if (events & UV_READABLE) {
		flags |= CURL_CSELECT_IN;
	}
	if (events & UV_WRITABLE) {
		flags |= CURL_CSELECT_OUT;
	}
	/* s may be closed by curl's socket callback inside this call. */
	(void) curl_multi_socket_action(h->multi, s->fd, flags, &running);
	check_multi_info(h);
}

static void
on_timeout(uv_timer_t *t)
{
	struct http *h = t->data;
	int running;

	(void) curl_multi_socket_action(
	    h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_multi_info(h);
}

static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *h = userp;

	if (h->timer_closed || uv_is_closing((uv_handle_t *) &h->timer)) {
		return 0;
	}
	if (timeout_ms < 0) {
		(void) uv_timer_stop(&h->timer);
		return 0;
	}
	/* 0 means "now": the timer fires on the next loop iteration, not
	 * inside this callback, where calling curl back is not allowed. */
	return uv_timer_start(&h->timer, on_timeout, (uint64_t) timeout_ms, 0) <
		0
	    ? -1
	    : 0;
}

static int
on_curl_socket(
    CURL *easy, curl_socket_t fd, int action, void *userp, void *socketp)
{
	struct http *h = userp;
	struct http_sock *s = socketp;
	int events = 0;

	if (action == CURL_POLL_REMOVE) {
		if (s) {
			(void) uv_poll_stop(&s->poll);
			sock_close(s);
			if (!h->closing) { /* not inside curl_multi_cleanup */
				(void) curl_multi_assign(h->multi, fd, NULL);
			}
		}
		return 0;
	}
	if (!s) {
		if (h->closing) {
			return -1;
		}
		s = calloc(1, sizeof(*s));
		if (!s) {
			return -1;
		}
		if (uv_poll_init_socket(h->loop, &s->poll, fd) < 0) {
			free(s);
			return -1;
		}
		s->h = h;
		s->fd = fd;
		s->poll.data = s;
		s->next = h->socks;
		if (h->socks) {
			h->socks->prev = s;
		}
		h->socks = s;
		(void) curl_multi_assign(h->multi, fd, s);
	}
	if (action == CURL_POLL_IN || action == CURL_POLL_INOUT) {
		events |= UV_READABLE;
	}
	if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT) {
		events |= UV_WRITABLE;
	}
	return uv_poll_start(&s->poll, events, on_poll) < 0 ? -1 : 0;
}

static size_t
on_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_call *c = userdata;
	size_t n = size * nmemb;

	if (n > c->body_max - c->body_len) {
		c->too_large = true;
		return 0; /* anything but n aborts with CURLE_WRITE_ERROR */
	}
	if (c->body_len + n + 1 > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 4096;
		char *p;

		while (cap < c->body_len + n + 1) {
			cap *= 2;
		}
		if (cap > c->body_max + 1) {
			cap = c->body_max + 1;
		}
		p = realloc(c->body, cap);
		if (!p) {
			return 0;
		}
		c->body = p;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, ptr, n);
	c->body_len += n;
	c->body[c->body_len] = '\0';
	return n;
}

/* Copies a header's value without leading/trailing white space. */
static size_t
header_value(const char *line, size_t len, size_t name_len, const char **ret)
{
	const char *v = line + name_len;
	size_t n = len - name_len;

	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 &&
	    (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' ||
		v[n - 1] == '\t')) {
		n--;
	}
	*ret = v;
	return n;
}

static size_t
on_curl_header(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct http_call *c = userdata;
	size_t len = size * nitems;
	const char *v;
	size_t n;

	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* A new response (after a 1xx): forget the last one's. */
		c->has_retry_after = false;
		free(c->link);
		c->link = NULL;
		return len;
	}
	if (len > 12 && strncasecmp(buf, "Retry-After:", 12) == 0) {
		n = header_value(buf, len, 12, &v);
		if (n < sizeof(c->retry_after)) {
			memcpy(c->retry_after, v, n);
			c->retry_after[n] = '\0';
			c->has_retry_after = true;
		}
	} else if (len > 5 && strncasecmp(buf, "Link:", 5) == 0) {
		size_t old = c->link ? strlen(c->link) : 0;
		char *p;

		n = header_value(buf, len, 5, &v);
		if (old + n + 3 > HTTP_LINK_MAX) {
			return len; /* ignore the rest; paging has a limit */
		}
		p = realloc(c->link, old + n + 3);
		if (!p) {
			return 0;
		}
		if (old) {
			memcpy(p + old, ", ", 2);
			old += 2;
		}
		memcpy(p + old, v, n);
		p[old + n] = '\0';
		c->link = p;
	}
	return len;
}

static bool
secret_header(const char *line, size_t len)
{
	static const char *const names[] = {
	    "authorization:", "clientid:", "proxy-authorization:", "cookie:"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);

		if (len >= n && strncasecmp(line, names[i], n) == 0) {
			return true;
		}
	}
	return false;
}

static int
on_curl_debug(
    CURL *easy, curl_infotype type, char *data, size_t size, void *userdata)
{
	struct http *h = userdata;
	const char *prefix;
	size_t i = 0;

	switch (type) {
	case CURLINFO_TEXT:
		prefix = "* ";
		break;
	case CURLINFO_HEADER_IN:
		prefix = "< ";
		break;
	case CURLINFO_HEADER_OUT:
		prefix = "> ";
		break;
	default:
		return 0; /* bodies and TLS data are not traced */
	}
	while (i < size) {
		size_t e = i, n;
		char line[1024];

		while (e < size && data[e] != '\n') {
			e++;
		}
		n = e - i;
		while (n > 0 && data[i + n - 1] == '\r') {
			n--;
		}
		if (n > 0) {
			if (secret_header(data + i, n)) {
				const char *colon = memchr(data + i, ':', n);

				snprintf(line, sizeof(line),
				    "%s%.*s: [redacted]", prefix,
				    (int) (colon - (data + i)), data + i);
			} else {
				snprintf(line, sizeof(line), "%s%.*s", prefix,
				    (int) n, data + i);
			}
			h->debug(line, h->debug_userdata);
		}
		i = e + 1;
	}
	return 0;
}

static void
call_wipe_headers(struct http_call *c)
{
	for (struct curl_slist *l = c->headers; l; l = l->next) {
		explicit_bzero(l->data, strlen(l->data));
	}
	curl_slist_free_all(c->headers);
	c->headers = NULL;
}

static void
call_unlink(struct http_call *c)
{
	struct http *h = c->h;

	if (c->prev) {
		c->prev->next = c->next;
	} else if (h->calls == c) {
		h->calls = c->next;
	}
	if (c->next) {
		c->next->prev = c->prev;
	}
	c->prev = c->next = NULL;
}

/* Removes the call from the multi and frees it; no callback. */
static void
call_free(struct http_call *c)
{
	if (!c) {
		return;
	}
	if (c->easy) {
		if (c->h->multi) {
			(void) curl_multi_remove_handle(c->h->multi, c->easy);
		}
		easy_put(c->h, c->easy);
	}
	call_wipe_headers(c);
	free(c->body);
	free(c->link);
	free(c);
}

static enum classify_xfer
xfer_from_curl(CURLcode code, bool too_large, bool connected)
{
	switch (code) {
	case CURLE_OK:
		return CLASSIFY_XFER_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return CLASSIFY_XFER_RESOLVE;
	case CURLE_COULDNT_CONNECT:
		return CLASSIFY_XFER_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return connected ? CLASSIFY_XFER_TIMEOUT
				 : CLASSIFY_XFER_CONNECT;
	case CURLE_SSL_CONNECT_ERROR:
		return CLASSIFY_XFER_TLS_HANDSHAKE;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return CLASSIFY_XFER_TLS_VERIFY;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return CLASSIFY_XFER_RESET;
	case CURLE_WRITE_ERROR:
		return too_large ? CLASSIFY_XFER_TOO_LARGE
				 : CLASSIFY_XFER_LOCAL;
	case CURLE_OUT_OF_MEMORY:
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_NOT_BUILT_IN:
		return CLASSIFY_XFER_LOCAL;
	default:
		return CLASSIFY_XFER_OTHER;
	}
}

static void
call_finish(struct http_call *c, CURLcode code)
{
	struct http_response resp;
	long status = 0, req_size = 0;
	curl_off_t pretransfer = 0, connect = 0, appconnect = 0;
	bool connected;

	(void) curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	(void) curl_easy_getinfo(c->easy, CURLINFO_REQUEST_SIZE, &req_size);
	(void) curl_easy_getinfo(
	    c->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
	(void) curl_easy_getinfo(c->easy, CURLINFO_CONNECT_TIME_T, &connect);
	(void) curl_easy_getinfo(
	    c->easy, CURLINFO_APPCONNECT_TIME_T, &appconnect);

	memset(&resp, 0, sizeof(resp));
	/* "Connected" for TLS means the handshake finished: before that no
	 * request byte can have left. */
	connected = connect > 0 && (!c->https || appconnect > 0);
	resp.xfer = xfer_from_curl(code, c->too_large, connected);
	resp.status = (int) status;
	/* Conservative (RELIABILITY.md 4.4): any sign that the request may
	 * have started counts as sent; a timeout or reset on an established
	 * connection too, since curl sends as soon as it is up. */
	if (req_size > 0) {
		resp.bytes_sent = (uint64_t) req_size;
	} else if (pretransfer > 0 || status > 0 ||
	    (connected && resp.xfer != CLASSIFY_XFER_RESOLVE &&
		resp.xfer != CLASSIFY_XFER_TLS_VERIFY &&
		resp.xfer != CLASSIFY_XFER_TLS_HANDSHAKE)) {
		resp.bytes_sent = 1;
	}
	resp.body = c->body ? c->body : "";
	resp.body_len = c->body_len;
	resp.retry_after = c->has_retry_after ? c->retry_after : NULL;
	resp.link = c->link;
	resp.transport_code = (int) code;
	resp.detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(code);

	/* The easy handle goes first; resp only points into c (errbuf is
	 * c's own, and the handle's reset below drops curl's pointer to
	 * it). */
	(void) curl_multi_remove_handle(c->h->multi, c->easy);
	easy_put(c->h, c->easy);
	c->easy = NULL;
	call_wipe_headers(c);
	call_unlink(c);
	c->cb(&resp, c->userdata);
	call_free(c);
}

static void
check_multi_info(struct http *h)
{
	CURLMsg *msg;
	int pending;

	while (!h->closing &&
	    (msg = curl_multi_info_read(h->multi, &pending)) != NULL) {
		struct http_call *c = NULL;
		CURLcode code;

		if (msg->msg != CURLMSG_DONE) {
			continue;
		}
		code = msg->data.result;
		(void) curl_easy_getinfo(
		    msg->easy_handle, CURLINFO_PRIVATE, (char **) &c);
		/* msg is not touched again: call_finish removes the handle. */
		if (c) {
			call_finish(c, code);
		}
	}
}

/* Scheme and host of url; -EINVAL when it is not scheme://host... */
static int
url_split(const char *url, bool *ret_https, char *host, size_t hostsize)
{
	const char *p, *e;
	size_t n;

	if (strncasecmp(url, "https://", 8) == 0) {
		*ret_https = true;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		*ret_https = false;
		p = url + 7;
	} else {
		return -EINVAL;
	}
	e = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t) (e - p))) {
		return -EINVAL; /* credentials never go in a URL */
	}
	if (*p == '[') {
		const char *b = memchr(p, ']', (size_t) (e - p));

		if (!b) {
			return -EINVAL;
		}
		n = (size_t) (b - p) + 1;
	} else {
		n = strcspn(p, ":/?#");
	}
	if (n == 0 || n >= hostsize) {
		return -EINVAL;
	}
	memcpy(host, p, n);
	host[n] = '\0';
	return 0;
}

static bool
host_is_loopback(const char *host)
{
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0) {
		return true;
	}
	if (strncmp(host, "127.", 4) != 0) {
		return false;
	}
	for (const char *p = host + 4; *p; p++) {
		if (!(*p == '.' || (*p >= '0' && *p <= '9'))) {
			return false;
		}
	}
	return true;
}

int
http_url_check(const char *url, struct errbuf *reterr)
{
	char host[256];
	bool https;

	if (!url || url_split(url, &https, host, sizeof(host)) < 0) {
		return errbuf_set(reterr, ERR_CONFIG, -EINVAL,
		    "not an http(s) URL with a host: '%.200s'", url ? url : "");
	}
	if (!https && !host_is_loopback(host)) {
		return errbuf_set(reterr, ERR_CONFIG, -EPERM,
		    "plain http:// is allowed only to a loopback address; "
		    "use https:// for '%.200s'",
		    host);
	}
	return 0;
}

char *
http_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = malloc(n * 3 + 1), *o = out;

	if (!out) {
		return NULL;
	}
	for (; *s; s++) {
		unsigned char ch = (unsigned char) *s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~') {
			*o++ = (char) ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}

#define SETOPT(easy, opt, val)                                                 \
	do {                                                                   \
		if (curl_easy_setopt((easy), (opt), (val)) != CURLE_OK) {      \
			goto fail;                                             \
		}                                                              \
	} while (0)

static int
call_setup(struct http *h, struct http_call *c, const struct http_request *req)
{
	const char *proto;
	char host[256];
	bool https;
	CURL *e;

	if (url_split(req->url, &https, host, sizeof(host)) < 0 ||
	    (!https && !host_is_loopback(host))) {
		return -EPERM;
	}
	c->https = https;
	proto = https ? "https" : "http";
	e = c->easy = easy_get(h);
	if (!e) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < HTTP_MAX_HEADERS && req->headers[i]; i++) {
		struct curl_slist *l =
		    curl_slist_append(c->headers, req->headers[i]);

		if (!l) {
			return -ENOMEM;
		}
		c->headers = l;
	}
	if (req->body) {
		/* No "Expect: 100-continue" round trip for our small bodies. */
		struct curl_slist *l = curl_slist_append(c->headers, "Expect:");

		if (!l) {
			return -ENOMEM;
		}
		c->headers = l;
	}

	SETOPT(e, CURLOPT_PRIVATE, c);
	SETOPT(e, CURLOPT_URL, req->url);
	SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(e, CURLOPT_MAXREDIRS, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(e, CURLOPT_PROTOCOLS_STR, proto);
	SETOPT(e, CURLOPT_REDIR_PROTOCOLS_STR, proto);
#else
	SETOPT(e, CURLOPT_PROTOCOLS, https ? CURLPROTO_HTTPS : CURLPROTO_HTTP);
	SETOPT(e, CURLOPT_REDIR_PROTOCOLS,
	    https ? CURLPROTO_HTTPS : CURLPROTO_HTTP);
#endif
	/* A proxy must never see the loopback test server's traffic. */
	SETOPT(e, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
	/* HTTP/1.1 only: the reuse analysis of RELIABILITY.md 4.4 is about
	 * HTTP/1 keep-alive, and an HTTP/2 stream retried by curl after a
	 * GOAWAY would be a library-level retry we did not decide. */
	SETOPT(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
	SETOPT(e, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
	SETOPT(e, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_file) {
		SETOPT(e, CURLOPT_CAINFO, h->ca_file);
	}
	SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS,
	    (long) (req->connect_timeout_ms ? req->connect_timeout_ms
					    : HTTP_CONNECT_TIMEOUT_MS));
	SETOPT(e, CURLOPT_TIMEOUT_MS,
	    (long) (req->total_timeout_ms ? req->total_timeout_ms
					  : HTTP_TOTAL_TIMEOUT_MS));
	SETOPT(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	SETOPT(e, CURLOPT_LOW_SPEED_TIME,
	    (long) (req->low_speed_time_s ? req->low_speed_time_s
					  : HTTP_LOW_SPEED_TIME_S));
	SETOPT(e, CURLOPT_HTTPHEADER, c->headers);
	SETOPT(e, CURLOPT_WRITEFUNCTION, on_curl_write);
	SETOPT(e, CURLOPT_WRITEDATA, c);
	SETOPT(e, CURLOPT_HEADERFUNCTION, on_curl_header);
	SETOPT(e, CURLOPT_HEADERDATA, c);
	SETOPT(e, CURLOPT_ERRORBUFFER, c->errbuf);
	if (req->flags & HTTP_FRESH_CONNECTION) {
		SETOPT(e, CURLOPT_FRESH_CONNECT, 1L);
		SETOPT(e, CURLOPT_FORBID_REUSE, 1L);
	}
	if (h->debug) {
		SETOPT(e, CURLOPT_DEBUGFUNCTION, on_curl_debug);
		SETOPT(e, CURLOPT_DEBUGDATA, h);
		SETOPT(e, CURLOPT_VERBOSE, 1L);
	}

	switch (req->method) {
	case CLASSIFY_GET:
		SETOPT(e, CURLOPT_HTTPGET, 1L);
		break;
	case CLASSIFY_POST:
		SETOPT(e, CURLOPT_POST, 1L);
		break;
	case CLASSIFY_PUT:
		SETOPT(e, CURLOPT_CUSTOMREQUEST, "PUT");
		break;
	case CLASSIFY_PATCH:
		SETOPT(e, CURLOPT_CUSTOMREQUEST, "PATCH");
		break;
	case CLASSIFY_DELETE:
		SETOPT(e, CURLOPT_CUSTOMREQUEST, "DELETE");
		break;
	default:
		return -EINVAL;
	}
	if (req->body || req->method == CLASSIFY_POST) {
		/* The size first: COPYPOSTFIELDS copies that many bytes. */
		SETOPT(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t) (req->body ? req->body_len : 0));
		SETOPT(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
	}
	return 0;
fail:
	return -EINVAL;
}

static int64_t
http_submit(struct http_transport *t, const struct http_request *req,
    http_done_fn *cb, void *userdata)
{
	struct http *h = (struct http *) t;
	struct http_call *c;
	int r;

	if (h->closing || !req || !req->url || !cb) {
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		return -ENOMEM;
	}
	c->h = h;
	c->cb = cb;
	c->userdata = userdata;
	c->body_max = req->body_max ? req->body_max : HTTP_BODY_MAX;
	r = call_setup(h, c, req);
	if (r < 0) {
		call_free(c);
		return r;
	}
	if (curl_multi_add_handle(h->multi, c->easy) != CURLM_OK) {
		curl_easy_cleanup(c->easy); /* its state is unknown */
		c->easy = NULL;
		call_free(c);
		return -ENOMEM;
	}
	c->id = ++h->next_id;
	c->next = h->calls;
	if (h->calls) {
		h->calls->prev = c;
	}
	h->calls = c;
	return c->id;
}

static void
http_cancel(struct http_transport *t, int64_t id)
{
	struct http *h = (struct http *) t;

	for (struct http_call *c = h->calls; c; c = c->next) {
		if (c->id == id) {
			call_unlink(c);
			call_free(c);
			return;
		}
	}
}

int
http_new(uv_loop_t *loop, const struct http_options *opt, struct http **ret)
{
	struct http *h;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		return -EIO;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		goto fail;
	}
	h->transport.submit = http_submit;
	h->transport.cancel = http_cancel;
	h->loop = loop;
	if (opt && opt->ca_file) {
		h->ca_file = strdup(opt->ca_file);
		if (!h->ca_file) {
			goto fail;
		}
	}
	if (opt) {
		h->debug = opt->debug;
		h->debug_userdata = opt->debug_userdata;
	}
	h->multi = curl_multi_init();
	if (!h->multi) {
		goto fail;
	}
	if (uv_timer_init(loop, &h->timer) < 0) {
		goto fail;
	}
	h->timer.data = h;
	(void) curl_multi_setopt(
	    h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	(void) curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	(void) curl_multi_setopt(
	    h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	(void) curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	*ret = h;
	return 0;
fail:
	if (h) {
		if (h->multi) {
			(void) curl_multi_cleanup(h->multi);
		}
		free(h->ca_file);
		free(h);
	}
	curl_global_cleanup();
	return -ENOMEM;
}

struct http_transport *
http_transport(struct http *h)
{
	return &h->transport;
}

static void
on_timer_closed(uv_handle_t *handle)
{
	struct http *h = handle->data;

	h->timer_closed = true;
	http_maybe_free(h);
}

void
http_close(struct http *h)
{
	if (!h || h->closing) {
		return;
	}
	h->closing = true;
	while (h->calls) {
		struct http_call *c = h->calls;

		call_unlink(c);
		call_free(c);
	}
	easy_spares_free(h);
	/* Closes cached connections; curl reports each socket removed, and
	 * on_curl_socket closes its poll handle. */
	(void) curl_multi_cleanup(h->multi);
	h->multi = NULL;
	for (struct http_sock *s = h->socks; s; s = s->next) {
		sock_close(s);
	}
	uv_close((uv_handle_t *) &h->timer, on_timer_closed);
}
