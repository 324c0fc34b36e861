/*
 * ipc.c - the control socket server.
 *
 * The listening socket is watched with a uv_poll_t and accepted with
 * accept4() here rather than through uv_listen(): libuv's accept path
 * cannot be paused (on EMFILE it accepts and drops the waiting clients
 * itself), and we want the SO_PEERCRED check on the raw descriptor before
 * any libuv handle or buffer exists for a stranger. Accepted sockets
 * become uv_pipe_t handles through uv_pipe_open().
 *
 * Invariants:
 * - a connection from another uid is closed before a byte is read;
 *   refusals are logged at most once per IPC_REFUSE_LOG_MS, without
 *   content;
 * - input per connection is one buffer that starts at IPC_IN_MIN bytes at
 *   the first read and doubles only while a line does not fit, up to
 *   PROTO_LINE_MAX; a line that does not fit then gets line-too-long and
 *   the connection is closed. A grown buffer is given back once it is
 *   empty, so hundreds of idle connections (status-bar subscribers) cost
 *   IPC_IN_MIN each, not 64 KiB; a partial line must be completed within
 *   the line deadline;
 * - queued output per connection is capped; over the cap it is closed;
 * - events for a subscriber whose output is backed up are coalesced: at
 *   most one held line per event name (IPC_HELD_MAX), the latest, sent
 *   when the output drains; ticks (droppable) are skipped instead. A
 *   subscriber that never reads thus holds a bounded amount of memory;
 * - a struct conn is freed only when its two handles have closed and no
 *   reference remains (STYLE.md 6);
 * - idle means idle: the per-connection timer runs only while a partial
 *   line is pending.
 *
 * Must never: read from a foreign peer, allocate a size the peer chose,
 * spin on EOF, free a conn from anywhere but conn_maybe_free().
 */
#define _GNU_SOURCE 1 /* accept4, struct ucred, asprintf */

#include "daemon/ipc.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "common/cleanup.h"
#include "common/proto.h"
#include "daemon/log.h"

#define IPC_ACCEPT_BURST 64
#define IPC_RETRY_MS 1000
#define IPC_REFUSE_LOG_MS 10000
/* As many as may be connected at once: 100 status bars reconnecting
 * together after a restart must not find the queue full (EAGAIN for a
 * non-blocking connect). */
#define IPC_IN_MIN 4096 /* first input buffer; requests are far smaller */
#define IPC_BACKLOG PROTO_MAX_CONNS
/* Event kinds held per backed-up subscriber ("timer", "submission", ...);
 * one more kind than this closes the connection (cannot happen with the
 * events proto.h lists). */
#define IPC_HELD_MAX 6
#define IPC_EVENT_NAME_MAX 24

enum {
	CONN_CLOSING = 1 << 0,
	CONN_SUBSCRIBED = 1 << 1,
	CONN_CLOSE_AFTER_WRITE = 1 << 2,
	CONN_EOF = 1 << 3,        /* the peer shut down its side */
	CONN_READING = 1 << 4,
	CONN_DRAIN = 1 << 5,      /* server shutting down: no more lines */
	CONN_DISPATCHING = 1 << 6, /* inside on_line */
};

/* The latest event line of one kind, held for a backed-up subscriber. */
struct held_event {
	char name[IPC_EVENT_NAME_MAX];
	char *line;
	size_t len;
};

struct conn {
	struct ipc *ipc;
	uv_pipe_t pipe;
	uv_timer_t timer;         /* partial-line deadline and resume */
	struct conn *next, *prev;
	uint64_t id;
	uid_t uid;
	pid_t pid;
	unsigned flags;
	unsigned pending_closes;  /* handles not yet closed */
	unsigned refs;
	unsigned holds;           /* requests in flight */
	char *in;                 /* in_cap bytes, lazily */
	size_t in_len, in_cap;    /* in_cap <= PROTO_LINE_MAX */
	uint64_t partial_since;   /* uv_now() when the pending partial began */
	size_t out_bytes;         /* queued, not yet written */
	struct held_event held[IPC_HELD_MAX]; /* oldest first */
	unsigned nheld;
	void *data;               /* conn_set_data(), freed with c */
	void (*free_data)(void *);
};

struct wreq {
	uv_write_t req;
	struct conn *c;
	size_t len;
	char data[];
};

static void process_lines(struct conn *c);
static void update_timer(struct conn *c);

/* ---- lifetime ---- */

