"""What differs between the root filesystems of two stored images (`pybuild diff IMAGE1 IMAGE2`).

Nothing is unpacked: each image's layers are read as tar streams, in order,
into an in-memory tree of entries (whiteouts and opaque markers delete what
the layers below hold, an entry that is not a directory replaces a whole
subtree, a directory over a directory keeps its children), and the two trees
are compared path by path. A path only the second image has is `A`, one only
the first has is `D` (not what is below a deleted directory, as `docker
diff` prints a deletion), one both have with another type, mode, owner, size,
content digest, link target, device numbers, xattrs or (unless
`ignore_mtime`) mtime is `C`, with the names of the fields that differ.

A hard link counts as a file with its target's content and `hardlink` set
to the path it points at. Layers both images share are read once. The root
directory itself is not compared (as `docker diff` never lists `/`).
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Literal

from builder.snapshot.compression import decompressing_reader
from builder.snapshot.paths import member_path
from builder.snapshot.tarstream import TarStream, member_xattrs
from builder.snapshot.whiteouts import is_aufs_metadata, parse_whiteout

if TYPE_CHECKING:
    from builder.store.records import ImageRecord
    from builder.store.store import Store

__all__ = ["Entry", "PathChange", "diff_images", "diff_trees", "image_tree"]

ChangeKind = Literal["A", "C", "D"]
_CHUNK = 1 << 20
_TYPES: dict[bytes, str] = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.LNKTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}


@dataclass(frozen=True)
class Entry:
    """One path of an image's root filesystem, as its topmost layer says."""

    type: str  #: file, dir, symlink, char, block or fifo
    mode: int  #: permission bits with setuid/setgid/sticky
    uid: int
    gid: int
    size: int = 0
    digest: str = ""  #: sha256 of a file's content
    linkname: str = ""  #: a symlink's target
    hardlink: str = ""  #: the path a hard link points at (in its layer)
    device: str = ""  #: "MAJOR:MINOR" of a device
    mtime: int = 0  #: whole seconds
    xattrs: tuple[tuple[str, str], ...] = ()  #: (name, hex value), sorted

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["mode"] = f"{self.mode:04o}"
        data["xattrs"] = dict(self.xattrs)
        return {key: value for key, value in data.items() if value not in ("", {})}


#: an implicit parent directory (a layer names `a/b` without an `a` entry)
_IMPLICIT = Entry("dir", 0o755, 0, 0)
_COMPARED = tuple(f.name for f in fields(Entry))


@dataclass(frozen=True, order=True)
class PathChange:
    """A path the two images disagree on: `A` added, `D` deleted, `C` changed."""

    path: str  #: absolute, as `docker diff` prints it
    kind: ChangeKind
    fields: tuple[str, ...] = ()  #: for `C`: what differs (`type`, `digest`, `mtime`...)
    old: Entry | None = field(default=None, compare=False)  #: in the first image
    new: Entry | None = field(default=None, compare=False)  #: in the second image

    def __str__(self) -> str:
        return f"{self.kind} {self.path}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "kind": self.kind}
        if self.fields:
            data["fields"] = list(self.fields)
        if self.old is not None:
            data["old"] = self.old.to_json()
        if self.new is not None:
            data["new"] = self.new.to_json()
        return data


class _Node:
    """A directory of the tree being built: its entry and its children by name."""

    __slots__ = ("children", "entry")

    def __init__(self, entry: Entry) -> None:
        self.entry = entry
        self.children: dict[str, _Node] = {}


#: one layer, read: its whiteouts (parent directory, name; name None: opaque) and entries
_Layer = tuple[list[tuple[str, str | None]], list[tuple[str, Entry]]]


def _read_layer(store: Store, digest: str) -> _Layer:
    """A layer's whiteouts and entries, in tar order (LayerError when it is damaged)."""
    whiteouts: list[tuple[str, str | None]] = []
    entries: list[tuple[str, Entry]] = []
    files: dict[str, Entry] = {}  # for hard links: entries of this layer by path
    with store.open_blob(digest) as blob:
        reader = decompressing_reader(blob, "auto", what="layer")
        try:
            tar = TarStream(reader)
            for member in tar:
                path = member_path(member.name)
                if not path or is_aufs_metadata(path):
                    continue
                whiteout = parse_whiteout(path)
                if whiteout is not None:
                    whiteouts.append((whiteout.parent, whiteout.name))
                    continue
                entry = _entry(member, tar, files)
                files[path] = entry
                entries.append((path, entry))
            tar.close()
        finally:
            if reader is not blob:
                reader.close()
    return whiteouts, entries


