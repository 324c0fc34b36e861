#!/usr/bin/env python3
"""test-timers.py - the timer commands end to end: the real cwtimed and the
real cwtimectl on temporary XDG directories (issue 4, daemon side).

Durations are made exact with back-dated --at (UTC strings), so the queued
entries' timeStart/timeEnd/actualHours/hoursDeduct can be compared to the
second. Each entry is checked twice: in `cwtimectl queue --json` and in the
journal, decoded by tests/lib/journal_reader.py (written from
doc/journal-format.md, independently of the C code). Refused input must
name the specific error code, exit with errcode_exit_status() of that code
(read from src/common/errcode.h) and leave every file of the state
directory byte-identical.

Prints TAP.
"""

import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # nothing is written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timerlib  # noqa: E402
from timerlib import EXIT, REC, Env, Tap, iso, parse_iso  # noqa: E402

T = Tap()
envs = []


def queue_entries(e, all_=False):
    rc, out, err = e.ctl("queue", "--all") if all_ else e.ctl("queue")
    if rc != 0 or not isinstance(out, dict):
        return []
    return out.get("entries", [])


def timers(e):
    rc, out, err = e.ctl("list")
    if rc != 0 or not isinstance(out, dict):
        return {}
    return {t["target"]: t for t in out.get("timers", [])}


def records_of(e, name):
    return [r for r in e.records() if r["type"] == REC[name]]


def refused(e, args, code, name, tz=None, raw=None):
    """Runs a bad command; checks code, exit status and that no file of
    the state directory changed."""
    before = e.state_hash()
    if raw is not None:
        reply = e.raw(*raw)
        got = reply.get("error", {}).get("code") if not reply.get("ok") \
            else "ok"
        T.eq(got, code, name + ": error " + code)
    else:
        rc, out, err = e.ctl(*args, tz=tz)
        got = out.get("error", {}).get("code") if isinstance(out, dict) \
            else None
        if got is None and err.startswith("cwtimectl: "):
            # refused by cwtimectl itself, before anything was sent
            got = err.split(":")[1].strip()
        T.ok(got == code and rc == EXIT[code],
             "%s: error %s, exit %d" % (name, code, EXIT[code]),
             "rc %r out %r err %r" % (rc, out, err))
    T.eq(e.state_hash(), before, name + ": journal byte-identical")


