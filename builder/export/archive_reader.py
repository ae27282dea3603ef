"""Image archives and layout directories, read as hostile input into the store.

An archive (docker-archive, OCI archive; plain or compressed) is read once,
front to back, so it may come from a pipe. Every regular member is staged
on the way through:

- `blobs/<alg>/<hex>` streams into `Store.blob_writer(expected=...)`: a
  member whose bytes do not hash to its name raises DigestMismatchError;
- small metadata files (`*.json`, `repositories`, `oci-layout`, ...) are
  kept in memory, up to `MAX_DOCUMENT` bytes each;
- anything else (an old docker-archive's `<id>/layer.tar`) streams into an
  unnamed blob, named by the digest it turns out to have.

Member names are checked (no absolute paths, no `..`, regular files and
directories only). Symlinks and hard links are never created anywhere: a
link member that stays inside the archive is an alias of another member's
name (skopeo and docker <= 24 write `<id>/layer.tar` links), any other link
is an error. The tar is read by `builder.snapshot.tarstream.TarStream`: a
truncated or damaged header or member is an error, never a quiet end of
the archive (a cut exactly between two members ends it, as in Go's reader
that `docker load` uses; whatever is missing then shows as a missing file
or blob).

An OCI layout directory is read lazily through the same interface
(`ArchiveFiles`), each file opened without following symlinks.

Blobs written here are not referenced by any image until the loader adds
one; callers hold `Store.lease()` so that a concurrent prune keeps them.
"""

from __future__ import annotations

import errno
import hashlib
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO, Protocol

from builder.errors import ImageError
from builder.image.digest import DigestMismatchError, is_digest, new_hasher

if TYPE_CHECKING:
    from builder.snapshot.tarstream import TarStream
    from builder.store import Store

#: Largest metadata document (manifest, index, config, manifest.json) accepted.
MAX_DOCUMENT = 16 << 20
#: Largest total of metadata kept in memory for one archive.
MAX_DOCUMENTS_TOTAL = 64 << 20
_CHUNK = 1 << 20
_DOCUMENT_NAMES = frozenset({"repositories", "oci-layout", "json", "VERSION"})
_MAX_LINK_HOPS = 16


@dataclass(frozen=True)
class StoredFile:
    """An archive member's content, now a blob in the store."""

    digest: str
    size: int


class ArchiveFiles(Protocol):
    """The files of an archive or layout directory, as the format readers see them."""

    def exists(self, name: str) -> bool: ...

    def read_document(self, name: str) -> bytes:
        """A small file's bytes (at most MAX_DOCUMENT); ImageError if absent or larger."""
        ...

    def ensure_blob(self, digest: str, size: int) -> None:
        """Make sure blob `digest` of `size` bytes is in the store, verified."""
        ...

    def stored(self, name: str) -> StoredFile:
        """A file's content as a (verified) store blob, for formats that name files by path."""
        ...


def canonical_name(name: str, what: str = "archive member") -> str:
    """`./a//b` -> `a/b`; ImageError for absolute names, `..` and NUL bytes."""
    if "\x00" in name:
        raise ImageError(f"{what} {name!r}: name contains a NUL byte")
    if name.startswith("/"):
        raise ImageError(
            f"{what} {name!r}: absolute path", hint="this is not a valid image archive"
        )
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ImageError(
            f"{what} {name!r}: path leaves the archive ('..')",
            hint="this is not a valid image archive; it may be hostile",
        )
    return "/".join(parts)


def blob_name(digest: str) -> str:
    """Where a blob lives in an OCI layout: `blobs/sha256/<hex>`."""
    algorithm, _, encoded = digest.partition(":")
    return f"blobs/{algorithm}/{encoded}"


