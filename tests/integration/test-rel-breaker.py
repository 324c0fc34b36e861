#!/usr/bin/env python3
"""test-rel-breaker.py - RELIABILITY.md 7 E7: the circuit breaker, end to
end, closed by its own probe (test-submit.py's breaker case closes it by
a reload instead).

The fake ConnectWise answers every API request with 503 ("down") from
before the daemon starts. The retry timing is shrunk through the [api]
keys of RELIABILITY.md 5 (breaker_threshold = 3, breaker_cooldown = 1s,
breaker_cooldown_max = 2s, backoff 1s..2s) and max_in_flight = 1, so the
count is exact: the fake must see exactly `threshold` requests, then
nothing until each cool-down has passed, then one probe at a time (never
two requests closer than 0.9 x the first cool-down, the largest jitter
the breaker may take off), for a down time of $CWT_BREAKER_DOWN_S
seconds (12: the 30 s -> 15 min of the real defaults scaled down). Then
the fault is cleared and nothing else is done: the next probe must close
the breaker within one maximal cool-down, and every entry must reach the
fake exactly once (tests/lib/invariants.py).

Arrival times are taken by polling the fake's request log every 20 ms,
so a gap is measured to within about 40 ms.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests",
                                "lib"))
import daemon  # noqa: E402
import figures  # noqa: E402
import invariants  # noqa: E402
import client as fakeclient  # noqa: E402

T = daemon.Tap()
THRESHOLD = 3
COOL = 1.0
COOL_MAX = 2.0
DOWN_S = float(os.environ.get("CWT_BREAKER_DOWN_S", "12"))
ENTRIES = 4
DAY0 = 1771837200  # 2026-02-23T09:00:00Z


class Arrivals:
    """The fake's request log with our own arrival times."""

    def __init__(self, cw):
        self.cw = cw
        self.reqs = []  # (monotonic time, record)

    def poll(self):
        new = self.cw.requests(since=len(self.reqs))
        now = time.monotonic()
        self.reqs += [(now, r) for r in new]
        return new

    def watch(self, seconds, stop=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.poll()
            if stop and stop():
                # the request that made stop() true (the one that opened
                # the breaker) may have reached the fake's log after the
                # poll above: the fake logs before it replies, so a poll
                # now has it (CI once counted 2 of 3 under ASan)
                self.poll()
                return True
            time.sleep(0.02)  # the polling period of the log, not a wait
        self.poll()
        return False


def submission(d):
    r = d.raw("status")
    if not r.get("ok"):
        return {}
    return r["result"].get("submission", {})


def main():
    daemon.probe_binaries()
    base = daemon.make_base()
    os.makedirs(os.path.join(base, "cw"))
    cw = fakeclient.FakeCW(os.path.join(base, "cw"))
    cw.start()
    seed = set(invariants.server_guids(cw.entries()))
    extra = ("max_in_flight = 1\nsettle_delay = 1s\nbackoff_base = 1s\n"
             "backoff_cap = 2s\nbreaker_threshold = %d\n"
             "breaker_cooldown = %ds\nbreaker_cooldown_max = %ds\n"
             % (THRESHOLD, COOL, COOL_MAX))
    d = daemon.with_fake(base, "e7", cw, extra)
    arr = Arrivals(cw)
    counts = {}
    try:
        cw.add_fault("503", always=True)
        T.ok(d.start(), "daemon ready", d.log_text())
        uuids = []
        for i in range(ENTRIES):
            r = d.raw("log", {"target": "54321", "duration_s": 1800,
                              "at": DAY0 + i * 3600, "notes": "e7-%d" % i})
            T.ok(r.get("ok"), "entry %d queued" % i, repr(r))
            uuids.append(r["result"]["entries"][0]["uuid"])
        opened = arr.watch(30, lambda: submission(d).get("breaker") ==
                           "open")
        t_open = time.monotonic()
        n_open = len(arr.reqs)
        T.ok(opened, "E7: the breaker opens while the fake is down",
             repr(submission(d)))
        T.eq(n_open, THRESHOLD, "E7: sending stops at the threshold: "
             "the fake saw exactly %d requests" % THRESHOLD)
        sub = submission(d)
        T.ok(sub.get("state") == "api-unreachable" and sub.get("reason"),
             "E7: status shows api-unreachable with a reason", repr(sub))
        arr.watch(DOWN_S)
        down = [t for t, r in arr.reqs[n_open:]]
        # from the arrival of the request that opened it: both ends of
        # each gap carry the same polling error
        first = arr.reqs[n_open - 1][0] if n_open else t_open
        gaps = [b - a for a, b in zip([first] + down, down)]
        counts["probes_while_down"] = len(down)
        counts["min_gap_s"] = round(min(gaps), 3) if gaps else None
        counts["max_gap_s"] = round(max(gaps), 3) if gaps else None
        # one probe per cool-down: never two requests within 0.9 x the
        # first cool-down (less the polling error), and never a silence
        # longer than the largest cool-down (plus the request time)
        T.ok(gaps and min(gaps) >= 0.9 * COOL - 0.05,
             "E7: one probe per cool-down: %d requests in %.0f s, the "
             "closest %.2f s apart" % (len(down), DOWN_S,
                                       min(gaps) if gaps else -1),
             repr([round(g, 2) for g in gaps]))
        T.ok(len(down) >= DOWN_S / (COOL_MAX + 0.5) - 1 and
             max(gaps) <= COOL_MAX + 1.0,
             "E7: the probes keep coming while it is down (at most %.1f s "
             "apart)" % (COOL_MAX + 1.0),
             repr([round(g, 2) for g in gaps]))
        bad = [r["method"] + " " + r["relpath"] for t, r in arr.reqs
               if r.get("status") != 503]
        T.ok(not bad, "E7: every request while down got the 503", repr(bad))
        at = invariants.server_guids(cw.entries())
        T.ok(not [u for u in uuids if u in at],
             "E7: nothing stored while down")
        # recovery: no reload, no resume; only the probe may close it
        cw.clear_faults()
        t_up = time.monotonic()
        closed = arr.watch(COOL_MAX + 5, lambda: submission(d).get(
            "breaker") == "closed")
        counts["close_after_s"] = round(time.monotonic() - t_up, 2)
        T.ok(closed and time.monotonic() - t_up <= COOL_MAX + 5,
             "E7: closes on recovery by its probe within %.1f s" %
             counts["close_after_s"], repr(submission(d)))
        done = d.wait_for(lambda: all(
            invariants.View.load(d.state_dir).entries[u].state ==
            "submitted" for u in uuids), timeout=30, poll=0.1)
        view = invariants.View.load(d.state_dir)
        T.ok(done, "E7: every entry SUBMITTED after recovery",
             repr(view.states()))
        bad = invariants.check_server(view, cw.entries(), seed)
        bad += invariants.check_final(view)
        dup = invariants.duplicates(cw.entries())
        at = invariants.server_guids(cw.entries())
        lost = [u for u in uuids if at.get(u, 0) != 1]
        T.ok(not bad and dup == 0 and not lost, "E7: nothing lost, nothing "
             "doubled at the fake (%d entries)" % len(uuids),
             "\n".join(bad + lost))
        sub = submission(d)
        T.ok(sub.get("state") == "ok", "E7: status is ok again", repr(sub))
        rc = d.stop()
        T.ok(rc == 0 and d.sanitizer_report() is None, "clean stop (%s)"
             % rc)
        counts.update({"threshold": THRESHOLD, "requests_to_open": n_open,
                       "cooldown_s": COOL, "cooldown_max_s": COOL_MAX,
                       "down_s": DOWN_S, "entries": len(uuids),
                       "lost": len(lost), "duplicated_at_server": dup})
        figures.record(["E7"], "test-rel-breaker", counts, T.failed == 0)
    finally:
        d.stop(daemon.signal.SIGKILL, timeout=5)
        cw.stop()
        daemon.shutil.rmtree(base, ignore_errors=True)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
