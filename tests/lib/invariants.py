"""invariants.py - the invariant checker shared by the crash, power-loss,
fault and delivery tests (RELIABILITY.md 7, the list before group A):

  1. every operation that was acknowledged is present after recovery;
  2. nothing that was not acknowledged is half applied;
  3. no entry UUID appears twice at the fake server;
  4. every entry ends SUBMITTED, REJECTED or DISCARDED;
  5. recovery never crashes.

The state is rebuilt from the journal's bytes by tests/lib/journal_reader.py
(written from doc/journal-format.md, not from the C code), never from what
the daemon says about itself; the daemon's own view (`status`) is checked
against it separately (agrees_with_status).

Use:
    led = Ledger()
    op = led.begin("start", target="54321")     # before sending
    led.done(op, rc, reply)                      # after cwtimectl returned
    ... SIGKILL, restart ...
    view = View.load(state_dir)   # read between the daemon's writes
    bad = check_operations(view, led)            # rules 1 and 2
    bad += check_server(view, fake_entries)      # rule 3 (+ journal vs fake)
    bad += check_final(view)                     # rule 4, once all is sent
    bad += check_recovery(daemon)                # rule 5
Each check returns a list of violations (strings); [] means it holds.
Operations that change entries carry a unique `notes` text: that is how an
entry is matched to the operation that made it.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import journal_reader  # noqa: E402

# Record type numbers, from src/core/records.h (never renumbered).
TIMER_STARTED, TIMER_CANCELLED, TIMER_STOPPED = 1, 6, 7
ENTRY_QUEUED, ENTRY_EDITED, ATTEMPT_STARTED, ATTEMPT_FAILED = 8, 9, 10, 11
OUTCOME_UNKNOWN, RECONCILED, SUBMITTED, REJECTED = 12, 13, 14, 15
REQUEUED, DISCARDED = 16, 17

FINAL = ("submitted", "rejected", "discarded")
UUID_RE = re.compile(r"\[cwtimed:([0-9a-f-]{36})\]")


def canon(target):
    """The daemon's key of a target: "54321" is "ticket:54321"."""
    t = str(target)
    return "ticket:" + t if t.isdigit() else t


class Entry:
    def __init__(self, uuid, body, state="pending"):
        self.uuid = uuid
        self.body = body or {}
        self.state = state
        self.remote_id = None
        self.seq_created = None

    @property
    def notes(self):
        return self.body.get("notes")

    def __repr__(self):
        return "<Entry %s %s %r>" % (self.uuid, self.state, self.notes)


class View:
    """The live state as the journal's bytes say: running timers and the
    outbox entries with their state."""

    def __init__(self):
        self.timers = set()          # canonical target keys
        self.entries = {}            # uuid -> Entry
        self.created = []            # uuids in creation order, repeats kept
        self.last_seq = 0

    @classmethod
    def load(cls, state_dir, live=True):
        """Raises journal_reader.Damage when the journal is damaged. The
        daemon may be running: the journal is read between its writes
        (journal_reader.read_state_live); live=False reads it once, for a
        daemon known to be stopped."""
        if live:
            j = journal_reader.read_state_live(state_dir)
        else:
            j = journal_reader.read_state(state_dir)
        v = cls()
        if j.checkpoint:
            snap = j.checkpoint[1]
            for t in snap.get("tracker", {}).get("timers", []):
                v.timers.add(t["target"])
            for e in snap.get("outbox", {}).get("entries", []):
                x = Entry(e["uuid"], e.get("body"), e.get("state", "pending"))
                x.remote_id = e.get("remote_id")
                v.add(x)
        for r in j.records:
            v.apply(r["type"], r["payload"], r["seq"])
        v.last_seq = j.last_seq
        return v

    def add(self, e):
        self.created.append(e.uuid)
        self.entries[e.uuid] = e

    def apply(self, rtype, p, seq):
        if rtype == TIMER_STARTED:
            self.timers.add(p["target"])
        elif rtype in (TIMER_STOPPED, TIMER_CANCELLED):
            for t in p.get("timers", [p]):
                self.timers.discard(t.get("target"))
                for e in t.get("entries", []):
                    self.add(Entry(e["uuid"], e.get("body")))
        elif rtype == ENTRY_QUEUED:
            for e in p.get("entries", []):
                self.add(Entry(e["uuid"], e.get("body")))
        elif "uuid" in p and p["uuid"] in self.entries:
            e = self.entries[p["uuid"]]
            if rtype == ENTRY_EDITED and isinstance(p.get("body"), dict):
                e.body = p["body"]
            elif rtype == ATTEMPT_STARTED:
                e.state = "attempt-started"
            elif rtype == ATTEMPT_FAILED:
                e.state = "pending"
            elif rtype == OUTCOME_UNKNOWN:
                e.state = "unknown"
            elif rtype == RECONCILED:
                if "found" in p:
                    e.remote_id = p["found"]
                else:
                    e.state = "pending"
            elif rtype == SUBMITTED:
                e.state = "submitted"
                e.remote_id = p.get("id")
            elif rtype == REJECTED:
                e.state = "rejected"
            elif rtype == REQUEUED:
                e.state = "pending"
            elif rtype == DISCARDED:
                e.state = "discarded"

    def by_notes(self):
        out = {}
        for u in self.created:
            n = self.entries[u].notes
            out.setdefault(n, []).append(u)
        return out

    def states(self):
        out = {}
        for e in self.entries.values():
            out[e.state] = out.get(e.state, 0) + 1
        return out


