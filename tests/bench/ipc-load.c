/*
 * ipc-load.c - IPC load generator and fan-out probe for the benchmarks
 * (issue 10). C with one epoll loop, not Python: the generator must cost
 * far less than the daemon it measures, on a 2-core machine where both
 * share the CPUs.
 *
 *   ipc-load [-c CLIENTS] [-t SECONDS] [-w WARMUP] CMD [ARGS_JSON]
 *       CLIENTS connections (default 1), each sends one request
 *       {"v":1,"id":N,"cmd":CMD[,"args":ARGS_JSON]}, waits for its reply,
 *       sends the next (closed loop). Replies during the first WARMUP
 *       seconds (default 0.5) are not counted; those of the next SECONDS
 *       (default 2) are. Prints one line:
 *         clients=8 replies=N seconds=S rps=R p50_us=A p99_us=B max_us=C
 *         total=T   (T: every reply, warm-up and the last ones included)
 *       With -a CMD2 [-A ARGS2], each connection alternates CMD and CMD2
 *       (start, then stop) and the latencies are CMD2's alone; rps counts
 *       the replies to both. "@@" in ARGS or ARGS2 becomes the number of
 *       the connection (0, 1, ...), e.g. {"target":"5400@@"}.
 *   ipc-load -f SUBSCRIBERS [-e EVENTS] CMD [ARGS_JSON]
 *       SUBSCRIBERS connections send "subscribe" and wait for its reply;
 *       one more connection then sends CMD EVENTS times (default 20), one
 *       at a time. Each time, the delay from sending CMD to the arrival of
 *       the next "event" line on every subscriber is recorded. CMD must
 *       cause an event (toggle with a timer running). Prints:
 *         subscribers=100 events=E p50_us=A p99_us=B max_us=C
 *             spread_p50_us=D spread_p99_us=E spread_max_us=F
 *       (spread_*: from the round's first delivery, CMD's reply or an
 *       event, whichever came first: the change was committed by then).
 *
 * Latency is from the write of a request (or of CMD) to the complete
 * reply (or event) line, CLOCK_MONOTONIC. A reply with "ok":false fails
 * the run: exit 3 when the daemon refused the connection with "busy" (its
 * connection limit), 1 otherwise, with the line on stderr. Exit 2: usage.
 *
 * Invariant: at most one request is outstanding per connection, so every
 * reply line on a connection answers the request recorded in its sent_ns.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench-args.h"
#include "common/proto.h"

#define LOAD_BUF_SIZE (PROTO_OUTPUT_MAX + PROTO_LINE_MAX)
#define LOAD_MAX_CONNS 4096

struct lconn {
	int fd;
	size_t got;         /* bytes buffered in buf */
	uint64_t sent_ns;   /* when the outstanding request was written */
	int waiting;        /* a request or an event is outstanding */
	int subscriber;
	int phase;          /* 1 while the alternate command is outstanding */
	long idx;           /* 0-based connection number, for "@@" */
	char *buf;
};

struct samples {
	uint64_t *v;
	size_t n, cap;
};

static char req_cmd[128];
static const char *req_args;
static const char *alt_cmd;  /* -a: sent after every CMD, and timed alone */
static const char *alt_args;
static struct lconn *all_conns; /* static: reachable on every exit path */
static long next_id = 1;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	(void) clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int
samples_add(struct samples *s, uint64_t v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 65536;
		uint64_t *nv = realloc(s->v, cap * sizeof(*nv));

		if (!nv) {
			return -ENOMEM;
		}
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = v;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples, in microseconds. */
static double
pct_us(const struct samples *s, double p)
{
	size_t i;

	if (s->n == 0) {
		return 0;
	}
	i = (size_t) (p / 100.0 * (double) s->n);
	if (i >= s->n) {
		i = s->n - 1;
	}
	return (double) s->v[i] / 1000.0;
}

static int
parse_seconds(const char *s, double *ret)
{
	int end = -1;

	if (sscanf(s, "%lf%n", ret, &end) != 1 || end < 0 || s[end] != '\0' ||
	    *ret < 0 || *ret > 3600) {
		return -1;
	}
	return 0;
}

static int
conn_open(struct lconn *c)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n;

	if (!rt || !rt[0]) {
		fprintf(stderr, "ipc-load: XDG_RUNTIME_DIR is not set\n");
		return -1;
	}
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s/%s", rt,
	    PROTO_RUNTIME_SUBDIR, PROTO_SOCKET_NAME);
	if (n < 0 || (size_t) n >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ipc-load: socket path too long\n");
		return -1;
	}
	c->buf = malloc(LOAD_BUF_SIZE);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!c->buf || c->fd < 0 ||
	    connect(c->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ipc-load: %s: %s\n", sa.sun_path,
		    strerror(errno));
		return -1;
	}
	/* Blocking writes are fine: a request is a few dozen bytes into an
	 * empty socket buffer; reads go through epoll. */
	return 0;
}

