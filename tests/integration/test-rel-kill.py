#!/usr/bin/env python3
"""test-rel-kill.py - RELIABILITY.md 7 B1, F1 and E2 on the whole daemon:
kill -9 while timers, the journal and submission all work at once.

test-journal-kill.py kills the journal alone, test-timers-kill.py the timer
commands without a server, test-submit-kill.py submission at two chosen
points. Here everything runs together: the daemon is wired to the fake
ConnectWise, which applies 30 % of POSTs and then resets the connection
before replying (apply-then-reset) and fails 10 % of reconciliation GETs
with a 500. Each of $CWT_ROUNDS rounds (30; check-crash 300, check-soak
2000) starts cwtimed on the same state directory (tmpfs when root: page
cache semantics suffice for a process kill), runs random start, stop,
cancel, note and log commands from a client thread, and sends SIGKILL
after a random 0-200 ms. After each restart (which must succeed; with the
long runs, every 10th restart, see CHECK_EVERY):
  - every acknowledged operation is there, nothing refused is applied,
    the operation in flight is wholly there or not at all, and what one
    recovery showed every later one shows (tests/lib/invariants.py);
  - no mobileGuid is twice at the fake, and the fake holds no entry the
    journal does not know.
At the end the daemon runs without kills until the queue drains: every
entry must end SUBMITTED (or REJECTED), each exactly once at the fake.
Figures: rounds, acknowledged operations, lost (0), duplicated at the
server (0). Seed: $CWT_SEED (printed).
"""

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests",
                                "lib"))
import daemon  # noqa: E402
import figures  # noqa: E402
import invariants  # noqa: E402
import client as fakeclient  # noqa: E402

T = daemon.Tap()
ROUNDS = int(os.environ.get("CWT_ROUNDS", "30"))
SEED = int(os.environ.get("CWT_SEED", str(int(time.time()))))
OPS_MAX = int(os.environ.get("CWT_KILL_OPS", "25"))
# The journal is checked (Python CRC over all of it) after every restart
# in `make check`; with the long runs of check-crash and check-soak, after
# every 10th (the others check that the restart became ready, and the
# final check covers every operation).
CHECK_EVERY = int(os.environ.get("CWT_KILL_CHECK_EVERY", "1" if os.environ.get(
    "CWT_TARGET", "check") == "check" else "10"))
TARGETS = ["54321", "54322", "54323", "54324"]
POST = {"method": "POST", "path": "/time/entries"}
GET = {"method": "GET", "path": "/time/entries"}


def request(path, cmd, args):
    """One request on its own connection: the reply, or None when the
    daemon died (or refused the connection) before answering."""
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(path)
        s.sendall((json.dumps({"v": 1, "id": 1, "cmd": cmd, "args": args})
                   + "\n").encode())
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
        s.close()
        return json.loads(buf.split(b"\n")[0])
    except (OSError, ValueError):
        return None


class Worker(threading.Thread):
    def __init__(self, d, led, rng, running, rnd):
        threading.Thread.__init__(self)
        self.d, self.led, self.rng, self.rnd = d, led, rng, rnd
        self.running = running  # targets the last recovery showed
        self.halt = threading.Event()
        self.n = 0

    def run(self):
        # a bounded burst, so the journal stays small enough for the
        # Python reader to check after every round
        for _ in range(self.rng.randint(1, OPS_MAX)):
            # pacing, so the kill lands among the operations and not
            # always after the burst (not a wait for anything)
            if self.halt.wait(self.rng.uniform(0, 0.008)):
                return
            t = self.rng.choice(TARGETS)
            tag = "k%d-%d" % (self.rnd, self.n)
            self.n += 1
            if t in self.running:
                kind = self.rng.choice(["stop", "stop", "cancel", "note"])
            else:
                kind = self.rng.choice(["start", "start", "log"])
            notes = tag if kind in ("stop", "log") else None
            args = {"target": t}
            if kind == "start":
                args["ago_s"] = 600
            elif kind == "stop":
                args["notes"] = notes
            elif kind == "cancel":
                args["yes"] = True
            elif kind == "note":
                args["text"] = tag
            elif kind == "log":
                args.update({"duration_s": 900, "notes": notes,
                             "at": 1771837200 + self.rnd * 86400 +
                             self.n * 900})
            op = self.led.begin(kind if kind != "note" else "note",
                                target=t if kind != "log" else None,
                                notes=notes)
            r = request(self.d.socket, kind, args)
            if r is None:
                return  # killed: this op stays in flight
            self.led.done(op, 0 if r.get("ok") else 1, r)
            if r.get("ok"):
                if kind == "start":
                    self.running.add(t)
                elif kind in ("stop", "cancel"):
                    self.running.discard(t)


