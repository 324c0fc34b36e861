#!/usr/bin/env python3
"""test-session.py - sleep, wake, lock, idle, shutdown and logout, end to
end (doc/session.md): a real cwtimed on a private dbus-daemon
(tests/data/dbus-test.conf) with the fake org.freedesktop.login1
(tests/integration/fake_login1.py) that this test drives, and the fake
ConnectWise (tests/fakecw) receiving the entries.

Asserts the journal (tests/lib/journal_reader.py), the POSTs the fake
received, that the records were durable before the inhibitor descriptor
was closed (the journal's last write against the fake's close stamp),
that the lock is taken again after wake but not after shutdown, that a
logout (SIGTERM while the user is "closing") stops and submits before a
clean exit, that a plain SIGTERM keeps timers running across a restart,
and `cwtimectl stop --all --submit`.

Prints TAP. Without dbus-daemon or python3-dbus/python3-gi it skips with
a skip-probe line.
"""

import json
import os
import select
import signal
import subprocess
import sys
import time

SRCDIR = os.environ.get("top_srcdir", ".")
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))

import timerlib  # noqa: E402
import submitlib  # noqa: E402

T = timerlib.Tap()
REC = timerlib.REC
REC_NAME = {v: k for k, v in REC.items()}
DBUS_DAEMON = "/usr/bin/dbus-daemon"
PYTHON = os.environ.get("PYTHON3", sys.executable)


