#!/usr/bin/env python3
"""D1, D2, D5 with the real system calls: strace injects errors into
tests/lib/journal-writer, which behaves like the daemon (exit 75 on a
storage failure, 65 on a damaged journal).

- fdatasync fails (EIO) once, or from call N on: exit 75, nothing of the
  failed batch acknowledged, and the trace shows no later fsync/fdatasync
  on the failed descriptor; a restart sees every acknowledged record.
- pwritev fails with ENOSPC: that batch is refused ("fail"), the writer
  carries on and finishes; every acknowledged record is there.
- rename fails (EIO) in every compaction: the writer carries on, no
  checkpoint appears, nothing acknowledged is lost.
- openat fails (EMFILE) on the new segment at start (exit 1, nothing
  written) and in a compaction (the writer carries on).
- syncfs fails at start: exit 75 before anything is read or written.
- a damaged segment: exit 65 and the message names file and offset.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests", "lib"))
import journal_reader  # noqa: E402

BUILD = os.environ.get("top_builddir", ".")
WRITER = os.path.join(BUILD, "tests", "lib", "journal-writer")
TRACED = "trace=openat,close,pwritev,fdatasync,fsync,syncfs,ftruncate"

results = []

# LeakSanitizer cannot run under ptrace: keep the rest of the sanitizers.
TRACED_ENV = dict(os.environ)
TRACED_ENV["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "")
                              + ":detect_leaks=0").lstrip(":")


def check(ok, what):
    results.append((bool(ok), what))


def run_traced(state, inject, count, tmp, traced=TRACED, strace_args=(),
               writer_args=()):
    trace = os.path.join(tmp, "trace.%d" % len(results))
    p = subprocess.run(["strace", "-f", "-qq", "-o", trace, "-e", traced]
                       + list(strace_args)
                       + ["-e", "inject=" + inject, WRITER, "--count",
                          str(count), "--batch", "4"] + list(writer_args)
                       + [state],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=TRACED_ENV, timeout=120)
    with open(trace) as f:
        lines = f.read().splitlines()
    out = p.stdout.decode().splitlines()
    acks = [int(l.split()[1]) for l in out if l.startswith("ack ")]
    fails = [int(l.split()[1]) for l in out if l.startswith("fail ")]
    return p.returncode, acks, fails, lines, p.stderr.decode()


def synced_again(lines):
    """True when a descriptor whose fsync/fdatasync failed is synced
    again before it is closed."""
    bad = set()
    for line in lines:
        m = re.search(r"\b(fsync|fdatasync)\((\d+)\)\s+= -1", line)
        if m:
            bad.add(m.group(2))
            continue
        m = re.search(r"\b(fsync|fdatasync)\((\d+)\)", line)
        if m and m.group(2) in bad:
            return True
        m = re.search(r"\bclose\((\d+)\)", line)
        if m:
            bad.discard(m.group(1))
    return False


C4_TRACE = ("trace=openat,mkdir,mkdirat,pwritev,write,fsync,fdatasync,"
            "syncfs,rename,renameat,renameat2,unlink,unlinkat,ftruncate,"
            "fallocate")
FD = r"\d+<([^>]*)>"


def fsync_discipline(lines):
    """C4 on a trace taken with -y: returns a list of broken rules.
    - a file is fsynced after its last write before it is renamed;
    - every create, rename and unlink is followed by an fsync of its
      directory before the next acknowledgement;
    - every "ack" written to stdout comes after the fdatasync covering
      the records (no unsynced journal write at that point)."""
    unsynced = set()      # files written or truncated since their sync
    dirty_dirs = set()    # directories with unsynced entries
    broken = []
    for line in lines:
        if re.search(r"= -1 ", line):
            continue  # a failed call changed nothing
        m = re.search(r"\b(pwritev|ftruncate)\(" + FD, line)
        if m:
            unsynced.add(m.group(2))
            continue
        m = re.search(r"\b(fsync|fdatasync)\(" + FD, line)
        if m:
            unsynced.discard(m.group(2))
            dirty_dirs.discard(m.group(2))
            continue
        if re.search(r"\bsyncfs\(", line):
            unsynced.clear()
            dirty_dirs.clear()
            continue
        m = re.search(r"\bopenat\(.*O_CREAT\|O_EXCL.*= \d+<([^>]*)>", line)
        if m:
            dirty_dirs.add(os.path.dirname(m.group(1)))
            continue
        m = re.search(r"\bmkdirat\(AT_FDCWD, \"([^\"]*)\"", line)
        if m:
            dirty_dirs.add(os.path.dirname(m.group(1)))
            continue
        m = re.search(r"\bmkdirat\(" + FD + r", \"([^\"]*)\"", line)
        if m:
            dirty_dirs.add(m.group(1))
            continue
        m = re.search(r"\brenameat2?\(" + FD + r", \"([^\"]*)\", " + FD,
                      line)
        if m:
            src = os.path.join(m.group(1), m.group(2))
            if src in unsynced:
                broken.append("renamed before fsync: " + line)
            dirty_dirs.add(m.group(1))
            dirty_dirs.add(m.group(3))
            continue
        m = re.search(r"\bunlinkat\(" + FD + r", \"([^\"]*)\"", line)
        if m:
            dirty_dirs.add(m.group(1))
            unsynced.discard(os.path.join(m.group(1), m.group(2)))
            continue
        if re.search(r"\bwrite\(1<[^>]*>, \"ack ", line):
            if dirty_dirs:
                broken.append("ack with unsynced directory %s: %s"
                              % (sorted(dirty_dirs), line))
            journal = [f for f in unsynced if "/journal/" in f]
            if journal:
                broken.append("ack before fdatasync of %s: %s"
                              % (journal, line))
    return broken


def verify(state, acks, what):
    v = subprocess.run([WRITER, "--verify", state], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    check(v.returncode == 0, "%s: restart replays cleanly (exit %d %s)"
          % (what, v.returncode, v.stderr.decode().strip()))
    try:
        j = journal_reader.read_state(state)
    except journal_reader.Damage as exc:
        check(False, "%s: python reader: %s" % (what, exc))
        return
    seqs = [r["seq"] for r in j.records]
    # After a checkpoint at seq C the segments hold C+1 on; the writer's
    # checkpoint says {"last": C}.
    first = 1
    if j.checkpoint is not None:
        first = j.checkpoint[0] + 1
        check(j.checkpoint[1].get("last") == j.checkpoint[0],
              "%s: checkpoint consistent (seq %d)" % (what,
                                                       j.checkpoint[0]))
    check(seqs == list(range(first, first + len(seqs))) and
          all(r["payload"]["n"] == r["seq"] for r in j.records),
          "%s: records contiguous and intact (%d)" % (what, len(seqs)))
    check(all(s <= j.last_seq for s in acks),
          "%s: every acknowledged seq present (max ack %s, last %d)"
          % (what, max(acks) if acks else None, j.last_seq))


def main():
    if not os.access(WRITER, os.X_OK):
        print("1..0 # SKIP journal-writer not built")
        print("skip-probe: access(%s, X_OK) failed" % WRITER)
        return 0
    strace = shutil.which("strace")
    probe = None
    if strace:
        probe = subprocess.run([strace, "-o", os.devnull, "true"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if not strace or probe.returncode != 0:
        print("1..0 # SKIP strace missing or not permitted")
        print("skip-probe: strace -o /dev/null true: %s"
              % ("not found" if not strace else probe.stderr.decode().strip()))
        return 0
    tmp = tempfile.mkdtemp(prefix="cwt-faults-")
    os.chmod(tmp, 0o700)
    try:
        # D2: the second fdatasync (the second commit) fails once.
        for inject in ("fdatasync:error=EIO:when=2",
                       "fdatasync:error=EIO:when=3+"):
            state = os.path.join(tmp, "s-" + re.sub(r"\W", "_", inject))
            rc, acks, fails, lines, err = run_traced(state, inject, 40, tmp)
            check(rc == 75, "%s: exit 75 (got %d: %s)" % (inject, rc, err.strip()))
            check(fails and not set(fails) & set(acks),
                  "%s: the failed batch was not acknowledged (%d acks, "
                  "%d failed)" % (inject, len(acks), len(fails)))
            check(any("(INJECTED)" in l for l in lines),
                  "%s: the fault was injected" % inject)
            check(not synced_again(lines),
                  "%s: no fsync again on the failed descriptor" % inject)
            verify(state, acks, inject)
        # D1: a write fails with ENOSPC; the journal stays usable.
        inject = "pwritev:error=ENOSPC:when=3"
        state = os.path.join(tmp, "s-enospc")
        rc, acks, fails, lines, err = run_traced(state, inject, 40, tmp)
        check(rc == 0, "%s: the writer carries on (exit %d %s)"
              % (inject, rc, err.strip()))
        check(fails and len(acks) >= 40,
              "%s: one batch refused, the rest acknowledged (%d fails, "
              "%d acks)" % (inject, len(fails), len(acks)))
        verify(state, acks, inject)
        # C4: the order of system calls over starts and compactions.
        state = os.path.join(tmp, "s-c4")
        for run in range(3):
            trace = os.path.join(tmp, "c4.%d" % run)
            p = subprocess.run(["strace", "-f", "-qq", "-y", "-o", trace,
                                "-e", C4_TRACE, WRITER, "--count", "300",
                                "--compact", "3000", state],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=TRACED_ENV, timeout=120)
            with open(trace) as f:
                lines = f.read().splitlines()
            broken = fsync_discipline(lines)
            renames = sum(1 for l in lines if "renameat" in l)
            check(p.returncode == 0 and not broken and renames > 0,
                  "C4 run %d: fsync discipline kept over %d calls and %d "
                  "checkpoint renames%s" % (run, len(lines), renames,
                                            "".join("\n# " + b
                                                    for b in broken[:5])))
        # D1: rename fails during compaction (checkpoint.tmp ->
        # checkpoint). Compaction runs after the batch was acknowledged
        # and is only retried later (doc/journal-format.md 5): the writer
        # carries on, nothing is lost, no checkpoint appears, the
        # temporary file is removed and the old segments stay.
        inject = "/^rename:error=EIO"
        state = os.path.join(tmp, "s-rename")
        rc, acks, fails, lines, err = run_traced(
            state, inject, 300, tmp, traced=TRACED + ",/^rename",
            writer_args=("--compact", "3000"))
        injected = [l for l in lines
                    if "rename" in l and "(INJECTED)" in l]
        check(rc == 0 and not fails and len(acks) >= 300,
              "%s: compaction fails, the writer carries on (exit %d, "
              "%d acks, %d fails %s)" % (inject, rc, len(acks), len(fails),
                                         err.strip()))
        check(len(injected) >= 2,
              "%s: every compaction's rename failed (%d injected)"
              % (inject, len(injected)))
        check(not os.path.exists(os.path.join(state, "checkpoint")) and
              not os.path.exists(os.path.join(state, "checkpoint.tmp")),
              "%s: no checkpoint and no checkpoint.tmp left" % inject)
        verify(state, acks, inject)
        # openat fails with EMFILE on the new segment at start-up: the
        # start is refused (exit 1: neither damage nor a storage failure),
        # nothing is written, the next start sees every record.
        inject = "openat:error=EMFILE"
        state = os.path.join(tmp, "s-emfile-start")
        w = subprocess.run([WRITER, "--count", "20", state],
                           stdout=subprocess.PIPE, timeout=60)
        before = [int(l.split()[1]) for l in w.stdout.decode().splitlines()
                  if l.startswith("ack ")]
        rc, acks, fails, lines, err = run_traced(
            state, inject, 5, tmp, traced="trace=openat",
            strace_args=("-P", "0000000000000002.log"))
        check(w.returncode == 0 and rc == 1 and not acks and
              any("(INJECTED)" in l for l in lines),
              "%s on the new segment at start: refused with exit 1 "
              "(got %d: %s)" % (inject, rc, err.strip()))
        check(not os.path.exists(os.path.join(state, "journal",
                                              "0000000000000002.log")),
              "%s at start: no segment 2 left behind" % inject)
        verify(state, before, inject + " at start")
        # ... and on the segment a compaction starts: that compaction
        # fails, the batch before it stays acknowledged, the writer
        # carries on in the old segment.
        state = os.path.join(tmp, "s-emfile-compact")
        rc, acks, fails, lines, err = run_traced(
            state, inject, 300, tmp, traced="trace=openat",
            strace_args=("-P", "0000000000000003.log"),
            writer_args=("--compact", "3000"))
        check(rc == 0 and not fails and len(acks) >= 300 and
              any("(INJECTED)" in l for l in lines),
              "%s on a compaction's new segment: the writer carries on "
              "(exit %d, %d acks, %d fails %s)"
              % (inject, rc, len(acks), len(fails), err.strip()))
        verify(state, acks, inject + " in compaction")
        # D5: syncfs fails at start.
        inject = "syncfs:error=EIO"
        state = os.path.join(tmp, "s-syncfs")
        rc, acks, fails, lines, err = run_traced(state, inject, 5, tmp)
        check(rc == 75 and not acks,
              "%s: refuses to start with exit 75 (got %d: %s)"
              % (inject, rc, err.strip()))
        # Damage in the middle: exit 65, file and offset named.
        state = os.path.join(tmp, "s-damaged")
        subprocess.run([WRITER, "--count", "30", "--batch", "1", state],
                       stdout=subprocess.PIPE, check=True, timeout=60)
        seg = os.path.join(state, "journal", "0000000000000001.log")
        with open(seg, "r+b") as f:
            f.seek(64 + 40)
            b = f.read(1)
            f.seek(64 + 40)
            f.write(bytes([b[0] ^ 0x01]))
        p = subprocess.run([WRITER, "--verify", state], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        msg = p.stderr.decode()
        check(p.returncode == 65 and "0000000000000001.log" in msg
              and "offset 64" in msg and "expected" in msg,
              "damaged segment: exit 65 naming file and offset (got %d: %s)"
              % (p.returncode, msg.strip()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("1..%d" % len(results))
    failed = 0
    for i, (ok, what) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, what))
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
