"""Layer compression: sniffing, streaming decompression, deterministic compression.

Everything streams: a reader pulls compressed bytes from its source as it is
read, a writer pushes compressed bytes to its sink as it is written.

Gzip goes through ISA-L (`isal`). The writer is `igzip_threaded`: one gzip
member cut into 1 MiB deflate blocks that are compressed on worker threads,
each primed with the last 32 KiB of the block before (like pigz). A fixed-size
block front makes the block boundaries depend only on the uncompressed bytes,
so the output is the same for the same input whatever the write pattern or
the number of threads (mtime 0, no file name, OS byte 255). Zstd uses
multi-threaded `zstandard`, whose output does not depend on the thread count
either (it does differ from single-threaded mode, which is never used).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import BinaryIO, Final, cast

from builder.errors import LayerError, PybuildError

__all__ = [
    "COMPRESSIONS",
    "READ_COMPRESSIONS",
    "compressing_writer",
    "decompressing_reader",
    "detect_compression",
]

#: Compressions `compressing_writer` can write (and layers may carry).
COMPRESSIONS: Final = ("gzip", "zstd", "none")
#: Compressions `decompressing_reader` can read.
READ_COMPRESSIONS: Final = ("gzip", "zstd", "bzip2", "xz", "none")

GZIP_DEFAULT_LEVEL: Final = 1  # ISA-L levels are 0-3; 1 is the fastest with a fair ratio
ZSTD_DEFAULT_LEVEL: Final = 3
BLOCK_SIZE: Final = 1 << 20  # gzip block: unit of parallel compression
READ_SIZE: Final = 1 << 17

_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
_MAGICS: Final = (
    (b"\x1f\x8b", "gzip"),
    (_ZSTD_MAGIC, "zstd"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)
_SNIFF_SIZE: Final = 6


def detect_compression(head: bytes) -> str:
    """The compression of a stream that starts with `head` (>= 6 bytes is enough).

    A plain tar, or anything unknown, is "none".
    """
    for magic, name in _MAGICS:
        if head.startswith(magic):
            return name
    return "none"


# --------------------------------------------------------------------------- reading


def decompressing_reader(raw: BinaryIO, compression: str, *, what: str = "layer") -> BinaryIO:
    """A reader of the decompressed bytes of `raw` ("auto" sniffs the magic bytes).

    Streams: never holds more than a block of data. A truncated or corrupt
    stream raises LayerError("<what> is truncated or corrupt: ...") when it is
    read, not a zlib/zstd/EOF error. Closing the reader does not close `raw`.
    """
    if compression == "auto":
        head = _read_at_least(raw, _SNIFF_SIZE)
        compression = detect_compression(head)
        raw = cast(BinaryIO, _PrefixedReader(head, raw))
    if compression not in READ_COMPRESSIONS:
        raise LayerError(
            f"unknown compression {compression!r}",
            hint=f"use one of: auto, {', '.join(READ_COMPRESSIONS)}",
        )
    if compression == "none":
        return raw
    return cast(BinaryIO, _CheckedReader(_open_decompressor(raw, compression), compression, what))


def _open_decompressor(raw: BinaryIO, compression: str) -> io.RawIOBase | BinaryIO:
    if compression == "gzip":
        from isal import igzip

        return cast(BinaryIO, igzip.GzipFile(fileobj=raw, mode="rb"))
    if compression == "zstd":
        return _ZstdReader(raw)
    if compression == "bzip2":
        import bz2

        return cast(BinaryIO, bz2.BZ2File(raw, "rb"))
    import lzma

    return cast(BinaryIO, lzma.LZMAFile(raw, "rb"))


def _read_at_least(raw: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes (fewer only at EOF), for sources that return short reads."""
    parts: list[bytes] = []
    got = 0
    while got < size:
        block = raw.read(size - got)
        if not block:
            break
        parts.append(block)
        got += len(block)
    return b"".join(parts)