def _entry(member: tarfile.TarInfo, tar: TarStream, files: dict[str, Entry]) -> Entry:
    entry = Entry(
        type=_TYPES.get(member.type, "file"),
        mode=member.mode & 0o7777,
        uid=member.uid,
        gid=member.gid,
        mtime=int(member.mtime),
        xattrs=tuple(sorted((k, v.hex()) for k, v in member_xattrs(member).items())),
    )
    if member.islnk():
        target_path = member_path(member.linkname)
        target = files.get(target_path)
        return replace(
            entry,
            size=target.size if target else 0,
            digest=target.digest if target else "",
            hardlink="/" + target_path,
        )
    if member.isreg():
        sha = hashlib.sha256()
        data = tar.data()
        while chunk := data.read(_CHUNK):
            sha.update(chunk)
        return replace(entry, size=member.size, digest="sha256:" + sha.hexdigest())
    if member.issym():
        return replace(entry, linkname=member.linkname)
    if member.ischr() or member.isblk():
        return replace(entry, device=f"{member.devmajor}:{member.devminor}")
    return entry


def _apply(root: _Node, layer: _Layer) -> None:
    """One layer over the tree: its whiteouts hide what is below, then its entries land."""
    whiteouts, entries = layer
    for parent, name in whiteouts:
        directory = _find(root, parent)
        if directory is None:
            continue
        if name is None:
            directory.children.clear()  # opaque: nothing of the layers below stays
        else:
            directory.children.pop(name, None)
    for path, entry in entries:
        *parents, base = path.split("/")
        directory = root
        for part in parents:
            child = directory.children.get(part)
            if child is None or child.entry.type != "dir":
                child = directory.children[part] = _Node(_IMPLICIT)
            directory = child
        existing = directory.children.get(base)
        if existing is not None and existing.entry.type == "dir" and entry.type == "dir":
            existing.entry = entry  # a directory over a directory keeps its children
        else:
            directory.children[base] = _Node(entry)


def _find(root: _Node, path: str) -> _Node | None:
    node = root
    for part in path.split("/") if path else ():
        child = node.children.get(part)
        if child is None or child.entry.type != "dir":
            return None
        node = child
    return node


def _flatten(node: _Node, prefix: str) -> Iterator[tuple[str, Entry]]:
    for name, child in node.children.items():
        path = f"{prefix}/{name}"
        yield path, child.entry
        if child.children:
            yield from _flatten(child, path)


def image_tree(
    store: Store, record: ImageRecord, layers: dict[str, _Layer] | None = None
) -> dict[str, Entry]:
    """The image's root filesystem as {"/path": Entry}; `layers` caches layers already read."""
    cache = {} if layers is None else layers
    root = _Node(_IMPLICIT)
    for descriptor in store.manifest(record).layers:
        if descriptor.digest not in cache:
            cache[descriptor.digest] = _read_layer(store, descriptor.digest)
        _apply(root, cache[descriptor.digest])
    return dict(_flatten(root, ""))


def diff_trees(
    old: dict[str, Entry], new: dict[str, Entry], *, ignore_mtime: bool = False
) -> list[PathChange]:
    """The changes from `old` to `new`, sorted by path."""
    changes: list[PathChange] = []
    deleted: set[str] = set()
    for path in sorted(old.keys() | new.keys()):
        before, after = old.get(path), new.get(path)
        if before is None:
            changes.append(PathChange(path, "A", new=after))
        elif after is None:
            deleted.add(path)
            if path.rpartition("/")[0] not in deleted:  # as docker diff: the top only
                changes.append(PathChange(path, "D", old=before))
        elif before != after:
            differ = tuple(
                name
                for name in _COMPARED
                if getattr(before, name) != getattr(after, name)
                and not (ignore_mtime and name == "mtime")
            )
            if differ:
                changes.append(PathChange(path, "C", differ, before, after))
    return changes


def diff_images(
    store: Store, first: ImageRecord, second: ImageRecord, *, ignore_mtime: bool = False
) -> list[PathChange]:
    """What differs from `first`'s root filesystem to `second`'s (see the module docstring)."""
    if store.config(first).diff_ids == store.config(second).diff_ids:
        return []  # the same layers: the same files
    layers: dict[str, _Layer] = {}
    return diff_trees(
        image_tree(store, first, layers),
        image_tree(store, second, layers),
        ignore_mtime=ignore_mtime,
    )
