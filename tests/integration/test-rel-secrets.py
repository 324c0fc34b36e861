#!/usr/bin/env python3
"""test-rel-secrets.py - RELIABILITY.md 6.2, 6.3 and 7 G4, G5 on the whole
daemon: secrets never leak, core dumps and same-uid ptrace are off, loose
credential files are refused.

G4: the fake ConnectWise takes canary credentials (public key, private key
`CANARY-1234567890` and clientId all carry CANARY). The daemon runs with
debug logging through submissions, an apply-then-reset (unknown outcome,
reconciliation), a 500, a 400 InvalidObject (REJECTED), a 401 (queue
paused) and a resume. Then every output is searched for each secret and
for the Basic Authorization value they make (base64, which a leaked header
would show): the daemon's stdout and stderr, every file under the state
directory (journal, checkpoint, quarantine), every raw socket reply,
cwtimectl's output (plain and --json) of status, list, queue and recent,
`cwtimed --check-config`, and /proc/PID/cmdline and /proc/PID/environ.
The fake's own request log holds the header by design and is not searched.

Dumpable: PR_SET_DUMPABLE 0 is proved by a same-uid open of /proc/PID/mem
failing. As root that open always succeeds (CAP_SYS_PTRACE), and Yama may
refuse non-descendants anyway, so the check runs as another uid (setpriv
to nobody): a helper of that uid starts both cwtimed and a `sleep` as its
own children; /proc/SLEEP/mem must open (the control: the method can
succeed) and /proc/CWTIMED/mem must fail with EACCES; /proc/CWTIMED/status
must also belong to root although the process runs as nobody (the kernel
does that only for non-dumpable processes).

G5: a credentials file with mode 0644, one owned by another uid, and a
secret in cwtimed.conf each make the start fail (exit 78) with a message
naming the file and the fix, and without the secret; with
$CREDENTIALS_DIRECTORY set, its file wins over a loose credentials file.
"""

import base64
import json
import os
import pwd
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests",
                                "lib"))
import daemon  # noqa: E402
import figures  # noqa: E402
import client as fakeclient  # noqa: E402

T = daemon.Tap()
PUB = "CANARY-PUB-0987654321"
PRIV = "CANARY-1234567890"
CID = "CANARY-CID-5c2f3f7e"
POST = {"method": "POST", "path": "/time/entries"}


def needles(company):
    auth = base64.b64encode(("%s+%s:%s" % (company, PUB, PRIV)).encode())
    return [PUB.encode(), PRIV.encode(), CID.encode(), auth,
            b"CANARY", auth[:24]]


def leaks(blob, ns):
    return [n.decode() for n in ns if n in blob]


