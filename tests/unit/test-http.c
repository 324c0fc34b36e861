/*
 * test-http.c - the curl transport on a real libuv loop against a tiny
 * HTTP/1.1 server on 127.0.0.1 that runs on the same loop.
 *
 * Asserts what the server saw (connections, method, headers, body bytes)
 * and what the client reported (status, transport result, bytes sent),
 * and that every test leaves a loop that closes with uv_loop_close() == 0.
 */
#define _GNU_SOURCE 1 /* strcasestr */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "common/errcode.h"
#include "core/classify.h"
#include "daemon/http.h"

enum srv_mode {
	SRV_OK,	     /* 200 with a small JSON body, keep-alive */
	SRV_BIG,     /* 200 with a 100 000-byte body */
	SRV_STALL,   /* read the request, never answer */
	SRV_DROP,    /* read the request, close without a byte */
	SRV_429,     /* 429 with Retry-After and Link */
	SRV_GARBAGE, /* answer any bytes with a plain-text line and close */
};

struct srv;

struct sconn {
	uv_tcp_t tcp;
	struct srv *s;
	struct sconn *next;
	char buf[65536];
	size_t len;
	bool closing;
};

struct srv {
	uv_tcp_t listener;
	int port;
	enum srv_mode mode;
	int conns;    /* connections accepted */
	int requests; /* complete requests read */
	char method[16];
	char head[8192]; /* the last request's head */
	char body[8192]; /* the last request's body */
	size_t body_len;
	struct sconn *list;
	void (*on_request)(struct srv *s);
};

