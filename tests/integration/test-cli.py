#!/usr/bin/env python3
"""test-cli.py - cwtimectl end to end: the verb table, usage errors, exit
statuses, the request bytes on the socket, status formats, follow mode,
and ping/version against the real cwtimed.

A fake daemon (a Unix socket served by a thread) records every request
line, so "usage error: nothing sent" is checked, not assumed. Prints TAP.
"""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

CTL = os.environ.get("CWTIMECTL", "./cwtimectl")
CWTIMED = os.environ.get("CWTIMED", "./cwtimed")
BUILDDIR = os.environ.get("top_builddir", ".")

# Every verb the issue names; the table must have exactly these.
VERBS = ("ping version start stop pause resume toggle switch cancel set note "
         "adjust log list status follow recent queue flush entries entry "
         "approve reject sheets sheet worktypes roles codes help").split()
SUBS = {"queue": ["drop", "edit", "pause", "resume", "retry"],
        "entry": ["delete", "edit", "show"],
        "sheet": ["approve", "reject", "reverse", "show", "submit"]}

results = []


def check(ok, name, detail=""):
    results.append((None if ok is None else bool(ok), name, detail))


def run(args, env=None, timeout=10):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([CTL] + args, capture_output=True, text=True,
                       env=e, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class FakeDaemon:
    """Answers each request line with handler(request) -> reply dict."""

    def __init__(self, path, handler):
        self.path = path
        self.handler = handler
        self.requests = []
        self.connections = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        self.closing = False
        self.conns = []
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)
        self.thread.start()

    def accept_loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.conns.append(c)
            threading.Thread(target=self.serve, args=(c,),
                             daemon=True).start()

    def serve(self, c):
        buf = b""
        while True:
            try:
                data = c.recv(65536)
            except OSError:
                return
            if not data:
                c.close()
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                req = json.loads(line)
                with self.lock:
                    self.requests.append(req)
                for out in self.handler(req):
                    try:
                        c.sendall((json.dumps(out) + "\n").encode())
                    except OSError:
                        return

    def push(self, msg):
        """Sends msg to every open connection (events)."""
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.sendall((json.dumps(msg) + "\n").encode())
            except OSError:
                pass

    def close(self):
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                    c.close()
                except OSError:
                    pass
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


STATUS = {"timers": [{"target": "ticket:54321", "summary": "Printer & co",
                      "state": "running", "elapsed_s": 4980,
                      "focus": True}],
          "queue": {"pending": 0, "unknown": 0, "rejected": 0},
          "submission": {"state": "ok", "reason": ""},
          "max_duration_s": 36000}

replies = {}  # cmd -> (ok, result-or-error)


def handler(req):
    cmd = req.get("cmd")
    if cmd in replies:
        ok, payload = replies[cmd]
    elif cmd == "status":
        ok, payload = True, STATUS
    elif cmd == "subscribe":
        ok, payload = True, {"subscribed": True}
    else:
        ok, payload = True, {"done": cmd}
    if ok == "raw":
        return [payload]
    if ok:
        return [{"v": 1, "id": req.get("id"), "ok": True,
                 "result": payload}]
    return [{"v": 1, "id": req.get("id"), "ok": False, "error": payload}]


