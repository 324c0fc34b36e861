#!/usr/bin/env python3
"""test-rel-idle.py - RELIABILITY.md 7 F4, DESIGN.md invariant 7 "idle is
idle": with no timers, nothing pending, no subscribers and no
WATCHDOG_USEC, the whole daemon never wakes up.

Two daemons are traced at the same time for $CWT_IDLE_S seconds (10):
  - "fresh": just started, offline (no [api]);
  - "drained": wired to the fake ConnectWise; a timer was started and
    stopped, its entry submitted (the queue is empty again), a timer was
    started and cancelled, and a subscriber came and went.
`strace -f -tt -T -e trace=epoll_wait,epoll_pwait,epoll_pwait2 -p PID`
must show no call that returned inside the window, and every thread's
/proc/PID/task/TID/syscall must show the event loop blocked with an
infinite timeout (-1): nothing is armed. Control: one ping after the
window must show up as a wake-up, or the method proves nothing.
Prints TAP; writes its figures (tests/lib/figures.py).
"""

import os
import platform
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests",
                                "lib"))
import daemon  # noqa: E402
import figures  # noqa: E402
import client as fakeclient  # noqa: E402

T = daemon.Tap()
WINDOW = float(os.environ.get("CWT_IDLE_S", "10"))
# epoll_wait, epoll_pwait, epoll_pwait2 by architecture (asm/unistd.h)
EPOLL_NR = {"x86_64": (232, 281, 441), "aarch64": (22, 441)}
LINE = re.compile(r"^(\d+)\s+(\d+):(\d+):(\d+\.\d+) (epoll_\w+)\(.*\) = "
                  r"(-?\d+).*<(\d+\.\d+)>$")


def loop_blocked_forever(pid):
    """(True, detail) when some thread of pid sits in epoll_* with a
    timeout of -1 and none sits there with a finite one."""
    nrs = EPOLL_NR.get(platform.machine())
    found, detail = False, []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                fields = f.read().split()
        except OSError as exc:
            return None, "read syscall: %s" % exc
        if not fields or fields[0] in ("running", "-1"):
            continue
        nr = int(fields[0])
        if nr in nrs:
            timeout = int(fields[4], 16) & 0xFFFFFFFF  # an int argument
            if timeout >= 1 << 31:
                timeout -= 1 << 32
            detail.append("tid %s epoll timeout %d" % (tid, timeout))
            if timeout != -1:
                return False, "; ".join(detail)
            found = True
    return found, "; ".join(detail)


def wakeups(trace, t0, t1):
    """Calls that returned in [t0, t1] (seconds of the day, UTC)."""
    out = []
    with open(trace) as f:
        for line in f:
            m = LINE.match(line.strip())
            if not m:
                continue
            start = (int(m.group(2)) * 3600 + int(m.group(3)) * 60 +
                     float(m.group(4)))
            end = start + float(m.group(7))
            if t0 <= end <= t1:
                out.append(line.strip())
    return out


def day_seconds():
    t = time.time()
    return t % 86400


def drain(d, cw):
    """Makes the drained daemon's history: submit, cancel, subscribe."""
    d.ctl("start", "54321", "--ago", "10m")
    rc, out, err = d.ctl("stop", "54321", "--notes", "idle-f4")
    T.ok(rc == 0, "drained: stop queued an entry", err)
    done = d.wait_for(lambda: any(
        e.get("notes") == "idle-f4" for e in cw.entries()), timeout=30)
    T.ok(done, "drained: the entry reached the fake")
    d.ctl("start", "54322", "--ago", "1m")
    rc, out, err = d.ctl("cancel", "54322", "--yes")
    T.ok(rc == 0, "drained: a second timer was cancelled", err)
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.socket)
    s.sendall(b'{"v":1,"id":1,"cmd":"subscribe"}\n')
    s.recv(4096)
    s.close()
    q = d.wait_for(lambda: d.ctl("status")[1]["queue"]["pending"] == 0 and
                   not d.ctl("status")[1]["timers"], timeout=30)
    T.ok(q, "drained: no timers and an empty queue", d.ctl("status"))


def main():
    daemon.probe_binaries()
    daemon.need_program("strace")
    if platform.machine() not in EPOLL_NR:
        daemon.skip_all("platform.machine() in %s" % sorted(EPOLL_NR),
                        "ENOSYS", "no epoll syscall table for this machine")
    base = daemon.make_base()
    os.makedirs(os.path.join(base, "cw"))
    cw = fakeclient.FakeCW(os.path.join(base, "cw"))
    cw.start()
    envs = []
    try:
        fresh = daemon.Daemon(base, "fresh")
        drained = daemon.with_fake(base, "drained", cw)
        envs += [fresh, drained]
        T.ok(fresh.start(), "fresh daemon ready", fresh.log_text())
        T.ok(drained.start(), "drained daemon ready", drained.log_text())
        drain(drained, cw)
        cases = [("fresh", fresh), ("drained", drained)]
        tracers = []
        for name, d in cases:
            trace = os.path.join(base, "trace-" + name)
            p = subprocess.Popen(
                ["strace", "-f", "-tt", "-T", "-qq", "-o", trace, "-e",
                 "trace=epoll_wait,epoll_pwait,epoll_pwait2", "-p",
                 str(d.pid())], stderr=subprocess.PIPE)
            tracers.append((name, d, trace, p))
        # strace is attached once it has written the restarted call's
        # entry... which it writes only on return; attach is synchronous
        # within strace's start-up, so wait for /proc to show the tracer
        for name, d, trace, p in tracers:
            ok = d.wait_for(lambda: _traced(d.pid()), timeout=10)
            T.ok(ok, "%s: strace attached" % name)
        t0 = day_seconds()
        time.sleep(WINDOW)  # the measurement window itself, not a wait
        t1 = day_seconds()
        figs = {"window_s": WINDOW}
        for name, d, trace, p in tracers:
            blocked, detail = loop_blocked_forever(d.pid())
            T.ok(blocked, "%s: the loop waits with no timeout (%s)" %
                 (name, detail))
            r = d.raw("ping")
            T.ok(r.get("ok") is True, "%s: still answers" % name, r)
        for name, d, trace, p in tracers:
            # the control ping must be seen before strace stops
            d.wait_for(lambda: len(wakeups(trace, t1, 86400)) > 0,
                       timeout=10)
            p.terminate()
            p.wait(timeout=10)
            idle = wakeups(trace, t0, t1)
            control = wakeups(trace, t1, 86400)
            T.ok(not idle, "F4 %s: no wake-up in %.0f s (%d)" % (
                name, WINDOW, len(idle)), "\n".join(idle[:10]))
            T.ok(control, "%s: control: the ping is seen as a wake-up (%d)"
                 % (name, len(control)))
            figs[name + "_wakeups"] = len(idle)
            figs[name + "_control_wakeups"] = len(control)
        for name, d in cases:
            rc = d.stop()
            T.ok(rc == 0, "%s: clean exit" % name, d.log_text()[-800:])
        figures.record(["F4"], "test-rel-idle", figs, T.failed == 0)
    finally:
        for d in envs:
            try:
                d.stop(daemon.signal.SIGKILL, timeout=5)
            except Exception:
                pass
        cw.stop()
        daemon.shutil.rmtree(base, ignore_errors=True)
    return T.finish()


def _traced(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1]) != 0
    except OSError:
        return False
    return False


if __name__ == "__main__":
    sys.exit(main())
