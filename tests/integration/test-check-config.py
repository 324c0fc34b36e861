#!/usr/bin/python3
"""cwtimed --check-config: with [api] and credentials it makes one
authenticated GET and prints ConnectWise's answer; bad keys exit 78 with
ConnectWise's message; without credentials it says the daemon runs
offline and makes no request. Against tests/fakecw. TAP."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ["top_srcdir"], "tests", "fakecw"))
import client as fakeclient  # noqa: E402

CWTIMED = os.environ["CWTIMED"]
n = 0
failed = False


def ok(cond, name, diag=""):
    global n, failed
    n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, name))
    if not cond:
        failed = True
        for line in str(diag).splitlines():
            print("# " + line)


def write(path, text, mode):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def check(home):
    env = dict(os.environ, XDG_CONFIG_HOME=home, HOME=home)
    return subprocess.run([CWTIMED, "--check-config"], env=env,
                          capture_output=True, text=True, timeout=60)


def main():
    print("1..7")
    with tempfile.TemporaryDirectory() as tmp, \
            fakeclient.FakeCW(workdir=tmp) as cw:
        os.chmod(tmp, 0o700)
        cfgdir = os.path.join(tmp, "cwtimed")
        os.mkdir(cfgdir, 0o700)
        write(os.path.join(cfgdir, "cwtimed.conf"),
              "[api]\nurl = %s\ncompany = %s\n" % (cw.api_url,
                                                  fakeclient.COMPANY), 0o600)
        cred = os.path.join(cfgdir, "credentials")

        r = check(tmp)
        ok(r.returncode == 0 and "offline" in r.stderr,
           "no credentials: exit 0, says the daemon would run offline",
           r.stdout + r.stderr)
        before = len(cw.requests())

        write(cred, "[api]\npublic_key = %s\nprivate_key = %s\n"
              "client_id = %s\n" % (fakeclient.PUBLIC_KEY,
                                    fakeclient.PRIVATE_KEY,
                                    fakeclient.CLIENT_ID), 0o600)
        r = check(tmp)
        ok(r.returncode == 0, "good credentials: exit 0", r.stdout + r.stderr)
        ok("ConnectWise: HTTP 200" in r.stdout,
           "prints ConnectWise's answer", r.stdout)
        got = cw.requests()[before:]
        gets = [e for e in got if e.get("method") == "GET"
                and e.get("relpath", "").startswith("/time/workTypes")]
        ok(len(gets) == 1, "exactly one authenticated GET reached the server",
           got)
        ok(fakeclient.PRIVATE_KEY not in r.stdout + r.stderr,
           "the private key is not printed", r.stdout + r.stderr)

        write(cred, "[api]\npublic_key = %s\nprivate_key = wrong\n"
              "client_id = %s\n" % (fakeclient.PUBLIC_KEY,
                                    fakeclient.CLIENT_ID), 0o600)
        r = check(tmp)
        ok(r.returncode == 78, "bad credentials: exit 78 (%d)" % r.returncode,
           r.stdout + r.stderr)
        ok("api-auth" in r.stderr and "Authentication failed" in r.stderr,
           "shows ConnectWise's own message", r.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