def main():
    tmp = tempfile.mkdtemp(prefix="test-cli-")
    os.chmod(tmp, 0o700)
    try:
        body(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("1..%d" % len(results))
    failed = 0
    for i, (ok, name, detail) in enumerate(results, 1):
        if ok is None:
            print("ok %d - %s # SKIP %s" % (i, name, detail))
            continue
        print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
        if not ok:
            failed += 1
            for ln in str(detail).splitlines():
                print("# " + ln)
    return 1 if failed else 0


def elf_interp(path):
    """(e_type, has PT_INTERP) of a 64-bit little-endian ELF file."""
    import struct
    with open(path, "rb") as f:
        h = f.read(64)
        if h[:4] != b"\x7fELF" or h[4] != 2 or h[5] != 1:
            return None, None
        e_type, = struct.unpack_from("<H", h, 16)
        phoff, = struct.unpack_from("<Q", h, 32)
        phentsize, phnum = struct.unpack_from("<HH", h, 54)
        f.seek(phoff)
        ph = f.read(phentsize * phnum)
    types = [struct.unpack_from("<I", ph, i * phentsize)[0]
             for i in range(phnum)]
    return e_type, 3 in types  # PT_INTERP


def static_client_test():
    """configure's --enable-static-client choice is what was built: a
    static PIE (position independent, no dynamic loader) or a dynamic
    program."""
    want = os.environ.get("CWT_STATIC_CLIENT")
    if want not in ("yes", "no"):
        check(None, "cwtimectl linked as configured",
              "CWT_STATIC_CLIENT not set (not run by make check)")
        return
    e_type, interp = elf_interp(CTL)
    if want == "yes":
        check(e_type == 3 and interp is False,
              "cwtimectl is a static PIE (--enable-static-client)",
              "e_type %r, PT_INTERP %r" % (e_type, interp))
    else:
        check(interp is True, "cwtimectl is linked dynamically "
              "(--disable-static-client or a sanitizer build)",
              "e_type %r, PT_INTERP %r" % (e_type, interp))


def body(tmp):
    static_client_test()
    sock = os.path.join(tmp, "fake.sock")
    fake = FakeDaemon(sock, handler)
    S = ["--socket", sock]

    # --- the table: help, completions and man page all list every verb
    rc, out, err = run(["help"])
    listed = [ln.split()[0] for ln in out.splitlines()
              if ln.startswith("  ") and not ln.startswith("   ")
              and not ln.strip().startswith("--")]
    top = sorted(set(listed))
    check(rc == 0 and top == sorted(VERBS),
          "help lists exactly the verbs of the issue", "%r" % top)
    comps = {}
    for shell in ("bash", "zsh", "fish"):
        rc, out, err = run(["--completions", shell])
        comps[shell] = out
        check(rc == 0 and out, "--completions %s" % shell, err)
        path = os.path.join(BUILDDIR, "completions",
                            {"bash": "cwtimectl", "zsh": "_cwtimectl",
                             "fish": "cwtimectl.fish"}[shell])
        if os.path.exists(path):
            with open(path) as f:
                check(f.read() == out,
                      "built %s completion is the program's output" % shell)
    bash_completion_test(comps["bash"])
    rc, man, err = run(["--man-commands"])
    check(rc == 0, "--man-commands")
    for v in VERBS:
        rc, out, err = run(["help", v])
        check(rc == 0 and out.startswith("usage: cwtimectl " + v),
              "help %s" % v, out + err)
        rc, out2, err = run([v, "--help"])
        check(rc == 0 and out2 == out, "%s --help equals help %s" % (v, v),
              err)
        for shell, text in comps.items():
            check((" %s" % v) in text or ("'%s:" % v) in text,
                  "%s completion mentions %s" % (shell, v))
        check(("*%s*" % v) in man, "man page COMMANDS has %s" % v)
        for s in SUBS.get(v, []):
            rc, out, err = run(["help", v, s])
            check(rc == 0 and out.startswith("usage: cwtimectl %s %s"
                                             % (v, s)),
                  "help %s %s" % (v, s), out + err)
            check(("*%s %s*" % (v, s)) in man,
                  "man page COMMANDS has %s %s" % (v, s))
            for shell, text in comps.items():
                check(s in text, "%s completion mentions %s %s"
                      % (shell, v, s))

    # --- usage errors: exit 2, nothing sent
    def usage_error(args, want_in_err=None, name=None):
        before = (fake.connections, len(fake.requests))
        rc, out, err = run(S + args)
        after = (fake.connections, len(fake.requests))
        ok = rc == 2 and before == after and err.startswith("cwtimectl: ")
        if want_in_err:
            ok = ok and want_in_err in err
        check(ok, name or "usage error: %s" % " ".join(args),
              "rc=%d err=%r sent=%r" % (rc, err, after != before))

    for v in VERBS:
        if v in SUBS:
            usage_error([v, SUBS[v][0], "--no-such-option"],
                        "unknown option")
        else:
            usage_error([v, "--no-such-option"], "unknown option")
    usage_error(["frobnicate"], "unknown command 'frobnicate'",
                "unknown command: exit 2")
    usage_error(["st"], "ambiguous command 'st', could be: start, status, "
                "stop", "ambiguous prefix names the candidates")
    usage_error(["start"], "missing TARGET")
    usage_error(["start", "1", "--at", "09:00", "--ago", "5m"],
                "--at and --ago exclude each other")
    usage_error(["start", "1", "--ago", "ten"], "bad-duration")
    usage_error(["start", "1", "--at", "2999-01-01T00:00:00Z"],
                "time-in-future")
    usage_error(["reject", "1"], "--reason")
    usage_error(["entry"], "needs a command")
    usage_error(["status", "--format", "xml"], "not one of")
    usage_error(["status", "--template", "{nope}"], "--template")
    usage_error(["--bogus"], "unknown option")
    usage_error(["help", "bogus"], "unknown command 'bogus'")
    usage_error(["help", "ping", "x"], "has no sub-commands")
    usage_error([], "no command given")

    # --- requests on the wire and exit statuses
    def sent(args, want, name):
        n = len(fake.requests)
        rc, out, err = run(S + args)
        got = fake.requests[n:]
        check(rc == 0 and got == [want], name,
              "rc=%d got=%r err=%r" % (rc, got, err))
        return out

    sent(["start", "54321", "--ago", "10m", "--work-type", "Remote"],
         {"v": 1, "id": 1, "cmd": "start",
          "args": {"target": "54321", "ago_s": 600,
                   "work_type": "Remote"}},
         "start sends target, ago_s and work_type")
    sent(["queue", "retry", "3f2a"],
         {"v": 1, "id": 1, "cmd": "queue.retry", "args": {"id": "3f2a"}},
         "queue retry sends cmd queue.retry with the UUID prefix as a string")
    sent(["app", "1", "2"],
         {"v": 1, "id": 1, "cmd": "approve", "args": {"ids": [1, 2]}},
         "a unique prefix runs the verb")
    out = sent(["ping"], {"v": 1, "id": 1, "cmd": "ping"}, "ping")
    check(out == "pong\n", "ping prints pong", repr(out))

    for pos in (["--json", "ping"], ["ping", "--json"]):
        rc, out, err = run(S + pos)
        check(rc == 0 and json.loads(out) == {"done": "ping"},
              "--json %s the verb" % ("before" if pos[0] == "--json"
                                      else "after"), out + err)

    for code, status in (("no-such-timer", 1), ("api-rejected", 4),
                         ("api-unreachable", 4), ("unknown-command", 2),
                         ("bad-target", 2), ("some-future-code", 1)):
        replies["stop"] = (False, {"code": code, "message": "said %s" % code,
                                   "field": "target"})
        rc, out, err = run(S + ["stop"])
        check(rc == status and
              err.startswith("cwtimectl: %s: said %s" % (code, code)),
              "error reply %s exits %d" % (code, status),
              "rc=%d err=%r" % (rc, err))
        rc, out, err = run(S + ["--json", "stop"])
        check(rc == status and json.loads(out)["error"] ==
              {"code": code, "message": "said %s" % code, "field": "target"},
              "--json error reply %s" % code, out)
    del replies["stop"]

    replies["ping"] = ("raw", {"v": 2, "id": 1, "ok": True, "result": {}})
    rc, out, err = run(S + ["ping"])
    check(rc == 3 and "protocol-version" in err,
          "another protocol version exits 3", err)
    del replies["ping"]

    rc, out, err = run(["--socket", os.path.join(tmp, "none"), "ping"])
    check(rc == 3 and "daemon-unreachable" in err and
          "systemctl --user start cwtimed.socket" in err and
          "cwtimed" in err, "unreachable daemon: exit 3 and the hint", err)
    rc, out, err = run(["ping"], env={"XDG_RUNTIME_DIR": tmp})
    check(rc == 3 and os.path.join(tmp, "cwtimed", "socket") in err,
          "default socket is $XDG_RUNTIME_DIR/cwtimed/socket", err)

    # --- status formats
    rc, out, err = run(S + ["status", "--format", "waybar"])
    check(rc == 0 and out ==
          '{"text":"#54321 1:23","alt":"running","tooltip":"#54321 1:23 '
          'running Printer &amp; co","class":"running","percentage":13}\n',
          "status --format waybar", out + err)
    rc, out, err = run(S + ["status", "--format", "tmux", "--template",
                            "{label}|{elapsed}|{summary}"])
    check(rc == 0 and out == "#54321|1:23|Printer & co\n",
          "status --template", out + err)
    rc, out, err = run(S + ["status"])
    check(rc == 0 and out == "* #54321 1:23 running Printer & co\n",
          "status without --format", out + err)
    none = ["--socket", os.path.join(tmp, "none")]
    rc, out, err = run(none + ["status", "--format", "i3blocks"])
    check(rc == 0 and out == "offline\noffline\n#808080\n",
          "status --format i3blocks while offline", out + err)
    replies["status"] = (True, dict(STATUS, submission={
        "state": "api-unreachable", "reason": "timeout"}))
    rc, out, err = run(S + ["status", "--format", "i3blocks"])
    check(rc == 33 and out == "#54321 1:23 !\n1:23\n#BF616A\n",
          "i3blocks exits 33 while submission fails",
          "rc=%d out=%r" % (rc, out))
    del replies["status"]

    # --- follow: state at once, a line per change, offline, reconnect
    follow_test(tmp, fake, sock)
    fake.close()

    daemon_test(tmp)


def bash_completion_test(script):
    """Runs the generated bash completion function on sample lines."""
    cases = [
        (["sta"], "start status"),
        (["--socket", "/x", "ent"], "entries entry"),
        (["start", "1", "--bil"], "--billing"),
        (["start", "1", "--billing", ""],
         "Billable DoNotBill NoCharge NoDefault"),
        (["status", "--format", "w"], "waybar"),
        (["queue", ""], "drop edit pause resume retry"),
        (["queue", "edit", "1", "--wo"], "--work-type"),
        (["sheet", "approve", "1", "--t"], "--tier"),
        (["stop", "--at-"], "--at-heartbeat"),
    ]
    prog = script + "\n"
    for words, _ in cases:
        quoted = " ".join("'%s'" % w for w in ["cwtimectl"] + words)
        prog += ("COMP_WORDS=(%s); COMP_CWORD=%d; COMPREPLY=(); _cwtimectl; "
                 "echo \"${COMPREPLY[*]}\"\n" % (quoted, len(words)))
    p = subprocess.run(["bash", "--norc", "-c", prog], capture_output=True,
                       text=True, timeout=30)
    got = p.stdout.splitlines()
    for i, (words, want) in enumerate(cases):
        check(p.returncode == 0 and i < len(got) and got[i] == want,
              "bash completion of '%s'" % " ".join(words),
              "got %r err %r" % (got[i] if i < len(got) else None,
                                 p.stderr))


def read_line(p, deadline):
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [],
                                max(0, deadline - time.monotonic()))
        if not r:
            break
        ch = os.read(p.stdout.fileno(), 1)
        if not ch:
            break
        if ch == b"\n":
            return buf.decode()
        buf += ch
    return None


