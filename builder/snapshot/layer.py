"""Write layer blobs: a directory tree (or an imported tar) as a deterministic layer tar.

`write_layer(root, out)` tars a directory the same way every time:

- entries sorted by the bytes of their path (so parents come before children),
  the root itself not included; directories end in "/";
- PAX format; uid/gid kept, uname/gname empty; mode with setuid/setgid/sticky;
  mtimes in whole seconds, clamped to `source_date_epoch` when given;
  no atime/ctime;
- files with several links in the tree: the first path in sort order is the
  file, the others are hard links to it;
- xattrs as `SCHILY.xattr.NAME` records, sorted (trusted.overlay.* and
  user.overlay.* never);
- devices and FIFOs kept, sockets left out (tar cannot hold them).

With `from_overlay_upper=True` the tree is an overlayfs upper directory: a
0:0 character device becomes a `.wh.NAME` file and an opaque directory gets a
`.wh..wh..opq` entry (both mode 0, owner 0:0, the mtime of what they stand
for). The mount must not use redirect_dir or metacopy: their xattrs are
refused, since the upper directory alone would not hold the whole change.

The uncompressed tar is hashed as it is written (diff_id) and the compressed
bytes as they leave for `out` (digest, size): one pass, nothing held in memory.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, cast

from builder.errors import LayerError
from builder.snapshot.compression import compressing_writer, decompressing_reader
from builder.snapshot.paths import MAX_LAYER_PATH, Kind, TarPathTracker, member_path, shown
from builder.snapshot.streams import HashingWriter
from builder.snapshot.tarstream import TarStream, member_xattrs
from builder.snapshot.tarwriter import TarHeader, TarWriter
from builder.snapshot.trees import open_below, walk
from builder.snapshot.whiteouts import (
    OPAQUE_MARKER,
    WHITEOUT_PREFIX,
    is_aufs_metadata,
    is_overlay_whiteout,
    is_overlay_xattr,
    opaque_xattr,
    overlay_xattr_prefix,
    parse_whiteout,
)

__all__ = ["LayerBlob", "recompress_tar", "write_layer"]

_COPY_BUFSIZE: Final = 1 << 20
_READ_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_OVERLAY_REFUSED: Final = ("redirect", "metacopy")  # in overlayfs's xattr namespace
_ALLOWED_TYPES: Final = (
    tarfile.REGTYPE,
    tarfile.AREGTYPE,
    tarfile.CONTTYPE,
    tarfile.DIRTYPE,
    tarfile.SYMTYPE,
    tarfile.LNKTYPE,
    tarfile.CHRTYPE,
    tarfile.BLKTYPE,
    tarfile.FIFOTYPE,
)


@dataclass(frozen=True)
class LayerBlob:
    diff_id: str  # sha256 of the uncompressed tar
    digest: str  # sha256 of the bytes written to `out`
    size: int  # bytes written to `out`
    compression: str  # "gzip" | "zstd" | "none"
    entries: int = 0  # tar entries written (0: the layer changes nothing)
    newest_mtime: int = 0  # the latest mtime of an entry (seconds; 0 without entries)


# --------------------------------------------------------------------------- the tar writer


class _LayerTarWriter:
    """tar -> diff_id hash -> compressor -> digest hash -> out.

    Uncompressed, the digest is the diff_id: the bytes are hashed once.
    """

    def __init__(self, out: BinaryIO, compression: str, level: int | None) -> None:
        self._compression = compression
        self._digest = HashingWriter(out)
        self._compressor = compressing_writer(
            cast(BinaryIO, self._digest), compression, level=level
        )
        self._diff = self._digest if compression == "none" else HashingWriter(self._compressor)
        self._tar = TarWriter(cast(BinaryIO, self._diff))
        self.entries = 0
        self.newest_mtime = 0

    def add(self, header: TarHeader, data: BinaryIO | None = None) -> None:
        self._tar.add(header, data)
        self.entries += 1
        self.newest_mtime = max(self.newest_mtime, header.mtime)

    def finish(self) -> LayerBlob:
        self._tar.close()
        self._compressor.close()
        return LayerBlob(
            diff_id=self._diff.digest,
            digest=self._digest.digest,
            size=self._digest.size,
            compression=self._compression,
            entries=self.entries,
            newest_mtime=self.newest_mtime,
        )

    def abort(self) -> None:
        """Stop the compressor threads after a failure; what reached `out` is garbage."""
        with contextlib.suppress(Exception):
            self._compressor.close()


def _xattr_items(xattrs: dict[str, bytes]) -> tuple[tuple[str, bytes], ...]:
    return tuple((key, xattrs[key]) for key in sorted(xattrs) if not is_overlay_xattr(key))


# --------------------------------------------------------------------------- directory -> layer


@dataclass(slots=True)
class _TreeEntry:
    """What a tar entry needs of one path (compact: a big tree has many of them)."""

    name: str  # path in the tar (for a whiteout: the `.wh.` name)
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int  # whole seconds
    nlink: int
    inode: tuple[int, int]  # (st_dev, st_ino)
    rdev: int
    xattrs: tuple[tuple[str, bytes], ...] = ()
    whiteout: bool = False  # a `.wh.` file or an opaque marker, not the thing on disk
    linkname: str = ""  # a symlink's target, read while the tree is walked

    @classmethod
    def of(cls, name: str, st: os.stat_result, xattrs: tuple[tuple[str, bytes], ...]) -> _TreeEntry:
        return cls(
            name,
            st.st_mode,
            st.st_uid,
            st.st_gid,
            st.st_size,
            st.st_mtime_ns // 1_000_000_000,
            st.st_nlink,
            (st.st_dev, st.st_ino),
            st.st_rdev,
            xattrs,
        )


def write_layer(
    root: Path,
    out: BinaryIO,
    *,
    compression: str = "gzip",
    source_date_epoch: int | None = None,
    from_overlay_upper: bool = False,
    exclude: Callable[[str], bool] | None = None,
    level: int | None = None,
) -> LayerBlob:
    """Write the tree under `root` as a layer blob to `out` (see the module docstring).

    `exclude(path)` (path relative to root, "a/b") leaves an entry out, and all
    below it for a directory. `level` is the compression level. The tree is
    read through directory fds, so any depth is fine (see `trees.walk`).
    """
    if from_overlay_upper and os.geteuid() != 0:
        raise LayerError(
            "reading an overlayfs upper directory needs root, or root of a user namespace "
            "(its overlay xattrs)"
        )
    top = os.fspath(root)
    try:
        entries = _collect(root, from_overlay_upper=from_overlay_upper, exclude=exclude)
        top_fd = os.open(top, _DIR_FLAGS)
    except OSError as e:
        raise LayerError(f"cannot read the tree {top}: {e.strerror or e}") from None
    entries.sort(key=lambda entry: os.fsencode(entry.name))
    writer = _LayerTarWriter(out, compression, level)
    try:
        links: dict[tuple[int, int], str] = {}
        for entry in entries:
            try:
                _write_entry(writer, top_fd, entry, links, source_date_epoch)
            except (OSError, EOFError) as e:
                raise LayerError(
                    f"cannot read {_shown_path(top, entry.name)}: {e} "
                    "(did the tree change while the layer was written?)"
                ) from None
        return writer.finish()
    except BaseException:
        writer.abort()
        raise
    finally:
        os.close(top_fd)


def _shown_path(top: str, rel: str) -> str:
    """`top/rel` for a message, the middle of a very long path left out."""
    path = os.path.join(top, rel)
    return path if len(path) <= 240 else f"{path[:120]}...{path[-100:]}"


def _collect(
    root: Path, *, from_overlay_upper: bool, exclude: Callable[[str], bool] | None
) -> list[_TreeEntry]:
    top = os.fspath(root)
    entries: list[_TreeEntry] = []
    prefix = overlay_xattr_prefix()
    opaque = opaque_xattr(prefix)

    def visit(dir_fd: int, name: str, rel: str, st: os.stat_result) -> bool:
        if exclude is not None and exclude(rel):
            return False
        if stat.S_ISSOCK(st.st_mode):
            return False
        if len(rel) > MAX_LAYER_PATH // 4 and len(os.fsencode(rel)) > MAX_LAYER_PATH:
            raise LayerError(
                f"{_shown_path(top, rel)}: the path is longer than {MAX_LAYER_PATH} bytes, "
                "more than a layer may hold"
            )
        xattrs = _read_xattrs(f"/proc/self/fd/{dir_fd}/{name}")
        if from_overlay_upper:
            _check_overlay_entry(_shown_path(top, rel), name, xattrs, prefix)
            if is_overlay_whiteout(st):
                rel_dir = rel[: -len(name) - 1]
                entry = _TreeEntry.of(_whiteout_name(rel_dir, name), st, ())
                entry.whiteout = True
                entries.append(entry)
                return False
            if stat.S_ISDIR(st.st_mode) and xattrs.get(opaque) == b"y":
                marker = _TreeEntry.of(f"{rel}/{OPAQUE_MARKER}", st, ())
                marker.whiteout = True
                entries.append(marker)
        entry = _TreeEntry.of(rel, st, _xattr_items(xattrs))
        if stat.S_ISLNK(st.st_mode):
            entry.linkname = os.readlink(name, dir_fd=dir_fd)
        entries.append(entry)
        return stat.S_ISDIR(st.st_mode)

    walk(root, visit, cross_mounts=True)
    return entries


def _whiteout_name(rel_dir: str, base: str) -> str:
    return f"{rel_dir}/{WHITEOUT_PREFIX}{base}" if rel_dir else WHITEOUT_PREFIX + base


def _check_overlay_entry(path: str, name: str, xattrs: dict[str, bytes], prefix: str) -> None:
    """Refuse what an upper directory cannot say on its own, or a layer cannot hold."""
    for key in (prefix + refused for refused in _OVERLAY_REFUSED):
        if key in xattrs:
            raise LayerError(
                f"{path}: overlayfs {key} xattr; the upper directory alone "
                "does not hold this change",
                hint="mount the overlay with redirect_dir=off,metacopy=off",
            )
    if name.startswith(WHITEOUT_PREFIX):
        raise LayerError(
            f"{path}: a file named '.wh.*' cannot be stored in a layer (the name means a deletion)",
            hint="rename or remove it in the build step",
        )


def _read_xattrs(path: str) -> dict[str, bytes]:
    """The xattrs of `path` (not followed); {} where the filesystem has none.

    ENOENT is raised: the entry was just seen, so /proc is missing (or the
    tree changed), and xattrs must not be dropped silently.
    """
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except FileNotFoundError:
        raise
    except OSError:
        return {}
    values: dict[str, bytes] = {}
    for name in names:
        with contextlib.suppress(OSError):
            values[name] = os.getxattr(path, name, follow_symlinks=False)
    return values


def _write_entry(
    writer: _LayerTarWriter,
    top_fd: int,
    entry: _TreeEntry,
    links: dict[tuple[int, int], str],
    source_date_epoch: int | None,
) -> None:
    mtime = entry.mtime
    if source_date_epoch is not None:
        mtime = min(mtime, source_date_epoch)
    if entry.whiteout:
        writer.add(TarHeader(entry.name, tarfile.REGTYPE, 0, mtime=mtime))
        return
    mode = entry.mode
    size, linkname, major, minor = 0, "", 0, 0
    first = entry.name
    if not stat.S_ISDIR(mode) and entry.nlink > 1:
        first = links.setdefault(entry.inode, entry.name)
    if first != entry.name:
        kind, linkname = tarfile.LNKTYPE, first
    elif stat.S_ISREG(mode):
        kind, size = tarfile.REGTYPE, entry.size
    elif stat.S_ISDIR(mode):
        kind = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        kind, linkname = tarfile.SYMTYPE, entry.linkname
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        major, minor = os.major(entry.rdev), os.minor(entry.rdev)
    elif stat.S_ISFIFO(mode):
        kind = tarfile.FIFOTYPE
    else:
        return
    header = TarHeader(
        entry.name,
        kind,
        mode & 0o7777,
        entry.uid,
        entry.gid,
        mtime,
        size,
        linkname,
        major,
        minor,
        entry.xattrs,
    )
    if kind == tarfile.REGTYPE:
        with io.FileIO(open_below(top_fd, entry.name, _READ_FLAGS), "rb") as data:
            writer.add(header, cast(BinaryIO, data))
    else:
        writer.add(header)


# --------------------------------------------------------------------------- tar -> layer


def recompress_tar(
    src: BinaryIO, out: BinaryIO, *, compression: str = "gzip", level: int | None = None
) -> LayerBlob:
    """Check a (possibly compressed) rootfs tar and write it as a layer blob to `out`.

    Every member is checked against the layer rules (LayerError naming it): no
    absolute names or "..", nothing written through a symlink of the tar, hard
    links only to earlier entries, sane whiteout names, known entry types.
    Entries are written in their order, normalised: names without "./",
    uname/gname empty, whole-second mtimes, xattrs kept, other PAX records and
    aufs metadata dropped. diff_id is the sha256 of the tar written.
    """
    reader = decompressing_reader(src, "auto", what="tar")
    writer = _LayerTarWriter(out, compression, level)
    try:
        tar = TarStream(reader, what="tar")
        tracker = TarPathTracker()
        for member in tar:
            header = _checked_copy(member, tracker)
            if header is not None:
                writer.add(header, tar.data() if header.kind == tarfile.REGTYPE else None)
        tar.close()
        while reader.read(_COPY_BUFSIZE):
            pass  # the rest of the compressed stream must be sound too
        return writer.finish()
    except BaseException:
        writer.abort()
        raise
    finally:
        if reader is not src:
            reader.close()


def _checked_copy(member: tarfile.TarInfo, tracker: TarPathTracker) -> TarHeader | None:
    name = member.name
    path = member_path(name)
    if is_aufs_metadata(path):
        return None
    if member.type not in _ALLOWED_TYPES:
        raise LayerError(f"layer entry {shown(name)}: unsupported tar entry type {member.type!r}")
    if not path and not member.isdir():
        raise LayerError(f"layer entry {shown(name)}: the image root can only be a directory")
    if not 0 <= member.uid < (1 << 32) - 1 or not 0 <= member.gid < (1 << 32) - 1:
        raise LayerError(f"layer entry {shown(name)}: uid/gid out of range")
    try:
        mtime = int(member.mtime)
    except (OverflowError, ValueError):
        raise LayerError(
            f"layer entry {shown(name)}: mtime {member.mtime!r} is out of range"
        ) from None
    is_whiteout = parse_whiteout(path) is not None
    tracker.check_parents(path, name)
    kind = tarfile.REGTYPE if member.isreg() else member.type
    linkname = ""
    if member.islnk():
        escapes = (
            f"layer entry {shown(name)}: hardlink escapes the layer: target {member.linkname!r}"
        )
        try:
            linkname = member_path(member.linkname)
        except LayerError:
            raise LayerError(escapes) from None
        tracker.check_hardlink(linkname, name)
    elif member.issym():
        if not member.linkname or "\x00" in member.linkname:
            raise LayerError(f"layer entry {shown(name)}: invalid symlink target")
        linkname = member.linkname
    if path and not is_whiteout:
        tracked = Kind.DIR if member.isdir() else Kind.SYMLINK if member.issym() else Kind.OTHER
        tracker.add(path, tracked)
    devices = member.ischr() or member.isblk()
    return TarHeader(
        path or ".",
        kind,
        member.mode & 0o7777,
        uid=member.uid,
        gid=member.gid,
        mtime=mtime,
        size=member.size if member.isreg() else 0,
        linkname=linkname,
        devmajor=member.devmajor if devices else 0,
        devminor=member.devminor if devices else 0,
        xattrs=_xattr_items(member_xattrs(member)),
    )
