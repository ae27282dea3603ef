"""A small deterministic tar writer (POSIX pax), faster than tarfile for many small files.

Each entry is a ustar header, preceded by a pax extended header when a field
does not fit ustar: a path or link target over 100 bytes or not ASCII, an
id over 2097151, a size of 8 GiB or more, an mtime before 1970 or after 2242,
and every xattr (`SCHILY.xattr.NAME`, as GNU tar, Go and tarfile write them).
Unames/gnames are left empty. The archive ends with two zero blocks (no
padding to a 10 KiB record, like Go's writer). Small writes are gathered
into 1 MiB pieces before they reach the sink.
"""

from __future__ import annotations

import struct
import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Final, Protocol

__all__ = ["TarHeader", "TarWriter", "encode_header"]

_BLOCK: Final = 512
_FLUSH_AT: Final = 1 << 20
_DIRECT: Final = 1 << 16  # data chunks this big skip the gathering buffer
_USTAR: Final = struct.Struct("100s8s8s8s12s12s8sc100s6s2s32s32s8s8s155s12x")
_MAX_ID: Final = 0o7777777
_MAX_SIZE: Final = 0o77777777777
_PAX_NAME: Final = b"././@PaxHeader"


@dataclass(frozen=True, slots=True)
class TarHeader:
    """One tar entry. `name` has no trailing slash; directories get one when written."""

    name: str
    kind: bytes  # tarfile.REGTYPE, DIRTYPE, SYMTYPE, LNKTYPE, CHRTYPE, BLKTYPE, FIFOTYPE
    mode: int
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    size: int = 0
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: tuple[tuple[str, bytes], ...] = ()  # sorted by name


class _Reader(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def _pax_record(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    digits = len(str(len(body)))
    total = len(body) + digits
    if len(str(total)) > digits:
        total += 1
    return b"%d" % total + body


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _ustar(
    name: bytes,
    kind: bytes,
    mode: int,
    uid: int,
    gid: int,
    size: int,
    mtime: int,
    linkname: bytes,
    devmajor: int,
    devminor: int,
) -> bytes:
    header = bytearray(
        _USTAR.pack(
            name,
            b"%07o" % mode,
            b"%07o" % uid,
            b"%07o" % gid,
            b"%011o" % size,
            b"%011o" % mtime,
            b" " * 8,
            kind,
            linkname,
            b"ustar",
            b"00",
            b"",
            b"",
            b"%07o" % devmajor,
            b"%07o" % devminor,
            b"",
        )
    )
    header[148:156] = b"%06o\x00 " % sum(header)
    return bytes(header)


def encode_header(header: TarHeader) -> bytes:
    """The header block(s) of an entry: [pax header + its records] + ustar header."""
    name = _encode(header.name)
    if header.kind == tarfile.DIRTYPE and not name.endswith(b"/"):
        name += b"/"
    linkname = _encode(header.linkname)
    records: list[bytes] = []
    binary = False
    for key, value in ((b"path", name), (b"linkpath", linkname)):
        if len(value) > 100 or not value.isascii():
            records.append(_pax_record(key, value))
            binary = binary or not _is_utf8(value)
    uid, gid, size, mtime = header.uid, header.gid, header.size, header.mtime
    if uid > _MAX_ID:
        records.append(_pax_record(b"uid", b"%d" % uid))
        uid = 0
    if gid > _MAX_ID:
        records.append(_pax_record(b"gid", b"%d" % gid))
        gid = 0
    if size > _MAX_SIZE:
        records.append(_pax_record(b"size", b"%d" % size))
        size = 0
    if not 0 <= mtime <= _MAX_SIZE:
        records.append(_pax_record(b"mtime", b"%d" % mtime))
        mtime = 0
    for key_text, value in header.xattrs:
        records.append(_pax_record(b"SCHILY.xattr." + _encode(key_text), value))
    ustar = _ustar(
        name[:100],
        header.kind,
        header.mode & 0o7777,
        uid,
        gid,
        size,
        mtime,
        linkname[:100],
        header.devmajor,
        header.devminor,
    )
    if not records:
        return ustar
    if binary:
        records.insert(0, _pax_record(b"hdrcharset", b"BINARY"))
    body = b"".join(records)
    pax = _ustar(_PAX_NAME, tarfile.XHDTYPE, 0, 0, 0, len(body), 0, b"", 0, 0)
    return pax + body + _padding(len(body)) + ustar


def _padding(size: int) -> bytes:
    return b"\x00" * (-size % _BLOCK)


class TarWriter:
    """Writes tar entries to `sink`; `close()` ends the archive (the sink stays open)."""

    def __init__(self, sink: BinaryIO) -> None:
        self._sink = sink
        self._buffer = bytearray()

    def add(self, header: TarHeader, data: _Reader | None = None) -> None:
        """Write one entry; a regular file's `header.size` bytes are read from `data`.

        A source with fewer bytes raises EOFError (the file changed meanwhile);
        bytes beyond `size` are not read.
        """
        self._buffer += encode_header(header)
        if header.kind in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE) and header.size:
            if data is None:
                raise ValueError(f"{header.name}: no data for a regular file")
            remaining = header.size
            while remaining:
                chunk = data.read(min(remaining, _FLUSH_AT))
                if not chunk:
                    raise EOFError(f"{header.name}: {remaining} of {header.size} bytes missing")
                remaining -= len(chunk)
                if len(chunk) >= _DIRECT:
                    self._flush()
                    self._sink.write(chunk)
                else:
                    self._buffer += chunk
            self._buffer += _padding(header.size)
        if len(self._buffer) >= _FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self._sink.write(bytes(self._buffer))
            self._buffer.clear()

    def close(self) -> None:
        self._buffer += b"\x00" * (2 * _BLOCK)
        self._flush()
