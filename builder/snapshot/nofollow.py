"""A directory tree that is changed without ever following a symlink.

Every path is reached component by component from the root's directory fd
with O_NOFOLLOW|O_DIRECTORY, so a symlink planted anywhere in a path (by a
layer, or by a lower layer) stops the walk instead of redirecting it.
Callers then create, link or remove one name inside the directory fd they
got back. A few recently used directory fds are cached; every removal goes
through `remove_at`, which drops cached fds at or below what it removes.
A directory is reached from the nearest cached one above it, or (going up
with `..`) below it, so deep trees cost no walk from the root per entry.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections import OrderedDict
from pathlib import Path
from types import TracebackType
from typing import Final

from builder.errors import LayerError
from builder.snapshot.trees import remove_at

__all__ = ["NoFollowRoot", "lstat_at"]

_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CACHE_SIZE: Final = 32
_ANCESTOR_LOOKUPS: Final = 8  # how far up to look for a cached directory


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    """lstat of `name` in `dir_fd`, or None if nothing is there."""
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None


class NoFollowRoot:
    """Directory fds below `path`, reached without following symlinks."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._cache: OrderedDict[str, int] = OrderedDict()

    def __enter__(self) -> NoFollowRoot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        for fd in self._cache.values():
            os.close(fd)
        self._cache.clear()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def open_dir(self, rel: str, *, create: bool, what: str) -> int | None:
        """A new fd (the caller closes it) of the directory `rel` ("" is the root).

        Missing directories are made (mode 0755) when `create`, else the answer
        is None; None too for a non-directory in the way when not `create`. A
        symlink anywhere on the way raises LayerError naming `what`.
        """
        fd = self._borrow(rel, create=create, what=what)
        return None if fd is None else os.dup(fd)

    def _borrow(self, rel: str, *, create: bool, what: str) -> int | None:
        if not rel:
            return self._fd
        cached = self._cache.get(rel)
        if cached is not None:
            self._cache.move_to_end(rel)
            return cached
        parts = rel.split("/")
        start, base_fd = 0, self._fd
        for depth in range(len(parts) - 1, max(0, len(parts) - 1 - _ANCESTOR_LOOKUPS), -1):
            ancestor = self._cache.get("/".join(parts[:depth]))
            if ancestor is not None:
                start, base_fd = depth, ancestor
                break
        if start == 0 and len(parts) > _ANCESTOR_LOOKUPS:
            above = self._up_from_below(rel, len(parts))
            if above is not None:
                self._remember(rel, above)
                return above
        fd = base_fd
        try:
            for index in range(start, len(parts)):
                child = self._open_child(fd, parts, index, create=create, what=what)
                if fd != base_fd:
                    os.close(fd)
                if child is None:
                    return None
                fd = child
        except BaseException:
            if fd != base_fd:
                os.close(fd)
            raise
        self._remember(rel, fd)
        return fd

    def _up_from_below(self, rel: str, depth: int) -> int | None:
        """A new fd of `rel` reached with `..` from a cached directory below it.

        Cheaper than coming down from the root when the tree is deep (a
        bottom-up pass). `..` of a real directory is its real parent, and a
        cached fd is dropped when anything at or above it is removed, so no
        symlink can redirect this. None when no cached fd is near enough.
        """
        prefix = rel + "/"
        best, steps = -1, depth
        for key, fd in self._cache.items():
            if key.startswith(prefix):
                up = key.count("/", len(prefix)) + 1
                if up < steps:
                    best, steps = fd, up
        if best < 0:
            return None
        fd = best
        for _ in range(steps):
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            if fd != best:
                os.close(fd)
            fd = parent
        return fd

    def _open_child(
        self, parent_fd: int, parts: list[str], index: int, *, create: bool, what: str
    ) -> int | None:
        name = parts[index]
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            if not create:
                return None
        except OSError:
            st = lstat_at(parent_fd, name)
            path = "/".join(parts[: index + 1])
            if st is not None and stat.S_ISLNK(st.st_mode):
                raise LayerError(
                    f"{what}: {path!r} is a symlink; a layer may not write through a symlink",
                    hint="the layer (or a layer below it) is broken or hostile",
                ) from None
            if st is not None and stat.S_ISDIR(st.st_mode):
                raise  # a directory we may not open: the OS error says why
            if not create:
                return None
            raise LayerError(f"{what}: {path!r} is not a directory") from None
        with contextlib.suppress(FileExistsError):  # made meanwhile: fine
            os.mkdir(name, 0o755, dir_fd=parent_fd)
        return self._open_child(parent_fd, parts, index, create=False, what=what)

    def _remember(self, rel: str, fd: int) -> None:
        self._cache[rel] = fd
        if len(self._cache) > _CACHE_SIZE:
            _, old = self._cache.popitem(last=False)
            os.close(old)

    def forget(self, rel: str) -> None:
        """Drop cached fds of `rel` and of everything below it."""
        prefix = rel + "/"
        for key in [k for k in self._cache if k == rel or k.startswith(prefix) or not rel]:
            os.close(self._cache.pop(key))

    def remove_at(self, dir_fd: int, name: str, rel: str) -> None:
        """Remove `name` in `dir_fd` (the path `rel`), a directory with all it holds.

        Symlinks are removed, never followed.
        """
        st = lstat_at(dir_fd, name)
        if st is None:
            return
        self.forget(rel)
        if stat.S_ISDIR(st.st_mode):
            remove_at(dir_fd, name)  # any depth, without recursion
        else:
            os.unlink(name, dir_fd=dir_fd)