def plain_ctl(d, *args):
    p = subprocess.run([daemon.CWTIMECTL] + list(args), env=d.env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    return p.stdout + p.stderr


def g4(base, cw):
    d = daemon.with_fake(base, "g4", cw, keys=(PUB, PRIV, CID))
    ns = needles(cw.company)
    seen = {}
    try:
        T.ok(d.start(log_level="debug"), "G4: daemon with canary "
             "credentials ready", d.log_text())
        pid = d.pid()
        for name in ("cmdline", "environ"):
            with open("/proc/%d/%s" % (pid, name), "rb") as f:
                seen["/proc/PID/" + name] = f.read()
        cw.add_fault("apply-then-reset", count=1, match=POST)
        cw.add_fault("500", count=1, match=POST)
        cw.add_fault("status", count=1, match=POST, status=400,
                     body={"code": "InvalidObject",
                           "message": "notes are not acceptable",
                           "errors": [{"code": "InvalidField",
                                       "message": "bad", "field": "notes"}]})
        outs = []
        for i in range(4):
            outs.append(d.ctl("log", "54321", "15m", "--at",
                              "2026-02-23T%02d:00:00Z" % (9 + i), "--notes",
                              "g4-%d" % i))
        d.ctl("start", "54322", "--ago", "20m")
        outs.append(d.ctl("stop", "54322", "--notes", "g4-stop"))
        settled = d.wait_for(lambda: d.ctl("status")[1]["queue"][
            "pending"] == 0 and d.ctl("status")[1]["queue"]["unknown"] == 0,
            timeout=60)
        T.ok(settled, "G4: the queue settled (submitted or rejected)",
             d.ctl("status"))
        st = d.ctl("status")[1]["queue"]
        T.ok(st.get("rejected", 0) >= 1, "G4: the 400 left a REJECTED "
             "entry to show (%s)" % st)
        # a 401: the queue pauses account-wide; then it is resumed
        cw.add_fault("unauthorized", count=1)
        d.ctl("log", "54321", "10m", "--at", "2026-02-24T09:00:00Z",
              "--notes", "g4-401")
        paused = d.wait_for(lambda: d.ctl("status")[1].get(
            "submission", {}).get("state") not in ("ok", None), timeout=30)
        T.ok(paused, "G4: a 401 pauses the queue", d.ctl("status"))
        outs.append(d.ctl("queue.resume"))
        outs.append(d.raw("queue.resume"))
        for verb in ("status", "list", "queue", "recent"):
            outs.append(d.ctl(verb))
            seen["cwtimectl " + verb] = plain_ctl(d, verb)
            seen["cwtimectl --json " + verb] = json.dumps(
                d.ctl(verb)).encode()
            seen["reply " + verb] = json.dumps(d.raw(verb)).encode()
        seen["cwtimectl outputs"] = json.dumps(outs).encode()
        rc = d.stop()
        T.ok(rc == 0, "G4: clean stop (%s)" % rc)
        with open(d.log, "rb") as f:
            seen["daemon stdout+stderr"] = f.read()
        for rel, data in d.files().items():
            seen["state/" + rel] = data
        p = subprocess.run([daemon.CWTIMED, "--check-config"], env=d.env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        seen["cwtimed --check-config"] = p.stdout + p.stderr
        T.ok(p.returncode == 0 and b"url" in p.stdout,
             "G4: --check-config ran and printed the settings")
        found = {k: leaks(v, ns) for k, v in seen.items()}
        found = {k: v for k, v in found.items() if v}
        T.ok(not found, "G4: no secret in %d outputs (%d bytes searched)"
             % (len(seen), sum(len(v) for v in seen.values())),
             json.dumps(found, indent=1))
        # the control: the needles are where they must be
        creds = open(os.path.join(d.confdir, "cwtimed", "credentials"),
                     "rb").read()
        T.ok(PRIV.encode() in creds and any(
            ns[3] in json.dumps(r.get("headers", {})).encode()
            for r in cw.requests()),
            "G4: control: the secrets are in the credentials file and the "
            "fake received the canary Authorization")
        return len(seen), sum(len(v) for v in seen.values()), len(found)
    finally:
        d.stop(daemon.signal.SIGKILL, timeout=5)


HELPER = r"""
import json, os, subprocess, sys, time, socket
env = json.loads(sys.argv[1])
d = subprocess.Popen([sys.argv[2], "--log-level", "debug"], env=env,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
s = subprocess.Popen(["sleep", "60"])
end = time.monotonic() + 20
sock = os.path.join(env["XDG_RUNTIME_DIR"], "cwtimed", "socket")
while not os.path.exists(sock) and time.monotonic() < end \
        and d.poll() is None:
    time.sleep(0.02)
out = {"ready": os.path.exists(sock), "uid": os.getuid()}
for name, p in (("daemon", d), ("control", s)):
    try:
        os.close(os.open("/proc/%d/mem" % p.pid, os.O_RDONLY))
        out[name] = "opened"
    except OSError as e:
        out[name] = e.errno
    st = os.stat("/proc/%d/status" % p.pid)
    out[name + "_status_uid"] = st.st_uid
for p in (d, s):
    p.kill()
    p.wait()
print(json.dumps(out))
"""


def dumpable(base):
    if os.geteuid() != 0:
        print("# skip-probe: geteuid() == 0 for setpriv EPERM")
        T.ok(True, "dumpable: needs root to change uid # SKIP not root")
        return None
    setpriv = shutil.which("setpriv")
    if not setpriv:
        print("# skip-probe: execvp(setpriv) ENOENT")
        T.ok(True, "dumpable: setpriv missing # SKIP no setpriv")
        return None
    nobody = pwd.getpwnam("nobody")
    top = os.path.join(base, "nobody")
    os.makedirs(top)
    for sub in ("", "run", "state", "conf"):
        p = os.path.join(top, sub)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, 0o700)
        os.chown(p, nobody.pw_uid, nobody.pw_gid)
    os.chmod(base, 0o711)  # nobody must reach its own directory
    env = {"XDG_RUNTIME_DIR": os.path.join(top, "run"),
           "XDG_STATE_HOME": os.path.join(top, "state"),
           "XDG_CONFIG_HOME": os.path.join(top, "conf"), "HOME": top,
           "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TZ": "UTC"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    p = subprocess.run([setpriv, "--reuid=%d" % nobody.pw_uid,
                        "--regid=%d" % nobody.pw_gid, "--clear-groups",
                        sys.executable, "-c", HELPER, json.dumps(env),
                        daemon.CWTIMED], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    try:
        r = json.loads(p.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        T.ok(False, "dumpable: the helper ran", p.stderr.decode()[-2000:])
        return None
    T.ok(r["ready"] and r["uid"] == nobody.pw_uid,
         "dumpable: cwtimed runs as nobody (uid %d)" % r["uid"], r)
    T.ok(r["control"] == "opened", "dumpable: control: a same-uid open of "
         "a dumpable child's /proc/PID/mem works", r)
    T.ok(r["daemon"] == 13, "G4/6.3: a same-uid open of cwtimed's "
         "/proc/PID/mem fails with EACCES (%s)" % r["daemon"], r)
    T.ok(r["daemon_status_uid"] == 0 and
         r["control_status_uid"] == nobody.pw_uid,
         "6.3: /proc/PID of cwtimed belongs to root (not dumpable), the "
         "control's to nobody", r)
    return r


def g5(base, cw):
    d = daemon.with_fake(base, "g5", cw, keys=(PUB, PRIV, CID))
    path = os.path.join(d.confdir, "cwtimed", "credentials")
    res = {}
    cases = [("mode 0644", lambda: os.chmod(path, 0o644),
              ["0644", path, "chmod 600"]),
             ("owned by another uid",
              lambda: (os.chmod(path, 0o600), os.chown(path, 65534, 65534)),
              [path, "uid 65534"]),
             ("a secret in cwtimed.conf",
              lambda: (os.chown(path, 0, 0), _append_secret(d)),
              ["cwtimed.conf", "credentials"])]
    if os.geteuid() != 0:
        cases.pop(1)
        print("# skip-probe: chown needs root EPERM")
    for name, prepare, words in cases:
        prepare()
        ready = d.start(timeout=10)
        rc = d.wait_exit(10) if not ready else d.stop()
        log = d.log_text()
        missing = [w for w in words if w not in log]
        T.ok(not ready and rc == 78 and not missing and
             "CANARY" not in log,
             "G5: credentials %s: refused, exit 78, the message names the "
             "file and the fix, no secret in it" % name,
             "ready %s rc %s missing %s\n%s" % (ready, rc, missing, log))
        res[name] = rc
    # $CREDENTIALS_DIRECTORY wins over the loose file
    d.write_config(open(os.path.join(d.confdir, "cwtimed", "cwtimed.conf"))
                   .read().replace("private_key = %s\n" % PRIV, ""))
    os.chmod(path, 0o644)
    cdir = os.path.join(d.base, "creds")
    os.makedirs(cdir, mode=0o700)
    fd = os.open(os.path.join(cdir, "cwtimed"), os.O_WRONLY | os.O_CREAT,
                 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("[api]\npublic_key = %s\nprivate_key = %s\nclient_id = %s\n"
                % (PUB, PRIV, CID))
    ready = d.start(env={"CREDENTIALS_DIRECTORY": cdir})
    ok = ready and d.ctl("status")[1]["submission"]["state"] == "ok"
    T.ok(ok, "G5: $CREDENTIALS_DIRECTORY wins over a loose credentials "
         "file", d.log_text())
    d.stop()
    res["credentials_directory"] = "ok" if ok else "failed"
    return res


def _append_secret(d):
    p = os.path.join(d.confdir, "cwtimed", "cwtimed.conf")
    with open(p, "a") as f:
        f.write("private_key = %s\n" % PRIV)


def main():
    daemon.probe_binaries()
    base = daemon.make_base()
    os.makedirs(os.path.join(base, "cw"))
    cw = fakeclient.FakeCW(os.path.join(base, "cw"), public_key=PUB,
                           private_key=PRIV, client_id=CID)
    cw.start()
    try:
        outputs, nbytes, leaked = g4(base, cw)
        dump = dumpable(base)
        res = g5(base, cw)
        figures.record(["G4", "G5"], "test-rel-secrets", {
            "outputs_searched": outputs, "bytes_searched": nbytes,
            "outputs_with_a_secret": leaked,
            "proc_mem_open": dump and dump.get("daemon"),
            "g5_exit_statuses": sorted(str(v) for v in res.values())},
            T.failed == 0)
    finally:
        cw.stop()
        shutil.rmtree(base, ignore_errors=True)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