static void
conn_maybe_free(struct conn *c)
{
	if (c->pending_closes > 0 || c->refs > 0) {
		return;
	}
	for (unsigned i = 0; i < c->nheld; i++) {
		free(c->held[i].line);
	}
	if (c->free_data) {
		c->free_data(c->data);
	}
	free(c->in);
	free(c);
}

static void
notify_subscribers(struct ipc *ipc)
{
	if (ipc->cfg.on_subscribers) {
		ipc->cfg.on_subscribers(ipc->cfg.userdata);
	}
}

static void on_listen_ready(uv_poll_t *h, int status, int events);
static void on_retry_timer(uv_timer_t *t);

static void
resume_accepting(struct ipc *ipc)
{
	if (!ipc->accept_paused || ipc->closing) {
		return;
	}
	ipc->accept_paused = false;
	(void) uv_timer_stop(&ipc->retry_timer);
	if (uv_poll_start(&ipc->listen_poll, UV_READABLE, on_listen_ready) < 0) {
		ipc->accept_paused = true; /* the retry timer tries again */
		(void) uv_timer_start(&ipc->retry_timer, on_retry_timer,
		    IPC_RETRY_MS, 0);
	}
}

static void
on_conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct ipc *ipc = c->ipc;

	if (--c->pending_closes > 0) {
		return;
	}
	/* Both handles are gone: the descriptor is closed. */
	if (c->prev) {
		c->prev->next = c->next;
	} else {
		ipc->conns.first = c->next;
	}
	if (c->next) {
		c->next->prev = c->prev;
	}
	c->next = c->prev = NULL;
	ipc->nconns--;
	resume_accepting(ipc); /* a descriptor was freed */
	c->ipc = NULL;
	conn_maybe_free(c);
}

void
conn_close(struct conn *c)
{
	bool was_subscribed;

	if (!c || (c->flags & CONN_CLOSING)) {
		return;
	}
	/* Closed behind our back (a uv_walk) would mean no callback and a
	 * leak; the daemon closes connections through here first. */
	assert(!uv_is_closing((uv_handle_t *) &c->pipe));
	was_subscribed = (c->flags & CONN_SUBSCRIBED) != 0;
	c->flags |= CONN_CLOSING;
	c->flags &= ~CONN_SUBSCRIBED;
	if (was_subscribed) {
		notify_subscribers(c->ipc); /* the tick may stop */
	}
	/* Pending writes complete with UV_ECANCELED before the close
	 * callback runs (libuv guarantees the order), so wreqs never
	 * outlive the conn. */
	uv_close((uv_handle_t *) &c->pipe, on_conn_handle_closed);
	uv_close((uv_handle_t *) &c->timer, on_conn_handle_closed);
}

void
conn_close_after_write(struct conn *c)
{
	if (c->flags & CONN_CLOSING) {
		return;
	}
	c->flags |= CONN_CLOSE_AFTER_WRITE;
	if (c->flags & CONN_READING) {
		(void) uv_read_stop((uv_stream_t *) &c->pipe);
		c->flags &= ~CONN_READING;
	}
	if (c->out_bytes == 0) {
		conn_close(c);
	}
}

struct conn *
conn_ref(struct conn *c)
{
	c->refs++;
	return c;
}

void
conn_unref(struct conn *c)
{
	if (!c) {
		return;
	}
	if (--c->refs == 0) {
		conn_maybe_free(c);
	}
}

bool
conn_is_closing(const struct conn *c)
{
	return (c->flags & CONN_CLOSING) != 0;
}

bool
conn_is_subscribed(const struct conn *c)
{
	return (c->flags & CONN_SUBSCRIBED) != 0;
}

void
conn_set_data(struct conn *c, void *data, void (*free_fn)(void *))
{
	if (c->free_data && c->data != data) {
		c->free_data(c->data);
	}
	c->data = data;
	c->free_data = free_fn;
}

void *
conn_data(const struct conn *c)
{
	return c->data;
}

uid_t
conn_uid(const struct conn *c)
{
	return c->uid;
}

pid_t
conn_pid(const struct conn *c)
{
	return c->pid;
}

uint64_t
conn_id(const struct conn *c)
{
	return c->id;
}

void
conn_subscribe(struct conn *c)
{
	if (!(c->flags & (CONN_CLOSING | CONN_SUBSCRIBED))) {
		c->flags |= CONN_SUBSCRIBED;
		notify_subscribers(c->ipc); /* the tick may start */
	}
}

/* ---- output ---- */

