"""figures.py - a test run writes its own figures for doc/reliability.md.

Each reliability test calls record(ids, test, target, counts, ok) once at
its end. That writes $top_builddir/tests/reliability/<test>.json with the
date, the commit, the make target it ran under (CWT_TARGET, set by
check-crash and check-soak; `check` otherwise), the ids of RELIABILITY.md
section 7 it covers and its counts. tests/reliability-table.py turns
those files into doc/reliability.md: no figure is ever typed by hand.
"""

import json
import os
import subprocess
import time

SRCDIR = os.environ.get("top_srcdir", ".")
BUILDDIR = os.environ.get("top_builddir", ".")


def commit():
    """The source commit (with -dirty for local changes), or "unknown"
    outside a git checkout (a release tarball)."""
    try:
        p = subprocess.run(["git", "-C", SRCDIR, "describe", "--always",
                            "--dirty", "--abbrev=12"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           timeout=10)
        text = p.stdout.decode().strip()
        return text if p.returncode == 0 and text else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def record(ids, test, counts, ok, notes=""):
    """ids: e.g. ["B1", "F1"]; test: the script name; counts: a dict of
    figures (rounds, acknowledged, lost, duplicated, ...); ok: passed."""
    out = os.path.join(BUILDDIR, "tests", "reliability")
    os.makedirs(out, exist_ok=True)
    data = {
        "ids": list(ids),
        "test": test,
        "target": os.environ.get("CWT_TARGET", "check"),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit(),
        "sanitizers": os.environ.get("ASAN_OPTIONS") is not None and
        _asan_build(),
        "counts": counts,
        "result": "pass" if ok else "FAIL",
        "notes": notes,
    }
    name = test.replace("/", "_")
    if data["sanitizers"]:
        name += ".san"
    tmp = os.path.join(out, name + ".json.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.rename(tmp, os.path.join(out, name + ".json"))


def _asan_build():
    cwtimed = os.environ.get("CWTIMED", "")
    try:
        with open(cwtimed, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False