def test_start_stop(base):
    e = Env(base, "basic")
    envs.append(e)
    T.ok(e.start(), "cwtimed starts (READY=1)", e.log_text())
    now = int(time.time())
    t0 = now - 3 * 3600 - now % 60
    t1 = t0 + 5400

    rc, out, err = e.ctl("start", "54321", "--at", iso(t0), "--work-type",
                         "Remote Support", "--role", "Engineer", "--billing",
                         "donotbill", "--notes", "printer", "--internal-notes",
                         "inside", "--add-to", "detail,resolution", "--email",
                         "contact,cc", "--email-cc", "a@example.com")
    T.ok(rc == 0 and out.get("target") == "ticket:54321",
         "start 54321 --at: ok, names ticket:54321", (rc, out, err))
    T.ok(out.get("ticket_checked") is False and
         "not checked" in out.get("warning", ""),
         "offline start says the ticket was not checked", out)

    tm = timers(e).get("ticket:54321", {})
    T.ok(tm.get("state") == "running" and tm.get("focus") is True,
         "list: running and focused", tm)
    T.ok(abs(tm.get("elapsed_s", 0) - (int(time.time()) - t0)) <= 3,
         "list: elapsed_s counts from the back-dated start", tm)
    T.eq((tm.get("work_type"), tm.get("billable_option"), tm.get("start")),
         ("Remote Support", "DoNotBill", t0),
         "list: work type, billable option and start as given")

    rc, st, err = e.ctl("status")
    T.ok(rc == 0 and st.get("state") == "running" and
         st.get("submission", {}).get("state") == "offline" and
         st.get("queue", {}).get("pending") == 0 and
         st.get("max_duration_s") == 12 * 3600,
         "status: running, offline submission, empty queue, max 12h", st)

    started = records_of(e, "TIMER_STARTED")
    T.ok(len(started) == 1 and started[0]["payload"]["start"] == t0 and
         started[0]["payload"]["fields"]["workType"] ==
         {"name": "Remote Support"} and
         started[0]["payload"]["fields"]["workRole"] == {"name": "Engineer"},
         "journal: TIMER_STARTED with the start and the names as given",
         started)

    rc, out, err = e.ctl("stop", "--at", iso(t1))
    T.ok(rc == 0 and out.get("queue", {}).get("pending") == 1,
         "stop --at: ok, one entry pending", (rc, out, err))
    T.eq(timers(e), {}, "list: no timer after stop")

    q = queue_entries(e)
    T.eq(len(q), 1, "queue: one entry")
    ent = q[0]["entry"] if q else {}
    want = {
        "chargeToId": 54321, "chargeToType": "ServiceTicket",
        "timeStart": iso(t0), "timeEnd": iso(t1), "actualHours": 1.5,
        "billableOption": "DoNotBill",
        "workType": {"name": "Remote Support"},
        "workRole": {"name": "Engineer"},
        "notes": "printer", "internalNotes": "inside",
        "addToDetailDescriptionFlag": True, "addToResolutionFlag": True,
        "emailContactFlag": True, "emailCcFlag": True,
        "emailCc": "a@example.com",
        "mobileGuid": q[0]["uuid"] if q else None,
    }
    T.eq(ent, want, "queue: the entry's ConnectWise body, exactly")
    T.eq(q[0].get("state") if q else None, "pending", "queue: pending")

    stopped = records_of(e, "TIMER_STOPPED")
    body = stopped[0]["payload"]["timers"][0]["entries"][0]["body"] \
        if stopped else None
    T.eq(body, ent, "journal: TIMER_STOPPED carries the same body")
    T.eq(stopped[0]["payload"]["reason"] if stopped else None, "user",
         "journal: stop reason user")

    # log TARGET DURATION --at START
    rc, out, err = e.ctl("log", "project:9", "1h30m", "--at", iso(t0 - 7200),
                         "--notes", "design")
    T.ok(rc == 0, "log project:9 1h30m --at: ok", (rc, out, err))
    q = [x for x in queue_entries(e) if x["target"] == "project:9"]
    ent = q[0]["entry"] if q else {}
    T.eq((ent.get("chargeToType"), ent.get("timeStart"), ent.get("timeEnd"),
          ent.get("actualHours"), ent.get("notes")),
         ("ProjectTicket", iso(t0 - 7200), iso(t0 - 1800), 1.5, "design"),
         "log: the queued entry's times and hours")
    T.eq(len(records_of(e, "ENTRY_QUEUED")), 1, "journal: one ENTRY_QUEUED")

    # recent
    rc, out, err = e.ctl("recent", "--limit", "5")
    T.eq([r["target"] for r in out.get("recent", [])] if rc == 0 else rc,
         ["project:9", "ticket:54321"], "recent: newest target first")

    # pauses deduct: start, pause, resume, stop with exact figures via
    # the journal's stamps is clock-dependent; check the invariant instead
    rc, _, _ = e.ctl("start", "777", "--ago", "10m")
    rc2, _, _ = e.ctl("pause", "777")
    tm = timers(e).get("ticket:777", {})
    T.ok(rc == 0 and rc2 == 0 and tm.get("state") == "paused" and
         tm.get("pause_reason") == "user",
         "pause 777: paused, pause_reason \"user\" in list --json", tm)
    plain = subprocess.run([timerlib.CWTIMECTL, "list"], env=e.env,
                           stdout=subprocess.PIPE, timeout=30)
    line = [ln for ln in plain.stdout.decode(errors="replace").splitlines()
            if "ticket:777" in ln]
    T.ok(plain.returncode == 0 and len(line) == 1 and
         "paused (user)" in line[0],
         "list (plain) shows 'paused (user)'", line)
    rc, _, _ = e.ctl("resume")
    tm = timers(e).get("ticket:777", {})
    T.ok(rc == 0 and tm.get("state") == "running" and
         "pause_reason" in tm and tm["pause_reason"] is None,
         "resume (focused): running, pause_reason null", tm)
    rc, out, err = e.ctl("note", "777", "called", "the", "customer")
    tm = timers(e).get("ticket:777", {})
    T.ok(rc == 0 and tm.get("fields", {}).get("notes") == "called the "
         "customer", "note: appended to the notes", (rc, tm))
    rc, out, err = e.ctl("set", "777", "--billing", "NoCharge",
                         "--work-type", "Onsite", "--agreement", "42")
    tm = timers(e).get("ticket:777", {})
    T.ok(rc == 0 and tm.get("billable_option") == "NoCharge" and
         tm.get("work_type") == "Onsite" and
         tm.get("fields", {}).get("agreement") == {"id": 42},
         "set: billing, work type and agreement id", (rc, out, tm))
    now = int(time.time())
    rc, out, err = e.ctl("adjust", "777", "--start", iso(now - 3600))
    tm = timers(e).get("ticket:777", {})
    T.ok(rc == 0 and tm.get("start") == now - 3600 and
         "adjusted" in tm.get("flags", []),
         "adjust --start: start moved, flagged", (rc, out, tm))
    rc, out, err = e.ctl("stop", "777", "--ago", "1m")
    ent = [x for x in queue_entries(e) if x["target"] == "ticket:777"]
    ent = ent[0]["entry"] if ent else {}
    ts, te = parse_iso(ent.get("timeStart", "1970-01-01T00:00:00Z")), \
        parse_iso(ent.get("timeEnd", "1970-01-01T00:00:00Z"))
    deduct = ent.get("hoursDeduct", 0)
    T.ok(rc == 0 and ts == now - 3600 and
         abs(ent.get("actualHours", 0) -
             ((te - ts) / 3600.0 - deduct)) < 1e-5 and
         ent.get("billableOption") == "NoCharge" and
         ent.get("agreement") == {"id": 42},
         "stop --ago: start as adjusted, actualHours = span - deduct",
         (rc, out, ent))
    return e


