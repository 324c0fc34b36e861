#!/usr/bin/python3
"""bench.py - cwtimed's benchmark harness, run by `make bench`.

Runs each case's command(s) N times and reports the median and the range
(min-max) of the wall time, and the ratio of the median to the group's
anchor measured in the same run, in the same rounds (the cases of a group
are interleaved round by round, so drift of the machine hits all of them
alike). Never a pass/fail test: the numbers depend on the machine; the
ratios are what compares across machines.

Groups (more are added by appending to GROUPS):
  client  /bin/true (anchor) vs floor-client (the cheapest client possible)
          vs cwtimectl ping/status/start+stop, against a running $CWTIMED on
          temporary XDG paths
  durable fsync-loop (bare append+fdatasync, anchor) vs journal-commit
          (journal_append+journal_commit), per record, on the build's disk
  timew   /bin/true (anchor) vs Debian's timewarrior on an empty temporary
          $TIMEWARRIORDB, for comparison with a peer

A case that cannot run here (a program not built, a verb the client does
not have yet, no daemon) is reported as "not run" with the reason; the
others still run. Timing: os.posix_spawn and os.waitpid around each
command, time.perf_counter_ns; stdio goes to /dev/null.

Writes the report as Markdown (machine, date, commit, tables) to --out and
prints the same tables on stdout.
"""

import argparse
import datetime
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

