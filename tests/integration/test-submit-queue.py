"""test-submit-queue.py - issue #5's gaps, end to end against tests/fakecw:

- `flush` of 1,000 entries answers within the 64 KiB reply line, with a
  per-entry report (submitted entries as [uuid, id] pairs, the others in
  full, the rest counted in "omitted"), and cwtimectl prints it;
- `queue edit --add-to/--email` (as for start): the re-queued POST body
  carries addToDetailDescriptionFlag & co.;
- an entry's pending age (status "submission.oldest_queued_age_s")
  survives a daemon restart (queued_at, from the log or the stop record).

Waits poll with deadlines; nothing sleeps to wait.
"""

import json
import os
import socket
import subprocess
import sys

SRCDIR = os.environ.get("top_srcdir", ".")
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
import submitlib  # noqa: E402
from submitlib import timerlib  # noqa: E402

T = timerlib.Tap()
LINE_MAX = 64 * 1024  # PROTO_LINE_MAX


def pipelined(env, reqs, timeout=120):
    """Sends [(cmd, args)] on one connection; returns the replies."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(env.socket)
    out, buf = [], b""
    try:
        for k in range(0, len(reqs), 64):
            chunk = reqs[k:k + 64]
            s.sendall(b"".join(
                json.dumps({"v": 1, "id": k + n + 1, "cmd": c, "args": a})
                .encode() + b"\n" for n, (c, a) in enumerate(chunk)))
            want = len(out) + len(chunk)
            while len(out) < want:
                while b"\n" not in buf:
                    got = s.recv(1 << 20)
                    if not got:
                        raise OSError("cwtimed closed the connection")
                    buf += got
                line, buf = buf.split(b"\n", 1)
                msg = json.loads(line)
                if "event" not in msg:
                    out.append(msg)
    finally:
        s.close()
    return out


def raw_line(env, cmd, args=None, timeout=120):
    """One request; returns (reply line length, parsed reply)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(env.socket)
    req = {"v": 1, "id": 1, "cmd": cmd}
    if args is not None:
        req["args"] = args
    s.sendall((json.dumps(req) + "\n").encode())
    buf = b""
    try:
        while b"\n" not in buf:
            got = s.recv(1 << 20)
            if not got:
                break
            buf += got
    finally:
        s.close()
    line = buf.split(b"\n", 1)[0]
    return len(line) + 1, json.loads(line)


def queue_paused(s, n, first_slot):
    """Pauses the queue and logs n entries; returns their UUIDs."""
    r = s.env.raw("queue.pause")
    assert r.get("ok"), r
    reps = pipelined(s.env, [("log", {
        "target": "54321", "duration_s": 1800,
        "at": submitlib.DAY0 + (first_slot + i) * 3600}) for i in range(n)])
    bad = [r for r in reps if not r.get("ok")]
    assert not bad, bad[:1]
    return [r["result"]["entries"][0]["uuid"] for r in reps]


POST = {"method": "POST", "path": "/time/entries"}


def case_flush_many(base, cw, n=1000):
    name = "flush %d" % n
    cw.reset()
    s = submitlib.Submit(base, "flushmany", cw)
    T.ok(s.start(), "%s: cwtimed ready" % name, s.env.log_text())
    uuids = queue_paused(s, n, 0)
    # the first POST takes a second (under the 2 s timeout), and the
    # submitter sends one POST at a time until one succeeded: the flush
    # below surely finds all n entries waiting
    cw.add_fault("slow-apply", count=1, match=POST, seconds=1)
    r = s.env.raw("queue.resume")
    T.ok(r.get("ok"), "%s: queue resume" % name, repr(r))
    size, rep = raw_line(s.env, "flush")
    res = rep.get("result", {})
    T.ok(rep.get("ok") and size <= LINE_MAX,
         "%s: flush answers ok in one line within 64 KiB (%d bytes)"
         % (name, size), repr(rep.get("error")))
    counts = {k: res.get(k, 0) for k in
              ("pending", "attempting", "unknown", "submitted", "rejected",
               "omitted")}
    listed = {u: i for u, i in res.get("submitted_entries", [])}
    # a slow (sanitizer) build may reach flush's deadline first: what is
    # not submitted yet is still pending, and listed in full
    T.ok(counts["pending"] + counts["attempting"] + counts["submitted"] == n
         and counts["unknown"] == 0 and counts["rejected"] == 0 and
         counts["submitted"] > 0,
         "%s: the counts cover every entry" % name, repr(counts))
    T.ok(len(listed) + counts["omitted"] + len(res.get("entries", []))
         == n and len(listed) == counts["submitted"] and
         set(listed) <= set(uuids),
         "%s: per entry: %d [uuid, id] pairs, %d in full, %d omitted"
         % (name, len(listed), len(res.get("entries", [])),
            counts["omitted"]))
    ok = s.env.wait_for(lambda: len(submitlib.posts(cw.requests())) >= n,
                        timeout=120)
    posts = submitlib.posts(cw.requests())
    ids = {p["body"]["mobileGuid"]: p["response"]["id"] for p in posts
           if isinstance(p.get("response"), dict)}
    T.ok(ok and len(posts) == n and len(ids) == n and
         all(ids.get(u) == i for u, i in listed.items()),
         "%s: one POST per entry; the listed ids are the fake's" % name,
         "%d POSTs" % len(posts))
    s.stop()


