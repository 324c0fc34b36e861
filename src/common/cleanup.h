/*
 * cleanup.h - scope-bound cleanup for locals (GNU C cleanup attribute).
 *
 * Our own small version of systemd's idiom: CLEANUP_FREE char *s = ...;
 * is freed when it leaves scope; TAKE_PTR/TAKE_FD hand ownership on.
 */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <json-c/json.h>

#define CLEANUP(fn) __attribute__((cleanup(fn)))

static inline void
cleanup_freep(void *p)
{
	free(*(void **) p);
}

static inline void
cleanup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;

		(void) close(*fd); /* read-only or already synced */
		errno = saved;
	}
}

static inline void
cleanup_json_putp(json_object **o)
{
	if (*o != NULL) {
		json_object_put(*o);
	}
}

#define CLEANUP_FREE CLEANUP(cleanup_freep)
#define CLEANUP_CLOSE CLEANUP(cleanup_closep)
#define CLEANUP_JSON CLEANUP(cleanup_json_putp)

#define TAKE_PTR(p)                                                            \
	({                                                                     \
		__typeof__(p) take_ptr_tmp_ = (p);                             \
		(p) = NULL;                                                    \
		take_ptr_tmp_;                                                 \
	})

#define TAKE_FD(fd)                                                            \
	({                                                                     \
		int take_fd_tmp_ = (fd);                                       \
		(fd) = -1;                                                     \
		take_fd_tmp_;                                                  \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