static void
on_sconn_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
sconn_close(struct sconn *c)
{
	struct sconn **pp;

	if (c->closing) {
		return;
	}
	c->closing = true;
	for (pp = &c->s->list; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	uv_close((uv_handle_t *) &c->tcp, on_sconn_closed);
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct sconn *c = h->data;

	buf->base = c->buf + c->len;
	buf->len = sizeof(c->buf) - c->len - 1;
}

static void
on_written(uv_write_t *w, int status)
{
	free(w->data);
	free(w);
}

static void
sconn_send(struct sconn *c, const char *data, size_t n)
{
	uv_write_t *w = malloc(sizeof(*w));
	char *copy = malloc(n);
	uv_buf_t b;

	assert_non_null(w);
	assert_non_null(copy);
	memcpy(copy, data, n);
	w->data = copy;
	b = uv_buf_init(copy, (unsigned) n);
	assert_int_equal(
	    uv_write(w, (uv_stream_t *) &c->tcp, &b, 1, on_written), 0);
}

static void
sconn_answer(struct sconn *c)
{
	struct srv *s = c->s;
	char head[512];
	int n;

	switch (s->mode) {
	case SRV_OK: {
		const char *body = "{\"id\":42}";

		n = snprintf(head, sizeof(head),
		    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		    "Content-Length: %zu\r\n\r\n%s",
		    strlen(body), body);
		sconn_send(c, head, (size_t) n);
		break;
	}
	case SRV_BIG: {
		size_t big = 100000;
		char *b = malloc(big);

		assert_non_null(b);
		memset(b, 'x', big);
		n = snprintf(head, sizeof(head),
		    "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", big);
		sconn_send(c, head, (size_t) n);
		sconn_send(c, b, big);
		free(b);
		break;
	}
	case SRV_429: {
		const char *body = "{\"error\":\"ConnectWiseAPI\"}";

		n = snprintf(head, sizeof(head),
		    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\n"
		    "Link: <http://127.0.0.1/x?page=2>; rel=\"next\"\r\n"
		    "Link: <http://127.0.0.1/x?page=9>; rel=\"last\"\r\n"
		    "Content-Length: %zu\r\n\r\n%s",
		    strlen(body), body);
		sconn_send(c, head, (size_t) n);
		break;
	}
	case SRV_DROP:
		sconn_close(c);
		break;
	case SRV_STALL:
	default:
		break;
	}
}

/* Consumes complete requests from c->buf. */
static void
sconn_parse(struct sconn *c)
{
	struct srv *s = c->s;

	for (;;) {
		char *end, *cl;
		size_t head_len, body_len = 0, total;

		c->buf[c->len] = '\0';
		end = strstr(c->buf, "\r\n\r\n");
		if (!end) {
			return;
		}
		head_len = (size_t) (end - c->buf) + 4;
		cl = strcasestr(c->buf, "\r\nContent-Length:");
		if (cl && cl < end) {
			unsigned long v = 0;
			int used = 0;

			assert_int_equal(
			    sscanf(cl + 17, " %lu%n", &v, &used), 1);
			body_len = v;
		}
		total = head_len + body_len;
		if (c->len < total) {
			return;
		}
		s->requests++;
		snprintf(s->method, sizeof(s->method), "%.*s",
		    (int) strcspn(c->buf, " "), c->buf);
		snprintf(
		    s->head, sizeof(s->head), "%.*s", (int) head_len, c->buf);
		memcpy(s->body, c->buf + head_len,
		    body_len < sizeof(s->body) ? body_len : sizeof(s->body));
		s->body_len = body_len;
		memmove(c->buf, c->buf + total, c->len - total);
		c->len -= total;
		if (s->on_request) {
			s->on_request(s);
		}
		sconn_answer(c);
		if (c->closing) {
			return;
		}
	}
}

static void
on_sread(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct sconn *c = st->data;

	if (nread < 0) {
		sconn_close(c); /* EOF or error: the client is gone */
		return;
	}
	c->len += (size_t) nread;
	if (c->s->mode == SRV_GARBAGE) {
		/* Not TLS: what a TLS client gets from a plain server. */
		sconn_send(c, "HTTP/1.1 400 Bad Request\r\n\r\n", 28);
		sconn_close(c);
		return;
	}
	sconn_parse(c);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct srv *s = server->data;
	struct sconn *c = calloc(1, sizeof(*c));

	assert_int_equal(status, 0);
	assert_non_null(c);
	assert_int_equal(uv_tcp_init(server->loop, &c->tcp), 0);
	c->tcp.data = c;
	c->s = s;
	assert_int_equal(uv_accept(server, (uv_stream_t *) &c->tcp), 0);
	c->next = s->list;
	s->list = c;
	s->conns++;
	assert_int_equal(
	    uv_read_start((uv_stream_t *) &c->tcp, on_alloc, on_sread), 0);
}

static void
srv_start(uv_loop_t *loop, struct srv *s, enum srv_mode mode)
{
	struct sockaddr_in addr;
	struct sockaddr_storage name;
	int len = sizeof(name);

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	assert_int_equal(uv_tcp_init(loop, &s->listener), 0);
	s->listener.data = s;
	assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
	assert_int_equal(
	    uv_tcp_bind(&s->listener, (const struct sockaddr *) &addr, 0), 0);
	assert_int_equal(
	    uv_listen((uv_stream_t *) &s->listener, 16, on_connection), 0);
	assert_int_equal(
	    uv_tcp_getsockname(&s->listener, (struct sockaddr *) &name, &len),
	    0);
	s->port = ntohs(((struct sockaddr_in *) &name)->sin_port);
}

static void
srv_stop(struct srv *s)
{
	while (s->list) {
		sconn_close(s->list);
	}
	uv_close((uv_handle_t *) &s->listener, NULL);
}

/* What the client callback saw. */
struct got {
	int calls;
	int status;
	enum classify_xfer xfer;
	uint64_t bytes_sent;
	char body[256];
	size_t body_len;
	char retry_after[64];
	char link[512];
	bool has_link;
};

static void
on_done(const struct http_response *r, void *userdata)
{
	struct got *g = userdata;

	g->calls++;
	g->status = r->status;
	g->xfer = r->xfer;
	g->bytes_sent = r->bytes_sent;
	g->body_len = r->body_len;
	snprintf(g->body, sizeof(g->body), "%s", r->body);
	snprintf(g->retry_after, sizeof(g->retry_after), "%s",
	    r->retry_after ? r->retry_after : "");
	g->has_link = r->link != NULL;
	snprintf(g->link, sizeof(g->link), "%s", r->link ? r->link : "");
}

/* Runs the loop until *n callbacks happened or 10 s passed. */
static void
run_until(uv_loop_t *loop, const int *n, int want)
{
	uint64_t deadline;

	uv_update_time(loop);
	deadline = uv_now(loop) + 10000;
	while (*n < want && uv_now(loop) < deadline) {
		uv_run(loop, UV_RUN_ONCE);
	}
	assert_int_equal(*n, want);
}

struct fixture {
	uv_loop_t loop;
	struct srv srv;
	struct http *h;
	struct http_transport *t;
	char url[128];
};

static void
fx_init(struct fixture *f, enum srv_mode mode, const struct http_options *o)
{
	assert_int_equal(uv_loop_init(&f->loop), 0);
	srv_start(&f->loop, &f->srv, mode);
	assert_int_equal(http_new(&f->loop, o, &f->h), 0);
	f->t = http_transport(f->h);
	snprintf(f->url, sizeof(f->url),
	    "http://127.0.0.1:%d/v4_6_release/"
	    "apis/3.0/time/entries",
	    f->srv.port);
}

static void
fx_fini(struct fixture *f)
{
	http_close(f->h);
	srv_stop(&f->srv);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void
test_get_reuses_post_fresh(void **state)
{
	struct fixture f;
	struct got g = {0};
	struct http_request get = {.method = CLASSIFY_GET};
	struct http_request post = {
	    .method = CLASSIFY_POST, .flags = HTTP_FRESH_CONNECTION};
	const char *body = "{\"timeStart\":\"2025-03-03T14:00:00Z\"}";

	fx_init(&f, SRV_OK, NULL);
	get.url = f.url;
	get.headers[0] = "clientId: test-client";
	get.headers[1] = "Accept: application/vnd.connectwise.com+json; "
			 "version=2025.8";
	post.url = f.url;
	post.headers[0] = "Content-Type: application/json";
	post.body = body;
	post.body_len = strlen(body);

	/* keep-alive GETs share one connection... */
	for (int i = 1; i <= 3; i++) {
		assert_true(f.t->submit(f.t, &get, on_done, &g) > 0);
		run_until(&f.loop, &g.calls, i);
		assert_int_equal(g.status, 200);
		assert_int_equal(g.xfer, CLASSIFY_XFER_OK);
		assert_string_equal(g.body, "{\"id\":42}");
		assert_true(g.bytes_sent > 0);
	}
	assert_int_equal(f.srv.conns, 1);
	assert_int_equal(f.srv.requests, 3);
	assert_string_equal(f.srv.method, "GET");
	assert_non_null(strstr(f.srv.head, "\r\nclientId: test-client\r\n"));
	assert_non_null(strstr(f.srv.head,
	    "\r\nAccept: application/vnd."
	    "connectwise.com+json; "
	    "version=2025.8\r\n"));
	/* ...but every POST opens its own, even with one idle and open */
	for (int i = 1; i <= 3; i++) {
		assert_true(f.t->submit(f.t, &post, on_done, &g) > 0);
		run_until(&f.loop, &g.calls, 3 + i);
		assert_int_equal(g.status, 200);
		assert_int_equal(f.srv.conns, 1 + i);
		assert_string_equal(f.srv.method, "POST");
		assert_int_equal(f.srv.body_len, strlen(body));
		assert_memory_equal(f.srv.body, body, strlen(body));
		assert_null(strstr(f.srv.head, "Expect:"));
	}
	/* and a GET after them may reuse the first connection again */
	assert_true(f.t->submit(f.t, &get, on_done, &g) > 0);
	run_until(&f.loop, &g.calls, 7);
	assert_int_equal(f.srv.conns, 4);
	fx_fini(&f);
}

static void
test_methods(void **state)
{
	struct fixture f;
	struct got g = {0};
	struct http_request r = {.method = CLASSIFY_PATCH};
	const char *patch = "[{\"op\":\"replace\",\"path\":\"notes\","
			    "\"value\":\"x\"}]";

	fx_init(&f, SRV_OK, NULL);
	r.url = f.url;
	r.body = patch;
	r.body_len = strlen(patch);
	assert_true(f.t->submit(f.t, &r, on_done, &g) > 0);
	run_until(&f.loop, &g.calls, 1);
	assert_string_equal(f.srv.method, "PATCH");
	assert_int_equal(f.srv.body_len, strlen(patch));
	assert_memory_equal(f.srv.body, patch, strlen(patch));

	r.method = CLASSIFY_DELETE;
	r.body = NULL;
	r.body_len = 0;
	assert_true(f.t->submit(f.t, &r, on_done, &g) > 0);
	run_until(&f.loop, &g.calls, 2);
	assert_string_equal(f.srv.method, "DELETE");
	assert_int_equal(f.srv.body_len, 0);

	/* a POST without a body still sends Content-Length: 0 */
	r.method = CLASSIFY_POST;
	assert_true(f.t->submit(f.t, &r, on_done, &g) > 0);
	run_until(&f.loop, &g.calls, 3);
	assert_string_equal(f.srv.method, "POST");
	assert_non_null(strcasestr(f.srv.head, "Content-Length: 0\r\n"));
	fx_fini(&f);
}

static void
test_body_cap(void **state)
{
	struct fixture f;
	struct got g = {0};
	struct http_request r = {.method = CLASSIFY_GET, .body_max = 1000};

	fx_init(&f, SRV_BIG, NULL);
	r.url = f.url;
	assert_true(f.t->submit(f.t, &r, on_done, &g) > 0);
	run_until(&f.loop, &g.calls, 1);
	assert_int_equal(g.xfer, CLASSIFY_XFER_TOO_LARGE);
	assert_int_equal(g.status, 200);
	assert_true(g.body_len <= 1000);
	assert_int_equal(
	    classify_post_entry(g.status, g.xfer, g.bytes_sent, true),
	    CLASSIFY_POST_UNKNOWN);
	/* the same reply under a larger cap arrives whole */
	r.body_max = 200000;
	assert_true(f.t->submit(f.t, &r, on_done, &g) > 0);
	run_until(&f.loop, &g.calls, 2);
	assert_int_equal(g.xfer, CLASSIFY_XFER_OK);
	assert_int_equal(g.body_len, 100000);
	fx_fini(&f);
}

static void
test_timeout_after_send(void **state)
{
	struct fixture f;
	struct got g = {0};
	struct http_request r = {.method = CLASSIFY_POST,
	    .flags = HTTP_FRESH_CONNECTION,
	    .total_timeout_ms = 300,
	    .body = "{}",
	    .body_len = 2};
	uint64_t t0;

	fx_init(&f, SRV_STALL, NULL);
	r.url = f.url;
	uv_update_time(&f.loop);
	t0 = uv_now(&f.loop);
	assert_true(f.t->submit(f.t, &r, on_done, &g) > 0);
	run_until(&f.loop, &g.calls, 1);
	assert_true(uv_now(&f.loop) - t0 >= 250);
	assert_int_equal(f.srv.requests, 1);
	assert_int_equal(g.xfer, CLASSIFY_XFER_TIMEOUT);
	assert_int_equal(g.status, 0);
	assert_true(g.bytes_sent > 0);
	assert_int_equal(
	    classify_post_entry(g.status, g.xfer, g.bytes_sent, false),
	    CLASSIFY_POST_UNKNOWN);
	fx_fini(&f);
}

static void
test_reset_after_send(void **state)
{
	struct fixture f;
	struct got g = {0};
	struct http_request r = {.method = CLASSIFY_POST,
	    .flags = HTTP_FRESH_CONNECTION,
	    .body = "{}",
	    .body_len = 2};

	fx_init(&f, SRV_DROP, NULL);
	r.url = f.url;
	assert_true(f.t->submit(f.t, &r, on_done, &g) > 0);
	run_until(&f.loop, &g.calls, 1);
	assert_int_equal(f.srv.requests, 1);
	assert_int_equal(g.xfer, CLASSIFY_XFER_RESET);
	assert_true(g.bytes_sent > 0);
	assert_int_equal(
	    classify_post_entry(g.status, g.xfer, g.bytes_sent, false),
	    CLASSIFY_POST_UNKNOWN);
	/* exactly one request reached the server: no library retry */
	assert_int_equal(f.srv.conns, 1);
	fx_fini(&f);
}

static void
test_connect_refused(void **state)
{
	struct fixture f;
	struct got g = {0};
	struct http_request r = {.method = CLASSIFY_POST,
	    .flags = HTTP_FRESH_CONNECTION,
	    .body = "{}",
	    .body_len = 2};
	char url[128];
	int port;

	fx_init(&f, SRV_OK, NULL);
	/* a port that was just free: nobody listens there */
	port = f.srv.port;
	srv_stop(&f.srv);
	assert_int_equal(uv_run(&f.loop, UV_RUN_NOWAIT) >= 0, 1);
	srv_start(&f.loop, &f.srv, SRV_OK);
	if (f.srv.port == port) {
		skip(); /* the kernel handed the same port out again */
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
	r.url = url;
	assert_true(f.t->submit(f.t, &r, on_done, &g) > 0);
	run_until(&f.loop, &g.calls, 1);
	assert_int_equal(g.xfer, CLASSIFY_XFER_CONNECT);
	assert_int_equal(g.bytes_sent, 0);
	assert_int_equal(g.status, 0);
	assert_int_equal(
	    classify_post_entry(g.status, g.xfer, g.bytes_sent, false),
	    CLASSIFY_POST_PENDING);
	fx_fini(&f);
}

static void
test_resolve_failure(void **state)
{
	struct fixture f;
	struct got g = {0};
	struct http_request r = {.method = CLASSIFY_POST,
	    .flags = HTTP_FRESH_CONNECTION,
	    .body = "{}",
	    .body_len = 2,
	    .connect_timeout_ms = 3000};

	fx_init(&f, SRV_OK, NULL);
	/* RFC 6761: .invalid never resolves. Without a resolver the lookup
	 * may instead run into the connect timeout; both mean not sent. */
	r.url = "https://cwtimed-test.invalid/v4_6_release/apis/3.0/x";
	assert_true(f.t->submit(f.t, &r, on_done, &g) > 0);
	run_until(&f.loop, &g.calls, 1);
	assert_true(
	    g.xfer == CLASSIFY_XFER_RESOLVE || g.xfer == CLASSIFY_XFER_CONNECT);
	assert_int_equal(g.bytes_sent, 0);
	assert_int_equal(
	    classify_post_entry(g.status, g.xfer, g.bytes_sent, false),
	    CLASSIFY_POST_PENDING);
	fx_fini(&f);
}

static void
test_headers_of_interest(void **state)
{
	struct fixture f;
	struct got g = {0};
	struct http_request r = {.method = CLASSIFY_GET};

	fx_init(&f, SRV_429, NULL);
	r.url = f.url;
	assert_true(f.t->submit(f.t, &r, on_done, &g) > 0);
	run_until(&f.loop, &g.calls, 1);
	assert_int_equal(g.status, 429);
	assert_int_equal(g.xfer, CLASSIFY_XFER_OK);
	assert_string_equal(g.retry_after, "30");
	assert_string_equal(g.link,
	    "<http://127.0.0.1/x?page=2>; rel=\"next\", "
	    "<http://127.0.0.1/x?page=9>; rel=\"last\"");
	assert_string_equal(g.body, "{\"error\":\"ConnectWiseAPI\"}");
	fx_fini(&f);
}

static void
test_https_only(void **state)
{
	struct fixture f;
	struct got g = {0};
	struct http_request r = {.method = CLASSIFY_GET};
	struct errbuf e;

	fx_init(&f, SRV_OK, NULL);
	r.url = "http://api-na.myconnectwise.net/v4_6_release/apis/3.0/x";
	assert_int_equal(f.t->submit(f.t, &r, on_done, &g), -EPERM);
	r.url = "ftp://127.0.0.1/x";
	assert_int_equal(f.t->submit(f.t, &r, on_done, &g), -EPERM);
	r.url = "http://user:pw@127.0.0.1/x";
	assert_int_equal(f.t->submit(f.t, &r, on_done, &g), -EPERM);
	assert_int_equal(g.calls, 0);

	assert_int_equal(http_url_check("https://api-na.myconnectwise.net/"
					"v2025_1/apis/3.0",
			     &e),
	    0);
	assert_int_equal(http_url_check("http://127.0.0.1:8080/x", &e), 0);
	assert_int_equal(http_url_check("http://127.1.2.3/x", &e), 0);
	assert_int_equal(http_url_check("http://localhost:1/", &e), 0);
	assert_int_equal(http_url_check("http://[::1]:99/a", &e), 0);
	assert_int_equal(http_url_check("http://example.com/", &e), -EPERM);
	assert_int_equal(e.code, ERR_CONFIG);
	assert_int_equal(
	    http_url_check("http://127.0.0.1.evil.com/", &e), -EPERM);
	assert_int_equal(http_url_check("http://[::2]/", &e), -EPERM);
	assert_int_equal(http_url_check("example.com", &e), -EINVAL);
	assert_int_equal(http_url_check("https://", &e), -EINVAL);
	assert_int_equal(http_url_check(NULL, &e), -EINVAL);
	fx_fini(&f);
}

static struct fixture *close_fx;

static void
close_on_request(struct srv *s)
{
	http_close(close_fx->h);
	close_fx->h = NULL;
}

static void
test_close_in_flight(void **state)
{
	struct fixture f;
	struct got g = {0};
	struct http_request r = {.method = CLASSIFY_GET};

	fx_init(&f, SRV_STALL, NULL);
	r.url = f.url;
	close_fx = &f;
	f.srv.on_request = close_on_request;
	assert_true(f.t->submit(f.t, &r, on_done, &g) > 0);
	run_until(&f.loop, &f.srv.requests, 1);
	assert_null(f.h);
	fx_fini(&f); /* http_close(NULL) is fine */
	assert_int_equal(g.calls, 0);
}

static void
cancel_self(const struct http_response *r, void *userdata)
{
	struct got *g = userdata;

	g->calls++;
}

static void
test_cancel(void **state)
{
	struct fixture f;
	struct got g = {0}, g2 = {0};
	struct http_request r = {.method = CLASSIFY_GET};
	int64_t id;

	fx_init(&f, SRV_OK, NULL);
	r.url = f.url;
	id = f.t->submit(f.t, &r, cancel_self, &g);
	assert_true(id > 0);
	f.t->cancel(f.t, id);
	f.t->cancel(f.t, id);	  /* twice: nothing */
	f.t->cancel(f.t, 123456); /* unknown: nothing */
	assert_true(f.t->submit(f.t, &r, on_done, &g2) > 0);
	run_until(&f.loop, &g2.calls, 1);
	assert_int_equal(g.calls, 0);
	assert_int_equal(g2.status, 200);
	fx_fini(&f);
}

struct trace {
	char text[32768];
	size_t len;
};

static void
on_debug(const char *line, void *userdata)
{
	struct trace *t = userdata;
	int n =
	    snprintf(t->text + t->len, sizeof(t->text) - t->len, "%s\n", line);

	if (n > 0 && (size_t) n < sizeof(t->text) - t->len) {
		t->len += (size_t) n;
	}
}

static void
test_debug_redacts(void **state)
{
	struct fixture f;
	struct got g = {0};
	struct trace tr = {.len = 0};
	struct http_options o = {.debug = on_debug, .debug_userdata = &tr};
	struct http_request r = {.method = CLASSIFY_GET};

	fx_init(&f, SRV_OK, &o);
	r.url = f.url;
	r.headers[0] = "Authorization: Basic Q0FOQVJZLTEyMzQ1Njc4OTA=";
	r.headers[1] = "clientId: CANARY-1234567890";
	r.headers[2] = "X-Probe: visible";
	assert_true(f.t->submit(f.t, &r, on_done, &g) > 0);
	run_until(&f.loop, &g.calls, 1);
	/* the secrets reached the server... */
	assert_non_null(strstr(f.srv.head, "clientId: CANARY-1234567890"));
	/* ...but not the trace */
	assert_null(strstr(tr.text, "CANARY"));
	assert_null(strstr(tr.text, "Q0FOQVJZ"));
	assert_non_null(strstr(tr.text, "> Authorization: [redacted]"));
	assert_non_null(strstr(tr.text, "> clientId: [redacted]"));
	assert_non_null(strstr(tr.text, "> X-Probe: visible"));
	assert_non_null(strstr(tr.text, "< HTTP/1.1 200 OK"));
	fx_fini(&f);
}

static void
test_tls_handshake_failure(void **state)
{
	struct fixture f;
	struct got g = {0};
	struct http_request r = {.method = CLASSIFY_POST,
	    .flags = HTTP_FRESH_CONNECTION,
	    .body = "{}",
	    .body_len = 2};
	char url[128];

	fx_init(&f, SRV_GARBAGE, NULL);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", f.srv.port);
	r.url = url;
	assert_true(f.t->submit(f.t, &r, on_done, &g) > 0);
	run_until(&f.loop, &g.calls, 1);
	assert_int_equal(g.xfer, CLASSIFY_XFER_TLS_HANDSHAKE);
	assert_int_equal(g.bytes_sent, 0);
	assert_int_equal(g.status, 0);
	assert_int_equal(
	    classify_post_entry(g.status, g.xfer, g.bytes_sent, false),
	    CLASSIFY_POST_PENDING);
	assert_int_equal(f.srv.requests, 0);
	fx_fini(&f);
}

extern char **environ;

/* Runs argv to completion; returns its exit status or -1. */
static int
run_quiet(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st)) {
		return -1;
	}
	return WEXITSTATUS(st);
}

static const char tls_server_py[] =
    "import http.server, ssl, sys\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def answer(self):\n"
    "        self.rfile.read(int(self.headers.get('Content-Length') or 0))\n"
    "        b = b'{\"id\":1}'\n"
    "        self.send_response(201)\n"
    "        self.send_header('Content-Length', str(len(b)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(b)\n"
    "    do_GET = do_POST = answer\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
    "ctx.load_cert_chain(sys.argv[1], sys.argv[2])\n"
    "s.socket = ctx.wrap_socket(s.socket, server_side=True)\n"
    "print(s.server_address[1], flush=True)\n"
    "s.serve_forever()\n";

struct tls_server {
	char dir[64];
	char cert[128];
	char key[128];
	pid_t pid;
	int port;
};

/* Makes a self-signed certificate for 127.0.0.1 and starts a python TLS
 * server with it; false (after a skip-probe line) when that cannot be
 * done here. */
static bool
tls_server_start(struct tls_server *ts)
{
	const char *py = getenv("PYTHON3");
	char pybuf[256];
	char *req[] = {(char *) "/usr/bin/openssl", (char *) "req",
	    (char *) "-x509", (char *) "-newkey", (char *) "rsa:2048",
	    (char *) "-nodes", (char *) "-keyout", ts->key, (char *) "-out",
	    ts->cert, (char *) "-days", (char *) "1", (char *) "-subj",
	    (char *) "/CN=localhost", (char *) "-addext",
	    (char *) "subjectAltName=IP:127.0.0.1,DNS:localhost", NULL};
	char *args[6];
	posix_spawn_file_actions_t fa;
	int pfd[2];
	struct pollfd p;
	char line[32] = "";
	size_t n = 0;

	snprintf(
	    pybuf, sizeof(pybuf), "%s", py && *py ? py : "/usr/bin/python3");
	snprintf(ts->dir, sizeof(ts->dir), "/tmp/cwt-test-http-XXXXXX");
	if (!mkdtemp(ts->dir)) {
		print_message("skip-probe: mkdtemp: errno %d\n", errno);
		return false;
	}
	snprintf(ts->cert, sizeof(ts->cert), "%s/cert.pem", ts->dir);
	snprintf(ts->key, sizeof(ts->key), "%s/key.pem", ts->dir);
	if (access(req[0], X_OK) != 0 || access(pybuf, X_OK) != 0) {
		print_message("skip-probe: access(%s, %s): errno %d\n", req[0],
		    pybuf, errno);
		return false;
	}
	if (run_quiet(req) != 0) {
		print_message("skip-probe: openssl req -x509 failed\n");
		return false;
	}
	args[0] = pybuf;
	args[1] = (char *) "-c";
	args[2] = (char *) tls_server_py;
	args[3] = ts->cert;
	args[4] = ts->key;
	args[5] = NULL;
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&ts->pid, pybuf, &fa, NULL, args, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		print_message("skip-probe: posix_spawn(%s) failed\n", pybuf);
		return false;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	/* Wait for the port line, with a deadline. */
	p.fd = pfd[0];
	p.events = POLLIN;
	while (n < sizeof(line) - 1 && !strchr(line, '\n')) {
		ssize_t k;

		if (poll(&p, 1, 10000) <= 0) {
			break;
		}
		k = read(pfd[0], line + n, sizeof(line) - 1 - n);
		if (k <= 0) {
			break;
		}
		n += (size_t) k;
		line[n] = '\0';
	}
	close(pfd[0]);
	if (sscanf(line, "%d", &ts->port) != 1 || ts->port <= 0) {
		print_message("skip-probe: python TLS server gave no port\n");
		kill(ts->pid, SIGTERM);
		waitpid(ts->pid, NULL, 0);
		ts->pid = 0;
		return false;
	}
	return true;
}

static void
tls_server_stop(struct tls_server *ts)
{
	if (ts->pid > 0) {
		kill(ts->pid, SIGTERM);
		waitpid(ts->pid, NULL, 0);
	}
	(void) unlink(ts->cert);
	(void) unlink(ts->key);
	(void) rmdir(ts->dir);
}

static void
test_tls_verify(void **state)
{
	struct tls_server ts = {.pid = 0};
	struct fixture f;
	struct got g = {0};
	struct http_request r = {.method = CLASSIFY_POST,
	    .flags = HTTP_FRESH_CONNECTION,
	    .body = "{}",
	    .body_len = 2};
	struct http_options o = {.ca_file = NULL};
	char url[128];
	bool ok = tls_server_start(&ts);

	if (!ok) {
		tls_server_stop(&ts);
		skip();
	}
	snprintf(url, sizeof(url),
	    "https://127.0.0.1:%d/v4_6_release/apis/"
	    "3.0/time/entries",
	    ts.port);
	/* An unknown CA: account-wide, nothing sent, never retried insecurely
	 */
	fx_init(&f, SRV_OK, NULL);
	r.url = url;
	assert_true(f.t->submit(f.t, &r, on_done, &g) > 0);
	run_until(&f.loop, &g.calls, 1);
	assert_int_equal(g.xfer, CLASSIFY_XFER_TLS_VERIFY);
	assert_int_equal(g.bytes_sent, 0);
	assert_int_equal(
	    classify_post_entry(g.status, g.xfer, g.bytes_sent, false),
	    CLASSIFY_POST_PENDING_PAUSE);
	fx_fini(&f);
	/* The same server with ca_file: delivered */
	o.ca_file = ts.cert;
	fx_init(&f, SRV_OK, &o);
	assert_true(f.t->submit(f.t, &r, on_done, &g) > 0);
	run_until(&f.loop, &g.calls, 2);
	assert_int_equal(g.xfer, CLASSIFY_XFER_OK);
	assert_int_equal(g.status, 201);
	assert_string_equal(g.body, "{\"id\":1}");
	fx_fini(&f);
	tls_server_stop(&ts);
}

static void
test_escape(void **state)
{
	char *s = http_escape("mobileGuid=\"a b\"+&'*%~._-Z9");

	assert_non_null(s);
	assert_string_equal(s, "mobileGuid%3D%22a%20b%22%2B%26%27%2A%25~._-Z9");
	free(s);
	s = http_escape("");
	assert_string_equal(s, "");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_reuses_post_fresh),
	    cmocka_unit_test(test_methods),
	    cmocka_unit_test(test_body_cap),
	    cmocka_unit_test(test_timeout_after_send),
	    cmocka_unit_test(test_reset_after_send),
	    cmocka_unit_test(test_connect_refused),
	    cmocka_unit_test(test_resolve_failure),
	    cmocka_unit_test(test_headers_of_interest),
	    cmocka_unit_test(test_https_only),
	    cmocka_unit_test(test_close_in_flight),
	    cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_debug_redacts),
	    cmocka_unit_test(test_tls_handshake_failure),
	    cmocka_unit_test(test_tls_verify),
	    cmocka_unit_test(test_escape),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
