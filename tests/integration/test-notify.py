#!/usr/bin/env python3
"""test-notify.py - what cwtimed tells systemd over $NOTIFY_SOCKET, and
socket activation through systemd-socket-activate.

Captures every sd_notify datagram on a socket the test owns and asserts:
READY=1 comes first, only after the journal was replayed (the first
STATUS= already counts the replayed timer); the exact STATUS= strings
documented in cwtimed(1) as timers start, pause and stop and as entries
are queued and submitted (against the fake ConnectWise); RELOADING=1 then
READY=1 around SIGHUP; STOPPING=1 on SIGTERM; WATCHDOG=1 when
WATCHDOG_USEC is set and never otherwise. A notify socket whose queue is
full (a manager that does not read) never stops the daemon: it answers,
drops STATUS=, and sends READY=1, RELOADING=1 and READY=1 in order once
there is room. Then the daemon started by systemd-socket-activate on the
first connection answers it.

Prints TAP; waits with deadlines, never by sleeping.
"""

import os
import select
import signal
import socket
import subprocess
import sys
import time

SRCDIR = os.environ.get("top_srcdir", ".")
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))

import timerlib  # noqa: E402
import submitlib  # noqa: E402

T = timerlib.Tap()
ACTIVATE = "/usr/bin/systemd-socket-activate"


