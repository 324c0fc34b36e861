#!/usr/bin/env python3
"""reliability-table.py - writes doc/reliability.md: the checklist A1-G8 of
RELIABILITY.md section 7, each id with the tests that cover it, the make
target they run under, and the figures of their last run. Nothing in it is
typed by hand:

  - which test covers which id comes from the tests themselves: every test
    program names the ids it covers (in comments or test names), and this
    script greps tests/unit/test-*.c, tests/integration/test-*.{py,sh} and
    tests/fuzz/fuzz-*.c for them;
  - which target runs a test comes from the Makefile's own lists, passed
    in by `make reliability-doc` (TESTS, CWT_CRASH_TESTS, fuzz targets);
  - the figures come from the runs: tests/reliability/<test>.json written
    by the test (tests/lib/figures.py: date, commit, counts), or else the
    test's automake .trs/.log (result, TAP or cmocka counts, file date).
An id that no test names is listed as "not yet covered".

    reliability-table.py --srcdir S --builddir B --out FILE
        [--check "TESTS"] [--crash "TESTS"] [--fuzz "TARGETS"]
        [--valgrind "TESTS"]
        [--extra-builddir DIR]...   (e.g. the sanitizer build)
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time

CHECKLIST = [
    ("A1", "round trip"), ("A2", "every prefix"), ("A3", "bit flips"),
    ("A4", "zero and garbage tail"), ("A5", "stale bytes"),
    ("A6", "fuzzing"),
    ("B1", "kill -9 loop"), ("B2", "kill at every syscall"),
    ("B3", "crash during recovery"), ("B4", "frozen daemon"),
    ("C1", "power cut, ext4"), ("C2", "power cut, XFS"),
    ("C3", "crash-VFS enumeration"), ("C4", "fsync discipline"),
    ("C5", "compaction under crash"),
    ("D1", "error at call N"), ("D2", "fsync is not retried"),
    ("D3", "disk full"), ("D4", "random faults"),
    ("D5", "start-up sync fails"),
    ("E1", "commit, then drop"), ("E2", "kill during submission"),
    ("E3", "slow server"), ("E4", "reuse trap"), ("E5", "classification"),
    ("E6", "backoff and Retry-After"), ("E7", "circuit breaker"),
    ("E8", "rejected entries"), ("E9", "network gone"),
    ("E10", "ambiguity"), ("E11", "contract"),
    ("F1", "a timer survives a crash"), ("F2", "clock steps"),
    ("F3", "many timers"), ("F4", "idle is idle"),
    ("G1", "runtime directory"), ("G2", "foreign uid"), ("G3", "abuse"),
    ("G4", "canary"), ("G5", "file permissions"), ("G6", "TLS"),
    ("G7", "units"), ("G8", "sanitizers, valgrind"),
]
IDS = {i for i, _ in CHECKLIST}
RANGE_RE = re.compile(r"(?<![A-Za-z0-9_])([A-G])(\d{1,2})\s*(?:-|\u2013)\s*"
                      r"\1(\d{1,2})(?![0-9])")
ID_RE = re.compile(r"(?<![A-Za-z0-9_-])([A-G](?:1[01]|[1-9]))(?![A-Za-z0-9_])")


def test_files(srcdir):
    pats = ["tests/unit/test-*.c", "tests/integration/test-*.py",
            "tests/integration/test-*.sh", "tests/fuzz/fuzz-*.c"]
    for p in pats:
        for f in sorted(glob.glob(os.path.join(srcdir, p))):
            yield os.path.relpath(f, srcdir)


# Tests of the test tools themselves: they name ids whose fault modes
# they provide, but they do not test cwtimed.
NOT_DAEMON_TESTS = {"tests/integration/test-fakecw.py"}


def ids_named(path):
    """Ids the test names anywhere (opening comment, comments next to the
    cases, TAP names such as "G3: ...")."""
    with open(path, errors="replace") as f:
        text = f.read()
    found = set(m.group(1) for m in ID_RE.finditer(text))
    for m in RANGE_RE.finditer(text):  # "E3-E8" names E3 to E8
        lo, hi = int(m.group(2)), int(m.group(3))
        if lo < hi <= 11:
            found |= {"%s%d" % (m.group(1), k) for k in range(lo, hi + 1)}
    return found & IDS


def target_of(test, lists):
    name = os.path.splitext(test)[0]
    out = []
    if test in lists["check"] or name in lists["check"]:
        out.append("check")
    if test in lists["crash"] or name in lists["crash"]:
        out += ["check-crash", "check-soak"]
    if name in lists["fuzz"]:
        out += ["fuzz", "check (corpus)"]
    if test in lists["valgrind"]:
        out.append("check-valgrind")
    return out


def trs_figures(builddir, test):
    """Figures from automake's .trs/.log of the test, or None."""
    base = os.path.join(builddir, os.path.splitext(test)[0])
    trs = base + ".trs"
    if not os.path.exists(trs):
        return None
    with open(trs, errors="replace") as f:
        t = f.read()
    m = re.search(r":global-test-result: (\w+)", t)
    res = m.group(1) if m else "?"
    counts = {}
    try:
        with open(base + ".log", errors="replace") as f:
            log = f.read()
    except OSError:
        log = ""
    oks = len(re.findall(r"^ok \d+", log, re.M))
    noks = len(re.findall(r"^not ok \d+", log, re.M))
    if oks or noks:
        counts = {"tap_ok": oks, "tap_not_ok": noks}
    m = re.search(r"\[  PASSED  \] (\d+) test", log)
    if m:
        counts["cmocka_passed"] = int(m.group(1))
    m = re.search(r"\[  FAILED  \] (\d+) test", log)
    if m:
        counts["cmocka_failed"] = int(m.group(1))
    return {
        "result": res,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                              time.gmtime(os.path.getmtime(trs))),
        "commit": "-",
        "counts": counts,
        "source": "automake .trs",
    }


