"""`pybuild build -`: is standard input a context archive or a Dockerfile?

As docker and buildx decide: a compressed stream (gzip, bzip2, xz, zstd) or
a readable tar header is an archive; anything else is the Dockerfile itself,
built with an empty context.
"""

from __future__ import annotations

import io
import tarfile
from typing import BinaryIO

HEADER_SIZE = 512  #: one tar block
COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


def is_archive(head: bytes) -> bool:
    """Whether the first bytes of a stream start a (compressed) tar archive."""
    if any(head.startswith(magic) for magic in COMPRESSED_MAGIC):
        return True
    if len(head) < HEADER_SIZE:
        return False
    try:
        tarfile.TarInfo.frombuf(head[:HEADER_SIZE], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


class _Prefixed(io.RawIOBase):
    """Bytes already read, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            count = min(len(buffer), len(self._head))
            buffer[:count] = self._head[:count]
            self._head = self._head[count:]
            return count
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def read_head(stream: BinaryIO) -> tuple[bytes, BinaryIO]:
    """The first tar block of `stream` (less at its end), and a stream that reads it all."""
    head = b""
    while len(head) < HEADER_SIZE:
        chunk = stream.read(HEADER_SIZE - len(head))
        if not chunk:
            break
        head += chunk
    return head, io.BufferedReader(_Prefixed(head, stream))
