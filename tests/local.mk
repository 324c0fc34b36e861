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
	export CWT_STATIC_CLIENT='$(CWT_STATIC_CLIENT)'; \
	export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1; \
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1; \
	export DBUS_SYSTEM_BUS_ADDRESS='unix:path=/nonexistent/cwtimed-tests-use-no-system-bus';

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

check_PROGRAMS += tests/unit/test-duration
TESTS += tests/unit/test-duration
tests_unit_test_duration_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_duration_LDADD = $(CWT_TEST_LIBS)

# Meta checks (STYLE.md sections 2, 3, 11): each prints TAP, checks the
# whole tree, and proves itself on a tree with a deliberate violation.
CWT_META_CHECKS = tests/check-symbols.sh tests/check-layering.sh \
	tests/check-banned.sh tests/check-man.sh tests/check-shell.sh \
	tests/check-errors-doc.sh
TESTS += $(CWT_META_CHECKS)
EXTRA_DIST += $(CWT_META_CHECKS) tests/strip-comments.awk
# check-symbols.sh finds the libraries and builds its test archive with CC.
AM_TESTS_ENVIRONMENT += export CC='$(CC)';

check_PROGRAMS += tests/unit/test-classify tests/unit/test-backoff tests/unit/test-base64
TESTS += tests/unit/test-classify tests/unit/test-backoff tests/unit/test-base64
tests_unit_test_classify_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_classify_LDADD = $(CWT_TEST_LIBS)
tests_unit_test_backoff_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_backoff_LDADD = $(CWT_TEST_LIBS)
tests_unit_test_base64_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_base64_LDADD = $(CWT_TEST_LIBS)
check_PROGRAMS += tests/unit/test-crc32c
TESTS += tests/unit/test-crc32c
tests_unit_test_crc32c_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_crc32c_LDADD = $(CWT_TEST_LIBS)

# RELIABILITY.md G7: the user units verify and stay under the agreed exposure.
TESTS += tests/integration/test-units.sh
EXTRA_DIST += tests/integration/test-units.sh
check_PROGRAMS += tests/unit/test-rules
TESTS += tests/unit/test-rules
tests_unit_test_rules_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_rules_LDADD = libcwtcore.a libcwtcommon.a $(JSONC_LIBS) $(CMOCKA_LIBS)
check_PROGRAMS += tests/unit/test-timeparse
TESTS += tests/unit/test-timeparse
tests_unit_test_timeparse_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_timeparse_LDADD = libcwtcore.a libcwtcommon.a $(JSONC_LIBS) $(CMOCKA_LIBS)

# Benchmarks: `make bench`, `make bench-update-doc` (never in make check).
include %D%/bench/local.mk
check_PROGRAMS += tests/unit/test-http
TESTS += tests/unit/test-http
tests_unit_test_http_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_http_LDADD = $(CWT_TEST_LIBS)

check_PROGRAMS += tests/unit/test-config
TESTS += tests/unit/test-config
tests_unit_test_config_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_config_LDADD = $(CWT_TEST_LIBS)

# cwtimectl: the verb table and parser, the status formats, the CLI end to end.
check_PROGRAMS += tests/unit/test-client-cmds
TESTS += tests/unit/test-client-cmds
tests_unit_test_client_cmds_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_client_cmds_LDADD = libcwtclient.a libcwtcommon.a $(JSONC_LIBS) $(CMOCKA_LIBS)
check_PROGRAMS += tests/unit/test-client-output
TESTS += tests/unit/test-client-output
tests_unit_test_client_output_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_client_output_LDADD = libcwtclient.a libcwtcommon.a $(JSONC_LIBS) $(CMOCKA_LIBS)
TESTS += tests/integration/test-cli.py
EXTRA_DIST += tests/integration/test-cli.py

CWT_FUZZ_TARGETS += tests/fuzz/fuzz-config
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz-config.c $(CWT_FUZZ_DRIVER)
tests_fuzz_fuzz_config_CFLAGS = $(CWT_TEST_CFLAGS) $(CWT_FUZZ_CFLAGS)
tests_fuzz_fuzz_config_LDADD = $(CWT_DAEMON_LIBS)
tests_fuzz_fuzz_config_LDFLAGS = $(AM_LDFLAGS) $(CWT_FUZZ_CFLAGS)
EXTRA_DIST += tests/fuzz/corpus/config