class Bus:
    """A private dbus-daemon with the fake login1 on it."""

    def __init__(self, base, delay_max_us=5000000):
        self.dir = os.path.join(base, "bus")
        os.makedirs(self.dir, mode=0o700)
        self.busd = subprocess.Popen(
            [DBUS_DAEMON,
             "--config-file=%s" % os.path.join(SRCDIR, "tests", "data",
                                               "dbus-test.conf"),
             "--address=unix:path=%s/bus" % self.dir, "--nofork",
             "--print-address=1"], stdout=subprocess.PIPE)
        self.addr = self._line(self.busd.stdout, 10.0)
        if not self.addr:
            raise RuntimeError("dbus-daemon printed no address")
        self.err = open(os.path.join(self.dir, "fake.err"), "wb")
        self.fake = subprocess.Popen(
            [PYTHON, os.path.join(SRCDIR, "tests", "integration",
                                  "fake_login1.py"),
             "--address", self.addr, "--delay-max-us", str(delay_max_us)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err)
        if self._line(self.fake.stdout, 15.0) != "ready":
            raise RuntimeError("fake_login1.py: no ready line: %s" %
                               open(self.err.name).read()[-500:])

    @staticmethod
    def _line(f, timeout):
        buf = b""
        end = time.monotonic() + timeout
        while b"\n" not in buf and time.monotonic() < end:
            r, _, _ = select.select([f], [], [], 0.1)
            if r:
                c = os.read(f.fileno(), 1)
                if not c:
                    break
                buf += c
        return buf.decode().strip() if b"\n" in buf else None

    def cmd(self, line, timeout=15.0):
        self.fake.stdin.write((line + "\n").encode())
        self.fake.stdin.flush()
        return self._line(self.fake.stdout, timeout)

    def inhibitors(self):
        return json.loads(self.cmd("inhibitors"))

    def stop(self):
        for p in (self.fake, self.busd):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.err.close()


def probe():
    if not os.access(DBUS_DAEMON, os.X_OK):
        return "access(%s, X_OK): %s" % (DBUS_DAEMON, os.strerror(2))
    p = subprocess.run([PYTHON, "-c", "import dbus, dbus.mainloop.glib; "
                        "from gi.repository import GLib"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        return "python3 import dbus/gi: %s" % p.stderr.decode()[-200:]
    return None


def names(recs):
    return [REC_NAME.get(r["type"]) for r in recs]


def journal_mtime_ns(s):
    jdir = os.path.join(s.env.state_dir, "journal")
    return max(os.stat(os.path.join(jdir, n)).st_mtime_ns
               for n in os.listdir(jdir))


def wait_reply(bus, what, n, ms=8000):
    return bus.cmd("wait-%s %d %d" % (what, n, ms),
                   timeout=ms / 1000.0 + 5) == "%s %d" % (what, n)


def new_records(s, since):
    return [r for r in s.env.records() if r["seq"] > since]


def last_seq(s):
    recs = s.env.records()
    return recs[-1]["seq"] if recs else 0


def timer_state(s, key="ticket:54321"):
    rc, out, _ = s.env.ctl("status")
    if rc != 0 or not isinstance(out, dict):
        return None, None
    for t in out.get("timers", []):
        if t.get("target") == key:
            return t.get("state"), t.get("worked_s")
    return None, None


def status_timer(s, key):
    """The status object of one timer, or {}."""
    rc, out, _ = s.env.ctl("status")
    if rc != 0 or not isinstance(out, dict):
        return {}
    for t in out.get("timers", []):
        if t.get("target") == key:
            return t
    return {}


def getall_count(bus):
    line = bus.cmd("getall-count") or ""
    return int(line.split()[1]) if line.startswith("getall ") else -1


def reload(s, extra):
    s.env.write_config(submitlib.config_text(s.cw, extra))
    n = s.env.log_text().count("configuration reloaded")
    s.env.proc.send_signal(signal.SIGHUP)
    return s.env.wait_for(
        lambda: s.env.log_text().count("configuration reloaded") > n,
        timeout=10)


def stop_uuids(recs):
    out = []
    for r in recs:
        if REC_NAME.get(r["type"]) == "TIMER_STOPPED":
            for t in r["payload"].get("timers", []):
                out += [e["uuid"] for e in t.get("entries", [])]
    return out


def posted_guids(cw):
    return [p["body"].get("mobileGuid") for p in
            submitlib.posts(cw.requests())]


def case_sleep(bus, s, cw):
    """Default on_sleep = pause, then wake resumes."""
    rc, _, err = s.env.ctl("start", "54321", "--ago", "30m")
    T.eq(rc, 0, "sleep: a timer starts")
    seq0 = last_seq(s)
    n0 = len(bus.inhibitors())
    T.eq(bus.cmd("sleep 1"), "ok", "sleep: PrepareForSleep(true) sent")
    closed = wait_reply(bus, "closed", n0)
    recs = new_records(s, seq0)
    T.ok(closed and names(recs) == ["TIMER_PAUSED"] and
         recs[0]["payload"]["pause"][0]["target"] == "ticket:54321",
         "sleep: one TIMER_PAUSED record pausing ticket:54321, then the "
         "lock is released", (closed, names(recs), s.env.log_text()[-2000:]))
    inh = bus.inhibitors()
    last = [i for i in inh if i["closed_real_ns"] is not None][-1]
    T.ok(journal_mtime_ns(s) <= last["closed_real_ns"],
         "sleep: the pause was durable before the inhibitor fd closed",
         (journal_mtime_ns(s), last))
    T.eq(timer_state(s)[0], "paused", "sleep: status shows it paused")
    seq1 = last_seq(s)
    T.eq(bus.cmd("sleep 0"), "ok", "wake: PrepareForSleep(false) sent")
    T.ok(wait_reply(bus, "taken", len(inh) + 1),
         "wake: the delay lock is taken again")
    got = s.env.wait_for(lambda: names(new_records(s, seq1)), timeout=10)
    T.eq(got, ["TIMER_RESUMED"], "wake: the timer the sleep paused "
         "resumes (one TIMER_RESUMED)")
    T.eq(timer_state(s)[0], "running", "wake: status shows it running")


def case_lock(bus, s, cw):
    """on_lock = pause: unlock resumes only what the lock paused."""
    T.ok(reload(s, "[session]\non_lock = pause\n"),
         "lock: config reloaded with on_lock = pause")
    seq0 = last_seq(s)
    T.eq(bus.cmd("lock 1"), "ok", "lock: LockedHint true")
    got = s.env.wait_for(lambda: names(new_records(s, seq0)), timeout=10)
    T.eq(got, ["TIMER_PAUSED"], "lock: the running timer is paused")
    seq1 = last_seq(s)
    T.eq(bus.cmd("lock 0"), "ok", "unlock: LockedHint false")
    got = s.env.wait_for(lambda: names(new_records(s, seq1)), timeout=10)
    T.eq(got, ["TIMER_RESUMED"], "unlock: the timer the lock paused "
         "resumes")
    # touched meanwhile: the user resumes and pauses it again by hand
    T.eq(bus.cmd("lock 1"), "ok", "lock again")
    s.env.wait_for(lambda: timer_state(s)[0] == "paused", timeout=10)
    T.eq(s.env.ctl("resume", "54321")[0], 0, "the user resumes it")
    T.eq(s.env.ctl("pause", "54321")[0], 0, "and pauses it again")
    seq2 = last_seq(s)
    n_unlock = s.env.log_text().count("unlock: resume the timers")
    T.eq(bus.cmd("lock 0"), "ok", "unlock again")
    # the daemon logs the decision when it handles the signal and appends
    # any record right then; a status round trip then orders the check
    # after that record's commit
    T.ok(s.env.wait_for(lambda: s.env.log_text().count(
        "unlock: resume the timers") > n_unlock, timeout=10),
        "unlock: handled")
    s.env.ctl("status")
    T.eq(names(new_records(s, seq2)), [],
         "unlock: a timer the user touched after the lock stays paused")
    T.eq(s.env.ctl("resume", "54321")[0], 0, "the user resumes it")


def case_idle(bus, s, cw):
    """on_idle = pause after 10m, back-dated to IdleSinceHint exactly:
    past the timer's last stamp (its start here), which the tracker used
    to refuse; the stamp itself stays the reading of now."""
    T.ok(reload(s, "[session]\non_idle = pause after 10m\n"),
         "idle: config reloaded with on_idle = pause after 10m")
    T.eq(s.env.ctl("cancel", "54321", "--yes")[0], 0,
         "idle: the old timer is cancelled")
    seq_start = last_seq(s)
    T.eq(s.env.ctl("start", "54321", "--ago", "30m")[0], 0,
         "idle: a timer started 30 minutes ago")
    recs = new_records(s, seq_start)
    t0 = recs[-1]["payload"]["stamp"]["wall"] if recs else int(time.time())
    # let three seconds of wall time pass after the start stamp, so that
    # a pause at "now" and a back-dated one differ
    s.env.wait_for(lambda: time.time() >= t0 + 3.2, timeout=10, poll=0.1)
    seq0 = last_seq(s)
    since = int(time.time()) - 11 * 60
    T.eq(bus.cmd("idle 1 %d" % (since * 1000000)), "ok",
         "idle: IdleHint true, idle since 11 minutes ago")
    got = s.env.wait_for(lambda: new_records(s, seq0), timeout=10)
    ok = (names(got) == ["TIMER_PAUSED"])
    item = got[0]["payload"]["pause"][0] if ok else {}
    stamp = item.get("stamp", {})
    want = stamp.get("pos_ns", 0) - (stamp.get("wall", 0) - since) * 10**9
    T.ok(ok and item.get("paused_since_ns") == want and
         item.get("reason") == "idle",
         "idle: the pause begins exactly at IdleSinceHint: "
         "paused_since_ns %s = stamp pos_ns - (stamp wall - %d) s = %s"
         % (item.get("paused_since_ns"), since, want), got)
    # the start stamp was at position 1800 s; the pause reaches ~660 s
    # before now, far past it (the old limit)
    T.ok(ok and want < (1800 - 600) * 10**9 and stamp.get("wall", 0) >= t0,
         "idle: back-dated past the timer's last stamp (pause at %.3f s, "
         "start stamp at 1800 s)" % (want / 1e9))
    tm = status_timer(s, "ticket:54321")
    T.ok(tm.get("state") == "paused" and tm.get("pause_reason") == "idle"
         and tm.get("worked_s") == want // 10**9,
         "idle: status shows paused (idle) with worked_s %s = %d, frozen "
         "at the back-dated pause" % (tm.get("worked_s"), want // 10**9),
         tm)
    seq1 = last_seq(s)
    T.eq(bus.cmd("idle 0"), "ok", "active: IdleHint false")
    got = s.env.wait_for(lambda: names(new_records(s, seq1)), timeout=10)
    T.ok(got == ["TIMER_RESUMED"], "active: the idle pause is undone",
         (got, s.env.log_text()[-3000:]))
    tm = status_timer(s, "ticket:54321")
    worked = tm.get("worked_s")
    T.ok(tm.get("state") == "running" and tm.get("pause_reason") is None
         and worked is not None and
         want // 10**9 <= worked <= want // 10**9 + 2,
         "idle: the idle stretch does not count (worked %ss, want "
         "%d..%d)" % (worked, want // 10**9, want // 10**9 + 2))
    # the reply journal replays: a restart reads every record back
    T.eq(s.stop(), 0, "idle: restart (exit 0)")
    T.ok(s.start(), "idle: the journal with the back-dated pause replays",
         s.env.log_text()[-1500:])
    tm = status_timer(s, "ticket:54321")
    T.ok(tm.get("state") == "running" and worked is not None and
         worked <= tm.get("worked_s", -1) <= worked + 5,
         "idle: after the replay the time is the same (worked %s)"
         % tm.get("worked_s"))


def case_lock_restart(bus, s, cw):
    """on_lock = pause with a daemon restart between the lock and the
    unlock: the pause reason is journaled, so the unlock after the restart
    resumes exactly the timer the lock paused, not one the user paused."""
    T.ok(reload(s, "[session]\non_lock = pause\n"),
         "lock-restart: config reloaded with on_lock = pause")
    T.eq(s.env.ctl("start", "54322")[0], 0,
         "lock-restart: ticket:54322 starts")
    T.eq(status_timer(s, "ticket:54321").get("pause_reason"),
         "concurrency", "lock-restart: ticket:54321 paused (concurrency)")
    T.eq(s.env.ctl("pause", "54322")[0], 0,
         "lock-restart: the user pauses ticket:54322")
    T.eq(s.env.ctl("resume", "54321")[0], 0,
         "lock-restart: the user resumes ticket:54321")
    seq0 = last_seq(s)
    T.eq(bus.cmd("lock 1"), "ok", "lock-restart: LockedHint true")
    got = s.env.wait_for(lambda: new_records(s, seq0), timeout=10)
    items = (got[0]["payload"].get("pause", [])
             if names(got) == ["TIMER_PAUSED"] else [])
    T.ok([(i.get("target"), i.get("reason")) for i in items] ==
         [("ticket:54321", "lock")],
         "lock-restart: one TIMER_PAUSED record, ticket:54321 for 'lock'",
         got)
    a, b = status_timer(s, "ticket:54321"), status_timer(s, "ticket:54322")
    T.ok((a.get("state"), a.get("pause_reason"), b.get("state"),
          b.get("pause_reason")) == ("paused", "lock", "paused", "user"),
         "lock-restart: status shows paused (lock) and paused (user)",
         (a, b))
    n_get = getall_count(bus)
    T.eq(s.stop(), 0, "lock-restart: a plain SIGTERM while locked exits 0")
    T.ok(s.start(), "lock-restart: cwtimed starts again",
         s.env.log_text()[-1500:])
    T.ok(s.env.wait_for(lambda: getall_count(bus) > n_get, timeout=10),
         "lock-restart: the new daemon has read the session (still "
         "locked)")
    a = status_timer(s, "ticket:54321")
    T.ok((a.get("state"), a.get("pause_reason")) == ("paused", "lock"),
         "lock-restart: the pause reason survived the restart", a)
    seq1 = last_seq(s)
    T.eq(bus.cmd("lock 0"), "ok", "lock-restart: LockedHint false")
    got = s.env.wait_for(lambda: new_records(s, seq1), timeout=10)
    T.ok(names(got) == ["TIMER_RESUMED"] and
         got[0]["payload"].get("target") == "ticket:54321",
         "lock-restart: the unlock after the restart resumes ticket:54321 "
         "(one TIMER_RESUMED)", (got, s.env.log_text()[-2000:]))
    a, b = status_timer(s, "ticket:54321"), status_timer(s, "ticket:54322")
    T.ok((a.get("state"), a.get("pause_reason"), b.get("state"),
          b.get("pause_reason")) == ("running", None, "paused", "user"),
         "lock-restart: ticket:54322, paused by the user, stays paused",
         (a, b))
    T.eq(s.env.ctl("cancel", "54322", "--yes")[0], 0,
         "lock-restart: ticket:54322 is cancelled")


def case_unlock_while_down(bus, s, cw):
    """on_lock = pause, and the unlock happens while cwtimed is down (a
    kill -9 while locked): no unlock event will ever come, so the daemon
    reads the session at start-up, finds it unlocked, and resumes what the
    lock paused, from then on (the time it did not see is not billed). A
    timer the user paused stays paused."""
    T.ok(reload(s, "[session]\non_lock = pause\n"),
         "unlock-while-down: config reloaded with on_lock = pause")
    T.eq(s.env.ctl("start", "54323")[0], 0,
         "unlock-while-down: ticket:54323 starts (pauses ticket:54321)")
    T.eq(s.env.ctl("pause", "54323")[0], 0,
         "unlock-while-down: the user pauses ticket:54323")
    T.eq(s.env.ctl("resume", "54321")[0], 0,
         "unlock-while-down: the user resumes ticket:54321")
    seq0 = last_seq(s)
    T.eq(bus.cmd("lock 1"), "ok", "unlock-while-down: LockedHint true")
    got = s.env.wait_for(lambda: new_records(s, seq0), timeout=10)
    T.eq(names(got), ["TIMER_PAUSED"],
         "unlock-while-down: the lock pauses ticket:54321")
    worked = status_timer(s, "ticket:54321").get("worked_s")
    T.ok(s.stop(signal.SIGKILL) is not None,
         "unlock-while-down: cwtimed killed (SIGKILL) while locked")
    T.eq(bus.cmd("lock 0"), "ok",
         "unlock-while-down: LockedHint false while cwtimed is down")
    down = time.monotonic()
    # downtime the resumed timer must not count: 2 s, measured below
    while time.monotonic() < down + 2.0:
        time.sleep(0.1)
    seq1 = last_seq(s)
    T.ok(s.start(), "unlock-while-down: cwtimed starts again",
         s.env.log_text()[-1500:])
    got = s.env.wait_for(lambda: new_records(s, seq1), timeout=10)
    T.ok(names(got) == ["TIMER_RESUMED"] and
         got[0]["payload"].get("target") == "ticket:54321",
         "unlock-while-down: at start-up one TIMER_RESUMED for "
         "ticket:54321", (got, s.env.log_text()[-2000:]))
    a, b = status_timer(s, "ticket:54321"), status_timer(s, "ticket:54323")
    T.ok((a.get("state"), b.get("state"), b.get("pause_reason")) ==
         ("running", "paused", "user") and worked is not None and
         worked <= a.get("worked_s", -1) <= worked + 1,
         "unlock-while-down: ticket:54321 runs without the downtime "
         "(worked %s s before, %s s after), ticket:54323 stays paused"
         % (worked, a.get("worked_s")), (a, b))
    T.ok("ended while cwtimed was not running" in s.env.log_text(),
         "unlock-while-down: the log says why the timer resumed")
    T.eq(s.env.ctl("cancel", "54323", "--yes")[0], 0,
         "unlock-while-down: ticket:54323 is cancelled")


def case_sleep_stop(bus, s, cw):
    """on_sleep = stop: stop, submit, then release."""
    T.ok(reload(s, "[session]\non_sleep = stop\n"),
         "sleep-stop: config reloaded with on_sleep = stop")
    seq0 = last_seq(s)
    before = len(bus.inhibitors())
    T.eq(bus.cmd("sleep 1"), "ok", "sleep-stop: PrepareForSleep(true)")
    closed = wait_reply(bus, "closed", before)
    recs = new_records(s, seq0)
    uuids = stop_uuids(recs)
    st = submitlib.Submit.states(s)
    inh = [i for i in bus.inhibitors() if i["closed_real_ns"]][-1]
    T.ok(closed and names(recs)[0] == "TIMER_STOPPED" and uuids and
         all(st.get(u) == "submitted" for u in uuids),
         "sleep-stop: TIMER_STOPPED, and its entries SUBMITTED before "
         "the lock was released", (names(recs), st, s.env.log_text()[-2000:]))
    T.ok(all(u in posted_guids(cw) for u in uuids),
         "sleep-stop: the fake ConnectWise received the entries")
    T.ok(journal_mtime_ns(s) <= inh["closed_real_ns"],
         "sleep-stop: every record was durable before the inhibitor fd "
         "closed")
    T.eq(bus.cmd("sleep 0"), "ok", "sleep-stop: wake")
    T.ok(wait_reply(bus, "taken", before + 1), "sleep-stop: lock retaken")
    T.ok(reload(s, ""), "config back to the defaults")


def case_stop_submit(bus, s, cw):
    T.eq(s.env.ctl("start", "54321", "--ago", "20m")[0], 0,
         "stop --submit: a timer starts")
    rc, out, err = s.env.ctl("stop", "--all", "--submit")
    sub = out.get("submit") if isinstance(out, dict) else None
    uuids = [e["uuid"] for t in (out or {}).get("timers", [])
             for e in t.get("entries", [])] if isinstance(out, dict) else []
    T.ok(rc == 0 and sub == {"finished": True, "submitted": len(uuids),
                             "waiting": 0} and uuids,
         "stop --all --submit: replies after the submission finished",
         (rc, out, err))
    T.ok(uuids and all(u in posted_guids(cw) for u in uuids),
         "stop --all --submit: the POST had reached ConnectWise before "
         "the reply")


def case_restart(bus, s, cw):
    T.eq(s.env.ctl("start", "54321", "--ago", "10m")[0], 0,
         "restart: a timer starts")
    T.eq(bus.cmd("user-state active silent"), "ok", "user state active")
    rc = s.stop()
    T.eq(rc, 0, "restart: a plain SIGTERM exits 0")
    T.ok(s.start(), "restart: cwtimed starts again")
    T.eq(timer_state(s)[0], "running",
         "restart: the timer kept running across the restart")


def case_logout(bus, s, cw):
    n_posts = len(posted_guids(cw))
    T.eq(bus.cmd("user-state closing silent"), "ok", "user state closing")
    rc = s.stop()
    T.eq(rc, 0, "logout: SIGTERM while closing exits 0")
    new = posted_guids(cw)[n_posts:]
    st = submitlib.Submit.states(s)
    T.ok(len(new) >= 1 and all(st.get(u) == "submitted" for u in new),
         "logout: the timer was stopped, its entry journaled and "
         "submitted before the exit", (new, st))
    j = s.journal()
    timers = (j.checkpoint[1].get("tracker", {}).get("timers", [])
              if j.checkpoint else None)
    T.ok("logout" in s.env.log_text() and timers == [],
         "logout: no timer is left", timers)
    T.eq(bus.cmd("user-state active silent"), "ok", "user state active")


def case_shutdown(bus, s, cw):
    T.ok(s.start(), "shutdown: cwtimed starts")
    T.eq(s.env.ctl("start", "54321", "--ago", "15m")[0], 0,
         "shutdown: a timer starts")
    before = len(bus.inhibitors())
    T.ok(wait_reply(bus, "taken", before), "shutdown: the lock is held")
    seq0 = last_seq(s)
    T.eq(bus.cmd("shutdown 1"), "ok", "PrepareForShutdown(true)")
    closed = wait_reply(bus, "closed", before)
    recs = new_records(s, seq0)
    uuids = stop_uuids(recs)
    st = submitlib.Submit.states(s)
    inh = [i for i in bus.inhibitors() if i["closed_real_ns"]][-1]
    T.ok(closed and uuids and all(st.get(u) == "submitted" for u in uuids)
         and all(u in posted_guids(cw) for u in uuids),
         "shutdown: stopped, journaled and submitted, then released",
         (names(recs), st))
    T.ok(journal_mtime_ns(s) <= inh["closed_real_ns"],
         "shutdown: the records were durable before the fd closed")
    T.eq(bus.cmd("wait-taken %d 1500" % (before + 1), timeout=10),
         "timeout %d" % before, "shutdown: the lock is not taken again")
    T.eq(s.stop(), 0, "shutdown: the SIGTERM that follows exits 0")


def case_no_bus(base, cw):
    s = submitlib.Submit(base, "nobus", cw)
    s.env.env["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=%s/none" % base
    T.ok(s.start(), "no bus: cwtimed starts and is ready")
    T.eq(s.env.ctl("start", "54321")[0], 0, "no bus: timers work")
    rc = s.stop()
    log = s.env.log_text()
    T.ok(rc == 0 and log.count("are not followed") == 1,
         "no bus: says so once; a SIGTERM is a restart (exit %s)" % rc,
         log[-1500:])


def main():
    timerlib.probe_binaries()
    why = probe()
    if why:
        print("skip-probe: %s" % why)
        print("1..0 # SKIP no dbus-daemon or python3-dbus")
        return 0
    base = timerlib.make_base()
    os.makedirs(os.path.join(base, "fakecw"))
    cw = submitlib.fakeclient.FakeCW(os.path.join(base, "fakecw"))
    bus = None
    try:
        try:
            cw.start()
        except Exception as e:  # noqa: BLE001
            print("skip-probe: starting tests/fakecw/fakecw.py: %s" % e)
            print("1..0 # SKIP the fake ConnectWise does not start")
            return 0
        try:
            bus = Bus(base)
        except (OSError, RuntimeError) as e:
            print("skip-probe: private bus with fake login1: %s" % e)
            print("1..0 # SKIP no private D-Bus")
            return 0
        s = submitlib.Submit(base, "session", cw)
        s.env.env["DBUS_SYSTEM_BUS_ADDRESS"] = bus.addr
        T.ok(s.start(), "cwtimed ready on the private bus",
             s.env.log_text())
        T.ok(wait_reply(bus, "taken", 1), "cwtimed takes the delay lock")
        inh = bus.inhibitors()
        T.ok(inh and inh[0]["what"] == "sleep:shutdown" and
             inh[0]["mode"] == "delay", "the lock is sleep:shutdown, delay",
             inh)
        for fn in (case_sleep, case_lock, case_idle, case_lock_restart,
                   case_unlock_while_down, case_sleep_stop,
                   case_stop_submit, case_restart, case_logout,
                   case_shutdown):
            fn(bus, s, cw)
        case_no_bus(base, cw)
    finally:
        if bus:
            bus.stop()
        cw.stop()
        timerlib.cleanup(base, submitlib.ENVS)
        print("# base %s" % base)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
