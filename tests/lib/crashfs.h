/*
 * crashfs.h - a crash layer over fileops (RELIABILITY.md 7, test C3).
 *
 * crashfs_ops passes every call through to fileops_real and records the
 * operations on files under a root directory: creates, writes, truncates,
 * preallocation, renames, unlinks, file syncs, directory syncs. Afterwards
 * crashfs_build() materialises one legal state of that tree after a power
 * loss at a given point of the recording: everything a sync covered is
 * there; each unsynced write is kept, dropped or torn at a 512-byte
 * boundary, and a dropped extension may leave zeros or garbage; each
 * unsynced create, rename or unlink is kept or lost unless its directory
 * was fsynced. One recording at a time (global state); test code only.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "daemon/fileops.h"

extern const struct fileops crashfs_ops;

/* Starts recording operations under root (an existing, empty directory
 * that counts as durable). Returns 0 or -errno. */
int crashfs_start(const char *root);

/* Stops recording (the ops keep passing through). */
void crashfs_stop(void);

/* Notes that id was acknowledged at this point of the recording. */
void crashfs_mark_ack(unsigned id);

/* Number of recorded entries: crash points are 0..crashfs_points(). */
unsigned crashfs_points(void);

/* Builds under dest (an existing empty directory) the state after a crash
 * that follows the first `point` entries, with random choices from seed.
 * Sets acked[id] = 1 for each id marked before the point (ids >= nacked
 * are ignored). Returns 0 or -errno. */
int crashfs_build(unsigned point, uint64_t seed, const char *dest,
    unsigned char *acked, size_t nacked);

/* Frees the recording. */
void crashfs_free(void);