# daemon shell: framing, paths, command table (+ the IPC integration test)
check_PROGRAMS += tests/unit/test-proto tests/unit/test-paths tests/unit/test-commands
TESTS += tests/unit/test-proto tests/unit/test-paths tests/unit/test-commands
tests_unit_test_proto_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_proto_LDADD = $(CWT_TEST_LIBS)
tests_unit_test_paths_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_paths_LDADD = $(CWT_TEST_LIBS)
tests_unit_test_commands_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_commands_LDADD = $(CWT_TEST_LIBS)
TESTS += tests/integration/test-ipc.py
EXTRA_DIST += tests/integration/test-ipc.py
# The fake ConnectWise server (tests/fakecw/README.md) and its own test.
TESTS += tests/integration/test-fakecw.py
EXTRA_DIST += tests/integration/test-fakecw.py \
	tests/fakecw/README.md tests/fakecw/fakecw.py tests/fakecw/conditions.py \
	tests/fakecw/patch.py tests/fakecw/client.py tests/fakecw/cwschema.py \
	tests/fakecw/seed.json tests/fakecw/schema/cw-time-subset.openapi.json \
	tests/fakecw/schema/PROVENANCE.md
check_PROGRAMS += tests/unit/test-cwapi
TESTS += tests/unit/test-cwapi
tests_unit_test_cwapi_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_cwapi_LDADD = $(CWT_TEST_LIBS)
check_PROGRAMS += tests/unit/test-tracker
TESTS += tests/unit/test-tracker
tests_unit_test_tracker_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_tracker_LDADD = libcwtcore.a libcwtcommon.a $(JSONC_LIBS) $(CMOCKA_LIBS)
check_PROGRAMS += tests/unit/test-target tests/unit/test-entry
TESTS += tests/unit/test-target tests/unit/test-entry
tests_unit_test_target_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_target_LDADD = libcwtcore.a libcwtcommon.a $(JSONC_LIBS) $(CMOCKA_LIBS)
tests_unit_test_entry_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_entry_LDADD = libcwtcore.a libcwtcommon.a $(JSONC_LIBS) $(CMOCKA_LIBS)
check_PROGRAMS += tests/unit/test-state
TESTS += tests/unit/test-state
tests_unit_test_state_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_state_LDADD = libcwtcore.a libcwtcommon.a $(JSONC_LIBS) $(CMOCKA_LIBS)

CWT_FUZZ_TARGETS += tests/fuzz/fuzz-ipc
tests_fuzz_fuzz_ipc_SOURCES = tests/fuzz/fuzz-ipc.c $(CWT_FUZZ_DRIVER)
tests_fuzz_fuzz_ipc_CFLAGS = $(CWT_TEST_CFLAGS) $(CWT_FUZZ_CFLAGS)
tests_fuzz_fuzz_ipc_LDADD = $(CWT_DAEMON_LIBS)
tests_fuzz_fuzz_ipc_LDFLAGS = $(AM_LDFLAGS) $(CWT_FUZZ_CFLAGS)
EXTRA_DIST += tests/fuzz/corpus/ipc
CWT_FUZZ_TARGETS += tests/fuzz/fuzz-cwreply
tests_fuzz_fuzz_cwreply_SOURCES = tests/fuzz/fuzz-cwreply.c $(CWT_FUZZ_DRIVER)
tests_fuzz_fuzz_cwreply_CFLAGS = $(CWT_TEST_CFLAGS) $(CWT_FUZZ_CFLAGS)
tests_fuzz_fuzz_cwreply_LDADD = $(CWT_DAEMON_LIBS)
tests_fuzz_fuzz_cwreply_LDFLAGS = $(AM_LDFLAGS) $(CWT_FUZZ_CFLAGS)
EXTRA_DIST += tests/fuzz/corpus/cwreply
check_PROGRAMS += tests/unit/test-daemon
TESTS += tests/unit/test-daemon
tests_unit_test_daemon_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_daemon_LDADD = $(CWT_TEST_LIBS)

