"""The files an SBOM reads, gathered from an image's layers or from a directory.

Only paths that package managers write are kept (`wanted`), so reading a
large image holds a few megabytes at most. Layers are applied in order:
a whiteout (`.wh.NAME`) removes what lower layers had at NAME and below, an
opaque marker (`.wh..wh..opq`) everything lower layers had in its
directory; a hard link takes the content of its target.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from builder.image import mediatypes
from builder.image.model import Descriptor

if TYPE_CHECKING:
    from builder.store import Store

#: Files above these sizes are not read: an rpmdb of a large distro is ~30 MB, a dpkg
#: status ~2 MB; anything larger is not what a package manager wrote (or is hostile).
MAX_DATABASE = 256 << 20
MAX_FILE = 16 << 20
_DATABASES = ("rpmdb.sqlite", "dpkg/status")

_EXACT = frozenset(
    {
        "etc/os-release",
        "usr/lib/os-release",
        "var/lib/dpkg/status",
        "lib/apk/db/installed",
        "var/lib/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
    }
)
_PATTERNS = re.compile(
    r"""(
        var/lib/dpkg/status\.d/[^/]+
      | usr/share/doc/[^/]+/copyright
      | (.*/)?[^/]+\.dist-info/METADATA
      | (.*/)?[^/]+\.egg-info(/PKG-INFO)?
      | (.*/)?node_modules/(@[^/]+/)?[^/]+/package\.json
    )""",
    re.VERBOSE,
)


def wanted(path: str) -> bool:
    """Whether an SBOM reads the file at `path` (relative, no leading slash)."""
    return path in _EXACT or _PATTERNS.fullmatch(path) is not None


def size_limit(path: str) -> int:
    return MAX_DATABASE if path.endswith(_DATABASES) else MAX_FILE


@dataclass
class RootFiles(Mapping[str, bytes]):
    """Relative path -> content of the wanted files of one root filesystem."""

    files: dict[str, bytes] = field(default_factory=dict)
    #: which layer (diff ID or blob digest) last wrote each path, when read from layers
    origin: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, key: str) -> bytes:
        return self.files[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)


def _normal(name: str) -> str:
    """A member name as a path below the root (`./a`, `/a`, `b/../a` are all `a`)."""
    normal = posixpath.normpath("/" + name).lstrip("/")
    return "" if normal == "." else normal


def _drop_below(files: dict[str, bytes], path: str, *, keep_self: bool = False) -> None:
    prefix = path + "/" if path else ""
    for key in [k for k in files if k.startswith(prefix) or (k == path and not keep_self)]:
        del files[key]


def from_layers(store: Store, layers: Iterable[Descriptor]) -> RootFiles:
    """The wanted files of the image made of `layers` (base first), read from the store."""
    from builder.snapshot.compression import decompressing_reader
    from builder.snapshot.tarstream import TarStream
    from builder.snapshot.whiteouts import is_aufs_metadata, parse_whiteout

    result = RootFiles()
    for layer in layers:
        compression = mediatypes.layer_compression(layer.media_type) or "auto"
        added: dict[str, bytes] = {}
        hidden: list[tuple[str, bool]] = []  # (path, opaque)
        with store.open_blob(layer.digest) as blob:
            stream = TarStream(decompressing_reader(blob, compression), what="layer")
            try:
                for member in stream:
                    name = _normal(member.name)
                    if is_aufs_metadata(name):
                        continue
                    whiteout = parse_whiteout(name)
                    if whiteout is not None:
                        hidden.append((whiteout.target, whiteout.name is None))
                    elif member.isreg() and wanted(name) and member.size <= size_limit(name):
                        added[name] = stream.data().read()
                    elif member.islnk() and wanted(name):
                        target = _normal(member.linkname)
                        content = added.get(target, result.files.get(target))
                        if content is not None:
                            added[name] = content
                    elif name in result.files and not member.isdir():
                        hidden.append((name, False))  # now a link, or too large
            finally:
                stream.close()
        for path, opaque in hidden:
            _drop_below(result.files, path, keep_self=opaque)
        for path in added:
            result.origin[path] = layer.digest
        result.files.update(added)
    for path in [p for p in result.origin if p not in result.files]:
        del result.origin[path]
    return result


def from_directory(root: Path, skip: Callable[[str], bool] | None = None) -> RootFiles:
    """The wanted files below an unpacked root filesystem (symlinks are not followed).

    `skip(relpath)` leaves a file out (a build context's `.dockerignore`).
    """
    result = RootFiles()
    for top, dirs, names in os.walk(root):
        rel_top = os.path.relpath(top, root)
        rel_top = "" if rel_top == "." else rel_top
        for name in [*names, *dirs]:
            rel = f"{rel_top}/{name}" if rel_top else name
            if skip is not None and skip(rel):
                continue
            path = os.path.join(top, name)
            if not wanted(rel) or os.path.islink(path) or not os.path.isfile(path):
                continue
            if os.path.getsize(path) <= size_limit(rel):
                with open(path, "rb") as f:
                    result.files[rel] = f.read()
    return result
