#!/usr/bin/env python3
"""test-ipc.py - the control socket of the real cwtimed (RELIABILITY.md 7,
G1-G3): runtime directory and socket modes, refusal of unsafe runtime
directories, ping/version/subscribe, framing errors (malformed, oversize,
wrong version, partial line deadline), connection limits, a foreign uid,
a second daemon, SIGHUP with a broken config, and a clean SIGTERM.

Prints TAP. Waits for readiness on a notify socket it owns (READY=1),
never by sleeping.
"""

import json
import os
import pwd
import random
import resource
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

CWTIMED = os.environ.get("CWTIMED", "./cwtimed")
SRCDIR = os.environ.get("top_srcdir", ".")
DEADLINE_MS = 600  # CWTIMED_TEST_LINE_DEADLINE_MS for this test

results = []


def ok(cond, name, diag=None):
    results.append((bool(cond), name))
    n = len(results)
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name))
    if not cond and diag is not None:
        for line in str(diag).splitlines():
            print("# " + line)
    sys.stdout.flush()
    return bool(cond)


def skip(name, reason):
    results.append((True, name))
    print("ok %d - %s # SKIP %s" % (len(results), name, reason))
    sys.stdout.flush()


def proto_constants():
    """PROTO_* integers from src/common/proto.h, so the test follows the
    header instead of repeating its numbers."""
    consts = {}
    with open(os.path.join(SRCDIR, "src/common/proto.h")) as f:
        for line in f:
            m = re.match(r"#define (PROTO_\w+) \(?(\d+)(?: \* (\d+))?\)?", line)
            if m:
                v = int(m.group(2)) * (int(m.group(3)) if m.group(3) else 1)
                consts[m.group(1)] = v
    return consts


PROTO = proto_constants()


