#!/usr/bin/env python3
"""Independent decoder of the cwtimed journal, written from
doc/journal-format.md only (STYLE.md section 11): one misunderstanding
must not hide in both the C writer and the tests.

    journal_reader.py STATE_DIR     print every live record as a JSON line:
        {"file": ..., "offset": N, "seq": N, "type": N, "payload": {...}}
    exit 0 when sound (a torn tail of the newest segment is reported on
    stderr and is not an error), 65 on damage.

As a module: read_state(state_dir) -> Journal (records, checkpoint, torn);
read_state_live(state_dir) for a journal a running cwtimed may be writing
(the shared "read the journal between writes" of every test that reads a
live daemon's journal). Read-only: it never repairs anything.
"""

import json
import os
import re
import struct
import sys
import time

HEADER_SIZE = 64
RECORD_MAX = 256 * 1024
CHECKPOINT_MAX = 64 * 1024 * 1024
OVERHEAD = 20
SEG_MAGIC = b"CWTJRNL\0"
CKPT_MAGIC = b"CWTCKPT\0"
TYPE_CHECKPOINT = 23
KNOWN_TYPES = set(range(1, 25))
SEG_NAME = re.compile(r"^[0-9]{16}\.log$")


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data, crc=0):
    """CRC-32C, chainable: crc32c(b, crc32c(a)) == crc32c(a + b)."""
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ _TABLE[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


class Damage(Exception):
    """The journal is damaged (or from a newer format): refuse."""


class Header:
    def __init__(self, raw):
        (self.magic, self.version, self.size, self.salt, self.number,
         self.first_seq) = struct.unpack_from("<8sIIQQQ", raw, 0)
        self.boot_id = raw[40:56]
        (self.reserved, self.crc) = struct.unpack_from("<II", raw, 56)
        self.raw = raw


def parse_header(data, magic):
    """Returns a Header, or None when not valid; raises Damage for a
    valid header of another format version."""
    if len(data) < HEADER_SIZE:
        return None
    h = Header(data[:HEADER_SIZE])
    if h.magic != magic or crc32c(data[:60]) != h.crc:
        return None
    if h.version != 1:
        raise Damage("format version %d: written by a newer cwtimed"
                     % h.version)
    if h.size != HEADER_SIZE or h.reserved != 0:
        return None
    return h


def decode_record(data, off, salt, max_len):
    """Returns ('ok', (type, seq, payload bytes, size)), ('end', None) or
    ('invalid', None) for the record at off."""
    left = len(data) - off
    if left < 16:
        if all(b == 0 for b in data[off:]):
            return "end", None
        return "invalid", None
    head = data[off:off + 16]
    if head == bytes(16):
        return "end", None
    length, rtype, flags, seq = struct.unpack("<IHHQ", head)
    if length < 1 or length > max_len or flags != 0 or rtype == 0:
        return "invalid", None
    if length + OVERHEAD > left:
        return "invalid", None
    payload = data[off + 16:off + 16 + length]
    (want,) = struct.unpack_from("<I", data, off + 16 + length)
    got = crc32c(head + payload, crc32c(struct.pack("<Q", salt)))
    if got != want:
        return "invalid", None
    return "ok", (rtype, seq, payload, length + OVERHEAD)


def parse_payload(raw, where):
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Damage("%s: payload is not JSON (%s)" % (where, exc))
    if not isinstance(obj, dict):
        raise Damage("%s: payload is not a JSON object" % where)
    return obj


class Journal:
    def __init__(self):
        self.checkpoint = None      # (seq, payload) or None
        self.records = []           # dicts, in seq order, seq > checkpoint
        self.torn = []              # (file, offset, byte count)
        self.segments = []          # file names read


def _later_valid(data, start, salt, seq):
    """Any offset after start holding a record valid with salt and a
    seq >= the expected one (doc section 6, rule 1)."""
    for o in range(start + 1, len(data) - OVERHEAD):
        if data[o + 3] != 0 or data[o + 6] != 0 or data[o + 7] != 0:
            continue  # length over 16 MiB or flags set: cannot be valid
        status, rec = decode_record(data, o, salt, RECORD_MAX)
        if status == "ok" and rec[1] >= seq:
            return o, rec[1]
    return None


def read_state(state_dir):
    j = Journal()
    ckpt_seq = 0
    ckpt_path = os.path.join(state_dir, "checkpoint")
    if os.path.exists(ckpt_path):
        with open(ckpt_path, "rb") as f:
            data = f.read()
        h = parse_header(data, CKPT_MAGIC)
        if h is None:
            raise Damage("checkpoint: bad header")
        status, rec = decode_record(data, HEADER_SIZE, h.salt, CHECKPOINT_MAX)
        if status != "ok":
            raise Damage("checkpoint: bad record")
        rtype, seq, payload, size = rec
        if rtype != TYPE_CHECKPOINT or seq != h.first_seq:
            raise Damage("checkpoint: type %d seq %d" % (rtype, seq))
        if HEADER_SIZE + size != len(data):
            raise Damage("checkpoint: trailing bytes")
        j.checkpoint = (seq, parse_payload(payload, "checkpoint"))
        ckpt_seq = seq
    expected = ckpt_seq + 1

    jdir = os.path.join(state_dir, "journal")
    names = sorted(n for n in (os.listdir(jdir) if os.path.isdir(jdir) else [])
                   if SEG_NAME.match(n))
    for idx, name in enumerate(names):
        newest = idx == len(names) - 1
        with open(os.path.join(jdir, name), "rb") as f:
            data = f.read()
        j.segments.append(name)
        h = parse_header(data, SEG_MAGIC)
        if h is None:
            if newest and all(b == 0 for b in data[HEADER_SIZE:]):
                if any(data):
                    j.torn.append((name, 0, len(data)))
                continue
            raise Damage("%s: bad header" % name)
        if h.number != int(name[:16]):
            raise Damage("%s: header says segment %d" % (name, h.number))
        if h.first_seq == 0 or (h.first_seq > ckpt_seq
                                and h.first_seq != expected):
            raise Damage("%s: first seq %d, expected %d"
                         % (name, h.first_seq, expected))
        off = HEADER_SIZE
        seq = h.first_seq
        while True:
            status, rec = decode_record(data, off, h.salt, RECORD_MAX)
            if status != "ok":
                break
            rtype, rseq, payload, size = rec
            if rseq != seq or (rseq > ckpt_seq and rseq != expected):
                raise Damage("%s offset %d: seq %d, expected %d"
                             % (name, off, rseq, seq))
            if rtype not in KNOWN_TYPES or rtype == TYPE_CHECKPOINT:
                raise Damage("%s offset %d: type %d (newer cwtimed?)"
                             % (name, off, rtype))
            if rseq > ckpt_seq:
                j.records.append({
                    "file": name, "offset": off, "seq": rseq,
                    "type": rtype,
                    "payload": parse_payload(payload, "%s@%d" % (name, off)),
                })
                expected += 1
            off += size
            seq += 1
        if not any(data[off:]):
            continue  # zeros hide no record: the normal end
        later = _later_valid(data, off, h.salt, seq)
        if later is not None:
            raise Damage("%s offset %d: damaged record, valid seq %d at %d"
                         % (name, off, later[1], later[0]))
        if not newest:
            raise Damage("%s offset %d: bytes after the last record"
                         % (name, off))
        j.torn.append((name, off, len(data) - off))
    j.last_seq = expected - 1
    return j


def _fingerprint(state_dir):
    """What a write, a new segment, a compaction or a rename changes:
    (name, inode, size, mtime) of the checkpoint and every segment."""
    out = []
    jdir = os.path.join(state_dir, "journal")
    try:
        names = sorted(os.listdir(jdir))
    except OSError:
        names = []
    for p in [os.path.join(state_dir, "checkpoint")] + [
            os.path.join(jdir, n) for n in names]:
        try:
            st = os.stat(p)
        except OSError:
            continue
        out.append((p, st.st_ino, st.st_size, st.st_mtime_ns))
    return out


def read_state_live(state_dir, timeout=10.0, poll=0.01):
    """read_state() of a journal a running cwtimed may be writing: the
    journal as it is between two writes.

    A read that overlaps the daemon's pwritev can see a batch half
    copied (a damaged record with a valid one after it: Damage), and one
    that overlaps a compaction can lose a segment between listdir and
    open (OSError) or mix the old and the new checkpoint. So the state
    is read until a read succeeds with the files unchanged across it
    (same names, inodes, sizes, mtimes before and after). A fingerprint
    alone is not enough (the kernel stamps mtime before it copies the
    data), which is why a Damage is always read again too.

    Polls with a deadline; at the deadline raises the last Damage (or
    OSError) when no read succeeded, else returns the last good read
    (a daemon that never stops writing still gets a sound snapshot).
    Tests of a stopped daemon use read_state(): there a Damage is real
    at once."""
    end = time.monotonic() + timeout
    good = None
    while True:
        before = _fingerprint(state_dir)
        try:
            j = read_state(state_dir)
        except (Damage, OSError) as exc:
            err, j = exc, None
        if j is not None:
            if _fingerprint(state_dir) == before:
                return j
            good = j
        if time.monotonic() >= end:
            if good is not None:
                return good
            raise err
        time.sleep(poll)  # the daemon's write to finish; not a wait for it


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: journal_reader.py STATE_DIR\n")
        return 2
    try:
        j = read_state(argv[1])
    except Damage as exc:
        sys.stderr.write("journal damaged: %s\n" % exc)
        return 65
    if j.checkpoint is not None:
        print(json.dumps({"file": "checkpoint", "seq": j.checkpoint[0],
                          "type": TYPE_CHECKPOINT,
                          "payload": j.checkpoint[1]}))
    for r in j.records:
        print(json.dumps(r))
    for name, off, n in j.torn:
        sys.stderr.write("%s: torn tail of %d bytes at offset %d\n"
                         % (name, n, off))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
