#!/usr/bin/env python3
"""test-rel-valgrind.py - RELIABILITY.md 7 G8, the valgrind half: every
cmocka unit program once under `valgrind --error-exitcode=1
--leak-check=full` (any invalid access, uninitialised use or leak is a
failure; exit 77 is the program's own honest skip).

Run by `make check-valgrind` (not by `make check`: it takes minutes), in
a build without sanitizers (ASan and valgrind exclude each other). The
programs come from $CWT_UNIT_PROGRAMS (the make target passes the unit
programs of check_PROGRAMS); each one's output and valgrind's report go
to <program>.valgrind.log in the build directory. The programs run
$CWT_VALGRIND_JOBS at a time (default: the number of CPUs), since each is
one single-threaded process, the longest first; the results print in the
list's order. test-journal runs fewer random rounds here (see
check-valgrind in tests/local.mk). A program that skips itself (exit 77)
has its skip-probe line repeated here, so .ci/run sees the probe.
"""

import concurrent.futures

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests",
                                "lib"))
import daemon  # noqa: E402
import figures  # noqa: E402

T = daemon.Tap()
# the programs that take longest under valgrind (seconds, in that order)
LONGEST = ["tests/unit/test-journal", "tests/unit/test-logind",
           "tests/unit/test-http", "tests/unit/test-daemon",
           "tests/unit/test-state", "tests/unit/test-ticker"]


def main():
    valgrind = daemon.need_program("valgrind")
    builddir = os.environ.get("top_builddir", ".")
    progs = [p for p in os.environ.get("CWT_UNIT_PROGRAMS", "").split()
             if os.path.basename(p).startswith("test-")]
    if daemon.is_asan(os.path.join(builddir, "cwtimed")):
        daemon.skip_all("__asan_init in cwtimed", "EINVAL",
                        "a sanitizer build: valgrind needs a plain one")
    if not progs:
        daemon.skip_all("getenv(CWT_UNIT_PROGRAMS)", "ENOENT",
                        "run through make check-valgrind")
    t0 = time.monotonic()
    counts = {"programs": len(progs), "passed": 0, "failed": 0,
              "skipped": 0}
    jobs = int(os.environ.get("CWT_VALGRIND_JOBS", "0")) or \
        os.cpu_count() or 1

    def run(p):
        log = os.path.join(builddir, p + ".valgrind.log")
        start = time.monotonic()
        with open(log, "wb") as f:
            rc = subprocess.run([valgrind, "-q", "--error-exitcode=1",
                                 "--leak-check=full",
                                 os.path.join(builddir, p)],
                                stdout=f, stderr=subprocess.STDOUT,
                                cwd=builddir).returncode
        return rc, time.monotonic() - start, log

    # the longest first, so that they do not start last and run alone
    order = sorted(progs, key=lambda p: LONGEST.index(p)
                   if p in LONGEST else len(LONGEST))
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        done = dict(zip(order, pool.map(run, order)))
    results = [done[p] for p in progs]
    counts["jobs"] = jobs
    for p, (rc, took, log) in zip(progs, results):
        if rc == 77:
            counts["skipped"] += 1
            with open(log, errors="replace") as f:
                probe = [x for x in f.read().splitlines()
                         if "skip-probe:" in x]
            print("# %s: %s" % (p, probe[0] if probe else
                                "no skip-probe line"))
            T.ok(True, "%s # SKIP the program skipped itself" % p)
            continue
        counts["passed" if rc == 0 else "failed"] += 1
        T.ok(rc == 0, "G8: %s under valgrind: no report (%.0f s)" %
             (p, took), "exit %d, see %s" % (rc, log))
    counts["seconds"] = round(time.monotonic() - t0, 1)
    figures.record(["G8"], "test-rel-valgrind", counts, T.failed == 0)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
