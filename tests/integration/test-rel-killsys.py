#!/usr/bin/env python3
"""test-rel-killsys.py - RELIABILITY.md 7 B2 and B3 on the whole daemon:
SIGKILL at every write, pwritev, fdatasync, fsync, rename(at), unlink(at)
and ftruncate, with strace fault injection.

For each of those system calls S and N = 1, 2, ... a fresh state directory
runs a fixed script under
    strace -f -e trace=S -e inject=S:signal=KILL:when=N cwtimed
from the start-up (recovery, new segment) through timer commands (start,
note, stop, log, cancel) to a clean SIGTERM stop (compaction: checkpoint,
rename, unlink). The N-th call of S is killed before it runs; the loop
for S ends at the first N the script survives. Then:
  B3: the restart is killed too, at the first call of S in it (and in
      check-crash also at the 2nd and 3rd), so the kill lands in
      recovery;
  and a plain restart must recover (tests/lib/invariants.py: every
  acknowledged command present, nothing refused or half applied, the
  journal sound) and stop cleanly;
  C5 (the kill half): when every command was acknowledged, the kill fell
      in the clean stop's compaction (checkpoint.tmp, fsync, rename,
      unlink, directory fsyncs), and the recovered timers and entries
      (with their states) must equal those before the stop. Power cuts
      during compaction (C5's other half) are test-rel-compactcut.py.
$CWT_B2_STRIDE takes every k-th N and $CWT_B3_KILLS sets how many calls
of the restart are killed: 2 and 1 in `make check`, 1 and 3 under
check-crash and check-soak.
"""

import json
import os
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests",
                                "lib"))
import daemon  # noqa: E402
import figures  # noqa: E402
import invariants  # noqa: E402

T = daemon.Tap()
# make check: every 2nd N and one kill in recovery (about 10 s);
# check-crash and check-soak: every N, and three kills in recovery.
BIG = os.environ.get("CWT_TARGET", "check") != "check"
STRIDE = int(os.environ.get("CWT_B2_STRIDE", "1" if BIG else "2"))
B3_KILLS = int(os.environ.get("CWT_B3_KILLS", "3" if BIG else "1"))
SYSCALLS = ["write", "pwritev", "fdatasync", "fsync", "rename", "renameat",
            "renameat2", "unlink", "unlinkat", "ftruncate"]
SCRIPT = [("start", {"target": "54321", "ago_s": 1800}, None),
          ("start", {"target": "54322", "ago_s": 600}, None),
          ("note", {"target": "54321", "text": "b2 note"}, None),
          ("stop", {"target": "54321", "notes": "b2-stop-1"}, "b2-stop-1"),
          ("log", {"target": "54323", "duration_s": 900, "at": 1771837200,
                   "notes": "b2-log-1"}, "b2-log-1"),
          ("cancel", {"target": "54322", "yes": True}, None),
          ("start", {"target": "54324", "ago_s": 300}, None),
          ("stop", {"target": "54324", "notes": "b2-stop-2"}, "b2-stop-2"),
          ("start", {"target": "54321", "ago_s": 60}, None)]
ENV = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + daemon.NO_LEAKS}


def request(path, cmd, args):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        s.connect(path)
        s.sendall((json.dumps({"v": 1, "id": 1, "cmd": cmd, "args": args})
                   + "\n").encode())
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
        s.close()
        return json.loads(buf.split(b"\n")[0])
    except (OSError, ValueError):
        return None


def inject(sc, n):
    return ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + sc,
            "-e", "inject=%s:signal=KILL:when=%d" % (sc, n)]


compared = [0]  # recoveries compared with the state before compaction


def snapshot(view):
    """What compaction must keep: the timers and every entry's state."""
    return (sorted(view.timers), sorted(
        (u, e.state, e.notes) for u, e in view.entries.items()))


