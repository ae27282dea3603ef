"""Checks on the names inside a layer tar, shared by layer apply and tar import.

A member name is hostile until `member_path` has normalised it: no absolute
names, no `..`, no NUL, no name longer than PATH_MAX. `TarPathTracker`
follows what a tar would build, entry by entry, without touching a disk, so
a tar can be checked for writes through its own symlinks and for hard links
that point outside of it.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from builder.errors import LayerError

__all__ = [
    "MAX_LAYER_PATH",
    "MAX_PATH",
    "Kind",
    "TarPathTracker",
    "member_path",
    "parent_and_base",
    "parents",
    "shown",
]

MAX_PATH: Final = 4096  # PATH_MAX on Linux, in bytes, for a name relative to the root
#: the longest name a layer may hold: layers are unpacked through directory
#: fds, so names past PATH_MAX are fine (32,768 levels of one-letter dirs)
MAX_LAYER_PATH: Final = 1 << 16


def member_path(name: str, *, what: str = "layer entry", limit: int = MAX_PATH) -> str:
    """The normalised relative path of a tar member name ("" is the root).

    Strips a leading "./", drops "." components and duplicate slashes; rejects
    an absolute name, any ".." component, NUL bytes and names over `limit` bytes.
    """
    if "\x00" in name:
        raise LayerError(f"{what} {shown(name)}: the name contains a NUL byte")
    if name.startswith("/"):
        raise LayerError(
            f"{what} {shown(name)}: absolute names are not allowed in a layer",
            hint="layer entries are relative to the image root, e.g. 'etc/passwd'",
        )
    if "//" in name or "/." in name or name.startswith(".") or name.endswith("/"):
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise LayerError(f"{what} {shown(name)}: '..' would climb out of the image root")
        path = "/".join(parts)
    else:
        path = name  # already normal: no empty, "." or ".." component
    if len(path) > limit // 4 and len(path.encode("utf-8", "surrogateescape")) > limit:
        raise LayerError(f"{what} {shown(name)}: the name is longer than {limit} bytes")
    return path


def parent_and_base(path: str) -> tuple[str, str]:
    """("a/b", "c") for "a/b/c"; ("", "c") for "c"."""
    parent, _, base = path.rpartition("/")
    return parent, base


def parents(path: str) -> list[str]:
    """The proper ancestors of a relative path, outermost first ("" excluded)."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def shown(name: str) -> str:
    """repr of a (hostile, maybe huge) name, shortened for a message."""
    return repr(name if len(name) <= 80 else name[:60] + "..." + name[-16:])


class Kind(Enum):
    DIR = "dir"
    SYMLINK = "symlink"
    OTHER = "other"  # files, hard links, devices, FIFOs


class TarPathTracker:
    """What a tar builds so far, to check each entry against the ones before it.

    A later entry replaces an earlier one at the same path (a directory over a
    directory merges), so only the latest kind of every path is kept.
    """

    def __init__(self) -> None:
        self._kinds: dict[str, Kind] = {}

    def check_parents(self, path: str, name: str) -> None:
        """Reject an entry whose parent path goes through a symlink or a non-directory."""
        for parent in parents(path):
            kind = self._kinds.get(parent)
            if kind is Kind.SYMLINK:
                raise LayerError(
                    f"layer entry {shown(name)}: {parent!r} is a symlink in this tar; "
                    "writing through it could land outside the image root"
                )
            if kind is Kind.OTHER:
                raise LayerError(f"layer entry {shown(name)}: {parent!r} is not a directory")

    def check_hardlink(self, target: str, name: str) -> None:
        """A hard link must name an earlier non-directory entry of the same tar."""
        kind = self._kinds.get(target)
        if kind is None or kind is Kind.DIR:
            raise LayerError(
                f"layer entry {shown(name)}: hardlink escapes the layer: target {target!r} "
                + ("is a directory" if kind is Kind.DIR else "is not an earlier entry of it")
            )

    def add(self, path: str, kind: Kind) -> None:
        old = self._kinds.get(path)
        if old is Kind.DIR and kind is not Kind.DIR:
            prefix = path + "/"
            for child in [p for p in self._kinds if p.startswith(prefix)]:
                del self._kinds[child]
        self._kinds[path] = kind
