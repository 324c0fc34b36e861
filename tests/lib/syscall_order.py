#!/usr/bin/env python3
"""syscall_order.py - the C4 checker (RELIABILITY.md 2.4, 2.5, 7 C4): the
order of system calls in an `strace -f -tt -yy -s 200 -e trace=...` log of
cwtimed proves the fsync discipline that power-cut tests on ext4 and XFS
cannot see (they happen to persist directory entries along with a file's
own fsync).

Rules, for files and directories at or below STATE (the daemon's state
directory; the creation of STATE itself counts too):
  R1 rename-unsynced   a file is renamed only after an fsync/fdatasync that
                       followed its last write (and its creation);
  R2 dir-unsynced      a create (open with O_CREAT, mkdir), rename or unlink
                       in a directory is followed by an fsync of that
                       directory before the next acknowledgement;
  R4 send-unsynced     nothing goes to the network (a write or send on a
                       TCP socket, -yy: "TCP:[...]") while a write to the
                       state directory is unsynced: ATTEMPT_STARTED is
                       durable before the request leaves (4.1, rule 1);
  R3 ack-unsynced      an acknowledgement (a reply carrying "ok":true,
                       written to an accepted client socket) comes after
                       the fdatasync/fsync covering every write to the
                       state directory that preceded it.
A reply is recognised by its fd (-yy: "UNIX-STREAM:[a->b,...]" from
accept4) and "ok":true in its first bytes (-s 200 shows them). Because the
daemon commits in its loop thread, no journal byte may be unsynced at any
acknowledgement; were commits moved to a thread, R3 would need request ids.
Exempt: `lock` (an flock with a pid for people to read; nothing depends
on its durability).

    syscall_order.py STATE TRACE    prints violations, exit 1 if any
    syscall_order.py --self-test    synthetic traces, each breaking a rule
As a module: check(lines, state) -> [Violation]; TRACE_SET is the -e list.
"""

import os
import re
import sys

TRACE_SET = ("trace=openat,open,creat,mkdir,mkdirat,write,writev,pwrite64,"
             "pwritev,pwritev2,fsync,fdatasync,rename,renameat,renameat2,"
             "unlink,unlinkat,ftruncate,fallocate,sendmsg,sendto,accept4,"
             "accept,close")
EXEMPT = {"lock"}
WRITES = {"write", "writev", "pwrite64", "pwritev", "pwritev2", "ftruncate",
          "sendmsg", "sendto"}
HEAD = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(?:\d+:\d+:\d+\.\d+\s+)?(.*)$")
CALL = re.compile(r"^(\w+)\((.*)\)\s+=\s+(-?\d+)(.*)$")
FD = re.compile(r"^(-?\d+|AT_FDCWD)(?:<(.*?)>)?(?=,|$)")
STR = re.compile(r'"((?:[^"\\]|\\.)*)"')


class Violation:
    def __init__(self, rule, lineno, text, detail):
        self.rule, self.lineno, self.text, self.detail = (rule, lineno, text,
                                                          detail)

    def __str__(self):
        return "%s at line %d: %s [%s]" % (self.rule, self.lineno,
                                           self.detail, self.text[:160])

    __repr__ = __str__


def join_unfinished(lines):
    """Yields (lineno, pid, call text) with `<unfinished ...>` and
    `<... resumed>` pieces joined, in the order the calls completed."""
    pending = {}
    for n, raw in enumerate(lines, 1):
        m = HEAD.match(raw.rstrip("\n"))
        if not m:
            continue
        pid, rest = m.group(1), m.group(2)
        if rest.startswith("---") or rest.startswith("+++"):
            continue
        if rest.endswith("<unfinished ...>"):
            pending[pid] = (n, rest[:-len("<unfinished ...>")].rstrip())
            continue
        r = re.match(r"^<\.\.\. (\w+) resumed>(.*)$", rest)
        if r:
            start = pending.pop(pid, None)
            if start is None:
                continue
            rest = start[1] + r.group(2)
        yield n, pid, rest


