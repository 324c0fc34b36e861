#!/usr/bin/env python3
"""test-rel-diskfull.py - RELIABILITY.md 2.9 and 7 D3 on the whole daemon:
the state directory on a small tmpfs (root: mount -t tmpfs -o size=...).

  1. size=256k (smaller than the 2 MiB the daemon keeps free): it starts,
     refuses `start` with disk-full, writes nothing, and does not crash.
  2. size=8m: a timer runs; a file then fills the disk to the last byte.
     `start` is refused with disk-full before any write fails (the state
     directory's bytes are unchanged by the refusal); the running timer
     survives; `stop` still commits (the segment's preallocated
     megabyte owns its blocks; `log` may commit or be refused, never half
     way); a clean stop still compacts (it may use
     `reserve`); a restart on the full disk either works or refuses
     cleanly (exit 75), never crashes; after the file is removed the next
     `start` works, and `reserve` is back.
Every acknowledged operation is checked in the journal's bytes with
tests/lib/invariants.py.
"""

import errno
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", "."), "tests",
                                "lib"))
import daemon  # noqa: E402
import figures  # noqa: E402
import invariants  # noqa: E402

T = daemon.Tap()


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o",
                        "size=%s,mode=0700" % size, "tmpfs", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stderr.decode()


def umount(path):
    subprocess.run(["umount", "-l", path], stderr=subprocess.DEVNULL)


def fill(path):
    """Writes a file until ENOSPC; returns its path."""
    f = os.path.join(path, "filler")
    fd = os.open(f, os.O_WRONLY | os.O_CREAT, 0o600)
    chunk = b"\xa5" * 65536
    try:
        while True:
            try:
                os.write(fd, chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    break
                chunk = chunk[:len(chunk) // 2]
    finally:
        os.close(fd)
    return f


def op(d, led, kind, *args, target=None, notes=None):
    o = led.begin(kind, target=target, notes=notes)
    rc, out, err = d.ctl(kind, *args)
    led.done(o, rc, out)
    return rc, out, err


def tiny(base):
    m = os.path.join(base, "tiny")
    rc, err = mount_tmpfs(m, "256k")
    if rc != 0:
        return False
    try:
        d = daemon.Daemon(base, "tiny", state_home=m)
        T.ok(d.start(), "256k: the daemon starts on a tiny disk",
             d.log_text())
        before = d.state_hash()
        rc, out, err = d.ctl("start", "54321")
        T.ok(rc != 0 and out["error"]["code"] == "disk-full" and
             d.state_hash() == before,
             "256k: start refused with disk-full, nothing written", out)
        rc = d.stop()
        T.ok(rc == 0 and d.sanitizer_report() is None,
             "256k: clean stop (%s)" % rc, d.log_text()[-1000:])
    finally:
        umount(m)
    return True


def main():
    daemon.probe_binaries()
    daemon.need_root("mount -t tmpfs")
    base = daemon.make_base()
    m = os.path.join(base, "mnt")
    rc, err = mount_tmpfs(m, "8m")
    if rc != 0:
        daemon.skip_all("mount -t tmpfs -o size=8m", err.strip() or rc,
                        "cannot mount tmpfs here")
    d = daemon.Daemon(base, "d3", state_home=m)
    led = invariants.Ledger()
    figs = {}
    try:
        T.ok(d.start(), "8m: daemon ready", d.log_text())
        rc, out, err = op(d, led, "start", "54321", "--ago", "30m",
                          target="54321")
        T.ok(rc == 0, "a timer runs before the disk fills", err)
        filler = fill(m)
        st = os.statvfs(m)
        figs["free_bytes_when_full"] = st.f_bavail * st.f_frsize
        T.ok(st.f_bavail == 0, "the disk is full (%d blocks free)"
             % st.f_bavail)
        before = d.state_hash()
        rc, out, err = op(d, led, "start", "54322", target="54322")
        T.ok(rc != 0 and isinstance(out, dict) and
             out["error"]["code"] == "disk-full",
             "D3: start refused with disk-full", out)
        T.ok(d.state_hash() == before, "D3: ... before anything was "
             "written (the state directory is unchanged)")
        rc, out, err = op(d, led, "stop", "54321", "--notes", "d3-stop",
                          target="54321", notes="d3-stop")
        T.ok(rc == 0, "D3: stop still commits on the full disk", err)
        # A hand-made entry is new data like a start; 2.9 names only start,
        # so either answer is allowed, but a refusal must write nothing.
        before = d.state_hash()
        rc, out, err = op(d, led, "log", "54323", "15m", "--at",
                          "2026-02-23T09:00:00Z", "--notes", "d3-log",
                          notes="d3-log")
        T.ok(rc == 0 or (out["error"]["code"] == "disk-full" and
                         d.state_hash() == before),
             "D3: log on the full disk commits, or is refused with "
             "disk-full writing nothing (%s)" % ("committed" if rc == 0
                                                 else "refused"), err)
        figs["log_when_full"] = "committed" if rc == 0 else "refused"
        rc, out, err = op(d, led, "start", "54324", "--ago", "5m",
                          target="54324")
        rc = d.stop()
        log = d.log_text()
        T.ok(rc == 0 and d.sanitizer_report() is None,
             "D3: clean stop with compaction on the full disk (%s)" % rc,
             log[-1500:])
        view = invariants.View.load(d.state_dir)
        bad = invariants.check_operations(view, led)
        T.ok(not bad, "D3: every acknowledged operation is in the journal "
             "(%d acknowledged, %d refused)" % (led.count("acked"),
                                                 led.count("refused")),
             "\n".join(bad))
        ready = d.start()
        if ready:
            T.ok(True, "D3: restart on the full disk works")
        else:
            rc = d.wait_exit(10)
            T.ok(rc == 75 and d.sanitizer_report() is None,
                 "D3: restart on the full disk refuses cleanly (exit %s)"
                 % rc, d.log_text()[-1500:])
        figs["restart_when_full"] = "ready" if ready else "refused"
        os.unlink(filler)
        if not ready:
            T.ok(d.start(), "D3: it starts once space is back",
                 d.log_text())
        rc, out, err = op(d, led, "start", "54322", target="54322")
        T.ok(rc == 0, "D3: once space is back, start works again", err)
        T.ok(os.path.exists(os.path.join(d.state_dir, "reserve")),
             "D3: reserve exists again", os.listdir(d.state_dir))
        view = invariants.View.load(d.state_dir)
        bad = invariants.check_operations(view, led)
        bad += invariants.agrees_with_status(view, d.ctl("status")[1])
        T.ok(not bad, "D3: the journal and the daemon agree with every "
             "acknowledgement", "\n".join(bad))
        rc = d.stop()
        T.ok(rc == 0, "clean stop (%s)" % rc)
        tiny(base)
        figs.update({"acknowledged": led.count("acked"),
                     "refused_disk_full": led.count("refused")})
        figures.record(["D3"], "test-rel-diskfull", figs, T.failed == 0)
    finally:
        daemon.cleanup(base, [d], remove=False)
        umount(m)
        daemon.shutil.rmtree(base, ignore_errors=True)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
