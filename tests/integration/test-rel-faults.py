#!/usr/bin/env python3
"""test-rel-faults.py - RELIABILITY.md 2.8 and 7 D1, D2, D5 on the whole
daemon (test-journal-faults.py does the same to the journal alone, through
tests/lib/journal-writer). strace injects the errors into cwtimed while
cwtimectl drives it:

  D1/D2 fdatasync fails with EIO at the N-th call (N = 1..$CWT_FAULT_N,
        3 by default: the first commits of the run): the command in flight
        gets storage-failed (never ok), the daemon exits 75, the trace
        shows no later fsync/fdatasync on that descriptor, and a restart
        holds every command acknowledged before it (the failed one may be
        there or not, but never half: tests/lib/invariants.py);
  D1    fdatasync fails from call N on (when=N+): the same;
  D1    pwritev fails with ENOSPC, then EIO, at one call: that command is
        refused with disk-full / disk-error, the daemon serves on, the next
        command works, and nothing refused is in the journal;
  D5    syncfs fails at start-up: exit 75 before READY, nothing written.
"""

import os
import re
import shutil
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests",
                                "lib"))
import daemon  # noqa: E402
import figures  # noqa: E402
import invariants  # noqa: E402

T = daemon.Tap()
MAX_N = int(os.environ.get("CWT_FAULT_N", "3"))
ENV = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + daemon.NO_LEAKS}
TRACE = "trace=openat,close,pwritev,fdatasync,fsync,syncfs,ftruncate"


def strace(trace, inject):
    return ["strace", "-f", "-qq", "-y", "-o", trace, "-e", TRACE, "-e",
            "inject=" + inject]


def sync_after_failure(trace):
    """True when an fd whose fsync/fdatasync failed is synced again."""
    bad = set()
    with open(trace, errors="replace") as f:
        for line in f:
            m = re.search(r"\b(fsync|fdatasync)\((\d+)<[^>]*>\)\s+= -1",
                          line)
            if m:
                bad.add(m.group(2))
                continue
            m = re.search(r"\b(fsync|fdatasync)\((\d+)<", line)
            if m and m.group(2) in bad:
                return True
            m = re.search(r"\bclose\((\d+)<", line)
            if m:
                bad.discard(m.group(1))
    return False


SCRIPT = [("start", "54321", "--ago", "20m"),
          ("start", "54322", "--ago", "10m"),
          ("stop", "54321", "--notes", "d-stop"),
          ("log", "54323", "15m", "--at", "2026-02-23T09:00:00Z", "--notes",
           "d-log"),
          ("cancel", "54322", "--yes")]


def run_script(d, led):
    """Runs SCRIPT until a command fails; returns that reply's code."""
    for args in SCRIPT:
        notes = args[args.index("--notes") + 1] if "--notes" in args \
            else None
        op = led.begin(args[0], target=args[1] if args[0] != "log" else
                       None, notes=notes)
        rc, out, err = d.ctl(*args)
        led.done(op, rc, out if isinstance(out, dict) else None)
        if rc != 0:
            code = out.get("error", {}).get("code") if isinstance(
                out, dict) else None
            return code or "no reply"
    return None


def fsync_case(base, inject, name):
    d = daemon.Daemon(base, name)
    trace = os.path.join(d.base, "trace")
    led = invariants.Ledger()
    try:
        ready = d.start(wrap=strace(trace, inject), env=ENV)
        code = run_script(d, led) if ready else "not ready"
        rc = d.stop() if code is None else d.wait_exit(20)
        d.proc = None
        again = sync_after_failure(trace)
        ready2 = d.start()
        bad = invariants.check_recovery(d, ready2)
        if ready2:
            bad += invariants.check_operations(
                invariants.View.load(d.state_dir), led)
            d.stop()
        T.ok(code == "storage-failed" and rc == 75 and not again and
             not bad,
             "D2 fdatasync %s: the command gets storage-failed, exit 75, "
             "no fsync retried on that fd, the restart holds all %d "
             "acknowledged" % (inject, led.acknowledged()),
             "code %s rc %s retried %s\n%s\n%s" % (
                 code, rc, again, "\n".join(bad), d.log_text()[-800:]))
        return code == "storage-failed" and rc == 75
    finally:
        d.stop(daemon.signal.SIGKILL, timeout=5)
        shutil.rmtree(d.base, ignore_errors=True)


def write_case(base, err, want):
    d = daemon.Daemon(base, "pwritev-" + err)
    trace = os.path.join(d.base, "trace")
    led = invariants.Ledger()
    try:
        ready = d.start(wrap=strace(trace, "pwritev:error=%s:when=3" % err),
                        env=ENV)
        code = run_script(d, led) if ready else "not ready"
        # (calls 1 and 2 are the lock file and the new segment header)
        # the daemon serves on: the rest of the script works
        rest = run_script(d, led) if code == want else "skipped"
        rc = d.stop()
        view = invariants.View.load(d.state_dir)
        bad = invariants.check_operations(view, led)
        T.ok(code == want and rest is None and rc == 0 and not bad,
             "D1 pwritev %s: that command is refused with %s, the daemon "
             "serves on, nothing refused is in the journal" % (err, want),
             "code %s rest %s rc %s\n%s\n%s" % (code, rest, rc,
                                                 "\n".join(bad),
                                                 d.log_text()[-800:]))
    finally:
        d.stop(daemon.signal.SIGKILL, timeout=5)
        shutil.rmtree(d.base, ignore_errors=True)


def syncfs_case(base):
    d = daemon.Daemon(base, "syncfs")
    trace = os.path.join(d.base, "trace")
    try:
        ready = d.start(wrap=strace(trace, "syncfs:error=EIO"), env=ENV)
        rc = d.wait_exit(20) if not ready else d.stop()
        d.proc = None
        with open(trace, errors="replace") as f:
            text = f.read()
        wrote = re.search(r"pwritev\(\d+<[^>]*/journal/", text)
        T.ok(not ready and rc == 75 and not wrote,
             "D5 syncfs fails at start: exit 75 before READY, no journal "
             "write", "ready %s rc %s\n%s" % (ready, rc, d.log_text()))
        return rc
    finally:
        d.stop(daemon.signal.SIGKILL, timeout=5)
        shutil.rmtree(d.base, ignore_errors=True)


def main():
    daemon.probe_binaries()
    daemon.need_program("strace")
    base = daemon.make_base()
    got = 0
    try:
        for n in range(1, MAX_N + 1):
            got += fsync_case(base, "fdatasync:error=EIO:when=%d" % n,
                              "fdatasync-%d" % n)
        got += fsync_case(base, "fdatasync:error=EIO:when=2+",
                          "fdatasync-persistent")
        write_case(base, "ENOSPC", "disk-full")
        write_case(base, "EIO", "disk-error")
        rc = syncfs_case(base)
        figures.record(["D1", "D2", "D5"], "test-rel-faults", {
            "fdatasync_failures_handled": got, "fdatasync_cases": MAX_N + 1,
            "syncfs_exit": rc}, T.failed == 0)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
