"""Paths inside a container's root filesystem, resolved the way the container sees them.

An image is hostile input: `/etc/passwd` may be a symlink to `/etc/shadow` of
the host, `/etc` may be `../../..`. Every lookup here walks the root one
component at a time with `O_NOFOLLOW` file descriptors, follows symlinks
relative to the root (an absolute target restarts at the root, `..` stops at
it), and so can never reach a file outside the root filesystem.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from dataclasses import dataclass
from pathlib import Path

MAX_SYMLINKS = 40  # the kernel's own limit for one lookup
_O_PATH = getattr(os, "O_PATH", 0)


@dataclass(frozen=True)
class InRootPath:
    """Where a path lands inside the root: the components that exist (symlinks
    resolved, none of them a symlink) and, below them, the ones that do not."""

    existing: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def relative(self) -> str:
        """The resolved path relative to the root, without a leading slash ("" is the root)."""
        return "/".join(self.existing + self.missing)


def _split(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def _walk(root: Path, path: str) -> tuple[InRootPath, int]:
    """Resolve `path` under `root`; return it and an O_PATH fd of its last existing component.

    The caller closes the fd. Raises NotADirectoryError when a non-directory is
    walked through, OSError(ELOOP) on too many symlinks.
    """
    fds = [os.open(root, _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)]
    names: list[str] = []
    missing: list[str] = []
    parts = deque(_split(path))
    links = 0
    try:
        while parts:
            part = parts.popleft()
            if missing:
                # Below a missing directory only lexical rules apply: it will be created.
                if part == "..":
                    missing.pop()
                else:
                    missing.append(part)
                continue
            if part == "..":
                if len(fds) > 1:
                    os.close(fds.pop())
                    names.pop()
                continue
            try:
                fd = os.open(part, _O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fds[-1])
            except FileNotFoundError:
                missing.append(part)
                continue
            mode = os.fstat(fd).st_mode
            if stat.S_ISLNK(mode):
                os.close(fd)
                links += 1
                if links > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
                target = os.readlink(part, dir_fd=fds[-1])
                if target.startswith("/"):
                    while len(fds) > 1:
                        os.close(fds.pop())
                    names.clear()
                parts.extendleft(reversed(_split(target)))
                continue
            if parts and not stat.S_ISDIR(mode):
                os.close(fd)
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", "/".join([*names, part]))
            fds.append(fd)
            names.append(part)
        last = fds.pop()
        return InRootPath(tuple(names), tuple(missing)), last
    finally:
        for fd in fds:
            os.close(fd)


def resolve_in_root(root: Path, path: str) -> InRootPath:
    """Resolve `path` (absolute or not, it is taken from the root) inside `root`."""
    resolved, fd = _walk(root, path)
    os.close(fd)
    return resolved


def read_file_in_root(root: Path, path: str, limit: int) -> bytes | None:
    """The first `limit + 1` bytes of a regular file inside `root`, or None.

    None when the file is missing, is not a regular file (a fifo, a device, a
    directory) or cannot be reached (symlink loop, a file used as a directory).
    Reading one byte past `limit` lets the caller tell "too large" from "exactly full".
    """
    try:
        resolved, fd = _walk(root, path)
    except OSError:
        return None
    try:
        if resolved.missing or not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with open(f"/proc/self/fd/{fd}", "rb") as f:
            return f.read(limit + 1)
    finally:
        os.close(fd)


def is_directory_in_root(root: Path, path: str) -> bool:
    """Whether `path` names an existing directory inside `root` (symlinks resolved in the root)."""
    try:
        resolved, fd = _walk(root, path)
    except OSError:
        return False
    try:
        return not resolved.missing and stat.S_ISDIR(os.fstat(fd).st_mode)
    finally:
        os.close(fd)


def mkdir_in_root(root: Path, path: str, uid: int = 0, gid: int = 0) -> bool:
    """`mkdir -p` inside `root` without following symlinks out of it; True if it made any."""
    where = resolve_in_root(root, path)
    if not where.missing:
        return False
    current = root.joinpath(*where.existing)
    for part in where.missing:
        current = current / part
        os.mkdir(current, 0o755)
        os.chown(current, uid, gid)
    return True