# check-crash / check-soak (RELIABILITY.md 7): the journal's crash tests
# again with bigger counts (B1 kill rounds, C3 crash states, D1/D2 faults).
CWT_CRASH_TESTS = tests/unit/test-journal \
	tests/integration/test-journal-kill.py \
	tests/integration/test-journal-faults.py
check-crash:
	@$(CWT_SCRATCH_SH); \
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(CWT_CRASH_TESTS)' \
	    CWT_ROUNDS=300 CWT_CRASH_STATES=100000 CWT_BITFLIPS=1000000 \
	    CWT_TARGET=check-crash
check-soak:
	@$(CWT_SCRATCH_SH); \
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='$(CWT_CRASH_TESTS)' \
	    CWT_ROUNDS=2000 CWT_CRASH_STATES=1000000 CWT_BITFLIPS=10000000 \
	    CWT_TARGET=check-soak
.PHONY: check-crash check-soak
# logind over sd-bus: the pure [session] policy, and the module on a loop
# against a fake login1 on a private dbus-daemon.
check_PROGRAMS += tests/unit/test-session-policy tests/unit/test-logind
TESTS += tests/unit/test-session-policy tests/unit/test-logind
tests_unit_test_session_policy_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_session_policy_LDADD = libcwtcore.a libcwtcommon.a $(JSONC_LIBS) $(CMOCKA_LIBS)
tests_unit_test_logind_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_logind_LDADD = $(CWT_TEST_LIBS)
EXTRA_DIST += tests/integration/fake_login1.py tests/data/dbus-test.conf
check_PROGRAMS += tests/unit/test-conditions tests/unit/test-refdata
TESTS += tests/unit/test-conditions tests/unit/test-refdata
tests_unit_test_conditions_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_conditions_LDADD = libcwtcore.a libcwtcommon.a $(JSONC_LIBS) $(CMOCKA_LIBS)
tests_unit_test_refdata_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_refdata_LDADD = libcwtcore.a libcwtcommon.a $(JSONC_LIBS) $(CMOCKA_LIBS)

# The journal (RELIABILITY.md 2; doc/journal-format.md): unit tests with the
# crashfs layer, the writer the integration tests drive, the independent
# Python reader, the kill -9 loop and the strace fault tests.
check_PROGRAMS += tests/unit/test-journal tests/lib/journal-writer
TESTS += tests/unit/test-journal
tests_unit_test_journal_SOURCES = tests/unit/test-journal.c \
	tests/lib/crashfs.c tests/lib/crashfs.h
tests_unit_test_journal_CFLAGS = $(CWT_TEST_CFLAGS) -I$(top_srcdir)/tests
tests_unit_test_journal_LDADD = $(CWT_TEST_LIBS)
tests_lib_journal_writer_SOURCES = tests/lib/journal-writer.c
tests_lib_journal_writer_CFLAGS = $(CWT_TEST_CFLAGS)
tests_lib_journal_writer_LDADD = $(CWT_DAEMON_LIBS)
TESTS += tests/integration/test-journal-kill.py \
	tests/integration/test-journal-faults.py
EXTRA_DIST += tests/integration/test-journal-kill.py \
	tests/integration/test-journal-faults.py tests/lib/journal_reader.py
# Counts raised by check-crash/check-soak reach the tests only when set.
AM_TESTS_ENVIRONMENT += \
	if test -n '$(CWT_ROUNDS)'; then export CWT_ROUNDS='$(CWT_ROUNDS)'; fi; \
	if test -n '$(CWT_CRASH_STATES)'; then \
	    export CWT_CRASH_STATES='$(CWT_CRASH_STATES)'; fi;
CWT_FUZZ_TARGETS += tests/fuzz/fuzz-replay
tests_fuzz_fuzz_replay_SOURCES = tests/fuzz/fuzz-replay.c $(CWT_FUZZ_DRIVER)
tests_fuzz_fuzz_replay_CFLAGS = $(CWT_TEST_CFLAGS) $(CWT_FUZZ_CFLAGS)
tests_fuzz_fuzz_replay_LDADD = $(CWT_DAEMON_LIBS)
tests_fuzz_fuzz_replay_LDFLAGS = $(AM_LDFLAGS) $(CWT_FUZZ_CFLAGS)
EXTRA_DIST += tests/fuzz/corpus/replay
# A3: random bit flips of the 1 MiB journal (test-journal), raised by
# check-crash/check-soak.
AM_TESTS_ENVIRONMENT += \
	if test -n '$(CWT_BITFLIPS)'; then \
	    export CWT_BITFLIPS='$(CWT_BITFLIPS)'; fi;
