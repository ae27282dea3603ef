"""Strict, streaming reading of an uncompressed tar: the hostile-input front door.

`tarfile` in stream mode ("r|") does the header decoding; this module makes
it strict and bounded:

- a damaged header, a stream cut short inside a header or inside member data
  raises LayerError("<what> is truncated or corrupt: ...") instead of quietly
  ending the archive (tarfile's default after the first member) or leaking a
  tarfile/zlib exception;
- extended headers (PAX, GNU long names) are limited to 1 MiB, as in Go's
  archive/tar, and PAX records are parsed in linear time;
- PAX global headers are read and ignored (as Docker does); sparse files are
  refused (no layer writer produces them);
- an empty stream, or one that ends at a header boundary without the zero
  blocks, is a normal end (as in Go);
- members are not accumulated: memory stays flat for any number of entries.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from typing import BinaryIO, Final, cast

from builder.errors import LayerError, PybuildError

__all__ = ["MAX_EXTENDED_HEADER", "TarStream", "member_xattrs"]

MAX_EXTENDED_HEADER: Final = 1 << 20
XATTR_PAX_PREFIX: Final = "SCHILY.xattr."
_BUFSIZE: Final = 1 << 16
_SKIP_CHUNK: Final = 1 << 20
_BLOCK: Final = tarfile.BLOCKSIZE
_MAX_EXTENDED_RUN: Final = 8
_EXTENDED_TYPES: Final = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)
_PAX_NUMBERS: Final = {"size": int, "uid": int, "gid": int, "mtime": float}
# tarfile's header errors, undocumented (and missing from the type stubs)
_EmptyHeaderError: type[Exception] = tarfile.EmptyHeaderError  # type: ignore[attr-defined]
_EOFHeaderError: type[Exception] = tarfile.EOFHeaderError  # type: ignore[attr-defined]
_TruncatedHeaderError: type[Exception] = tarfile.TruncatedHeaderError  # type: ignore[attr-defined]
_InvalidHeaderError: type[Exception] = tarfile.InvalidHeaderError  # type: ignore[attr-defined]


def _corrupt(what: str, detail: str) -> LayerError:
    return LayerError(
        f"{what} is truncated or corrupt: {detail}",
        hint="download or build it again; the bytes on hand are damaged",
    )


#: What tarfile and the streams below it raise on damaged input.
_READ_ERRORS = (tarfile.TarError, EOFError, OSError, ValueError, OverflowError, RecursionError)


class _StrictTarFile(tarfile.TarFile):
    """Counts extended headers in a row (each one nests a header read)."""

    extended_run = 0


class _StrictTarInfo(tarfile.TarInfo):
    """A TarInfo whose header parsing fails loudly and reads bounded amounts."""

    __slots__ = ()

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> _StrictTarInfo:
        try:
            member = super().fromtarfile(tarfile_)
        except _EmptyHeaderError:
            # EOF exactly at a header boundary: the end, like Go's reader.
            raise _EOFHeaderError("end of file") from None
        except _EOFHeaderError:
            raise
        except _TruncatedHeaderError:
            raise _corrupt("layer", "the stream ends inside a tar header") from None
        except _InvalidHeaderError as e:
            raise _corrupt("layer", f"bad tar header at byte {tarfile_.offset}: {e}") from None
        if member.size < 0:
            raise _corrupt("layer", f"tar entry {member.name!r} has a negative size")
        return member

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise LayerError(
                f"layer entry {self.name!r}: GNU sparse files are not supported in layers"
            )
        if self.type not in _EXTENDED_TYPES:
            return cast(tarfile.TarInfo, super()._proc_member(tarfile_))  # type: ignore[misc]
        if self.size > MAX_EXTENDED_HEADER:
            raise _corrupt("layer", f"extended tar header of {self.size} bytes (limit 1 MiB)")
        owner = cast(_StrictTarFile, tarfile_)
        if owner.extended_run >= _MAX_EXTENDED_RUN:
            raise _corrupt("layer", f"more than {_MAX_EXTENDED_RUN} extended headers in a row")
        owner.extended_run += 1
        try:
            if self.type in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
                return cast(tarfile.TarInfo, super()._proc_member(tarfile_))  # type: ignore[misc]
            return self._read_pax(tarfile_)
        finally:
            owner.extended_run -= 1

    def _read_pax(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        fileobj = cast(BinaryIO, tarfile_.fileobj)
        padded = -(-self.size // _BLOCK) * _BLOCK
        buf = fileobj.read(padded)
        if len(buf) < padded:
            raise _corrupt("layer", "the stream ends inside a PAX header")
        headers = _parse_pax_records(buf[: self.size])
        del buf
        if any(key.startswith("GNU.sparse.") for key in headers):
            raise LayerError("layer entry: GNU sparse files are not supported in layers")
        try:
            follower = self.fromtarfile(tarfile_)
        except tarfile.HeaderError:
            raise _corrupt("layer", "a PAX header is not followed by an entry") from None
        if self.type == tarfile.XGLTYPE:
            return follower  # global headers are ignored, as Docker does
        _apply_pax(follower, headers)
        follower.offset = self.offset
        if "size" in headers and (follower.isreg() or follower.type not in tarfile.SUPPORTED_TYPES):
            tarfile_.offset = follower.offset_data + -(-follower.size // _BLOCK) * _BLOCK
        return follower


def _parse_pax_records(buf: bytes) -> dict[str, str]:
    """PAX records `"%d %s=%s\\n" % (length, key, value)`, in linear time, strictly."""
    headers: dict[str, str] = {}
    pos = 0
    while pos < len(buf):
        if buf[pos] == 0 and buf.count(0, pos) == len(buf) - pos:
            break  # some writers pad the records with NULs
        space = buf.find(b" ", pos, pos + 20)
        digits = buf[pos:space] if space > pos else b""
        if not digits.isdigit():
            raise _corrupt("layer", "malformed PAX record length")
        length = int(digits)
        end = pos + length
        if length <= len(digits) + 1 or end > len(buf) or buf[end - 1] != 0x0A:
            raise _corrupt("layer", "malformed PAX record")
        record = buf[space + 1 : end - 1]
        key, eq, value = record.partition(b"=")
        if not eq or not key:
            raise _corrupt("layer", "PAX record without key=value")
        headers[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos = end
    return headers


def _apply_pax(member: tarfile.TarInfo, headers: dict[str, str]) -> None:
    """Let the PAX records override the ustar fields, rejecting bad numbers."""
    for key, value in headers.items():
        if key == "path":
            member.name = value.rstrip("/") if member.isdir() else value
        elif key == "linkpath":
            member.linkname = value
        elif key in ("uname", "gname"):
            setattr(member, key, value)
        elif key in _PAX_NUMBERS:
            try:
                number = _PAX_NUMBERS[key](value)
            except ValueError:
                raise _corrupt(
                    "layer", f"PAX record {key}={value[:40]!r} is not a number"
                ) from None
            if key != "mtime" and number < 0:
                raise _corrupt("layer", f"PAX record {key}={value[:40]!r} is negative")
            setattr(member, key, number)
    member.pax_headers = dict(headers)


def member_xattrs(member: tarfile.TarInfo) -> dict[str, bytes]:
    """The extended attributes a member carries (PAX `SCHILY.xattr.NAME`), as bytes."""
    return {
        key[len(XATTR_PAX_PREFIX) :]: value.encode("utf-8", "surrogateescape")
        for key, value in member.pax_headers.items()
        if key.startswith(XATTR_PAX_PREFIX) and len(key) > len(XATTR_PAX_PREFIX)
    }


class TarStream:
    """The members of an uncompressed tar read from `fileobj`, one pass, strictly.

    Iterate to get each TarInfo; `data()` reads the current regular member's
    bytes. Data left unread is skipped (and still checked) before the
    next member. Every read-side failure is a LayerError naming `what`.
    """

    def __init__(self, fileobj: BinaryIO, *, what: str = "layer") -> None:
        self._what = what
        self._data: _MemberData | None = None
        try:
            self._tar = _StrictTarFile.open(
                fileobj=fileobj,
                mode="r|",
                tarinfo=_StrictTarInfo,
                encoding="utf-8",
                errors="surrogateescape",
                bufsize=_BUFSIZE,
            )
        except PybuildError as e:
            raise self._renamed(e) from None
        except _READ_ERRORS as e:
            raise _corrupt(what, f"not a tar archive ({e})") from None

    def _renamed(self, error: PybuildError) -> PybuildError:
        if self._what != "layer" and error.message.startswith("layer "):
            error.message = self._what + error.message[len("layer") :]
            error.args = (error.message,)
        return error

    def __iter__(self) -> Iterator[tarfile.TarInfo]:
        while True:
            self._skip_data()
            try:
                member = self._tar.next()
            except PybuildError as e:
                raise self._renamed(e) from None
            except _READ_ERRORS as e:
                raise _corrupt(self._what, str(e) or type(e).__name__) from None
            if member is None:
                return
            self._tar.members.clear()  # type: ignore[attr-defined]
            if member.isreg() or member.type not in tarfile.SUPPORTED_TYPES:
                self._data = _MemberData(cast(BinaryIO, self._tar.fileobj), member.size, self._what)
            yield member

    def data(self) -> BinaryIO:
        """A reader of the current member's data (regular files only)."""
        if self._data is None:
            raise ValueError("the current member has no data")
        return cast(BinaryIO, self._data)

    def _skip_data(self) -> None:
        """Read past unread data ourselves: tarfile's skip would spin on a huge hostile size."""
        if self._data is not None:
            while self._data.read(_SKIP_CHUNK):
                pass
            self._data = None

    def close(self) -> None:
        self._data = None
        self._tar.close()


class _MemberData:
    """The `size` data bytes of the current member, read straight from tarfile's stream.

    A stream that ends early, or fails, raises LayerError.
    """

    def __init__(self, stream: BinaryIO, size: int, what: str) -> None:
        self._stream = stream
        self._left = size
        self._what = what

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self._left:
            size = self._left
        if not size:
            return b""
        try:
            data = self._stream.read(size)
        except PybuildError:
            raise
        except (tarfile.TarError, EOFError, OSError, ValueError) as e:
            raise _corrupt(self._what, str(e) or type(e).__name__) from None
        if len(data) < size:
            raise _corrupt(self._what, "the stream ends inside a file")
        self._left -= size
        return data