def split_args(args):
    """Splits at top-level commas (not inside quotes, <>, [], {}, ())."""
    out, depth, cur, q, esc = [], 0, [], False, False
    for ch in args:
        if q:
            cur.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                q = False
            continue
        if ch == '"':
            q = True
        elif ch in "<[{(":
            depth += 1
        elif ch in ">]})":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if cur:
        out.append("".join(cur).strip())
    return out


def fd_path(arg):
    """'12</a/b>' -> '/a/b'; None when there is no annotation."""
    m = FD.match(arg)
    return m.group(2) if m else None


def string_arg(arg):
    m = STR.match(arg)
    return m.group(1) if m else None


def resolve(dirarg, name):
    if name is None:
        return None
    if name.startswith("/"):
        return os.path.normpath(name)
    base = fd_path(dirarg) if dirarg else None
    if base is None:
        return None
    return os.path.normpath(os.path.join(base, name))


def ret_path(tail):
    """The annotation after '= 12</path>' in the text after the result."""
    m = re.match(r"^<(.*?)>", tail)
    return m.group(1) if m else None


def check(lines, state, stats=None):
    """Returns the violations; counts what it saw into the dict stats
    (acks, sends, syncs, creates, renames, unlinks) so a caller can show
    that the check was not vacuous."""
    stats = {} if stats is None else stats
    for k in ("acks", "sends", "syncs", "creates", "renames", "unlinks"):
        stats.setdefault(k, 0)
    state = os.path.normpath(state)
    root_parent = os.path.dirname(state)

    def inside(p):
        return p is not None and (p == state or p.startswith(state + "/"))

    def watched_dir(d):
        return inside(d) or d == root_parent

    bad = []
    dirty = {}        # path -> line of the first unsynced write
    never = {}        # created file path -> line, until its first fsync
    pending = {}      # dir path -> (line, what) of the first unsynced change
    for n, pid, text in join_unfinished(lines):
        m = CALL.match(text)
        if not m:
            continue
        name, argtext, ret, tail = (m.group(1), m.group(2), int(m.group(3)),
                                    m.group(4).strip())
        if ret < 0:
            continue
        args = split_args(argtext)

        def changed(path, what):
            d = os.path.dirname(path)
            key = what.split()[0]
            key = {"create": "creates", "mkdir": "creates",
                   "rename": "renames", "unlink": "unlinks"}[key]
            stats[key] += 1 if not what.startswith("rename to") else 0
            if watched_dir(d) and os.path.basename(path) not in EXEMPT:
                pending.setdefault(d, (n, what))

        if name in ("open", "openat", "creat"):
            path = ret_path(tail)
            flags = args[2] if name == "openat" and len(args) > 2 else \
                (args[1] if len(args) > 1 else "")
            if name == "creat" or "O_CREAT" in flags:
                if path and (inside(path) or path == state):
                    changed(path, "create " + os.path.basename(path))
                    if os.path.basename(path) not in EXEMPT:
                        never.setdefault(path, n)
        elif name in ("mkdir", "mkdirat"):
            path = resolve(args[0], string_arg(args[1])) \
                if name == "mkdirat" else resolve(None, string_arg(args[0]))
            if path and (inside(path)):
                changed(path, "mkdir " + os.path.basename(path))
        elif name in ("rename", "renameat", "renameat2"):
            if name == "rename":
                old = resolve(None, string_arg(args[0]))
                new = resolve(None, string_arg(args[1]))
            else:
                old = resolve(args[0], string_arg(args[1]))
                new = resolve(args[2], string_arg(args[3]))
            if inside(old) or inside(new):
                if old in dirty or old in never:
                    bad.append(Violation(
                        "R1 rename-unsynced", n, text,
                        "%s renamed with data unsynced since line %d" % (
                            old, dirty.get(old, never.get(old)))))
                changed(old, "rename from " + os.path.basename(old))
                changed(new, "rename to " + os.path.basename(new))
                for tbl in (dirty, never):
                    if old in tbl:
                        tbl[new] = tbl.pop(old)
        elif name in ("unlink", "unlinkat"):
            path = resolve(None, string_arg(args[0])) if name == "unlink" \
                else resolve(args[0], string_arg(args[1]))
            if inside(path):
                changed(path, "unlink " + os.path.basename(path))
                dirty.pop(path, None)
                never.pop(path, None)
        elif name in ("fsync", "fdatasync"):
            path = fd_path(args[0])
            if path:
                stats["syncs"] += 1
                dirty.pop(path, None)
                never.pop(path, None)
                pending.pop(path, None)  # a directory's fd: its entries
        elif name in WRITES or name == "fallocate":
            target = args[0] if args else ""
            path = fd_path(target)
            if path and "UNIX-STREAM:[" in path and "->" in path:
                if name in ("write", "writev", "sendmsg", "sendto") and \
                        '\\"ok\\":true' in argtext:
                    stats["acks"] += 1
                    for p, first in sorted(dirty.items()):
                        bad.append(Violation(
                            "R3 ack-unsynced", n, text,
                            "acknowledgement while %s has writes unsynced "
                            "since line %d" % (p, first)))
                    for d, (first, what) in sorted(pending.items()):
                        bad.append(Violation(
                            "R2 dir-unsynced", n, text,
                            "acknowledgement while directory %s is unsynced "
                            "since line %d (%s)" % (d, first, what)))
                    dirty.clear()  # report each once
                    pending.clear()
            elif path and (path.startswith("TCP:[") or
                           path.startswith("TCPv6:[")):
                if name != "ftruncate":
                    stats["sends"] += 1
                    for p, first in sorted(dirty.items()):
                        bad.append(Violation(
                            "R4 send-unsynced", n, text,
                            "network send while %s has writes unsynced "
                            "since line %d" % (p, first)))
                    dirty.clear()
            elif inside(path) and name != "fallocate" and \
                    os.path.basename(path) not in EXEMPT:
                dirty.setdefault(path, n)
    return bad


