#!/usr/bin/env python3
"""test-timers-reply.py - the size of the timer commands' replies with many
timers (closing note F3, doc/protocol.md).

A timer command (start, pause, resume, toggle, switch, cancel, set, note,
adjust) replies with the timers its record changed, not with every timer:
the one it names, plus those a start paused (concurrency single), and
"timers_total". With 1,000 running timers ([timers] concurrency =
parallel) a start still answers with one timer, and status fits one
64 KiB line: the timers that do not fit are counted in "timers_omitted",
and the focused timer is never among them. list hands all of them over,
in parts ("more").

A stop whose record is bigger than a reply line (45 timers with long
notes, 400 timers) is durable before its reply, so the reply shrinks to
fit instead of failing: first without the ConnectWise bodies, then
without the entries.

A queue longer than a line (600 logged entries, no ConnectWise) comes in
parts: the reply says where the rest begins ("more"), and cwtimectl reads
every part before it prints.

Drives the real cwtimed over its socket (pipelined starts, as the bench
does) and the real cwtimectl. Prints TAP.
"""

import json
import os
import socket
import subprocess
import sys

sys.dont_write_bytecode = True  # nothing is written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timerlib  # noqa: E402
from timerlib import Env, Tap  # noqa: E402

T = Tap()
envs = []
LINE_MAX = 65536  # PROTO_LINE_MAX: one reply line, newline included
MANY = 1000