/* True while the peer does not keep up: the kernel refused part of what
 * we wrote and libuv holds the rest, or events are held already (which
 * must leave first, in order). */
static bool
backed_up(const struct conn *c)
{
	return c->nheld > 0 ||
	    uv_stream_get_write_queue_size((const uv_stream_t *) &c->pipe) > 0;
}

static void flush_held(struct conn *c);

static void
on_write_done(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *) req;
	struct conn *c = w->c;

	c->out_bytes -= w->len;
	free(w);
	if (status < 0) {
		if (status != UV_ECANCELED) {
			log_debug("connection %llu: write failed: %s",
			    (unsigned long long) c->id, uv_strerror(status));
		}
		conn_close(c);
		return;
	}
	if ((c->flags & CONN_CLOSE_AFTER_WRITE) && c->out_bytes == 0) {
		conn_close(c);
		return;
	}
	if (c->nheld > 0 &&
	    uv_stream_get_write_queue_size((uv_stream_t *) &c->pipe) == 0) {
		flush_held(c);
	}
}

int
conn_send(struct conn *c, const char *line, size_t len)
{
	struct wreq *w;
	uv_buf_t buf;
	int r;

	if (c->flags & CONN_CLOSING) {
		return -ECONNRESET;
	}
	if (c->out_bytes + len > c->ipc->cfg.output_max) {
		log_debug("connection %llu (pid %d): %zu bytes of output not "
		    "read, closing it", (unsigned long long) c->id, (int) c->pid,
		    c->out_bytes);
		conn_close(c);
		return -ENOBUFS;
	}
	w = malloc(sizeof(*w) + len);
	if (!w) {
		conn_close(c);
		return -ENOMEM;
	}
	w->c = c;
	w->len = len;
	memcpy(w->data, line, len);
	buf = uv_buf_init(w->data, (unsigned) len);
	r = uv_write(&w->req, (uv_stream_t *) &c->pipe, &buf, 1, on_write_done);
	if (r < 0) {
		free(w);
		conn_close(c);
		return r;
	}
	c->out_bytes += len;
	return 0;
}

/* Sends the held events, oldest first. The socket has drained, so the
 * first one goes out at once; the others queue behind it in libuv (at
 * most IPC_HELD_MAX lines). */
static void
flush_held(struct conn *c)
{
	struct held_event h[IPC_HELD_MAX];
	unsigned n = c->nheld;

	memcpy(h, c->held, sizeof(h[0]) * n);
	c->nheld = 0;
	for (unsigned i = 0; i < n; i++) {
		(void) conn_send(c, h[i].line, h[i].len); /* closes on error */
		free(h[i].line);
	}
}

/* The event name of a line built by proto_build_event ('{"v":1,
 * "event":"timer",...'), or "" if it has none. */
static void
event_name(const char *line, size_t len, char *buf, size_t n)
{
	static const char key[] = "\"event\":\"";
	const char *p = memmem(line, len < 64 ? len : 64, key, sizeof(key) - 1);
	size_t i = 0;

	if (p) {
		p += sizeof(key) - 1;
		while (p < line + len && *p != '"' && i + 1 < n) {
			buf[i++] = *p++;
		}
	}
	buf[i] = '\0';
}

/* Holds line for c, replacing the held line of the same event and moving
 * it last. Returns 0, or -ENOMEM/-ENOBUFS (c is then closed). */
static int
hold_event(struct conn *c, const char *line, size_t len)
{
	char name[IPC_EVENT_NAME_MAX];
	struct held_event h;
	unsigned i;

	event_name(line, len, name, sizeof(name));
	for (i = 0; i < c->nheld; i++) {
		if (strcmp(c->held[i].name, name) == 0) {
			break;
		}
	}
	if (i == c->nheld && c->nheld == IPC_HELD_MAX) {
		conn_close(c);
		return -ENOBUFS;
	}
	h.line = malloc(len);
	if (!h.line) {
		conn_close(c);
		return -ENOMEM;
	}
	memcpy(h.line, line, len);
	h.len = len;
	memcpy(h.name, name, sizeof(h.name));
	if (i < c->nheld) {
		free(c->held[i].line);
		memmove(&c->held[i], &c->held[i + 1],
		    sizeof(c->held[0]) * (c->nheld - i - 1));
		c->nheld--;
	}
	c->held[c->nheld++] = h;
	return 0;
}