class _PrefixedReader(io.RawIOBase):
    """`head` (bytes already read from `raw`), then the rest of `raw`."""

    def __init__(self, head: bytes, raw: BinaryIO) -> None:
        self._head = memoryview(head)
        self._raw = raw

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                rest = self._raw.read()
                data, self._head = bytes(self._head) + rest, memoryview(b"")
                return data
            data = bytes(self._head[:size])
            self._head = self._head[size:]
            if len(data) < size:  # spare callers a short read
                data += self._raw.read(size - len(data)) or b""
            return data
        return self._raw.read(size)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _CheckedReader(io.RawIOBase):
    """Turns every decompression failure into a LayerError; errors of ours pass."""

    def __init__(self, inner: io.RawIOBase | BinaryIO, compression: str, what: str) -> None:
        self._inner = inner
        self._compression = compression
        self._what = what

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._inner.read(size)
        except PybuildError:
            raise
        except Exception as e:  # zlib/isal/zstd/lzma/bz2 errors, EOFError, BadGzipFile
            detail = str(e) or type(e).__name__
            raise LayerError(
                f"{self._what} is truncated or corrupt: {self._compression} data: {detail}",
                hint="download or build it again; the bytes on hand are damaged",
            ) from None
        return data or b""

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


class _ZstdReader(io.RawIOBase):
    """A zstd decompressing reader that notices a stream cut short.

    `zstandard`'s stream reader returns EOF quietly when its source ends inside
    a frame. The compressed bytes pass through a `_ZstdFrameTracker` on their way
    in, and at EOF the tracker must sit on a frame boundary.
    """

    def __init__(self, raw: BinaryIO) -> None:
        import zstandard

        self._tracker = _ZstdFrameTracker()
        self._source = _TrackedSource(raw, self._tracker.feed)
        self._reader = zstandard.ZstdDecompressor().stream_reader(
            cast(BinaryIO, self._source),
            read_size=READ_SIZE,
            read_across_frames=True,
            closefd=False,
        )

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._reader.read(size)
        if (not data and size != 0) or size < 0:
            self._tracker.check_end()
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._reader.close()
        finally:
            super().close()


class _TrackedSource:
    """Calls `observe` on every block read from `raw`."""

    def __init__(self, raw: BinaryIO, observe: Callable[[bytes], None]) -> None:
        self._raw = raw
        self._observe = observe

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if data:
            self._observe(data)
        return data


class _ZstdFrameTracker:
    """Follows the frame/block structure of a zstd stream (RFC 8878) without decoding.

    It only needs sizes: frame header length from the descriptor byte, then
    3-byte block headers (raw: size bytes follow, RLE: 1 byte, compressed: size
    bytes) up to the last block, then an optional 4-byte checksum; skippable
    frames carry their length. Content errors are left to the decompressor.
    """

    def __init__(self) -> None:
        self._header = bytearray()  # bytes of the structure being read
        self._want = 4  # bytes the current structure needs
        self._state = "magic"
        self._skip = 0  # payload bytes to pass over
        self._checksum = False
        self._last_block = False

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view and self._state != "invalid":
            if self._skip:
                step = min(self._skip, len(view))
                self._skip -= step
                view = view[step:]
                if not self._skip and self._state == "payload":
                    self._after_block()
                continue
            take = min(self._want - len(self._header), len(view))
            self._header += view[:take]
            view = view[take:]
            if len(self._header) == self._want:
                self._parse()

    def _parse(self) -> None:
        head = bytes(self._header)
        self._header.clear()
        if self._state == "magic":
            if head == _ZSTD_MAGIC:
                self._state, self._want = "descriptor", 1
            elif 0x184D2A50 <= int.from_bytes(head, "little") <= 0x184D2A5F:
                self._state, self._want = "skippable", 4
            else:
                self._state = "invalid"  # not zstd: the decompressor reports it
        elif self._state == "skippable":
            self._skip = int.from_bytes(head, "little")
            self._state, self._want = "magic", 4
        elif self._state == "descriptor":
            fhd = head[0]
            single_segment = (fhd >> 5) & 1
            fcs_size = (1 if single_segment else 0, 2, 4, 8)[fhd >> 6]
            rest = (0 if single_segment else 1) + (0, 1, 2, 4)[fhd & 3] + fcs_size
            self._checksum = bool((fhd >> 2) & 1)
            if rest:
                self._state, self._want = "frame_header", rest
            else:
                self._state, self._want = "block", 3
        elif self._state == "frame_header":
            self._state, self._want = "block", 3
        elif self._state == "block":
            value = int.from_bytes(head, "little")
            self._last_block = bool(value & 1)
            block_type = (value >> 1) & 3
            size = value >> 3
            self._state = "payload"
            self._skip = 1 if block_type == 1 else size
            if not self._skip:
                self._after_block()
        elif self._state == "checksum":
            self._state, self._want = "magic", 4

    def _after_block(self) -> None:
        if not self._last_block:
            self._state, self._want = "block", 3
        elif self._checksum:
            self._state, self._want = "checksum", 4
        else:
            self._state, self._want = "magic", 4

    def check_end(self) -> None:
        """Raise unless the stream ended between two frames."""
        if self._state != "magic" or self._header or self._skip:
            raise EOFError("zstd stream ends inside a frame")


