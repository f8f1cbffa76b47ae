"""The writer's journal: append-only segment files in a local spool directory, one per process.

    <spool>/<host>-<pid>-<run>/lock             held (flock) by the living writer
    <spool>/<host>-<pid>-<run>/<seq:08d>.seg    segments, oldest first

A segment starts with `MAGIC`, then records, each framed as

    <u32 length> <u32 crc32 of body> body
    body = <u8 kind> <u64 number> <u16 key length> key data

little-endian. `key` is the partition (`channel \\x1f exchange \\x1f symbol \\x1f hour`). Kinds:

- DATA: `number` is the record's number (increasing over the writer's life); `data` one Arrow
  record batch of the channel's schema (IPC message, no schema: the channel gives it).
- PUBLISHED: written (and synced) just before a Parquet file is renamed into place: `number` is
  the last DATA record whose rows of that partition the file holds, `data` the file's path under
  the root. Recovery skips a partition's records up to the newest PUBLISHED whose file exists.

A torn record (the process died while writing it: short, or a checksum that does not match) is
skipped and counted; reading a segment stops at a short one, which can only be the last.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field
from typing import Iterator

MAGIC = b"PTJRNL1\n"
DATA, PUBLISHED = 1, 2
_FRAME = struct.Struct("<II")
_HEAD = struct.Struct("<BQH")
SEP = "\x1f"


def key_text(key: tuple[str, str, str, int]) -> bytes:
    return SEP.join((key[0], key[1], key[2], str(key[3]))).encode()


def key_of(text: bytes) -> tuple[str, str, str, int]:
    channel, exchange, symbol, hour = text.decode().split(SEP)
    return channel, exchange, symbol, int(hour)


def frame(kind: int, number: int, key: bytes, data) -> bytes:
    body = b"".join((_HEAD.pack(kind, number, len(key)), key, data))
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


@dataclass
class Record:
    kind: int
    number: int
    key: tuple[str, str, str, int]
    data: memoryview


@dataclass
class Segment:
    """A segment being or having been written: its path, bytes, and per partition the newest DATA
    record in it whose rows are not yet in a published file."""

    seq: int
    path: str
    size: int = 0
    live: dict = field(default_factory=dict)


def read_segment(path: str) -> tuple[list[Record], int]:
    """The complete records of a segment and the number of torn ones skipped."""
    with open(path, "rb") as fh:
        blob = fh.read()
    view = memoryview(blob)
    if not blob.startswith(MAGIC):
        return [], 1 if blob else 0
    records, torn, at, end = [], 0, len(MAGIC), len(blob)
    while at < end:
        if at + _FRAME.size > end:
            return records, torn + 1
        length, crc = _FRAME.unpack_from(blob, at)
        start = at + _FRAME.size
        if start + length > end or length < _HEAD.size:
            return records, torn + 1
        body = view[start:start + length]
        at = start + length
        if zlib.crc32(body) != crc:
            torn += 1
            continue
        kind, number, klen = _HEAD.unpack_from(body)
        key = key_of(bytes(body[_HEAD.size:_HEAD.size + klen]))
        records.append(Record(kind, number, key, body[_HEAD.size + klen:]))
    return records, torn


def segments(directory: str) -> Iterator[str]:
    """The segment files of a writer's directory, oldest first."""
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".seg"))
    except FileNotFoundError:
        return
    for name in names:
        yield os.path.join(directory, name)


def fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Journal:
    """The append side: one open segment, rotated on demand; `sync` makes what was appended durable."""

    def __init__(self, directory: str):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.closed: list[Segment] = []
        self.current: Segment | None = None
        self._fh = None
        self._seq = 0
        self.rotate()
        fsync_dir(os.path.dirname(directory))

    def rotate(self) -> None:
        """Close the current segment (synced) and start the next."""
        if self._fh is not None:
            self.sync()
            self._fh.close()
            self.closed.append(self.current)
        self._seq += 1
        path = os.path.join(self.directory, f"{self._seq:08d}.seg")
        self._fh = open(path, "wb")
        self._fh.write(MAGIC)
        self.current = Segment(self._seq, path, len(MAGIC))
        fsync_dir(self.directory)
        self.prune()

    def append(self, record: bytes) -> None:
        self._fh.write(record)
        self.current.size += len(record)

    def sync(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    @property
    def size(self) -> int:
        return self.current.size + sum(s.size for s in self.closed)

    def covered(self, key, number: int) -> None:
        """The rows of partition `key` up to record `number` are in a published file: drop them from
        every segment's live set, and delete the oldest segments left with none (oldest first, so a
        PUBLISHED record outlives every segment holding rows it covers)."""
        for segment in (*self.closed, self.current):
            if segment.live.get(key, number + 1) <= number:
                del segment.live[key]
        self.prune()

    def prune(self) -> None:
        """Delete the oldest closed segments that hold no live rows."""
        while self.closed and not self.closed[0].live:
            os.unlink(self.closed.pop(0).path)

    def close(self, *, remove: bool) -> None:
        if self._fh is None:
            return
        self.sync()
        self._fh.close()
        self._fh = None
        if remove:
            for segment in (*self.closed, self.current):
                try:
                    os.unlink(segment.path)
                except FileNotFoundError:
                    pass
