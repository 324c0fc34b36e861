/*
 * test-paths.c - XDG path resolution and the runtime directory checks
 * (src/daemon/paths.c), on a temporary directory.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/errcode.h"
#include "daemon/paths.h"

static void
test_resolve_defaults(void **state)
{
	struct paths_env env = { "/home/u", NULL, NULL, "/run/user/1000" };
	struct paths p;
	struct errbuf e;

	assert_int_equal(paths_resolve(&env, NULL, &p, &e), 0);
	assert_string_equal(p.config_file, "/home/u/.config/cwtimed/cwtimed.conf");
	assert_string_equal(p.config_dir, "/home/u/.config/cwtimed");
	assert_string_equal(p.state_dir, "/home/u/.local/state/cwtimed");
	assert_string_equal(p.runtime_dir, "/run/user/1000/cwtimed");
	assert_string_equal(p.socket_path, "/run/user/1000/cwtimed/socket");
	paths_fini(&p);
	paths_fini(&p); /* zeroed: fine */
}

static void
test_resolve_xdg(void **state)
{
	/* relative XDG values are ignored, as the spec says */
	struct paths_env env = { "/h", "/c", "relative/state", "/r" };
	struct paths p;
	struct errbuf e;

	assert_int_equal(paths_resolve(&env, "/etc/x.conf", &p, &e), 0);
	assert_string_equal(p.config_file, "/etc/x.conf");
	assert_string_equal(p.config_dir, "/c/cwtimed");
	assert_string_equal(p.state_dir, "/h/.local/state/cwtimed");
	paths_fini(&p);
}

static void
test_resolve_errors(void **state)
{
	struct paths_env env = { "/h", NULL, NULL, NULL };
	struct paths p;
	struct errbuf e;
	char longdir[200];

	assert_int_equal(paths_resolve(&env, NULL, &p, &e), -EINVAL);
	assert_int_equal(e.code, ERR_CONFIG);
	assert_non_null(strstr(e.msg, "XDG_RUNTIME_DIR"));

	env.xdg_runtime_dir = "run";
	assert_int_equal(paths_resolve(&env, NULL, &p, &e), -EINVAL);

	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	env.xdg_runtime_dir = longdir;
	assert_int_equal(paths_resolve(&env, NULL, &p, &e), -ENAMETOOLONG);

	env.home = NULL;
	env.xdg_runtime_dir = "/r";
	assert_int_equal(paths_resolve(&env, NULL, &p, &e), -EINVAL);
}

static void
test_runtime_checks(void **state)
{
	char tmpl[] = "/tmp/test-paths-XXXXXX";
	char *dir = mkdtemp(tmpl);
	struct paths_env env = { "/h", NULL, NULL, NULL };
	struct paths p;
	struct errbuf e;
	struct stat st;
	char sub[512], cmd[600];

	assert_non_null(dir);
	env.xdg_runtime_dir = dir;
	assert_int_equal(paths_resolve(&env, NULL, &p, &e), 0);

	/* 0700 and ours: cwtimed/ is created with 0700 */
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(paths_check_runtime(&p, geteuid(), &e), 0);
	assert_int_equal(stat(p.runtime_dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* twice is fine */
	assert_int_equal(paths_check_runtime(&p, geteuid(), &e), 0);

	/* another owner (as seen by the check) is refused */
	assert_int_equal(paths_check_runtime(&p, geteuid() + 1, &e), -EPERM);
	assert_int_equal(e.code, ERR_PERMISSION);
	assert_non_null(strstr(e.msg, "belongs to uid"));

	/* $XDG_RUNTIME_DIR open to others is refused */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(paths_check_runtime(&p, geteuid(), &e), -EPERM);
	assert_non_null(strstr(e.msg, "0755"));
	assert_int_equal(chmod(dir, 0700), 0);

	/* cwtimed/ open to the group is refused */
	assert_int_equal(chmod(p.runtime_dir, 0750), 0);
	assert_int_equal(paths_check_runtime(&p, geteuid(), &e), -EPERM);
	assert_int_equal(chmod(p.runtime_dir, 0700), 0);

	/* cwtimed as a symlink is refused */
	assert_int_equal(rmdir(p.runtime_dir), 0);
	snprintf(sub, sizeof(sub), "%s/elsewhere", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(symlink(sub, p.runtime_dir), 0);
	assert_true(paths_check_runtime(&p, geteuid(), &e) < 0);
	assert_non_null(strstr(e.msg, "symbolic link"));

	/* mkdir -p */
	snprintf(sub, sizeof(sub), "%s/a/b/c", dir);
	assert_int_equal(paths_mkdir_p(sub, 0700, &e), 0);
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(paths_mkdir_p(sub, 0700, &e), 0);
	assert_int_equal(paths_mkdir_p("relative", 0700, &e), -EINVAL);

	paths_fini(&p);
	snprintf(cmd, sizeof(cmd), "%s", dir);
	/* clean up without system(): the tree is small and known */
	snprintf(sub, sizeof(sub), "%s/a/b/c", dir);
	(void) rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	(void) rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/a", dir);
	(void) rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/cwtimed", dir);
	(void) unlink(sub);
	snprintf(sub, sizeof(sub), "%s/elsewhere", dir);
	(void) rmdir(sub);
	(void) rmdir(cmd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_defaults),
		cmocka_unit_test(test_resolve_xdg),
		cmocka_unit_test(test_resolve_errors),
		cmocka_unit_test(test_runtime_checks),
	};
	int failures = cmocka_run_group_tests(tests, NULL, NULL);

	return failures ? 1 : 0;
}