def test_bad_input(e):
    now = int(time.time())
    e.ctl("start", "1000", "--ago", "5m")
    refused(e, ("start", "ticket:abc"), "bad-target", "start ticket:abc")
    refused(e, ("start", "widget:5"), "bad-target", "start widget:5")
    refused(e, None, "bad-duration", "start ago_s -60 (raw)",
            raw=("start", {"target": "55", "ago_s": -60}))
    refused(e, None, "bad-duration", "start ago_s 0 (raw)",
            raw=("start", {"target": "55", "ago_s": 0}))
    refused(e, ("start", "55", "--ago", "200h"), "bad-duration",
            "start --ago 200h (absurd)")
    refused(e, None, "time-in-future", "start at +1h (raw)",
            raw=("start", {"target": "55", "at": now + 3600}))
    refused(e, None, "time-in-future", "stop at +1h (raw)",
            raw=("stop", {"target": "1000", "at": now + 3600}))
    refused(e, ("start", "55", "--at", "2099-01-01T00:00:00Z"),
            "time-in-future", "start --at 2099 (cwtimectl)")
    refused(e, ("stop", "4242"), "no-such-timer", "stop a timer that "
            "does not exist")
    refused(e, ("pause", "4242"), "no-such-timer", "pause a timer that "
            "does not exist")
    refused(e, ("start", "1000"), "timer-exists", "start a running timer")
    refused(e, ("stop", "1000", "--at-heartbeat"), "bad-argument",
            "stop --at-heartbeat without a reboot")
    refused(e, ("adjust", "1000", "--start", "2099-01-01T00:00:00Z"),
            "time-in-future", "adjust --start in the future")
    refused(e, None, "time-in-future", "adjust start +1h (raw)",
            raw=("adjust", {"target": "1000", "start": now + 3600}))
    refused(e, ("note", "4242", "hello"), "no-such-timer",
            "note on a timer that does not exist")
    refused(e, ("log", "55", "0m"), "bad-duration", "log 0m")
    refused(e, None, "bad-duration", "log duration -1 (raw)",
            raw=("log", {"target": "55", "duration_s": -1}))
    refused(e, ("log", "55", "200h"), "bad-duration", "log 200h (absurd)")
    refused(e, ("start", "56", "--at", "2026-10-25 02:30"),
            "ambiguous-time", "start --at in the repeated DST hour",
            tz="Europe/Berlin")
    refused(e, ("start", "56", "--add-to", "detail,nowhere"),
            "bad-argument", "start --add-to with an unknown word")
    refused(e, None, "bad-argument", "start with an unknown argument (raw)",
            raw=("start", {"target": "56", "colour": "red"}))
    refused(e, None, "bad-argument", "set with a bad billing (raw)",
            raw=("set", {"target": "1000", "billing": "Sometimes"}))
    refused(e, ("cancel", "1000"), "confirm-needed",
            "cancel over a minute without --yes")
    rc, out, err = e.ctl("cancel", "1000", "--yes")
    T.ok(rc == 0 and "ticket:1000" not in timers(e),
         "cancel --yes: the timer is gone", (rc, out, err))
    c = records_of(e, "TIMER_CANCELLED")
    T.ok(len(c) == 1 and c[0]["payload"]["worked_s"] >= 300,
         "journal: TIMER_CANCELLED with the time discarded", c)
    T.eq([x for x in queue_entries(e) if x["target"] == "ticket:1000"], [],
         "cancel queues nothing")


