#!/usr/bin/python3
"""bench.py - cwtimed's benchmark harness, run by `make bench`.

Runs each case's command(s) N times and reports the median and the range
(min-max) of the wall time, and the ratio of the median to the group's
anchor measured in the same run, in the same rounds (the cases of a group
are interleaved round by round, so drift of the machine hits all of them
alike). Never a pass/fail test: the numbers depend on the machine; the
ratios are what compares across machines.

Groups (GROUPS; --groups=a,b picks some; each has its own knobs):
  client   /bin/true (anchor), floor-client (the cheapest client, linked
           like cwtimectl), cwtimectl status/toggle/start+stop against a
           running $CWTIMED, status against a daemon with --history-records
           of journal history, and Debian's timew on an empty database and
           on a year of history (data files written directly), all
           interleaved in the same rounds
  durable  fsync-loop (bare append+fdatasync, anchor) vs journal-commit;
           then through the daemon (ipc-load): toggles acknowledged per
           second with 1 and 8 clients vs fdatasync/s, and the stop round
           trip vs one fdatasync
  ipc      ipc-load (C, epoll): ping with 1, 8, 64 clients and status with
           8, requests/s and p50/p99 (--load-runs, --load-seconds); event
           fan-out to 100 subscribers and, for comparison, to --fanout-fit
  journal  journal-bulk fills --journal-sizes records; journal replay alone,
           cwtimed start-up (spawn to READY=1 on our NOTIFY_SOCKET) without
           and with the checkpoint (--journal-runs)
  idle     three daemons (no timer; a timer; a timer and a subscriber) in
           one --idle-window (default 60 s): wake-ups (voluntary context
           switches of all threads) per minute, and RSS
  submit   --submit-entries entries to tests/fakecw with max_rate = 0 vs a
           sh loop of curl POSTing the same bodies; --paced-entries with the
           default max_rate, and the request rate it kept
  scaling  --timer-counts concurrent timers ([timers] concurrency =
           parallel): start-up, RSS, status latency, the cost of one more
           start at that size, and the size of the start and status replies

Every figure is the median and min-max of repeated runs, with a ratio to an
anchor measured in the same run; a "Targets" section judges the issue's
targets on this run's figures. None of it is a test: nothing fails.

A case that cannot run here (a program not built, a verb the client does
not have yet, no daemon) is reported as "not run" with the reason; the
others still run. Timing: os.posix_spawn and os.waitpid around each
command, time.perf_counter_ns; stdio goes to /dev/null.

Writes the report as Markdown (machine, date, commit, tables) to --out and
prints the same tables on stdout.
"""

import argparse
import datetime
import json
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
        self.fmt = fmt_ns

    def median(self):
        return statistics.median(self.samples) if self.samples and not self.skip else None

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
        lines.append(f"| {label} | {c.fmt(med)} | "
                     f"{c.fmt(min(c.samples))} - {c.fmt(max(c.samples))} | {ratio} |")
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
    """$CWTIMED on temporary XDG paths, ready once its socket accepts.

    config, when given, is written to $XDG_CONFIG_HOME/cwtimed/cwtimed.conf
    and credentials (public, private, client id) to its credentials file;
    start=False only prepares the directories and the environment."""

    def __init__(self, cwtimed, tmp, config=None, credentials=None, start=True):
        self.env = dict(os.environ)
        self.cwtimed = cwtimed
        self.tmp = tmp
        for d in ("run", "state", "config"):
            os.makedirs(os.path.join(tmp, d), 0o700, exist_ok=True)
        self.state_dir = os.path.join(tmp, "state", "cwtimed")
        if config is not None or credentials is not None:
            cdir = os.path.join(tmp, "config", "cwtimed")
            os.makedirs(cdir, 0o700, exist_ok=True)
            if config is not None:
                with open(os.path.join(cdir, "cwtimed.conf"), "w") as f:
                    f.write(config)
            if credentials is not None:
                path = os.path.join(cdir, "credentials")
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write("[api]\npublic_key = %s\nprivate_key = %s\n"
                            "client_id = %s\n" % credentials)
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
        if start:
            self.start()

    def start(self):
        """Starts cwtimed and waits (with a deadline) until its socket
        accepts. Sets self.error instead of raising."""
        cwtimed = self.cwtimed
        self.error = None
        with open(self.log, "ab") as log:
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

    def ready_time(self):
        """Starts cwtimed and returns the nanoseconds from spawn to its
        READY=1 (sd_notify to our own NOTIFY_SOCKET: no polling, so the
        figure has no polling granularity), or raises RuntimeError."""
        path = os.path.join(self.tmp, "notify")
        if os.path.exists(path):
            os.unlink(path)
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            ns.bind(path)
            env = dict(self.env, NOTIFY_SOCKET=path)
            log = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                t0 = time.perf_counter_ns()
                pid = os.posix_spawn(self.cwtimed, [self.cwtimed], env, file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, log, 1), (os.POSIX_SPAWN_DUP2, log, 2)])
            finally:
                os.close(log)
            self.pid = pid
            ns.settimeout(0.2)
            end = time.monotonic() + 120
            while time.monotonic() < end:
                try:
                    msg = ns.recv(4096)
                except socket.timeout:
                    # Checked between reads: a daemon that exits never
                    # sends READY=1.
                    done, status = os.waitpid(pid, os.WNOHANG)
                    if done:
                        self.pid = None
                        raise RuntimeError(f"cwtimed exited "
                                           f"{os.waitstatus_to_exitcode(status)}: "
                                           f"{self.tail()}")
                    continue
                if b"READY=1" in msg.split(b"\n"):
                    return time.perf_counter_ns() - t0
            self.kill_pid()
            raise RuntimeError(f"no READY=1 within 120 s: {self.tail()}")
        finally:
            ns.close()

    def kill_pid(self, sig=signal.SIGKILL):
        """Ends the cwtimed started by ready_time() and reaps it."""
        if getattr(self, "pid", None):
            os.kill(self.pid, sig)
            _, status = os.waitpid(self.pid, 0)
            self.pid = None
            return os.waitstatus_to_exitcode(status)
        return None

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


class Series:
    """A figure measured once per round by a function (not a command):
    rates, percentiles, start-up times, RSS. Same reporting as Case."""

    def __init__(self, name, fmt=None, anchor=False, note=""):
        self.name = name
        self.fmt = fmt or fmt_ns
        self.anchor = anchor
        self.note = note
        self.samples = []
        self.skip = None

    def median(self):
        return statistics.median(self.samples) if self.samples and not self.skip else None


def fmt_rate(x):
    return f"{x:,.0f}/s"


def fmt_us(x):
    return fmt_ns(x * 1000)


def fmt_kib(x):
    return f"{x / 1024:.1f} MiB" if x >= 1024 else f"{x:.0f} KiB"


def fmt_per_min(x):
    return f"{x:.1f}/min"


def fmt_x(x):
    return f"{x:.1f}x"


class NotRun(Exception):
    """A measurement that cannot run here; the message is the reason."""


def run_tool(argv, env, timeout=300):
    """Runs a bench program; returns its `key=value ...` stdout as a dict
    of floats, or raises NotRun with the reason."""
    if not os.access(argv[0], os.X_OK):
        raise NotRun(f"{argv[0]} is not built")
    try:
        p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise NotRun(f"`{os.path.basename(argv[0])}` took over {timeout} s")
    if p.returncode != 0:
        err = p.stderr.strip().splitlines()
        why = err[-1][:160] if err else ""
        if p.returncode == 3:
            raise NotRun("cwtimed refused the connections over its limit of "
                         f"{conn_limit()} per uid (PROTO_MAX_CONNS_PER_UID) with `busy`")
        raise NotRun(f"`{os.path.basename(argv[0])}` exits {p.returncode}: {why}")
    out = {}
    for kv in p.stdout.split():
        k, _, v = kv.partition("=")
        try:
            out[k] = float(v)
        except ValueError:
            pass
    return out


