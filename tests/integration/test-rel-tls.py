#!/usr/bin/env python3
"""test-rel-tls.py - RELIABILITY.md 7 G6 (and 6.4): TLS.

A self-signed certificate for 127.0.0.1 is made at test time with
`openssl req -x509`; the fake ConnectWise serves HTTPS with it.

  1. Without [api] ca_file the certificate cannot be verified: the
     failure is classified account-wide, so the queue pauses
     (QUEUE_PAUSED in the journal), `status` says paused and why (the
     certificate), the entry stays pending, and there is no insecure
     retry: through more than one retry time the fake's log shows no
     completed request at all (the handshake never finished).
  2. With `ca_file = <the certificate>` and SIGHUP (a reload resumes an
     account-wide pause), the entry is delivered exactly once.
"""

import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests",
                                "lib"))
import daemon  # noqa: E402
import figures  # noqa: E402
import invariants  # noqa: E402
import client as fakeclient  # noqa: E402

T = daemon.Tap()
DAY0 = 1771837200  # 2026-02-23T09:00:00Z
EXTRA = ("settle_delay = 1s\nbackoff_base = 1s\nbackoff_cap = 2s\n"
         "breaker_threshold = 3\nbreaker_cooldown = 1s\n"
         "breaker_cooldown_max = 2s\n")


def make_cert(base):
    openssl = daemon.need_program("openssl")
    cert = os.path.join(base, "cert.pem")
    key = os.path.join(base, "key.pem")
    p = subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                        "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    if p.returncode != 0:
        daemon.skip_all("openssl req -x509: %s" % p.stderr.decode()[-200:],
                        "EINVAL", "openssl cannot make a certificate")
    return cert, key


def submission(d):
    r = d.raw("status")
    return r["result"].get("submission", {}) if r.get("ok") else {}


def rec_names(d):
    return [daemon.REC_NAME.get(r["type"]) for r in
            invariants.journal_reader.read_state_live(d.state_dir).records]


def main():
    daemon.probe_binaries()
    base = daemon.make_base()
    cert, key = make_cert(base)
    os.makedirs(os.path.join(base, "cw"))
    cw = fakeclient.FakeCW(os.path.join(base, "cw"), https=(cert, key))
    cw.start()
    seed = set(invariants.server_guids(cw.entries()))
    T.ok(cw.api_url.startswith("https://127.0.0.1:"), "the fake serves "
         "HTTPS", cw.api_url)
    d = daemon.with_fake(base, "g6", cw, EXTRA)
    counts = {}
    try:
        T.ok(d.start(), "daemon ready", d.log_text())
        n0 = len(cw.requests())
        r = d.raw("log", {"target": "54321", "duration_s": 1800,
                          "at": DAY0, "notes": "g6"})
        T.ok(r.get("ok"), "entry queued", repr(r))
        u = r["result"]["entries"][0]["uuid"]
        paused = d.wait_for(lambda: "QUEUE_PAUSED" in rec_names(d),
                            timeout=30, poll=0.1)
        sub = submission(d)
        why = (sub.get("reason") or "").lower()
        T.ok(paused and sub.get("state") == "paused",
             "G6 no ca_file: classified account-wide, the queue pauses "
             "(QUEUE_PAUSED journaled)", repr(sub))
        T.ok("certificate" in why or "tls" in why or "ssl" in why,
             "G6 no ca_file: status says why: %r" % sub.get("reason"))
        rc, out, err = d.ctl("status")
        T.ok(rc == 0 and isinstance(out, dict) and out.get(
            "submission", {}).get("state") == "paused",
            "G6 no ca_file: cwtimectl status shows the pause", (rc, out, err))
        # a deadline for something that must not happen: through several
        # backoff and cool-down times, no request completes at the fake
        # and the entry is not touched again
        n_att = rec_names(d).count("ATTEMPT_STARTED")
        more = d.wait_for(lambda: len(cw.requests()) > n0 or
                          rec_names(d).count("ATTEMPT_STARTED") > n_att,
                          timeout=4)
        T.ok(not more and len(cw.requests()) == n0,
             "G6 no ca_file: no insecure retry: the fake saw no completed "
             "request, no new attempt while paused")
        view = invariants.View.load(d.state_dir)
        st = view.entries[u].state
        T.ok(st == "pending", "G6 no ca_file: the entry is kept, pending "
             "(not sent: the handshake failed)", st)
        names = [daemon.REC_NAME.get(r["type"]) for r in
                 invariants.journal_reader.read_state_live(
                     d.state_dir).records if r["payload"].get("uuid") == u]
        T.ok("OUTCOME_UNKNOWN" not in names and "REJECTED" not in names,
             "G6 no ca_file: neither UNKNOWN nor REJECTED", repr(names))
        counts["before_ca_file"] = {"requests_at_fake": len(cw.requests()) -
                                    n0, "state": st,
                                    "reason": sub.get("reason")}

        conf = os.path.join(d.confdir, "cwtimed", "cwtimed.conf")
        with open(conf) as f:
            text = f.read()
        d.write_config(text.replace("[api]\n", "[api]\nca_file = %s\n" %
                                    cert, 1))
        d.proc.send_signal(signal.SIGHUP)
        done = d.wait_for(lambda: invariants.View.load(
            d.state_dir).entries[u].state == "submitted", timeout=30,
            poll=0.1)
        at = invariants.server_guids(cw.entries())
        view = invariants.View.load(d.state_dir)
        bad = invariants.check_server(view, cw.entries(), seed)
        T.ok(done and at.get(u) == 1 and not bad,
             "G6 with ca_file and SIGHUP: delivered exactly once",
             repr(view.states()) + "\n".join(bad))
        posts = [q for q in cw.requests() if q["method"] == "POST"]
        T.eq(len(posts), 1, "G6: exactly one POST reached the fake")
        T.eq(submission(d).get("state"), "ok", "G6: status ok again")
        rc = d.stop()
        T.ok(rc == 0 and d.sanitizer_report() is None, "clean stop (%s)"
             % rc)
        counts.update({"posts": len(posts), "copies_at_fake": at.get(u, 0)})
        figures.record(["G6"], "test-rel-tls", counts, T.failed == 0)
    finally:
        d.stop(signal.SIGKILL, timeout=5)
        cw.stop()
        daemon.shutil.rmtree(base, ignore_errors=True)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