class Notified:
    """cwtimed on env with its own NOTIFY_SOCKET; msgs are the datagrams
    in arrival order."""

    def __init__(self, env, extra=None, argv=None, preexec=None):
        self.env = env
        env.logn += 1
        self.path = os.path.join(env.base, "notify-%d" % env.logn)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        e = dict(env.env)
        e["NOTIFY_SOCKET"] = self.path
        e.update(extra or {})
        self.log = os.path.join(env.base, "cwtimed%d.log" % env.logn)
        env.log = self.log
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen(
                [a.replace("{notify}", self.path) for a in argv] if argv
                else [timerlib.CWTIMED, "--log-level", "debug"], env=e,
                stdout=logf, stderr=subprocess.STDOUT, preexec_fn=preexec)
        self.msgs = []

    def pump(self, timeout):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            r, _, _ = select.select([self.sock], [], [], max(0, min(left,
                                                                     0.1)))
            if r:
                self.msgs.append(self.sock.recv(4096).decode())
                continue
            if left <= 0:
                return

    def wait(self, pred, timeout=15.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred(self.msgs):
                return True
            self.pump(0.1)
            if self.proc.poll() is not None:
                self.pump(0.2)
                return bool(pred(self.msgs))
        return bool(pred(self.msgs))

    def wait_msg(self, text, timeout=15.0):
        return self.wait(lambda m: any(text in x for x in m), timeout)

    def statuses(self):
        return [m[len("STATUS="):] for m in self.msgs
                if m.startswith("STATUS=")]

    def wait_status(self, want, timeout=15.0):
        return self.wait(lambda m: self.statuses() and
                         self.statuses()[-1] == want, timeout)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.pump(0.2)
        self.sock.close()
        os.unlink(self.path)
        return rc


def case_counts(base):
    env = timerlib.Env(base, "counts")
    n = Notified(env)
    T.ok(n.wait_msg("READY=1"), "cwtimed sends READY=1", env.log_text())
    T.ok(n.msgs and n.msgs[0].startswith("READY=1"),
         "READY=1 is the first message", n.msgs)
    want = "0 timers running, 0 queued, last submit never"
    T.ok(n.wait_status(want), "STATUS=%s after start" % want, n.msgs)
    T.eq(env.ctl("start", "54321", "--ago", "30m")[0], 0, "a timer starts")
    want = "1 timer running, 0 queued, last submit never"
    T.ok(n.wait_status(want), "STATUS=%s" % want, n.statuses())
    T.eq(env.ctl("start", "54322", "--ago", "20m")[0], 0,
         "a second timer starts (concurrency single pauses the first)")
    want = "1 timer running, 1 paused, 0 queued, last submit never"
    T.ok(n.wait_status(want), "STATUS=%s" % want, n.statuses())
    rc, out, _ = env.ctl("stop", "--all")
    k = sum(len(t.get("entries", [])) for t in out.get("timers", [])) \
        if isinstance(out, dict) else -1
    want = "0 timers running, %d queued, last submit never" % k
    T.ok(rc == 0 and k >= 2 and n.wait_status(want),
         "STATUS=%s (offline: the entries wait)" % want, (out, n.statuses()))
    T.eq(env.ctl("start", "54321", "--ago", "5m")[0], 0, "a timer starts")
    T.ok(n.wait_status("1 timer running, %d queued, last submit never" % k),
         "STATUS= follows every change")
    seen = len(n.msgs)
    n.proc.send_signal(signal.SIGHUP)
    T.ok(n.wait(lambda m: "RELOADING=1" in "".join(m[seen:]) and
                any("READY=1" in x for x in
                    m[seen + [i for i, x in enumerate(m[seen:])
                              if "RELOADING=1" in x][0]:])),
         "SIGHUP: RELOADING=1, then READY=1", n.msgs[seen:])
    n.pump(1.0)
    T.ok(not any("WATCHDOG=1" in m for m in n.msgs),
         "without WATCHDOG_USEC: no WATCHDOG=1", n.msgs)
    rc = n.stop()
    T.ok(rc == 0 and any("STOPPING=1" in m for m in n.msgs),
         "SIGTERM: STOPPING=1 and exit 0 (exit %s)" % rc, n.msgs[-3:])

    # replay: READY=1 only after it, and the first STATUS= counts the
    # timer read back from the journal
    n = Notified(env, extra={"WATCHDOG_USEC": "300000"})
    T.ok(n.wait_msg("READY=1"), "restart: READY=1", env.log_text())
    want = "1 timer running, %d queued, last submit never" % k
    T.ok(n.wait(lambda m: [x for x in m if x.startswith("STATUS=")]) and
         n.statuses()[0] == want and n.msgs[0].startswith("READY=1"),
         "restart: READY=1 first, then STATUS=%s from the replayed "
         "journal" % want, n.msgs)
    T.ok(n.wait_msg("WATCHDOG=1", timeout=5),
         "with WATCHDOG_USEC set: WATCHDOG=1", n.msgs)
    T.eq(n.stop(), 0, "restart: exit 0")


def case_last_submit(base):
    cwdir = os.path.join(base, "fakecw")
    os.makedirs(cwdir)
    cw = submitlib.fakeclient.FakeCW(cwdir)
    try:
        cw.start()
    except Exception as e:  # noqa: BLE001
        print("# fake ConnectWise does not start: %s" % e)
        T.ok(False, "the fake ConnectWise starts")
        return
    try:
        s = submitlib.Submit(base, "submit", cw)
        n = Notified(s.env)
        T.ok(n.wait_msg("READY=1"), "with ConnectWise: READY=1")
        rc, out, _ = s.env.ctl("stop", "--all")  # nothing runs
        T.eq(s.env.ctl("start", "54321", "--ago", "30m")[0], 0,
             "a timer starts")
        rc, out, _ = s.env.ctl("stop", "--all", "--submit")
        T.ok(rc == 0 and isinstance(out, dict) and
             out.get("submit", {}).get("finished") is True,
             "stop --all --submit waits for the submission", out)
        t0 = [r["payload"].get("t0") for r in s.env.records()
              if submitlib.REC_NAME.get(r["type"]) == "ATTEMPT_STARTED"]
        hhmm = time.strftime("%H:%M", time.gmtime(t0[-1])) if t0 else "?"
        want = "0 timers running, 0 queued, last submit %s" % hhmm
        T.ok(n.wait_status(want), "STATUS=%s (local time, TZ=UTC)" % want,
             n.statuses())
        T.eq(n.stop(), 0, "exit 0")
    finally:
        cw.stop()


def fill(path):
    """Fills the datagram queue of the socket at path; returns how many
    datagrams it took."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setblocking(False)
    n = 0
    try:
        while n < 100000:
            s.sendto(b"FILLER=1", path)
            n += 1
    except BlockingIOError:
        pass
    finally:
        s.close()
    return n


def case_full_queue(base):
    env = timerlib.Env(base, "fullq")
    env.logn += 1
    path = os.path.join(env.base, "notify-full")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    filled = fill(path)
    e = dict(env.env)
    e["NOTIFY_SOCKET"] = path
    env.log = os.path.join(env.base, "cwtimed-fullq.log")
    with open(env.log, "wb") as logf:
        proc = subprocess.Popen([timerlib.CWTIMED, "--log-level", "debug"],
                                env=e, stdout=logf, stderr=subprocess.STDOUT)
    msgs = []

    def drain():
        sock.setblocking(False)
        try:
            while True:
                m = sock.recv(4096).decode()
                if m != "FILLER=1":
                    msgs.append(m)
        except BlockingIOError:
            pass

    def answers():
        try:
            return env.raw("ping", timeout=2).get("ok") is True
        except (OSError, ValueError):
            return False

    try:
        up = env.wait_for(answers, timeout=20)
        T.ok(filled > 0 and up, "a full notify queue (%d datagrams) does "
             "not keep cwtimed from answering" % filled, env.log_text())
        rcs = [env.ctl("start", "54321", "--ago", "30m")[0],
               env.ctl("pause")[0],
               env.ctl("stop", "--all")[0]]
        T.eq(rcs, [0, 0, 0], "start, pause and stop are answered while the "
             "queue stays full (their STATUS= lines are dropped)")
        proc.send_signal(signal.SIGHUP)
        T.ok(env.wait_for(lambda: "configuration reloaded" in
                          env.log_text(), timeout=10) and answers(),
             "SIGHUP: reloaded while the queue is full")
        drain()
        got = env.wait_for(lambda: (drain(), [m.split("\n")[0] for m in
                                              msgs])[1][:3] ==
                           ["READY=1", "RELOADING=1", "READY=1"], timeout=10)
        T.ok(got and msgs[0] == "READY=1\nMAINPID=%d" % proc.pid,
             "once there is room: READY=1 (with MAINPID), RELOADING=1, "
             "READY=1, in order", msgs)
        T.eq(env.ctl("start", "54322")[0], 0, "a timer starts")
        want = "STATUS=1 timer running, 1 queued, last submit never"
        T.ok(env.wait_for(lambda: (drain(), want in msgs)[1], timeout=10),
             "and STATUS= flows again", msgs)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        sock.close()
        os.unlink(path)
    T.eq(rc, 0, "SIGTERM: exit 0")


def case_activate(base):
    if not os.access(ACTIVATE, os.X_OK):
        print("skip-probe: access(%s, X_OK): %s" % (ACTIVATE,
                                                     os.strerror(2)))
        T.ok(True, "systemd-socket-activate # SKIP not installed")
        return
    env = timerlib.Env(base, "activate")
    rundir = os.path.join(env.runtime, "cwtimed")
    os.makedirs(rundir, mode=0o700)
    path = os.path.join(rundir, "socket")
    argv = [ACTIVATE, "-l", path]
    for k in ("XDG_RUNTIME_DIR", "XDG_STATE_HOME", "XDG_CONFIG_HOME",
              "HOME", "TZ"):
        argv += ["-E", "%s=%s" % (k, env.env[k])]
    argv += ["-E", "NOTIFY_SOCKET={notify}", timerlib.CWTIMED,
             "--log-level", "debug"]
    n = Notified(env, argv=argv)
    deadline = time.monotonic() + 10
    while not os.path.exists(path) and time.monotonic() < deadline:
        n.pump(0.05)
    # systemd-socket-activate has no SocketMode= and binds with 0644
    # whatever the umask; cwtimed refuses that (test-ipc.py checks the
    # refusal), so set what cwtimed.socket's SocketMode=0600 would
    if os.path.exists(path):
        os.chmod(path, 0o600)
    T.ok(os.path.exists(path) and
         (os.stat(path).st_mode & 0o777) == 0o600,
         "systemd-socket-activate listens at %t/cwtimed/socket (0600 as "
         "cwtimed.socket sets it)",
         oct(os.stat(path).st_mode) if os.path.exists(path) else None)
    rep = None
    try:
        rep = env.raw("ping", timeout=15)
    except OSError as e:
        rep = repr(e)
    T.ok(isinstance(rep, dict) and rep.get("ok") is True,
         "the first connection starts cwtimed, which answers it", (rep,
                                                                  env.log_text()))
    T.ok(n.wait_msg("READY=1") and os.path.exists(path),
         "socket activation: READY=1 on the passed socket",
         env.log_text()[-1000:])
    rc = n.stop()
    T.ok(rc == 0 and os.path.exists(path),
         "SIGTERM: exit 0, the passed socket is left to its owner "
         "(exit %s)" % rc)


def main():
    timerlib.probe_binaries()
    base = timerlib.make_base()
    try:
        case_counts(base)
        case_last_submit(base)
        case_full_queue(base)
        case_activate(base)
    finally:
        timerlib.cleanup(base, [])
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