static int line_verdict(const char *line, size_t len);

static int
conn_send(struct lconn *c, const char *cmd, const char *args)
{
	const char *at = args ? strstr(args, "@@") : NULL;
	char line[1024];
	int n;

	if (at) {
		/* "@@" in ARGS stands for the connection's number, so that
		 * each client can work on a timer of its own. */
		n = snprintf(line, sizeof(line),
		    "{\"v\":%d,\"id\":%ld,\"cmd\":\"%s\",\"args\":%.*s%ld%s}\n",
		    PROTO_VERSION, next_id++, cmd, (int) (at - args), args,
		    c->idx, at + 2);
	} else if (args) {
		n = snprintf(line, sizeof(line),
		    "{\"v\":%d,\"id\":%ld,\"cmd\":\"%s\",\"args\":%s}\n",
		    PROTO_VERSION, next_id++, cmd, args);
	} else {
		n = snprintf(line, sizeof(line),
		    "{\"v\":%d,\"id\":%ld,\"cmd\":\"%s\"}\n", PROTO_VERSION,
		    next_id++, cmd);
	}
	if (n < 0 || (size_t) n >= sizeof(line)) {
		fprintf(stderr, "ipc-load: request too long\n");
		return -1;
	}
	c->sent_ns = now_ns();
	c->waiting = 1;
	if (send(c->fd, line, (size_t) n, MSG_NOSIGNAL) != n) {
		int e = errno;
		char why[512];
		ssize_t r;

		/* A refused connection was closed after one error line:
		 * report the refusal rather than the broken pipe. */
		r = recv(c->fd, why, sizeof(why) - 1, MSG_DONTWAIT);
		if (r > 0 && memchr(why, '\n', (size_t) r)) {
			return line_verdict(why, (size_t) r) == 3 ? -3 : -1;
		}
		fprintf(stderr, "ipc-load: send: %s\n", strerror(e));
		return -1;
	}
	return 0;
}

/* Maps conn_send()'s result to an exit status: 0, 3 (refused), 1. */
static int
send_verdict(int r)
{
	return r == 0 ? 0 : r == -3 ? 3 : 1;
}

/* Judges one complete line: 0 for a good reply or an event, 3 for a
 * "busy" refusal, 1 for any other error (printed). */
static int
line_verdict(const char *line, size_t len)
{
	if (memmem(line, len, "\"ok\":false", 10) == NULL) {
		return 0;
	}
	fprintf(stderr, "ipc-load: error reply: %.*s\n",
	    (int) (len > 300 ? 300 : len), line);
	return memmem(line, len, "\"code\":\"busy\"", 13) ? 3 : 1;
}

/* Reads what is available on c and calls on_line for every complete line
 * (without its newline). Returns 0, or the first non-zero on_line result,
 * or 1 when the daemon closed the connection. */
