"""submitlib.py - shared set-up of test-submit.py and test-submit-kill.py:
the fake ConnectWise (tests/fakecw/client.py), a real cwtimed configured
for it ([api] url = the fake's loopback URL, credentials file 0600, short
timeouts), entries made with `cwtimectl log`, and helpers over the fake's
request log and the journal (tests/lib/journal_reader.py).
"""

import os
import sys
import time

SRCDIR = os.environ.get("top_srcdir", ".")
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "fakecw"))

import timerlib  # noqa: E402
import client as fakeclient  # noqa: E402

REC = timerlib.REC
REC_NAME = {v: k for k, v in REC.items()}

# Whole seconds everywhere: the settle delay is 2 x total_timeout.
TOTAL_TIMEOUT = 2
SETTLE = 2 * TOTAL_TIMEOUT

# A fixed working day in the past, so rounding and midnights never depend
# on when the test runs.
DAY0 = 1771837200  # 2026-02-23T09:00:00Z (a Monday)

ENVS = []  # every Env made, for the clean-up (SIGKILL of leftovers)


def config_text(cw, extra="", total_timeout=TOTAL_TIMEOUT):
    return (
        "[api]\n"
        "url = %s\n"
        "company = %s\n"
        "member = jdoe\n"
        "max_rate = 100000\n"
        "max_in_flight = 4\n"
        "connect_timeout = 1s\n"
        "total_timeout = %ds\n"
        "low_speed_time = 2s\n"
        "%s" % (cw.api_url, cw.company, total_timeout, extra))


class Submit:
    """A fake and an Env (XDG dirs + cwtimed) wired to it."""

    def __init__(self, base, name, cw, extra_config="", keys=None,
                 total_timeout=TOTAL_TIMEOUT):
        self.cw = cw
        self.env = timerlib.Env(base, name, config_text(
            cw, extra_config, total_timeout))
        ENVS.append(self.env)
        self.write_credentials(keys)

    def write_credentials(self, keys=None):
        pub, priv, cid = keys or (self.cw.public_key, self.cw.private_key,
                                  self.cw.client_id)
        path = os.path.join(self.env.confdir, "cwtimed", "credentials")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("[api]\npublic_key = %s\nprivate_key = %s\n"
                    "client_id = %s\n" % (pub, priv, cid))
        os.chmod(path, 0o600)

    def start(self):
        return self.env.start()

    def stop(self, sig=None):
        if sig is None:
            return self.env.stop()
        return self.env.stop(sig)

    def log_entry(self, i, minutes=30, ticket=54321, notes=None):
        """Queues one entry for ticket, starting DAY0 + i minutes... each
        entry gets its own timeStart (i is a slot number)."""
        at = DAY0 + i * 3600
        args = ["log", str(ticket), "%dm" % minutes, "--at",
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))]
        if notes is not None:
            args += ["--notes", notes]
        return self.env.ctl(*args)

    def raw_log(self, i, minutes=30, ticket="54321", notes=None):
        """Queues one entry over the socket (no cwtimectl start-up cost)."""
        args = {"target": ticket, "duration_s": minutes * 60,
                "at": DAY0 + i * 3600}
        if notes is not None:
            args["notes"] = notes
        return self.env.raw("log", args)

    def journal(self):
        # The daemon is live: read the journal between its writes
        # (a read overlapping a pwritev can see a batch half copied).
        return timerlib.journal_reader.read_state_live(self.env.state_dir)

    def outbox_records(self):
        """[(name, payload)] of the records after the checkpoint."""
        return [(REC_NAME.get(r["type"]), r["payload"])
                for r in self.journal().records]

    def checkpoint_entries(self):
        j = self.journal()
        if not j.checkpoint:
            return []
        return j.checkpoint[1].get("outbox", {}).get("entries", [])

    def bodies(self):
        """{uuid: POST body} from the checkpoint and the records."""
        out = {e["uuid"]: e["body"] for e in self.checkpoint_entries()}
        for name, p in self.outbox_records():
            ents = []
            if name == "TIMER_STOPPED":
                for t in p.get("timers", []):
                    ents += t.get("entries", [])
            elif name == "ENTRY_QUEUED":
                ents = p.get("entries", [])
            for e in ents:
                out[e["uuid"]] = e["body"]
        return out

    def states(self):
        """{uuid: state} as replay sees it: the checkpoint's state, then
        the name of the last outbox record."""
        st = {e["uuid"]: e["state"] for e in self.checkpoint_entries()}
        for name, p in self.outbox_records():
            if name in ("TIMER_STOPPED", "ENTRY_QUEUED"):
                for u in self.bodies_of(name, p):
                    st[u] = "pending"
            elif isinstance(p, dict) and "uuid" in p:
                st[p["uuid"]] = {
                    "ATTEMPT_STARTED": "attempt-started",
                    "ATTEMPT_FAILED": "pending",
                    "OUTCOME_UNKNOWN": "unknown",
                    "RECONCILED": ("pending" if p.get("absent")
                                   else "unknown"),
                    "SUBMITTED": "submitted",
                    "REJECTED": "rejected",
                    "DISCARDED": "discarded",
                    "REQUEUED": "requeued",
                    "ENTRY_EDITED": st.get(p["uuid"]),
                }.get(name, st.get(p["uuid"]))
        return st

    @staticmethod
    def bodies_of(name, p):
        if name == "TIMER_STOPPED":
            return [e["uuid"] for t in p.get("timers", [])
                    for e in t.get("entries", [])]
        return [e["uuid"] for e in p.get("entries", [])]

    def records_of(self, uuid):
        """[(name, payload)] of one entry's outbox records."""
        return [(n, p) for n, p in self.outbox_records()
                if isinstance(p, dict) and p.get("uuid") == uuid]


def posts(reqs):
    return [r for r in reqs if r["method"] == "POST" and
            r.get("relpath") == "/time/entries"]


def guids_at_server(cw):
    """{mobileGuid or marker uuid: count} over the fake's stored entries."""
    import re
    counts = {}
    ents = cw.entries()
    if isinstance(ents, dict):
        ents = list(ents.values())
    for e in ents:
        g = e.get("mobileGuid")
        if not g:
            m = re.search(r"\[cwtimed:([0-9a-f-]{36})\]",
                          e.get("internalNotes") or "")
            g = m.group(1) if m else None
        if g:
            counts[g] = counts.get(g, 0) + 1
    return counts
