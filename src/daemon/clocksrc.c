/*
 * clocksrc.c - the real clock and the struct now builder.
 *
 * Job: read CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, the kernel's
 * boot id and random bytes, behind struct clocksrc so tests inject a fake.
 * Invariants: the boot id is read once per process (it cannot change
 * while we run); a failed read is retried on the next call rather than
 * cached, so a transient error does not disable timers for good.
 * Must never: be called from src/core (the core gets struct now instead).
 */
#define _GNU_SOURCE 1

#include "daemon/clocksrc.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/timeparse.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

static int64_t
read_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) < 0) {
		return 0; /* cannot happen for these clocks on Linux */
	}
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t
real_wall_s(void *userdata)
{
	return read_ns(CLOCK_REALTIME) / 1000000000LL;
}

static int64_t
real_mono_ns(void *userdata)
{
	return read_ns(CLOCK_MONOTONIC);
}

static int64_t
real_boot_ns(void *userdata)
{
	return read_ns(CLOCK_BOOTTIME);
}

static int
real_boot_id(char buf[TRACKER_BOOT_ID_LEN], void *userdata)
{
	static char cached[TRACKER_BOOT_ID_LEN];
	char tmp[64];
	ssize_t n;
	int fd, r;

	if (cached[0] == '\0') {
		fd = open(BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			return -errno;
		}
		n = read(fd, tmp, sizeof(tmp) - 1);
		r = -errno;
		(void) close(fd); /* read-only; nothing to lose */
		if (n < 0) {
			return r;
		}
		while (n > 0 && (tmp[n - 1] == '\n' || tmp[n - 1] == ' ')) {
			n--;
		}
		if (n <= 0 || (size_t) n >= sizeof(cached)) {
			return -EBADMSG;
		}
		memcpy(cached, tmp, (size_t) n);
		cached[n] = '\0';
	}
	memcpy(buf, cached, sizeof(cached));
	return 0;
}

static void
real_random(uint8_t *buf, size_t n, void *userdata)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = getrandom(buf + got, n - got, 0);

		if (k < 0) {
			if (errno == EINTR) {
				continue;
			}
			/* No getrandom (ENOSYS in an old seccomp filter):
			 * UUIDs still need to differ, so mix the clocks in.
			 * Uniqueness, not secrecy, is what mobileGuid needs. */
			uint64_t x = (uint64_t) read_ns(CLOCK_MONOTONIC) ^
			    ((uint64_t) read_ns(CLOCK_REALTIME) << 1) ^
			    ((uint64_t) getpid() << 32);

			for (; got < n; got++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				buf[got] = (uint8_t) x;
			}
			return;
		}
		got += (size_t) k;
	}
}

static const struct clocksrc real_clock = {
	.wall_s = real_wall_s,
	.mono_ns = real_mono_ns,
	.boot_ns = real_boot_ns,
	.boot_id = real_boot_id,
	.random = real_random,
	.userdata = NULL,
};

const struct clocksrc *
clocksrc_real(void)
{
	return &real_clock;
}

/* struct now has one userdata for both callbacks: it is the clocksrc. */
static void
now_random(uint8_t *buf, size_t n, void *userdata)
{
	const struct clocksrc *c = userdata;

	c->random(buf, n, c->userdata);
}

int
clocksrc_now(const struct clocksrc *c, struct now *ret)
{
	int r;

	memset(ret, 0, sizeof(*ret));
	/* BOOTTIME and MONOTONIC first, as close together as possible:
	 * their difference is what the core reads as suspended time. */
	ret->mono_ns = c->mono_ns(c->userdata);
	ret->boot_ns = c->boot_ns(c->userdata);
	ret->wall_utc_s = c->wall_s(c->userdata);
	ret->next_midnight = timeparse_next_local_midnight;
	ret->random = now_random;
	ret->userdata = (void *) c;
	r = c->boot_id(ret->boot_id, c->userdata);
	if (r < 0) {
		ret->boot_id[0] = '\0';
		return r;
	}
	ret->boot_id[TRACKER_BOOT_ID_LEN - 1] = '\0';
	return 0;
}

int64_t
clocksrc_mono_ms(const struct clocksrc *c)
{
	return c->mono_ns(c->userdata) / 1000000LL;
}
