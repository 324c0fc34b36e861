#!/usr/bin/env python3
"""test-rel-frozen.py - RELIABILITY.md 7 B4: a frozen daemon.

cwtimed is wired to the fake ConnectWise, which holds each POST for 1 s
before storing it and replying (slow-apply). As soon as the journal shows
an entry's ATTEMPT_STARTED (durable before the request goes out, 4.1 rule
1) the daemon gets SIGSTOP, stays frozen for 3 x its total request timeout
(the fake stores the entry and answers meanwhile), and then SIGCONT. Each
of $CWT_FROZEN_ROUNDS entries (2) must end SUBMITTED with exactly one copy
at the fake, whichever way the daemon learns the outcome (the late reply,
or a timeout and reconciliation).
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests",
                                "lib"))
import daemon  # noqa: E402
import figures  # noqa: E402
import invariants  # noqa: E402
import client as fakeclient  # noqa: E402

T = daemon.Tap()
ROUNDS = int(os.environ.get("CWT_FROZEN_ROUNDS", "2"))
TOTAL_TIMEOUT = 2
POST = {"method": "POST", "path": "/time/entries"}


def attempt_started(d, notes):
    v = invariants.View.load(d.state_dir)
    for u in v.created:
        e = v.entries[u]
        if e.notes == notes and e.state in ("attempt-started", "unknown",
                                            "submitted"):
            return u
    return None


def main():
    daemon.probe_binaries()
    base = daemon.make_base()
    os.makedirs(os.path.join(base, "cw"))
    cw = fakeclient.FakeCW(os.path.join(base, "cw"))
    cw.start()
    seed = set(invariants.server_guids(cw.entries()))
    d = daemon.with_fake(base, "b4", cw)
    hows = {}
    try:
        T.ok(d.start(), "daemon ready", d.log_text())
        for i in range(ROUNDS):
            cw.add_fault("slow-apply", count=1, seconds=1.0, match=POST)
            notes = "b4-%d" % i
            rc, out, err = d.ctl("log", "54321", "20m", "--at",
                                 "2026-02-2%dT09:00:00Z" % (3 + i),
                                 "--notes", notes)
            T.ok(rc == 0, "%s queued" % notes, err)
            u = d.wait_for(lambda: attempt_started(d, notes), timeout=20,
                           poll=0.01)
            os.kill(d.pid(), signal.SIGSTOP)
            t0 = time.monotonic()
            T.ok(u is not None, "%s: ATTEMPT_STARTED journaled; SIGSTOP" %
                 notes)
            stored = d.wait_for(lambda: u in invariants.server_guids(
                cw.entries()), timeout=10)
            # frozen for 3 x the total timeout, counted from the stop
            time.sleep(max(0.0, 3 * TOTAL_TIMEOUT - (time.monotonic() - t0)))
            os.kill(d.pid(), signal.SIGCONT)
            done = d.wait_for(lambda: invariants.View.load(
                d.state_dir).entries[u].state == "submitted", timeout=60,
                poll=0.1)
            view = invariants.View.load(d.state_dir)
            n = invariants.server_guids(cw.entries()).get(u, 0)
            T.ok(stored and done and n == 1,
                 "B4 %s: SUBMITTED after SIGCONT, %d copy at the fake" %
                 (notes, n), view.entries.get(u))
            recs = [r for r in invariants.journal_reader.read_state_live(
                d.state_dir).records if r["payload"].get("uuid") == u]
            how = [r["payload"].get("how") for r in recs
                   if r["type"] == invariants.SUBMITTED]
            hows[notes] = how[0] if how else None
        view = invariants.View.load(d.state_dir)
        bad = invariants.check_server(view, cw.entries(), seed)
        dup = invariants.duplicates(cw.entries())
        T.ok(not bad and dup == 0, "no duplicate at the fake, nothing "
             "unknown to the journal", "\n".join(bad))
        rc = d.stop()
        T.ok(rc == 0 and d.sanitizer_report() is None, "clean stop (%s)"
             % rc)
        figures.record(["B4"], "test-rel-frozen", {
            "rounds": ROUNDS, "frozen_s": 3 * TOTAL_TIMEOUT,
            "duplicated_at_server": dup,
            "submitted_how": sorted(str(h) for h in hows.values())},
            T.failed == 0)
    finally:
        try:
            os.kill(d.pid(), signal.SIGCONT)
        except (OSError, TypeError):
            pass
        d.stop(signal.SIGKILL, timeout=5)
        cw.stop()
        daemon.shutil.rmtree(base, ignore_errors=True)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