/* An error line with "id":null, for failures of the framing itself. */
static void
send_framing_error(struct conn *c, enum errcode code, const char *msg)
{
	struct errbuf e;
	CLEANUP_FREE char *line = NULL;
	size_t len;

	errbuf_set(&e, code, 0, "%s", msg);
	if (proto_build_error(0, false, &e, &line, &len) == 0) {
		(void) conn_send(c, line, len); /* closing anyway */
	}
}

/* ---- input ---- */

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void) suggested; /* a peer never chooses our allocation size */
	if (c->in_len == c->in_cap && c->in_cap < PROTO_LINE_MAX) {
		size_t cap = c->in_cap ? c->in_cap * 2 : IPC_IN_MIN;
		char *n;

		if (cap > PROTO_LINE_MAX) {
			cap = PROTO_LINE_MAX;
		}
		n = realloc(c->in, cap);
		if (n) {
			c->in = n;
			c->in_cap = cap;
		}
	}
	if (!c->in || c->in_len >= c->in_cap) {
		/* libuv turns an empty buffer into UV_ENOBUFS for on_read */
		*buf = uv_buf_init(NULL, 0);
		return;
	}
	*buf = uv_buf_init(c->in + c->in_len, (unsigned) (c->in_cap - c->in_len));
}

static void
stop_reading(struct conn *c)
{
	if (c->flags & CONN_READING) {
		(void) uv_read_stop((uv_stream_t *) &c->pipe);
		c->flags &= ~CONN_READING;
	}
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void
start_reading(struct conn *c)
{
	if (c->flags & (CONN_READING | CONN_CLOSING | CONN_EOF |
		CONN_CLOSE_AFTER_WRITE | CONN_DRAIN)) {
		return;
	}
	if (uv_read_start((uv_stream_t *) &c->pipe, on_alloc, on_read) < 0) {
		conn_close(c);
		return;
	}
	c->flags |= CONN_READING;
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	if (nread == 0) {
		return; /* EAGAIN; libuv polls again */
	}
	if (nread == UV_ENOBUFS) {
		/* out of memory for the input buffer */
		conn_close(c);
		return;
	}
	if (nread < 0) {
		stop_reading(c);
		if (nread != UV_EOF) {
			conn_close(c);
			return;
		}
		/* A half-close (socat, `printf ... | nc -U`): answer what was
		 * sent, then close. */
		c->flags |= CONN_EOF;
		process_lines(c);
		return;
	}
	c->in_len += (size_t) nread;
	process_lines(c);
}

static void
process_lines(struct conn *c)
{
	struct ipc *ipc = c->ipc;
	size_t start = 0;
	bool consumed = false;

	while (!(c->flags & (CONN_CLOSING | CONN_CLOSE_AFTER_WRITE |
		   CONN_DRAIN)) &&
	    c->holds == 0 && start < c->in_len) {
		char *line = c->in + start;
		char *nl = memchr(line, '\n', c->in_len - start);
		size_t len;

		if (!nl) {
			break;
		}
		len = (size_t) (nl - line);
		start += len + 1;
		consumed = true;
		if (len > 0 && line[len - 1] == '\r') {
			len--;
		}
		if (len == 0) {
			continue; /* blank lines are keep-alives of a sort */
		}
		c->flags |= CONN_DISPATCHING;
		ipc->cfg.on_line(ipc->cfg.userdata, c, line, len);
		c->flags &= ~CONN_DISPATCHING;
	}
	if (c->flags & CONN_CLOSING) {
		return;
	}
	if (start > 0) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
	}
	if (c->flags & CONN_CLOSE_AFTER_WRITE) {
		return;
	}
	if (c->holds > 0) {
		/* Backpressure: nothing more is read until the reply left. */
		stop_reading(c);
		(void) uv_timer_stop(&c->timer);
		return;
	}
	if (c->in_len >= PROTO_LINE_MAX) {
		send_framing_error(c, ERR_LINE_TOO_LONG,
		    "request line longer than 64 KiB; closing the connection");
		conn_close_after_write(c);
		return;
	}
	if (c->flags & CONN_EOF) {
		if (c->in_len > 0) {
			/* The last line lacked its '\n'; take it as a line. */
			size_t len = c->in_len;

			c->in_len = 0;
			c->flags |= CONN_DISPATCHING;
			ipc->cfg.on_line(ipc->cfg.userdata, c, c->in, len);
			c->flags &= ~CONN_DISPATCHING;
			if (c->holds > 0 || (c->flags & CONN_CLOSING)) {
				return; /* conn_release() comes back here */
			}
		}
		conn_close_after_write(c);
		return;
	}
	if (c->flags & CONN_DRAIN) {
		conn_close_after_write(c);
		return;
	}
	if (c->in_len == 0) {
		c->partial_since = 0;
		if (c->in_cap > IPC_IN_MIN) {
			/* a long line passed: give its room back */
			free(c->in);
			c->in = NULL;
			c->in_cap = 0;
		}
	} else if (consumed || c->partial_since == 0) {
		c->partial_since = uv_now(ipc->cfg.loop);
	}
	update_timer(c);
	start_reading(c);
}

