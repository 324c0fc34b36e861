/*
 * backoff.h - retry delays, Retry-After, the circuit breaker and the
 * request pacer (RELIABILITY.md section 5).
 *
 * Everything here is pure: the current time and random numbers come in
 * as arguments (times in milliseconds on any monotonic scale, except the
 * wall-clock seconds Retry-After's HTTP-date needs). No I/O, no logging;
 * every function may be called from a callback.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Defaults of RELIABILITY.md section 5. */
#define BACKOFF_BASE_MS 2000u
#define BACKOFF_CAP_MS (15u * 60u * 1000u)
#define BACKOFF_RETRY_AFTER_MAX_MS (3600u * 1000u)
#define BACKOFF_BREAKER_THRESHOLD 5u
#define BACKOFF_BREAKER_COOL_MS (30u * 1000u)
#define BACKOFF_BREAKER_COOL_MAX_MS (15u * 60u * 1000u)
#define BACKOFF_PACER_RATE 600u /* requests per minute */
#define BACKOFF_PACER_IN_FLIGHT 4u

/*
 * Full jitter: a delay drawn uniformly from [0, min(cap, base * 2^n)]
 * using rnd (any 64 random bits). n counts consecutive transient failures
 * (0 for the first retry). Never overflows. Pure.
 */
uint64_t backoff_delay(
    unsigned n, uint64_t base_ms, uint64_t cap_ms, uint64_t rnd);

/*
 * Parses a Retry-After value (RFC 9110 10.2.3): delta-seconds, or an
 * HTTP-date in any of the three forms (IMF-fixdate, RFC 850, asctime).
 * now_s is the current wall-clock time in Unix seconds (the date form is
 * relative to it). The result is clamped to [0, 1 h]: a date in the past
 * gives 0, an absurd value 1 h. Returns 0 and *ret_ms, or -EINVAL for a
 * value that is neither form (then the header is ignored). Pure.
 */
int backoff_parse_retry_after(
    const char *value, int64_t now_s, uint64_t *ret_ms);

/*
 * The delay before the next try: the jittered backoff of backoff_delay(),
 * or, when the server sent Retry-After (retry_after_ms >= 0), the larger
 * of the two plus up to 10 % more (rnd2) so that daemons of one tenant do
 * not retry in step. Pure.
 */
uint64_t backoff_retry_delay(unsigned n, uint64_t base_ms, uint64_t cap_ms,
    int64_t retry_after_ms, uint64_t rnd1, uint64_t rnd2);

/* The circuit breaker. */
enum backoff_breaker_state {
	BACKOFF_BREAKER_CLOSED,
	BACKOFF_BREAKER_OPEN,
	BACKOFF_BREAKER_HALF_OPEN,
};

struct backoff_breaker {
	enum backoff_breaker_state state;
	unsigned threshold;	 /* consecutive failures that open it */
	uint64_t cool_ms;	 /* first cool-down */
	uint64_t cool_max_ms;	 /* cap of the doubling */
	unsigned failures;	 /* consecutive transient failures */
	unsigned opens;		 /* openings since it last closed */
	int64_t half_open_at_ms; /* OPEN: when the probe may go */
	bool probe_out;		 /* HALF_OPEN: the one probe is in flight */
};

/* Closed, with the given limits (0 = the defaults above). */
void backoff_breaker_init(struct backoff_breaker *b, unsigned threshold,
    uint64_t cool_ms, uint64_t cool_max_ms);

/*
 * May a request go out now? CLOSED: yes. OPEN: no until the cool-down
 * has passed; then the breaker turns HALF_OPEN and this call says yes
 * once, with *ret_probe = true: that request is the probe. HALF_OPEN: no
 * while the probe is out. ret_probe may be NULL.
 */
bool backoff_breaker_allow(
    struct backoff_breaker *b, int64_t now_ms, bool *ret_probe);

/* A request got an answer that shows the API works (any class but the
 * transient ones): closes the breaker and resets the counts. */
void backoff_breaker_success(struct backoff_breaker *b);

/*
 * A request failed transiently (not sent, timeout, 5xx, 408, 429). The
 * fifth in a row, or a failed probe, opens the breaker for a cool-down of
 * cool_ms * 2^(opens), capped, minus up to 10 % (rnd). Failures of
 * requests that were already out when it opened change nothing.
 */
void backoff_breaker_failure(
    struct backoff_breaker *b, int64_t now_ms, uint64_t rnd);

/* The probe was not sent after all (cancelled): HALF_OPEN allows another. */
void backoff_breaker_probe_dropped(struct backoff_breaker *b);

/* When an OPEN breaker lets a probe through (for a timer), else -1. */
int64_t backoff_breaker_wake_ms(const struct backoff_breaker *b);

const char *backoff_breaker_state_name(enum backoff_breaker_state s);

/*
 * The pacer: a token bucket of rate_per_min requests per minute (0 =
 * unpaced) holding one token (one millisecond's worth above 60,000/min),
 * so that no window of any length sees more than the rate allows - no
 * burst - plus a cap on requests in flight.
 */
struct backoff_pacer {
	uint32_t rate_per_min;
	uint32_t max_in_flight;
	uint32_t in_flight;
	uint64_t tokens;   /* in 1/60000 of a request */
	uint64_t capacity; /* same unit */
	uint64_t debt;     /* same unit: charged beyond the tokens */
	int64_t last_ms;   /* when tokens was last brought up to date */
};

/* Full bucket at now_ms. max_in_flight 0 means 1. */
void backoff_pacer_init(struct backoff_pacer *p, uint32_t rate_per_min,
    uint32_t max_in_flight, int64_t now_ms);

/*
 * 0 when a request may start now; > 0 the milliseconds until a token is
 * there; -1 when max_in_flight requests are out (wait for a completion).
 */
int64_t backoff_pacer_wait(struct backoff_pacer *p, int64_t now_ms);

/* A request starts: takes a token and a slot. Call only after
 * backoff_pacer_wait() returned 0 at the same now_ms. */
void backoff_pacer_take(struct backoff_pacer *p, int64_t now_ms);

/* A request that went out elsewhere (an interactive command's own
 * client) counts against this rate: takes a token, or runs into a debt
 * (at most a minute's worth) that the next tokens repay before any
 * request of ours may start. Never waits: the user's command goes out at
 * once, the background requests make room. */
void backoff_pacer_charge(struct backoff_pacer *p, int64_t now_ms);

/* A request ended (any outcome): frees its slot. */
void backoff_pacer_done(struct backoff_pacer *p);