def test_rounding_defaults(base):
    e = Env(base, "round", """
[rounding]
mode = up
increment = 15m

[rounding "Remote"]
mode = nearest
increment = 1h

[defaults]
work_type = Remote
billing = Billable

[defaults "project"]
work_type = Design
billing = NoCharge
""")
    envs.append(e)
    T.ok(e.start(), "cwtimed with a rounding config starts", e.log_text())
    now = int(time.time())
    t0 = now - 4 * 3600 - now % 60
    # default work type Remote -> [rounding "Remote"]: nearest hour
    e.ctl("start", "100", "--at", iso(t0))
    rc, out, err = e.ctl("stop", "100", "--at", iso(t0 + 5400 + 60))
    ent = [x["entry"] for x in queue_entries(e) if x["target"] == "ticket:100"]
    T.eq([(x["timeStart"], x["timeEnd"], x["actualHours"],
           x.get("workType"), x.get("billableOption")) for x in ent],
         [(iso(t0), iso(t0 + 7200), 2.0, {"name": "Remote"}, "Billable")],
         "[defaults] and [rounding \"Remote\"]: 91m rounds to 2h")
    # project defaults: Design, no override -> [rounding]: up to 15m
    e.ctl("start", "project:7", "--at", iso(t0))
    rc, out, err = e.ctl("stop", "project:7", "--at", iso(t0 + 3000))
    ent = [x["entry"] for x in queue_entries(e) if x["target"] == "project:7"]
    T.eq([(x["timeEnd"], x["actualHours"], x.get("workType"),
           x.get("billableOption")) for x in ent],
         [(iso(t0 + 3600), 1.0, {"name": "Design"}, "NoCharge")],
         "[defaults \"project\"] and [rounding] up 15m: 50m -> 1h")
    # the user's option wins over [defaults]
    e.ctl("start", "101", "--at", iso(t0), "--work-type", "Onsite",
          "--billing", "DoNotBill")
    e.ctl("stop", "101", "--at", iso(t0 + 600))
    ent = [x["entry"] for x in queue_entries(e) if x["target"] == "ticket:101"]
    T.eq([(x["timeEnd"], x.get("workType"), x.get("billableOption"))
          for x in ent],
         [(iso(t0 + 900), {"name": "Onsite"}, "DoNotBill")],
         "options win over [defaults]; 10m rounds up to 15m")
    e.stop()