static void
on_conn_timer(uv_timer_t *t)
{
	struct conn *c = t->data;
	uint64_t now = uv_now(c->ipc->cfg.loop);

	if (c->flags & (CONN_CLOSING | CONN_CLOSE_AFTER_WRITE)) {
		return;
	}
	if (c->holds == 0 && c->in_len > 0 && c->partial_since > 0 &&
	    now - c->partial_since >= c->ipc->cfg.line_deadline_ms &&
	    !memchr(c->in, '\n', c->in_len)) {
		log_debug("connection %llu (pid %d): partial line not completed "
		    "within %llu ms, closing it", (unsigned long long) c->id,
		    (int) c->pid,
		    (unsigned long long) c->ipc->cfg.line_deadline_ms);
		char msg[128];

		snprintf(msg, sizeof(msg), "partial line not completed within "
		    "%llu ms; closing the connection",
		    (unsigned long long) c->ipc->cfg.line_deadline_ms);
		send_framing_error(c, ERR_BAD_REQUEST, msg);
		conn_close_after_write(c);
		return;
	}
	/* A resume after conn_release(), or an early wake-up. */
	process_lines(c);
}

/* Arms the timer for the deadline of the pending partial line, or stops
 * it when there is none (idle is idle). */
static void
update_timer(struct conn *c)
{
	uint64_t now, due;

	if (c->in_len == 0 || c->partial_since == 0) {
		(void) uv_timer_stop(&c->timer);
		return;
	}
	now = uv_now(c->ipc->cfg.loop);
	due = c->partial_since + c->ipc->cfg.line_deadline_ms;
	(void) uv_timer_start(&c->timer, on_conn_timer,
	    due > now ? due - now : 0, 0);
}

void
conn_hold(struct conn *c)
{
	c->holds++;
}

void
conn_release(struct conn *c)
{
	if (c->holds == 0) {
		return;
	}
	if (--c->holds > 0 || (c->flags & (CONN_CLOSING | CONN_DISPATCHING))) {
		return; /* process_lines() carries on by itself */
	}
	/* Do not recurse into on_line from inside whoever replied (maybe a
	 * journal commit); pick the buffered lines up from the timer on the
	 * next loop iteration. */
	(void) uv_timer_start(&c->timer, on_conn_timer, 0, 0);
}

/* ---- accepting ---- */

static void
log_refusal(struct ipc *ipc, uid_t uid, pid_t pid)
{
	uint64_t now = uv_now(ipc->cfg.loop);

	if (ipc->refused_log_at != 0 &&
	    now - ipc->refused_log_at < IPC_REFUSE_LOG_MS) {
		ipc->refused_suppressed++;
		return;
	}
	if (ipc->refused_suppressed > 0) {
		log_warning("refused a connection from uid %u (pid %d): not our "
		    "user (and %u more refusals since the last message)",
		    (unsigned) uid, (int) pid, ipc->refused_suppressed);
	} else {
		log_warning("refused a connection from uid %u (pid %d): not our "
		    "user", (unsigned) uid, (int) pid);
	}
	ipc->refused_log_at = now ? now : 1;
	ipc->refused_suppressed = 0;
}

static unsigned
count_uid(const struct ipc *ipc, uid_t uid)
{
	unsigned n = 0;

	for (const struct conn *c = ipc->conns.first; c; c = c->next) {
		if (c->uid == uid) {
			n++;
		}
	}
	return n;
}

