/*
 * notify.h - systemd's notification protocol ($NOTIFY_SOCKET, sd_notify(3))
 * without blocking the event loop.
 *
 * libsystemd's sd_notify() sends with a blocking sendmsg(): when the
 * receiver does not read (a stuck manager, a test harness that never
 * drains its socket) the datagram queue fills and the whole daemon stops
 * in that call. Here every datagram is sent with MSG_DONTWAIT and a full
 * queue is reported, so the caller decides: daemon.c drops a STATUS= or
 * WATCHDOG=1 (the next one supersedes it) and retries the others.
 */
#pragma once

#include <stdbool.h>

/* Sends state (for example "READY=1\nMAINPID=42") to $NOTIFY_SOCKET: a
 * path, or an abstract name when it begins with '@'. Returns 0 when sent
 * or when NOTIFY_SOCKET is not set (not run by systemd), -EAGAIN when the
 * receiver's queue is full, or another negative errno. Does not log. */
int notify_send(const char *state);

/* Whether state may be dropped when the queue is full: STATUS= and
 * WATCHDOG=1, which the next message of the kind replaces. */
bool notify_may_drop(const char *state);
