"""loopfs.py - a filesystem on a loop device to cut the power of, for the
power-loss tests (RELIABILITY.md 7 C1, C2, C5: test-rel-powercut.py and
test-rel-compactcut.py).

    fs = LoopFs(base, "ext4")       # or "xfs"
    skip = fs.setup()               # sparse image, losetup -f, mkfs
    if skip: ...                    # (probe, output): no loop device here
    fs.mount()                      # at fs.mnt, mode 0700
    ... run cwtimed with its state directory under fs.mnt ...
    fs.cut()                        # the power cut, see below
    fs.umount(); fs.mount()         # the filesystem replays its own log
    fs.teardown()                   # umount -l, losetup -d (always)

The cut is `xfs_io -x -c shutdown MNT`: the filesystem shutdown ioctl
(0x8004587d) without the log-flush flag, so nothing more reaches the disk;
on ext4 too (EXT4_IOC_SHUTDOWN takes the same number and flag). Writes
and fsyncs after it fail; what was not durable before it is gone after
the next mount. Needs root, losetup, the mkfs of the filesystem and
xfs_io. The image sizes are the smallest each mkfs accepts with room for
a state directory: 64 MiB for ext4, 320 MiB for XFS (mkfs.xfs refuses
anything under 300 MB); sparse, so they cost no disk.
"""

import os
import subprocess
import time

# (filesystem, image MiB, mkfs command)
FILESYSTEMS = {
    "ext4": (64, ["mkfs.ext4", "-q", "-F"]),
    "xfs": (320, ["mkfs.xfs", "-q", "-f"]),
}
PROGRAMS = ("losetup", "xfs_io", "mkfs.ext4", "mkfs.xfs")


def sh(*cmd, timeout=120):
    """(exit status, stdout and stderr as text) of a command."""
    p = subprocess.run(list(cmd), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


class LoopFs:
    def __init__(self, base, fstype):
        self.fstype = fstype
        self.size_mb, self.mkfs = FILESYSTEMS[fstype]
        self.img = os.path.join(base, fstype + ".img")
        self.mnt = os.path.join(base, fstype)
        self.dev = None
        self.mounted = False

    def setup(self):
        """Creates the image, its loop device and the filesystem. Returns
        None, or (probe, output) when this machine cannot (no free loop
        device, mkfs refused): the caller skips with that probe."""
        os.makedirs(self.mnt, exist_ok=True)
        with open(self.img, "wb") as f:
            f.truncate(self.size_mb << 20)
        # Two tests setting up at once (make -j check-crash) can race for
        # the same free device: losetup then fails with EBUSY; try again.
        for attempt in range(10):
            rc, out = sh("losetup", "-f", "--show", self.img)
            if rc == 0 or "busy" not in out.lower():
                break
            time.sleep(0.1 * (attempt + 1))  # the other test's turn
        if rc != 0:
            return ("losetup -f --show %s" % self.img, out.strip())
        self.dev = out.strip()
        rc, out = sh(*(self.mkfs + [self.dev]))
        if rc != 0:
            return ("%s %s" % (self.mkfs[0], self.dev), out.strip()[:200])
        return None

    def mount(self):
        """Mounts the device at self.mnt (mode 0700). (rc, output)."""
        rc, out = sh("mount", self.dev, self.mnt)
        if rc == 0:
            self.mounted = True
            os.chmod(self.mnt, 0o700)
        return rc, out

    def cut(self):
        """The power cut: the shutdown ioctl, no log flush. (rc, output)."""
        return sh("xfs_io", "-x", "-c", "shutdown", self.mnt)

    def umount(self):
        rc, out = sh("umount", self.mnt)
        if rc == 0:
            self.mounted = False
        return rc, out

    def teardown(self):
        """Best effort, for finally: blocks (a failed test must not leave
        a mount or a loop device behind)."""
        sh("umount", "-l", self.mnt)
        self.mounted = False
        if self.dev:
            sh("losetup", "-d", self.dev)
            self.dev = None