class Ledger:
    """What a test sent and what came back. An operation is `acked` (ok
    reply), `refused` (an error reply: nothing may be applied) or `sent`
    (no reply: the daemon died, either outcome is allowed but never half
    of it)."""

    def __init__(self, foreign_ok=False):
        self.ops = []
        self.foreign_ok = foreign_ok  # entries made outside the ledger

    def begin(self, kind, target=None, notes=None):
        op = {"kind": kind, "target": canon(target) if target else None,
              "notes": notes, "status": "sent", "n": len(self.ops)}
        self.ops.append(op)
        return op

    def done(self, op, rc, reply=None):
        """rc: cwtimectl's exit status (0: acknowledged). A reply that says
        the outcome is unknown (storage-failed, no reply) stays `sent`."""
        code = None
        if isinstance(reply, dict) and "error" in reply:
            code = reply["error"].get("code")
        if rc == 0:
            op["status"] = "acked"
        elif code in (None, "storage-failed", "timeout",
                      "daemon-unreachable"):
            op["status"] = "sent"
        else:
            op["status"] = "refused"
            op["code"] = code
        return op

    def count(self, status):
        return sum(1 for o in self.ops if o["status"] == status)

    def resolve(self, view):
        """After a check passed: the operations left `sent` by a kill take
        the outcome the recovered state shows (`applied` or `lost`), so
        that every later recovery must agree with this one. An entry op is
        applied when its entry exists; a start or cancel only when it was
        the last operation on its timer (otherwise later ones decide)."""
        notes = view.by_notes()
        last = {}
        for op in self.ops:
            if op["target"] and op["status"] != "refused":
                last[op["target"]] = op
        for op in self.ops:
            if op["status"] != "sent":
                continue
            if op["kind"] in ("stop", "log") and op["notes"] is not None:
                made = bool(notes.get(op["notes"]))
            elif op["kind"] in ("start", "cancel") and \
                    last.get(op["target"]) is op:
                made = (op["target"] in view.timers) == (op["kind"] ==
                                                         "start")
            else:
                continue
            op["status"] = "acked" if made else "refused"
            op["resolved"] = "applied" if made else "not applied"

    def acknowledged(self):
        """Operations the daemon acknowledged (not resolved after a kill)."""
        return sum(1 for o in self.ops
                   if o["status"] == "acked" and "resolved" not in o)


def _expected_timers(ledger):
    """{target: set of allowed running states (True/False)} after the
    ledger's operations, in order; an unacknowledged one allows both."""
    allowed = {}
    for op in ledger.ops:
        t = op["target"]
        if op["kind"] not in ("start", "stop", "cancel") or not t:
            continue
        if op["status"] == "refused":
            continue
        now = op["kind"] == "start"
        prev = allowed.get(t, {False})
        allowed[t] = {now} if op["status"] == "acked" else prev | {now}
    return allowed