# timers end to end (cmd-timer.c, ticker.c): real cwtimed + cwtimectl
TESTS += tests/integration/test-timers.py tests/integration/test-timers-kill.py
EXTRA_DIST += tests/integration/test-timers.py \
	tests/integration/test-timers-kill.py tests/integration/timerlib.py
TESTS += tests/integration/test-submit.py tests/integration/test-submit-kill.py
EXTRA_DIST += tests/integration/test-submit.py \
	tests/integration/test-submit-kill.py tests/integration/submitlib.py
check_PROGRAMS += tests/unit/test-submitter
TESTS += tests/unit/test-submitter
tests_unit_test_submitter_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_submitter_LDADD = $(CWT_TEST_LIBS)
TESTS += tests/integration/test-timeapi.py
EXTRA_DIST += tests/integration/test-timeapi.py
check_PROGRAMS += tests/unit/test-ticker
TESTS += tests/unit/test-ticker
tests_unit_test_ticker_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_ticker_LDADD = $(CWT_TEST_LIBS)
check_PROGRAMS += tests/unit/test-cmd-ref
TESTS += tests/unit/test-cmd-ref
tests_unit_test_cmd_ref_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_cmd_ref_LDADD = $(CWT_TEST_LIBS)

# Whole-daemon reliability suite (RELIABILITY.md 7, issue 9): shared
# helpers in tests/lib (daemon.py, invariants.py, syscall_order.py,
# figures.py), one test-rel-*.py per group, and doc/reliability.md built
# from the figures the runs write into tests/reliability/.
CWT_REL_TESTS = tests/integration/test-rel-idle.py \
	tests/integration/test-rel-hostile.py \
	tests/integration/test-rel-order.py \
	tests/integration/test-rel-secrets.py \
	tests/integration/test-rel-diskfull.py \
	tests/integration/test-rel-kill.py \
	tests/integration/test-rel-killsys.py \
	tests/integration/test-rel-clock.py \
	tests/integration/test-rel-frozen.py \
	tests/integration/test-rel-faults.py \
	tests/integration/test-rel-many.py
# Root-only or long ones run again (or only: power cuts on loop mounts)
# under check-crash/check-soak, with the counts CWT_ROUNDS and CWT_TARGET
# select there.
CWT_REL_CRASH_TESTS = tests/integration/test-rel-diskfull.py \
	tests/integration/test-rel-kill.py \
	tests/integration/test-rel-killsys.py \
	tests/integration/test-rel-powercut.py
TESTS += $(CWT_REL_TESTS)
CWT_CRASH_TESTS += $(CWT_REL_CRASH_TESTS)
EXTRA_DIST += $(CWT_REL_TESTS) tests/integration/test-rel-powercut.py \
	tests/lib/daemon.py tests/lib/invariants.py \
	tests/lib/syscall_order.py tests/lib/figures.py \
	tests/reliability-table.py
AM_TESTS_ENVIRONMENT += \
	if test -n '$(CWT_TARGET)'; then export CWT_TARGET='$(CWT_TARGET)'; fi;
# make reliability-table CWT_SAN_BUILDDIR=../_build-san adds the figures
# of a sanitizer build next to this one's; CWT_EXTRA_BUILDDIRS="DIR..."
# those of more builds (.ci/run: its check-crash build and the sanitizer
# build).
reliability-table:
	@extra=; for d in $(CWT_SAN_BUILDDIR) $(CWT_EXTRA_BUILDDIRS); do \
	    extra="$$extra --extra-builddir $$d"; done; \
	$(PYTHON3) $(srcdir)/tests/reliability-table.py --srcdir $(srcdir) \
	    --builddir . --out doc/reliability.md --check '$(TESTS)' \
	    --crash '$(CWT_CRASH_TESTS)' --fuzz '$(CWT_FUZZ_TARGETS)' \
	    --valgrind tests/integration/test-rel-valgrind.py $$extra
reliability-doc: reliability-table
	cp doc/reliability.md $(srcdir)/doc/reliability.md
