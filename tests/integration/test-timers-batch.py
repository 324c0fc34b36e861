#!/usr/bin/env python3
"""test-timers-batch.py - requests from several connections that land in
one loop iteration, and so in one group-commit batch (RELIABILITY.md 2.4).

Memory changes only after the batch's fdatasync, so each request must be
validated against the committed state *plus* the records already pending
in the batch (src/daemon/stateview.h). Without that:
  - two `start`s under `[timers] concurrency = single` both pass and both
    timers run;
  - two `stop`s of one timer both pass; the second record then fails to
    apply at commit, and again at every replay (the daemon would not
    start any more).

To put the requests into one iteration deterministically, the test opens
every connection first (a ping on each, so all are accepted), stops the
daemon with SIGSTOP, writes one request on each connection, and lets it
go with SIGCONT: the one epoll_wait after that returns every connection.

Each case then restarts the daemon and checks that the journal replays
to exactly the state the daemon had (no record that fails to apply).
Prints TAP.
"""

import json
import os
import signal
import socket
import sys

sys.dont_write_bytecode = True  # nothing is written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timerlib  # noqa: E402
from timerlib import Env, Tap  # noqa: E402


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(20)
        self.s.connect(path)
        self.buf = b""
        self.n = 0

    def send(self, cmd, args=None):
        self.n += 1
        req = {"v": 1, "id": self.n, "cmd": cmd}
        if args is not None:
            req["args"] = args
        self.s.sendall((json.dumps(req) + "\n").encode())

    def recv(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise OSError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, cmd, args=None):
        self.send(cmd, args)
        return self.recv()

    def close(self):
        self.s.close()


def one_batch(env, requests):
    """Sends requests[i] = (cmd, args) on connection i while the daemon is
    stopped, so that all of them are read in one iteration. Returns the
    replies in the same order."""
    conns = [Conn(env.socket) for _ in requests]
    try:
        for c in conns:
            c.call("ping")  # accepted and reading before the stop
        os.kill(env.proc.pid, signal.SIGSTOP)
        try:
            for c, (cmd, args) in zip(conns, requests):
                c.send(cmd, args)
        finally:
            os.kill(env.proc.pid, signal.SIGCONT)
        return [c.recv() for c in conns]
    finally:
        for c in conns:
            c.close()


def timers(env):
    r = env.raw("list")
    return {t["target"]: t["state"] for t in r["result"]["timers"]}


def queued(env):
    r = env.raw("queue", {"all": True})
    return len(r["result"].get("entries", []))


def restart_same(t, env, name):
    """Restart and check the replayed state equals the live one."""
    before = (timers(env), queued(env))
    rc = env.stop()
    t.eq(rc, 0, "%s: clean shutdown" % name)
    t.ok(env.start(), "%s: the journal replays (daemon ready again)" % name,
         env.log_text()[-2000:])
    t.eq((timers(env), queued(env)), before,
         "%s: replayed state equals the acknowledged one" % name)


def main():
    t = Tap()
    timerlib.probe_binaries()
    base = timerlib.make_base()
    envs = []
    try:
        # ---- two (four) starts under concurrency = single ----
        env = Env(base, "single", "[timers]\nconcurrency = single\n")
        envs.append(env)
        t.ok(env.start(), "daemon ready", env.log_text())
        targets = ["ticket:11", "ticket:12", "ticket:13", "ticket:14"]
        replies = one_batch(env, [("start", {"target": x})
                                  for x in targets])
        t.eq([r.get("ok") for r in replies], [True] * 4,
             "four starts in one batch all acknowledged")
        st = timers(env)
        running = sorted(k for k, v in st.items() if v == "running")
        t.eq(len(running), 1,
             "concurrency = single: exactly one timer runs")
        t.eq(sorted(st), sorted("ticket:%d" % n for n in (11, 12, 13, 14)),
             "every started timer exists")
        t.eq(sum(1 for v in st.values() if v == "paused"), 3,
             "the others were paused by the later starts")
        restart_same(t, env, "single")

        # ---- two stops of one timer ----
        r = env.raw("start", {"target": "ticket:20", "ago_s": 600})
        t.ok(r.get("ok"), "start ticket:20", r)
        n0 = queued(env)
        replies = one_batch(env, [("stop", {"target": "ticket:20"}),
                                  ("stop", {"target": "ticket:20"})])
        oks = [bool(r.get("ok")) for r in replies]
        t.eq(sorted(oks), [False, True],
             "two stops of one timer in one batch: exactly one succeeds")
        errs = [r["error"]["code"] for r in replies if not r.get("ok")]
        t.eq(errs, ["no-such-timer"],
             "the other is refused as no-such-timer", )
        t.eq(queued(env) - n0, 1, "exactly one entry queued")
        t.ok("ticket:20" not in timers(env), "the timer is gone")
        restart_same(t, env, "double stop")

        # ---- cancel and start of one target (the reported repro) ----
        r = env.raw("start", {"target": "ticket:30", "ago_s": 600})
        t.ok(r.get("ok"), "start ticket:30", r)
        replies = one_batch(env, [
            ("cancel", {"target": "ticket:30", "yes": True}),
            ("start", {"target": "ticket:30"})])
        cancel_ok, start_ok = (bool(r.get("ok")) for r in replies)
        t.ok(cancel_ok, "cancel in one batch with a start: acknowledged",
             replies[0])
        # The daemon reads the two connections in epoll's order, so
        # either order is a valid serial history; each has one outcome.
        if start_ok:
            t.eq(timers(env).get("ticket:30"), "running",
                 "cancel then start: the new timer runs")
        else:
            t.eq((replies[1]["error"]["code"], timers(env).get("ticket:30")),
                 ("timer-exists", None),
                 "start then cancel: start refused, the timer is gone")
        restart_same(t, env, "cancel+start")

        # ---- a start and a pause of the timer it starts ----
        replies = one_batch(env, [("start", {"target": "ticket:40"}),
                                  ("pause", {"target": "ticket:40"})])
        start_ok, pause_ok = (bool(r.get("ok")) for r in replies)
        t.ok(start_ok, "start in one batch with a pause: acknowledged",
             replies[0])
        if pause_ok:
            t.eq(timers(env).get("ticket:40"), "paused",
                 "start then pause: the pause applies on top of the start")
        else:
            t.eq((replies[1]["error"]["code"], timers(env).get("ticket:40")),
                 ("no-such-timer", "running"),
                 "pause then start: pause refused, the timer runs")
        restart_same(t, env, "start+pause")

        # ---- many connections toggling a few targets ----
        reqs = [("toggle", {"target": "ticket:%d" % (50 + i % 3)})
                for i in range(12)]
        replies = one_batch(env, reqs)
        t.eq([bool(r.get("ok")) for r in replies], [True] * 12,
             "twelve toggles of three targets in one batch")
        st = timers(env)
        t.ok(sum(1 for v in st.values() if v == "running") <= 1,
             "still at most one running timer", st)
        restart_same(t, env, "toggles")
    finally:
        timerlib.cleanup(base, envs)
    for rc, log in sum((e.bad_exits for e in envs), []):
        t.ok(False, "daemon exited %d" % rc, log)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
