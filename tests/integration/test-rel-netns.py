#!/usr/bin/env python3
"""test-rel-netns.py - RELIABILITY.md 7 E9: the network is gone.

The script re-runs itself under `unshare -n` (root), so the fake
ConnectWise and cwtimed share a network namespace of their own with only
`lo`, and nothing here can touch the machine's network. Two ways the
network goes away while the daemon runs, with the retry timing shrunk
through [api] (breaker_threshold = 3, breaker_cooldown = 1s .. 2s,
connect_timeout = 1s):

  1. lo down: `ip link set lo down` after one entry was delivered, then
     entries are queued. Connects fail at once (no route).
  2. black hole (where the kernel has nf_tables and `nft` is installed):
     an output rule drops every packet to the fake's port, so connects
     time out. The daemon is restarted before the rule goes in, so that
     no pooled connection exists: a request on one would really leave
     the process, and UNKNOWN would then be right.

Each time: every failure is journaled as ATTEMPT_FAILED (not sent) and
no entry gets OUTCOME_UNKNOWN (tests/lib/journal_reader.py), the fake
sees no request at all, the breaker opens (`status`), and once the
network is back every entry reaches the fake exactly once
(tests/lib/invariants.py).
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests",
                                "lib"))
import daemon  # noqa: E402
import figures  # noqa: E402
import invariants  # noqa: E402
import client as fakeclient  # noqa: E402

INSIDE = "--in-netns"
DAY0 = 1771837200  # 2026-02-23T09:00:00Z
EXTRA = ("settle_delay = 1s\nbackoff_base = 1s\nbackoff_cap = 2s\n"
         "breaker_threshold = 3\nbreaker_cooldown = 1s\n"
         "breaker_cooldown_max = 2s\n")


def outer():
    """Re-runs this script in a new network namespace (root only)."""
    daemon.need_root("unshare -n")
    unshare = daemon.need_program("unshare")
    daemon.need_program("ip")
    p = subprocess.run([unshare, "-n", "true"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        daemon.skip_all("unshare(CLONE_NEWNET): %s" %
                        p.stderr.decode().strip(), "EPERM",
                        "a new network namespace is refused here")
    os.execv(unshare, [unshare, "-n", "--", sys.executable,
                       os.path.abspath(__file__), INSIDE])


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True)


def nft(*args):
    return subprocess.run(["nft"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)


def records_of(d, uuids):
    """{uuid: [record names]} from the journal."""
    out = {u: [] for u in uuids}
    for r in invariants.journal_reader.read_state_live(d.state_dir).records:
        u = r["payload"].get("uuid") if isinstance(r["payload"], dict) \
            else None
        if u in out:
            out[u].append((daemon.REC_NAME.get(r["type"]), r["payload"]))
    return out


def breaker(d):
    r = d.raw("status")
    return r["result"].get("submission", {}) if r.get("ok") else {}


def queue(d, first, n, tag):
    uuids = []
    for i in range(first, first + n):
        r = d.raw("log", {"target": "54321", "duration_s": 1800,
                          "at": DAY0 + i * 3600, "notes": "%s-%d" % (tag, i)})
        if not r.get("ok"):
            raise RuntimeError("log refused: %r" % r)
        uuids.append(r["result"]["entries"][0]["uuid"])
    return uuids


def outage(T, d, cw, uuids, name, counts):
    """While the network is gone: not sent, breaker open, nothing at the
    fake. Returns when the breaker is open (and has failed a probe)."""
    n0 = len(cw_requests(cw))
    opened = d.wait_for(lambda: breaker(d).get("breaker") == "open",
                        timeout=30, poll=0.1)
    sub = breaker(d)
    T.ok(opened and sub.get("state") == "api-unreachable",
         "E9 %s: the breaker opens, status says api-unreachable" % name,
         repr(sub))
    # a deadline for something that must not happen: through a whole
    # cool-down (and its probe) with the network still gone, the breaker
    # must not close
    closed = d.wait_for(lambda: breaker(d).get("breaker") == "closed",
                        timeout=2.0 + 1.5, poll=0.1)
    T.ok(not closed, "E9 %s: it stays open through a cool-down and its "
         "probe" % name)
    recs = records_of(d, uuids)
    failed = [p for rs in recs.values() for n, p in rs
              if n == "ATTEMPT_FAILED"]
    unknown = [u for u, rs in recs.items()
               if any(n == "OUTCOME_UNKNOWN" for n, p in rs)]
    how = sorted(set(str(p.get("curl", p.get("status"))) for p in failed))
    counts[name] = {"attempts_failed": len(failed), "unknown": len(unknown),
                    "curl": how}
    T.ok(failed and not unknown and all("curl" in p for p in failed),
         "E9 %s: %d failures journaled as not sent (%s), no "
         "OUTCOME_UNKNOWN" % (name, len(failed), ", ".join(how)),
         repr({u[:8]: [n for n, p in rs] for u, rs in recs.items()}))
    T.eq(len(cw_requests(cw)) - n0, 0, "E9 %s: nothing reached the fake"
         % name)


def cw_requests(cw):
    """The fake's request log from its --log file: readable while the
    network (and so the fake's control interface) is gone."""
    try:
        with open(cw.log_path) as f:
            return [line for line in f if line.strip()]
    except FileNotFoundError:
        return []


def net(up, how):
    how(up)


def delivered(T, d, cw, uuids, name, seed):
    done = d.wait_for(lambda: all(
        invariants.View.load(d.state_dir).entries[u].state == "submitted"
        for u in uuids), timeout=40, poll=0.2)
    view = invariants.View.load(d.state_dir)
    at = invariants.server_guids(cw.entries())
    once = [u for u in uuids if at.get(u, 0) == 1]
    bad = invariants.check_server(view, cw.entries(), seed)
    T.ok(done and len(once) == len(uuids) and not bad,
         "E9 %s: network back: all %d entries SUBMITTED, each once at the "
         "fake" % (name, len(uuids)),
         repr(view.states()) + "\n".join(bad))
    T.eq(breaker(d).get("breaker"), "closed",
         "E9 %s: the breaker closed again" % name)
    return len(uuids) - len(once)


def inside():
    T = daemon.Tap()
    daemon.probe_binaries()
    ip("link", "set", "lo", "up")
    base = daemon.make_base()
    os.makedirs(os.path.join(base, "cw"))
    cw = fakeclient.FakeCW(os.path.join(base, "cw"))
    cw.start()
    seed = set(invariants.server_guids(cw.entries()))
    d = daemon.with_fake(base, "e9", cw, EXTRA)
    counts = {}
    bad_total = 0
    try:
        T.ok(d.start(), "daemon ready in its own network namespace",
             d.log_text())
        warm = queue(d, 0, 1, "warm")
        bad_total += delivered(T, d, cw, warm, "before", seed)

        # 1. lo down, mid-run
        net(False, lambda up: ip("link", "set", "lo", "up" if up
                                 else "down"))
        gone = queue(d, 1, 3, "lo")
        outage(T, d, cw, gone, "lo down", counts)
        net(True, lambda up: ip("link", "set", "lo", "up" if up
                                else "down"))
        bad_total += delivered(T, d, cw, gone, "lo down", seed)

        # 2. a true black hole: connects time out
        port = cw.api_url.split(":")[2].split("/")[0]
        p = nft("add", "table", "inet", "cwtnet")
        if p.returncode != 0 or not daemon.shutil.which("nft"):
            print("skip-probe: nft add table inet cwtnet: %s (nf_tables)" %
                  p.stderr.decode().strip())
            T.ok(True, "E9 black hole # SKIP no nf_tables here")
            counts["black hole"] = "skipped: no nf_tables"
        else:
            T.eq(d.stop(), 0, "restart before the black hole (no pooled "
                 "connection)")
            T.ok(d.start(), "daemon ready again")

            def hole(up):
                if up:
                    nft("delete", "table", "inet", "cwtnet")
                    return
                for cmd in (["add", "chain", "inet", "cwtnet", "out",
                             "{ type filter hook output priority 0 ; "
                             "policy accept ; }"],
                            ["add", "rule", "inet", "cwtnet", "out", "tcp",
                             "dport", port, "counter", "drop"]):
                    q = nft(*cmd)
                    if q.returncode != 0:
                        raise RuntimeError(q.stderr.decode())
            net(False, hole)
            t0 = time.monotonic()
            lost = queue(d, 10, 2, "hole")
            outage(T, d, cw, lost, "black hole", counts)
            counts["black hole"]["outage_s"] = round(time.monotonic() - t0,
                                                     1)
            q = nft("list", "chain", "inet", "cwtnet", "out")
            m = re.search(r"packets (\d+)", q.stdout.decode())
            dropped = int(m.group(1)) if m else 0
            counts["black hole"]["packets_dropped"] = dropped
            # 3 connects to open it, then at least one probe's SYN
            T.ok(dropped >= 4, "E9 black hole: %d packets fell in the "
                 "hole: the connects and at least one probe" % dropped)
            net(True, hole)
            bad_total += delivered(T, d, cw, lost, "black hole", seed)
        view = invariants.View.load(d.state_dir)
        dup = invariants.duplicates(cw.entries())
        bad = invariants.check_final(view)
        T.ok(dup == 0 and not bad, "E9: no duplicate at the fake, every "
             "entry final", "\n".join(bad))
        rc = d.stop()
        T.ok(rc == 0 and d.sanitizer_report() is None, "clean stop (%s)"
             % rc)
        counts.update({"duplicated_at_server": dup,
                       "not_delivered_once": bad_total})
        figures.record(["E9"], "test-rel-netns", counts, T.failed == 0)
    finally:
        nft("delete", "table", "inet", "cwtnet")
        d.stop(daemon.signal.SIGKILL, timeout=5)
        cw.stop()
        daemon.shutil.rmtree(base, ignore_errors=True)
    return T.finish()


if __name__ == "__main__":
    if INSIDE in sys.argv[1:]:
        sys.exit(inside())
    outer()
