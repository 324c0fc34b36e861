#!/usr/bin/env python3
"""test-rel-powercut.py - RELIABILITY.md 7 C1 (ext4), C2 (XFS) and F1 on
the whole daemon: power loss, simulated with the filesystem shutdown ioctl.

For each filesystem: a sparse image (64 MiB for ext4; 320 MiB for XFS,
whose mkfs refuses less than 300 MB), `losetup -f --show`, mkfs, mounted as
$XDG_STATE_HOME. Each of $CWT_POWER_ROUNDS rounds (5 in `make check`; 50
under check-crash, 200 under check-soak) starts cwtimed there, runs random
start, stop, cancel and log commands from a client thread, and at a random
moment (0-300 ms) cuts the power: `xfs_io -x -c shutdown MNT` (ioctl
0x8004587d without the log-flush flag: nothing more reaches the disk).
Only answers received before the ioctl was issued count as acknowledged:
unlike a real power cut, the daemon runs on for a moment, and a shut-down
ext4 can answer 0 to an fdatasync whose data it then drops.
Then SIGKILL, umount, mount (the filesystem replays its own log), restart
and check with tests/lib/invariants.py (the loop device, mkfs, mount and
the cut are tests/lib/loopfs.py, shared with test-rel-compactcut.py):
everything acknowledged before the cut is there (an acknowledgement
after the cut would be a lie the check catches), nothing refused or half
applied, no garbage accepted (the independent reader decodes the
journal; a torn tail may go to quarantine), and start-up succeeds.
Needs root, losetup, mkfs.ext4, mkfs.xfs and xfs_io; a missing one is a
probed skip.
"""

import json
import os
import random
import shutil
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests",
                                "lib"))
import daemon  # noqa: E402
import figures  # noqa: E402
import invariants  # noqa: E402
import loopfs  # noqa: E402
from loopfs import sh  # noqa: E402

T = daemon.Tap()
TARGET = os.environ.get("CWT_TARGET", "check")
ROUNDS = int(os.environ.get("CWT_POWER_ROUNDS", {
    "check-crash": "50", "check-soak": "200"}.get(TARGET, "5")))
SEED = int(os.environ.get("CWT_SEED", str(int(time.time()))))
TARGETS = ["54321", "54322", "54323"]
# CWT_POWER_STRACE=1: run the daemon under strace and keep the traces of
# a failing filesystem in tests/reliability/powercut-FS/ (for debugging)
TRACE = os.environ.get("CWT_POWER_STRACE") == "1"
ENV = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + daemon.NO_LEAKS}
FS = [("C1", "ext4"), ("C2", "xfs")]


def request(path, cmd, args):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
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


class Worker(threading.Thread):
    def __init__(self, d, led, rng, running, tag):
        threading.Thread.__init__(self)
        self.d, self.led, self.rng, self.running = d, led, rng, running
        self.tag = tag
        self.halt = threading.Event()
        self.n = 0

    def run(self):
        while not self.halt.is_set():
            t = self.rng.choice(TARGETS)
            notes = "%s-%d" % (self.tag, self.n)
            self.n += 1
            if t in self.running:
                kind = self.rng.choice(["stop", "stop", "cancel"])
                args = {"target": t, "notes": notes} if kind == "stop" \
                    else {"target": t, "yes": True}
            else:
                kind = self.rng.choice(["start", "start", "log"])
                args = {"target": t, "ago_s": 900} if kind == "start" else \
                    {"target": t, "duration_s": 600, "notes": notes,
                     "at": 1771837200 + self.n * 600}
            op = self.led.begin(kind, target=t if kind != "log" else None,
                                notes=notes if kind in ("stop", "log")
                                else None)
            r = request(self.d.socket, kind, args)
            if r is None:
                return
            self.led.done(op, 0 if r.get("ok") else 1, r)
            op["t_done"] = time.monotonic()
            if not r.get("ok"):
                code = r.get("error", {}).get("code")
                if code in ("storage-failed", "disk-error", "disk-full"):
                    return  # after the cut: nothing more is acknowledged
                continue
            if kind == "start":
                self.running.add(t)
            elif kind in ("stop", "cancel"):
                self.running.discard(t)
            # pacing, so the cut lands among the commands
            self.halt.wait(self.rng.uniform(0, 0.01))


