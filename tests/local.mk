# Unit programs run under the plain exit-status driver (cmocka 1.1.5 prints
# skips in a form tap-driver.sh counts as failures); scripts print TAP.
TEST_EXTENSIONS = .sh .py
SH_LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
PY_LOG_DRIVER = $(SH_LOG_DRIVER)
PY_LOG_COMPILER = $(PYTHON3)
SH_LOG_COMPILER = $(SHELL)

AM_TESTS_ENVIRONMENT = \
	export top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)'; \
	export PYTHON3='$(PYTHON3)' CWTIMED='$(abs_top_builddir)/cwtimed'; \
	export CWTIMECTL='$(abs_top_builddir)/cwtimectl'; \
	export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1; \
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1;

CWT_TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBUV_CFLAGS) \
	$(LIBCURL_CFLAGS) $(LIBSYSTEMD_CFLAGS) $(INIH_CFLAGS)
CWT_TEST_LIBS = $(CWT_DAEMON_LIBS) $(CMOCKA_LIBS)