DEVNULL_ACTIONS = [
    (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
    (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
    (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0),
]


class Case:
    """One benchmark: steps (argv lists) run in order and timed together.

    setup, when given, runs untimed before every run (e.g. a fresh
    directory). per is the number of operations one run performs: the
    reported times are divided by it. ok is the set of accepted exit
    statuses."""

    def __init__(self, name, steps, anchor=False, per=1, ok=(0,),
                 setup=None, env=None, note=""):
        self.name = name
        self.steps = steps
        self.anchor = anchor
        self.per = per
        self.ok = set(ok)
        self.setup = setup
        self.env = env
        self.note = note
        self.samples = []
        self.skip = None

    def probe(self):
        """Runs the case once, untimed, with stderr captured; sets
        self.skip to the reason when it cannot run here."""
        for argv in self.steps:
            if not os.path.isabs(argv[0]) or not os.access(argv[0], os.X_OK):
                self.skip = f"{argv[0]} is not built or not installed"
                return
        if self.setup:
            self.setup()
        for argv in self.steps:
            try:
                p = subprocess.run(argv, env=self.env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, timeout=60)
            except subprocess.TimeoutExpired:
                self.skip = f"`{' '.join(argv)}` took over 60 s"
                return
            if p.returncode not in self.ok:
                err = p.stderr.decode(errors="replace").strip().splitlines()
                self.skip = (f"`{' '.join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv))}`"
                             f" exits {p.returncode}"
                             + (f": {err[0][:120]}" if err else ""))
                return

    def run_once(self):
        if self.setup:
            self.setup()
        total = 0
        for argv in self.steps:
            t0 = time.perf_counter_ns()
            pid = os.posix_spawn(argv[0], argv, self.env or os.environ,
                                 file_actions=DEVNULL_ACTIONS)
            _, status = os.waitpid(pid, 0)
            total += time.perf_counter_ns() - t0
            code = os.waitstatus_to_exitcode(status)
            if code not in self.ok:
                raise RuntimeError(f"{self.name}: `{' '.join(argv)}` exited {code}")
        self.samples.append(total / self.per)


def fmt_ns(ns):
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e3:.1f} µs"


def run_group(cases, runs, warmup):
    for c in cases:
        if not c.skip:
            c.probe()
    live = [c for c in cases if not c.skip]
    for r in range(warmup + runs):
        for c in list(live):
            try:
                c.run_once()
            except RuntimeError as e:
                c.skip = str(e)
                live.remove(c)
        if r < warmup:
            for c in live:
                c.samples.clear()


def table(title, unit, cases):
    anchor = next((c for c in cases if c.anchor and c.samples), None)
    base = statistics.median(anchor.samples) if anchor else None
    lines = [f"## {title}", "", unit, "",
             "| case | median | min - max | ratio to anchor |",
             "|---|---:|---:|---:|"]
    for c in cases:
        label = c.name + (" (anchor)" if c.anchor else "")
        if c.skip or not c.samples:
            lines.append(f"| {label} | not run | {c.skip or 'no samples'} | |")
            continue
        med = statistics.median(c.samples)
        ratio = f"{med / base:.2f}" if base else "n/a"
        lines.append(f"| {label} | {fmt_ns(med)} | "
                     f"{fmt_ns(min(c.samples))} - {fmt_ns(max(c.samples))} | {ratio} |")
    notes = [c for c in cases if c.note]
    if notes:
        lines.append("")
        lines.extend(f"- {c.name}: {c.note}" for c in notes)
    lines.append("")
    return lines


def machine(srcdir, workdir):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    osname = platform.system()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    fs = subprocess.run(["stat", "-f", "-c", "%T", workdir], capture_output=True,
                        text=True).stdout.strip() or "unknown"
    commit = "unknown (not a git checkout)"
    if shutil.which("git") and os.path.exists(os.path.join(srcdir, ".git")):
        head = subprocess.run(["git", "-C", srcdir, "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", srcdir, "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        if head:
            commit = head + (" with uncommitted changes" if dirty else "")
    return [
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- commit: {commit}",
        f"- machine: {cpu}, {os.cpu_count()} CPUs, {osname}, Linux {platform.release()}",
        f"- work directory filesystem (the durable group): {fs}",
    ]


class Daemon:
    """$CWTIMED on temporary XDG paths, ready once its socket accepts."""

    def __init__(self, cwtimed, tmp):
        self.env = dict(os.environ)
        for d in ("run", "state", "config"):
            os.mkdir(os.path.join(tmp, d), 0o700)
        self.env.update(XDG_RUNTIME_DIR=os.path.join(tmp, "run"),
                        XDG_STATE_HOME=os.path.join(tmp, "state"),
                        XDG_CONFIG_HOME=os.path.join(tmp, "config"))
        self.env.pop("NOTIFY_SOCKET", None)
        self.env.pop("WATCHDOG_USEC", None)
        self.sock = os.path.join(tmp, "run", "cwtimed", "socket")
        self.log = os.path.join(tmp, "cwtimed.log")
        self.proc = None
        self.error = None
        if not os.access(cwtimed, os.X_OK):
            self.error = f"{cwtimed} is not built"
            return
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([cwtimed], env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.error = f"cwtimed exited {self.proc.returncode}: {self.tail()}"
                return
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(self.sock)
                return
            except OSError:
                time.sleep(0.02)  # polling with a deadline, not a fixed wait
        self.error = f"no socket at {self.sock} within 10 s: {self.tail()}"

    def tail(self):
        try:
            with open(self.log, errors="replace") as f:
                return " / ".join(f.read().strip().splitlines()[-2:])[:200]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def fresh_dir(path):
    def setup():
        shutil.rmtree(path, ignore_errors=True)
        os.mkdir(path, 0o700)
    return setup


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--srcdir", required=True)
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "30")))
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--records", type=int, default=200,
                    help="records per run in the durable group")
    a = ap.parse_args()
    b = os.path.abspath(a.builddir)
    bench = os.path.join(b, "tests", "bench")
    true = shutil.which("true") or "/bin/true"
    cwtimed = os.environ.get("CWTIMED", os.path.join(b, "cwtimed"))
    cwtimectl = os.environ.get("CWTIMECTL", os.path.join(b, "cwtimectl"))
    work = os.path.join(bench, "work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work, 0o700)
    tmp = tempfile.mkdtemp(prefix="cwt-bench-")  # short: sun_path is 108 bytes
    out = ["# cwtimed benchmarks", "",
           "Generated by `make bench` (tests/bench/bench.py); copy it here with",
           "`make bench-update-doc`. Not a pass/fail test: absolute times depend on",
           "the machine, the ratios to each group's anchor (measured in the same",
           f"rounds) are what compares. {a.runs} timed runs per case after {a.warmup} "
           "warm-up runs.", ""]
    out += machine(a.srcdir, work) + [""]
    daemon = None
    try:
        daemon = Daemon(cwtimed, tmp)
        env = daemon.env
        client = [
            Case(os.path.basename(true), [[true]], anchor=True, env=env,
                 note="process creation and exit, the floor of any command"),
            Case("floor-client ping", [[os.path.join(bench, "floor-client"), "ping"]], env=env,
                 note="connect, one request line, one reply line, json-c parse"),
            Case("cwtimectl ping", [[cwtimectl, "ping"]], env=env),
            Case("cwtimectl status", [[cwtimectl, "status"]], env=env),
            Case("cwtimectl start + stop",
                 [[cwtimectl, "start", "54321", "--ago", "10m"], [cwtimectl, "stop", "54321"]],
                 env=env, note="two commands, each journaled with fdatasync before the reply"),
        ]
        if daemon.error:
            for c in client[1:]:
                c.skip = f"no daemon: {daemon.error}"
        run_group(client, a.runs, a.warmup)
        daemon.stop()

        recs = a.records
        durable = [
            Case("fsync-loop", [[os.path.join(bench, "fsync-loop"), work, str(recs)]],
                 anchor=True, per=recs,
                 note="write(120 B) + fdatasync on an appended file: the bare cost of durability"),
            Case("fsync-loop -p", [[os.path.join(bench, "fsync-loop"), "-p", work, str(recs)]],
                 per=recs,
                 note="the same on a preallocated file written in place, as the journal's "
                      "segments are: no size change to make durable"),
            Case("journal-commit",
                 [[os.path.join(bench, "journal-commit"), os.path.join(work, "j"), str(recs)]],
                 per=recs, setup=fresh_dir(os.path.join(work, "j")),
                 note="journal_append + journal_commit of one record per batch"),
        ]
        run_group(durable, a.runs, a.warmup)

        timew = shutil.which("timew")
        twdb = os.path.join(tmp, "timewarrior")

        def empty_twdb():
            # A fresh, empty database for every run: intervals must not
            # overlap, and a growing database would skew the later runs.
            shutil.rmtree(twdb, ignore_errors=True)
            os.makedirs(os.path.join(twdb, "data"))
            open(os.path.join(twdb, "timewarrior.cfg"), "w").close()
        empty_twdb()
        twenv = dict(os.environ, TIMEWARRIORDB=twdb)
        tw = [
            Case(os.path.basename(true), [[true]], anchor=True, env=twenv),
            Case("timew (status)", [[timew or "timew"]], ok=(0, 1), env=twenv, setup=empty_twdb,
                 note="exit 1 when nothing is tracked"),
            Case("timew start + stop",
                 [[timew or "timew", "start", "10min", "ago", "bench"], [timew or "timew", "stop"]],
                 env=twenv, setup=empty_twdb, note="compare with cwtimectl start + stop"),
        ]
        run_group(tw, a.runs, a.warmup)
    finally:
        if daemon:
            daemon.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)

    out += table("Client round trip", "Time per command, against a running cwtimed.", client)
    out += table("Durable acknowledgements", f"Time per record ({recs} per run).", durable)
    out += table("timewarrior", "Time per command, on an empty temporary database.", tw)
    text = "\n".join(out)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out + ".tmp", "w") as f:
        f.write(text)
    os.replace(a.out + ".tmp", a.out)
    print(text)
    print(f"bench: wrote {os.path.abspath(a.out)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
