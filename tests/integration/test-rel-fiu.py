#!/usr/bin/env python3
"""test-rel-fiu.py - RELIABILITY.md 7 D4: random I/O faults.

cwtimed runs under `fiu-run -x -c 'enable_random name=posix/io/*,
probability=0.002'` (libfiu's POSIX preload: every read, write, open,
fsync, socket call... fails with a plausible errno one time in 500)
while B1's workload (test-rel-kill.py's Worker: random start, stop,
cancel, note and log over the socket) runs against it, wired to the fake
ConnectWise with B1's faults. Each round lasts up to 2 s, or until the
daemon gives up by itself (exit 75 and the like are allowed: a refusal,
not a crash), and ends with SIGTERM. Then a clean restart without
faults must succeed and every invariant must hold (tests/lib/
invariants.py); an operation answered with an I/O-ish error
(storage-failed, disk-error, internal, timeout) may or may not have been
applied, but never half. At the end the queue drains: every entry final,
each exactly once at the fake.

A crash is a death by a signal we did not send (SIGSEGV, SIGBUS,
SIGABRT, ...), a failed assert(), or a sanitizer report in the log: each
fails the test. libuv calls abort() itself when a read or write on its
own internal pipes and eventfd fails (uv__signal_lock under
uv_signal_start, uv__signal_event, uv__async_io, uv__async_send): the
kernel never fails those, but libfiu's posix/io/rw/read and write points
did (seen in gdb: abort() in libuv.so.1 called from daemon_start's
uv_signal_start). So the faults are injected through fiu-run's own
preload libraries (its FIU_ENABLE and LD_PRELOAD, taken from `fiu-run
-n`) with tests/lib/fiu-spare.so in front of them: a read or write on a
pipe or an eventfd (only libuv's: cwtimed makes none) goes straight to
the kernel, every other call meets libfiu. Every abort counted is ours.
Before the soak, a check that the spare library does its job: 10
starts under read and write faults at 30 %, each sent 5 SIGHUPs (a write
and a read on libuv's signal pipe each), must end without a SIGABRT; the
same without the library is counted (5 to 9 of 10 abort here) but not
asserted, as a newer libuv may stop aborting. CWT_FIU_SPARE=0 runs
without the spare library throughout, to see libuv's aborts come back
(the test then fails).

It runs for $CWT_FIU_SECONDS: 30 under check-crash, 600 under
check-soak (the `make check` run does not include it).
"""

import importlib.util
import os
import random
import re
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
TARGET = os.environ.get("CWT_TARGET", "check")
SECONDS = float(os.environ.get("CWT_FIU_SECONDS", "600" if TARGET ==
                               "check-soak" else "30"))
SEED = int(os.environ.get("CWT_SEED", str(int(time.time()))))
SPEC = "enable_random name=posix/io/*,probability=0.002"
SPARE = os.environ.get("CWT_FIU_SPARE", "1") != "0"
ROUND_S = 2.0
UNSURE = ("storage-failed", "disk-error", "internal", "timeout",
          "daemon-unreachable")
OURS = (signal.SIGTERM, signal.SIGKILL)


