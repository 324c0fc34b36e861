#!/usr/bin/env python3
"""test-timers-kill.py - B1 over the timer commands: kill -9 the real
cwtimed while cwtimectl start/stop/log run against it, restart, and check
that every acknowledged operation is there exactly once.

Each round starts cwtimed on the same state directory, runs a random mix
of `start T --ago 10m`, `stop T --notes op-N` and `log T 10m --notes op-N`
(each operation is identified by its target and its notes), and sends
SIGKILL after a random 0-300 ms. After the restart:
  - an acknowledged start whose stop was not sent is a running timer;
  - an acknowledged stop or log is exactly one queued entry with its notes
    (and the stopped timer is gone);
  - the one operation in flight at the kill is either fully there or not
    at all (a timer or its entry, never both, never doubled);
  - what a round observed must hold in every later round; the journal
    decodes (tests/lib/journal_reader.py) and no mobileGuid repeats.
Rounds: $CWT_ROUNDS (30). Seed: $CWT_SEED (printed). Prints TAP.
"""

import os
import random
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True  # nothing is written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timerlib  # noqa: E402
from timerlib import EXIT, REC, Env, Tap  # noqa: E402


def journal_view(state_dir):
    """(timers, entry counts by notes, uuids) rebuilt from the journal by
    the independent reader: the checkpoint, then every later record."""
    j = timerlib.journal_reader.read_state_live(state_dir)
    timers, bodies = set(), []
    if j.checkpoint:
        snap = j.checkpoint[1]
        timers = {t["target"] for t in snap["tracker"]["timers"]}
        bodies = [(x["uuid"], x["body"]) for x in snap["outbox"]["entries"]]
    for r in j.records:
        p = r["payload"]
        if r["type"] == REC["TIMER_STARTED"]:
            timers.add(p["target"])
        elif r["type"] in (REC["TIMER_STOPPED"], REC["TIMER_CANCELLED"]):
            for t in p.get("timers", [p]):
                timers.discard(t["target"])
                bodies += [(x["uuid"], x["body"])
                           for x in t.get("entries", [])]
        elif r["type"] == REC["ENTRY_QUEUED"]:
            bodies += [(x["uuid"], x["body"]) for x in p["entries"]]
    counts = {}
    for _, b in bodies:
        counts[b.get("notes")] = counts.get(b.get("notes"), 0) + 1
    return timers, counts, [u for u, _ in bodies]


def observe(e):
    """What the journal holds, cross-checked with what the daemon says
    (list: the timers; status: the number of queued entries). None when
    they disagree or the daemon does not answer."""
    timers, counts, uuids = journal_view(e.state_dir)
    rc, lst, _ = e.ctl("list")
    if rc != 0 or {t["target"] for t in lst.get("timers", [])} != timers:
        return None
    if lst.get("queue", {}).get("pending") != len(uuids):
        return None
    return timers, counts, uuids