def conn_limit():
    """PROTO_MAX_CONNS_PER_UID from src/common/proto.h, for the reports."""
    try:
        with open(os.path.join(SRCDIR, "src", "common", "proto.h")) as f:
            for line in f:
                if line.startswith("#define PROTO_MAX_CONNS_PER_UID"):
                    return line.split()[2]
    except OSError:
        pass
    return "?"


def raw_requests(env, reqs, timeout=120):
    """Sends requests [(cmd, args)] pipelined on one connection and
    returns the replies (parsed), in order."""
    path = os.path.join(env["XDG_RUNTIME_DIR"], "cwtimed", "socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        out = []
        buf = b""
        # In chunks, so that neither side's socket buffer fills up while
        # the other is writing.
        for k in range(0, len(reqs), 64):
            chunk = reqs[k:k + 64]
            data = b"".join(json.dumps({"v": 1, "id": k + n + 1, "cmd": c,
                                        **({"args": a} if a is not None else {})}).encode()
                            + b"\n" for n, (c, a) in enumerate(chunk))
            s.sendall(data)
            want = len(out) + len(chunk)
            while len(out) < want:
                while b"\n" not in buf:
                    got = s.recv(1 << 20)
                    if not got:
                        raise NotRun("cwtimed closed the connection")
                    buf += got
                line, buf = buf.split(b"\n", 1)
                msg = json.loads(line)
                if "event" not in msg:
                    out.append(msg)
    return out


def raw_ok(env, cmd, args=None):
    r = raw_requests(env, [(cmd, args)])[0]
    if not r.get("ok"):
        raise NotRun(f"`{cmd}` answers {r.get('error', {}).get('code')}: "
                     f"{r.get('error', {}).get('message', '')[:120]}")
    return r.get("result")


def proc_status(pid, key):
    """A field of /proc/PID/status in its unit (kB for VmRSS), summed over
    threads for the context switch counters."""
    if key.endswith("ctxt_switches"):
        total = 0
        for t in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{t}/status") as f:
                    for line in f:
                        if line.startswith(key + ":"):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rounds(series_fns, runs):
    """Interleaves measurement functions round by round; a function that
    raises NotRun marks its series not run and is dropped."""
    live = [(s, fn) for s, fn in series_fns if not s.skip]
    for _ in range(runs):
        for s, fn in list(live):
            try:
                s.samples.append(fn())
            except NotRun as e:
                s.skip = str(e)
                s.samples.clear()
                live.remove((s, fn))


def series_from_tool(names_fmts, argv, env, runs, key_note=None):
    """Runs argv `runs` times; one Series per (label, key, fmt)."""
    out = [Series(label, fmt=fmt) for label, key, fmt in names_fmts]
    for _ in range(runs):
        try:
            res = run_tool(argv, env)
        except NotRun as e:
            for s in out:
                s.skip = str(e)
                s.samples.clear()
            break
        for s, (label, key, fmt) in zip(out, names_fmts):
            s.samples.append(res[key])
    return out


SRCDIR = "."


class PerfCount:
    """`perf stat` counting tracepoint events of a running process until
    stop(); NotRun when perf is missing or may not trace here."""

    def __init__(self, pid, events, tmp, cmd=None, env=None):
        """With cmd, perf runs it and counts while it runs (stop() then
        waits for it, and self.result holds its key=value output)."""
        self.out = os.path.join(tmp, f"perf-{pid}-{len(events)}.csv")
        self.events = events
        self.cmd = cmd
        self.result = {}
        perf = shutil.which("perf")
        if not perf:
            raise NotRun("perf is not installed")
        self.proc = subprocess.Popen([perf, "stat", "-x,", "-o", self.out] +
                                     sum((["-e", e] for e in events), []) +
                                     ["-p", str(pid)] + (["--"] + cmd if cmd else []),
                                     env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE if cmd else subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)

    def stop(self):
        """Returns {event: count}."""
        if self.proc.poll() is None and not self.cmd:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, err = self.proc.communicate(timeout=120 if self.cmd else 10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise NotRun("perf stat did not stop")
        if self.cmd:
            if self.proc.returncode != 0:
                why = err.decode(errors="replace").strip().splitlines()
                raise NotRun(f"`perf stat -- {os.path.basename(self.cmd[0])}` exits "
                             f"{self.proc.returncode}" + (f": {why[-1][:120]}" if why else ""))
            for kv in out.decode().split():
                k, _, v = kv.partition("=")
                try:
                    self.result[k] = float(v)
                except ValueError:
                    pass
        counts = {}
        try:
            with open(self.out) as f:
                for line in f:
                    parts = line.strip().split(",")
                    if len(parts) > 2 and parts[2] in self.events:
                        if parts[0] == "<not counted>":
                            # perf's word for a task that never ran while
                            # counting: no event happened.
                            counts[parts[2]] = 0
                            continue
                        try:
                            counts[parts[2]] = int(parts[0])
                        except ValueError:
                            raise NotRun(f"perf cannot count {parts[2]}: {parts[0]}")
        except OSError:
            pass
        if set(counts) != set(self.events):
            why = err.decode(errors="replace").strip().splitlines()
            raise NotRun("perf stat counted nothing" + (f": {why[-1][:120]}" if why else ""))
        return counts

# ---- groups ---------------------------------------------------------------


def timew_year(path, days=365):
    """A year of Timewarrior history written directly as its data files
    (data/YYYY-MM.data, `inc START - END # tag`): four intervals on each
    weekday ending yesterday, about 1,040 in all."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(os.path.join(path, "data"))
    open(os.path.join(path, "timewarrior.cfg"), "w").close()
    today = datetime.datetime.now(datetime.timezone.utc).date()
    files = {}
    n = 0
    for d in range(days, 0, -1):
        day = today - datetime.timedelta(days=d)
        if day.weekday() >= 5:
            continue
        for h0, h1, tag in ((8, 10, "ticket-54321"), (10, 12, "project-12 review"),
                            (13, 15, "ticket-54400"), (15, 17, "admin")):
            a = datetime.datetime(day.year, day.month, day.day, h0)
            b = datetime.datetime(day.year, day.month, day.day, h1)
            files.setdefault(f"{day:%Y-%m}", []).append(
                f"inc {a:%Y%m%dT%H%M%SZ} - {b:%Y%m%dT%H%M%SZ} # {tag}\n")
            n += 1
    for month, lines in files.items():
        with open(os.path.join(path, "data", month + ".data"), "w") as f:
            f.writelines(lines)
    # Timewarrior keeps the list of its tags in tags.data; without it, it
    # would rebuild (or complain) on the first command.
    return n


def copy_tree(src, dst):
    def setup():
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)
    return setup


def fill_journal(bench, state_dir, count):
    """journal-bulk fill; raises NotRun."""
    run_tool([os.path.join(bench, "journal-bulk"), "fill", state_dir, str(count)],
             None, timeout=600)


def has_checkpoint(state_dir):
    for _, _, files in os.walk(state_dir):
        if "checkpoint" in files:
            return True
    return False


def group_client(a, ctx):
    """Client latency: cwtimectl vs the floor, /bin/true, fsync, timew."""
    b, bench, tmp = ctx["builddir"], ctx["bench"], ctx["tmp"]
    true, cwtimectl, floor = ctx["true"], ctx["cwtimectl"], os.path.join(bench, "floor-client")
    daemon = Daemon(ctx["cwtimed"], os.path.join(tmp, "client"))
    ctx["daemons"].append(daemon)
    env = daemon.env
    # A second daemon with its own history: 100,000 journal records
    # (started and cancelled timers) replayed at its start-up.
    hist = Daemon(ctx["cwtimed"], os.path.join(tmp, "hist"), start=False)
    ctx["daemons"].append(hist)
    hist_note = (f"{a.history_records:,} journal records of history (timers started and "
                 "cancelled), replayed at start-up; the live state after replay is as small "
                 "as the other daemon's: larger live states are the scaling group")
    try:
        fill_journal(bench, hist.state_dir, a.history_records)
        hist.start()
    except NotRun as e:
        hist.error = str(e)
    timew = shutil.which("timew") or "timew"
    twempty = os.path.join(tmp, "tw-empty")
    twyear_src = os.path.join(tmp, "tw-year-src")
    twyear = os.path.join(tmp, "tw-year")
    nyear = timew_year(twyear_src)
    copy_tree(twyear_src, twyear)()

    def empty_twdb():
        # A fresh, empty database for every run: intervals must not
        # overlap, and a growing database would skew the later runs.
        shutil.rmtree(twempty, ignore_errors=True)
        os.makedirs(os.path.join(twempty, "data"))
        open(os.path.join(twempty, "timewarrior.cfg"), "w").close()
    empty_twdb()
    twenv = dict(os.environ, TIMEWARRIORDB=twempty)
    twyenv = dict(os.environ, TIMEWARRIORDB=twyear)
    toggle_err = None
    if not daemon.error:
        try:
            raw_ok(env, "start", {"target": "54321", "ago_s": 600})
        except (NotRun, OSError) as e:
            toggle_err = f"cannot start a timer to toggle: {e}"
    cases = [
        Case(os.path.basename(true), [[true]], anchor=True, env=env,
             note="process creation and exit, the floor of any command"),
        Case("floor-client ping", [[floor, "ping"]], env=env,
             note="connect, one request line, one reply line, json-c parse"),
        Case("floor-client status", [[floor, "status"]], env=env,
             note="the floor for `cwtimectl status`: same request, same reply, no output"),
        Case("cwtimectl ping", [[cwtimectl, "ping"]], env=env),
        Case("cwtimectl status", [[cwtimectl, "status"]], env=env,
             note="one running timer"),
        Case("cwtimectl status (history)", [[cwtimectl, "status"]], env=hist.env,
             note=hist_note),
        Case("floor-client toggle", [[floor, "toggle"]], env=env,
             note="durable: pause or resume, journaled with fdatasync before the reply"),
        Case("cwtimectl toggle", [[cwtimectl, "toggle"]], env=env,
             note="durable, as floor-client toggle"),
        Case("cwtimectl start + stop",
             [[cwtimectl, "start", "54322", "--ago", "10m"], [cwtimectl, "stop", "54322"]],
             env=env, note="two commands, each journaled with fdatasync before the reply"),
        Case("timew (status, empty)", [[timew]], ok=(0, 1), env=twenv, setup=empty_twdb,
             note="Debian's Timewarrior on an empty $TIMEWARRIORDB; exit 1 when nothing "
                  "is tracked"),
        Case("timew (status, a year)", [[timew]], ok=(0, 1), env=twyenv,
             note=f"on a year of history ({nyear:,} intervals in data/YYYY-MM.data)"),
        Case("timew start + stop (empty)",
             [[timew, "start", "10min", "ago", "bench"], [timew, "stop"]],
             env=twenv, setup=empty_twdb, note="compare with cwtimectl start + stop"),
        Case("timew start + stop (a year)",
             [[timew, "start", "10min", "ago", "bench"], [timew, "stop"]],
             env=twyenv, setup=copy_tree(twyear_src, twyear),
             note="a fresh copy of the year's database before every run"),
    ]
    for c in cases:
        if c.env is env and daemon.error and c.name != os.path.basename(true):
            c.skip = f"no daemon: {daemon.error}"
        if c.env is hist.env and hist.error:
            c.skip = f"no daemon with history: {hist.error}"
        if toggle_err and c.name.endswith("toggle") and not c.skip:
            c.skip = toggle_err
    run_group(cases, a.runs, a.warmup)
    daemon.stop()
    hist.stop()
    ctx["client"] = {c.name: c for c in cases}
    return table("Client latency", "Time per command (process start to exit), against a "
                 "running cwtimed; timew on temporary databases. All cases interleaved "
                 "round by round.", cases)


def group_durable(a, ctx):
    bench, work = ctx["bench"], ctx["work"]
    recs = a.records
    cases = [
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
    run_group(cases, a.runs, a.warmup)
    ctx["durable"] = {c.name: c for c in cases}
    out = table("Durable acknowledgements: the journal", f"Time per record ({recs} per "
                "run).", cases)

    # Through the daemon: closed-loop clients over the socket (ipc-load).
    daemon = Daemon(ctx["cwtimed"], os.path.join(ctx["tmp"], "durable"))
    ctx["daemons"].append(daemon)
    load = os.path.join(bench, "ipc-load")
    secs = str(a.load_seconds)
    fsync = Series("fdatasync/s (fsync-loop -p)", fmt=fmt_rate, anchor=True,
                   note="1 / the time per record of fsync-loop -p above, run by run")
    fsync.samples = [1e9 / x for x in ctx["durable"]["fsync-loop -p"].samples]
    if not fsync.samples:
        fsync.skip = ctx["durable"]["fsync-loop -p"].skip
    rows = [fsync]
    lat = [Series("fdatasync (fsync-loop -p)", fmt=fmt_ns, anchor=True,
                  note="time per record of fsync-loop -p above")]
    lat[0].samples = list(ctx["durable"]["fsync-loop -p"].samples)
    lat[0].skip = ctx["durable"]["fsync-loop -p"].skip
    if daemon.error:
        reason = f"no daemon: {daemon.error}"
        for n in (1, 8):
            s = Series(f"start/cancel, {n} client(s): acks/s", fmt=fmt_rate)
            s.skip = reason
            rows.append(s)
        s = Series("stop round trip (p50)", fmt=fmt_us)
        s.skip = reason
        lat.append(s)
    else:
        err = None
        try:
            for i in range(8):  # one at a time: each its own commit
                raw_ok(daemon.env, "start", {"target": f"5500{i}"})
        except (NotRun, OSError) as e:
            err = f"cannot start the timers: {e}"
        for n in (1, 8):
            got = series_from_tool([(f"start/cancel, {n} client{'s' if n > 1 else ''}: acks/s",
                                     "rps", fmt_rate)],
                                   [load, "-c", str(n), "-t", secs, "-w", "0.2",
                                    "-a", "cancel", "-A", '{"target":"5600@@","yes":true}',
                                    "start", '{"target":"5600@@"}'],
                                   daemon.env, a.load_runs)
            got[0].note = ("each client alternates start and cancel of a timer of its own "
                           "(under concurrency = single, so the clients' records interact "
                           "inside one batch); each is journaled with fdatasync before its "
                           "reply; closed loop; start and cancel each count")
            if err:
                got[0].skip, got[0].samples = err, []
            rows += got
        # Group commit: acknowledgements per fdatasync, counted by perf.
        for n in (1, 8):
            s = Series(f"start/cancel, {n} client{'s' if n > 1 else ''}: acks per fdatasync",
                       fmt=lambda x: f"{x:.2f}",
                       note="replies / the daemon's fdatasync calls (perf stat, tracepoint "
                            "syscalls:sys_enter_fdatasync) over one whole ipc-load run: "
                            "above 1 means one fdatasync carried several requests")
            ctx.setdefault("per_fsync", []).append(s)
            if err:
                s.skip = err
                continue
            for _ in range(a.load_runs):
                try:
                    # `perf stat -p PID -- CMD` attaches before CMD starts,
                    # so that no fdatasync of the run is missed.
                    pc = PerfCount(daemon.proc.pid, ["syscalls:sys_enter_fdatasync"],
                                   ctx["tmp"], cmd=[load, "-c", str(n), "-t", secs, "-w",
                                                    "0", "-a", "cancel", "-A",
                                                    '{"target":"5600@@","yes":true}',
                                                    "start", '{"target":"5600@@"}'],
                                   env=daemon.env)
                    counts = pc.stop()
                    res = pc.result
                    s.samples.append(res["total"] / max(1, counts[
                        "syscalls:sys_enter_fdatasync"]))
                except NotRun as e:
                    s.skip = str(e)
                    s.samples.clear()
                    break
        got = series_from_tool([("stop round trip (p50)", "p50_us", fmt_ns),
                                ("stop round trip (p99)", "p99_us", fmt_ns)],
                               [load, "-c", "1", "-t", secs, "-w", "0.2", "-a", "stop",
                                "-A", '{"target":"54399"}', "start",
                                '{"target":"54399","ago_s":600}'],
                               daemon.env, a.load_runs)
        got[0].note = ("one client alternating start (10 min ago) and stop over the socket; "
                       "the stop replies alone are timed; each run's percentile")
        for g in got:
            g.samples = [x * 1000 for x in g.samples]  # µs to ns, as the anchor
        lat += got
        daemon.stop()
    ctx["durable_rates"] = {s.name: s for s in rows}
    ctx["durable_lat"] = {s.name: s for s in lat}
    out += table("Durable acknowledgements through cwtimed: rate",
                 f"Acknowledgements per second, {a.load_seconds} s per run, "
                 f"{a.load_runs} runs; ratio to fdatasync/s.", rows)
    per = ctx.get("per_fsync", [])
    if per:
        per[0].anchor = True
        out += table("Durable acknowledgements through cwtimed: group commit",
                     "Acknowledgements per fdatasync; ratio to 1 client.", per)
    out += table("Durable acknowledgements through cwtimed: round trip",
                 "Time from the request to its reply, ratio to one fdatasync.", lat)
    return out


def group_ipc(a, ctx):
    bench, load = ctx["bench"], os.path.join(ctx["bench"], "ipc-load")
    daemon = Daemon(ctx["cwtimed"], os.path.join(ctx["tmp"], "ipc"))
    ctx["daemons"].append(daemon)
    secs = str(a.load_seconds)
    # the 1, 8 and 64 clients (the per-uid limit is 192 since
    # issue 6; 20 kept as the figure of the earlier runs)
    cfgs = [(1, "ping"), (8, "ping"), (20, "ping"), (64, "ping"), (8, "status")]
    rows = {}
    fns = []
    for n, cmd in cfgs:
        label = f"{cmd}, {n} client{'s' if n > 1 else ''}"
        trio = [Series(label, fmt=fmt_rate), Series(label, fmt=fmt_us),
                Series(label, fmt=fmt_us)]
        rows[(n, cmd)] = trio
        if daemon.error:
            for s in trio:
                s.skip = f"no daemon: {daemon.error}"
            continue

        def fn(n=n, cmd=cmd, trio=trio):
            # The daemon may not have seen the previous run's connections
            # close yet: retry a refusal under the limit, with a deadline.
            end = time.monotonic() + 5
            while True:
                try:
                    res = run_tool([load, "-c", str(n), "-t", secs, "-w", "0.3", cmd],
                                   daemon.env)
                    break
                except NotRun as e:
                    if ("refused" not in str(e) or n >= int(conn_limit() if conn_limit().isdigit() else 0)
                            or time.monotonic() > end):
                        raise
                    time.sleep(0.05)
            trio[1].samples.append(res["p50_us"])
            trio[2].samples.append(res["p99_us"])
            return res["rps"]
        fns.append((trio[0], fn))
    if not daemon.error:
        try:
            raw_ok(daemon.env, "start", {"target": "54321"})
        except (NotRun, OSError) as e:
            for s, _ in fns:
                s.skip = str(e)
    rounds(fns, a.load_runs)
    for trio in rows.values():
        if trio[0].skip:
            trio[1].skip = trio[2].skip = trio[0].skip
            trio[1].samples, trio[2].samples = [], []
    # Fan-out: subscribers wait for the event caused by one toggle.
    fan = []
    keys = ("p50_us", "p99_us", "max_us", "spread_p50_us", "spread_p99_us", "spread_max_us")
    for nsub in sorted({100, a.fanout_fit}, reverse=True):
        trio = [Series(f"{nsub} subscribers", fmt=fmt_us) for _ in keys]
        if daemon.error:
            for s in trio:
                s.skip = f"no daemon: {daemon.error}"
        else:
            for _ in range(a.load_runs):
                try:
                    res = run_tool([load, "-f", str(nsub), "-e", str(a.fanout_events),
                                    "toggle"], daemon.env)
                except NotRun as e:
                    for s in trio:
                        s.skip = str(e)
                        s.samples.clear()
                    break
                for s, k in zip(trio, keys):
                    s.samples.append(res[k])
        fan.append(trio)
    daemon.stop()
    ctx["ipc"] = rows
    ctx["fanout"] = fan
    base = rows[(1, "ping")][0].median()
    lines = ["## IPC throughput and latency", "",
             f"ipc-load (C, one epoll loop): N connections in a closed loop (one request "
             f"outstanding each), {a.load_seconds} s measured after 0.3 s of warm-up, "
             f"{a.load_runs} runs interleaved; median (min - max) over the runs of each "
             f"run's figure. The daemon accepts {conn_limit()} connections per uid "
             f"(PROTO_MAX_CONNS_PER_UID).", "",
             "| case | requests/s | p50 | p99 | throughput ratio to 1 client |",
             "|---|---:|---:|---:|---:|"]
    for (n, cmd), trio in rows.items():
        if trio[0].skip or not trio[0].samples:
            lines.append(f"| {trio[0].name} | not run | {trio[0].skip or 'no samples'} | | |")
            continue
        cells = []
        for s in trio:
            cells.append(f"{s.fmt(s.median())} ({s.fmt(min(s.samples))} - "
                         f"{s.fmt(max(s.samples))})")
        ratio = f"{trio[0].median() / base:.2f}" if base else "n/a"
        lines.append(f"| {trio[0].name} | {' | '.join(cells)} | {ratio} |")
    lines += ["", "### Event fan-out", "",
              f"ipc-load -f: the subscribers subscribe, then another connection toggles the "
              f"running timer {a.fanout_events} times, one at a time; the delay to each "
              f"subscriber's complete event line, from the toggle's write (this includes "
              f"the journal's fdatasync: events follow the commit) and from the round's "
              f"first delivery, the toggle's reply or an event, whichever came first "
              f"(the change was committed by then: the fan-out's own spread). "
              f"{a.load_runs} runs.", "",
              "| subscribers | p50 | p99 | max | spread p50 | spread p99 | spread max |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for trio in fan:
        if trio[0].skip or not trio[0].samples:
            lines.append(f"| {trio[0].name} | not run | {trio[0].skip or 'no samples'} "
                         "| | | | |")
            continue
        lines.append("| " + trio[0].name + " | " + " | ".join(
            f"{s.fmt(s.median())} ({s.fmt(min(s.samples))} - {s.fmt(max(s.samples))})"
            for s in trio) + " |")
    lines.append("")
    return lines


def group_journal(a, ctx):
    bench = ctx["bench"]
    sizes = [int(x) for x in a.journal_sizes.split(",") if x]
    rows = []
    for n in sizes:
        tmp = os.path.join(ctx["tmp"], f"j{n}")
        d = Daemon(ctx["cwtimed"], tmp, start=False)
        replay = Series(f"{n:,}: journal replay (journal_open)", fmt=fmt_ns)
        cold = Series(f"{n:,}: cwtimed start-up, no checkpoint", fmt=fmt_ns)
        warm = Series(f"{n:,}: cwtimed start-up, checkpoint", fmt=fmt_ns)
        cpu = Series(f"{n:,}: journal replay, CPU time", fmt=fmt_ns,
                     note="user + system time of journal_open(): less disturbed by other "
                          "load on a shared machine than the wall time") if n == sizes[0] \
            else Series(f"{n:,}: journal replay, CPU time", fmt=fmt_ns)
        rows += [replay, cpu, cold, warm]
        if d.error:
            for s in (replay, cpu, cold, warm):
                s.skip = d.error
            continue
        try:
            fill_journal(bench, d.state_dir, n)
        except NotRun as e:
            for s in (replay, cpu, cold, warm):
                s.skip = str(e)
            continue
        runs = max(1, a.journal_runs if n < 1000000 else min(a.journal_runs, 3))

        def do_replay():
            res = run_tool([os.path.join(bench, "journal-bulk"), "replay", d.state_dir], None)
            if res.get("records") != n:
                raise NotRun(f"replay applied {res.get('records')} records, not {n}")
            cpu.samples.append(res["cpu_ns"])
            return res["open_ns"]

        def do_start():
            try:
                t = d.ready_time()
            except RuntimeError as e:
                raise NotRun(str(e))
            # SIGKILL: a clean shutdown would write the checkpoint.
            d.kill_pid(signal.SIGKILL)
            return t
        rounds([(replay, do_replay), (cold, do_start)], runs)
        if replay.skip:
            cpu.skip, cpu.samples = replay.skip, []
        if has_checkpoint(d.state_dir):
            cold.note = "a checkpoint appeared during these runs: the daemon compacted"
        # A clean shutdown writes the checkpoint; later starts read it.
        try:
            d.ready_time()
            d.kill_pid(signal.SIGTERM)
        except RuntimeError as e:
            warm.skip = str(e)
        if not warm.skip and not has_checkpoint(d.state_dir):
            warm.skip = "no checkpoint after a clean shutdown"
        rounds([(warm, do_start)], runs)
        shutil.rmtree(tmp, ignore_errors=True)
    ctx["journal"] = {s.name: s for s in rows}
    first = rows[0] if rows else None
    for s in rows:
        s.anchor = False
    if first:
        first.anchor = True
    return table("Journal replay and daemon start-up",
                 "Records are pairs of timer-started and timer-cancelled for 1,000 tickets, "
                 "written with the journal API (tests/bench/journal-bulk.c) in batches of "
                 "4,096, compaction off. Replay: journal_open() timed inside "
                 "journal-bulk (CRC, JSON parse, a counting apply; its syncfs included). "
                 "Start-up: from spawn to READY=1 on our "
                 "NOTIFY_SOCKET (includes the journal's syncfs). 'checkpoint': after one "
                 "clean shutdown compacted the same history. Ratio to the smallest replay. "
                 f"Up to {a.journal_runs} runs per case (3 for 1M records).", rows)


def group_idle(a, ctx):
    """Wake-ups: voluntary context switches of every daemon thread over a
    window, three daemons at the same time (one window for all)."""
    scen = [("no timer", False, False), ("running timer, no subscriber", True, False),
            ("running timer, one subscriber", True, True)]
    ds, subs, rows = [], [], []
    for i, (name, timer, sub) in enumerate(scen):
        d = Daemon(ctx["cwtimed"], os.path.join(ctx["tmp"], f"idle{i}"))
        ctx["daemons"].append(d)
        wake = Series(name, fmt=fmt_per_min)
        rss = Series(name, fmt=fmt_kib)
        rows.append((wake, rss))
        ds.append(d)
        if d.error:
            wake.skip = rss.skip = f"no daemon: {d.error}"
            continue
        try:
            if timer:
                raw_ok(d.env, "start", {"target": "54321"})
            if sub:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(os.path.join(d.env["XDG_RUNTIME_DIR"], "cwtimed", "socket"))
                s.sendall(b'{"v":1,"id":1,"cmd":"subscribe"}\n')
                s.settimeout(10)
                if b'"ok":true' not in s.recv(65536):
                    raise NotRun("subscribe failed")
                subs.append(s)
        except (NotRun, OSError) as e:
            wake.skip = rss.skip = str(e)
    live = [(d, w, r) for d, (w, r) in zip(ds, rows) if not w.skip]
    evs = ["syscalls:sys_enter_epoll_wait", "syscalls:sys_enter_epoll_pwait"]
    perfs = {}
    for d, w, r in live:
        w.start = proc_status(d.proc.pid, "voluntary_ctxt_switches")
        try:
            perfs[d] = PerfCount(d.proc.pid, evs, ctx["tmp"])
        except NotRun as e:
            perfs[d] = e
    t0 = time.monotonic()
    time.sleep(a.idle_window)  # the measurement window itself, not a wait
    el = time.monotonic() - t0
    for d, w, r in live:
        w.samples.append((proc_status(d.proc.pid, "voluntary_ctxt_switches") - w.start)
                         * 60.0 / el)
        r.samples.append(proc_status(d.proc.pid, "VmRSS"))
        pc = perfs.get(d)
        try:
            if isinstance(pc, NotRun):
                raise pc
            w.polls = f"{sum(pc.stop().values()) * 60.0 / el:.1f}/min"
        except NotRun as e:
            w.polls = f"not run: {e}"
    for s in subs:
        s.close()
    for d in ds:
        d.stop()
    ctx["idle"] = rows
    lines = ["## Idle cost", "",
             f"Wake-ups: voluntary context switches of all of the daemon's threads "
             f"(/proc/PID/task/*/status) over one {a.idle_window:.0f} s window "
             f"(--idle-window; the issue asks for 60 s), scaled to a minute; each sleep "
             f"that ends is one. Event-loop polls: epoll_wait and epoll_pwait calls "
             f"counted by `perf stat` over the same window (the loop's timer for the "
             f"5-minute heartbeat cannot fire inside a 60 s window more than once). The "
             f"three daemons run in the same window. Offline (no [api]): nothing to "
             f"submit. RSS: VmRSS at the end of the window.", "",
             "| case | wake-ups | event-loop polls | RSS |", "|---|---:|---:|---:|"]
    for w, r in rows:
        if w.skip or not w.samples:
            lines.append(f"| {w.name} | not run | {w.skip} | |")
        else:
            lines.append(f"| {w.name} | {w.fmt(w.median())} | {getattr(w, 'polls', '-')} "
                         f"| {r.fmt(r.median())} |")
    lines.append("")
    return lines


def fakecw_start(tmp):
    sys.path.insert(0, os.path.join(SRCDIR, "tests", "fakecw"))
    try:
        import client as fakeclient
    except ImportError as e:
        raise NotRun(f"tests/fakecw/client.py: {e}")
    os.makedirs(tmp, exist_ok=True)
    cw = fakeclient.FakeCW(tmp)
    try:
        cw.start()
    except Exception as e:  # FakeCWError and OSError alike
        raise NotRun(f"fakecw does not start: {e}")
    return cw


def submit_config(cw, max_rate):
    return ("[api]\nurl = %s\ncompany = %s\nmember = jdoe\n%s" %
            (cw.api_url, cw.company, "" if max_rate is None else f"max_rate = {max_rate}\n"))


DAY0 = 1771837200  # 2026-02-23T09:00:00Z, a Monday: entries in the past


def queue_counts(env):
    st = raw_ok(env, "status")
    return st.get("queue", {}) if isinstance(st, dict) else {}


def submit_run(d, cw, n, first_slot, deadline):
    """Queues n entries (paused), resumes, and returns the nanoseconds
    until the queue is empty; raises NotRun."""
    # Paused while queueing, so that the submitter starts on a full queue.
    raw_ok(d.env, "queue.pause")
    reqs = [("log", {"target": "54321", "duration_s": 1800,
                     "at": DAY0 + (first_slot + i) * 3600}) for i in range(n)]
    replies = raw_requests(d.env, reqs)
    bad = [r for r in replies if not r.get("ok")]
    if bad:
        e = bad[0].get("error", {})
        raise NotRun(f"`log` answers {e.get('code')}: {e.get('message', '')[:100]}")
    cw.clear_log()  # only the requests of the submission itself count
    t0 = time.perf_counter_ns()
    raw_ok(d.env, "queue.resume")
    # `flush` would also list every queued entry in its reply: resuming
    # alone starts the submitter.
    end = time.monotonic() + deadline
    while True:
        q = queue_counts(d.env)
        if q.get("pending", 1) == 0 and q.get("unknown", 0) == 0:
            break
        if q.get("rejected"):
            raise NotRun(f"{q.get('rejected')} entries rejected by the fake")
        if time.monotonic() > end:
            raise NotRun(f"queue not empty after {deadline} s: {q}")
        time.sleep(0.01)  # polling the queue with a deadline
    return time.perf_counter_ns() - t0


def group_submit(a, ctx):
    tmp = os.path.join(ctx["tmp"], "submit")
    n, npaced = a.submit_entries, a.paced_entries
    ours = Series(f"cwtimed, {n} entries, max_rate = 0", fmt=fmt_ns)
    curl = Series(f"curl loop, {n} POSTs", fmt=fmt_ns, anchor=True,
                  note="sh: `for f in bodies/*; do curl -s -X POST ... --data-binary @$f; done` "
                       "with the bodies cwtimed POSTed, to the same fake")
    paced = Series(f"cwtimed, {npaced} entries, default max_rate", fmt=fmt_ns)
    rate = Series("paced requests made / allowed", fmt=lambda x: f"{x:.2f}")
    rows = [curl, ours, paced]
    ctx["submit"] = {"ours": ours, "curl": curl, "paced": paced, "rate": rate}
    cw = None
    try:
        cw = fakecw_start(os.path.join(tmp, "fake"))
        creds = (cw.public_key, cw.private_key, cw.client_id)
        d = Daemon(ctx["cwtimed"], os.path.join(tmp, "d0"), config=submit_config(cw, 0),
                   credentials=creds)
        ctx["daemons"].append(d)
        if d.error:
            raise NotRun(f"no daemon: {d.error}")
        curl_bin = shutil.which("curl")
        bodies = os.path.join(tmp, "bodies")
        for r in range(a.submit_runs):
            cw.reset()
            ours.samples.append(submit_run(d, cw, n, r * n, 120) / n)
            if not curl_bin:
                curl.skip = "curl is not installed"
                continue
            reqs = cw.requests()
            posts = [q for q in reqs if q.get("method") == "POST"
                     and q.get("relpath") == "/time/entries"]
            api = [q for q in reqs if str(q.get("path", "")).startswith("/v4_6_release/")]
            ours.note = (f"{len(api) / n:.2f} API requests per entry, {len(posts) / n:.2f} "
                         f"POSTs (last run); [api] max_in_flight at its default")
            if len(posts) < n:
                curl.skip = f"the fake logged {len(posts)} POSTs for {n} entries"
                continue
            shutil.rmtree(bodies, ignore_errors=True)
            os.makedirs(bodies)
            for i, q in enumerate(posts[:n]):
                body = q.get("body")
                with open(os.path.join(bodies, f"{i:05d}.json"), "w") as f:
                    f.write(body if isinstance(body, str) else json.dumps(body))
            cw.reset()
            script = ('for f in "$1"/*.json; do curl -s -o /dev/null -X POST '
                      '-H "Authorization: $2" -H "clientId: $3" -H "Accept: $4" '
                      '-H "Content-Type: application/json" --data-binary @"$f" "$5"; done')
            argv = ["/bin/sh", "-c", script, "sh", bodies, cw.auth_header(), cw.client_id,
                    "application/vnd.connectwise.com+json; version=2025.8",
                    cw.api_url + "/time/entries"]
            t0 = time.perf_counter_ns()
            subprocess.run(argv, check=False, stdin=subprocess.DEVNULL)
            curl.samples.append((time.perf_counter_ns() - t0) / n)
        d.stop()
        if curl.samples and len(cw.entries()) < n:
            curl.note += f"; only {len(cw.entries())} were stored"
        # Paced: the default max_rate, a fresh daemon.
        dp = Daemon(ctx["cwtimed"], os.path.join(tmp, "d1"), config=submit_config(cw, None),
                    credentials=creds)
        ctx["daemons"].append(dp)
        if dp.error:
            paced.skip = rate.skip = f"no daemon: {dp.error}"
        else:
            for r in range(max(1, min(a.submit_runs, 2))):
                cw.reset()
                # Slots after the unpaced runs': every entry its own hour
                # in the past (DAY0 leaves room for about 6,000).
                t = submit_run(dp, cw, npaced, a.submit_runs * n + r * npaced, 60 + npaced)
                api = [q for q in cw.requests()
                       if str(q.get("path", "")).startswith("/v4_6_release/")]
                nreq = len(api)
                kinds = {}
                for q in api:
                    k = f"{q.get('method')} {q.get('relpath')}"
                    kinds[k] = kinds.get(k, 0) + 1
                rate.kinds = kinds
                paced.samples.append(t / npaced)
                # The pacer is a token bucket of one token, full at the
                # start, and no burst: in a window of t seconds that
                # holds the first request, max_rate allows 1 + 10/s x t.
                allowed = 1 + 600 / 60 * (t / 1e9)
                rate.samples.append(nreq / allowed)
                # the first request is free; the others are the rate
                rate.raw = getattr(rate, "raw", []) + [(nreq - 1) / (t / 6e10)]
                rate.made = getattr(rate, "made", []) + [(nreq, allowed)]
            dp.stop()
    except NotRun as e:
        for s in rows + [rate]:
            if not s.samples:
                s.skip = s.skip or str(e)
    finally:
        if cw:
            cw.stop()
    out = table("Submission to the fake ConnectWise",
                "Time per entry, from `queue resume` until the queue is empty (entries "
                f"queued with `log` while the queue was paused), against tests/fakecw; {a.submit_runs} runs. "
                "Ratio to the curl loop (lower is faster).", rows)
    if rate.samples:
        out[-1:-1] = ["- paced: API requests made / allowed by the default max_rate (600/min; "
                      "the pacer's token bucket holds one token, no burst, so a window of "
                      "t s that starts with a request allows 1 + 10 x t): " + ", ".join(
                          f"{m} / {al:.1f}" for m, al in rate.made)
                      + f"; as a rate, the requests after the first over the run: "
                      f"{max(rate.raw):.0f}/min at most; requests of the last run: "
                      + ", ".join(f"{v} {k}" for k, v in getattr(rate, "kinds", {}).items())]
    elif rate.skip:
        out[-1:-1] = [f"- paced rate: not run: {rate.skip}"]
    return out


def group_scaling(a, ctx):
    counts = [int(x) for x in a.timer_counts.split(",") if x]
    cwtimectl = ctx["cwtimectl"]
    rows = []
    for n in counts:
        # parallel: every timer runs (single would pause all but one);
        # no max_duration, so none is stopped while the bench runs
        d = Daemon(ctx["cwtimed"], os.path.join(ctx["tmp"], f"t{n}"),
                   config="[timers]\nconcurrency = parallel\nmax_duration = 0\n")
        ctx["daemons"].append(d)
        st = Case(f"{n} timers: cwtimectl status", [[cwtimectl, "status"]], env=d.env)
        up = Series(f"{n} timers: start-up", fmt=fmt_ns)
        rss = Series(f"{n} timers: RSS", fmt=fmt_kib)
        one = Series(f"{n} timers: one more start", fmt=fmt_ns)
        sizes = {}
        rows.append((n, st, up, rss, one, sizes))
        if d.error:
            st.skip = up.skip = rss.skip = one.skip = f"no daemon: {d.error}"
            continue
        try:
            end = time.monotonic() + a.scaling_budget
            for k in range(0, n, 50):
                reps = raw_requests(d.env, [("start", {"target": str(200000 + i)})
                                            for i in range(k, min(n, k + 50))])
                bad = [r for r in reps if not r.get("ok")]
                if bad:
                    e = bad[0].get("error", {})
                    raise NotRun(f"start #{k + len(reps) - len(bad) + 1}: {e.get('code')}: "
                                 f"{e.get('message', '')[:100]}")
                if time.monotonic() > end and k + 50 < n:
                    raise NotRun(f"only {k + 50} of {n} timers were started within "
                                 f"{a.scaling_budget:.0f} s (--scaling-budget): each start "
                                 f"costs more as the timers grow")
            # one more start (and its cancel) at this size, over a fresh
            # connection each: what a hotkey costs with n timers open
            for i in range(max(5, a.runs // 2)):
                t0 = time.perf_counter_ns()
                rep = raw_requests(d.env, [("start", {"target": str(900000 + i)})])[0]
                one.samples.append(time.perf_counter_ns() - t0)
                if not rep.get("ok"):
                    raise NotRun(f"one more start: {rep.get('error')}")
                sizes["start"] = len(json.dumps(rep["result"], separators=(",", ":")))
                raw_requests(d.env, [("cancel", {"target": str(900000 + i), "yes": True})])
            rep = raw_requests(d.env, [("status", None)])[0]
            res = rep.get("result", {})
            sizes["status"] = len(json.dumps(res, separators=(",", ":")))
            sizes["listed"] = len(res.get("timers", []))
            sizes["omitted"] = res.get("timers_omitted", 0)
        except (NotRun, OSError) as e:
            st.skip = up.skip = rss.skip = one.skip = str(e)
            d.stop()
            continue
        run_group([st], max(5, a.runs // 2), a.warmup)
        rss.samples.append(proc_status(d.proc.pid, "VmRSS"))
        d.stop()

        def do_start(d=d):
            try:
                t = d.ready_time()
            except RuntimeError as e:
                raise NotRun(str(e))
            d.kill_pid(signal.SIGTERM)
            return t
        rounds([(up, do_start)], a.journal_runs)
    ctx["scaling"] = rows
    lines = ["## Scaling with concurrent timers", "",
             "N timers started over the socket (one pipelined connection; "
             "`[timers] concurrency = parallel`, so all of them run), then one more start "
             "(and its cancel) timed on a fresh connection, `cwtimectl status` timed as in "
             "the client table, RSS read, and start-up (spawn to READY=1, after a clean "
             "shutdown wrote the checkpoint) timed; ratio to 1 timer. The start reply lists "
             "only the timers it changed; the status reply lists every timer up to one "
             "64 KiB line (`timers_omitted` counts the rest).", "",
             "| timers | start-up | RSS | one more start | status | status ratio to 1 timer "
             "| start reply | status reply (timers listed) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    base = rows[0][1].median() if rows and rows[0][1].samples else None
    for n, st, up, rss, one, sizes in rows:
        if st.skip or not st.samples:
            lines.append(f"| {n} | not run | {st.skip} | | | | | |")
            continue
        upc = (f"{fmt_ns(up.median())} ({fmt_ns(min(up.samples))} - {fmt_ns(max(up.samples))})"
               if up.samples else f"not run: {up.skip}")
        onec = (f"{fmt_ns(one.median())} ({fmt_ns(min(one.samples))} - "
                f"{fmt_ns(max(one.samples))})" if one.samples else "not run")
        ratio = f"{st.median() / base:.2f}" if base else "n/a"
        listed = sizes.get("listed", 0)
        omitted = sizes.get("omitted", 0)
        lines.append(f"| {n} | {upc} | {fmt_kib(rss.median())} | {onec} | {fmt_ns(st.median())} "
                     f"({fmt_ns(min(st.samples))} - {fmt_ns(max(st.samples))}) | {ratio} "
                     f"| {sizes.get('start', 0):,} B | {sizes.get('status', 0):,} B "
                     f"({listed:,}{f', {omitted:,} omitted' if omitted else ''}) |")
    lines.append("")
    return lines


def verdict(ok, have):
    if not have:
        return "not measured in this run"
    return "**met** in this run" if ok else "**not met** in this run"


def targets(ctx):
    """The issue's targets, each judged on this run's figures. A report,
    not a test: nothing fails."""
    lines = ["## Targets (issue 10), judged on this run", "",
             "| target | this run | verdict |", "|---|---|---|"]
    cl = ctx.get("client", {})

    def med(d, k):
        c = d.get(k)
        return c.median() if c else None

    def mins(k1, k2):
        """The ratio of the fastest runs too: on a shared machine it is
        the figure least disturbed by other load."""
        a_, b_ = cl.get(k1), cl.get(k2)
        if a_ and b_ and a_.samples and b_.samples:
            return f" (fastest runs: {min(a_.samples) / min(b_.samples):.2f}x)"
        return ""

    st, fl = med(cl, "cwtimectl status"), med(cl, "floor-client status")
    tw0, tw1 = med(cl, "timew (status, empty)"), med(cl, "timew (status, a year)")
    sth = med(cl, "cwtimectl status (history)")
    if st and fl:
        lines.append(f"| `cwtimectl status` median <= 1.2x the floor (floor-client status) | "
                     f"{st / fl:.2f}x{mins('cwtimectl status', 'floor-client status')} | "
                     f"{verdict(st <= 1.2 * fl, True)} |")
    else:
        lines.append("| `cwtimectl status` <= 1.2x the floor | - | not measured in this run |")
    for lab, tw, twk in (("empty", tw0, "timew (status, empty)"),
                         ("a year of history", tw1, "timew (status, a year)")):
        if st and tw:
            lines.append(f"| `cwtimectl status` <= 0.5x `timew` ({lab}) | {st / tw:.2f}x"
                         f"{mins('cwtimectl status', twk)} | "
                         f"{verdict(st <= 0.5 * tw, True)} |")
        else:
            lines.append(f"| `cwtimectl status` <= 0.5x `timew` ({lab}) | - | "
                         "not measured in this run |")
    if st and sth:
        lines.append(f"| `cwtimectl status` flat as our history grows (with / without "
                     f"history; read as within 1.2x) | {sth / st:.2f}x"
                     f"{mins('cwtimectl status (history)', 'cwtimectl status')} | "
                     f"{verdict(sth <= 1.2 * st, True)} |")
    tg = med(cl, "cwtimectl toggle")
    fpr = med(ctx.get("durable", {}), "fsync-loop -p")
    flp = med(cl, "floor-client ping")
    if tg and fpr and flp:
        lim = flp + fpr
        lines.append(f"| `cwtimectl toggle` <= 1.3x (floor + one fdatasync) = "
                     f"1.3 x ({fmt_ns(flp)} + {fmt_ns(fpr)}) | {tg / lim:.2f}x | "
                     f"{verdict(tg <= 1.3 * lim, True)} |")
    else:
        lines.append("| `cwtimectl toggle` <= 1.3x (floor + one fdatasync) | - | "
                     "not measured in this run |")
    ipc = ctx.get("ipc", {})
    t8 = ipc.get((8, "ping"))
    if t8 and t8[0].samples and t8[2].samples:
        rps, p99 = t8[0].median(), t8[2].median()
        lines.append(f"| >= 20,000 requests/s from 8 clients with p99 < 1 ms | "
                     f"{rps:,.0f}/s, p99 {fmt_us(p99)} | "
                     f"{verdict(rps >= 20000 and p99 < 1000, True)} |")
    else:
        lines.append("| >= 20,000 requests/s from 8 clients, p99 < 1 ms | - | "
                     "not measured in this run |")
    fan = ctx.get("fanout", [])
    if fan:
        t = fan[0]
        if t[0].samples:
            mx = max(t[5].samples)
            lines.append(f"| 100 subscribers all receive an event within 10 ms | max "
                         f"{fmt_us(mx)} after the commit | {verdict(mx <= 10000, True)} |")
        else:
            lines.append(f"| 100 subscribers all receive an event within 10 ms | not run: "
                         f"{t[0].skip} | not measured in this run |")
        if len(fan) > 1 and fan[1][0].samples:
            mx, mr = max(fan[1][5].samples), max(fan[1][2].samples)
            lines.append(f"| (the same with {fan[1][0].name}, for comparison) "
                         f"| max {fmt_us(mx)} after the commit ({fmt_us(mr)} after "
                         f"the request, fdatasync included) | "
                         f"{verdict(mx <= 10000, True)} |")
    jr = ctx.get("journal", {})
    r100 = med(jr, "100,000: journal replay (journal_open)")
    c100 = med(jr, "100,000: journal replay, CPU time")
    s100 = med(jr, "100,000: cwtimed start-up, no checkpoint")
    if r100:
        lines.append(f"| replay of 100,000 records < 0.3 s | journal_open {fmt_ns(r100)}"
                     + (f" (CPU {fmt_ns(c100)})" if c100 else "")
                     + (f", cwtimed start-up {fmt_ns(s100)}" if s100 else "")
                     + f" | {verdict(r100 < 3e8, True)} (journal_open wall time) |")
    warm = [(k, s) for k, s in jr.items() if k.endswith("start-up, checkpoint") and s.samples]
    if len(warm) >= 2:
        lo, hi = warm[0][1].median(), warm[-1][1].median()
        lines.append(f"| start-up flat as history grows (checkpoint) | largest / smallest "
                     f"{hi / lo:.2f}x (read as within 1.5x) | {verdict(hi <= 1.5 * lo, True)} |")
    sub = ctx.get("submit", {})
    if sub and sub["ours"].samples and sub["curl"].samples:
        x = sub["curl"].median() / sub["ours"].median()
        lines.append(f"| submission >= 10x faster than a curl loop | {x:.1f}x | "
                     f"{verdict(x >= 10, True)} |")
    else:
        why = ((sub["ours"].skip or sub["curl"].skip) if sub else None)
        lines.append(f"| submission >= 10x faster than a curl loop | "
                     f"{'not run: ' + why if why else '-'} | not measured in this run |")
    if sub and sub["rate"].samples:
        mx = max(sub["rate"].samples)
        lines.append(f"| paced submission stays under max_rate (600/min) | requests made / "
                     f"allowed (1 + 10/s, no burst): at most {mx:.2f} | "
                     f"{verdict(mx <= 1.0, True)} |")
    lines.append("")
    return lines


GROUPS = ["client", "durable", "ipc", "journal", "idle", "submit", "scaling"]


def main():
    global SRCDIR
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--srcdir", required=True)
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "30")))
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--records", type=int, default=200,
                    help="records per run in the durable group")
    ap.add_argument("--groups", default=",".join(GROUPS),
                    help="comma-separated subset of " + ",".join(GROUPS))
    ap.add_argument("--load-runs", type=int, default=5)
    ap.add_argument("--load-seconds", type=float, default=1.0)
    ap.add_argument("--fanout-events", type=int, default=20)
    ap.add_argument("--fanout-fit", type=int, default=20,
                    help="a second subscriber count, beside the issue's 100")
    ap.add_argument("--history-records", type=int, default=100000)
    ap.add_argument("--journal-sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--journal-runs", type=int, default=5)
    ap.add_argument("--idle-window", type=float, default=60.0)
    ap.add_argument("--submit-entries", type=int, default=1000)
    ap.add_argument("--paced-entries", type=int, default=100)
    ap.add_argument("--submit-runs", type=int, default=3)
    ap.add_argument("--timer-counts", default="1,10,100,1000")
    ap.add_argument("--scaling-budget", type=float, default=30.0,
                    help="seconds allowed for starting the timers of one count")
    a = ap.parse_args()
    SRCDIR = os.path.abspath(a.srcdir)
    b = os.path.abspath(a.builddir)
    bench = os.path.join(b, "tests", "bench")
    work = os.path.join(bench, "work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work, 0o700)
    tmp = tempfile.mkdtemp(prefix="cwt-bench-")  # short: sun_path is 108 bytes
    ctx = {"builddir": b, "bench": bench, "work": work, "tmp": tmp, "daemons": [],
           "true": shutil.which("true") or "/bin/true",
           "cwtimed": os.environ.get("CWTIMED", os.path.join(b, "cwtimed")),
           "cwtimectl": os.environ.get("CWTIMECTL", os.path.join(b, "cwtimectl"))}
    chosen = [g for g in a.groups.split(",") if g]
    out = ["# cwtimed benchmarks", "",
           "Generated by `make bench` (tests/bench/bench.py); copy it here with",
           "`make bench-update-doc`. Not a pass/fail test: absolute times depend on",
           "the machine, the ratios to each group's anchor (measured in the same",
           f"rounds) are what compares. {a.runs} timed runs per case after {a.warmup} "
           "warm-up runs in the command tables; the other groups say their own counts.",
           "Figures: median, and min - max over the runs. The targets are judged on",
           "the medians; the machine is shared, so the ratio of the fastest runs is",
           "shown beside them where it helps.", ""]
    out += machine(a.srcdir, work) + [""]
    body = []
    t_start = time.monotonic()
    try:
        for g in GROUPS:
            if g not in chosen:
                continue
            t0 = time.monotonic()
            print(f"bench: {g} ...", file=sys.stderr, flush=True)
            body += globals()["group_" + g](a, ctx)
            print(f"bench: {g} took {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    finally:
        for d in ctx["daemons"]:
            d.stop()
            if getattr(d, "pid", None):
                d.kill_pid()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    out += targets(ctx) + body
    out.append(f"Whole run: {time.monotonic() - t_start:.0f} s.")
    out.append("")
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