/* Tells a client over the limit why, best effort, on the raw socket. */
static void
refuse_busy(int fd)
{
	struct errbuf e;
	CLEANUP_FREE char *line = NULL;
	size_t len;

	errbuf_set(&e, ERR_BUSY, 0, "too many connections to cwtimed (%d)",
	    PROTO_MAX_CONNS);
	if (proto_build_error(0, false, &e, &line, &len) == 0) {
		/* a fresh socket has room; never block or raise SIGPIPE */
		(void) !send(fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
}

static void
on_retry_timer(uv_timer_t *t)
{
	resume_accepting(t->data);
}

static void
pause_accepting(struct ipc *ipc, int r)
{
	uint64_t now = uv_now(ipc->cfg.loop);

	if (ipc->accept_paused) {
		return;
	}
	/* Under a sustained descriptor shortage this pauses and resumes
	 * over and over: say so once per interval, not each time. */
	if (ipc->paused_log_at == 0 ||
	    now - ipc->paused_log_at >= IPC_REFUSE_LOG_MS) {
		log_warning_errno(r, "cannot accept connections: %m; pausing "
		    "until a connection closes");
		ipc->paused_log_at = now ? now : 1;
	}
	ipc->accept_paused = true;
	(void) uv_poll_stop(&ipc->listen_poll);
	if (ipc->nconns == 0) {
		/* Nobody will close to wake us: retry on a timer. */
		(void) uv_timer_start(&ipc->retry_timer, on_retry_timer,
		    IPC_RETRY_MS, 0);
	}
}

static void
accept_one(struct ipc *ipc, int fd)
{
	struct ucred cred;
	socklen_t sl = sizeof(cred);
	struct conn *c;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &sl) < 0 ||
	    sl != sizeof(cred)) {
		log_debug_errno(-errno, "SO_PEERCRED failed: %m; closing");
		(void) close(fd); /* nothing was read or written */
		return;
	}
	if (cred.uid != ipc->cfg.uid) {
		(void) close(fd); /* before a single byte is read */
		log_refusal(ipc, cred.uid, cred.pid);
		return;
	}
	if (ipc->nconns >= ipc->cfg.max_conns ||
	    count_uid(ipc, cred.uid) >= ipc->cfg.max_conns_per_uid) {
		log_debug("connection from pid %d refused: %u connections open",
		    (int) cred.pid, ipc->nconns);
		refuse_busy(fd);
		(void) close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		(void) close(fd);
		return;
	}
	c->ipc = ipc;
	c->id = ++ipc->next_conn_id;
	c->uid = cred.uid;
	c->pid = cred.pid;
	c->pipe.data = c;
	c->timer.data = c;
	/* Both inits only fill in the structs and cannot fail for a valid
	 * loop; from here on the handles exist and must be closed. */
	(void) uv_pipe_init(ipc->cfg.loop, &c->pipe, 0);
	(void) uv_timer_init(ipc->cfg.loop, &c->timer);
	c->pending_closes = 2;
	c->next = ipc->conns.first;
	if (c->next) {
		c->next->prev = c;
	}
	ipc->conns.first = c;
	ipc->nconns++;
	if (uv_pipe_open(&c->pipe, fd) < 0) {
		(void) close(fd);
		conn_close(c);
		return;
	}
	start_reading(c);
}

static void
on_listen_ready(uv_poll_t *h, int status, int events)
{
	struct ipc *ipc = h->data;

	if (status < 0) {
		log_warning("listening socket: %s", uv_strerror(status));
		return;
	}
	for (int i = 0; i < IPC_ACCEPT_BURST && !ipc->accept_paused; i++) {
		int fd = accept4(ipc->listen_fd, NULL, NULL,
		    SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd >= 0) {
			accept_one(ipc, fd);
			continue;
		}
		switch (errno) {
		case EAGAIN:
			return;
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			continue;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			pause_accepting(ipc, -errno);
			return;
		default:
			log_warning_errno(-errno, "accept failed: %m, ignoring");
			return;
		}
	}
}

/* ---- set-up and shutdown ---- */

int
ipc_init(struct ipc *ipc, const struct ipc_config *cfg)
{
	memset(ipc, 0, sizeof(*ipc));
	ipc->cfg = *cfg;
	if (!ipc->cfg.max_conns) {
		ipc->cfg.max_conns = PROTO_MAX_CONNS;
	}
	if (!ipc->cfg.max_conns_per_uid) {
		ipc->cfg.max_conns_per_uid = PROTO_MAX_CONNS_PER_UID;
	}
	if (!ipc->cfg.line_deadline_ms) {
		ipc->cfg.line_deadline_ms = PROTO_PARTIAL_LINE_MS;
	}
	if (!ipc->cfg.output_max) {
		ipc->cfg.output_max = PROTO_OUTPUT_MAX;
	}
	ipc->listen_fd = -1;
	return 0;
}