def load_kill():
    """test-rel-kill.py's Worker and request (B1's workload)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "test-rel-kill.py")
    spec = importlib.util.spec_from_file_location("rel_kill", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fiu_env(fiu):
    """The environment `fiu-run -x -c SPEC` would run a program with (its
    dry run, -n, prints it), with tests/lib/fiu-spare.so first in
    LD_PRELOAD and no remote-control FIFOs. None when fiu-run prints no
    LD_PRELOAD."""
    p = daemon.subprocess.run([fiu, "-n", "-x", "-c", SPEC, "true"],
                              stdout=daemon.subprocess.PIPE,
                              stderr=daemon.subprocess.PIPE, timeout=30)
    m = re.search(r'LD_PRELOAD="([^"]*)"', p.stdout.decode())
    if p.returncode != 0 or not m:
        return None
    libs = m.group(1).split()
    if SPARE:
        libs.insert(0, os.path.join(daemon.BUILDDIR, "tests", "lib",
                                    "fiu-spare.so"))
    return {"LD_PRELOAD": " ".join(libs), "FIU_ENABLE": SPEC,
            "FIU_CTRL_FIFO": ""}


def probe_fiu():
    fiu = daemon.need_program("fiu-run")
    spare = os.path.join(daemon.BUILDDIR, "tests", "lib", "fiu-spare.so")
    if SPARE and not os.path.exists(spare):
        # built by make check-crash and check-soak: missing is a bug of
        # the run, not of the machine
        print("Bail out! %s is missing: run make check-crash" % spare)
        sys.exit(99)
    fenv = fiu_env(fiu)
    p = daemon.subprocess.run([fiu, "-x", "-c", SPEC, "true"],
                              stdout=daemon.subprocess.PIPE,
                              stderr=daemon.subprocess.PIPE, timeout=30)
    if p.returncode != 0 or fenv is None:
        daemon.skip_all("fiu-run -x true: %s" % p.stderr.decode()[-200:],
                        "ENOENT", "libfiu's POSIX preload does not run")
    # the ASan runtime and libfiu's preload (which wraps the libc calls
    # ASan itself makes while it starts) do not mix: such a cwtimed dies
    # at once even with no fault enabled
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + \
        ":verify_asan_link_order=0"
    env.update(fenv, FIU_ENABLE="")
    p = daemon.subprocess.run([daemon.CWTIMED, "--version"],
                              stdout=daemon.subprocess.PIPE,
                              stderr=daemon.subprocess.PIPE, env=env,
                              timeout=30)
    if p.returncode != 0:
        daemon.skip_all("fiu-run -x cwtimed --version: exit %d%s" % (
            p.returncode, " (an ASan build)" if daemon.is_asan() else ""),
            "EINVAL", "cwtimed does not run under libfiu's preload "
            "(ASan builds cannot)")
    return fenv


RW_SPEC = ("enable_random name=posix/io/rw/read,probability=0.3\n"
           "enable_random name=posix/io/rw/write,probability=0.3")


def signal_storm(base, tag, preload, starts=10):
    """How many of `starts` cwtimeds died of SIGABRT under read and write
    faults at 30 % with 5 SIGHUPs each (LD_PRELOAD=preload)."""
    aborts = 0
    for i in range(starts):
        d = daemon.Daemon(base, "%s%d" % (tag, i))
        d.start(env={"LD_PRELOAD": preload, "FIU_ENABLE": RW_SPEC,
                     "FIU_CTRL_FIFO": ""}, log_level="notice")
        for _ in range(5):
            if d.proc.poll() is not None:
                break
            os.kill(d.pid(), signal.SIGHUP)
            # pacing between signals; ends early if the daemon died
            d.wait_for(lambda: d.proc.poll() is not None, timeout=0.05,
                       poll=0.01)
        aborts += 1 if d.stop() == -signal.SIGABRT else 0
    return aborts


def unsure(led):
    """An I/O-ish error reply leaves the outcome open (never half)."""
    for op in led.ops:
        if op["status"] == "refused" and op.get("code") in UNSURE:
            op["status"] = "sent"


SEEN = set()  # every uuid some recovered journal has shown
SERVER_RE = re.compile(r"uuid (\S+) is at the server but not in the "
                       r"journal")
LOST_RE = re.compile(r"'([^']+)' acknowledged: 0 entries \(lost\)")


def forgotten_ok(bad, cw):
    """The outbox forgets the oldest of more than OUTBOX_KEEP_DONE (256)
    finished entries (src/core/outbox.c prune_done), so a long run's
    early entries leave the journal once compacted. Such an entry is
    not lost when the fake holds it exactly once (by its notes): drops
    those from the violations, and counts them."""
    at = {}
    ents = cw.entries()
    for e in (ents.values() if isinstance(ents, dict) else ents):
        n = e.get("notes")
        at[n] = at.get(n, 0) + 1
    guids = invariants.server_guids(ents)
    keep, gone = [], 0
    for b in bad:
        m = LOST_RE.search(b)
        if m and at.get(m.group(1)) == 1:
            gone += 1
            continue
        m = SERVER_RE.search(b)
        if m and m.group(1) in SEEN and guids.get(m.group(1)) == 1:
            continue  # a journal showed it before it was forgotten
        keep.append(b)
    return keep, gone


def seen(view):
    SEEN.update(view.entries)


def main():
    daemon.probe_binaries()
    fenv = probe_fiu()
    kill = load_kill()
    print("# seed %d, %.0f s under %s, LD_PRELOAD=%s" % (
        SEED, SECONDS, SPEC, fenv["LD_PRELOAD"]))
    rng = random.Random(SEED)
    base = daemon.make_base()
    storm = {}
    if SPARE:
        libs = fenv["LD_PRELOAD"].split()
        storm = {"aborts_with_spare": signal_storm(base, "spare",
                                                   " ".join(libs)),
                 "aborts_without": signal_storm(base, "bare",
                                                " ".join(libs[1:]))}
        T.ok(storm["aborts_with_spare"] == 0, "D4: with fiu-spare.so, 10 "
             "cwtimeds under read/write faults at 30 %% and SIGHUPs: no "
             "SIGABRT (without it: %d of 10)" % storm["aborts_without"])
    os.makedirs(os.path.join(base, "cw"))
    cw = fakeclient.FakeCW(os.path.join(base, "cw"))
    cw.start()
    kill.SEED_GUIDS.update(invariants.server_guids(cw.entries()))
    cw.add_fault("apply-then-reset", probability=0.3, seed=SEED,
                 match=kill.POST)
    cw.add_fault("500", probability=0.1, seed=SEED + 1, match=kill.GET)
    d = daemon.with_fake(base, "d4", cw)
    env = dict(fenv)
    if daemon.is_asan():
        # libfiu's preload comes before the ASan runtime
        env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + \
            ":verify_asan_link_order=0"
    led = invariants.Ledger()
    violations = []
    crashes = []
    exits = {}
    rounds = 0
    bursts = 0
    aborts = 0  # SIGABRT: ours (libuv's internal fds are spared)
    running = set()
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < SECONDS and not violations:
            rounds += 1
            d.start(env=env)
            end = time.monotonic() + ROUND_S
            while time.monotonic() < end and d.proc.poll() is None:
                bursts += 1  # names the burst's notes: unique per burst
                w = kill.Worker(d, led, random.Random(rng.random()),
                                running, bursts)
                w.run()  # one burst, in this thread
            rc = d.stop(signal.SIGTERM, timeout=20)
            exits[str(rc)] = exits.get(str(rc), 0) + 1
            san = d.sanitizer_report()
            aborts += 1 if rc == -signal.SIGABRT else 0
            if (rc is not None and rc < 0 and -rc not in OURS) or san:
                crashes.append("round %d: exit %s %s\n%s" % (
                    rounds, rc, san or "", d.log_text()[-800:]))
            unsure(led)
            # a clean restart: must come up, and every invariant hold
            ready = d.start()
            bad = invariants.check_recovery(d, ready)
            if ready:
                view, more = kill.check_state(d, cw, led, rounds)
                seen(view)
                more, _ = forgotten_ok(more, cw)
                bad += more
                if not more:
                    led.resolve(view)
                    running = set(t.split(":", 1)[1] for t in view.timers)
            violations += ["round %d: %s" % (rounds, b) for b in bad]
            rc = d.stop()
            if rc != 0:
                violations.append("round %d: the clean run stopped with "
                                  "%s" % (rounds, rc))
        T.ok(not crashes, "D4: %d rounds under random I/O faults, no "
             "crash and no sanitizer report" % rounds,
             "\n".join(crashes[:10]))
        T.ok(not violations, "D4: every clean restart came up and every "
             "invariant held", "\n".join(violations[:20]))
        ready = d.start()
        T.ok(ready, "clean restart for the drain", d.log_text()[-1000:])
        cw.clear_faults()
        drained = d.wait_for(lambda: not invariants.check_final(
            invariants.View.load(d.state_dir)), timeout=120, poll=0.2)
        view, bad = kill.check_state(d, cw, led, "drain")
        seen(view)
        bad, forgotten = forgotten_ok(bad, cw)
        final = invariants.check_final(view)
        T.ok(drained and not final and not bad, "D4: after the drain every "
             "entry is final and every invariant holds (%s)" %
             view.states(), "\n".join((final + bad)[:20]))
        dup = invariants.duplicates(cw.entries())
        T.eq(dup, 0, "D4: no duplicate at the fake")
        rc = d.stop()
        T.ok(rc == 0 and d.sanitizer_report() is None, "clean stop (%s)"
             % rc)
        figures.record(["D4"], "test-rel-fiu", {
            "seconds": round(time.monotonic() - t0, 1), "rounds": rounds,
            "bursts": bursts, "seed": SEED, "fault_spec": SPEC,
            "exits_under_faults": exits,
            "crashes": len(crashes), "aborts": aborts,
            "libuv_fds_spared": SPARE, "signal_storm": storm,
            "acknowledged": led.acknowledged(),
            "entries": len(view.entries), "duplicated_at_server": dup,
            "violations": len(violations),
            "forgotten_after_delivery": forgotten}, T.failed == 0)
    finally:
        d.stop(signal.SIGKILL, timeout=5)
        cw.stop()
        daemon.shutil.rmtree(base, ignore_errors=True)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