def digest_of_blob_name(name: str) -> str | None:
    """`blobs/sha256/<hex>` -> `sha256:<hex>`; None for any other name."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] != "blobs":
        return None
    digest = f"{parts[1]}:{parts[2]}"
    return digest if is_digest(digest) else None


def read_blob_document(store: Store, digest: str, what: str) -> bytes:
    """A stored manifest/index/config, refusing absurd sizes before reading them."""
    if store.blob_size(digest) > MAX_DOCUMENT:
        raise ImageError(f"{what} {digest} is larger than {MAX_DOCUMENT >> 20} MiB")
    return store.read_blob(digest)


def _chunks(source: IO[bytes], size: int, what: str) -> Iterator[bytes]:
    """Exactly `size` bytes of `source`, in chunks; ImageError if it ends early."""
    left = size
    while left:
        block = source.read(min(_CHUNK, left))
        if not block:
            raise ImageError(f"{what}: data ends early (truncated?)")
        left -= len(block)
        yield block


def _copy_verified(source: IO[bytes], store: Store, expected: str | None, size: int) -> StoredFile:
    """Stream `size` bytes of `source` into the store (only verify them if already there)."""
    what = f"blob {expected}" if expected else "archive member"
    if expected is not None and store.has_blob(expected):
        hasher = new_hasher(expected)
        for block in _chunks(source, size, what):
            hasher.update(block)
        actual = f"{hasher.name}:{hasher.hexdigest()}"
        if actual != expected:
            raise DigestMismatchError(expected, actual, what)
        return StoredFile(expected, size)
    with store.blob_writer(expected=expected, expected_size=size) as writer:
        for block in _chunks(source, size, what):
            writer.write(block)
    return StoredFile(writer.digest, size)


# --- tar archives -------------------------------------------------------------------------


class TarArchiveFiles:
    """The members of one tar archive, staged in the store and in memory."""

    def __init__(self, store: Store):
        self._store = store
        self._documents: dict[str, bytes] = {}
        self._stored: dict[str, StoredFile] = {}
        self._aliases: dict[str, str] = {}
        self._blobs: dict[str, int] = {}  #: digest -> size, for members under blobs/
        self._document_bytes = 0

    @classmethod
    def read(cls, store: Store, stream: BinaryIO) -> TarArchiveFiles:
        """Read a whole (possibly compressed) archive from `stream`."""
        from builder.snapshot.compression import decompressing_reader
        from builder.snapshot.tarstream import TarStream

        files = cls(store)
        try:
            archive = TarStream(
                decompressing_reader(stream, "auto", what="archive"), what="archive"
            )
            for member in archive:
                files._take(archive, member)
            archive.close()
        except OSError as err:
            raise ImageError(f"cannot read the archive: {err.strerror or err}") from None
        return files

    def _claim(self, name: str) -> None:
        if name in self._documents or name in self._stored or name in self._aliases:
            raise ImageError(
                f"archive member {name!r} appears twice", hint="this archive is invalid"
            )

    def _take(self, archive: TarStream, member: tarfile.TarInfo) -> None:
        name = canonical_name(member.name)
        if member.isdir():
            return
        if not name:
            raise ImageError(f"archive member {member.name!r}: not a file name")
        if member.issym() or member.islnk():
            self._claim(name)
            self._aliases[name] = self._link_target(name, member)
            return
        if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE):
            raise ImageError(
                f"archive member {name!r}: not a regular file (type {member.type!r})",
                hint="image archives hold only files and directories",
            )
        self._claim(name)
        source = archive.data()
        digest = digest_of_blob_name(name)
        if name.startswith("blobs/") and digest is None:
            raise ImageError(
                f"archive member {name!r}: files under blobs/ must be named blobs/<algorithm>/<hex>"
            )
        if digest is not None:
            self._stored[name] = _copy_verified(source, self._store, digest, member.size)
            self._blobs[digest] = member.size
        elif self._is_document(name, member.size):
            self._documents[name] = source.read()
        else:
            self._stored[name] = _copy_verified(source, self._store, None, member.size)

    def _is_document(self, name: str, size: int) -> bool:
        base = posixpath.basename(name)
        if size > MAX_DOCUMENT or not (base.endswith(".json") or base in _DOCUMENT_NAMES):
            return False
        self._document_bytes += size
        if self._document_bytes > MAX_DOCUMENTS_TOTAL:
            raise ImageError(
                f"archive holds more than {MAX_DOCUMENTS_TOTAL >> 20} MiB of metadata files"
            )
        return True

    @staticmethod
    def _link_target(name: str, member: tarfile.TarInfo) -> str:
        what = f"archive link {name!r} -> {member.linkname!r}"
        if member.issym():
            if member.linkname.startswith("/"):
                raise ImageError(
                    f"{what}: absolute link target", hint="this archive may be hostile"
                )
            joined = posixpath.join(posixpath.dirname(name), member.linkname)
            target = posixpath.normpath(joined)
            if target.startswith("../") or target == "..":
                raise ImageError(f"{what}: leaves the archive", hint="this archive may be hostile")
            return canonical_name(target, "archive link target")
        return canonical_name(member.linkname, "archive link target")

    def _resolve(self, name: str) -> str:
        name = canonical_name(name, "file named in the archive")
        for _ in range(_MAX_LINK_HOPS):
            if name not in self._aliases:
                return name
            name = self._aliases[name]
        raise ImageError(f"archive link {name!r}: too many levels of links")

    def exists(self, name: str) -> bool:
        resolved = self._resolve(name)
        return resolved in self._documents or resolved in self._stored

    def read_document(self, name: str) -> bytes:
        resolved = self._resolve(name)
        if resolved in self._documents:
            return self._documents[resolved]
        if resolved in self._stored:
            return read_blob_document(self._store, self._stored[resolved].digest, name)
        raise ImageError(
            f"the archive has no file {name!r}", hint="it is incomplete or not an image archive"
        )

    def ensure_blob(self, digest: str, size: int) -> None:
        if digest in self._blobs:
            if self._blobs[digest] != size:
                raise ImageError(
                    f"blob {digest}: {self._blobs[digest]} bytes in the archive, "
                    f"{size} announced by its descriptor"
                )
            return
        if self._store.has_blob(digest) and self._store.blob_size(digest) == size:
            return
        raise ImageError(
            f"the archive is missing blob {digest}", hint="it is incomplete; nothing was loaded"
        )

    def stored(self, name: str) -> StoredFile:
        resolved = self._resolve(name)
        if resolved in self._stored:
            return self._stored[resolved]
        if resolved in self._documents:
            data = self._documents[resolved]
            return StoredFile(self._store.put_blob(data), len(data))
        raise ImageError(
            f"the archive has no file {name!r}", hint="it is incomplete; nothing was loaded"
        )


# --- layout directories --------------------------------------------------------------------


@contextmanager
def open_regular_beneath(root: Path, relpath: str, what: str) -> Iterator[tuple[BinaryIO, int]]:
    """`root/relpath` opened for reading, never through a symlink; the file and its size.

    `relpath` must already be clean (no `..`, no leading `/`). Anything that is
    missing, a symlink or not a regular file is an ImageError naming `what`.
    """
    parts = relpath.split("/")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    fds: list[int] = []
    try:
        try:
            fds.append(os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
            for part in parts[:-1]:
                fds.append(os.open(part, flags | os.O_DIRECTORY, dir_fd=fds[-1]))
            fd = os.open(parts[-1], flags, dir_fd=fds[-1])
        except FileNotFoundError:
            raise ImageError(
                f"{root}: {what} is missing", hint="the layout is incomplete"
            ) from None
        except OSError as err:
            if err.errno in (errno.ELOOP, errno.ENOTDIR):
                raise ImageError(
                    f"{root}: {what} is a symlink or not a regular file",
                    hint="layout files must be regular files inside the layout",
                ) from None
            raise ImageError(f"{root}: cannot open {what}: {err.strerror}") from None
        with os.fdopen(fd, "rb") as source:
            info = os.fstat(source.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ImageError(f"{root}: {what} is not a regular file")
            yield source, info.st_size
    finally:
        for dir_fd in fds:
            os.close(dir_fd)


class LayoutDirFiles:
    """An OCI image layout directory, read on demand without following symlinks."""

    def __init__(self, store: Store, root: Path):
        self._store = store
        self._root = root

    @contextmanager
    def _open(self, name: str) -> Iterator[tuple[BinaryIO, int]]:
        relpath = canonical_name(name, "file in the layout")
        with open_regular_beneath(self._root, relpath, repr(name)) as opened:
            yield opened

    def exists(self, name: str) -> bool:
        """Whether anything is there (a symlink too: reading it then says what is wrong)."""
        return os.path.lexists(self._root / canonical_name(name, "file in the layout"))

    def read_document(self, name: str) -> bytes:
        with self._open(name) as (source, size):
            if size > MAX_DOCUMENT:
                raise ImageError(f"{self._root}: {name!r} is larger than {MAX_DOCUMENT >> 20} MiB")
            return source.read(MAX_DOCUMENT + 1)

    def ensure_blob(self, digest: str, size: int) -> None:
        if self._store.has_blob(digest) and self._store.blob_size(digest) == size:
            return
        with self._open(blob_name(digest)) as (source, actual):
            if actual != size:
                raise ImageError(
                    f"blob {digest}: {actual} bytes in the layout, {size} in its descriptor"
                )
            _copy_verified(source, self._store, digest, size)

    def stored(self, name: str) -> StoredFile:
        digest = digest_of_blob_name(canonical_name(name))
        with self._open(name) as (source, size):
            return _copy_verified(source, self._store, digest, size)


def hash_stream(stream: BinaryIO) -> str:
    """sha256 of everything left in `stream`."""
    hasher = hashlib.sha256()
    while block := stream.read(_CHUNK):
        hasher.update(block)
    return "sha256:" + hasher.hexdigest()
