#!/usr/bin/env python3
"""test-rel-clock.py - RELIABILITY.md 3 and 7 F2 on the real binary: the
wall clock steps while a timer runs (libfaketime, with
FAKETIME_DONT_FAKE_MONOTONIC=1 so only the wall clock moves).

  - +1 h and -1 h steps (FAKETIME_TIMESTAMP_FILE, re-read on every call):
    the running timer's elapsed time and the stopped entry's worked time
    follow the monotonic clock (the 10 minutes it was back-dated, plus the
    few seconds the test took: never 1 h more, never negative), and the
    stop is flagged `clock-step`;
  - a DST change while running (TZ=Europe/Berlin, the fake wall clock
    starting two seconds before 2026-03-29 01:00 UTC, when CET becomes
    CEST): nothing is flagged, the worked time is the elapsed time, and the
    entry's times are UTC with a Z and as far apart as the worked time.
  - control: the stamps the daemon journaled carry the faked wall time,
    so libfaketime really reached it.
libfaketime works by LD_PRELOAD, which does not mix with AddressSanitizer:
the sanitizer build skips this test with a skip-probe (the injected clock
of the unit tests covers F2 there).
"""

import calendar
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests",
                                "lib"))
import daemon  # noqa: E402
import figures  # noqa: E402

T = daemon.Tap()
LIBS = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1"]
SLACK = 30  # seconds the test itself may take between start and stop


def lib():
    for p in LIBS:
        if os.path.exists(p):
            return p
    return None


def parse_z(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def step_case(base, so, offset):
    name = "%+d h" % (offset // 3600)
    d = daemon.Daemon(base, "step%d" % (offset // 3600 + 1))
    ts = os.path.join(d.base, "faketime")
    with open(ts, "w") as f:
        f.write("+0\n")
    env = {"LD_PRELOAD": so, "FAKETIME_TIMESTAMP_FILE": ts,
           "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    try:
        T.ok(d.start(env=env), "%s: daemon under libfaketime ready" % name,
             d.log_text())
        rc, out, err = d.ctl("start", "54321", "--ago", "10m")
        T.ok(rc == 0, "%s: timer started 10 min back" % name, err)
        with open(ts, "w") as f:
            f.write("%+d\n" % offset)
        rc, st, err = d.ctl("status")
        el = st["timers"][0]["elapsed_s"] if rc == 0 else None
        T.ok(el is not None and 600 <= el <= 600 + SLACK,
             "F2 %s: elapsed follows the monotonic clock (%s s)" % (name,
                                                                    el))
        rc, out, err = d.ctl("stop", "54321", "--notes", "f2")
        tm = out["timers"][0] if rc == 0 else {}
        worked = tm.get("raw", {}).get("worked_s")
        T.ok(worked is not None and 600 <= worked <= 600 + SLACK,
             "F2 %s: worked time %s s: not negative, not doubled" % (
                 name, worked), out)
        T.ok("clock-step" in tm.get("flags", []),
             "F2 %s: the stop is flagged clock-step" % name, tm.get("flags"))
        wall = tm.get("stamp", {}).get("wall", 0)
        T.ok(abs(wall - (time.time() + offset)) < SLACK,
             "%s: control: the daemon saw the faked wall clock" % name,
             (wall, time.time() + offset))
        d.stop()
        return worked
    finally:
        d.stop(daemon.signal.SIGKILL, timeout=5)


def dst_case(base, so):
    d = daemon.Daemon(base, "dst")
    # 01:59:58 CET is 00:59:58 UTC; at 01:00 UTC Berlin moves to CEST
    env = {"LD_PRELOAD": so, "FAKETIME": "@2026-03-29 01:59:58",
           "FAKETIME_DONT_FAKE_MONOTONIC": "1", "TZ": "Europe/Berlin"}
    d.env["TZ"] = "Europe/Berlin"
    switch = calendar.timegm((2026, 3, 29, 1, 0, 0))
    try:
        T.ok(d.start(env=env), "DST: daemon ready", d.log_text())
        rc, out, err = d.ctl("start", "54321", "--ago", "30m")
        T.ok(rc == 0, "DST: timer started 30 min back", err)
        start = out["timers"][0]["start"] if rc == 0 else 0
        crossed = d.wait_for(lambda: start + d.ctl("status")[1]["timers"][0][
            "elapsed_s"] > switch + 1, timeout=20, poll=0.2)
        T.ok(crossed, "DST: the faked wall clock passed the switch")
        rc, out, err = d.ctl("stop", "54321", "--notes", "dst")
        tm = out["timers"][0] if rc == 0 else {}
        worked = tm.get("raw", {}).get("worked_s", -1)
        body = tm.get("entries", [{}])[0].get("body", {})
        ts, te = body.get("timeStart", ""), body.get("timeEnd", "")
        T.ok(1800 <= worked <= 1800 + SLACK and not tm.get("flags"),
             "F2 DST: worked %s s, nothing flagged" % worked, tm)
        T.ok(ts.endswith("Z") and te.endswith("Z") and
             parse_z(ts) < switch < parse_z(te) and
             abs(parse_z(te) - parse_z(ts) - worked) <= 60,
             "F2 DST: the entry's times are UTC (%s .. %s)" % (ts, te), body)
        d.stop()
        return worked
    finally:
        d.stop(daemon.signal.SIGKILL, timeout=5)


def main():
    daemon.probe_binaries()
    if daemon.is_asan():
        daemon.skip_all("is_asan(%s): LD_PRELOAD of libfaketime" %
                        daemon.CWTIMED, "ELIBBAD",
                        "LD_PRELOAD does not mix with ASan")
    so = lib()
    if so is None:
        daemon.skip_all("stat(libfaketimeMT.so.1)", "ENOENT",
                        "libfaketime is not installed")
    base = daemon.make_base()
    try:
        fwd = step_case(base, so, 3600)
        back = step_case(base, so, -3600)
        dst = dst_case(base, so)
        figures.record(["F2"], "test-rel-clock", {
            "worked_s_after_plus_1h": fwd, "worked_s_after_minus_1h": back,
            "worked_s_across_dst": dst}, T.failed == 0)
    finally:
        daemon.shutil.rmtree(base, ignore_errors=True)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
