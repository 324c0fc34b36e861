"""timerlib.py - shared helpers of test-timers.py and test-timers-kill.py:
a real cwtimed on temporary XDG directories, cwtimectl calls, the journal
through tests/lib/journal_reader.py, and the tables of the C headers
(error codes with their exit statuses, record type numbers) read from the
source so the tests follow the headers instead of copying numbers.

Readiness is READY=1 on a notify socket the test owns; nothing sleeps to
wait.
"""

import calendar
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

CWTIMED = os.environ.get("CWTIMED", "./cwtimed")
CWTIMECTL = os.environ.get("CWTIMECTL", "./cwtimectl")
SRCDIR = os.environ.get("top_srcdir", ".")

sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))
import journal_reader  # noqa: E402


def _read(path):
    with open(os.path.join(SRCDIR, path)) as f:
        return f.read()


def error_exit_statuses():
    """{"no-such-timer": 1, ...} from src/common/errcode.h."""
    table = {}
    for m in re.finditer(r'X\((\w+),\s*(\d+),\s*"([a-z-]+)",\s*(\d+)',
                         _read("src/common/errcode.h")):
        table[m.group(3)] = int(m.group(4))
    return table


def record_types():
    """{"TIMER_STARTED": 1, ...} from src/core/records.h."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(
        r'X\((\w+),\s*(\d+),\s*"', _read("src/core/records.h"))}


EXIT = error_exit_statuses()
REC = record_types()


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse_iso(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        print(("ok %d - %s" if cond else "not ok %d - %s") % (self.n, name))
        if not cond:
            self.failed += 1
            if diag is not None:
                for line in str(diag).splitlines():
                    print("# " + line)
        sys.stdout.flush()
        return bool(cond)

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got:  %r\nwant: %r" % (got, want))

    def finish(self):
        print("1..%d" % self.n)
        sys.stdout.flush()
        return 1 if self.failed else 0


class Env:
    """One set of XDG directories; daemons come and go on it."""

    def __init__(self, base, name, config=""):
        self.base = os.path.join(base, name)
        self.runtime = os.path.join(self.base, "run")
        self.state = os.path.join(self.base, "state")
        self.confdir = os.path.join(self.base, "conf")
        for d in (self.base, self.runtime, self.state, self.confdir):
            os.makedirs(d, mode=0o700, exist_ok=True)
            os.chmod(d, 0o700)
        os.makedirs(os.path.join(self.confdir, "cwtimed"), mode=0o700,
                    exist_ok=True)
        self.write_config(config)
        self.socket = os.path.join(self.runtime, "cwtimed", "socket")
        self.state_dir = os.path.join(self.state, "cwtimed")
        self.env = dict(os.environ)
        self.env.update({
            "XDG_RUNTIME_DIR": self.runtime,
            "XDG_STATE_HOME": self.state,
            "XDG_CONFIG_HOME": self.confdir,
            "HOME": self.base,
            "TZ": "UTC",
        })
        for k in ("LISTEN_FDS", "LISTEN_PID", "JOURNAL_STREAM",
                  "WATCHDOG_USEC", "NOTIFY_SOCKET", "CREDENTIALS_DIRECTORY"):
            self.env.pop(k, None)
        self.proc = None
        self.logn = 0
        self.bad_exits = []

    def write_config(self, text):
        # split_at_midnight off unless a test asks: back-dated runs must
        # not be cut at a midnight that depends on when the test runs
        if "split_at_midnight" not in text:
            if "[timers]" in text:
                text = text.replace("[timers]",
                                    "[timers]\nsplit_at_midnight = no", 1)
            else:
                text = "[timers]\nsplit_at_midnight = no\n" + text
        with open(os.path.join(self.confdir, "cwtimed", "cwtimed.conf"),
                  "w") as f:
            f.write(text)

    def start(self, timeout=20.0):
        self.logn += 1
        notify_path = os.path.join(self.base, "notify%d" % self.logn)
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(notify_path)
        env = dict(self.env)
        env["NOTIFY_SOCKET"] = notify_path
        self.log = os.path.join(self.base, "cwtimed%d.log" % self.logn)
        logf = open(self.log, "wb")
        self.proc = subprocess.Popen([CWTIMED, "--log-level", "debug"],
                                     env=env, stdout=logf,
                                     stderr=subprocess.STDOUT)
        logf.close()
        end = time.monotonic() + timeout
        ready = False
        try:
            while time.monotonic() < end:
                r, _, _ = select.select([ns], [], [], 0.1)
                if r and b"READY=1" in ns.recv(4096):
                    ready = True
                    break
                if self.proc.poll() is not None:
                    break
        finally:
            ns.close()
            os.unlink(notify_path)
        return ready

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        if sig == signal.SIGTERM and rc != 0:
            # a sanitizer report or a failed shutdown: keep the evidence
            self.bad_exits.append((rc, self.log_text()[-4000:]))
        return rc

    def ctl(self, *args, tz=None):
        """Runs cwtimectl --json ARGS. Returns (exit status, parsed stdout
        or None, stderr)."""
        env = dict(self.env)
        if tz:
            env["TZ"] = tz
        p = subprocess.run([CWTIMECTL, "--json"] + [str(a) for a in args],
                           env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        out = None
        text = p.stdout.decode(errors="replace").strip()
        if text:
            try:
                out = json.loads(text.splitlines()[-1])
            except ValueError:
                out = text
        return p.returncode, out, p.stderr.decode(errors="replace")

    def raw(self, cmd, args=None, timeout=10.0):
        """One request over the socket, bypassing cwtimectl's checks."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.socket)
        req = {"v": 1, "id": 1, "cmd": cmd}
        if args is not None:
            req["args"] = args
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        return json.loads(buf.split(b"\n")[0])

    def records(self):
        # the daemon may be live: read the journal between its writes
        return journal_reader.read_state_live(self.state_dir).records

    def state_hash(self):
        """Hash of every file under the state directory (names, bytes)."""
        h = hashlib.sha256()
        for root, dirs, files in os.walk(self.state_dir):
            dirs.sort()
            for name in sorted(files):
                p = os.path.join(root, name)
                h.update(os.path.relpath(p, self.state_dir).encode() + b"\0")
                if name == "lock":
                    continue  # holds the pid
                with open(p, "rb") as f:
                    h.update(f.read())
        return h.hexdigest()

    def wait_for(self, pred, timeout=20.0, poll=0.05):
        """Polls pred() until true or the deadline; returns its last value
        (a deadline, not a sleep-as-wait)."""
        end = time.monotonic() + timeout
        v = pred()
        while not v and time.monotonic() < end:
            time.sleep(poll)
            v = pred()
        return v


def make_base():
    base = tempfile.mkdtemp(prefix="cwt-timers-")
    os.chmod(base, 0o700)
    return base


def cleanup(base, envs):
    for e in envs:
        try:
            e.stop(signal.SIGKILL, timeout=5)
        except Exception:
            pass
    shutil.rmtree(base, ignore_errors=True)


def probe_binaries():
    for b in (CWTIMED, CWTIMECTL):
        if not os.access(b, os.X_OK):
            print("skip-probe: access(%s, X_OK): %s" % (b, os.strerror(2)))
            print("1..0 # SKIP %s not built" % b)
            sys.exit(0)
