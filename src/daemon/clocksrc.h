/*
 * clocksrc.h - the injectable clock (clock and clock_* belong to libc).
 *
 * Everything the daemon asks about the present goes through one struct
 * of function pointers, so that tests can drive time by hand: the wall
 * clock, CLOCK_MONOTONIC, CLOCK_BOOTTIME, the boot id and random bytes.
 * clocksrc_now() reads all of them once into the core's struct now.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/tracker.h"

struct clocksrc {
	int64_t (*wall_s)(void *userdata);  /* CLOCK_REALTIME, seconds */
	int64_t (*mono_ns)(void *userdata); /* CLOCK_MONOTONIC */
	int64_t (*boot_ns)(void *userdata); /* CLOCK_BOOTTIME */
	/* Writes the boot id (NUL-terminated, < TRACKER_BOOT_ID_LEN);
	 * returns 0 or a negative errno. */
	int (*boot_id)(char buf[TRACKER_BOOT_ID_LEN], void *userdata);
	/* Fills buf with n random bytes; never fails. */
	void (*random)(uint8_t *buf, size_t n, void *userdata);
	void *userdata;
};

/* The real clock: clock_gettime, /proc/sys/kernel/random/boot_id (read
 * once and cached), getrandom(). Static storage; never NULL. */
const struct clocksrc *clocksrc_real(void);

/* Fills *ret from c: every reading, next_midnight =
 * timeparse_next_local_midnight, random through c. The returned struct
 * borrows c (it must outlive *ret). Returns 0, or the negative errno of
 * the boot id read (then ret->boot_id is "" and the core refuses every
 * command). Does not log. */
int clocksrc_now(const struct clocksrc *c, struct now *ret);

/* Milliseconds of CLOCK_MONOTONIC per c, for timer arithmetic. */
int64_t clocksrc_mono_ms(const struct clocksrc *c);