# Synthetic traces for the self-test: GOOD passes; each BAD_* breaks one
# rule and must be caught with exactly that rule.
S = "/s/state/cwtimed"
J = S + "/journal"
SOCK = ('UNIX-STREAM:[11->12,"/run/cwtimed/socket"]')
ACK = '9<%s>, "{\\"v\\":1,\\"id\\":1,\\"ok\\":true}\\n", 30' % SOCK
NACK = '9<%s>, "{\\"v\\":1,\\"id\\":1,\\"ok\\":false}\\n", 31' % SOCK

GOOD = [
    '1 10:00:00.000001 mkdirat(3<%s>, "journal", 0700) = 0' % S,
    '1 10:00:00.000002 fsync(3<%s>) = 0' % S,
    '1 10:00:00.000003 openat(4<%s>, "0000000000000001.log", '
    'O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 5<%s/0000000000000001.log>'
    % (J, J),
    '1 10:00:00.000004 pwritev(5<%s/0000000000000001.log>, [...], 1, 0) = 64'
    % J,
    '1 10:00:00.000005 fsync(5<%s/0000000000000001.log>) = 0' % J,
    '1 10:00:00.000006 fsync(4<%s>) = 0' % J,
    '1 10:00:00.000007 openat(3<%s>, "lock", O_RDWR|O_CREAT|O_CLOEXEC, 0600)'
    ' = 6<%s/lock>' % (S, S),
    '1 10:00:00.000008 pwritev(5<%s/0000000000000001.log>, [...], 1, 64) = 90'
    % J,
    '1 10:00:00.000009 write(9<%s>, "{\\"v\\":1,\\"ok\\":true, "..., 20 '
    '<unfinished ...>' % SOCK,
    '2 10:00:00.000010 write(2<pipe:[1]>, "log", 3) = 3',
    '1 10:00:00.000011 <... write resumed>) = 20',
]
# GOOD as written acknowledges before the fdatasync: fix that up so the
# good trace is good, and keep the broken copy as BAD_ACK.
BAD_ACK = list(GOOD)
GOOD.insert(8, '1 10:00:00.000008 fdatasync(5<%s/0000000000000001.log>) = 0'
            % J)
