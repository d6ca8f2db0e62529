"""Power-fail-safe storage of one small record: two slot files, each a complete copy with a sequence
number and a CRC32. A save overwrites the older slot only, and a load takes the newest slot that is
whole and intact, so a save cut short by a power loss (truncated, half-written or garbled) leaves the
previous record readable.

Slot layout: b"GWS1", sequence (u32, big endian), payload length (u16), payload, CRC32 of all before.
The payload is bytes; `save_dict`/`load_dict` keep a small dict of ints and strings as JSON.
"""

import binascii
import json
import os
import struct

MAGIC = b"GWS1"
_HEAD = 10  # magic + sequence + length
MAX_PAYLOAD = 4096
_SEQ_MASK = 0xFFFFFFFF



def read_at_most(path, limit):
    """The file's bytes, or its first limit + 1 when it is longer (the caller sees it is too long). Only
    what the file holds is allocated: a read(n) takes n bytes of heap at once, whatever the file's size,
    and at the start the heap may have no such run free."""
    size = os.stat(path)[6]
    with open(path, "rb") as f:
        return f.read(min(size, limit + 1))

def frame(seq, payload):
    """The bytes of one slot holding `payload` as record number `seq`."""
    body = MAGIC + struct.pack(">IH", seq & _SEQ_MASK, len(payload)) + payload
    return body + struct.pack(">I", binascii.crc32(body) & _SEQ_MASK)


def parse(data):
    """(seq, payload) of a slot's bytes, or None when they are not one whole, intact record."""
    if len(data) < _HEAD + 4 or data[:4] != MAGIC:
        return None
    seq, size = struct.unpack(">IH", data[4:_HEAD])
    if len(data) != _HEAD + size + 4:
        return None
    body = data[:_HEAD + size]
    if struct.unpack(">I", data[_HEAD + size:])[0] != binascii.crc32(body) & _SEQ_MASK:
        return None
    return seq, bytes(data[_HEAD:_HEAD + size])


def too_deep(text, depth):
    """Whether JSON `text` nests arrays or objects more than `depth` levels deep. Scanned before parsing:
    the parser recurses once per level, and a few hundred levels exhaust a small chip's stack or heap."""
    level = 0
    quoted = escaped = False
    for c in text:
        if quoted:
            if escaped:
                escaped = False
            elif c == 92:  # backslash
                escaped = True
            elif c == 34:  # "
                quoted = False
        elif c == 34:
            quoted = True
        elif c == 91 or c == 123:  # [ {
            level += 1
            if level > depth:
                return True
        elif c == 93 or c == 125:  # ] }
            level -= 1
    return False


def loads(data, depth):
    """JSON bytes parsed, after the nesting scan; ValueError when not JSON or nested too deep."""
    if too_deep(data, depth):
        raise ValueError("nested more than " + str(depth) + " levels deep")
    return json.loads(data)


def _newer(a, b):
    # sequence numbers compare modulo 2**32, so even a wrap keeps the order
    return 0 < ((a - b) & _SEQ_MASK) < 0x80000000


class Store:
    """One record kept in `path + ".a"` and `path + ".b"`."""

    def __init__(self, path):
        self.paths = (path + ".a", path + ".b")
        self._seq = None  # sequence of the newest intact slot, None when there is none
        self._slot = 1  # the slot that holds it (so the next save goes to the other)
        self._loaded = False

    def load(self):
        """The newest intact payload (bytes), or None when no slot holds one."""
        best = None
        self._slot = 1
        for slot, path in enumerate(self.paths):
            record = self._read(path)
            if record is not None and (best is None or _newer(record[0], best[0])):
                best = record
                self._slot = slot
        self._seq = None if best is None else best[0]
        self._loaded = True
        return None if best is None else best[1]

    def set_aside(self, suffix=".bad"):
        """Rename both slots (kept for inspection, replacing an earlier pair set aside): the next load
        finds no record and the next save starts afresh."""
        for path in self.paths:
            try:
                os.rename(path, path + suffix)
            except OSError:
                try:  # FAT refuses to rename over a file
                    os.remove(path + suffix)
                    os.rename(path, path + suffix)
                except OSError:
                    pass  # no such slot
        self._seq = None
        self._slot = 1
        self._loaded = True

    def save(self, payload):
        """Write `payload` as the newest record, into the slot not holding the current one."""
        payload = bytes(payload)
        if len(payload) > MAX_PAYLOAD:
            raise ValueError("record of " + str(len(payload)) + " bytes is over " + str(MAX_PAYLOAD))
        if not self._loaded:
            self.load()
        seq = 1 if self._seq is None else self._seq + 1
        slot = 1 - self._slot
        with open(self.paths[slot], "wb") as f:  # closing commits the file on LittleFS
            f.write(frame(seq, payload))
        self._seq = seq & _SEQ_MASK
        self._slot = slot

    def load_dict(self):
        """The newest record as a dict, or None (none saved, or not a dict record)."""
        payload = self.load()
        if payload is None:
            return None
        try:
            data = loads(payload, 1)  # a flat record
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def save_dict(self, data):
        """Save a small dict of str keys to int or str values."""
        for key, value in data.items():
            if not isinstance(key, str):
                raise ValueError("record key " + repr(key) + " is not a string")
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise ValueError("record value for " + repr(key) + " must be an int or a string, got "
                                 + repr(value))
        self.save(json.dumps(data).encode())

    @staticmethod
    def _read(path):
        try:
            data = read_at_most(path, _HEAD + MAX_PAYLOAD + 4)
        except OSError:
            return None
        return parse(data)