static int
conn_read(struct lconn *c, int (*on_line)(struct lconn *, const char *,
    size_t, void *), void *ud)
{
	ssize_t r = read(c->fd, c->buf + c->got, LOAD_BUF_SIZE - c->got);
	size_t start = 0;
	char *nl;

	if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
		return 0;
	}
	if (r <= 0) {
		fprintf(stderr, "ipc-load: read: %s\n",
		    r < 0 ? strerror(errno) : "connection closed by cwtimed");
		return 1;
	}
	c->got += (size_t) r;
	while ((nl = memchr(c->buf + start, '\n', c->got - start))) {
		size_t len = (size_t) (nl - (c->buf + start));
		int v = on_line(c, c->buf + start, len, ud);

		start += len + 1;
		if (v != 0) {
			return v;
		}
	}
	if (start == 0 && c->got == LOAD_BUF_SIZE) {
		fprintf(stderr, "ipc-load: reply line too long\n");
		return 1;
	}
	memmove(c->buf, c->buf + start, c->got - start);
	c->got -= start;
	return 0;
}

struct load_run {
	uint64_t measure_from, measure_to;
	struct samples lat;
	size_t replies;      /* in the window, of either command */
	size_t total;        /* warm-up and drain included */
};

static int
on_load_line(struct lconn *c, const char *line, size_t len, void *ud)
{
	struct load_run *lr = ud;
	uint64_t t = now_ns();
	int v = line_verdict(line, len);

	if (v != 0) {
		return v;
	}
	c->waiting = 0;
	lr->total++;
	if (t >= lr->measure_from && t < lr->measure_to) {
		lr->replies++;
		if ((!alt_cmd || c->phase) &&
		    samples_add(&lr->lat, t - c->sent_ns) < 0) {
			fprintf(stderr, "ipc-load: out of memory\n");
			return 1;
		}
	}
	/* With -a, a pair is always completed so that the daemon's state
	 * (a timer started, then stopped) is the same after every run. */
	if (t >= lr->measure_to && (!alt_cmd || c->phase)) {
		return 0;
	}
	if (alt_cmd) {
		c->phase = !c->phase;
		if (c->phase) {
			return send_verdict(conn_send(c, alt_cmd, alt_args));
		}
	}
	return send_verdict(conn_send(c, req_cmd, req_args));
}