.PHONY: reliability-table reliability-doc
CLEANFILES += doc/reliability.md tests/reliability/*.json
# session: logind end to end, sd_notify (src/daemon/session.c)
TESTS += tests/integration/test-session.py tests/integration/test-notify.py
EXTRA_DIST += tests/integration/test-session.py tests/integration/test-notify.py
check_PROGRAMS += tests/unit/test-client-timers
TESTS += tests/unit/test-client-timers
tests_unit_test_client_timers_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_client_timers_LDADD = libcwtclient.a libcwtcommon.a $(JSONC_LIBS) $(CMOCKA_LIBS)
check_PROGRAMS += tests/unit/test-session
TESTS += tests/unit/test-session
tests_unit_test_session_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_session_LDADD = $(CWT_TEST_LIBS)
# follow: status bars, follow mode and subscribe end to end (issue 6)
TESTS += tests/integration/test-follow.py
EXTRA_DIST += tests/integration/test-follow.py
# Retry timing, network and TLS end to end (RELIABILITY.md 7 E7, E9, G6):
# the breaker closed by its probe, the network gone in a namespace of
# its own (root; lo down and an nft black hole), HTTPS with and without
# [api] ca_file.
CWT_REL_NET_TESTS = tests/integration/test-rel-breaker.py \
	tests/integration/test-rel-netns.py tests/integration/test-rel-tls.py
TESTS += $(CWT_REL_NET_TESTS)
EXTRA_DIST += $(CWT_REL_NET_TESTS)
# G8: every cmocka unit program once under valgrind
# (tests/integration/test-rel-valgrind.py; not in make check: minutes).
# `make check-valgrind` in a build without sanitizers. Every test of every
# program runs, test-journal's random rounds fewer than in check (300 crash
# states, 10k bit flips: valgrind looks for memory errors, and each round
# runs the same code), its scratch files on the tmpfs check-crash uses.
check-valgrind:
	@progs=; for t in $(check_PROGRAMS); do \
	    case $$t in tests/unit/test-*) progs="$$progs $$t" ;; esac; \
	done; \
	$(CWT_SCRATCH_SH); \
	$(MAKE) $(AM_MAKEFLAGS) check \
	    TESTS='tests/integration/test-rel-valgrind.py' \
	    CWT_CRASH_STATES=300 CWT_BITFLIPS=10000 \
	    CWT_TARGET=check-valgrind CWT_UNIT_PROGRAMS="$$progs"
.PHONY: check-valgrind
EXTRA_DIST += tests/integration/test-rel-valgrind.py
AM_TESTS_ENVIRONMENT += \
	if test -n '$(CWT_UNIT_PROGRAMS)'; then \
	    export CWT_UNIT_PROGRAMS='$(CWT_UNIT_PROGRAMS)'; fi;
# D4: random I/O faults under fiu-run with B1's workload, 30 s in
# check-crash and 10 min in check-soak (CWT_TARGET picks the length).
CWT_CRASH_TESTS += tests/integration/test-rel-fiu.py
EXTRA_DIST += tests/integration/test-rel-fiu.py
# cwtimed --check-config against the fake (issue 2: one authenticated GET)
TESTS += tests/integration/test-check-config.py
EXTRA_DIST += tests/integration/test-check-config.py
TESTS += tests/integration/test-timers-batch.py
EXTRA_DIST += tests/integration/test-timers-batch.py
# The journal's fast JSON path against json_tokener (src/common/jsonparse.c).
check_PROGRAMS += tests/unit/test-jsonparse
TESTS += tests/unit/test-jsonparse
tests_unit_test_jsonparse_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_jsonparse_LDADD = libcwtcommon.a $(JSONC_LIBS) $(CMOCKA_LIBS)
# outbox index, prefix lookup and queued_at (submit, issue #5)
check_PROGRAMS += tests/unit/test-outbox
TESTS += tests/unit/test-outbox
tests_unit_test_outbox_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_outbox_LDADD = libcwtcore.a libcwtcommon.a $(JSONC_LIBS) $(CMOCKA_LIBS)
TESTS += tests/integration/test-submit-queue.py
EXTRA_DIST += tests/integration/test-submit-queue.py
# replies of the timer commands with many timers (F3): cmd-timer.c
TESTS += tests/integration/test-timers-reply.py
EXTRA_DIST += tests/integration/test-timers-reply.py
# The fast JSON path against json_tokener on arbitrary bytes.
CWT_FUZZ_TARGETS += tests/fuzz/fuzz-jsonparse
tests_fuzz_fuzz_jsonparse_SOURCES = tests/fuzz/fuzz-jsonparse.c $(CWT_FUZZ_DRIVER)
tests_fuzz_fuzz_jsonparse_CFLAGS = $(CWT_TEST_CFLAGS) $(CWT_FUZZ_CFLAGS)
tests_fuzz_fuzz_jsonparse_LDADD = libcwtcommon.a $(JSONC_LIBS)
tests_fuzz_fuzz_jsonparse_LDFLAGS = $(AM_LDFLAGS) $(CWT_FUZZ_CFLAGS)
EXTRA_DIST += tests/fuzz/corpus/jsonparse
# Issue 9 in CI (.ci/run): C5 power cuts during compaction on loop-mounted
# ext4 and XFS (tests/lib/loopfs.py, shared with test-rel-powercut.py;
# every 2nd step in check, every step in check-crash), and D4's preload
# that spares libuv's internal pipes and eventfd from libfiu's faults.
TESTS += tests/integration/test-rel-compactcut.py
CWT_CRASH_TESTS += tests/integration/test-rel-compactcut.py
EXTRA_DIST += tests/integration/test-rel-compactcut.py tests/lib/loopfs.py \
	tests/lib/fiu-spare.c
tests/lib/fiu-spare.so: $(srcdir)/tests/lib/fiu-spare.c
	$(AM_V_CC)$(MKDIR_P) tests/lib && $(CC) -std=gnu11 \
	    $(CWT_WARN_CFLAGS) $(CFLAGS) -fPIC -shared -o $@ \
	    $(srcdir)/tests/lib/fiu-spare.c -ldl
CLEANFILES += tests/lib/fiu-spare.so
check-crash check-soak: tests/lib/fiu-spare.so
# check-crash and check-soak keep their scratch files (TMPDIR) on /dev/shm
# when it is a tmpfs with 1 GiB free: C3's crash states (test-journal)
# create and delete 100k directory trees, 3-7x faster there than on a
# disk; no test's verdict depends on it (C3 builds each crash state
# itself, B1 wants page-cache semantics, the power cuts use their own
# loop-mounted filesystems). CWT_SCRATCH=DIR picks another; =no keeps
# TMPDIR.
CWT_SCRATCH_SH = s='$(CWT_SCRATCH)'; \
	if test -z "$$s" && test -d /dev/shm && test -w /dev/shm && \
	    test "`stat -f -c %T /dev/shm`" = tmpfs && \
	    test "`df -Pk /dev/shm | awk 'NR == 2 { print $$4 }'`" -ge 1048576; \
	then s=/dev/shm; fi; \
	if test -n "$$s" && test "$$s" != no; then TMPDIR=$$s; export TMPDIR; \
	    echo "check-crash: scratch files in $$s"; fi
check_PROGRAMS += tests/unit/test-stateview
TESTS += tests/unit/test-stateview
tests_unit_test_stateview_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_stateview_LDADD = $(CWT_TEST_LIBS)
# The shared json-c getters (src/common/jsonutil.c).
check_PROGRAMS += tests/unit/test-jsonutil
TESTS += tests/unit/test-jsonutil
tests_unit_test_jsonutil_CFLAGS = $(CWT_TEST_CFLAGS)
tests_unit_test_jsonutil_LDADD = libcwtcommon.a $(JSONC_LIBS) $(CMOCKA_LIBS)
# Sourced by check-banned.sh and check-layering.sh (their file walk and TAP
# frame) and by every check-*.sh (tap.sh: ok, not_ok).
EXTRA_DIST += tests/lib/srcwalk.sh tests/lib/tap.sh
# make -j check-crash: every make run first runs config.h's (no-op) rule,
# and a test whose .log does not wait for it starts before the others;
# so test-journal, the longest, used to start last. Waiting for config.h
# too, the tests start in the list's order, test-journal first.
$(CWT_CRASH_TESTS:.py=.log): config.h
