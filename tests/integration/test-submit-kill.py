#!/usr/bin/env python3
"""test-submit-kill.py - RELIABILITY.md 7 E2: SIGKILL of cwtimed during
submission, against tests/fakecw.

Two kill points, CWT_ROUNDS times each (default 20):
  - "at the POST": the fake has the POST (it holds the reply: a stall,
    applied on even rounds and not applied on odd ones) and the test
    kills the daemon as soon as the fake's state shows it;
  - "after the reply": the fake's request log shows the 201 as sent, and
    the test kills at once (before or after SUBMITTED reached the disk).
After each kill the daemon is restarted on the same journal and the
entry must end SUBMITTED. At the end: every entry exactly once at the
server (0 duplicates), none missing (0 losses), and every entry
SUBMITTED in the journal.
"""

import os
import signal
import sys

SRCDIR = os.environ.get("top_srcdir", ".")
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
import submitlib  # noqa: E402
from submitlib import timerlib  # noqa: E402

T = timerlib.Tap()
POST = {"method": "POST", "path": "/time/entries"}


def submitted(s, u, timeout=30.0):
    return s.env.wait_for(lambda: s.states().get(u) == "submitted",
                          timeout=timeout, poll=0.05)


def main():
    timerlib.probe_binaries()
    rounds = int(os.environ.get("CWT_ROUNDS", "20"))
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
    uuids = []
    slot = [0]
    try:
        # 1 s total timeout: a 2 s settle delay keeps the rounds short
        s = submitlib.Submit(base, "kill", cw, total_timeout=1)
        T.ok(s.start(), "cwtimed ready", s.env.log_text())
        slot[0] += 1
        warm = s.raw_log(slot[0])["result"]["entries"][0]["uuid"]
        uuids.append(warm)
        T.ok(submitted(s, warm), "a first entry is submitted")

        bad_at = []
        for i in range(rounds):
            apply = i % 2 == 0
            cw.clear_faults()
            cw.add_fault("stall", count=1, seconds=30, apply=apply,
                         match=POST)
            slot[0] += 1
            u = s.raw_log(slot[0])["result"]["entries"][0]["uuid"]
            uuids.append(u)

            def posted():
                # a count=1 fault leaves the list when it fires: the
                # fake holds the POST now
                return cw.faults() == []
            if not s.env.wait_for(posted, timeout=15):
                bad_at.append("%d: the POST never reached the fake" % i)
            s.stop(signal.SIGKILL)
            cw.clear_faults()  # ends the stall at once
            if not s.start():
                bad_at.append("%d: no restart\n%s" % (i, s.env.log_text()[-3000:]))
                break
            if not submitted(s, u):
                bad_at.append("%d: %s not submitted after the restart (%s)"
                              % (i, u, s.states().get(u)))
        T.ok(not bad_at, "SIGKILL at the POST, %d rounds: every entry "
             "submitted after a restart" % rounds, "\n".join(bad_at))

        bad_after = []
        for i in range(rounds):
            n0 = len(cw.requests())
            slot[0] += 1
            u = s.raw_log(slot[0])["result"]["entries"][0]["uuid"]
            uuids.append(u)

            def replied():
                return any(r["method"] == "POST" and
                           (r.get("body") or {}).get("mobileGuid") == u and
                           r.get("status") == 201
                           for r in cw.requests(since=n0))
            if not s.env.wait_for(replied, timeout=15, poll=0.005):
                bad_after.append("%d: no 201 for %s" % (i, u))
            s.stop(signal.SIGKILL)
            if not s.start():
                bad_after.append("%d: no restart\n%s" % (i, s.env.log_text()[-3000:]))
                break
            if not submitted(s, u):
                bad_after.append("%d: %s not submitted after the restart "
                                 "(%s)" % (i, u, s.states().get(u)))
        T.ok(not bad_after, "SIGKILL right after the reply, %d rounds: "
             "every entry submitted after a restart" % rounds,
             "\n".join(bad_after))

        at = submitlib.guids_at_server(cw)
        dups = {u: n for u, n in at.items() if n > 1}
        lost = [u for u in uuids if at.get(u, 0) == 0]
        T.ok(not dups, "0 duplicates at the server (%d entries)" %
             len(uuids), repr(dups))
        T.ok(not lost, "0 losses", repr(lost))
        st = s.states()
        T.eq(sorted(set(st.get(u) for u in uuids)), ["submitted"],
             "every entry SUBMITTED in the journal")
        posts = {}
        for r in submitlib.posts(cw.requests()):
            g = (r.get("body") or {}).get("mobileGuid")
            posts[g] = posts.get(g, 0) + 1
        again = sorted(g for g, c in posts.items() if c > 1)
        # only entries whose stalled POST was NOT applied may be posted a
        # second time (after two reads saw them absent)
        allowed = set(uuids[1 + i] for i in range(rounds) if i % 2 == 1)
        T.ok(set(again) <= allowed, "second POSTs only for POSTs that were "
             "never applied (%d)" % len(again),
             repr(sorted(set(again) - allowed)))
        s.stop()
    finally:
        cw.stop()
        timerlib.cleanup(base, submitlib.ENVS)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
