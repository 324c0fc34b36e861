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

# Fuzz targets. Each target NAME has tests/fuzz/fuzz-NAME.c defining
# LLVMFuzzerTestOneInput and a seed corpus in tests/fuzz/corpus/NAME/.
# Without --enable-fuzzing the target links tests/fuzz/driver.c and
# `make check` replays the corpus through it (tests/fuzz/replay-NAME.sh).
# With --enable-fuzzing (clang) it links libFuzzer and `make fuzz` runs it.
# To add one, append (with NAME replaced):
#   CWT_FUZZ_TARGETS += tests/fuzz/fuzz-NAME
#   tests_fuzz_fuzz_NAME_SOURCES = tests/fuzz/fuzz-NAME.c $(CWT_FUZZ_DRIVER)
#   tests_fuzz_fuzz_NAME_CFLAGS = $(CWT_TEST_CFLAGS) $(CWT_FUZZ_CFLAGS)
#   tests_fuzz_fuzz_NAME_LDADD = $(CWT_DAEMON_LIBS)
#   tests_fuzz_fuzz_NAME_LDFLAGS = $(AM_LDFLAGS) $(CWT_FUZZ_CFLAGS)
#   EXTRA_DIST += tests/fuzz/corpus/NAME
CWT_FUZZ_TARGETS =
if FUZZING
CWT_FUZZ_DRIVER =
CWT_FUZZ_CFLAGS = -fsanitize=fuzzer,address,undefined
noinst_PROGRAMS += $(CWT_FUZZ_TARGETS)
fuzz: $(CWT_FUZZ_TARGETS)
	@for t in $(CWT_FUZZ_TARGETS); do \
	    n=$${t##*/fuzz-}; \
	    echo "fuzz $$n"; \
	    mkdir -p fuzz-work/$$n && \
	    ./$$t -runs=200000 -seed=1 fuzz-work/$$n $(srcdir)/tests/fuzz/corpus/$$n || exit 1; \
	done
else
CWT_FUZZ_DRIVER = tests/fuzz/driver.c
CWT_FUZZ_CFLAGS =
check_PROGRAMS += $(CWT_FUZZ_TARGETS)
TESTS += tests/fuzz/replay-corpus.sh
fuzz:
	@echo "make fuzz needs: ./configure CC=clang --enable-fuzzing" >&2; exit 1
endif
.PHONY: fuzz
EXTRA_DIST += tests/fuzz/driver.c tests/fuzz/replay-corpus.sh