def case_flush_rejected(base, cw, n=400):
    """All but the first entry refused: their full entries would not fit
    one line, so the reply lists what fits and counts the rest; cwtimectl
    prints the report."""
    name = "flush, %d rejected" % (n - 1)
    cw.reset()
    s = submitlib.Submit(base, "flushrej", cw)
    T.ok(s.start(), "%s: cwtimed ready" % name, s.env.log_text())
    uuids = queue_paused(s, n, 2000)
    cw.add_fault("slow-apply", count=1, match=POST, seconds=1)
    cw.add_fault("status", count=n, match=POST, status=400,
                 body={"code": "InvalidObject",
                       "message": "timeStart is closed", "errors": None})
    s.env.raw("queue.resume")
    p = subprocess.run([timerlib.CWTIMECTL, "flush"], env=s.env.env,
                       capture_output=True, timeout=120)
    text = p.stdout.decode(errors="replace").splitlines()
    rej = [l for l in text[1:] if l.split()[1:2] == ["rejected"]]
    sub = [l for l in text[1:] if l.split()[1:2] == ["submitted"]]
    more = [l for l in text if l.startswith("(")]
    T.ok(p.returncode == 0 and text and
         text[0] == "flush: 1 submitted, %d rejected, 0 unknown, "
         "0 pending" % (n - 1),
         "%s: cwtimectl flush exits 0 with the summary" % name,
         repr((p.returncode, text[:1], p.stderr[-300:])))
    omitted = int(more[0].split()[0][1:]) if more else 0
    # the entries that need the user come first; the submitted one's pair
    # did not fit after them, and is counted
    T.ok(rej and all(l.split()[0] in uuids and
                     l.endswith("timeStart is closed") for l in rej) and
         omitted > 0 and len(rej) + len(sub) + omitted == n,
         "%s: one line per entry with ConnectWise's message (%d), the "
         "rest counted (%d)" % (name, len(rej), omitted),
         repr(text[:3] + text[-2:]))
    s.stop()