def check_operations(view, ledger):
    """Rules 1 and 2 over one recovered state. Returns violations."""
    bad = []
    notes = view.by_notes()
    for op in ledger.ops:
        if op["kind"] not in ("stop", "log") or op["notes"] is None:
            continue
        n = len(notes.get(op["notes"], []))
        if op["status"] == "acked" and n != 1:
            bad.append("%s %r acknowledged: %d entries (lost)" % (
                op["kind"], op["notes"], n) if n == 0 else
                "%s %r acknowledged: %d entries (doubled)" % (
                    op["kind"], op["notes"], n))
        elif op["status"] == "refused" and n != 0:
            bad.append("%s %r refused (%s) yet %d entries" % (
                op["kind"], op["notes"], op.get("code"), n))
        elif op["status"] == "sent" and n > 1:
            bad.append("%s %r in flight: %d entries (doubled)" % (
                op["kind"], op["notes"], n))
    known = {op["notes"] for op in ledger.ops if op["notes"] is not None}
    for n, uuids in notes.items():
        if n not in known and n is not None and not ledger.foreign_ok:
            bad.append("entry %r (%s) made by no operation" % (n, uuids[0]))
    for t, allowed in _expected_timers(ledger).items():
        running = t in view.timers
        if running not in allowed:
            bad.append("timer %s %s, expected %s" % (
                t, "running" if running else "gone",
                "running" if True in allowed else "gone"))
    # half applied: a stop whose entry exists must have ended the timer
    # it belongs to, unless a later start began it again
    for op in ledger.ops:
        if op["kind"] != "stop" or op["status"] != "sent":
            continue
        made = len(notes.get(op["notes"], [])) == 1
        later = [o for o in ledger.ops[op["n"] + 1:]
                 if o["target"] == op["target"] and o["status"] != "refused"]
        if later:
            continue
        if made and op["target"] in view.timers:
            bad.append("stop %s in flight: its entry exists but the timer "
                       "still runs (half applied)" % op["target"])
        if not made and op["target"] not in view.timers:
            prev = [o for o in ledger.ops[:op["n"]]
                    if o["target"] == op["target"]]
            if prev and prev[-1]["kind"] == "start" and \
                    prev[-1]["status"] == "acked":
                bad.append("stop %s in flight: timer gone but no entry "
                           "(half applied)" % op["target"])
    if len(view.created) != len(set(view.created)):
        bad.append("an entry UUID was created twice in the journal")
    return bad


def server_guids(fake_entries):
    """{uuid: count} over the fake's stored entries: mobileGuid, or the
    [cwtimed:<uuid>] marker in internalNotes (guid=drop tenants)."""
    if isinstance(fake_entries, dict):
        fake_entries = list(fake_entries.values())
    counts = {}
    for e in fake_entries:
        g = e.get("mobileGuid")
        if not g:
            m = UUID_RE.search(e.get("internalNotes") or "")
            g = m.group(1) if m else None
        if g:
            counts[g] = counts.get(g, 0) + 1
    return counts


def check_server(view, fake_entries, seed_guids=()):
    """Rule 3, plus: an entry the journal calls SUBMITTED is at the fake
    under its remote id, and the fake holds no entry of ours the journal
    does not know."""
    bad = []
    if isinstance(fake_entries, dict):
        fake_entries = list(fake_entries.values())
    counts = server_guids(fake_entries)
    by_id = {e.get("id"): e for e in fake_entries}
    for g, n in counts.items():
        if n > 1:
            bad.append("uuid %s is %d times at the server (duplicate)"
                       % (g, n))
        if g not in view.entries and g not in seed_guids:
            bad.append("uuid %s is at the server but not in the journal" % g)
    for e in view.entries.values():
        if e.state == "submitted":
            s = by_id.get(e.remote_id)
            if s is None or (s.get("mobileGuid") or e.uuid) != e.uuid:
                bad.append("entry %s SUBMITTED as %s, which the server "
                           "does not hold" % (e.uuid, e.remote_id))
    return bad


def duplicates(fake_entries):
    return sum(n - 1 for n in server_guids(fake_entries).values() if n > 1)


def check_final(view, allowed=FINAL):
    """Rule 4: nothing is left half way once the queue has drained."""
    return ["entry %s (%r) ends %s" % (e.uuid, e.notes, e.state)
            for e in view.entries.values() if e.state not in allowed]


def check_recovery(d, ready):
    """Rule 5: the restart became ready, did not die of a signal, and no
    sanitizer spoke. d: a tests/lib/daemon.py Daemon just started."""
    bad = []
    if not ready:
        rc = d.proc.poll() if d.proc else None
        bad.append("recovery did not become ready (exit %s): %s" % (
            rc, d.log_text()[-500:]))
    rep = d.sanitizer_report()
    if rep:
        bad.append("sanitizer: " + rep)
    return bad


def agrees_with_status(view, status):
    """The daemon's `status` result against the journal: the same running
    timers and the same number of pending/unknown/rejected entries."""
    bad = []
    timers = {t["target"] for t in status.get("timers", [])}
    if timers != view.timers:
        bad.append("status timers %s, journal %s" % (sorted(timers),
                                                     sorted(view.timers)))
    q = status.get("queue", {})
    st = view.states()
    want = st.get("pending", 0)
    if q.get("pending") is not None and q["pending"] < want:
        bad.append("status pending %s, journal at least %d" % (
            q["pending"], want))
    if q.get("rejected") is not None and q["rejected"] != st.get(
            "rejected", 0):
        bad.append("status rejected %s, journal %d" % (
            q["rejected"], st.get("rejected", 0)))
    return bad
