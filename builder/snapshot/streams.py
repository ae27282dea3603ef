"""Streams that hash and count the bytes passing through them (diff_id, digest, size)."""

from __future__ import annotations

import hashlib
from typing import BinaryIO

__all__ = ["HashingReader", "HashingWriter"]

_DRAIN_CHUNK = 1 << 20


class HashingReader:
    """Reads from `raw`, hashing (sha256) and counting every byte handed out."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if data:
            self._hash.update(data)
            self.size += len(data)
        return data

    def drain(self) -> None:
        """Read (and hash) whatever is left, so the digest covers the whole stream."""
        while self.read(_DRAIN_CHUNK):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


class HashingWriter:
    """Writes to `sink`, hashing (sha256) and counting every byte; `tell()` is the count."""

    def __init__(self, sink: BinaryIO) -> None:
        self._sink = sink
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._hash.update(data)
        self._sink.write(data)
        size = memoryview(data).nbytes
        self.size += size
        return size

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        flush = getattr(self._sink, "flush", None)  # a store blob writer may have none
        if flush is not None:
            flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()
