/*
 * paths.h - where cwtimed keeps its files (XDG Base Directory spec), and
 * the ownership and mode checks on the runtime directory
 * (RELIABILITY.md 6.1).
 *
 * Pure apart from the file system calls of paths_check_runtime() and
 * paths_mkdir_p(): the environment is passed in, so the unit test can
 * drive every case with a temporary directory.
 */
#pragma once

#include <sys/types.h>

#include "common/errcode.h"

/* The environment the paths are derived from (NULL = unset). */
struct paths_env {
	const char *home;
	const char *xdg_config_home;
	const char *xdg_state_home;
	const char *xdg_runtime_dir;
};

struct paths {
	char *config_file;  /* --config, or $XDG_CONFIG_HOME/cwtimed/cwtimed.conf */
	char *config_dir;   /* $XDG_CONFIG_HOME/cwtimed (the credentials live here) */
	char *state_dir;    /* $XDG_STATE_HOME/cwtimed (default ~/.local/state) */
	char *xdg_runtime;  /* $XDG_RUNTIME_DIR itself */
	char *runtime_dir;  /* $XDG_RUNTIME_DIR/cwtimed */
	char *socket_path;  /* $XDG_RUNTIME_DIR/cwtimed/socket */
};

/* Fills *ret from env. config_override (--config) wins over the XDG
 * default. Relative XDG values are ignored, as the spec demands. A missing
 * $XDG_RUNTIME_DIR, a missing $HOME where one is needed, or a socket path
 * longer than sun_path are ERR_CONFIG errors. Returns 0 or -errno with a
 * reason in *reterr; *ret is untouched on failure. Does not log. */
int paths_resolve(const struct paths_env *env, const char *config_override,
    struct paths *ret, struct errbuf *reterr);

/* Reads the process environment into *ret (pointers into environ). */
void paths_env_from_process(struct paths_env *ret);

/* Frees the strings. Accepts a zeroed struct. */
void paths_fini(struct paths *p);

/* Checks that xdg_runtime belongs to uid and is not accessible by group
 * or others, then creates runtime_dir with mode 0700 (or checks the
 * existing one the same way; a symlink is refused). Returns 0, or -errno
 * with a user-facing reason (ERR_PERMISSION) in *reterr. Does not log. */
int paths_check_runtime(const struct paths *p, uid_t uid,
    struct errbuf *reterr);

/* mkdir -p with the given mode for the components it creates, fsyncing
 * the parent of each one it creates; an
 * existing final directory is accepted. Returns 0 or -errno with a reason
 * in *reterr. Does not log. */
int paths_mkdir_p(const char *path, mode_t mode, struct errbuf *reterr);
