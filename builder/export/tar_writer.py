"""Deterministic, streamed tar archives of small documents and store blobs.

An archive is described first (`TarEntry` list), then written in name order
with every header normalized: owner 0:0 with empty names, mtime 0, mode 0644
for files and 0755 for directories. The same entries give the same bytes.
File contents are copied in chunks from their source, so an archive of a
multi-gigabyte image never sits in memory; the output may be a pipe.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

#: Opens a file entry's content for reading, when it is written.
Opener = Callable[[], BinaryIO]


@dataclass(frozen=True)
class TarEntry:
    """One archive member: a directory (`opener` None) or a file of `size` bytes."""

    name: str
    size: int = 0
    opener: Opener | None = None

    @property
    def is_dir(self) -> bool:
        return self.opener is None


def file_entry(name: str, data: bytes) -> TarEntry:
    """A file entry holding `data`."""
    return TarEntry(name, len(data), lambda: io.BytesIO(data))


def dir_entries(names: Iterable[str]) -> list[TarEntry]:
    """Directory entries for every parent directory of `names`."""
    dirs: set[str] = set()
    for name in names:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return [TarEntry(d) for d in dirs]


def _header(entry: TarEntry) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if entry.is_dir:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.type = tarfile.REGTYPE
        info.mode = 0o644
        info.size = entry.size
    return info


def write_tar(entries: Iterable[TarEntry], out: BinaryIO) -> None:
    """Write `entries` as one tar stream to `out`, sorted by name (duplicates collapse)."""
    by_name: dict[str, TarEntry] = {}
    for entry in entries:
        by_name.setdefault(entry.name, entry)
    # PAX only when a header needs it (never for the short names used here): plain ustar
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(by_name):
            entry = by_name[name]
            header = _header(entry)
            if entry.opener is None:
                archive.addfile(header)
                continue
            with entry.opener() as source:  # tarfile raises OSError if it is short
                archive.addfile(header, source)