def test_concurrency(base):
    e = Env(base, "single")
    envs.append(e)
    T.ok(e.start(), "cwtimed (concurrency single) starts", e.log_text())
    e.ctl("start", "1", "--ago", "20m")
    e.ctl("start", "2", "--ago", "10m")
    tm = timers(e)
    T.eq({k: (v["state"], v["focus"]) for k, v in tm.items()},
         {"ticket:1": ("paused", False), "ticket:2": ("running", True)},
         "single: starting 2 pauses 1 and focuses 2")
    rc, out, err = e.ctl("toggle")
    T.eq((rc, timers(e)["ticket:2"]["state"]), (0, "paused"),
         "toggle (focused 2): pauses it")
    rc, out, err = e.ctl("toggle")
    T.eq((rc, timers(e)["ticket:2"]["state"]), (0, "running"),
         "toggle again: resumes it")
    rc, out, err = e.ctl("switch", "1")
    tm = timers(e)
    T.eq((rc,) + tuple((tm[k]["state"], tm[k]["focus"])
                       for k in ("ticket:1", "ticket:2")),
         (0, ("running", True), ("paused", False)),
         "switch 1: 1 runs with the focus, 2 paused")
    rc, out, err = e.ctl("toggle", "3")
    tm = timers(e)
    T.eq((rc, tm.get("ticket:3", {}).get("state"),
          tm["ticket:1"]["state"]), (0, "running", "paused"),
         "toggle 3 (no timer): starts it, single pauses 1")
    # 3 has run for less than a second: nothing to queue, cancel it
    rc, out, err = e.ctl("cancel", "3")
    T.ok(rc == 0 and "ticket:3" not in timers(e), "cancel 3 (under a "
         "minute, no --yes needed)", (rc, out, err))
    rc, out, err = e.ctl("stop", "--all", "--at", iso(int(time.time())))
    st = records_of(e, "TIMER_STOPPED")
    T.ok(rc == 0 and timers(e) == {} and len(st) == 1 and
         len(st[0]["payload"]["timers"]) == 2,
         "stop --all: one record ends both timers", (rc, out))
    e.stop()

    p = Env(base, "parallel", "[timers]\nconcurrency = parallel\n")
    envs.append(p)
    T.ok(p.start(), "cwtimed (concurrency parallel) starts", p.log_text())
    p.ctl("start", "1", "--ago", "20m")
    p.ctl("start", "2", "--ago", "10m")
    tm = timers(p)
    T.eq({k: (v["state"], v["focus"]) for k, v in tm.items()},
         {"ticket:1": ("running", False), "ticket:2": ("running", True)},
         "parallel: both run, the newer has the focus")
    p.stop()


def test_restart(base):
    e = Env(base, "restart")
    envs.append(e)
    T.ok(e.start(), "cwtimed starts", e.log_text())
    now = int(time.time())
    t0 = now - 2 * 3600
    e.ctl("start", "8080", "--at", iso(t0), "--notes", "kept")
    rc = e.stop()
    T.eq(rc, 0, "SIGTERM: clean exit")
    T.ok(e.start(), "cwtimed restarts", e.log_text())
    tm = timers(e).get("ticket:8080", {})
    T.eq((tm.get("state"), tm.get("start"),
          tm.get("fields", {}).get("notes")), ("running", t0, "kept"),
         "after a restart the timer runs with its original start")
    e.stop(timerlib.signal.SIGKILL)
    T.ok(e.start(), "cwtimed restarts after SIGKILL", e.log_text())
    e.ctl("stop", "8080", "--at", iso(t0 + 3600))
    ent = [x["entry"] for x in queue_entries(e)]
    T.eq([(x["timeStart"], x["timeEnd"], x["actualHours"]) for x in ent],
         [(iso(t0), iso(t0 + 3600), 1.0)],
         "the restarted timer stops into an exact entry")
    e.stop()