def one_fs(base, cid, fstype, rng):
    fs = loopfs.LoopFs(base, fstype)
    mnt = fs.mnt
    figs = {"rounds": 0, "acknowledged": 0, "cuts_in_flight": 0,
            "answered_after_cut": 0,
            "torn_tails": 0, "lost": 0, "violations": 0}
    d = None
    try:
        skip = fs.setup()
        if skip:
            print("# skip-probe: %s: %s" % skip)
            T.ok(True, "%s: %s # SKIP no loop device or mkfs" % (cid,
                                                                 fstype))
            return None
        d = daemon.Daemon(base, "d-" + fstype, state_home=mnt)
        led = invariants.Ledger()
        bad = []
        cuts = []
        running = set()
        for rnd in range(ROUNDS):
            rc, out = fs.mount()
            if rc != 0:
                bad.append("round %d: mount: %s" % (rnd, out))
                break
            wrap = ()
            if TRACE:
                wrap = ["strace", "-f", "-tt", "-yy", "-s", "120", "-o",
                        os.path.join(base, "trace-%s-%d" % (fstype, rnd)),
                        "-e", "trace=pwritev,fdatasync,fsync,write,"
                        "ftruncate,openat,renameat,unlinkat"]
            ready = d.start(wrap=wrap, env=ENV)
            rec = invariants.check_recovery(d, ready)
            if rec:
                bad += ["round %d: %s" % (rnd, b) for b in rec]
                d.kill9()
                sh("umount", mnt)
                break
            try:
                jr = invariants.journal_reader.read_state_live(d.state_dir)
                figs["torn_tails"] += len(jr.torn)
                view = invariants.View.load(d.state_dir)
                v = invariants.check_operations(view, led)
            except invariants.journal_reader.Damage as exc:
                v = ["journal damaged after recovery: %s" % exc]
                view = None
            if v:
                bad += ["round %d: %s" % (rnd, x) for x in v]
                d.kill9()
                sh("umount", mnt)
                break
            led.resolve(view)
            running = set(t.split(":", 1)[1] for t in view.timers)
            w = Worker(d, led, random.Random(rng.random()), running,
                       "%s%d" % (fstype, rnd))
            w.start()
            time.sleep(rng.uniform(0, 0.3))  # the random moment of the cut
            cut = time.time()
            cut_mono = time.monotonic()
            rc, out = fs.cut()
            cuts.append("round %d: cut at %s.%06d UTC" % (
                rnd, time.strftime("%H:%M:%S", time.gmtime(cut)),
                int(cut % 1 * 1e6)))
            if rc != 0:
                bad.append("round %d: xfs_io shutdown: %s" % (rnd, out))
            d.kill9()
            w.halt.set()
            w.join(20)
            # A real power cut kills the daemon too; here it runs on for
            # a moment on a filesystem that is shutting down, and ext4
            # (NOLOGFLUSH: flag, 100 ms, then the journal abort) can still
            # return 0 from an fdatasync whose unwritten-extent conversion
            # it then refuses. So only what was answered before the
            # ioctl was issued counts as acknowledged before the cut.
            for o in led.ops:
                if o.get("t_done", 0) > cut_mono and o["status"] != "sent":
                    o["status"] = "sent"
                    figs["answered_after_cut"] += 1
            figs["cuts_in_flight"] += 1 if any(
                o["status"] == "sent" for o in led.ops) else 0
            rc, out = fs.umount()
            if rc != 0:
                bad.append("round %d: umount: %s" % (rnd, out))
                break
            figs["rounds"] += 1
        # a last recovery after the last cut
        if not bad and fs.mount()[0] == 0:
            ready = d.start()
            bad += invariants.check_recovery(d, ready)
            if ready:
                view = invariants.View.load(d.state_dir)
                bad += invariants.check_operations(view, led)
                rc = d.stop()
                if rc != 0:
                    bad.append("clean stop after the last cut: %s" % rc)
            sh("umount", mnt)
        if bad and TRACE:
            keep = os.path.join(daemon.BUILDDIR, "tests", "reliability",
                                "powercut-" + fstype)
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(base, keep, ignore=shutil.ignore_patterns(
                "*.img", "ext4", "xfs", "socket"))
            with open(os.path.join(keep, "cuts.txt"), "w") as f:
                f.write("\n".join(cuts) + "\n" + json.dumps(
                    led.ops, indent=0))
            print("# traces kept in " + keep)
        figs["acknowledged"] = led.acknowledged()
        figs["lost"] = sum(1 for b in bad if "(lost)" in b)
        figs["violations"] = len(bad)
        T.ok(not bad and figs["acknowledged"] > 0,
             "%s: %d power cuts on %s: everything acknowledged before the "
             "cut is there, start-up succeeds (%d acknowledged, %d torn "
             "tails cut off)" % (cid, figs["rounds"], fstype,
                                 figs["acknowledged"], figs["torn_tails"]),
             "\n".join(bad[:20]))
        return figs
    finally:
        if d is not None:
            d.stop(daemon.signal.SIGKILL, timeout=5)
        fs.teardown()


def main():
    daemon.probe_binaries()
    daemon.need_root("losetup and mount")
    for prog in loopfs.PROGRAMS:
        daemon.need_program(prog)
    print("# seed %d, rounds %d" % (SEED, ROUNDS))
    rng = random.Random(SEED)
    base = daemon.make_base()
    all_figs = {}
    try:
        for cid, fstype in FS:
            f = one_fs(base, cid, fstype, rng)
            if f is not None:
                all_figs[fstype] = f
        figures.record(["C1", "C2", "F1"], "test-rel-powercut", dict(
            all_figs, seed=SEED), T.failed == 0)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
