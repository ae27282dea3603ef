"""Unpack a layer tar into a directory, safely: the layer is hostile input.

Rules (a LayerError names the entry that breaks one; nothing is written
outside `dest`):

- names are normalised by `paths.member_path` (no absolute names, no "..");
- nothing is ever created through a symlink: every path is reached with
  directory fds and O_NOFOLLOW (`nofollow.NoFollowRoot`); a symlink on the way
  is an error. Symlinks themselves are stored as they are (an absolute target
  is meant for inside the container, and is never followed here);
- a hard link must point at a non-directory that exists under `dest`,
  reached the same way: in flatten mode an earlier entry or a lower layer;
  in overlay mode (one layer unpacked alone into its own snapshot) only an
  earlier entry of the same layer. A link to a lower layer's file is then
  refused with a LayerError that says so, as Docker's overlay2 driver
  (which also unpacks each layer alone) fails on it; Docker's and
  BuildKit's layer writers never produce one;
- an entry replaces what is at its path, except that a directory over a
  directory merges (Docker's rule);
- devices and FIFOs are made only when allowed (default: when root); owners
  only as root; modes keep setuid/setgid/sticky (chmod after chown);
  xattrs from PAX `SCHILY.xattr.*` (trusted.*/security.* only as root,
  trusted.overlay.* and user.overlay.* never), skipped when the filesystem refuses them;
  directory modes and mtimes are set at the end, deepest first;
- whiteouts: flatten mode deletes lower content; overlay mode writes the
  overlayfs form. A whiteout hides lower layers only: an entry of the same
  layer survives it, whichever comes first in the tar.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final, cast

from builder.errors import LayerError
from builder.image.digest import DigestMismatchError
from builder.snapshot.compression import decompressing_reader
from builder.snapshot.nofollow import NoFollowRoot, lstat_at
from builder.snapshot.paths import MAX_LAYER_PATH, member_path, parent_and_base, shown
from builder.snapshot.streams import HashingReader
from builder.snapshot.tarstream import TarStream, member_xattrs
from builder.snapshot.whiteouts import (
    OVERLAY_XATTR_PREFIX,
    WHITEOUT_PREFIX,
    Whiteout,
    is_aufs_metadata,
    is_overlay_whiteout,
    is_overlay_xattr,
    opaque_xattr,
    overlay_xattr_prefix,
    parse_whiteout,
)

__all__ = ["ApplyResult", "apply_layer"]

_COPY_CHUNK: Final = 1 << 20
_FILE_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_ID: Final = (1 << 32) - 2  # (uid_t)-1 means "unchanged" to chown
_DEVICE_TYPES: Final = (tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE)


@dataclass(frozen=True)
class ApplyResult:
    diff_id: str  # sha256 of the uncompressed tar stream (all of it)
    size: int  # uncompressed bytes
    entries: int  # tar members read


def apply_layer(
    stream: BinaryIO,
    dest: Path,
    *,
    compression: str = "auto",
    overlay: bool = False,
    allow_devices: bool | None = None,
    expected_diff_id: str | None = None,
    whiteouts: bool = True,
) -> ApplyResult:
    """Unpack the layer tar read from `stream` into the directory `dest`.

    overlay=False ("flatten"): `dest` holds the lower layers; OCI whiteouts
    delete from it. overlay=True: `dest` is an empty per-layer directory; OCI
    whiteouts become overlayfs whiteouts (0:0 char device, opaque xattr), which
    needs root. Raises LayerError on hostile or broken input, and
    DigestMismatchError when `expected_diff_id` is given and the stream hashes
    differently (dest then holds a layer that is not the one announced:
    discard it). `whiteouts=False` is for plain archives (ADD): `.wh.*` names
    are not interpreted, and since a layer cannot carry a file by such a
    name (it would read as a deletion), a member with a `.wh.*` component
    is refused with a LayerError naming it, before anything is committed.
    """
    is_root = os.geteuid() == 0
    prefix = overlay_xattr_prefix()
    if allow_devices is None:
        # root of a user namespace (a rootless build) cannot make devices either
        allow_devices = is_root and prefix == OVERLAY_XATTR_PREFIX
    reader = decompressing_reader(stream, compression)
    try:
        hashed = HashingReader(reader)
        try:
            root = NoFollowRoot(dest)
        except OSError as e:
            raise LayerError(f"cannot apply a layer to {dest}: {e.strerror or e}") from None
        with root:
            applier = _Applier(
                root,
                overlay=overlay,
                allow_devices=allow_devices,
                is_root=is_root,
                whiteouts=whiteouts,
                opaque=opaque_xattr(prefix),
            )
            tar = TarStream(cast(BinaryIO, hashed))
            try:
                for member in tar:
                    applier.apply(member, tar)
            finally:
                tar.close()
            hashed.drain()
            applier.finish()
    finally:
        if reader is not stream:
            reader.close()
    if expected_diff_id is not None and hashed.digest != expected_diff_id:
        raise DigestMismatchError(expected_diff_id, hashed.digest, "layer (uncompressed)")
    return ApplyResult(diff_id=hashed.digest, size=hashed.size, entries=applier.entries)


@dataclass
class _DeferredDir:
    path: str
    mode: int
    mtime_ns: int


@dataclass
class _Applier:
    root: NoFollowRoot
    overlay: bool
    allow_devices: bool
    is_root: bool
    whiteouts: bool = True  #: False: an archive (ADD), where a `.wh.*` name is refused
    #: overlayfs's opaque-directory xattr (`user.overlay.opaque` in a user namespace)
    opaque: str = opaque_xattr(OVERLAY_XATTR_PREFIX)
    entries: int = 0
    #: paths this layer created, and their ancestors: whiteouts do not touch them
    kept: set[str] = field(default_factory=set)
    dirs: list[_DeferredDir] = field(default_factory=list)

    def apply(self, member: tarfile.TarInfo, tar: TarStream) -> None:
        self.entries += 1
        name = member.name
        path = member_path(name, limit=MAX_LAYER_PATH)
        if self.whiteouts and is_aufs_metadata(path):
            return
        if not self.whiteouts:
            _refuse_whiteout_name(path, name)
        try:
            whiteout = parse_whiteout(path) if self.whiteouts else None
            if whiteout is not None:
                self._whiteout(whiteout, name)
            else:
                self._entry(member, path, tar)
        except OSError as e:
            raise LayerError(f"cannot apply layer entry {shown(name)}: {e.strerror or e}") from None
        except (ValueError, OverflowError) as e:
            raise LayerError(f"layer entry {shown(name)} is invalid: {e}") from None

    # ---------------------------------------------------------------- entries

    def _entry(self, member: tarfile.TarInfo, path: str, tar: TarStream) -> None:
        name = member.name
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            if member.type not in _DEVICE_TYPES:
                raise LayerError(
                    f"layer entry {shown(name)}: unsupported tar entry type {member.type!r}"
                )
            if not self.allow_devices:
                return  # devices need root; skipped like Docker does in a user namespace
        _check_ids(member)
        mtime_ns = _mtime_ns(member)
        if not path:
            if not member.isdir():
                raise LayerError(
                    f"layer entry {shown(name)}: the image root can only be a directory"
                )
            self._dir_metadata(self.root.open_dir("", create=False, what=name), member, "")
            return
        self._keep(path)
        parent, base = parent_and_base(path)
        parent_fd = self.root.open_dir(parent, create=True, what=f"layer entry {shown(name)}")
        assert parent_fd is not None
        try:
            existing = lstat_at(parent_fd, base)
            was_whiteout = existing is not None and is_overlay_whiteout(existing)
            if existing is not None and not (stat.S_ISDIR(existing.st_mode) and member.isdir()):
                self.root.remove_at(parent_fd, base, path)
            if member.isdir():
                if existing is None or not stat.S_ISDIR(existing.st_mode):
                    os.mkdir(base, 0o700, dir_fd=parent_fd)
                dir_fd = os.open(base, _DIR_FLAGS, dir_fd=parent_fd)
                if self.overlay and was_whiteout:
                    # the same layer whited it out: the lower directory stays hidden
                    os.setxattr(dir_fd, self.opaque, b"y")
                self._dir_metadata(dir_fd, member, path)
            elif member.isreg():
                self._file(parent_fd, base, member, tar, mtime_ns)
            elif member.islnk():
                self._hardlink(parent_fd, base, member, path)
            elif member.issym():
                if not member.linkname:
                    raise LayerError(f"layer entry {shown(name)}: symlink with an empty target")
                os.symlink(member.linkname, base, dir_fd=parent_fd)
                self._name_metadata(parent_fd, base, member, mtime_ns, symlink=True)
            else:
                kind = {tarfile.CHRTYPE: stat.S_IFCHR, tarfile.BLKTYPE: stat.S_IFBLK}
                file_type = kind.get(member.type, stat.S_IFIFO)
                device = os.makedev(member.devmajor, member.devminor)
                os.mknod(base, file_type | 0o600, device, dir_fd=parent_fd)
                self._name_metadata(parent_fd, base, member, mtime_ns, symlink=False)
        finally:
            os.close(parent_fd)

    def _file(
        self, parent_fd: int, base: str, member: tarfile.TarInfo, tar: TarStream, mtime_ns: int
    ) -> None:
        fd = os.open(base, _FILE_FLAGS, 0o600, dir_fd=parent_fd)
        try:
            source = tar.data()
            with io.FileIO(fd, "wb", closefd=False) as sink:
                while chunk := source.read(_COPY_CHUNK):
                    view = memoryview(chunk)
                    while view:
                        written = sink.write(view) or 0
                        view = view[written:]
            if self.is_root:
                os.fchown(fd, member.uid, member.gid)
            self._xattrs(fd, member)
            os.fchmod(fd, member.mode & 0o7777)
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)

    def _hardlink(self, parent_fd: int, base: str, member: tarfile.TarInfo, path: str) -> None:
        name = member.name
        escapes = (
            f"layer entry {shown(name)}: hardlink escapes the layer: target {member.linkname!r}"
        )
        try:
            target = member_path(member.linkname, limit=MAX_LAYER_PATH)
        except LayerError:
            raise LayerError(escapes) from None
        if not target or target == path:
            raise LayerError(f"{escapes} is not a file")
        target_parent, target_base = parent_and_base(target)
        try:
            target_fd = self.root.open_dir(target_parent, create=False, what=escapes)
        except LayerError as e:
            raise LayerError(e.message, hint="a hard link may not go through a symlink") from None
        if target_fd is None:
            raise LayerError(f"{escapes} does not exist{self._lower_hint()}")
        try:
            st = lstat_at(target_fd, target_base)
            if st is None:
                raise LayerError(f"{escapes} does not exist{self._lower_hint()}")
            if stat.S_ISDIR(st.st_mode):
                raise LayerError(f"{escapes} is a directory")
            os.link(
                target_base,
                base,
                src_dir_fd=target_fd,
                dst_dir_fd=parent_fd,
                follow_symlinks=False,
            )
        finally:
            os.close(target_fd)

    def _lower_hint(self) -> str:
        if not self.overlay:
            return ""
        return (
            " in this layer (a hard link to a file of a lower layer cannot be unpacked "
            "into a layer's own snapshot)"
        )

    # ---------------------------------------------------------------- metadata

    def _dir_metadata(self, dir_fd: int | None, member: tarfile.TarInfo, path: str) -> None:
        assert dir_fd is not None
        try:
            if self.is_root:
                os.fchown(dir_fd, member.uid, member.gid)
            self._xattrs(dir_fd, member)
        finally:
            os.close(dir_fd)
        self.dirs.append(_DeferredDir(path, member.mode & 0o7777, _mtime_ns(member)))

    def _name_metadata(
        self, parent_fd: int, base: str, member: tarfile.TarInfo, mtime_ns: int, *, symlink: bool
    ) -> None:
        """Metadata of a symlink, device or FIFO (no fd can be opened for writing)."""
        if self.is_root:
            os.chown(base, member.uid, member.gid, dir_fd=parent_fd, follow_symlinks=False)
        self._xattrs(f"/proc/self/fd/{parent_fd}/{base}", member)
        if not symlink:
            os.chmod(base, member.mode & 0o7777, dir_fd=parent_fd, follow_symlinks=False)
        os.utime(base, ns=(mtime_ns, mtime_ns), dir_fd=parent_fd, follow_symlinks=False)

    def _xattrs(self, target: int | str, member: tarfile.TarInfo) -> None:
        for key, value in member_xattrs(member).items():
            if is_overlay_xattr(key):
                continue  # only whiteout translation may speak to overlayfs
            if key.startswith(("trusted.", "security.")) and not self.is_root:
                continue
            try:
                if isinstance(target, int):
                    os.setxattr(target, key, value)
                else:
                    os.setxattr(target, key, value, follow_symlinks=False)
            except (OSError, ValueError):
                continue  # the filesystem refuses it (no xattrs, user.* on a symlink, ...)

    def finish(self) -> None:
        """Directory modes and mtimes, deepest first, after everything inside them."""
        for deferred in sorted(
            self.dirs, key=lambda d: d.path.count("/") + bool(d.path), reverse=True
        ):
            try:
                fd = self.root.open_dir(deferred.path, create=False, what=deferred.path)
            except LayerError:
                continue  # replaced by a symlink later in the layer
            if fd is None:
                continue
            try:
                os.fchmod(fd, deferred.mode)
                os.utime(fd, ns=(deferred.mtime_ns, deferred.mtime_ns))
            finally:
                os.close(fd)

    # ---------------------------------------------------------------- whiteouts

    def _keep(self, path: str) -> None:
        while path and path not in self.kept:
            self.kept.add(path)
            path = parent_and_base(path)[0]

    def _whiteout(self, whiteout: Whiteout, name: str) -> None:
        what = f"layer entry {shown(name)}"
        if self.overlay:
            self._overlay_whiteout(whiteout, what)
            return
        if whiteout.name is None:
            self._hide_lower_tree(whiteout.parent, what)
            return
        parent_fd = self.root.open_dir(whiteout.parent, create=False, what=what)
        if parent_fd is None:
            return
        try:
            st = lstat_at(parent_fd, whiteout.name)
            if st is None:
                return
            if whiteout.target not in self.kept:
                self.root.remove_at(parent_fd, whiteout.name, whiteout.target)
            elif stat.S_ISDIR(st.st_mode):
                self._hide_lower_tree(whiteout.target, what)
        finally:
            os.close(parent_fd)

    def _hide_lower_tree(self, top: str, what: str) -> None:
        """Remove everything below `top` that this layer did not create."""
        pending = [top]
        while pending:
            path = pending.pop()
            dir_fd = self.root.open_dir(path, create=False, what=what)
            if dir_fd is None:
                continue
            try:
                for child in sorted(os.listdir(dir_fd)):
                    child_path = f"{path}/{child}" if path else child
                    if child_path not in self.kept:
                        self.root.remove_at(dir_fd, child, child_path)
                        continue
                    st = lstat_at(dir_fd, child)
                    if st is not None and stat.S_ISDIR(st.st_mode):
                        pending.append(child_path)
            finally:
                os.close(dir_fd)

    def _overlay_whiteout(self, whiteout: Whiteout, what: str) -> None:
        if whiteout.name is None:
            target, target_is_dir = whiteout.parent, True
        else:
            target = whiteout.target
            target_is_dir = False
            if target in self.kept:
                parent_fd = self.root.open_dir(whiteout.parent, create=False, what=what)
                st = None if parent_fd is None else lstat_at(parent_fd, whiteout.name)
                if parent_fd is not None:
                    os.close(parent_fd)
                if st is None or not stat.S_ISDIR(st.st_mode):
                    return  # this layer's own entry stands; the lower one is shadowed anyway
                target_is_dir = True
        if target_is_dir:
            dir_fd = self.root.open_dir(target, create=True, what=what)
            assert dir_fd is not None
            try:
                os.setxattr(dir_fd, self.opaque, b"y")
            except OSError as e:
                raise _overlay_needs_root(what, e) from None
            finally:
                os.close(dir_fd)
            return
        assert whiteout.name is not None
        parent_fd = self.root.open_dir(whiteout.parent, create=True, what=what)
        assert parent_fd is not None
        try:
            self.root.remove_at(parent_fd, whiteout.name, target)
            try:
                os.mknod(whiteout.name, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent_fd)
            except OSError as e:
                raise _overlay_needs_root(what, e) from None
        finally:
            os.close(parent_fd)


def _refuse_whiteout_name(path: str, name: str) -> None:
    """A plain archive may not hold `.wh.*` names: no layer can store them as files."""
    if WHITEOUT_PREFIX in path and any(
        part.startswith(WHITEOUT_PREFIX) for part in path.split("/")
    ):
        raise LayerError(
            f"archive member {shown(name)}: a file named '.wh.*' cannot be stored in a layer "
            "(in an image the name means a deletion)",
            hint="rename or remove it in the archive",
        )


def _overlay_needs_root(what: str, error: OSError) -> LayerError:
    return LayerError(
        f"{what}: cannot write an overlayfs whiteout: {error.strerror or error}",
        hint="overlay mode needs root (CAP_MKNOD, trusted.* xattrs); use flatten mode otherwise",
    )


def _check_ids(member: tarfile.TarInfo) -> None:
    for label, value in (("uid", member.uid), ("gid", member.gid)):
        if not 0 <= value <= _MAX_ID:
            raise LayerError(f"layer entry {member.name!r}: {label} {value} is out of range")


def _mtime_ns(member: tarfile.TarInfo) -> int:
    mtime = member.mtime
    try:
        ns = mtime * 1_000_000_000 if isinstance(mtime, int) else int(mtime * 1e9)
    except (OverflowError, ValueError):
        ns = None
    if ns is None or not -(1 << 63) <= ns < (1 << 63):
        raise LayerError(f"layer entry {member.name!r}: mtime {mtime!r} is out of range")
    return ns
