#!/usr/bin/env python3
"""B1 for the journal: kill -9 journal-writer at a random moment, restart,
and check that every acknowledged record is there exactly once.

Each round starts tests/lib/journal-writer on the same state directory
(tmpfs when available: page-cache semantics suffice for process death),
lets it commit batches for a random 0-200 ms, sends SIGKILL, and then
checks with both the C replay (journal-writer --verify) and the
independent Python reader: seqs contiguous, payload n == seq, every seq
acknowledged so far present, none doubled. Rounds: $CWT_ROUNDS (30).
"""

import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "lib"))
import journal_reader  # noqa: E402

BUILD = os.environ.get("top_builddir", ".")
WRITER = os.path.join(BUILD, "tests", "lib", "journal-writer")


def read_lines(proc, buf, deadline, until=None):
    """Reads what the writer printed until deadline (or until a line
    starts with `until`); returns (lines, buf)."""
    lines = []
    fd = proc.stdout.fileno()
    seen = False
    while not seen:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            lines.append(line.decode())
            if until and lines[-1].startswith(until):
                seen = True
    return lines, buf


def main():
    rounds = int(os.environ.get("CWT_ROUNDS", "30"))
    seed = int(os.environ.get("CWT_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    if not os.access(WRITER, os.X_OK):
        print("1..0 # SKIP journal-writer not built")
        print("skip-probe: access(%s, X_OK) failed" % WRITER)
        return 0
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    tmp = tempfile.mkdtemp(prefix="cwt-kill-", dir=base)
    os.chmod(tmp, 0o700)
    state = os.path.join(tmp, "state")
    print("1..%d" % (rounds + 1))
    print("# seed %d (CWT_SEED repeats it), state in %s" % (seed, state))
    acked = set()
    failures = 0
    try:
        for n in range(1, rounds + 1):
            compact = str(rng.choice([2000, 20000, 200000]))
            args = [WRITER, "--batch", str(rng.randint(1, 32))]
            if compact != "0":
                args += ["--compact", compact]
            proc = subprocess.Popen(args + [state], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            lines, buf = read_lines(proc, b"", time.monotonic() + 10,
                                    until="ready ")
            started = any(l.startswith("ready ") for l in lines)
            # The kill lands anywhere: during start-up, replay, commits.
            more, buf = read_lines(proc, buf,
                                   time.monotonic() + rng.uniform(0, 0.2))
            lines += more
            proc.send_signal(signal.SIGKILL)
            rest, _ = proc.communicate()
            for line in (buf + rest).decode().splitlines():
                lines.append(line)
            new = [int(l.split()[1]) for l in lines if l.startswith("ack ")]
            dup = acked.intersection(new)
            acked.update(new)
            problems = []
            if not started:
                problems.append("writer never became ready")
            if dup:
                problems.append("seq acknowledged twice: %s" % sorted(dup)[:5])
            ver = subprocess.run([WRITER, "--verify", state],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, timeout=60)
            last = None
            if ver.returncode != 0:
                problems.append("verify exit %d: %s"
                                % (ver.returncode, ver.stderr.decode()))
            else:
                last = int(ver.stdout.decode().split()[1])
            try:
                j = journal_reader.read_state(state)
            except journal_reader.Damage as exc:
                problems.append("python reader: %s" % exc)
                j = None
            if j is not None:
                ck = j.checkpoint[0] if j.checkpoint else 0
                if j.checkpoint and j.checkpoint[1].get("last") != ck:
                    problems.append("checkpoint payload %r" % (j.checkpoint,))
                seqs = [r["seq"] for r in j.records]
                if seqs != list(range(ck + 1, ck + 1 + len(seqs))):
                    problems.append("seqs not contiguous after %d" % ck)
                if any(r["payload"].get("n") != r["seq"] for r in j.records):
                    problems.append("a payload does not match its seq")
                if last is not None and j.last_seq != last:
                    problems.append("C says last %d, Python %d"
                                    % (last, j.last_seq))
                missing = [s for s in acked if s > j.last_seq]
                if missing:
                    problems.append("acknowledged but missing: %s"
                                    % sorted(missing)[:5])
            if problems:
                failures += 1
                print("not ok %d - round %d: %s" % (n, n, "; ".join(problems)))
            else:
                print("ok %d - round %d: %d new acks, last seq %s"
                      % (n, n, len(new), last))
        # A final clean run must start and see everything.
        fin = subprocess.run([WRITER, "--count", "1", state],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=60)
        ok = fin.returncode == 0 and b"ack " in fin.stdout
        print("%s %d - clean restart after %d kills (%d acks in total)"
              % ("ok" if ok else "not ok", rounds + 1, rounds, len(acked)))
        if not ok:
            failures += 1
    finally:
        if failures == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("# state kept in %s" % state)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