def main():
    timerlib.probe_binaries()
    rounds = int(os.environ.get("CWT_ROUNDS", "30"))
    seed = int(os.environ.get("CWT_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    print("# seed %d, %d rounds" % (seed, rounds))
    T = Tap()
    base = timerlib.make_base()
    e = Env(base, "kill", "[timers]\nconcurrency = parallel\n")
    # expectations: target -> "timer" | "entry"; notes -> count
    pairs = {}     # "ticket:N" -> [state, notes]
    logs = {}      # notes -> 1
    next_id = 1
    acked_total = 0
    bad = []
    try:
        for rnd in range(rounds):
            if not e.start():
                T.ok(False, "round %d: cwtimed starts" % rnd, e.log_text())
                break
            # this round's operations; the last one may be in flight
            inflight = None
            kill_after = rng.uniform(0, 0.3)
            killer = threading.Timer(kill_after, lambda p=e.proc:
                                     p.send_signal(signal.SIGKILL))
            killer.start()
            while e.proc.poll() is None:
                open_pairs = [t for t, v in pairs.items() if v[0] == "timer"]
                k = rng.random()
                if len(open_pairs) > 12:
                    k = 0.5  # keep list's reply small: stop one
                if k < 0.4 or (k < 0.7 and not open_pairs):
                    tid = "ticket:%d" % (100000 + next_id)
                    notes = "op-%d" % next_id
                    next_id += 1
                    inflight = ("start", tid, notes)
                    rc, _, _ = e.ctl("start", tid, "--ago", "10m")
                    if rc == 0:
                        pairs[tid] = ["timer", notes]
                        acked_total += 1
                        inflight = None
                elif k < 0.7:
                    tid = rng.choice(open_pairs)
                    notes = pairs[tid][1]
                    inflight = ("stop", tid, notes)
                    rc, _, _ = e.ctl("stop", tid, "--notes", notes)
                    if rc == 0:
                        pairs[tid][0] = "entry"
                        acked_total += 1
                        inflight = None
                else:
                    notes = "op-%d" % next_id
                    next_id += 1
                    inflight = ("log", "project:%d" % (next_id % 50 + 1),
                                notes)
                    rc, _, _ = e.ctl("log", inflight[1], "10m", "--notes",
                                     notes)
                    if rc == 0:
                        logs[notes] = 1
                        acked_total += 1
                        inflight = None
                if rc != 0 and rc != EXIT["daemon-unreachable"]:
                    # a refusal, not the kill (which cuts the connection)
                    bad.append("round %d: %s refused (exit %d)"
                               % (rnd, inflight, rc))
                    inflight = None
                if rc == EXIT["daemon-unreachable"]:
                    break  # killed: this op stays the one in flight
            killer.join()
            e.proc.wait()
            e.proc = None

            if not e.start():
                T.ok(False, "round %d: cwtimed restarts" % rnd, e.log_text())
                break
            seen = observe(e)
            if seen is None:
                bad.append("round %d: the daemon's list/status disagree "
                           "with the journal" % rnd)
                e.stop(signal.SIGKILL)
                continue
            timers, counts, uuids = seen
            # resolve the in-flight operation from what is there
            if inflight:
                op, tid, notes = inflight
                if op == "start" and tid in timers:
                    pairs[tid] = ["timer", notes]
                elif op == "stop":
                    if counts.get(notes, 0) == 1 and tid not in timers:
                        pairs[tid][0] = "entry"
                    elif not (counts.get(notes, 0) == 0 and tid in timers):
                        bad.append("round %d: half a stop of %s" % (rnd,
                                                                   tid))
                elif op == "log" and counts.get(notes, 0) == 1:
                    logs[notes] = 1
            for tid, (state, notes) in pairs.items():
                want_t = state == "timer"
                want_n = 1 if state == "entry" else 0
                if (tid in timers) != want_t or \
                        counts.get(notes, 0) != want_n:
                    bad.append("round %d: %s expected %s, timer %s, "
                               "entries %d" % (rnd, tid, state,
                                               tid in timers,
                                               counts.get(notes, 0)))
            for notes in logs:
                if counts.get(notes, 0) != 1:
                    bad.append("round %d: log %s has %d entries"
                               % (rnd, notes, counts.get(notes, 0)))
            known = {v[1] for v in pairs.values()} | set(logs)
            for notes, n in counts.items():
                if notes not in known and n > 0:
                    bad.append("round %d: unexpected entry %s x%d"
                               % (rnd, notes, n))
            if len(set(uuids)) != len(uuids):
                bad.append("round %d: a mobileGuid repeats" % rnd)
            extra = timers - set(pairs)
            if extra:
                bad.append("round %d: unexpected timers %s" % (rnd, extra))
            try:
                timerlib.journal_reader.read_state_live(e.state_dir)
            except timerlib.journal_reader.Damage as ex:
                bad.append("round %d: journal damaged: %s" % (rnd, ex))
            e.stop(signal.SIGKILL)
            if len(bad) > 20:
                break
        T.ok(acked_total > 0, "operations were acknowledged (%d)"
             % acked_total)
        T.ok(not bad, "%d rounds: every acknowledged start/stop/log is "
             "there exactly once after kill -9" % rounds,
             "\n".join(bad[:20]) + "\nseed %d" % seed)
    finally:
        timerlib.cleanup(base, [e])
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