/* Checks a socket handed over by systemd (RELIABILITY.md 6.1). */
static int
check_activated(struct ipc *ipc, int fd, struct errbuf *reterr)
{
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa);
	struct stat st;
	int r;

	r = sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0);
	if (r <= 0) {
		return errbuf_set(reterr, ERR_CONFIG, r < 0 ? r : -EINVAL,
		    "the socket passed by systemd is not a listening Unix "
		    "stream socket");
	}
	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *) &sa, &sl) < 0) {
		r = -errno;
		return errbuf_set(reterr, ERR_CONFIG, r,
		    "getsockname on the passed socket: %s", strerror(-r));
	}
	if (sl <= offsetof(struct sockaddr_un, sun_path) ||
	    sa.sun_path[0] == '\0') {
		return errbuf_set(reterr, ERR_PERMISSION, -EPERM,
		    "the passed socket is unnamed or in the abstract namespace, "
		    "where file permissions do not apply; use "
		    "ListenStream=%%t/cwtimed/socket");
	}
	sa.sun_path[sizeof(sa.sun_path) - 1] = '\0';
	if (stat(sa.sun_path, &st) < 0) {
		r = -errno;
		return errbuf_set(reterr, ERR_PERMISSION, r, "cannot stat '%s': %s",
		    sa.sun_path, strerror(-r));
	}
	if (!S_ISSOCK(st.st_mode) || st.st_uid != ipc->cfg.uid ||
	    (st.st_mode & 077) != 0) {
		return errbuf_set(reterr, ERR_PERMISSION, -EPERM,
		    "the passed socket '%s' must be ours with mode 0600 "
		    "(SocketMode=0600)", sa.sun_path);
	}
	return 0;
}

static int
bind_socket(struct ipc *ipc, struct errbuf *reterr)
{
	const char *path = ipc->cfg.socket_path;
	CLEANUP_CLOSE int fd = -1;
	struct sockaddr_un sa;
	struct stat st;
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (!path || !path[0] || strlen(path) >= sizeof(sa.sun_path)) {
		return errbuf_set(reterr, ERR_CONFIG, -ENAMETOOLONG,
		    "invalid socket path '%s'", path ? path : "");
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);

	if (lstat(path, &st) == 0) {
		CLEANUP_CLOSE int probe = -1;

		if (!S_ISSOCK(st.st_mode)) {
			return errbuf_set(reterr, ERR_CONFIG, -EEXIST,
			    "'%s' exists and is not a socket", path);
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0) {
			r = -errno;
			return errbuf_set(reterr, ERR_INTERNAL, r, "socket: %s",
			    strerror(-r));
		}
		if (connect(probe, (struct sockaddr *) &sa, sizeof(sa)) == 0) {
			return errbuf_set(reterr, ERR_CONFIG, -EADDRINUSE,
			    "cwtimed is already running: another process "
			    "listens on '%s'", path);
		}
		/* ECONNREFUSED: a stale socket of a daemon that died. */
		if (unlink(path) < 0 && errno != ENOENT) {
			r = -errno;
			return errbuf_set(reterr, ERR_PERMISSION, r,
			    "cannot remove stale socket '%s': %s", path,
			    strerror(-r));
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		return errbuf_set(reterr, ERR_INTERNAL, r, "socket: %s",
		    strerror(-r));
	}
	/* umask(077) is in force (cwtimed.c), so the node is born 0700 at
	 * worst and never briefly open to others. */
	if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
		r = -errno;
		return errbuf_set(reterr, ERR_PERMISSION, r,
		    "cannot bind '%s': %s", path, strerror(-r));
	}
	ipc->bound_by_us = true;
	if (chmod(path, 0600) < 0 || lstat(path, &st) < 0) {
		r = -errno;
		return errbuf_set(reterr, ERR_PERMISSION, r,
		    "cannot chmod '%s': %s", path, strerror(-r));
	}
	ipc->sock_dev = st.st_dev;
	ipc->sock_ino = st.st_ino;
	if (listen(fd, IPC_BACKLOG) < 0) {
		r = -errno;
		return errbuf_set(reterr, ERR_INTERNAL, r, "listen on '%s': %s",
		    path, strerror(-r));
	}
	ipc->listen_fd = TAKE_FD(fd);
	return 0;
}