def pipelined(e, reqs):
    """Sends [(cmd, args)] on one connection, in chunks, and returns the
    raw reply lines (bytes, without the newline), in order."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(e.socket)
    out, buf = [], b""
    try:
        for k in range(0, len(reqs), 50):
            chunk = reqs[k:k + 50]
            s.sendall(b"".join(
                (json.dumps(dict({"v": 1, "id": k + i + 1, "cmd": c},
                                 **({"args": a} if a is not None else {})))
                 + "\n").encode()
                for i, (c, a) in enumerate(chunk)))
            want = len(out) + len(chunk)
            while len(out) < want:
                while b"\n" not in buf:
                    got = s.recv(1 << 20)
                    if not got:
                        return out
                    buf += got
                line, buf = buf.split(b"\n", 1)
                if b'"event"' not in line[:40]:
                    out.append(line)
    finally:
        s.close()
    return out


def keys(reply):
    return [t["target"] for t in reply["result"]["timers"]]


def test_single(base):
    e = Env(base, "single")
    envs.append(e)
    T.ok(e.start(), "cwtimed (concurrency single) starts", e.log_text())
    for t in ("1", "2", "3"):
        e.raw("start", {"target": t})
    r = e.raw("start", {"target": "4"})
    T.eq((r["ok"], keys(r), r["result"].get("timers_total"),
          r["result"].get("target")),
         (True, ["ticket:4", "ticket:3"], 4, "ticket:4"),
         "start in single mode: the started timer and the one it paused")
    st = {t["target"]: t["state"] for t in r["result"]["timers"]}
    T.eq(st, {"ticket:4": "running", "ticket:3": "paused"},
         "... with their new states")
    r = e.raw("pause", {"target": "4"})
    T.eq((keys(r), r["result"]["timers"][0]["state"]),
         (["ticket:4"], "paused"), "pause: only the paused timer")
    r = e.raw("resume", {"target": "1"})
    T.eq(keys(r), ["ticket:1"], "resume of 1 (nothing else ran): only 1")
    r = e.raw("switch", {"target": "2"})
    T.eq(sorted(keys(r)), ["ticket:1", "ticket:2"],
         "switch: the target and the timer it paused")
    r = e.raw("note", {"target": "3", "text": "x"})
    T.eq((keys(r), r["result"]["timers"][0]["fields"].get("notes")),
         (["ticket:3"], "x"), "note: only that timer, with its notes")
    r = e.raw("cancel", {"target": "3", "yes": True})
    T.eq((r["ok"], keys(r), r["result"]["timers_total"]),
         (True, [], 3), "cancel: no timer left to show, 3 in all")
    rc, out, err = e.ctl("list")
    T.eq(sorted(t["target"] for t in out["timers"]),
         ["ticket:1", "ticket:2", "ticket:4"], "list still lists every timer")
    txt = subprocess.run([timerlib.CWTIMECTL, "start", "6"], env=e.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=30)
    T.ok(txt.returncode == 0 and
         txt.stdout.decode().startswith("started ticket:6"),
         "cwtimectl start still prints the started timer",
         txt.stdout.decode() + txt.stderr.decode())
    e.stop()


def test_many(base):
    e = Env(base, "many", "[timers]\nconcurrency = parallel\n"
            "max_duration = 0\n")
    envs.append(e)
    if not T.ok(e.start(), "cwtimed (concurrency parallel) starts",
                e.log_text()):
        return
    lines = pipelined(e, [("start", {"target": str(100000 + i),
                                     "notes": "n" * 40})
                          for i in range(MANY)])
    replies = [json.loads(x) for x in lines]
    T.ok(len(replies) == MANY and all(r.get("ok") for r in replies),
         "%d timers start" % MANY,
         [r for r in replies if not r.get("ok")][:2])
    last = lines[-1] if lines else b""
    r = json.loads(last) if last else {}
    T.ok(len(last) < 2048 and keys(r) == ["ticket:%d" % (100000 + MANY - 1)]
         and r["result"]["timers_total"] == MANY,
         "the %dth start's reply: one timer, %d bytes" % (MANY, len(last)),
         last[:300])
    T.ok(max(len(x) for x in lines) < 2048,
         "no start reply grew with the timers (largest %d bytes)"
         % max(len(x) for x in lines))
    # focus the first timer: it must survive the trimming of status
    e.raw("pause", {"target": "100000"})
    e.raw("resume", {"target": "100000"})
    st = pipelined(e, [("status", None)])[0]
    r = json.loads(st).get("result") or {"timers": [], "error": st[:300]}
    shown = [t["target"] for t in r["timers"]]
    T.ok(len(st) + 1 <= LINE_MAX and r.get("fields_omitted") is True and
         r.get("timers_omitted", 0) > 0 and
         len(shown) + r["timers_omitted"] == MANY,
         "status of %d timers fits one line: %d shown, %d omitted, %d bytes"
         % (MANY, len(shown), r.get("timers_omitted", 0), len(st)))
    T.ok(r["focus"] == "ticket:100000" and "ticket:100000" in shown,
         "the focused timer is among those shown", (r["focus"], shown[:3]))
    # move the focus to the last timer: still shown though it is at the end
    e.raw("pause", {"target": str(100000 + MANY - 1)})
    e.raw("resume", {"target": str(100000 + MANY - 1)})
    r = json.loads(pipelined(e, [("status", None)])[0])["result"]
    shown = [t["target"] for t in r["timers"]]
    T.ok(shown[-1] == "ticket:%d" % (100000 + MANY - 1) and
         len(shown) + r["timers_omitted"] == MANY,
         "a focused timer at the end is kept, the ones before it dropped",
         shown[-3:])
    first = pipelined(e, [("list", None)])[0]
    r = json.loads(first).get("result", {})
    T.ok(len(first) + 1 <= LINE_MAX and r.get("truncated") is True and
         r.get("more", {}).get("total") == MANY and
         "timers_omitted" not in r,
         "list of %d timers: the first line says where the rest begins"
         % MANY, {k: v for k, v in r.items() if k != "timers"})
    # a subscriber's hello snapshot of 1,000 timers fits its line too
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(e.socket)
    f = s.makefile("rb")
    s.sendall(b'{"v":1,"id":1,"cmd":"subscribe"}\n')
    reply = json.loads(f.readline())
    hello_line = f.readline() if reply.get("ok") else b""
    # both: the file object keeps the socket open, and a subscriber left
    # behind makes every later change build a 2,000-timer event
    f.close()
    s.close()
    hello = json.loads(hello_line) if hello_line else {}
    st = hello.get("data", {}).get("state", {})
    T.ok(reply.get("ok") is True and hello.get("event") == "hello" and
         len(hello_line) <= LINE_MAX and
         len(st.get("timers", [])) + st.get("timers_omitted", 0) == MANY,
         "subscribe with %d timers: ok, and a hello of %d bytes that counts "
         "every timer" % (MANY, len(hello_line)), reply)
    # recent of 1,000 targets with long names passes the line too
    lines = pipelined(e, [("start", {"target": "company:ACME%021d" % i})
                          for i in range(1000)])
    T.ok(len(lines) == 1000 and all(json.loads(x).get("ok")
                                    for x in lines),
         "1,000 company timers with 25-character identifiers start",
         lines[:1])
    first = pipelined(e, [("recent", {"limit": 1000})])[0]
    r = json.loads(first).get("result", {})
    rc, out, err = e.ctl("recent", "--limit", "1000")
    got = [x["target"] for x in (out or {}).get("recent", [])]
    T.ok(len(first) + 1 <= LINE_MAX and r.get("truncated") is True and
         rc == 0 and len(got) == 1000 and len(set(got)) == 1000 and
         got[0] == "company:ACME%021d" % 999,
         "recent --limit 1000: the first line holds %d, cwtimectl joins "
         "all 1,000, most recent first" % len(r.get("recent", [])),
         (len(first), rc, err, got[:2]))
    for i in range(1000):
        e.raw("cancel", {"target": "company:ACME%021d" % i, "yes": True})
    rc, out, err = e.ctl("list")
    got = [t["target"] for t in (out or {}).get("timers", [])]
    T.ok(rc == 0 and sorted(got) == sorted("ticket:%d" % (100000 + i)
                                           for i in range(MANY)) and
         all(t["fields"]["notes"] == "n" * 40 for t in out["timers"]) and
         "more" not in out,
         "cwtimectl list: all %d timers with their fields" % MANY,
         (rc, err, len(got)))
    e.stop()


def test_big_stop(base):
    e = Env(base, "bigstop", "[timers]\nconcurrency = parallel\n"
            "max_duration = 0\n")
    envs.append(e)
    if not T.ok(e.start(), "cwtimed (concurrency parallel) starts",
                e.log_text()):
        return
    notes = "long notes " + "x" * 1500
    lines = pipelined(e, [("start", {"target": str(300000 + i),
                                     "ago_s": 3600, "notes": notes})
                          for i in range(45)])
    T.ok(len(lines) == 45 and all(json.loads(x).get("ok") for x in lines),
         "45 timers with 1.5 KB of notes start", lines[:1])
    rc, out, err = e.ctl("stop", "--all")
    timers = (out or {}).get("timers", [])
    T.ok(rc == 0 and out.get("bodies_omitted") is True and
         len(timers) == 45 and
         all(len(t["entries"]) == 1 and "body" not in t["entries"][0] and
             len(t["entries"][0]["uuid"]) == 36 for t in timers) and
         out["queue"]["pending"] == 45,
         "stop --all of a 80 KB record: ok, each entry named, the bodies "
         "left out of the reply", (rc, err, out and
                                   {k: v for k, v in out.items()
                                    if k != "timers"}))
    rc, q, err = e.ctl("queue")
    T.ok(rc == 0 and len(q["entries"]) == 45 and
         all(x["entry"]["notes"] == notes for x in q["entries"]),
         "the queue has the 45 entries with their notes", (rc, err))
    lines = pipelined(e, [("start", {"target": str(400000 + i),
                                     "ago_s": 3600})
                          for i in range(400)])
    T.ok(len(lines) == 400 and all(json.loads(x).get("ok") for x in lines),
         "400 timers start", lines[:1])
    # one record for 400 timers is over the journal's 256 KiB: refused,
    # clearly, and nothing changes
    p = subprocess.run([timerlib.CWTIMECTL, "stop", "--all"], env=e.env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    rc, st, err = e.ctl("status")
    T.ok(p.returncode == 2 and b"the change is too large to record" in
         p.stderr and rc == 0 and
         len(st["timers"]) + st.get("timers_omitted", 0) == 400 and
         st["queue"]["pending"] == 45,
         "stop --all of 400 timers: refused as too large to record, "
         "nothing changed", (p.returncode, p.stderr[-300:], rc, err))
    lines = pipelined(e, [("stop", {"target": str(400000 + i)})
                          for i in range(100)])
    T.ok(len(lines) == 100 and all(json.loads(x).get("ok") for x in lines),
         "100 of them stop one by one", lines[:1])
    p = subprocess.run([timerlib.CWTIMECTL, "stop", "--all"], env=e.env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    T.ok(p.returncode == 0 and p.stdout.decode() ==
         "stopped; 445 entries are pending: 'cwtimectl queue' lists them\n",
         "stop --all of 300 timers: the reply counts what even names "
         "would not fit", (p.returncode, p.stdout[:300], p.stderr[-300:]))
    rc, st, err = e.ctl("status")
    T.ok(rc == 0 and st["timers"] == [] and st["queue"]["pending"] == 445,
         "every timer stopped, 445 entries queued", (rc, err))
    e.stop()


def test_queue_parts(base):
    e = Env(base, "queue")
    envs.append(e)
    if not T.ok(e.start(), "cwtimed (no [api]) starts", e.log_text()):
        return
    n = 600
    at = int(timerlib.time.time()) - 30 * 86400
    lines = pipelined(e, [("log", {"target": str(200000 + i),
                                   "duration_s": 900, "at": at + 3600 * i,
                                   "notes": "queued %d" % i})
                          for i in range(n)])
    T.ok(len(lines) == n and all(json.loads(x).get("ok") for x in lines),
         "%d entries logged into the queue" % n, lines[:1])
    first = pipelined(e, [("queue", None)])[0]
    r = json.loads(first).get("result", {})
    more = r.get("more", {})
    T.ok(len(first) + 1 <= LINE_MAX and r.get("truncated") is True and
         0 < r.get("returned", 0) == len(r.get("entries", [])) < n and
         more.get("from") == r["returned"] and more.get("total") == n and
         more.get("key") == "entries" and r["queue"]["pending"] == n,
         "queue: the first line holds %d of %d entries and says where the "
         "rest begins" % (r.get("returned", 0), n),
         {k: v for k, v in r.items() if k != "entries"})
    rc, out, err = e.ctl("queue")
    notes = [x["entry"].get("notes") for x in (out or {}).get("entries", [])]
    T.ok(rc == 0 and notes == ["queued %d" % i for i in range(n)] and
         out["truncated"] is False and out["returned"] == n and
         "more" not in out,
         "cwtimectl --json queue: all %d entries, in queue order" % n,
         (rc, err, len(notes)))
    p = subprocess.run([timerlib.CWTIMECTL, "queue"], env=e.env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    rows = [ln for ln in p.stdout.decode().splitlines() if " pending " in ln]
    T.ok(p.returncode == 0 and len(rows) == n and
         b"only the first" not in p.stdout,
         "cwtimectl queue: a table of %d rows" % n, (p.returncode, len(rows),
                                                    p.stderr[-300:]))
    e.stop()


def main():
    timerlib.probe_binaries()
    base = timerlib.make_base()
    try:
        test_single(base)
        test_many(base)
        test_big_stop(base)
        test_queue_parts(base)
        bad = [b for e in envs for b in e.bad_exits]
        T.ok(not bad, "every cwtimed exited 0 on SIGTERM (no sanitizer "
             "report)", "\n".join("exit %r:\n%s" % b for b in bad))
    finally:
        timerlib.cleanup(base, envs)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