def case_edit_flags(base, cw):
    name = "queue edit --add-to/--email"
    cw.reset()
    s = submitlib.Submit(base, "editflags", cw)
    T.ok(s.start(), "%s: cwtimed ready" % name, s.env.log_text())
    cw.add_fault("status", count=1, match=POST, status=400,
                 body={"code": "InvalidObject", "message": "refused once",
                       "errors": None})
    rep = s.raw_log(3000)
    u = rep["result"]["entries"][0]["uuid"]
    ok = s.env.wait_for(lambda: s.states().get(u) == "rejected", timeout=30)
    T.ok(ok, "%s: the entry is rejected" % name)
    rc, out, err = s.env.ctl("queue", "edit", u[:8], "--add-to", "bogus")
    T.ok(rc != 0 and "'bogus' is not one of detail, internal, resolution"
         in err, "%s: an unknown word is refused" % name, repr((rc, err)))
    rc, out, err = s.env.ctl("queue", "edit", u[:8], "--add-to",
                             "detail,Resolution", "--email", "resource")
    T.eq(rc, 0, "%s: cwtimectl queue edit exits 0" % name)

    def posted():
        ps = [p for p in submitlib.posts(cw.requests())
              if p["body"].get("mobileGuid") == u]
        return len(ps) == 2 and ps
    ps = s.env.wait_for(posted, timeout=30) or []
    body = ps[-1]["body"] if ps else {}
    T.ok(body.get("addToDetailDescriptionFlag") is True and
         body.get("addToResolutionFlag") is True and
         body.get("addToInternalAnalysisFlag") in (None, False) and
         body.get("emailResourceFlag") is True and
         body.get("emailContactFlag") in (None, False),
         "%s: the re-queued POST carries the flags" % name, repr(body))
    T.ok(s.env.wait_for(lambda: s.states().get(u) == "submitted",
                        timeout=30),
         "%s: submitted after the edit" % name)
    # on a pending entry: set, then take away (exactly the listed flags)
    s.env.raw("queue.pause")
    rep = s.raw_log(3001)
    u2 = rep["result"]["entries"][0]["uuid"]
    r = s.env.raw("queue.edit", {"id": u2[:13], "add_to": "internal",
                                 "email": "contact,cc",
                                 "email_cc": "a@example.com"})
    T.ok(r.get("ok"), "%s: edit of a pending entry" % name, repr(r))
    r = s.env.raw("queue.edit", {"id": u2[:13], "add_to": "",
                                 "email": "cc"})
    T.ok(r.get("ok"), "%s: a second edit clears --add-to" % name, repr(r))
    r = s.env.raw("queue.edit", {"id": u2[:13], "email": "cc",
                                 "email_cc": ""})
    T.ok(not r.get("ok") and r["error"].get("field") == "email_cc",
         "%s: emailCcFlag without addresses is refused, field email_cc"
         % name, repr(r))
    # flush of a paused queue answers at once: the entry, pending
    p = subprocess.run([timerlib.CWTIMECTL, "flush"], env=s.env.env,
                       capture_output=True, timeout=60)
    text = p.stdout.decode(errors="replace").splitlines()
    T.ok(p.returncode == 0 and len(text) >= 3 and
         text[0] == "flush: 0 submitted, 0 rejected, 0 unknown, 1 pending"
         and text[1].startswith("submission paused: ") and
         text[2].split()[:2] == [u2, "pending"],
         "%s: cwtimectl flush while paused: summary, why, the entry"
         % name, repr(text))
    s.env.raw("queue.resume")
    ps = s.env.wait_for(lambda: [p for p in submitlib.posts(cw.requests())
                                 if p["body"].get("mobileGuid") == u2],
                        timeout=30) or []
    body = ps[-1]["body"] if ps else {}
    T.ok(len(ps) == 1 and body.get("addToInternalAnalysisFlag") is False
         and body.get("emailContactFlag") is False and
         body.get("emailCcFlag") is True and
         body.get("emailCc") == "a@example.com",
         "%s: one POST with the last edit's flags" % name, repr(body))
    s.stop()


def case_age_restart(base, cw):
    name = "pending age across a restart"
    cw.reset()
    s = submitlib.Submit(base, "age", cw)
    T.ok(s.start(), "%s: cwtimed ready" % name, s.env.log_text())
    s.env.raw("queue.pause")
    s.raw_log(4000)  # queued_at from the log
    r = s.env.raw("start", {"target": "54321", "ago_s": 1200})
    T.ok(r.get("ok"), "%s: a timer starts" % name, repr(r))
    r = s.env.raw("stop", {"target": "54321"})
    T.ok(r.get("ok"), "%s: and stops (an entry from TIMER_STOPPED)" % name,
         repr(r))

    def age():
        r = s.env.raw("status")
        return r["result"]["submission"]["oldest_queued_age_s"]
    T.ok(s.env.wait_for(lambda: age() >= 3, timeout=20),
         "%s: the age grows while the queue is paused" % name)
    s.stop()
    T.ok(s.start(), "%s: restarted" % name)
    a = age()
    T.ok(a >= 3, "%s: after the restart the age is still >= 3 s (%d), "
         "not 0" % (name, a))
    # every waiting entry's age, through a checkpoint too: the shutdown
    # wrote one (RELIABILITY 2.7), so this start restored from it
    j = s.journal()
    T.ok(j.checkpoint and all(
        e.get("queued_at", 0) > 0 for e in
        j.checkpoint[1].get("outbox", {}).get("entries", [])),
        "%s: the checkpoint keeps queued_at" % name)
    s.stop()


def main():
    timerlib.probe_binaries()
    base = timerlib.make_base()
    cwdir = os.path.join(base, "fakecw")
    os.makedirs(cwdir)
    cw = submitlib.fakeclient.FakeCW(cwdir)
    try:
        cw.start()
    except Exception as e:  # noqa: BLE001
        print("skip-probe: starting tests/fakecw/fakecw.py: %s" % e)
        print("1..0 # SKIP the fake ConnectWise does not start")
        return 0
    try:
        case_edit_flags(base, cw)
        case_age_restart(base, cw)
        case_flush_many(base, cw)
        case_flush_rejected(base, cw)
    finally:
        cw.stop()
        timerlib.cleanup(base, submitlib.ENVS)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