def test_autostop(base):
    # live: a 3 s max_duration fires while the daemon runs
    e = Env(base, "maxlive", "[timers]\nmax_duration = 3s\n")
    envs.append(e)
    T.ok(e.start(), "cwtimed with max_duration = 3s starts", e.log_text())
    rc, out, err = e.ctl("start", "31")
    t_start = out.get("timers", [{}])[0].get("start") \
        if isinstance(out, dict) else None
    got = e.wait_for(lambda: queue_entries(e), timeout=20)
    ent = got[0]["entry"] if got else {}
    T.ok(rc == 0 and got and timers(e) == {} and
         parse_iso(ent["timeEnd"]) - parse_iso(ent["timeStart"]) == 3 and
         parse_iso(ent["timeStart"]) == t_start,
         "max_duration 3s: the timer is stopped at start + 3s", (out, ent))
    T.ok("max" in ent.get("internalNotes", "").lower(),
         "auto-stop says so in internalNotes", ent)
    st = records_of(e, "TIMER_STOPPED")
    T.eq([r["payload"]["reason"] for r in st], ["max-duration"],
         "journal: TIMER_STOPPED reason max-duration")
    e.stop()

    # at start-up: a timer back-dated beyond max_duration is stopped at
    # once, at start + max_duration
    e = Env(base, "maxboot", "[timers]\nmax_duration = 1h\n")
    envs.append(e)
    T.ok(e.start(), "cwtimed with max_duration = 1h starts", e.log_text())
    now = int(time.time())
    t0 = now - 2 * 3600
    rc, out, err = e.ctl("start", "32", "--at", iso(t0))
    got = e.wait_for(lambda: queue_entries(e), timeout=20)
    ent = got[0]["entry"] if got else {}
    T.eq((ent.get("timeStart"), ent.get("timeEnd"), ent.get("actualHours")),
         (iso(t0), iso(t0 + 3600), 1.0),
         "back-dated past max_duration: entry ends at start + 1h")
    e.stop()

    # SIGHUP: a shorter max_duration applies to a running timer at once
    e = Env(base, "maxreload")
    envs.append(e)
    T.ok(e.start(), "cwtimed (default max_duration 12h) starts",
         e.log_text())
    now = int(time.time())
    t0 = now - 2 * 3600
    rc, out, err = e.ctl("start", "33", "--at", iso(t0))
    T.ok(rc == 0 and queue_entries(e) == [] and "ticket:33" in timers(e),
         "a 2h-old timer runs under max_duration 12h", (rc, out, err))
    e.write_config("[timers]\nmax_duration = 90m\n")
    e.proc.send_signal(timerlib.signal.SIGHUP)
    got = e.wait_for(lambda: queue_entries(e), timeout=20)
    ent = got[0]["entry"] if got else {}
    T.eq((ent.get("timeStart"), ent.get("timeEnd"), ent.get("actualHours")),
         (iso(t0), iso(t0 + 5400), 1.5),
         "after SIGHUP with max_duration 90m: stopped at start + 90m")
    rc, st, err = e.ctl("status")
    T.eq(st.get("max_duration_s") if isinstance(st, dict) else None, 5400,
         "status reports the reloaded max_duration")
    e.stop()


def test_heartbeat(base):
    e = Env(base, "heartbeat", "[timers]\nheartbeat = 10s\n")
    envs.append(e)
    T.ok(e.start(), "cwtimed with heartbeat = 10s starts", e.log_text())
    t_before = time.monotonic()
    e.ctl("start", "41")
    hb = e.wait_for(lambda: records_of(e, "HEARTBEAT"), timeout=25,
                    poll=0.2)
    took = time.monotonic() - t_before
    T.ok(hb and hb[0]["payload"]["timers"][0]["target"] == "ticket:41" and
         took >= 9,
         "a running timer is stamped by a HEARTBEAT after ~10s",
         (hb, took))
    e.ctl("stop", "41")
    n = len(records_of(e, "HEARTBEAT"))
    # idle is idle: with no timer, no heartbeat follows (checked over
    # one more interval, the shortest the config allows)
    end = time.monotonic() + 11
    while time.monotonic() < end:
        time.sleep(0.5)
    T.eq(len(records_of(e, "HEARTBEAT")), n,
         "no heartbeat while no timer runs")
    e.stop()


def main():
    timerlib.probe_binaries()
    base = timerlib.make_base()
    try:
        e = test_start_stop(base)
        test_bad_input(e)
        e.stop()
        test_rounding_defaults(base)
        test_concurrency(base)
        test_restart(base)
        test_autostop(base)
        if os.environ.get("CWT_QUICK") != "1":
            test_heartbeat(base)
        bad = [b for e in envs for b in e.bad_exits]
        T.ok(not bad, "every cwtimed exited 0 on SIGTERM (no sanitizer "
             "report)", "\n".join("exit %r:\n%s" % b for b in bad))
    finally:
        timerlib.cleanup(base, envs)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
