/*
 * bench-args.h - a checked count parser for the benchmark programs
 * (check-banned.sh keeps strtol out of everything but duration.c and
 * config.c, and atoi everywhere).
 */
#pragma once

#include <stdio.h>

/* Parses a decimal count in 1..100000000 from s. Returns 0 and *ret, or -1. */
static inline int
bench_parse_count(const char *s, long *ret)
{
	long v;
	int end = -1;

	if (sscanf(s, "%ld%n", &v, &end) != 1 || end < 0 || s[end] != '\0' ||
	    v < 1 || v > 100000000) {
		return -1;
	}
	*ret = v;
	return 0;
}