def json_figures(builddirs, test):
    """[figures] the test wrote itself, in this build and in the other
    builds named (the sanitizer build: its files end in .san.json)."""
    name = os.path.splitext(os.path.basename(test))[0]
    out = []
    for b in builddirs:
        for suffix in ("", ".san"):
            p = os.path.join(b, "tests", "reliability",
                             name + suffix + ".json")
            if os.path.exists(p):
                with open(p) as f:
                    d = json.load(f)
                d["source"] = "test"
                out.append(d)
    return out


def fmt_counts(c, prefix=""):
    parts = []
    for k in sorted(c):
        v = c[k]
        key = (prefix + k).replace("_", " ")
        if isinstance(v, dict):
            parts.append(fmt_counts(v, prefix + k + ": "))
            continue
        if isinstance(v, list):
            v = "/".join(str(x) for x in v)
        parts.append("%s %s" % (key, v))
    return ", ".join(p for p in parts if p)


def commit(srcdir):
    try:
        p = subprocess.run(["git", "-C", srcdir, "describe", "--always",
                            "--dirty", "--abbrev=12"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           timeout=10)
        return p.stdout.decode().strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def build(srcdir, builddir, lists, extra=()):
    cover = {i: [] for i in IDS}
    for t in test_files(srcdir):
        if t in NOT_DAEMON_TESTS:
            continue
        for i in ids_named(os.path.join(srcdir, t)):
            cover[i].append(t)
    lines = [
        "# Reliability checklist: tests and their last run",
        "",
        "Generated by `tests/reliability-table.py` (`make reliability-doc`)"
        " on %s from commit %s. Do not edit: every figure below was written"
        " by a test run, and which test covers which id comes from the"
        " tests' own opening comments. The checklist itself is"
        " RELIABILITY.md section 7." % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            commit(srcdir)),
        "",
        "Targets: `check` (every build, also the sanitizer build), "
        "`check-crash` (root; loop mounts, strace loops, bigger counts), "
        "`check-valgrind` (the unit tests under valgrind), "
        "`check-soak` (long runs), `fuzz` (libFuzzer builds). `.ci/run` "
        "runs `check`, `check` in the sanitizer build, `check-crash` and "
        "`check-valgrind`; a row per build that ran the test.",
        "",
        "| id | check | test | target | last run | result | figures |",
        "|---|---|---|---|---|---|---|",
    ]
    uncovered = 0
    for i, title in CHECKLIST:
        tests = sorted(cover[i])
        if i == "G8":
            lines.append("| G8 | %s | the whole suite in the sanitizer "
                         "build (`--enable-asan --enable-ubsan`); rows "
                         "marked *sanitizers* are its runs | check | | | |"
                         % title)
            if not tests:
                uncovered += 1
                lines.append("| G8 | %s | **not yet covered**: the unit "
                             "tests under valgrind | | | | |" % title)
                continue
        if not tests:
            uncovered += 1
            lines.append("| %s | %s | **not yet covered** | | | | |"
                         % (i, title))
            continue
        for t in tests:
            tgt = ", ".join(target_of(t, lists)) or "not registered"
            figs = json_figures([builddir] + list(extra), t)
            if not figs:
                f = trs_figures(builddir, t)
                figs = [f] if f else []
            if not figs:
                lines.append("| %s | %s | `%s` | %s | not run in this build "
                             "| | |" % (i, title, t, tgt))
                continue
            for f in figs:
                when = "%s, %s" % (f["date"], f.get("commit", "-"))
                if f.get("target") and f["source"] == "test":
                    when += " (%s%s)" % (f["target"],
                                         ", sanitizers" if f.get(
                                             "sanitizers") else "")
                lines.append("| %s | %s | `%s` | %s | %s | %s | %s |" % (
                    i, title, t, tgt, when, f.get("result", "?"),
                    fmt_counts(f.get("counts", {})) +
                    ("" if f["source"] == "test" else " (from automake)")))
    lines += ["", "%d of %d ids have no test yet." % (uncovered,
                                                       len(CHECKLIST)), ""]
    return "\n".join(lines)


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--srcdir", default=os.environ.get("top_srcdir", "."))
    ap.add_argument("--builddir", default=os.environ.get("top_builddir",
                                                         "."))
    ap.add_argument("--out", required=True)
    ap.add_argument("--check", default="")
    ap.add_argument("--crash", default="")
    ap.add_argument("--fuzz", default="")
    ap.add_argument("--valgrind", default="")
    ap.add_argument("--extra-builddir", action="append", default=[],
                    help="another build (the sanitizer build) whose "
                    "tests/reliability/*.json to include")
    a = ap.parse_args(argv[1:])
    lists = {k: set(getattr(a, k).split()) for k in ("check", "crash",
                                                      "fuzz", "valgrind")}
    text = build(a.srcdir, a.builddir, lists,
                 [d for d in a.extra_builddir if d])
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
