"""Private trees for bind and cache mounts: copies to write on, filtered views to read.

`clone_tree` reproduces a file or directory tree elsewhere with its owners,
modes, times, extended attributes, symlinks (as symlinks, never followed),
fifos and device nodes; sockets are left out. With `hardlink=True` regular
files are hard links to the originals (for read-only mounts only: writing
through a link would change the original), falling back to a copy across
file systems. `visible(rel, lstat)` picks what to take (.dockerignore).

The source is walked with O_NOFOLLOW directory fds, so a symlink swapped in
during the walk is copied as a symlink and never leads the walk elsewhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_COPY_CHUNK = 1 << 30
_NO_FAST_COPY = (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF)
_NO_LINK = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES)
# Overlay's own attributes describe the layers below, not the file.
_SKIPPED_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.")

#: Is the entry at this path (relative to the tree's root) taken? Gets its lstat.
Visible = Callable[[str, os.stat_result], bool]


class _Cloner:
    def __init__(self, hardlink: bool, visible: Visible | None) -> None:
        self.hardlink = hardlink
        self.visible = visible

    def directory(self, src_fd: int, dest: str, rel: str) -> None:
        with os.scandir(src_fd) as entries:
            names = sorted(entry.name for entry in entries)
        for name in names:
            try:
                st = os.lstat(name, dir_fd=src_fd)
            except FileNotFoundError:
                continue  # gone meanwhile
            child_rel = f"{rel}/{name}" if rel else name
            if self.visible is not None and not self.visible(child_rel, st):
                continue
            self.entry(src_fd, name, st, os.path.join(dest, name), child_rel)

    def entry(self, parent_fd: int, name: str, st: os.stat_result, dest: str, rel: str) -> None:
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(dest, 0o700)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
            try:
                self.directory(fd, dest, rel)
                _set_metadata(dest, st, xattrs_from=fd)
            finally:
                os.close(fd)
        elif stat.S_ISREG(mode):
            if self.hardlink and self._link(parent_fd, name, dest):
                return
            self._copy_file(parent_fd, name, dest, st)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(name, dir_fd=parent_fd), dest)
            _set_metadata(dest, st, link=True)
        elif stat.S_ISFIFO(mode):
            os.mkfifo(dest, 0o600)
            _set_metadata(dest, st)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            os.mknod(dest, stat.S_IFMT(mode) | 0o600, st.st_rdev)
            _set_metadata(dest, st)
        # sockets are not content: left out, as tar does

    def _link(self, parent_fd: int, name: str, dest: str) -> bool:
        try:
            os.link(name, dest, src_dir_fd=parent_fd, follow_symlinks=False)
            return True
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise
            if exc.errno == errno.EXDEV:
                self.hardlink = False  # every other file is on the same other file system
            return False

    def _copy_file(self, parent_fd: int, name: str, dest: str, st: os.stat_result) -> None:
        src = os.open(name, _FILE_FLAGS, dir_fd=parent_fd)
        try:
            out = os.open(dest, _NEW_FILE_FLAGS, 0o600)
            try:
                _copy_bytes(src, out)
            finally:
                os.close(out)
            _set_metadata(dest, st, xattrs_from=src)
        finally:
            os.close(src)


def _copy_bytes(src: int, out: int) -> None:
    try:
        while os.copy_file_range(src, out, _COPY_CHUNK):
            pass
        return
    except OSError as exc:
        if exc.errno not in _NO_FAST_COPY:
            raise
    while chunk := os.read(src, 1 << 20):  # carries on where the fast copy stopped
        view = memoryview(chunk)
        while view:
            view = view[os.write(out, view) :]


def _copy_xattrs(src: int, dest: int | str) -> None:
    """Copy extended attributes (file capabilities, ACLs...), as far as the file systems allow."""
    try:
        names = os.listxattr(src)
    except OSError:
        return
    for name in names:
        if name.startswith(_SKIPPED_XATTR_PREFIXES):
            continue
        with contextlib.suppress(OSError):
            os.setxattr(dest, name, os.getxattr(src, name))


def _set_metadata(
    path: str, st: os.stat_result, *, link: bool = False, xattrs_from: int | None = None
) -> None:
    # chown first: it clears set-id bits and file capabilities, which come back after.
    os.chown(path, st.st_uid, st.st_gid, follow_symlinks=False)
    if not link:
        os.chmod(path, stat.S_IMODE(st.st_mode))
    if xattrs_from is not None:
        _copy_xattrs(xattrs_from, path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def clone_tree(
    src: Path,
    dest: Path,
    *,
    hardlink: bool = False,
    visible: Visible | None = None,
    rel: str = "",
) -> None:
    """Reproduce the file or directory `src` (no symlink in its path) as the new `dest`.

    `rel` is `src`'s path relative to the root that `visible` judges paths
    against ("" when `src` is that root).
    """
    parent_fd = os.open(src.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        name = src.name if src.name else "."
        st = os.lstat(name, dir_fd=parent_fd)
        cloner = _Cloner(hardlink, visible)
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(dest, 0o700)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
            try:
                cloner.directory(fd, str(dest), rel)
                _set_metadata(str(dest), st, xattrs_from=fd)
            finally:
                os.close(fd)
        else:
            cloner.entry(parent_fd, name, st, str(dest), rel)
    finally:
        os.close(parent_fd)
