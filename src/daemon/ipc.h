/*
 * ipc.h - the control socket: listening, peer checks, framing, per-
 * connection buffers and limits (RELIABILITY.md 6.1, STYLE.md 8).
 *
 * ipc knows nothing about commands: it hands every complete line to the
 * on_line callback and offers conn_send() for the answer. Lines of one
 * connection are handed over one at a time; while the connection holds a
 * request in flight (conn_hold), further lines wait in its buffer and
 * reading stops, so replies leave in request order and a client cannot
 * queue unbounded work.
 *
 * Lifetimes (STYLE.md 6): a struct conn is freed only after both of its
 * handles have closed AND every reference taken with conn_ref() has been
 * dropped. A conn that is closing silently drops what is sent to it, so a
 * late reply for a client that went away is safe.
 *
 * The process must ignore SIGPIPE (cwtimed.c does): libuv writes to a
 * peer that hung up with write(2).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "common/errcode.h"

struct conn;

/* One complete line (without '\n'; never empty) from c. Called from the
 * loop; may call conn_send, conn_hold, conn_close. */
typedef void ipc_line_fn(void *userdata, struct conn *c, const char *line,
    size_t len);

struct ipc_config {
	uv_loop_t *loop;
	const char *socket_path;      /* where to bind without activation */
	uid_t uid;                    /* the only peer uid accepted */
	unsigned max_conns;           /* 0: PROTO_MAX_CONNS */
	unsigned max_conns_per_uid;   /* 0: PROTO_MAX_CONNS_PER_UID */
	uint64_t line_deadline_ms;    /* 0: PROTO_PARTIAL_LINE_MS */
	size_t output_max;            /* 0: PROTO_OUTPUT_MAX */
	ipc_line_fn *on_line;
	/* Optional: the number of subscribers may have changed (a conn
	 * subscribed, or a subscriber closes). Called with userdata from
	 * the loop; must not close connections. */
	void (*on_subscribers)(void *userdata);
	void *userdata;
};

struct conn_list {
	struct conn *first;
};

struct ipc {
	struct ipc_config cfg;
	uv_poll_t listen_poll;        /* readable: accept4 in a loop */
	uv_timer_t retry_timer;       /* accept retry after EMFILE, none open */
	int listen_fd;
	bool handles_init;
	bool listening;
	bool accept_paused;           /* EMFILE and friends */
	bool closing;
	bool bound_by_us;             /* unlink the socket at the end */
	dev_t sock_dev;
	ino_t sock_ino;
	unsigned nconns;              /* connections with open handles */
	unsigned pending_closes;      /* of listen_poll and retry_timer */
	struct conn_list conns;
	uint64_t next_conn_id;
	uint64_t refused_log_at;      /* uv_now() of the last refusal logged */
	unsigned refused_suppressed;
	uint64_t paused_log_at;       /* uv_now() of the last EMFILE warning */
};

/* Prepares the server (no socket yet). Returns 0 or -errno. */
int ipc_init(struct ipc *ipc, const struct ipc_config *cfg);

/* Starts listening: on the socket passed by systemd (sd_listen_fds; it is
 * checked - a Unix stream socket in listening state, not abstract, owned by
 * us with mode 0600 or stricter - and never unlinked) or else on
 * cfg->socket_path, bound with umask 077 and chmod 0600 after a stale
 * socket is removed; a live one means another daemon, -EADDRINUSE.
 * Returns 0 or -errno with the reason in *reterr. Does not log. */
int ipc_listen(struct ipc *ipc, struct errbuf *reterr);

/* Stops accepting and lets every connection finish: idle connections close
 * once their output is written, busy ones after their reply. Logs nothing.
 * Idempotent. */
void ipc_close(struct ipc *ipc);

/* Closes every connection at once, dropping unwritten output (shutdown
 * deadline). */
void ipc_close_all_now(struct ipc *ipc);

/* After the loop has run to completion: unlinks the socket if we bound it
 * and frees what is left. Every conn must be gone (references dropped).
 * Accepts a zeroed struct. */
void ipc_fini(struct ipc *ipc);

/* Sends line (len bytes including the final '\n'; an event line built by
 * proto_build_event) to every subscribed connection. Events are coalesced
 * for a subscriber that does not keep up (its socket is full and libuv
 * still holds unwritten bytes): a droppable line (a periodic tick that the
 * next one supersedes) is skipped; any other is held back, replacing the
 * held line of the same event name, and sent once the connection drains.
 * So a subscriber that never reads costs at most one blocked write plus
 * IPC_HELD_MAX held lines, and is never closed for events alone. */
void ipc_broadcast(struct ipc *ipc, const char *line, size_t len,
    bool droppable);

/* Number of subscribed connections (the daemon arms its tick only when
 * someone listens). */
unsigned ipc_subscribers(const struct ipc *ipc);

/* Queues a copy of line (len bytes, '\n' included) for c. Returns 0;
 * -ECONNRESET when c is closing (the line is dropped); -ENOBUFS when the
 * output cap is reached, in which case c is closed. Does not log. */
int conn_send(struct conn *c, const char *line, size_t len);

/* Marks c as holding a request in flight: no further line is handed over
 * until conn_release(). Nests. */
void conn_hold(struct conn *c);
void conn_release(struct conn *c);

/* Reference counting for objects that outlive the current callback (a
 * pending request). */
struct conn *conn_ref(struct conn *c);
void conn_unref(struct conn *c);

/* Turns c into an event stream receiving ipc_broadcast() lines. */
void conn_subscribe(struct conn *c);

/* One pointer of per-connection state for the command layer (the rest of
 * a long list, cmd-more.c): free_fn(data) runs when c is freed or when
 * other data replaces it. */
void conn_set_data(struct conn *c, void *data, void (*free_fn)(void *));
void *conn_data(const struct conn *c);

bool conn_is_closing(const struct conn *c);
bool conn_is_subscribed(const struct conn *c);
uid_t conn_uid(const struct conn *c);
pid_t conn_pid(const struct conn *c);
/* A small number naming the connection in debug logs. */
uint64_t conn_id(const struct conn *c);

/* Closes c once its queued output is written (at once if there is none). */
void conn_close_after_write(struct conn *c);
/* Closes c now, dropping queued output. Idempotent. */
void conn_close(struct conn *c);
