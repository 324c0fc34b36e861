#!/usr/bin/env python3
"""test-rel-compactcut.py - RELIABILITY.md 7 C5, the power-cut half:
compaction under a power cut, on loop-mounted ext4 and XFS.

test-rel-killsys.py kills the daemon during the compaction of a clean
stop; a kill loses nothing the kernel already has, so it cannot tell
whether compaction made the new checkpoint durable (fsync, rename,
directory fsync) before it unlinked the old segments (RELIABILITY.md
2.7). Here the power goes too. For each filesystem (tests/lib/loopfs.py,
shared with test-rel-powercut.py: a sparse image on a loop device,
mounted as $XDG_STATE_HOME) and each compaction step:

  1. mount; cwtimed starts on the state the last round left (so there
     are older segments and an older checkpoint to replace); a few
     commands (start, stop, log, cancel), each acknowledged; the
     state is read from the journal's bytes (tests/lib/invariants.py);
  2. `strace -p PID -e trace=S -e inject=S:signal=KILL:when=N` attaches
     to the running daemon, so N counts only the calls after the
     commands: SIGTERM makes the daemon compact (a new segment, then
     checkpoint.tmp written and fsynced, renamed, the state directory
     fsynced, the old segments unlinked, the journal directory fsynced)
     and exit; its N-th call of S is killed before it runs;
  3. right after the daemon died, the power cut: the shutdown ioctl
     without a log flush (`xfs_io -x -c shutdown`), so whatever was not
     yet durable when the kill landed is lost, as in a real outage;
  4. umount, mount (the filesystem replays its log), restart, check:
     recovery succeeds, every acknowledged operation is there once, and
     the timers and entries (with their states) equal those before the
     compaction; the independent reader decodes the journal.
S runs over write, pwritev, fsync, fdatasync, rename(at), unlink(at) and
ftruncate; N over 1, 1+STRIDE, ... up to the first N the stop survives
(then the cut comes after a completed compaction, which must keep
everything too). $CWT_C5_STRIDE: 2 in `make check`, 1 (every step)
under check-crash and check-soak. Needs root, losetup, mkfs.ext4,
mkfs.xfs, xfs_io and strace; a missing one is a probed skip.
"""

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests",
                                "lib"))
import daemon  # noqa: E402
import figures  # noqa: E402
import invariants  # noqa: E402
import loopfs  # noqa: E402

T = daemon.Tap()
TARGET = os.environ.get("CWT_TARGET", "check")
STRIDE = int(os.environ.get("CWT_C5_STRIDE", "2" if TARGET == "check"
                            else "1"))
SYSCALLS = ["write", "pwritev", "fsync", "fdatasync", "rename", "renameat",
            "renameat2", "unlink", "unlinkat", "ftruncate"]
FS = [("C5 ext4", "ext4"), ("C5 xfs", "xfs")]
ENV = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + daemon.NO_LEAKS}
TARGETS = ["54321", "54322", "54323"]


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


def snapshot(view):
    """What compaction must keep: the timers and every entry's state."""
    return (sorted(view.timers), sorted(
        (u, e.state, e.notes) for u, e in view.entries.items()))


def commands(d, led, tag, running):
    """A few commands, each of which must be acknowledged: a new entry
    by stop or log, and the timers started, stopped or cancelled.
    Returns the violations."""
    bad = []
    plan = []
    for t in TARGETS:
        if t in running:
            plan.append(("stop", t) if len(plan) % 2 == 0 else
                        ("cancel", t))
        else:
            plan.append(("start", t))
    plan.insert(1, ("log", None))
    for n, (kind, t) in enumerate(plan):
        notes = "%s-%d" % (tag, n) if kind in ("stop", "log") else None
        args = {"target": t} if t else {}
        if kind == "start":
            args["ago_s"] = 900
        elif kind == "stop":
            args["notes"] = notes
        elif kind == "cancel":
            args["yes"] = True
        elif kind == "log":
            args.update({"target": "54329", "duration_s": 600,
                         "notes": notes, "at": 1771837200 + len(led.ops)
                         * 600})
        op = led.begin(kind, target=t, notes=notes)
        r = request(d.socket, kind, args)
        led.done(op, 0 if r and r.get("ok") else 1, r)
        if not (r and r.get("ok")):
            bad.append("%s %s not acknowledged: %s" % (kind, args, r))
        elif kind == "start":
            running.add(t)
        elif kind in ("stop", "cancel"):
            running.discard(t)
    return bad