GOOD += [
    '1 10:00:01.000001 write(9<%s>) = 31' % NACK,
    '1 10:00:01.000002 openat(3<%s>, "checkpoint.tmp", O_WRONLY|O_CREAT|'
    'O_EXCL|O_CLOEXEC, 0600) = 7<%s/checkpoint.tmp>' % (S, S),
    '1 10:00:01.000003 pwritev(7<%s/checkpoint.tmp>, [...], 1, 0) = 100' % S,
    '1 10:00:01.000004 fsync(7<%s/checkpoint.tmp>) = 0' % S,
    '1 10:00:01.000005 renameat(3<%s>, "checkpoint.tmp", 3<%s>, '
    '"checkpoint") = 0' % (S, S),
    '1 10:00:01.000006 fsync(3<%s>) = 0' % S,
    '1 10:00:01.000007 unlinkat(4<%s>, "0000000000000001.log", 0) = 0' % J,
    '1 10:00:01.000008 fsync(4<%s>) = 0' % J,
    '1 10:00:01.000009 write(%s) = 30' % ACK,
]


def _without(lines, needle):
    return [x for x in lines if needle not in x]


def _self_tests():
    """(name, trace, the rules it must break, or None). An unsynced file
    renamed into place is also unsynced at the next acknowledgement, so
    the R1 cases break R3 as well."""
    ren = GOOD.index(next(x for x in GOOD if "renameat(" in x))
    return [
        ("good trace", GOOD, None),
        ("ack before the fdatasync", BAD_ACK, "R3"),
        ("rename without fsync of the file",
         _without(GOOD, "fsync(7<"), "R1 R3"),
        ("rename of a file written after its fsync",
         GOOD[:ren] + ['1 10:00:01.000004 pwrite64(7<%s/checkpoint.tmp>, "x",'
                       ' 1, 100) = 1' % S] + GOOD[ren:], "R1 R3"),
        ("a POST before ATTEMPT_STARTED is synced",
         GOOD[:8] + ['1 10:00:00.000008 sendto(8<TCP:[127.0.0.1:5->'
                     '127.0.0.1:80]>, "POST /x", 7, MSG_NOSIGNAL, NULL, 0) '
                     '= 7'] + GOOD[8:], "R4"),
        ("rename without fsync of the directory",
         [x for x in GOOD if x != '1 10:00:01.000006 fsync(3<%s>) = 0' % S],
         "R2"),
        ("unlink without fsync of the directory",
         [x for x in GOOD if x != '1 10:00:01.000008 fsync(4<%s>) = 0' % J],
         "R2"),
        ("create without fsync of the directory",
         [x for x in GOOD if x != '1 10:00:00.000006 fsync(4<%s>) = 0' % J],
         "R2"),
        ("mkdir without fsync of the parent",
         [x for x in GOOD if x != '1 10:00:00.000002 fsync(3<%s>) = 0' % S],
         "R2"),
    ]


def self_test(out=sys.stdout):
    fails = 0
    for name, trace, want in _self_tests():
        got = check(trace, S)
        rules = {v.rule.split()[0] for v in got}
        good = (not got) if want is None else (rules == set(want.split()))
        fails += 0 if good else 1
        out.write("%s - %s (%s)\n" % ("ok" if good else "FAILED", name,
                                      sorted(rules) or "no violation"))
    return fails


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return 1 if self_test() else 0
    if len(argv) != 3:
        sys.stderr.write("usage: syscall_order.py STATE TRACE | "
                         "--self-test\n")
        return 2
    with open(argv[2], errors="replace") as f:
        bad = check(f.readlines(), argv[1])
    for v in bad:
        print(v)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