# --------------------------------------------------------------------------- writing


def compressing_writer(raw: BinaryIO, compression: str, *, level: int | None = None) -> BinaryIO:
    """A writer that compresses into `raw`: "gzip", "zstd" or "none".

    Deterministic: the same bytes in give the same bytes out. `level` is ISA-L's
    0-3 for gzip (higher values mean 3; default 1) and zstd's 1-22 (default 3).
    close() finishes the compressed stream and flushes it, but does not close `raw`.
    """
    raw = cast(BinaryIO, _Sink(raw))
    if compression == "none":
        return cast(BinaryIO, _PassThroughWriter(raw))
    threads = max(1, min(4, len(os.sched_getaffinity(0))))
    if compression == "gzip":
        from isal import igzip_threaded

        gzip_level = GZIP_DEFAULT_LEVEL if level is None else max(0, min(3, level))
        sink = igzip_threaded.open(
            _GzipHeaderFix(raw),
            "wb",
            compresslevel=gzip_level,
            threads=threads,
            block_size=BLOCK_SIZE,
        )
        return cast(BinaryIO, _FixedBlockWriter(cast(BinaryIO, sink), BLOCK_SIZE))
    if compression == "zstd":
        import zstandard

        zstd_level = ZSTD_DEFAULT_LEVEL if level is None else max(1, min(22, level))
        compressor = zstandard.ZstdCompressor(
            level=zstd_level, threads=threads, write_checksum=True
        )
        zsink = compressor.stream_writer(raw, closefd=False)
        return cast(BinaryIO, _FixedBlockWriter(cast(BinaryIO, zsink), BLOCK_SIZE))
    raise LayerError(
        f"cannot write {compression!r} compression", hint=f"use one of: {', '.join(COMPRESSIONS)}"
    )


class _Sink:
    """`raw` with a flush() even when it has none (a store blob writer only writes)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._flush = getattr(raw, "flush", None)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._raw.write(data)
        return memoryview(data).nbytes

    def flush(self) -> None:
        if self._flush is not None:
            self._flush()


class _GzipHeaderFix:
    """Puts XFL=0, OS=255 ("unknown") in the gzip header, as Go and CPython write it.

    igzip_threaded (isal 1.9) swaps the two bytes (XFL=255, OS=0): readers ignore
    them, but a standard header is nicer to other tools. The header is the first
    write, made before any worker thread starts.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._header_done = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if not self._header_done:
            self._header_done = True
            block = bytes(data)
            if block[:3] == b"\x1f\x8b\x08" and len(block) >= 10:
                data = block[:8] + b"\x00\xff" + block[10:]
        return self._raw.write(data)

    def flush(self) -> None:
        self._raw.flush()


class _PassThroughWriter(io.RawIOBase):
    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        return self._raw.write(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.flush()
            finally:
                super().close()


class _FixedBlockWriter(io.RawIOBase):
    """Hands `sink` exactly `block`-byte pieces (the last one shorter), then closes it."""

    def __init__(self, sink: BinaryIO, block: int) -> None:
        self._sink = sink
        self._block = block
        self._buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        size = len(view)
        if self._buffer:
            take = min(self._block - len(self._buffer), len(view))
            self._buffer += view[:take]
            view = view[take:]
            if len(self._buffer) < self._block:
                return size
            self._sink.write(bytes(self._buffer))
            self._buffer.clear()
        while len(view) >= self._block:
            self._sink.write(view[: self._block])
            view = view[self._block :]
        self._buffer += view
        return size

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._buffer:
                self._sink.write(bytes(self._buffer))
                self._buffer.clear()
            self._sink.close()
        finally:
            super().close()