def follow_test(tmp, fake, sock):
    p = subprocess.Popen([CTL, "--socket", sock, "follow", "--format",
                          "plain"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        line = read_line(p, time.monotonic() + 10)
        check(line == "#54321 1:23", "follow prints the state at once",
              repr(line))
        # a "timer" event carries the status result (doc/protocol.md):
        # follow draws it without asking again
        STATUS["timers"][0]["state"] = "paused"
        fake.push({"v": 1, "event": "timer", "seq": 1, "data": STATUS})
        line = read_line(p, time.monotonic() + 10)
        check(line == "#54321 1:23 paused", "follow prints a change",
              repr(line))
        fake.close()
        line = read_line(p, time.monotonic() + 10)
        check(line == "offline", "follow prints offline when the daemon "
              "goes away", repr(line))
        STATUS["timers"][0]["state"] = "running"
        fake2 = FakeDaemon(sock, handler)
        line = read_line(p, time.monotonic() + 15)
        check(line == "#54321 1:23", "follow reconnects", repr(line))
        check(p.poll() is None, "follow keeps running")
        fake2.close()
    finally:
        p.kill()
        p.wait()


def daemon_test(tmp):
    """ping and version against the real cwtimed on temporary XDG paths."""
    env = {}
    for d in ("run", "state", "config"):
        os.mkdir(os.path.join(tmp, d), 0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=os.path.join(tmp, "run"),
               XDG_STATE_HOME=os.path.join(tmp, "state"),
               XDG_CONFIG_HOME=os.path.join(tmp, "config"))
    env.pop("NOTIFY_SOCKET", None)
    env.pop("LISTEN_FDS", None)
    sockpath = os.path.join(tmp, "run", "cwtimed", "socket")
    if not os.access(CWTIMED, os.X_OK):
        print("skip-probe: access(%s, X_OK) failed" % CWTIMED)
        check(None, "ping/version against cwtimed", "no cwtimed binary")
        return
    p = subprocess.Popen([CWTIMED], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and p.poll() is None:
            if os.path.exists(sockpath):
                rc, out, err = run(["ping"], env=env)
                if rc == 0:
                    break
            time.sleep(0.05)  # polling for readiness, with a deadline
        if p.poll() is not None:
            err = p.stderr.read().decode(errors="replace")
            check(False, "cwtimed starts", "exit %s: %s" % (p.returncode,
                                                           err))
            return
        rc, out, err = run(["ping"], env=env)
        check(rc == 0 and out == "pong\n", "ping against cwtimed",
              out + err)
        rc, out, err = run(["version"], env=env)
        check(rc == 0 and out.startswith("cwtimectl ") and
              "\ncwtimed " in out and "(protocol 1)" in out,
              "version against cwtimed", out + err)
        rc, out, err = run(["ping", "--json"], env=env)
        try:
            pong = json.loads(out).get("pong")
        except ValueError:
            pong = None
        check(rc == 0 and pong is True, "ping --json against cwtimed",
              out + err)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


if __name__ == "__main__":
    sys.exit(main())