int
ipc_listen(struct ipc *ipc, struct errbuf *reterr)
{
	int n, r;

	n = sd_listen_fds(1);
	if (n < 0) {
		return errbuf_set(reterr, ERR_CONFIG, n,
		    "invalid $LISTEN_FDS from systemd: %s", strerror(-n));
	}
	if (n > 1) {
		return errbuf_set(reterr, ERR_CONFIG, -EINVAL,
		    "systemd passed %d sockets; cwtimed.socket must have exactly "
		    "one ListenStream=", n);
	}
	if (n == 1) {
		int fd = SD_LISTEN_FDS_START;

		r = check_activated(ipc, fd, reterr);
		if (r < 0) {
			return r;
		}
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
		    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
			r = -errno;
			return errbuf_set(reterr, ERR_INTERNAL, r, "fcntl: %s",
			    strerror(-r));
		}
		ipc->listen_fd = fd;
	} else {
		r = bind_socket(ipc, reterr);
		if (r < 0) {
			return r;
		}
	}
	r = uv_poll_init(ipc->cfg.loop, &ipc->listen_poll, ipc->listen_fd);
	if (r < 0) {
		return errbuf_set(reterr, ERR_INTERNAL, r, "uv_poll_init: %s",
		    uv_strerror(r));
	}
	(void) uv_timer_init(ipc->cfg.loop, &ipc->retry_timer);
	ipc->listen_poll.data = ipc;
	ipc->retry_timer.data = ipc;
	ipc->handles_init = true;
	r = uv_poll_start(&ipc->listen_poll, UV_READABLE, on_listen_ready);
	if (r < 0) {
		return errbuf_set(reterr, ERR_INTERNAL, r, "uv_poll_start: %s",
		    uv_strerror(r));
	}
	ipc->listening = true;
	return 0;
}

static void
on_ipc_handle_closed(uv_handle_t *h)
{
	struct ipc *ipc = h->data;

	ipc->pending_closes--;
}

void
ipc_close(struct ipc *ipc)
{
	if (ipc->closing) {
		return;
	}
	ipc->closing = true;
	if (ipc->handles_init) {
		ipc->pending_closes = 2;
		uv_close((uv_handle_t *) &ipc->listen_poll, on_ipc_handle_closed);
		uv_close((uv_handle_t *) &ipc->retry_timer, on_ipc_handle_closed);
	}
	for (struct conn *c = ipc->conns.first; c; c = c->next) {
		if (c->flags & CONN_CLOSING) {
			continue;
		}
		c->flags |= CONN_DRAIN;
		c->flags &= ~CONN_SUBSCRIBED;
		for (unsigned i = 0; i < c->nheld; i++) {
			free(c->held[i].line); /* no more events */
		}
		c->nheld = 0;
		stop_reading(c);
		(void) uv_timer_stop(&c->timer);
		if (c->holds == 0) {
			conn_close_after_write(c);
		}
		/* else: the reply's conn_release() drains it */
	}
	notify_subscribers(ipc); /* none left: the tick stops */
}

void
ipc_close_all_now(struct ipc *ipc)
{
	struct conn *c = ipc->conns.first;

	while (c) {
		struct conn *next = c->next; /* unlinked only in callbacks */

		conn_close(c);
		c = next;
	}
}

void
ipc_fini(struct ipc *ipc)
{
	struct stat st;

	if (!ipc) {
		return;
	}
	if (ipc->bound_by_us && ipc->cfg.socket_path &&
	    lstat(ipc->cfg.socket_path, &st) == 0 && st.st_dev == ipc->sock_dev &&
	    st.st_ino == ipc->sock_ino) {
		/* only our own node: a successor may already have bound */
		(void) unlink(ipc->cfg.socket_path);
	}
	if (ipc->listen_fd >= 0) {
		(void) close(ipc->listen_fd); /* a socket: nothing to sync */
		ipc->listen_fd = -1;
	}
	ipc->bound_by_us = false;
}

void
ipc_broadcast(struct ipc *ipc, const char *line, size_t len, bool droppable)
{
	struct conn *c = ipc->conns.first;

	while (c) {
		struct conn *next = c->next;

		if (!(c->flags & CONN_SUBSCRIBED) ||
		    (c->flags & CONN_CLOSING)) {
			/* not a subscriber */
		} else if (!backed_up(c)) {
			(void) conn_send(c, line, len); /* closes at the cap */
		} else if (!droppable) {
			(void) hold_event(c, line, len); /* coalesce */
		}
		/* else: a tick for a reader that is behind; skipped */
		c = next;
	}
}

unsigned
ipc_subscribers(const struct ipc *ipc)
{
	unsigned n = 0;

	for (const struct conn *c = ipc->conns.first; c; c = c->next) {
		if ((c->flags & CONN_SUBSCRIBED) && !(c->flags & CONN_CLOSING)) {
			n++;
		}
	}
	return n;
}
