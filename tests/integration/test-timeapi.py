#!/usr/bin/env python3
"""test-timeapi.py - the time API through the daemon, end to end: the real
cwtimed and cwtimectl against the fake ConnectWise server (tests/fakecw).

Asserts the exact decoded query each filter and shortcut sends, that
hostile values never change a query's meaning, paging past 1,000 records,
PATCH bodies, the refusal to delete a billed entry, approvals with good
and bad ids, every sheet action, name resolution and its errors, the
reference data cache, ConnectWise's own error messages (the 429 body with
"error" instead of "code" included), table totals, --json objects and exit
statuses (4 when ConnectWise refused). Runs with TZ=UTC so that dates are
fixed. Prints TAP.
"""
import calendar
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
SRCDIR = os.environ.get("top_srcdir", ".")
sys.path.insert(0, os.path.join(SRCDIR, "tests", "fakecw"))
import client  # noqa: E402

CWTIMED = os.environ.get("CWTIMED", "./cwtimed")
CTL = os.environ.get("CWTIMECTL", "./cwtimectl")

results = []


def ok(cond, name, diag=None):
    results.append((bool(cond), name, diag))
    return bool(cond)


class Daemon:
    def __init__(self, base, api_url, extra_conf="", creds=True):
        self.runtime = os.path.join(base, "run")
        self.state = os.path.join(base, "state")
        self.config = os.path.join(base, "conf")
        for d in (self.runtime, self.state, self.config):
            os.makedirs(d, mode=0o700, exist_ok=True)
        cdir = os.path.join(self.config, "cwtimed")
        os.makedirs(cdir, mode=0o700, exist_ok=True)
        with open(os.path.join(cdir, "cwtimed.conf"), "w") as f:
            # back-dated timers must not be cut at a midnight that
            # depends on when the test runs (as timerlib does)
            f.write("[timers]\nsplit_at_midnight = no\n")
            f.write("[api]\nurl = %s\ncompany = %s\nmember = jdoe\n%s"
                    % (api_url, client.COMPANY, extra_conf))
            if not creds:  # the offline daemon: a short [reference] ttl
                f.write("[reference]\nttl = 2m\n")
        self.cred = os.path.join(cdir, "credentials")
        if creds:
            self.write_creds()
        self.notify_path = os.path.join(base, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.env = dict(os.environ)
        for k in ("LISTEN_FDS", "LISTEN_PID", "JOURNAL_STREAM",
                  "WATCHDOG_USEC", "CREDENTIALS_DIRECTORY"):
            self.env.pop(k, None)
        self.env.update({"XDG_RUNTIME_DIR": self.runtime,
                         "XDG_STATE_HOME": self.state,
                         "XDG_CONFIG_HOME": self.config,
                         "HOME": base, "TZ": "UTC"})
        denv = dict(self.env)
        denv["NOTIFY_SOCKET"] = self.notify_path
        self.log = os.path.join(base, "cwtimed.log")
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen([CWTIMED, "--log-level", "debug"],
                                     env=denv, stdout=self.logf,
                                     stderr=subprocess.STDOUT)

    def write_creds(self):
        fd = os.open(self.cred, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("[api]\npublic_key = %s\nprivate_key = %s\n"
                    "client_id = %s\n" % (client.PUBLIC_KEY,
                                          client.PRIVATE_KEY,
                                          client.CLIENT_ID))

    def wait_ready(self, timeout=20.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r, _, _ = select.select([self.notify], [], [], 0.1)
            if r and "READY=1" in self.notify.recv(4096).decode():
                return True
            if self.proc.poll() is not None:
                return False
        return False

    def drain_notify(self):
        """Reads the STATUS= datagrams cwtimed sends on every change, so
        that the socket keeps the latest (a full queue makes cwtimed drop
        them: test-notify.py)."""
        self.notify.setblocking(False)
        try:
            while True:
                self.notify.recv(4096)
        except OSError:
            pass

    def ctl(self, *args, timeout=60):
        self.drain_notify()
        p = subprocess.run([CTL] + list(args), capture_output=True,
                           text=True, env=self.env, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def ctl_json(self, *args):
        code, out, err = self.ctl("--json", *args)
        try:
            return code, json.loads(out), err
        except ValueError:
            return code, None, err + out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.notify.close()
        self.logf.close()
        return self.proc.returncode


class Log:
    """The fake's request log, read incrementally."""

    def __init__(self, cw):
        self.cw = cw
        self.seen = 0

    def new(self):
        reqs = self.cw.requests()
        out = reqs[self.seen:]
        self.seen = len(reqs)
        return out


def gets(reqs, path):
    return [r for r in reqs if r["method"] == "GET" and r["relpath"] == path]


def cond_of(reqs, path="/time/entries"):
    g = gets(reqs, path)
    return g[0]["query"].get("conditions") if g else None


def main():
    if shutil.which(CWTIMED) is None and not os.access(CWTIMED, os.X_OK):
        print("1..0 # SKIP skip-probe: cwtimed not built (%s)" % CWTIMED)
        return 0
    base = tempfile.mkdtemp(prefix="cwt-timeapi-")
    os.chmod(base, 0o700)
    cw = client.FakeCW(os.path.join(base, "fake"))
    os.makedirs(os.path.join(base, "fake"), exist_ok=True)
    d = None
    try:
        cw.start()
        d = Daemon(base, cw.api_url)
        if not ok(d.wait_ready(), "cwtimed starts with [api] url at the fake",
                  open(d.log, "rb").read().decode(errors="replace")[-2000:]):
            return finish()
        try:
            run_all(d, cw, Log(cw))
            test_offline_stop(base, cw)
        except Exception as ex:  # a broken step must still print TAP
            import traceback
            ok(False, "the test ran to its end", traceback.format_exc())
    finally:
        if d:
            status = d.stop()
            ok(status == 0, "cwtimed exits 0 on SIGTERM (exit %s)" % status,
               open(d.log, "rb").read().decode(errors="replace")[-3000:])
        cw.stop()
        shutil.rmtree(base, ignore_errors=True)
    return finish()


def finish():
    print("1..%d" % len(results))
    failed = 0
    for i, (good, name, diag) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if good else "not ok", i, name))
        if not good:
            failed += 1
            if diag:
                for line in str(diag).splitlines()[-40:]:
                    print("# " + line)
    return 0


def run_all(d, cw, log):
    test_search_filters(d, cw, log)
    test_hostile(d, cw, log)
    test_names(d, cw, log)
    test_stop_names(d, cw, log)
    test_paging(d, cw, log)
    test_show_edit_delete(d, cw, log)
    test_approvals(d, cw, log)
    test_sheets(d, cw, log)
    test_errors(d, cw, log)


def test_search_filters(d, cw, log):
    log.new()
    code, out, err = d.ctl("entries", "--member", "123", "--since",
                           "2024-02-12", "--until", "2024-02-18")
    reqs = log.new()
    g = gets(reqs, "/time/entries")
    ok(code == 0 and len(g) == 1 and g[0]["query"] == {
        "conditions": "member/id=123 and timeStart>=[2024-02-12T00:00:00Z] "
                      "and timeStart<[2024-02-19T00:00:00Z]",
        "pageSize": "1000", "pageId": "0"}
       and g[0]["headers"].get("pagination-type") == "forward-only",
       "entries --member --since --until: exact query, forward-only paging",
       (code, err, reqs))
    # 1001 only (1002 is on 2024-02-21): 1.5 h, billable
    ok("\n1001 " in out and "2024-02-15 09:00" in out and
       "ticket:54321" in out and "1002" not in out and
       "1 entries, 1.50 h, billable 1.50 h" in out,
       "entries prints the entry and the total hours", out)

    code, js, err = d.ctl_json("entries", "--member", "123", "--since",
                               "2024-02-12", "--until", "2024-02-18")
    log.new()
    ok(code == 0 and js and js["count"] == 1 and js["hours"] == 1.5 and
       js["billable_hours"] == 1.5 and js["entries"][0]["id"] == 1001 and
       js["entries"][0]["chargeToId"] == 54321,
       "entries --json: ConnectWise's objects and the totals", (code, js, err))

    cases = [
        (("--target", "54321"),
         'chargeToType="ServiceTicket" and chargeToId=54321'),
        (("--target", "project:7001"),
         'chargeToType="ProjectTicket" and chargeToId=7001'),
        (("--target", "code:10"),
         'chargeToType="ChargeCode" and chargeToId=10'),
        (("--target", "company:AcmeCorp"), 'company/identifier="AcmeCorp"'),
        (("--company", "12345"), "company/id=12345"),
        (("--mine",), 'member/identifier="jdoe"'),
        (("--member", "me"), 'member/identifier="jdoe"'),
        (("--status", "pendingapproval"), 'status="PendingApproval"'),
        (("--billing", "DoNotBill"), 'billableOption="DoNotBill"'),
        (("--unbilled",), 'status="Open" and billableOption="Billable"'),
        (("--awaiting-billing",),
         '(status="ApprovedByTierOne" or status="ApprovedByTierTwo" or '
         'status="ReadyToBill") and billableOption="Billable"'),
        (("--member", "123", "--unbilled", "--conditions",
          'notes contains "fuser" or notes contains "VPN"'),
         'member/id=123 and status="Open" and billableOption="Billable" '
         'and (notes contains "fuser" or notes contains "VPN")'),
        (("--mine", "--target", "54322", "--status", "Open", "--billing",
          "Billable"),
         'member/identifier="jdoe" and status="Open" and '
         'billableOption="Billable" and chargeToType="ServiceTicket" and '
         'chargeToId=54322'),
    ]
    for args, want in cases:
        code, out, err = d.ctl("entries", *args)
        got = cond_of(log.new())
        ok(code == 0 and got == want,
           "entries %s sends conditions=%s" % (" ".join(args), want),
           (code, got, err))

    # --today and --this-week are local days (TZ=UTC here)
    now = time.time()
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    nxt = time.strftime("%Y-%m-%d", time.gmtime(now + 86400))
    code, out, err = d.ctl("entries", "--today")
    got = cond_of(log.new())
    # the day may turn over between our clock read and the daemon's
    ok(code == 0 and got in (
        "timeStart>=[%sT00:00:00Z] and timeStart<[%sT00:00:00Z]"
        % (day, nxt),
        "timeStart>=[%sT00:00:00Z] and timeStart<[%sT00:00:00Z]" % (
            nxt, time.strftime("%Y-%m-%d", time.gmtime(now + 2 * 86400)))),
       "entries --today: today's local midnight to tomorrow's", (got, err))
    code, out, err = d.ctl("entries", "--this-week")
    got = cond_of(log.new())
    tm = time.gmtime(now)
    mon = now - tm.tm_wday * 86400
    want = "timeStart>=[%sT00:00:00Z] and timeStart<[%sT00:00:00Z]" % (
        time.strftime("%Y-%m-%d", time.gmtime(mon)),
        time.strftime("%Y-%m-%d", time.gmtime(mon + 7 * 86400)))
    ok(code == 0 and got == want,
       "entries --this-week: Monday to next Monday", (got, want, err))

    code, out, err = d.ctl("entries", "--order-by", "timeStart desc",
                           "--limit", "2", "--member", "123")
    g = gets(log.new(), "/time/entries")
    ok(code == 0 and len(g) == 1 and g[0]["query"] == {
        "conditions": "member/id=123", "orderBy": "timeStart desc",
        "page": "1", "pageSize": "2"} and
       "pagination-type" not in g[0]["headers"] and
       "1004" in out and "1003" in out and "1001" not in out,
       "entries --order-by uses navigable paging, --limit the page size",
       (code, g, out, err))

    # client-side checks: nothing reaches ConnectWise
    for args, status, what in [
            (("--status", "Approved"), 2, "ApprovedByTierOne"),
            (("--status", "Bogus"), 2, "invalid status 'Bogus'"),
            (("--today", "--since", "2024-01-01"), 2, "cannot be combined"),
            (("--unbilled", "--awaiting-billing"), 2, "cannot be combined"),
            (("--since", "2024-02-10", "--until", "2024-02-01"), 2,
             "--until must be after --since"),
            (("--order-by", "timeStart; drop"), 2, "invalid --order-by"),
            (("--mine", "--member", "5"), 2, "cannot be combined"),
    ]:
        code, out, err = d.ctl("entries", *args)
        reqs = log.new()
        ok(code == status and what in err and not reqs,
           "entries %s: exit %d, '%s', nothing sent" % (" ".join(args),
                                                         status, what),
           (code, err, reqs))


def test_hostile(d, cw, log):
    ids = cw.insert_entries([
        {"chargeToType": "ServiceTicket", "chargeToId": 54321,
         "member": {"id": 125}, "timeStart": "2024-03-04T09:00:00Z",
         "timeEnd": "2024-03-04T10:00:00Z", "billableOption": "Billable",
         "notes": 'a) or (id>0'},
        {"chargeToType": "ServiceTicket", "chargeToId": 54321,
         "member": {"id": 125}, "timeStart": "2024-03-04T11:00:00Z",
         "timeEnd": "2024-03-04T12:00:00Z", "billableOption": "Billable",
         "notes": 'say "hi" and or'},
    ])
    log.new()
    for raw, want_ids in [
            ('notes contains \'say "hi" and or\'', [ids[1]]),
            ('notes contains "a) or (id>0"', [ids[0]]),
            ('notes contains "(" or notes contains \'"\'', ids),
    ]:
        code, js, err = d.ctl_json("entries", "--member", "125",
                                   "--conditions", raw)
        got = cond_of(log.new())
        ok(code == 0 and got == "member/id=125 and (%s)" % raw and
           sorted(e["id"] for e in js["entries"]) == sorted(want_ids),
           "hostile raw conditions stay inside their parentheses: %s" % raw,
           (code, got, js, err))
    for raw, what in [('x=1) or (id>0', "unbalanced ')'"),
                      ('notes="open', "unterminated"),
                      ('(id>0', "unclosed")]:
        code, out, err = d.ctl("entries", "--member", "125", "--conditions",
                               raw)
        reqs = log.new()
        ok(code == 2 and "bad-filter" in err and what in err and not reqs,
           "raw conditions that could escape are refused (%s)" % raw,
           (code, err, reqs))
    # hostile names never reach a query: they resolve or fail
    code, out, err = d.ctl("entries", "--work-type",
                           'Remote" or id>0 or "')
    reqs = log.new()
    ok(code == 2 and "unknown-name" in err and
       not gets(reqs, "/time/entries"),
       "a hostile work type name is an unknown name, never a condition",
       (code, err, reqs))


def test_names(d, cw, log):
    # the list was fetched by test_hostile; it is cached now
    code, out, err = d.ctl("entries", "--work-type", "remote", "--member",
                           "123")
    reqs = log.new()
    ok(code == 0 and cond_of(reqs) == "member/id=123 and workType/id=5" and
       not gets(reqs, "/time/workTypes"),
       "--work-type NAME resolves from the cache (no second fetch)",
       (code, err, reqs))
    code, out, err = d.ctl("entries", "--work-type", "Remot3")
    reqs = log.new()
    ok(code == 2 and "unknown-name" in err and
       "close matches: 'Remote' (5)" in err and
       not gets(reqs, "/time/entries"),
       "an unknown work type lists close matches", (code, err))
    code, out, err = d.ctl("entries", "--work-type", "tr")
    ok(code == 2 and "ambiguous-name" in err and "'Training' (3)" in err
       and "'Travel' (4)" in err, "an ambiguous prefix lists the candidates",
       (code, err))
    code, out, err = d.ctl("entries", "--work-type", "Legacy Field Work")
    ok(code == 2 and "inactive" in err, "an inactive work type is refused",
       (code, err))
    code, out, err = d.ctl("entries", "--target", "code:mtng")
    reqs = log.new()
    ok(code == 0 and cond_of(reqs) ==
       'chargeToType="ChargeCode" and chargeToId=10' and
       len(gets(reqs, "/time/chargeCodes")) == 1,
       "code:NAME resolves through the charge codes", (code, err, reqs))

    code, js, err = d.ctl_json("worktypes")
    reqs = log.new()
    ok(code == 0 and len(js["items"]) == 8 and
       {"id": 5, "name": "Remote"}.items() <= js["items"][4].items() and
       not gets(reqs, "/time/workTypes"),
       "worktypes answers from the cache", (code, js, reqs))
    code, js, err = d.ctl_json("worktypes", "--refresh")
    reqs = log.new()
    g = gets(reqs, "/time/workTypes")
    ok(code == 0 and len(g) == 1 and g[0]["query"].get("pageSize") == "1000"
       and len(js["items"]) == 8, "worktypes --refresh fetches again",
       (code, reqs))
    code, js, err = d.ctl_json("roles")
    ok(code == 0 and [r["name"] for r in js["items"]][:2] ==
       ["Level 1 Tech", "Level 2 Tech"], "roles lists the work roles",
       (code, js, err))
    code, out, err = d.ctl("codes")
    ok(code == 0 and "MTNG" in out and "ONCALL" in out,
       "codes lists the charge codes", (code, out, err))
    # a big MSP: 700 charge codes are several reply lines
    n0 = len(js_codes(d))
    ids = cw.insert_charge_codes(
        {"id": 5000 + i, "name": "Project work code %03d %s" % (i, "x" * 60),
         "company": 19297, "billTime": "Billable", "timeEntryFlag": True,
         "expenseEntryFlag": False} for i in range(700))
    code, js, err = d.ctl_json("codes", "--refresh")
    names = [c["name"] for c in (js or {}).get("items", [])]
    ok(code == 0 and len(names) == n0 + 700 and
       all("Project work code %03d" % i in " ".join(names[-700:])
           for i in (0, 350, 699)) and not js.get("truncated") and
       "more" not in js and len(ids) == 700,
       "codes --refresh with 700 more codes: every one, joined from parts",
       (code, err, len(names)))
    code, out, err = d.ctl("codes")
    ok(code == 0 and out.count("Project work code") == 700,
       "codes prints all %d of them" % (n0 + 700), (code, err[-300:]))
    log.new()


def js_codes(d):
    code, js, err = d.ctl_json("codes")
    return (js or {}).get("items", [])


def posts_of(reqs, guid=None):
    return [r for r in reqs if r["method"] == "POST" and
            r["relpath"] == "/time/entries" and
            (guid is None or (r.get("body") or {}).get("mobileGuid") == guid)]


def queue_entry(d, uuid):
    code, js, err = d.ctl_json("queue", "--all")
    for e in (js or {}).get("entries", []):
        if e.get("uuid") == uuid:
            return e
    return None


def stop_bodies(js):
    return [e["body"] for t in (js or {}).get("timers", [])
            for e in t.get("entries", [])]


def test_stop_names(d, cw, log):
    """A timer started with names gets ids at stop (the lists are cached
    by test_names), journaled with the stop and sent in the POST."""
    log.new()
    code, out, err = d.ctl("start", "54321", "--ago", "30m",
                           "--work-type", "remote", "--role", "level 2")
    ok(code == 0, "start with a work type and role name", (code, err))
    code, js, err = d.ctl_json("stop", "54321")
    bodies = stop_bodies(js)
    ok(code == 0 and len(bodies) == 1 and
       bodies[0].get("workType") == {"id": 5, "name": "Remote"} and
       bodies[0].get("workRole") == {"id": 2, "name": "Level 2 Tech"} and
       not js.get("warnings"),
       "stop turns the names into ids in the stop's record", (code, js, err))
    guid = bodies[0]["mobileGuid"] if bodies else None
    code, out, err = d.ctl("flush")
    reqs = cw.wait_for(lambda rs: posts_of(rs, guid), what="the POST")
    p = posts_of(reqs, guid)
    ok(p and p[0]["body"]["workType"] == {"id": 5, "name": "Remote"} and
       p[0]["body"]["workRole"]["id"] == 2 and
       p[0]["response"].get("workType", {}).get("id") == 5,
       "the POST body carries the ids", p[-1:] if p else reqs[-3:])
    ok(not gets(log.new(), "/time/workTypes"),
       "the cached list was used (no fetch at stop)")

    # an unknown name: the stop succeeds, the entry is rejected locally
    code, out, err = d.ctl("start", "54322", "--ago", "20m",
                           "--work-type", "Remot3")
    code, js, err = d.ctl_json("stop", "54322")
    bodies = stop_bodies(js)
    w = (js or {}).get("warnings") or []
    ok(code == 0 and len(bodies) == 1 and
       bodies[0].get("workType") == {"name": "Remot3"} and
       len(w) == 1 and "close matches: 'Remote' (5)" in w[0],
       "stop with an unknown name succeeds and warns with close matches",
       (code, js, err))
    guid = bodies[0]["mobileGuid"] if bodies else ""
    d.ctl("flush")
    e = queue_entry(d, guid)
    le = (e or {}).get("last_error") or {}
    ok(e and e["state"] == "rejected" and le.get("field") == "workType" and
       "close matches: 'Remote' (5)" in le.get("message", "") and
       le.get("code") == "unknown-name" and e.get("attempts") == 0,
       "the entry is rejected before sending, with close matches", e)
    code, out, err = d.ctl("queue")
    ok(code == 0 and "rejected" in out and "Remot3" in out,
       "queue shows the rejection", out)
    ok(not posts_of(log.new(), guid), "nothing was posted for it")
    # fixed by hand: edit re-queues, the name resolves, the POST has the id
    code, out, err = d.ctl("queue", "edit", guid[:8], "--work-type",
                           "Remote")
    ok(code == 0, "queue edit --work-type Remote re-queues it", (code, err))
    d.ctl("flush")
    reqs = cw.wait_for(lambda rs: posts_of(rs, guid), what="the POST")
    p = posts_of(reqs, guid)
    ok(p and p[0]["body"]["workType"] == {"id": 5, "name": "Remote"} and
       (queue_entry(d, guid) or {}).get("state") == "submitted",
       "after the edit it is sent with the id", p[-1:] if p else None)
    # the text output says it too
    d.ctl("start", "54322", "--ago", "20m", "--role", "Level 9")
    code, out, err = d.ctl("stop", "54322")
    ok(code == 0 and out.startswith("stopped ticket:54322") and
       "\nwarning: unknown work role 'Level 9'" in out and
       "'cwtimectl queue edit'" in out,
       "cwtimectl stop prints the warning", (code, out, err))
    code, js, err = d.ctl_json("queue")
    for e in (js or {}).get("entries", []):
        if e.get("state") == "rejected":
            d.ctl("queue", "drop", e["uuid"][:8], "--yes")
    log.new()


def test_offline_stop(base, cw):
    """Offline at stop (no credentials): the stop keeps the names; once
    online, the list is fetched and the POST carries the id."""
    d = Daemon(os.path.join(base, "offline"), cw.api_url, creds=False)
    try:
        if not ok(d.wait_ready(), "a second cwtimed starts offline"):
            return
        d.ctl("start", "54323", "--ago", "15m", "--work-type", "overtime")
        code, js, err = d.ctl_json("stop", "54323")
        bodies = stop_bodies(js)
        ok(code == 0 and len(bodies) == 1 and
           bodies[0].get("workType") == {"name": "overtime"},
           "offline, the stop succeeds and keeps the name", (code, js, err))
        guid = bodies[0]["mobileGuid"] if bodies else ""
        since = len(cw.requests())
        d.write_creds()
        d.proc.send_signal(signal.SIGHUP)
        reqs = cw.wait_for(lambda rs: posts_of(rs[since:], guid),
                           timeout=20, what="the POST after the reload")
        new = reqs[since:]
        wt = [i for i, r in enumerate(new) if r["method"] == "GET" and
              r["relpath"] == "/time/workTypes"]
        p = [i for i, r in enumerate(new) if r in posts_of(new, guid)]
        body = new[p[0]]["body"] if p else {}
        ok(wt and p and wt[0] < p[0] and
           body.get("workType") == {"id": 2, "name": "Overtime"},
           "online: the list is fetched first, the POST carries the id",
           new)
        e = queue_entry(d, guid)
        ok(e and e["entry"].get("workType") == {"id": 2, "name": "Overtime"},
           "the queue's copy has the id too (ENTRY_EDITED)", e)
        code, js, err = d.ctl_json("worktypes")
        ok(code == 0 and js.get("ttl_s") == 120,
           "[reference] ttl = 2m is the cache's TTL", js)
        # the role list cannot be had (403): the name goes as it is, and
        # ConnectWise resolves it; the entry is not held back
        cw.add_fault("status", status=403, always=True,
                     match={"method": "GET", "path": "/time/workRoles"},
                     body={"code": "Security", "message": "no access"})
        since = len(cw.requests())
        d.ctl("start", "54324", "--ago", "15m", "--role", "level 1 tech")
        code, js, err = d.ctl_json("stop", "54324")
        bodies = stop_bodies(js)
        guid = bodies[0]["mobileGuid"] if bodies else ""
        d.ctl("flush")
        reqs = cw.wait_for(lambda rs: posts_of(rs[since:], guid),
                           what="the POST with the role name")
        p = posts_of(reqs[since:], guid)
        ok(code == 0 and p and
           p[0]["body"].get("workRole") == {"name": "level 1 tech"} and
           p[0]["response"].get("workRole", {}).get("id") == 1 and
           gets(reqs[since:], "/time/workRoles"),
           "a list that cannot be fetched: the name is sent, ConnectWise "
           "resolves it", (js, p[-1:] if p else reqs[since:]))
        cw.clear_faults()
    finally:
        d.stop()


def test_paging(d, cw, log):
    batch = []
    for i in range(1500):
        h, m = divmod(i, 60)
        batch.append({"chargeToType": "ServiceTicket", "chargeToId": 54323,
                      "member": {"id": 125},
                      "timeStart": "2024-05-%02dT%02d:%02d:00Z"
                                   % (1 + h // 24, h % 24, m),
                      "actualHours": 0.25, "billableOption": "DoNotBill",
                      "notes": "bulk %d" % i})
    ids = cw.insert_entries(batch)
    log.new()
    code, js, err = d.ctl_json("entries", "--member", "125", "--since",
                               "2024-05-01")
    g = gets(log.new(), "/time/entries")
    ok(code == 0 and js["count"] == 1500 and js["pages"] == 2 and
       [r["query"].get("pageId") for r in g] ==
       ["0", str(sorted(ids)[999])] and
       abs(js["hours"] - 375.0) < 1e-6 and js["billable_hours"] == 0,
       "paging follows the next link past 1,000 records", (code, err, g))
    # 1,500 records are several reply lines: cwtimectl reads the rest with
    # "more" on the same connection, and ConnectWise is not asked again
    ok(js is not None and not js["truncated"] and "more" not in js and
       js["returned"] == 1500 and
       [e["id"] for e in js["entries"]] == sorted(ids) and
       [e["notes"] for e in js["entries"][:2]] == ["bulk 0", "bulk 1"],
       "--json lists all 1,500 records, in order, from one search",
       (code, err, js and {k: v for k, v in js.items() if k != "entries"}))
    code, out, err = d.ctl("entries", "--member", "125", "--since",
                           "2024-05-01")
    rows = [ln for ln in out.splitlines() if "bulk " in ln]
    ok(code == 0 and len(rows) == 1500 and "shown" not in out and
       "1500 entries, 375.00 h" in out and len(gets(log.new(),
                                                     "/time/entries")) == 2,
       "the table has all 1,500 rows and the totals", (code, err[-300:],
                                                       len(rows)))
    more_protocol(d, log, ids)
    code, js, err = d.ctl_json("entries", "--member", "125", "--since",
                               "2024-05-01", "--limit", "1200")
    g = gets(log.new(), "/time/entries")
    ok(code == 0 and js["count"] == 1200 and len(g) == 2 and
       g[1]["query"]["pageSize"] == "1000",
       "--limit stops the paging", (code, err, len(g)))


def more_protocol(d, log, ids):
    """The "more" exchange on the socket itself (cwtimed-ipc(7))."""
    path = os.path.join(d.runtime, "cwtimed", "socket")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(path)
    f = s.makefile("rwb")

    def req(i, cmd, args):
        f.write((json.dumps({"v": 1, "id": i, "cmd": cmd, "args": args})
                 + "\n").encode())
        f.flush()
        line = f.readline()
        return len(line), json.loads(line)

    try:
        search = {"member": 125,
                  "since": calendar.timegm((2024, 5, 1, 0, 0, 0))}
        n, r = req(1, "entries", search)
        res = r.get("result", {})
        more = res.get("more", {})
        first = len(res.get("entries", []))
        ok(r.get("ok") and n <= 65536 and res.get("truncated") and
           res.get("returned") == first and 0 < first < 1500 and
           more.get("from") == first and more.get("total") == 1500 and
           more.get("key") == "entries" and isinstance(more.get("cursor"),
                                                       int),
           "entries: the first line holds what fits and says where the "
           "rest begins", (n, {k: v for k, v in res.items()
                               if k != "entries"}, r.get("error")))
        got = [e["id"] for e in res.get("entries", [])]
        i, lens = 2, []
        while more and i < 100:
            n, r = req(i, "more", {"cursor": more["cursor"],
                                   "from": more["from"]})
            part = r.get("result", {})
            lens.append(n)
            got += [e["id"] for e in part.get("entries", [])]
            more = part.get("more")
            i += 1
        ok(got == sorted(ids) and max(lens) <= 65536 and len(lens) >= 1 and
           len(gets(log.new(), "/time/entries")) == 2,
           "more: every line fits, the parts join to the search's records "
           "in order, no new search", (len(got), lens))
        cursor = res["more"]["cursor"]
        n, r = req(i, "more", {"cursor": cursor, "from": first})
        ok(r.get("ok") is False and r["error"]["code"] == "bad-argument" and
           r["error"]["field"] == "cursor" and
           "read to the end" in r["error"]["message"],
           "a list read to the end is gone", r)
        n, r = req(i + 1, "entries", search)
        c2 = r["result"]["more"]["cursor"]
        n, r3 = req(i + 2, "entries", search)
        c3 = r3["result"]["more"]["cursor"]
        n, r = req(i + 3, "more", {"cursor": c2, "from": 10})
        ok(c3 != c2 and r.get("ok") is False and
           r["error"]["field"] == "cursor",
           "a newer long reply replaces the older list", r)
        n, r = req(i + 4, "more", {"cursor": c3, "from": 1500})
        ok(r.get("ok") is False and r["error"]["field"] == "from" and
           "outside" in r["error"]["message"],
           "more from past the end: bad-argument naming from", r)
        n, r = req(i + 5, "more", {"cursor": c3})
        ok(r.get("ok") is False and r["error"]["field"] == "from",
           "more without from: bad-argument", r)
        n, r = req(i + 6, "more", {"cursor": c3, "from": 1499})
        ok(r.get("ok") and [e["id"] for e in r["result"]["entries"]] ==
           [sorted(ids)[1499]] and "more" not in r["result"] and
           not r["result"]["truncated"] and r["result"]["returned"] == 1,
           "more may start anywhere in the list: the last record alone", r)
    finally:
        f.close()
        s.close()
    # another connection has no list
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    s.sendall(b'{"v":1,"id":1,"cmd":"more","args":{"cursor":1,"from":0}}\n')
    r = json.loads(s.makefile("rb").readline())
    s.close()
    ok(r.get("ok") is False and r["error"]["field"] == "cursor",
       "a connection sees only its own lists", r)
    log.new()


def test_show_edit_delete(d, cw, log):
    code, js, err = d.ctl_json("entry", "show", "1003")
    ok(code == 0 and js["id"] == 1003 and js["internalNotes"] ==
       "Toner low as well", "entry show prints ConnectWise's object",
       (code, js, err))
    code, out, err = d.ctl("entry", "show", "99999")
    ok(code == 4 and "api-not-found" in err and
       "TimeEntry 99999 not found" in err,
       "entry show of a missing id shows ConnectWise's message, exit 4",
       (code, err))
    log.new()
    code, js, err = d.ctl_json("entry", "edit", "1003", "--notes",
                               'Fixed "fuser"; it\'s fine', "--hours", "2",
                               "--work-type", "Remote")
    reqs = log.new()
    p = [r for r in reqs if r["method"] == "PATCH"]
    ok(code == 0 and len(p) == 1 and p[0]["relpath"] == "/time/entries/1003"
       and p[0]["body"] == [
           {"op": "replace", "path": "notes",
            "value": 'Fixed "fuser"; it\'s fine'},
           {"op": "replace", "path": "timeEnd",
            "value": "2024-02-27T15:15:00Z"},
           {"op": "replace", "path": "actualHours", "value": 2},
           {"op": "replace", "path": "workType", "value": {"id": 5}}],
       "entry edit --hours moves timeEnd (deduct kept): exact PATCH body",
       (code, err, p))
    ent = [e for e in cw.entries() if e["id"] == 1003]
    ent = ent[0] if ent else None
    ok(ent and ent["timeEnd"] == "2024-02-27T15:15:00Z" and
       ent["actualHours"] == 2 and ent["hoursDeduct"] == 0.25,
       "the stored entry is consistent", ent)
    code, js, err = d.ctl_json("entry", "edit", "1003", "--deduct", "0.5",
                               "--billing", "nocharge")
    p = [r for r in log.new() if r["method"] == "PATCH"]
    ok(code == 0 and p and p[0]["body"] == [
        {"op": "replace", "path": "timeEnd", "value": "2024-02-27T15:15:00Z"},
        {"op": "replace", "path": "hoursDeduct", "value": 0.5},
        {"op": "replace", "path": "actualHours", "value": 1.75},
        {"op": "replace", "path": "billableOption", "value": "NoCharge"}],
       "entry edit --deduct recomputes actualHours", (code, err, p))
    for args, what in [(("--hours", "1", "--end", "2024-02-27 10:00"),
                        "--hours and --end"),
                       ((), "nothing to change"),
                       (("--hours", "30"), "at most 24")]:
        code, out, err = d.ctl("entry", "edit", "1003", *args)
        reqs = log.new()
        ok(code == 2 and what in err and not reqs,
           "entry edit %s refused before any request" % " ".join(args),
           (code, err, reqs))
    code, out, err = d.ctl("entry", "edit", "1003", "--role", "Engineeer")
    ok(code == 2 and "'Engineer' (4)" in err,
       "entry edit --role with a typo lists close matches", (code, err))
    log.new()

    code, out, err = d.ctl("entry", "delete", "1001", "--yes")
    reqs = log.new()
    ok(code == 4 and "billed" in err.lower() and
       not [r for r in reqs if r["method"] == "DELETE"],
       "entry delete of a Billed entry is refused before asking the server",
       (code, err, reqs))
    code, out, err = d.ctl("entry", "delete", "1004")
    reqs = log.new()
    ok(code == 1 and "confirm-needed" in err and
       not [r for r in reqs if r["method"] == "DELETE"],
       "entry delete without --yes asks for confirmation", (code, err))
    code, out, err = d.ctl("entry", "delete", "1004", "--yes")
    reqs = log.new()
    ok(code == 0 and [r["relpath"] for r in reqs if r["method"] == "DELETE"]
       == ["/time/entries/1004"] and
       not [e for e in cw.entries() if e["id"] == 1004],
       "entry delete --yes deletes", (code, err, reqs))
    # the server's own refusal: 1002 sits on an approved sheet
    code, out, err = d.ctl("entry", "delete", "1002", "--yes")
    ok(code == 4 and "time sheet 802 is ApprovedByTierOne" in err and
       "sheet reverse" in err,
       "a refused delete shows ConnectWise's message and a hint", (code, err))


def test_approvals(d, cw, log):
    log.new()
    code, out, err = d.ctl("approve", "1003", "99999")
    reqs = log.new()
    p = [r for r in reqs if r["method"] == "PATCH"]
    ok(code == 4 and sorted(r["relpath"] for r in p) ==
       ["/time/entries/1003", "/time/entries/99999"] and
       all(r["body"] == [{"op": "replace", "path": "status",
                          "value": "ApprovedByTierOne"}] for r in p),
       "approve PATCHes the configured status for each id", (code, err, p))
    ok("1003 (" in err and "99999 (" in err and
       "approve its time sheet instead" in err and "not found" in err,
       "approve names each failed id, with the sheet hint where refused",
       err)
    code, out, err = d.ctl("reject", "1003", "--reason",
                           'needs "detail" (and more)')
    p = [r for r in log.new() if r["method"] == "PATCH"]
    ok(code == 4 and p and p[0]["body"] == [
        {"op": "replace", "path": "status", "value": "Rejected"},
        {"op": "replace", "path": "internalNotes",
         "value": 'Toner low as well\nRejected: needs "detail" (and more)'}],
       "reject PATCHes status and appends the reason to internalNotes",
       (code, err, p))
    code, out, err = d.ctl("reject", "1003")
    ok(code == 2, "reject without --reason is a usage error", (code, err))


def sheet_status(cw, sid):
    for s in cw.state()["sheets"]:
        if s["id"] == sid:
            return s["status"]
    return None


def test_sheets(d, cw, log):
    log.new()
    code, js, err = d.ctl_json("sheets", "--member", "123", "--year",
                               "2024", "--status", "open")
    got = cond_of(log.new(), "/time/sheets")
    ok(code == 0 and got == 'member/id=123 and year=2024 and status="Open"'
       and [s["id"] for s in js["sheets"]] == [803],
       "sheets: exact conditions and the matching sheets", (code, got, js))
    code, js, err = d.ctl_json("sheet", "show", "803")
    reqs = log.new()
    ok(code == 0 and js["sheet"]["id"] == 803 and
       [e["id"] for e in js["entries"]] == [1003] and
       abs(js["hours"] - 1.75) < 1e-9 and
       cond_of(reqs, "/time/entries") == "timeSheet/id=803",
       "sheet show: the sheet, its entries and the total hours",
       (code, js, err))
    code, out, err = d.ctl("sheet", "submit", "803")
    reqs = log.new()
    ok(code == 0 and [(r["method"], r["relpath"]) for r in reqs] ==
       [("POST", "/time/sheets/803/submit")] and
       sheet_status(cw, 803) == "PendingApproval",
       "sheet submit", (code, err, reqs))
    code, out, err = d.ctl("sheet", "approve", "803", "804", "801",
                           "--tier", "1")
    reqs = log.new()
    posts = sorted((r["relpath"], json.dumps(r.get("body"))) for r in reqs
                   if r["method"] == "POST")
    ok(code == 4 and posts == [
        ("/time/sheets/801/approve",
         '{"id": 801, "approvalType": "Tier1Update"}'),
        ("/time/sheets/803/approve",
         '{"id": 803, "approvalType": "Tier1Update"}'),
        ("/time/sheets/804/approve",
         '{"id": 804, "approvalType": "Tier1Update"}')] and
       "1 of 3 failed" in err and "801 (" in err and
       "done: 803 804" in err.replace(",", ""),
       "sheet approve with a mix of good and bad ids names the failures",
       (code, err, posts))
    code, out, err = d.ctl("sheet", "reject", "804")
    ok(code == 0 and [r["relpath"] for r in log.new()] ==
       ["/time/sheets/804/reject"], "sheet reject", (code, err))
    code, out, err = d.ctl("sheet", "reverse", "803")
    ok(code == 0 and [r["relpath"] for r in log.new()] ==
       ["/time/sheets/803/reverse"], "sheet reverse", (code, err))
    code, out, err = d.ctl("sheet", "approve", "803", "--tier", "3")
    ok(code == 2 and not log.new(), "sheet approve --tier 3 is refused",
       (code, err))
    code, out, err = d.ctl("sheet", "show", "999999")
    ok(code == 4 and "not found" in err, "sheet show of a missing sheet",
       (code, err))


def test_errors(d, cw, log):
    cw.add_fault("429", match={"method": "GET", "path": "/time/entries"},
                 retry_after=30)
    log.new()
    code, out, err = d.ctl("entries", "--member", "123")
    ok(code == 4 and "Too many requests" in err and "rate limited" in err,
       "a 429 with 'error' instead of 'code' shows its message, exit 4",
       (code, err))
    cw.add_fault("status", status=403, match={"method": "GET",
                                              "path": "/time/entries/*"},
                 body={"code": "Security", "message": "You do not have "
                       "security permission to perform this action."})
    code, out, err = d.ctl("entry", "show", "1003")
    ok(code == 4 and "security permission" in err,
       "a 403 shows ConnectWise's message", (code, err))
    cw.clear_faults()
    log.new()


if __name__ == "__main__":
    sys.exit(main())