def run_once(base, sc, n):
    """One kill point. Returns (killed, violations, b3 kills)."""
    d = daemon.Daemon(base, "%s-%d" % (sc, n))
    led = invariants.Ledger()
    bad = []
    b3 = 0
    try:
        before = None
        ready = d.start(wrap=inject(sc, n), env=ENV, log_level="notice")
        if ready:
            for cmd, args, notes in SCRIPT:
                op = led.begin(cmd, target=args["target"]
                               if cmd != "log" else None, notes=notes)
                r = request(d.socket, cmd, args)
                if r is None:
                    break
                led.done(op, 0 if r.get("ok") else 1, r)
                if not r.get("ok"):
                    bad.append("%s %s refused: %s" % (cmd, args, r))
            if led.acknowledged() == len(SCRIPT):
                # C5: the state the compaction at the stop starts from
                before = snapshot(invariants.View.load(d.state_dir))
        rc = d.stop()  # SIGTERM: the clean stop is part of the script
        killed = rc == -9
        if killed:
            # B3: kill the recovery itself, at the k-th call of S
            for k in range(1, B3_KILLS + 1):
                d.start(wrap=inject(sc, k), env=ENV, log_level="notice")
                b3 += 1 if d.stop() == -9 else 0
        ready = d.start(log_level="notice")
        bad += invariants.check_recovery(d, ready)
        if ready:
            try:
                view = invariants.View.load(d.state_dir)
                bad += invariants.check_operations(view, led)
                if before is not None:
                    compared[0] += 1
                    if snapshot(view) != before:
                        bad.append("C5: after the kill in the compaction "
                                   "the state differs: %r != %r" % (
                                       snapshot(view), before))
            except invariants.journal_reader.Damage as exc:
                bad.append("journal damaged: %s" % exc)
            rc = d.stop()
            if rc != 0:
                bad.append("clean stop after recovery: exit %s" % rc)
        return killed, ["%s when=%d: %s" % (sc, n, b) for b in bad], b3
    finally:
        d.stop(daemon.signal.SIGKILL, timeout=5)
        shutil.rmtree(d.base, ignore_errors=True)


def main():
    daemon.probe_binaries()
    daemon.need_program("strace")
    base = daemon.make_base()
    probe = daemon.Daemon(base, "probe")
    if not probe.start(wrap=inject("getpid", 60000), env=ENV):
        daemon.skip_all("strace -e inject=getpid:signal=KILL:when=60000",
                        "EINVAL",
                        "strace cannot trace here: " + probe.log_text())
    probe.stop()
    counts = {}
    violations = []
    b3_total = 0
    runs = 0
    t0 = time.monotonic()
    try:
        for sc in SYSCALLS:
            n = 1
            while True:
                killed, bad, b3 = run_once(base, sc, n)
                runs += 1
                b3_total += b3
                violations += bad
                if not killed:
                    break
                counts[sc] = n
                n += STRIDE
            T.ok(not [v for v in violations if v.startswith(sc + " ")],
                 "B2: SIGKILL at %s call 1..%d (every %d): recovery "
                 "holds every invariant" % (sc, counts.get(sc, 0), STRIDE),
                 "\n".join(v for v in violations
                           if v.startswith(sc + " "))[:3000])
        T.ok(sum(counts.values()) > 10 and counts.get("fdatasync", 0) > 2
             and counts.get("renameat", counts.get("rename", 0)) > 0,
             "the script reaches the calls that matter (%s)" % counts)
        T.ok(compared[0] > 0, "C5: %d kills during the compaction of a "
             "clean stop: the state after recovery equals the state before "
             "it" % compared[0])
        T.ok(b3_total > 0, "B3: %d restarts were killed during recovery, "
             "and the next recovery converged" % b3_total)
        figures.record(["B2", "B3", "C5"], "test-rel-killsys", {
            "runs": runs, "kill_points": sum(counts.values()),
            "kill_points_by_syscall": counts, "stride": STRIDE,
            "recovery_kills": b3_total, "violations": len(violations),
            "compaction_states_compared": compared[0],
            "seconds": round(time.monotonic() - t0, 1)}, T.failed == 0)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
