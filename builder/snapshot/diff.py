"""The change a step made: its overlay upper dir, trimmed to what really changed.

overlayfs copies a directory up as soon as anything beneath it is touched,
so the upper dir holds directories whose only change is their mtime: mount
points made for the container (`/etc` for `/etc/hosts`), parents of files
written then deleted. `prune_unchanged_dirs` removes those, so that such a
step adds no layer (containerd's diff service compares the same way:
metadata, not mtimes, for directories).

fuse-overlayfs (rootless builds where the kernel refuses overlayfs) marks
opaque directories its own way: a `user.fuseoverlayfs.opaque` xattr, a
`.wh..wh..opq` file and a `.wh..opq` whiteout inside, and on every directory
it creates, even where no lower layer has one. `prune_unchanged_dirs` turns
that into the kernel's form, opaque only where a lower layer has something
at that path (where the kernel would have made the directory over a
whiteout), so that both give the same layer.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from builder.snapshot.trees import walk
from builder.snapshot.whiteouts import (
    FUSE_OVERLAY_XATTR_PREFIX,
    OPAQUE_MARKER,
    WHITEOUT_PREFIX,
    opaque_xattr,
    overlay_xattr_prefix,
)

_FUSE_OPAQUE = opaque_xattr(FUSE_OVERLAY_XATTR_PREFIX)
#: the whiteout fuse-overlayfs puts beside its `.wh..wh..opq` file
_FUSE_OPAQUE_WHITEOUT = WHITEOUT_PREFIX + ".opq"


def _lower_stat(lowers: list[Path], relpath: str) -> os.stat_result | None:
    for lower in reversed(lowers):
        try:
            return os.lstat(lower / relpath)
        except OSError:  # absent, or a path longer than PATH_MAX: not compared, kept
            continue
    return None


def prune_unchanged_dirs(upper: Path, lowers: list[Path]) -> None:
    """Drop directories overlayfs copied up but the step did not change.

    An empty, non-opaque dir whose owner and mode equal the lower one's
    changed only its mtime, which is not worth a layer (and would make every
    RUN a layer). Bottom up, without recursion: any depth is fine.
    """
    opaque = opaque_xattr(overlay_xattr_prefix())

    def leave(parent_fd: int, name: str, rel: str) -> None:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
        try:
            _from_fuse_opaque(fd, rel, lowers, opaque)
            if os.listdir(fd):
                return
            try:
                if os.getxattr(fd, opaque) == b"y":
                    return
            except OSError:
                pass
            mine = os.fstat(fd)
        finally:
            os.close(fd)
        lower = _lower_stat(lowers, rel)
        if lower is None:
            return
        if (lower.st_mode, lower.st_uid, lower.st_gid) == (mine.st_mode, mine.st_uid, mine.st_gid):
            os.rmdir(name, dir_fd=parent_fd)

    walk(upper, lambda _fd, _name, _rel, st: stat.S_ISDIR(st.st_mode), leave)


def _from_fuse_opaque(fd: int, rel: str, lowers: list[Path], opaque: str) -> None:
    """fuse-overlayfs's opaque mark on the directory `fd` in the kernel's form (see above)."""
    try:
        if os.getxattr(fd, _FUSE_OPAQUE) != b"y":
            return
    except OSError:
        return
    for marker in (OPAQUE_MARKER, _FUSE_OPAQUE_WHITEOUT):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(marker, dir_fd=fd)
    os.removexattr(fd, _FUSE_OPAQUE)
    if _lower_stat(lowers, rel) is not None:
        os.setxattr(fd, opaque, b"y")