SEED_GUIDS = set()  # entries of the fake's seed data


def check_state(d, cw, led, where):
    view = invariants.View.load(d.state_dir)
    bad = invariants.check_operations(view, led)
    bad += invariants.check_server(view, cw.entries(), SEED_GUIDS)
    return view, bad


def main():
    daemon.probe_binaries()
    print("# seed %d, rounds %d" % (SEED, ROUNDS))
    rng = random.Random(SEED)
    base = daemon.make_base()
    os.makedirs(os.path.join(base, "cw"))
    state = None
    if os.geteuid() == 0:
        state = os.path.join(base, "tmpfs")
        os.makedirs(state)
        if subprocess.run(["mount", "-t", "tmpfs", "-o",
                           "size=256m,mode=0700", "tmpfs", state]).returncode:
            state = None
    cw = fakeclient.FakeCW(os.path.join(base, "cw"))
    cw.start()
    SEED_GUIDS.update(invariants.server_guids(cw.entries()))
    cw.add_fault("apply-then-reset", probability=0.3, seed=SEED, match=POST)
    cw.add_fault("500", probability=0.1, seed=SEED + 1, match=GET)
    d = daemon.with_fake(base, "b1", cw, state_home=state)
    led = invariants.Ledger()
    failed_starts = 0
    checks = 0
    violations = []
    running = set()
    t0 = time.monotonic()
    try:
        for rnd in range(ROUNDS):
            ready = d.start()
            rec = invariants.check_recovery(d, ready)
            if rec:
                failed_starts += 1
                violations += ["round %d: %s" % (rnd, b) for b in rec]
                break
            if rnd % CHECK_EVERY == 0:
                view, bad = check_state(d, cw, led, rnd)
                checks += 1
                if bad:
                    violations += ["round %d: %s" % (rnd, b) for b in bad]
                    d.kill9()
                    break
                led.resolve(view)
                timers = view.timers
            else:
                r = request(d.socket, "list", {})
                timers = [t["target"] for t in (r or {}).get(
                    "result", {}).get("timers", [])]
            running = set(t.split(":", 1)[1] for t in timers)
            w = Worker(d, led, random.Random(rng.random()), running, rnd)
            w.start()
            time.sleep(rng.uniform(0, 0.2))  # the random kill moment
            d.kill9()
            w.halt.set()
            w.join(20)
        T.ok(not violations, "B1: %d rounds of kill -9, every restart "
             "recovered and every invariant held" % ROUNDS,
             "\n".join(violations[:20]))
        # drain: no more kills; every entry must reach a final state
        ready = d.start()
        T.ok(ready, "restart for the drain", d.log_text()[-1000:])
        cw.clear_faults()
        drained = d.wait_for(lambda: not invariants.check_final(
            invariants.View.load(d.state_dir)), timeout=120, poll=0.2)
        view, bad = check_state(d, cw, led, "drain")
        final = invariants.check_final(view)
        T.ok(drained and not final, "every entry ends SUBMITTED or "
             "REJECTED (%s)" % view.states(), "\n".join(final[:20]))
        T.ok(not bad, "after the drain every invariant holds",
             "\n".join(bad[:20]))
        guids = invariants.server_guids(cw.entries())
        dup = invariants.duplicates(cw.entries())
        ours = [u for u in view.entries if view.entries[u].state ==
                "submitted"]
        missing = [u for u in ours if guids.get(u, 0) != 1]
        T.ok(not missing, "each of %d submitted entries is exactly once at "
             "the fake" % len(ours), missing[:10])
        T.eq(dup, 0, "no duplicate at the server")
        rc = d.stop()
        T.ok(rc == 0 and d.sanitizer_report() is None, "clean stop (%s)"
             % rc, d.log_text()[-1500:])
        lost = sum(1 for v in violations + bad if "(lost)" in v)
        figures.record(["B1", "F1", "E2"], "test-rel-kill", {
            "rounds": ROUNDS, "seed": SEED, "journal_checks": checks,
            "acknowledged": led.acknowledged(),
            "in_flight_at_kill": sum(1 for o in led.ops if "resolved" in o),
            "refused": led.count("refused"),
            "entries": len(view.entries), "submitted": len(ours),
            "lost": lost, "duplicated_at_server": dup,
            "failed_restarts": failed_starts,
            "seconds": round(time.monotonic() - t0, 1),
            "state_on": "tmpfs" if state else "the temp directory"},
            T.failed == 0)
    finally:
        d.stop(daemon.signal.SIGKILL, timeout=5)
        cw.stop()
        if state:
            subprocess.run(["umount", "-l", state])
        daemon.shutil.rmtree(base, ignore_errors=True)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