static int
add_epoll(int ep, struct lconn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		fprintf(stderr, "ipc-load: epoll_ctl: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* Static, as fan_run below: reachable until exit on every error path, so
 * that a sanitizer build sees no leak there. */
static struct load_run lr;

static int
run_load(struct lconn *conns, long n, double warm, double secs)
{
	struct epoll_event evs[64];
	uint64_t t0;
	long outstanding;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0) {
		return 1;
	}
	for (long i = 0; i < n; i++) {
		if (add_epoll(ep, &conns[i]) < 0) {
			return 1;
		}
	}
	t0 = now_ns();
	lr.measure_from = t0 + (uint64_t) (warm * 1e9);
	lr.measure_to = lr.measure_from + (uint64_t) (secs * 1e9);
	for (long i = 0; i < n; i++) {
		int v = send_verdict(conn_send(&conns[i], req_cmd, req_args));

		if (v != 0) {
			return v;
		}
	}
	outstanding = n;
	/* Runs until the window closed and every connection has its last
	 * reply, so that no reply is left unread in the daemon. */
	while (outstanding > 0) {
		int k = epoll_wait(ep, evs, 64, 10000);

		if (k <= 0) {
			fprintf(stderr, "ipc-load: no reply within 10 s\n");
			return 1;
		}
		for (int i = 0; i < k; i++) {
			struct lconn *c = evs[i].data.ptr;
			int v = conn_read(c, on_load_line, &lr);

			if (v != 0) {
				return v;
			}
		}
		outstanding = 0;
		for (long i = 0; i < n; i++) {
			outstanding += conns[i].waiting;
		}
	}
	qsort(lr.lat.v, lr.lat.n, sizeof(*lr.lat.v), cmp_u64);
	printf("clients=%ld replies=%zu seconds=%.3f rps=%.1f p50_us=%.1f "
	       "p99_us=%.1f max_us=%.1f total=%zu\n",
	    n, lr.replies, secs, (double) lr.replies / secs,
	    pct_us(&lr.lat, 50),
	    pct_us(&lr.lat, 99),
	    lr.lat.n ? (double) lr.lat.v[lr.lat.n - 1] / 1000.0 : 0.0,
	    lr.total);
	free(lr.lat.v);
	close(ep);
	return 0;
}

struct fan_run {
	struct samples lat;      /* event - command write */
	struct samples spread;   /* event - first delivery of the round */
	uint64_t sent_ns, reply_ns;
	uint64_t *ev_ns;         /* this round's event arrival, per subscriber */
	struct lconn *first;     /* conns[0], to index ev_ns */
	long missing;        /* subscribers (and the control reply) due */
};

static int
on_fan_line(struct lconn *c, const char *line, size_t len, void *ud)
{
	struct fan_run *fr = ud;
	int v = line_verdict(line, len);

	if (v != 0) {
		return v;
	}
	if (!c->waiting) {
		return 0; /* e.g. a tick or a queue event between rounds */
	}
	if (c->subscriber) {
		/* The subscribe reply and the hello event come before any
		 * round: only "timer" events answer the CMD. */
		if (!memmem(line, len, "\"event\":\"timer\"", 15)) {
			return 0;
		}
		fr->ev_ns[c - fr->first] = now_ns();
	} else {
		fr->reply_ns = now_ns();
	}
	c->waiting = 0;
	fr->missing--;
	return 0;
}

static int
on_subscribed(struct lconn *c, const char *line, size_t len, void *ud)
{
	long *missing = ud;
	int v = line_verdict(line, len);

	if (v != 0) {
		return v;
	}
	if (c->waiting && memmem(line, len, "\"id\":", 5)) {
		c->waiting = 0;
		(*missing)--;
	}
	return 0;
}

static int
wait_all(int ep, long *missing, int (*on_line)(struct lconn *,
    const char *, size_t, void *), void *ud)
{
	struct epoll_event evs[64];

	while (*missing > 0) {
		int k = epoll_wait(ep, evs, 64, 10000);

		if (k <= 0) {
			fprintf(stderr, "ipc-load: %ld connections silent for "
					"10 s\n",
			    *missing);
			return 1;
		}
		for (int i = 0; i < k; i++) {
			int v = conn_read(evs[i].data.ptr, on_line, ud);

			if (v != 0) {
				return v;
			}
		}
	}
	return 0;
}

static struct fan_run fr;

static int
run_fanout(struct lconn *conns, long subs, long events)
{
	struct lconn *ctl = &conns[subs];
	uint64_t first;
	long missing = subs;
	int v, ep = epoll_create1(EPOLL_CLOEXEC);

	fr.first = conns;
	fr.ev_ns = calloc((size_t) subs, sizeof(*fr.ev_ns));
	if (ep < 0 || !fr.ev_ns) {
		return 1;
	}
	for (long i = 0; i <= subs; i++) {
		conns[i].subscriber = i < subs;
		if (add_epoll(ep, &conns[i]) < 0) {
			return 1;
		}
	}
	for (long i = 0; i < subs; i++) {
		v = send_verdict(conn_send(&conns[i], "subscribe", NULL));
		if (v != 0) {
			return v;
		}
	}
	v = wait_all(ep, &missing, on_subscribed, &missing);
	if (v != 0) {
		return v;
	}
	for (long e = 0; e < events; e++) {
		for (long i = 0; i < subs; i++) {
			conns[i].waiting = 1;
		}
		fr.missing = subs + 1;
		v = send_verdict(conn_send(ctl, req_cmd, req_args));
		if (v != 0) {
			return v;
		}
		fr.sent_ns = ctl->sent_ns;
		v = wait_all(ep, &fr.missing, on_fan_line, &fr);
		if (v != 0) {
			return v;
		}
		/* The change is committed before the first delivery (the
		 * reply or an event, whichever came first): the spread after
		 * it is the fan-out's own cost. */
		first = fr.reply_ns;
		for (long i = 0; i < subs; i++) {
			if (fr.ev_ns[i] < first) {
				first = fr.ev_ns[i];
			}
		}
		for (long i = 0; i < subs; i++) {
			if (samples_add(&fr.lat, fr.ev_ns[i] - fr.sent_ns) < 0 ||
			    samples_add(&fr.spread, fr.ev_ns[i] - first) < 0) {
				fprintf(stderr, "ipc-load: out of memory\n");
				return 1;
			}
		}
	}
	qsort(fr.lat.v, fr.lat.n, sizeof(*fr.lat.v), cmp_u64);
	qsort(fr.spread.v, fr.spread.n, sizeof(*fr.spread.v), cmp_u64);
	printf("subscribers=%ld events=%ld p50_us=%.1f p99_us=%.1f "
	       "max_us=%.1f spread_p50_us=%.1f spread_p99_us=%.1f "
	       "spread_max_us=%.1f\n",
	    subs, events, pct_us(&fr.lat, 50), pct_us(&fr.lat, 99),
	    fr.lat.n ? (double) fr.lat.v[fr.lat.n - 1] / 1000.0 : 0.0,
	    pct_us(&fr.spread, 50), pct_us(&fr.spread, 99),
	    fr.spread.n ? (double) fr.spread.v[fr.spread.n - 1] / 1000.0 : 0.0);
	free(fr.lat.v);
	free(fr.spread.v);
	free(fr.ev_ns);
	close(ep);
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: ipc-load [-c CLIENTS] [-t SECONDS] "
			"[-w WARMUP] [-a CMD2 [-A ARGS2]] CMD [ARGS_JSON]\n"
			"       ipc-load -f SUBSCRIBERS [-e EVENTS] CMD "
			"[ARGS_JSON]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	long clients = 1, subs = 0, events = 20, nconn;
	double secs = 2, warm = 0.5;
	int opt, rc;

	while ((opt = getopt(argc, argv, "c:t:w:f:e:a:A:")) != -1) {
		int bad = 0;

		switch (opt) {
		case 'c':
			bad = bench_parse_count(optarg, &clients) < 0;
			break;
		case 'f':
			bad = bench_parse_count(optarg, &subs) < 0;
			break;
		case 'e':
			bad = bench_parse_count(optarg, &events) < 0;
			break;
		case 't':
			bad = parse_seconds(optarg, &secs) < 0 || secs == 0;
			break;
		case 'w':
			bad = parse_seconds(optarg, &warm) < 0;
			break;
		case 'a':
			alt_cmd = optarg;
			bad = strlen(optarg) >= sizeof(req_cmd);
			break;
		case 'A':
			alt_args = optarg;
			break;
		default:
			bad = 1;
		}
		if (bad) {
			return usage();
		}
	}
	if (optind >= argc || optind + 2 < argc ||
	    strlen(argv[optind]) >= sizeof(req_cmd)) {
		return usage();
	}
	memcpy(req_cmd, argv[optind], strlen(argv[optind]) + 1);
	req_args = optind + 1 < argc ? argv[optind + 1] : NULL;
	nconn = subs ? subs + 1 : clients;
	if (nconn > LOAD_MAX_CONNS) {
		return usage();
	}
	all_conns = calloc((size_t) nconn, sizeof(*all_conns));
	if (!all_conns) {
		return 1;
	}
	for (long i = 0; i < nconn; i++) {
		all_conns[i].idx = i;
		if (conn_open(&all_conns[i]) < 0) {
			nconn = i + 1;
			rc = 1;
			goto out;
		}
	}
	rc = subs ? run_fanout(all_conns, subs, events)
		  : run_load(all_conns, clients, warm, secs);
out:
	/* Freed, so that a sanitizer build reports no leak (which would
	 * change the exit status the harness reads). */
	for (long i = 0; i < nconn; i++) {
		if (all_conns[i].fd > 0) {
			close(all_conns[i].fd);
		}
		free(all_conns[i].buf);
	}
	free(all_conns);
	return rc;
}