class Daemon:
    def __init__(self, base, name="d", runtime=None, state=None, config=None,
                 extra_env=None, args=(), listen_sock=None, nofile=None):
        self.base = base
        self.runtime = runtime or os.path.join(base, name + "-run")
        self.state = state or os.path.join(base, name + "-state")
        self.config = config or os.path.join(base, name + "-conf")
        for d in (self.runtime, self.state, self.config):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self.socket = os.path.join(self.runtime, "cwtimed", "socket")
        self.log = os.path.join(base, name + ".log")
        self.notify_path = os.path.join(base, name + ".notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.messages = []
        env = dict(os.environ)
        env.update({
            "XDG_RUNTIME_DIR": self.runtime,
            "XDG_STATE_HOME": self.state,
            "XDG_CONFIG_HOME": self.config,
            "HOME": base,
            "NOTIFY_SOCKET": self.notify_path,
            "CWTIMED_TEST_LINE_DEADLINE_MS": str(DEADLINE_MS),
        })
        for k in ("LISTEN_FDS", "LISTEN_PID", "JOURNAL_STREAM", "WATCHDOG_USEC"):
            env.pop(k, None)
        if extra_env:
            env.update(extra_env)
        self.logf = open(self.log, "wb")
        argv = [CWTIMED, "--log-level", "debug"] + list(args)
        pass_fds = ()
        if listen_sock is not None:
            # socket activation as systemd does it: the socket as fd 3,
            # LISTEN_FDS=1 and LISTEN_PID naming the daemon itself (the
            # shell's pid, kept across exec)
            fd = listen_sock.fileno()
            pass_fds = (fd,)
            env["LISTEN_FDS"] = "1"
            argv = ["/bin/sh", "-c",
                    'LISTEN_PID=$$; export LISTEN_PID; '
                    'eval "exec \\"\\$0\\" \\"\\$@\\" 3<&%d %d<&-"' % (fd, fd)] + argv
        def limit():
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen(argv, env=env, stdout=self.logf,
                                     stderr=subprocess.STDOUT,
                                     pass_fds=pass_fds, preexec_fn=limit)

    def wait_notify(self, what, timeout=20.0):
        """Waits for a notify datagram containing `what`, or for the
        process to exit. Returns True when seen."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(what in m for m in self.messages):
                return True
            r, _, _ = select.select([self.notify], [], [], 0.1)
            if r:
                self.messages.append(self.notify.recv(4096).decode())
                continue
            if self.proc.poll() is not None:
                return any(what in m for m in self.messages)
        return False

    def wait_exit(self, timeout=20.0):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def log_text(self):
        self.logf.flush()
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit() is None:
                self.proc.kill()
                self.proc.wait()
        self.notify.close()
        self.logf.close()


class Client:
    def __init__(self, path, timeout=10.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def request(self, obj):
        self.send(json.dumps(obj) + "\n")
        return self.read_json()

    def read_line(self):
        """One line, or None at EOF/reset."""
        while b"\n" not in self.buf:
            try:
                chunk = self.s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                return None
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def read_json(self):
        line = self.read_line()
        return None if line is None else json.loads(line)

    def at_eof(self):
        """True when the daemon closed the connection (EOF or reset)."""
        try:
            return self.s.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def served_client(path, deadline=10.0):
    """A connection that has been served a ping. Connections closed just
    before may still count against the limit for a moment (the daemon has
    not read their hang-up yet), so a `busy` refusal is retried."""
    end = time.monotonic() + deadline
    while True:
        c = Client(path)
        try:
            r = c.request({"v": 1, "id": 0, "cmd": "ping"})
        except (BrokenPipeError, ConnectionResetError):
            r = None
        if r is not None and r.get("ok") is True:
            return c
        c.close()
        if time.monotonic() > end:
            raise RuntimeError("no connection is served: %r" % (r,))
        select.select([], [], [], 0.05)


def test_basics(d):
    st = os.stat(os.path.dirname(d.socket))
    ok(stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.geteuid(),
       "G1: runtime directory cwtimed/ is ours with mode 0700",
       oct(st.st_mode))
    st = os.lstat(d.socket)
    ok(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600,
       "G1: the socket has mode 0600", oct(st.st_mode))

    c = Client(d.socket)
    r = c.request({"v": 1, "id": 1, "cmd": "ping"})
    ok(r == {"v": 1, "id": 1, "ok": True,
             "result": {"pong": True, "version": "0.1.0", "pid": d.proc.pid}},
       "ping answers pong, version and the daemon's pid", r)
    r = c.request({"v": 1, "id": 2, "cmd": "version"})
    ok(r == {"v": 1, "id": 2, "ok": True,
             "result": {"version": "0.1.0", "protocol": 1}},
       "version answers version and protocol", r)

    c.send("this is not json\n")
    r = c.read_json()
    ok(r is not None and r.get("id") is None and r.get("ok") is False
       and r["error"]["code"] == "bad-request",
       "a malformed line gets bad-request with id null", r)
    r = c.request({"v": 1, "id": 3, "cmd": "ping"})
    ok(r is not None and r.get("id") == 3 and r.get("ok") is True,
       "the connection stays usable after a malformed line", r)

    r = c.request({"v": 2, "id": 4, "cmd": "ping"})
    ok(r is not None and r["id"] == 4 and r["error"]["code"] == "protocol-version"
       and r["error"].get("field") == "v",
       "a wrong protocol version gets protocol-version", r)
    r = c.request({"v": 1, "id": 5, "cmd": "frobnicate"})
    ok(r is not None and r["id"] == 5 and r["error"]["code"] == "unknown-command",
       "an unknown command gets unknown-command", r)
    r = c.request({"v": 1, "id": 6, "cmd": "ping", "args": {"x": 1}})
    ok(r is not None and r["error"]["code"] == "bad-argument"
       and r["error"].get("field") == "x",
       "an undeclared argument gets bad-argument naming it", r)
    c.send("[" * 100000 + "\n")  # a nesting bomb, longer than a line
    r = c.read_json()
    ok(r is not None and r["error"]["code"] == "line-too-long" and c.at_eof(),
       "G3: a 100 kB nesting bomb gets line-too-long, then the "
       "connection is closed", r)
    c.close()

    c = Client(d.socket)
    c.send("[" * 5000 + "\n")
    r = c.read_json()
    ok(r is not None and r["error"]["code"] == "bad-request"
       and c.request({"v": 1, "id": 1, "cmd": "ping"})["ok"] is True,
       "a 5000-deep nesting bomb within the line limit gets bad-request "
       "and the connection stays usable", r)
    c.close()

    # pipelining: replies come back in request order
    c = Client(d.socket)
    c.send("".join(json.dumps({"v": 1, "id": i, "cmd": "ping"}) + "\n"
                   for i in range(200)))
    ids = [c.read_json()["id"] for _ in range(200)]
    ok(ids == list(range(200)), "200 pipelined requests are answered in order")
    c.close()

    # half-close, as `socat` does: answered, then closed
    c = Client(d.socket)
    c.send('{"v":1,"id":9,"cmd":"ping"}')  # no newline, then EOF
    c.s.shutdown(socket.SHUT_WR)
    r = c.read_json()
    ok(r is not None and r["id"] == 9 and c.at_eof(),
       "a last line without newline before EOF is answered, then closed", r)
    c.close()

    # subscribe: the reply, then a hello snapshot
    c = Client(d.socket)
    r = c.request({"v": 1, "id": 1, "cmd": "subscribe"})
    ev = c.read_json()
    ok(r == {"v": 1, "id": 1, "ok": True, "result": {"subscribed": True}}
       and ev is not None and ev.get("event") == "hello"
       and isinstance(ev.get("seq"), int)
       and ev["data"].get("pid") == d.proc.pid
       and isinstance(ev["data"].get("state"), dict),
       "subscribe replies, then sends a hello event with the state", (r, ev))
    r = c.request({"v": 1, "id": 2, "cmd": "ping"})
    ok(r is not None and r.get("id") == 2, "a subscriber can still send requests", r)
    c.close()


def test_oversize_and_deadline(d):
    c = Client(d.socket)
    c.send(b"x" * (PROTO["PROTO_LINE_MAX"] + 10))
    r = c.read_json()
    ok(r is not None and r["id"] is None and r["error"]["code"] == "line-too-long"
       and c.at_eof(), "G3: an oversize line gets line-too-long, then close", r)
    c.close()

    # exactly PROTO_LINE_MAX bytes including the newline still fit
    c = Client(d.socket)
    pad = PROTO["PROTO_LINE_MAX"] - len('{"v":1,"id":1,"cmd":"ping"}\n')
    c.send('{"v":1,"id":1,"cmd":"ping"}' + " " * pad + "\n")
    r = c.read_json()
    ok(r is not None and r.get("ok") is True,
       "a line of exactly PROTO_LINE_MAX bytes is accepted", r)
    c.close()

    c = Client(d.socket)
    t0 = time.monotonic()
    c.send('{"v":1,"id":1,')
    r = c.read_json()
    dt = time.monotonic() - t0
    ok(r is not None and r["error"]["code"] == "bad-request" and c.at_eof()
       and DEADLINE_MS / 1000.0 * 0.8 <= dt < 10,
       "G3: a partial line is cut at the deadline (%d ms; took %.2f s)"
       % (DEADLINE_MS, dt), r)
    c.close()

    # a slow sender (one byte every 100 ms) cannot stretch the deadline
    c = Client(d.socket)
    t0 = time.monotonic()
    closed = False
    for ch in '{"v":1,"id":1,"cmd":"ping"' * 4:
        try:
            c.send(ch)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        r, _, _ = select.select([c.s], [], [], 0.1)
        if r:
            break
    r = c.read_json()
    dt = time.monotonic() - t0
    ok((closed or (r is not None and r["error"]["code"] == "bad-request"))
       and dt < DEADLINE_MS / 1000.0 + 2,
       "G3: a 1-byte-per-100-ms sender is cut at the deadline (%.2f s)" % dt, r)
    c.close()

    # idle connections with no partial line are not cut
    c = Client(d.socket)
    r, _, _ = select.select([c.s], [], [], DEADLINE_MS / 1000.0 * 2)
    ok(not r and c.request({"v": 1, "id": 1, "cmd": "ping"})["ok"] is True,
       "an idle connection without a partial line is left alone")
    c.close()


def test_limits(d):
    cap = min(PROTO["PROTO_MAX_CONNS"], PROTO["PROTO_MAX_CONNS_PER_UID"])
    # A round trip on a connection we keep makes sure the daemon has seen
    # the hang-ups of the earlier tests (it handles events in order, and
    # closes complete before it polls again); the probe takes one slot.
    probe = Client(d.socket)
    probe.request({"v": 1, "id": 0, "cmd": "ping"})
    probe.request({"v": 1, "id": 0, "cmd": "ping"})
    cap -= 1
    over = 16
    total = cap + over  # the cap is 192 per uid: go past it
    clients = [Client(d.socket) for _ in range(total)]
    served = busy = closed = 0
    for i, c in enumerate(clients):
        try:
            c.send(json.dumps({"v": 1, "id": i, "cmd": "ping"}) + "\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
    for c in clients:
        r = c.read_json()
        if r is None:
            closed += 1
        elif r.get("ok") is True:
            served += 1
        elif r["error"]["code"] == "busy":
            busy += 1
            closed += 1 if c.at_eof() else 0
    ok(served == cap and busy == over and closed == over,
       "G3: of %d parallel connections %d are served (one slot is taken), "
       "the rest get busy and are closed" % (total, cap),
       (served, busy, closed))
    for c in clients:
        c.close()
    probe.close()
    cap += 1
    # the daemon notices the closes and serves new clients again
    end = time.monotonic() + 10
    good = 0
    while time.monotonic() < end:
        cs = [Client(d.socket) for _ in range(cap)]
        good = 0
        for c in cs:
            try:
                r = c.request({"v": 1, "id": 1, "cmd": "ping"})
            except (BrokenPipeError, ConnectionResetError):
                r = None  # still over the limit: the old ones linger
            good += 1 if r is not None and r.get("ok") else 0
        for c in cs:
            c.close()
        if good == cap:
            break
    ok(good == cap, "after they close, %d new connections are served again" % cap,
       good)

    # a subscriber that never reads is cut at the output cap; others go on
    c = served_client(d.socket)
    r = c.request({"v": 1, "id": 1, "cmd": "subscribe"})
    c.read_json()
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reqs = (json.dumps({"v": 1, "id": 7, "cmd": "version"}) + "\n").encode()
    sent = 0
    cut = False
    try:
        # replies pile up unread until the daemon closes us
        for _ in range(100000):
            c.s.sendall(reqs * 64)
            sent += 64
            if sent * 60 > PROTO["PROTO_OUTPUT_MAX"] * 8:
                break
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        cut = True
    if not cut:
        # drain: the daemon must have closed us (EOF after what it sent)
        total = 0
        try:
            while True:
                chunk = c.s.recv(1 << 20)
                if not chunk:
                    cut = True
                    break
                total += len(chunk)
        except ConnectionResetError:
            cut = True
        except socket.timeout:
            pass
    c.close()
    p = served_client(d.socket)
    r = p.request({"v": 1, "id": 1, "cmd": "ping"})
    ok(cut and r is not None and r.get("ok") is True,
       "a client that does not read its output is closed at the cap; the "
       "daemon keeps serving others", (cut, r))
    p.close()


def have_user_tools():
    for tool in ("useradd", "userdel", "setpriv"):
        if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool):
            return "%s not found (errno %d)" % (tool, 2)
    if os.geteuid() != 0:
        return "not root (euid %d): cannot create a user" % os.geteuid()
    return None


def test_foreign_uid(d, base):
    why = have_user_tools()
    if why:
        print("# skip-probe: %s" % why)
        skip("G2: a foreign uid is closed without a reply", why)
        skip("G2: the refusal is logged without content", why)
        return
    name = "cwt-test-%06d" % random.randrange(10 ** 6)
    r = subprocess.run(["useradd", "-M", "-r", "-s", "/usr/sbin/nologin", name],
                       capture_output=True)
    if r.returncode != 0:
        print("# skip-probe: useradd %s exited %d: %s"
              % (name, r.returncode, r.stderr.decode().strip()))
        skip("G2: a foreign uid is closed without a reply", "useradd failed")
        skip("G2: the refusal is logged without content", "useradd failed")
        return
    saved = []
    try:
        pw = pwd.getpwnam(name)
        # make the socket reachable for the test (the daemon checked the
        # directories at start-up; Linux also checks write permission on
        # connect, which is exactly what we want to get past here)
        for p, mode in ((base, 0o711), (d.runtime, 0o711),
                        (os.path.dirname(d.socket), 0o711), (d.socket, 0o666)):
            saved.append((p, stat.S_IMODE(os.stat(p).st_mode)))
            os.chmod(p, mode)
        client = (
            "import socket,sys\n"
            "s=socket.socket(socket.AF_UNIX); s.settimeout(10)\n"
            "s.connect(sys.argv[1])\n"
            "try:\n"
            "    s.sendall(b'{\"v\":1,\"id\":1,\"cmd\":\"ping\",\"args\":{}}\\n')\n"
            "except OSError:\n"
            "    pass\n"
            "data=b''\n"
            "try:\n"
            "    while True:\n"
            "        c=s.recv(4096)\n"
            "        if not c: break\n"
            "        data+=c\n"
            "except ConnectionResetError:\n"
            "    pass\n"
            "sys.stdout.write('GOT %d BYTES' % len(data))\n")
        r = subprocess.run(["setpriv", "--reuid=%d" % pw.pw_uid,
                            "--regid=%d" % pw.pw_gid, "--clear-groups",
                            sys.executable, "-c", client, d.socket],
                           capture_output=True, timeout=30)
        out = r.stdout.decode()
        ok(r.returncode == 0 and out == "GOT 0 BYTES",
           "G2: a foreign uid is closed without a reply",
           (r.returncode, out, r.stderr.decode()))
        want = "refused a connection from uid %d" % pw.pw_uid
        end = time.monotonic() + 10
        while time.monotonic() < end and want not in d.log_text():
            select.select([], [], [], 0.05)
        lines = [l for l in d.log_text().splitlines() if want in l]
        ok(len(lines) == 1 and "ping" not in lines[0] and '"v"' not in lines[0],
           "G2: the refusal is logged once, without content", lines)
    finally:
        for p, mode in saved:
            os.chmod(p, mode)
        subprocess.run(["userdel", name], capture_output=True)
    r = Client(d.socket).request({"v": 1, "id": 1, "cmd": "ping"})
    ok(r is not None and r.get("ok") is True, "our own uid is still served", r)


def test_refusals(base, d):
    # XDG_RUNTIME_DIR open to others
    bad = os.path.join(base, "bad-run")
    os.makedirs(bad)
    os.chmod(bad, 0o755)
    x = Daemon(base, "x", runtime=bad)
    code = x.wait_exit()
    log = x.log_text()
    x.stop()
    ok(code not in (None, 0) and "0755" in log and not os.path.exists(
        os.path.join(bad, "cwtimed", "socket")),
       "G1: $XDG_RUNTIME_DIR at mode 0755 is refused (exit %s)" % code, log)

    if os.geteuid() == 0:
        other = os.path.join(base, "other-run")
        os.makedirs(other, mode=0o700)
        os.chown(other, 65534, 65534)
        x = Daemon(base, "y", runtime=other)
        code = x.wait_exit()
        log = x.log_text()
        x.stop()
        ok(code not in (None, 0) and "belongs to uid 65534" in log,
           "G1: $XDG_RUNTIME_DIR owned by another uid is refused (exit %s)"
           % code, log)
    else:
        print("# skip-probe: chown needs root (euid %d)" % os.geteuid())
        skip("G1: $XDG_RUNTIME_DIR owned by another uid is refused",
             "not root")

    # a second daemon on the same state directory
    x = Daemon(base, "z", state=d.state, config=d.config)
    code = x.wait_exit()
    log = x.log_text()
    x.stop()
    ok(code not in (None, 0) and "already running" in log,
       "a second daemon on the same state directory is refused (exit %s)"
       % code, log)

    # a second daemon on the same socket
    x = Daemon(base, "w", runtime=d.runtime)
    code = x.wait_exit()
    log = x.log_text()
    x.stop()
    ok(code not in (None, 0) and "already running" in log
       and os.path.exists(d.socket),
       "a second daemon on the same socket is refused and leaves it alone "
       "(exit %s)" % code, log)

    # usage errors
    r = subprocess.run([CWTIMED, "--bogus"], capture_output=True)
    ok(r.returncode == 64, "an unknown option exits 64", r.returncode)
    r = subprocess.run([CWTIMED, "--version"], capture_output=True)
    ok(r.returncode == 0 and r.stdout.decode().strip() == "cwtimed 0.1.0",
       "--version prints the version", r.stdout)


def test_reload(d):
    conf_dir = os.path.join(d.config, "cwtimed")
    os.makedirs(conf_dir, mode=0o700, exist_ok=True)
    conf = os.path.join(conf_dir, "cwtimed.conf")
    with open(conf, "w") as f:
        f.write("[no-such-section]\nfoo = bar\n")
    before = d.log_text().count("reloading the configuration failed")
    d.proc.send_signal(signal.SIGHUP)
    end = time.monotonic() + 10
    while (time.monotonic() < end and
           d.log_text().count("reloading the configuration failed") == before):
        select.select([], [], [], 0.05)
    log = d.log_text()
    r = Client(d.socket).request({"v": 1, "id": 1, "cmd": "ping"})
    ok(log.count("reloading the configuration failed") == before + 1
       and "no-such-section" in log and r is not None and r.get("ok") is True,
       "SIGHUP with a broken config logs its errors and keeps serving", log[-2000:])
    os.unlink(conf)
    d.proc.send_signal(signal.SIGHUP)
    end = time.monotonic() + 10
    while time.monotonic() < end and "configuration reloaded" not in d.log_text():
        select.select([], [], [], 0.05)
    ok("configuration reloaded" in d.log_text(),
       "SIGHUP with a good (absent) config reloads it")


def activation_socket(path, mode=0o600, abstract=False):
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if abstract:
        ls.bind("\0cwt-test-%d" % os.getpid())
    else:
        old = os.umask(0o077)
        ls.bind(path)
        os.umask(old)
        os.chmod(path, mode)
    ls.listen(16)
    return ls


def test_activation(base):
    run = os.path.join(base, "act-run")
    os.makedirs(run, mode=0o700)
    os.makedirs(os.path.join(run, "cwtimed"), mode=0o700)
    path = os.path.join(run, "cwtimed", "socket")
    ls = activation_socket(path)
    # a client that connects before the daemon is up waits in the backlog
    early = Client(path)
    early.send(json.dumps({"v": 1, "id": 42, "cmd": "ping"}) + "\n")
    x = Daemon(base, "act", runtime=run, listen_sock=ls,
               extra_env={"WATCHDOG_USEC": "200000"})
    ls.close()
    ready = x.wait_notify("READY=1")
    r = early.read_json() if ready else None
    ok(ready and r is not None and r.get("id") == 42 and r.get("ok") is True,
       "socket activation: a client queued before start-up is answered "
       "after READY=1", (r, x.log_text()[-2000:]))
    early.close()
    ok(x.wait_notify("WATCHDOG=1", timeout=10),
       "with WATCHDOG_USEC set the daemon pings the watchdog", x.messages)
    x.proc.send_signal(signal.SIGTERM)
    code = x.wait_exit()
    x.stop()
    ok(code == 0 and os.path.exists(path),
       "socket activation: clean exit, the passed socket is not unlinked "
       "(exit %s)" % code)

    for what, mode, abstract, want in (
            ("with mode 0666", 0o666, False, "mode 0600"),
            ("in the abstract namespace", 0o600, True, "abstract namespace")):
        tag = what.split()[-1]
        run = os.path.join(base, "act-%s-run" % tag)
        os.makedirs(run, mode=0o700)
        os.makedirs(os.path.join(run, "cwtimed"), mode=0o700)
        ls = activation_socket(os.path.join(run, "cwtimed", "socket"), mode,
                               abstract)
        x = Daemon(base, "act-" + tag, runtime=run,
                   listen_sock=ls)
        ls.close()
        code = x.wait_exit()
        log = x.log_text()
        x.stop()
        ok(code not in (None, 0) and want in log,
           "socket activation: a passed socket %s is refused (exit %s)"
           % (what, code), log)


def test_emfile(base):
    x = Daemon(base, "fd", nofile=24)
    if not x.wait_notify("READY=1"):
        ok(False, "the daemon starts with 24 descriptors", x.log_text())
        x.stop()
        return
    clients = [Client(x.socket, timeout=1.5) for _ in range(60)]
    for i, c in enumerate(clients):
        c.send(json.dumps({"v": 1, "id": i, "cmd": "ping"}) + "\n")
    served, waiting = [], []
    for c in clients:
        r = c.read_json()
        (served if r is not None and r.get("ok") else waiting).append((c, r))
    busy = [r for _, r in waiting if r is not None]
    cap = min(PROTO["PROTO_MAX_CONNS"], PROTO["PROTO_MAX_CONNS_PER_UID"])
    log = x.log_text()
    ok(0 < len(served) < cap and not busy and len(waiting) == 60 - len(served)
       and log.count("pausing until a connection closes") == 1,
       "out of descriptors: %d served, the other %d wait in the backlog "
       "(not refused), one warning" % (len(served), len(waiting)),
       (len(served), busy, log[-1500:]))
    for c, _ in served:
        c.close()
    late = 0
    for c, _ in waiting:
        c.s.settimeout(10)
        r = c.read_json()
        late += 1 if r is not None and r.get("ok") else 0
        c.close()
    ok(late == len(waiting),
       "accepting resumes as connections close: all %d waiting clients are "
       "served" % len(waiting), late)
    x.proc.send_signal(signal.SIGTERM)
    code = x.wait_exit()
    x.stop()
    ok(code == 0, "and the daemon exits cleanly (exit %s)" % code)


def main():
    if not os.access(CWTIMED, os.X_OK):
        print("1..0 # SKIP %s is not built" % CWTIMED)
        print("skip-probe: access(%s, X_OK) failed" % CWTIMED)
        return 0
    base = tempfile.mkdtemp(prefix="cwt-ipc-")
    os.chmod(base, 0o700)
    d = None
    try:
        d = Daemon(base)
        if not d.wait_notify("READY=1"):
            print("1..1")
            ok(False, "the daemon becomes ready", d.log_text())
            return 1
        test_basics(d)
        test_oversize_and_deadline(d)
        test_limits(d)
        test_foreign_uid(d, base)
        test_refusals(base, d)
        test_reload(d)
        test_activation(base)
        test_emfile(base)

        r = Client(d.socket).request({"v": 1, "id": 1, "cmd": "ping"})
        ok(r is not None and r.get("ok") is True and d.proc.poll() is None,
           "G3: after all of that the daemon still serves", r)
        d.proc.send_signal(signal.SIGTERM)
        code = d.wait_exit()
        ok(code == 0 and d.wait_notify("STOPPING=1", timeout=1)
           and not os.path.exists(d.socket),
           "SIGTERM: STOPPING=1, exit 0, socket removed (exit %s)" % code,
           d.log_text()[-3000:])
    finally:
        if d is not None:
            d.stop()
        shutil.rmtree(base, ignore_errors=True)
    print("1..%d" % len(results))
    return 0 if all(r for r, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
