# Benchmarks (tests/bench/bench.py): never part of `make check`. The
# programs are built with everything else so that they cannot rot;
# `make bench` runs them and writes doc/benchmarks.md into the build
# directory; `make bench-update-doc` copies it into the source tree.
#   make bench BENCH_RUNS=50   more runs per case (default 30)
#   make bench BENCH_ARGS='--groups=ipc,idle --idle-window=10'
#                              other knobs: python3 tests/bench/bench.py --help
# The whole default run takes about 8 minutes on 2 cores.
CWT_BENCH_BINS = %D%/floor-client %D%/fsync-loop %D%/journal-commit \
	%D%/ipc-load %D%/journal-bulk
noinst_PROGRAMS += $(CWT_BENCH_BINS)
%C%_floor_client_SOURCES = %D%/floor-client.c
# linked like cwtimectl (the issue's definition of the floor)
%C%_floor_client_LDFLAGS = $(AM_LDFLAGS) $(CWT_CLIENT_LDFLAGS)
%C%_floor_client_LDADD = libcwtcommon.a $(JSONC_LIBS)
%C%_fsync_loop_SOURCES = %D%/fsync-loop.c %D%/bench-args.h
%C%_journal_commit_SOURCES = %D%/journal-commit.c %D%/bench-args.h
%C%_journal_commit_CFLAGS = $(libcwtdaemon_a_CFLAGS)
%C%_journal_commit_LDADD = $(CWT_DAEMON_LIBS)
%C%_ipc_load_SOURCES = %D%/ipc-load.c %D%/bench-args.h
%C%_journal_bulk_SOURCES = %D%/journal-bulk.c %D%/bench-args.h
%C%_journal_bulk_CFLAGS = $(libcwtdaemon_a_CFLAGS)
%C%_journal_bulk_LDADD = $(CWT_DAEMON_LIBS)
EXTRA_DIST += %D%/bench.py

BENCH_RUNS = 30
BENCH_ARGS =
bench: $(CWT_BENCH_BINS) cwtimed$(EXEEXT) cwtimectl$(EXEEXT)
	$(AM_V_at)$(MKDIR_P) doc
	$(AM_V_at)CWTIMED='$(abs_top_builddir)/cwtimed' \
	CWTIMECTL='$(abs_top_builddir)/cwtimectl' \
	$(PYTHON3) $(srcdir)/%D%/bench.py --runs=$(BENCH_RUNS) \
	    --srcdir='$(abs_top_srcdir)' --builddir='$(abs_top_builddir)' \
	    --out=doc/benchmarks.md $(BENCH_ARGS)
bench-update-doc:
	@test -f doc/benchmarks.md || { echo "run 'make bench' first" >&2; exit 1; }
	@if test doc/benchmarks.md -ef $(srcdir)/doc/benchmarks.md; then :; \
	else cp doc/benchmarks.md $(srcdir)/doc/benchmarks.md; fi
	@echo "updated $(srcdir)/doc/benchmarks.md"
.PHONY: bench bench-update-doc
