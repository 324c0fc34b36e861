"""daemon.py - a real cwtimed on temporary XDG directories, for the
whole-daemon tests (RELIABILITY.md 7) and anyone else who needs one.

It does not duplicate tests/integration/timerlib.py, which the timer tests
wrote first: Daemon is timerlib.Env (XDG directories, NOTIFY_SOCKET
readiness, cwtimectl --json, raw socket requests, the journal through
tests/lib/journal_reader.py) plus what the reliability tests need on top:

  - start() with a command prefix (strace, setpriv), extra environment,
    other arguments, and no readiness wait when a start is expected to fail;
  - the daemon's own pid even under strace (the pid in the `lock` file);
  - RSS and open descriptors from /proc, exit status with a deadline,
    an ASan probe (the sanitizer build needs other bounds and no LD_PRELOAD);
  - with_fake(): the fake ConnectWise wired in (credentials file 0600).

Nothing here sleeps to wait: every wait polls a condition with a deadline.
"""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

SRCDIR = os.environ.get("top_srcdir", ".")
BUILDDIR = os.environ.get("top_builddir", ".")
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "fakecw"))
sys.dont_write_bytecode = True

import timerlib  # noqa: E402
from timerlib import (CWTIMECTL, CWTIMED, EXIT, REC, Tap,  # noqa: E402,F401
                      journal_reader, make_base, probe_binaries)

REC_NAME = {v: k for k, v in REC.items()}

# LeakSanitizer cannot run under ptrace; the other sanitizers can.
NO_LEAKS = ":detect_leaks=0"


def is_asan(binary=CWTIMED):
    """True when the binary was built with AddressSanitizer (the sanitizer
    build): such a binary cannot take LD_PRELOAD (faketime) and holds
    freed memory in quarantine, so RSS bounds must differ."""
    try:
        with open(binary, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def skip_all(probe, err, reason):
    """An honest skip (STYLE.md 11): names the probe and its errno."""
    print("skip-probe: %s %s" % (probe, err))
    print("1..0 # SKIP %s" % reason)
    sys.stdout.flush()
    sys.exit(0)


def need_root(what):
    if os.geteuid() != 0:
        skip_all("geteuid() == 0 (%s)" % what, "EPERM", "needs root")


def need_program(name):
    for d in os.environ.get("PATH", "/usr/bin:/bin").split(":") + [
            "/usr/sbin", "/sbin"]:
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    skip_all("execvp(%s)" % name, "ENOENT", "%s is not installed" % name)
    return None


def rss_kb(pid):
    """VmRSS of pid in KiB, or None when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


class Daemon(timerlib.Env):
    """timerlib.Env with the start options and probes of the reliability
    tests. The state directory may be replaced (a mount point) before the
    first start: pass state_home=."""

    def __init__(self, base, name, config="", state_home=None):
        timerlib.Env.__init__(self, base, name, config)
        if state_home is not None:
            self.state = state_home
            self.state_dir = os.path.join(state_home, "cwtimed")
            self.env["XDG_STATE_HOME"] = state_home
        self.trace = None

    def start(self, timeout=20.0, wrap=(), env=None, args=None,
              wait_ready=True, log_level="debug"):
        """Starts cwtimed (under the command prefix `wrap`, e.g. strace).
        Returns True once READY=1 arrived, False when it exited first or
        the deadline passed; with wait_ready=False returns at once."""
        self.logn += 1
        notify_path = os.path.join(self.base, "notify%d" % self.logn)
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(notify_path)
        os.chmod(notify_path, 0o777)  # a daemon under setpriv may send
        e = dict(self.env)
        e["NOTIFY_SOCKET"] = notify_path
        if env:
            e.update(env)
        self.log = os.path.join(self.base, "cwtimed%d.log" % self.logn)
        cmd = list(wrap) + [CWTIMED]
        cmd += list(args) if args is not None else ["--log-level", log_level]
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen(cmd, env=e, stdout=logf,
                                         stderr=subprocess.STDOUT)
        self.ready = False
        self.mainpid = None
        try:
            if not wait_ready:
                return None
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                r, _, _ = select.select([ns], [], [], 0.1)
                msg = ns.recv(4096) if r else b""
                if b"READY=1" in msg:
                    m = re.search(rb"MAINPID=(\d+)", msg)
                    self.mainpid = int(m.group(1)) if m else None
                    self.ready = True
                    break
                if self.proc.poll() is not None:
                    break
        finally:
            ns.close()
            os.unlink(notify_path)
        return self.ready

    def pid(self):
        """The daemon's own pid: MAINPID of its READY=1, else the pid in
        its `lock` file, else the child we started (maybe a wrapper)."""
        if self.proc is None:
            return None
        if self.mainpid:
            return self.mainpid
        try:
            with open(os.path.join(self.state_dir, "lock")) as f:
                text = f.read().strip()
            if text.isdigit():
                return int(text)
        except OSError:
            pass
        return self.proc.pid

    def wait_exit(self, timeout=20.0):
        """The exit status (negative: the signal), or None at the deadline."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        """Signals the daemon itself (under strace, not the tracer, which
        then exits with it) and returns its exit status as the child we
        started reports it (negative: the signal)."""
        if not self.proc:
            return None
        pid = self.pid()
        if self.proc.poll() is None and pid:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        return rc

    def kill9(self):
        """SIGKILL to the daemon itself (not a wrapper), then reaps."""
        pid = self.pid()
        if pid and self.proc and self.proc.poll() is None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return self.stop(signal.SIGKILL)

    def rss_kb(self):
        return rss_kb(self.pid())

    def sanitizer_report(self):
        """The first sanitizer line of the log, or None."""
        for line in self.log_text().splitlines():
            if ("ERROR: AddressSanitizer" in line or "runtime error:" in line
                    or "ERROR: LeakSanitizer" in line):
                return line
        return None

    def files(self):
        """{relative path: bytes} of every file under the state directory."""
        out = {}
        for root, _, names in os.walk(self.state_dir):
            for n in names:
                p = os.path.join(root, n)
                try:
                    with open(p, "rb") as f:
                        out[os.path.relpath(p, self.state_dir)] = f.read()
                except OSError:
                    pass
        return out


def with_fake(base, name, cw, extra_config="", keys=None, state_home=None):
    """A Daemon configured for the fake ConnectWise `cw` (client.FakeCW),
    with a 0600 credentials file. Short timeouts so tests wait seconds."""
    text = ("[api]\nurl = %s\ncompany = %s\nmember = jdoe\n"
            "max_rate = 100000\nconnect_timeout = 1s\ntotal_timeout = 2s\n"
            "low_speed_time = 2s\n%s" % (cw.api_url, cw.company, extra_config))
    d = Daemon(base, name, text, state_home=state_home)
    pub, priv, cid = keys or (cw.public_key, cw.private_key, cw.client_id)
    write_credentials(d, pub, priv, cid)
    return d


def write_credentials(d, pub, priv, cid, mode=0o600):
    path = os.path.join(d.confdir, "cwtimed", "credentials")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("[api]\npublic_key = %s\nprivate_key = %s\nclient_id = %s\n"
                % (pub, priv, cid))
    os.chmod(path, mode)
    return path


def cleanup(base, daemons, remove=True):
    """SIGKILL whatever is left of the daemons, then removes base."""
    for d in daemons:
        try:
            d.stop(signal.SIGKILL, timeout=5)
        except Exception:  # clean-up must go on whatever happened
            pass
    if remove:
        shutil.rmtree(base, ignore_errors=True)
