"""Content-addressed blobs: `blobs/<algorithm>/<hex>`, written via temp file + fsync + rename.

Blob writes need no lock: two writers of the same content rename the same
bytes onto the same name. Their temp files live in `tmp/`; the caller holds
the GC lease while writing so prune does not take them for stale ones.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from builder.errors import ImageError, StoreError
from builder.image.digest import DigestMismatchError, new_hasher, parse_digest
from builder.store.files import fsync_dir, store_error, unlink_quietly
from builder.store.paths import StoreLayout, temp_name

if TYPE_CHECKING:
    from typing_extensions import Buffer  # collections.abc.Buffer from Python 3.12

_CHUNK = 1 << 20


class BlobSizeMismatchError(DigestMismatchError):
    """Content is not the size it was announced with (a kind of digest mismatch)."""

    def __init__(self, expected: int, actual: int, what: str = "blob") -> None:
        ImageError.__init__(
            self,
            f"{what}: size mismatch: expected {expected} bytes, got {actual}"
            + (" or more" if actual > expected else ""),
            hint="the data was corrupted or tampered with; nothing was stored",
        )
        self.expected = str(expected)
        self.actual = str(actual)


def blob_path(layout: StoreLayout, digest: str) -> Path:
    """The path of an existing blob; StoreError if it is not in the store."""
    path = layout.blob(digest)
    if not path.is_file():
        raise _missing(layout, digest)
    return path


def _missing(layout: StoreLayout, digest: str) -> StoreError:
    return StoreError(
        f"blob {digest} is not in the store at {layout.root}",
        hint="pull or build the image again",
    )


def has_blob(layout: StoreLayout, digest: str) -> bool:
    return layout.blob(digest).is_file()


def blob_size(layout: StoreLayout, digest: str) -> int:
    try:
        return layout.blob(digest).stat().st_size
    except FileNotFoundError:
        raise _missing(layout, digest) from None


def open_blob(layout: StoreLayout, digest: str) -> BinaryIO:
    try:
        return open(layout.blob(digest), "rb")  # the caller closes it
    except FileNotFoundError:
        raise _missing(layout, digest) from None


def read_blob(layout: StoreLayout, digest: str) -> bytes:
    """The whole blob, checked against its digest (a corrupt blob is a StoreError)."""
    path = layout.blob(digest)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _missing(layout, digest) from None
    hasher = new_hasher(digest)
    hasher.update(data)
    actual = f"{hasher.name}:{hasher.hexdigest()}"
    if actual != digest:
        raise StoreError(
            f"blob {digest} at {path} is corrupt: its content hashes to {actual}",
            hint="delete that file, then pull or build the image again",
        )
    return data


class _HashingFile(io.RawIOBase):
    """The raw side of a BlobWriter: hashes, counts and writes to the temp file."""

    def __init__(self, fd: int, hasher: hashlib._Hash, limit: int | None, what: str) -> None:
        self.fd = fd
        self.hasher = hasher
        self.size = 0
        self.limit = limit
        self.discard = False
        self._what = what

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def write(self, b: Buffer, /) -> int:
        view = memoryview(b).cast("B")
        if self.discard:
            return len(view)
        if self.limit is not None and self.size + len(view) > self.limit:
            raise BlobSizeMismatchError(self.limit, self.size + len(view), "blob")
        self.hasher.update(view)
        try:
            done = 0
            while done < len(view):
                done += os.write(self.fd, view[done:])
        except OSError as err:
            raise store_error(err, f"writing {self._what}") from None
        self.size += len(view)
        return len(view)


class BlobWriter(io.BufferedWriter):
    """A buffered sink for one blob; `.digest` and `.size` are set after the `with` block.

    It is a real `BinaryIO`, so it can be handed to anything that writes a stream.
    """

    def __init__(self, raw: _HashingFile) -> None:
        super().__init__(raw, buffer_size=_CHUNK)
        self._hashing = raw
        self._digest: str | None = None
        self._final_size: int | None = None

    @property
    def size(self) -> int:
        """Bytes written (so far, while the `with` block runs)."""
        if self._final_size is not None:
            return self._final_size
        return self._hashing.size if self.closed else self.tell()

    @property
    def digest(self) -> str:
        if self._digest is None:
            raise StoreError("BlobWriter.digest is only known after the `with` block")
        return self._digest

    def _stored(self, digest: str, size: int) -> None:
        self._digest = digest
        self._final_size = size


@contextmanager
def blob_writer(
    layout: StoreLayout, expected: str | None = None, expected_size: int | None = None
) -> Iterator[BlobWriter]:
    """Write a blob: verify (digest, size) -> fsync -> rename into place.

    On an exception or a mismatch the temp file is removed and nothing is stored.
    """
    if expected is not None:
        parse_digest(expected)
    what = f"blob {expected}" if expected else "a blob"
    hasher = new_hasher(expected) if expected else hashlib.sha256()
    temp = layout.tmp / temp_name("blob")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise store_error(err, f"creating a temp file for {what} in {layout.tmp}") from None
    raw = _HashingFile(fd, hasher, expected_size, what)
    writer = BlobWriter(raw)
    try:
        yield writer
        if not writer.closed:  # a caller may close the sink itself
            writer.flush()
        size = raw.size
        actual = f"{hasher.name}:{hasher.hexdigest()}"
        if expected_size is not None and size != expected_size:
            raise BlobSizeMismatchError(expected_size, size, "blob")
        if expected is not None and actual != expected:
            raise DigestMismatchError(expected, actual, "blob")
        dest = layout.blob(actual)
        if dest.is_file():
            unlink_quietly(temp)  # already stored: same bytes
        else:
            try:
                os.fsync(fd)
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.rename(temp, dest)
                fsync_dir(dest.parent)
            except OSError as err:
                raise store_error(err, f"writing blob {actual}") from None
        writer._stored(actual, size)
    finally:
        raw.discard = True  # drop whatever is still buffered
        writer.close()
        os.close(fd)
        if writer._final_size is None:
            unlink_quietly(temp)


def put_blob(layout: StoreLayout, data: bytes, expected: str | None = None) -> str:
    """Store `data`; return its digest. DigestMismatchError (nothing stored) if not `expected`."""
    hasher = new_hasher(expected) if expected is not None else hashlib.sha256()
    hasher.update(data)
    actual = f"{hasher.name}:{hasher.hexdigest()}"
    if expected is not None and actual != expected:
        raise DigestMismatchError(expected, actual, "blob")
    if has_blob(layout, actual):
        return actual
    with blob_writer(layout, actual, len(data)) as writer:
        writer.write(data)
    return actual


def ingest_file(layout: StoreLayout, path: Path, expected: str | None = None) -> tuple[str, int]:
    """Copy a file into the store as a blob; return (digest, size)."""
    try:
        source = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as err:
        raise StoreError(f"cannot read {path}: {err.strerror or err}") from None
    with source, blob_writer(layout, expected) as writer:
        try:
            shutil.copyfileobj(source, writer, _CHUNK)
        except OSError as err:
            raise StoreError(f"cannot read {path}: {err.strerror or err}") from None
    return writer.digest, writer.size


def iter_blobs(layout: StoreLayout) -> Iterator[tuple[str, Path]]:
    """Every blob file with a valid name, as (digest, path). Other files are ignored."""
    if not layout.blobs.is_dir():
        return
    for algorithm_dir in sorted(layout.blobs.iterdir()):
        if not algorithm_dir.is_dir():
            continue
        for path in sorted(algorithm_dir.iterdir()):
            digest = f"{algorithm_dir.name}:{path.name}"
            try:
                parse_digest(digest)
            except ImageError:
                continue
            yield digest, path