def attach(pid, sc, n):
    """strace attached to pid, killing its n-th call of sc from now on.
    Returns the strace process once it says it has attached, or None."""
    p = subprocess.Popen(["strace", "-f", "-o", "/dev/null", "-e",
                          "trace=" + sc, "-e",
                          "inject=%s:signal=KILL:when=%d" % (sc, n),
                          "-p", str(pid)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    text = b""
    end = time.monotonic() + 20
    while time.monotonic() < end and b"attached" not in text:
        r, _, _ = select.select([p.stderr], [], [], 0.1)
        if r:
            chunk = os.read(p.stderr.fileno(), 4096)
            if not chunk:
                break
            text += chunk
    if b"attached" not in text:
        p.kill()
        p.wait()
        return None
    return p


def one_fs(base, cid, fstype):
    fs = loopfs.LoopFs(base, fstype)
    figs = {"kill_points": 0, "killed": 0, "survived": 0,
            "compared": 0, "acknowledged": 0, "violations": 0,
            "kill_points_by_syscall": {}}
    d = None
    bad = []
    try:
        skip = fs.setup()
        if skip:
            print("# skip-probe: %s: %s" % skip)
            T.ok(True, "%s # SKIP no loop device or mkfs" % cid)
            return None
        d = daemon.Daemon(base, "d-" + fstype, state_home=fs.mnt)
        led = invariants.Ledger()
        running = set()
        rnd = 0
        for sc in SYSCALLS:
            n = 1
            while not bad:
                rnd += 1
                where = "%s when=%d" % (sc, n)
                rc, out = fs.mount()
                if rc != 0:
                    bad.append("%s: mount: %s" % (where, out))
                    break
                ready = d.start(env=ENV, log_level="notice")
                rec = invariants.check_recovery(d, ready)
                if rec:
                    bad += ["%s: %s" % (where, b) for b in rec]
                    break
                bad += ["%s: %s" % (where, b) for b in
                        commands(d, led, "%s%d" % (fstype, rnd), running)]
                before = snapshot(invariants.View.load(d.state_dir))
                tracer = attach(d.pid(), sc, n)
                if tracer is None:
                    bad.append("%s: strace -p did not attach" % where)
                    break
                status = d.stop()  # SIGTERM: compaction, then exit
                cut = fs.cut()     # at once: the power goes too
                try:
                    tracer.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    tracer.kill()
                    tracer.wait()
                    bad.append("%s: strace did not exit" % where)
                killed = status == -9
                if cut[0] != 0:
                    bad.append("%s: xfs_io shutdown: %s" % (where, cut[1]))
                if not killed and status != 0:
                    bad.append("%s: the clean stop exited %s: %s" % (
                        where, status, d.log_text()[-500:]))
                rc, out = fs.umount()
                if rc == 0:
                    rc, out = fs.mount()
                if rc != 0:
                    bad.append("%s: remount after the cut: %s" % (where,
                                                                  out))
                    break
                ready = d.start(env=ENV, log_level="notice")
                rec = invariants.check_recovery(d, ready)
                bad += ["%s: %s" % (where, b) for b in rec]
                if ready:
                    try:
                        view = invariants.View.load(d.state_dir)
                        bad += ["%s: %s" % (where, b) for b in
                                invariants.check_operations(view, led)]
                        figs["compared"] += 1
                        if snapshot(view) != before:
                            bad.append("%s: the state after the cut in the "
                                       "compaction differs: %r != %r" % (
                                           where, snapshot(view), before))
                        running = set(t.split(":", 1)[1]
                                      for t in view.timers)
                    except invariants.journal_reader.Damage as exc:
                        bad.append("%s: journal damaged: %s" % (where, exc))
                # the next round starts from this state; this restart's
                # own clean stop compacts again, without a cut
                rc = d.stop()
                if rc != 0:
                    bad.append("%s: stop after recovery: exit %s" % (where,
                                                                     rc))
                fs.umount()
                figs["kill_points"] += 1
                if not killed:
                    figs["survived"] += 1
                    break
                figs["killed"] += 1
                figs["kill_points_by_syscall"][sc] = n
                n += STRIDE
            if bad:
                break
        figs["acknowledged"] = led.acknowledged()
        figs["violations"] = len(bad)
        by = figs["kill_points_by_syscall"]
        T.ok(not bad and figs["compared"] > 0 and by.get("fsync", 0) > 0
             and (by.get("renameat", 0) or by.get("rename", 0)) > 0,
             "%s: %d power cuts in the compaction of a clean stop (%s): "
             "the state after recovery equals the state before it" % (
                 cid, figs["killed"], by), "\n".join(bad[:20]))
        return figs
    finally:
        if d is not None:
            d.stop(daemon.signal.SIGKILL, timeout=5)
        fs.teardown()


def main():
    daemon.probe_binaries()
    daemon.need_root("losetup and mount")
    for prog in loopfs.PROGRAMS + ("strace",):
        daemon.need_program(prog)
    print("# stride %d" % STRIDE)
    base = daemon.make_base()
    all_figs = {}
    t0 = time.monotonic()
    try:
        for cid, fstype in FS:
            f = one_fs(base, cid, fstype)
            if f is not None:
                all_figs[fstype] = f
        all_figs["stride"] = STRIDE
        all_figs["seconds"] = round(time.monotonic() - t0, 1)
        figures.record(["C5"], "test-rel-compactcut", all_figs,
                       T.failed == 0)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
