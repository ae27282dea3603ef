"""Durable file operations and the translation of OS errors into StoreError."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from builder.errors import StoreError
from builder.snapshot import trees

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def store_error(err: OSError, what: str) -> StoreError:
    """A StoreError for an OS error that happened while doing `what` ("writing blob X")."""
    if err.errno in _NO_SPACE:
        return StoreError(
            f"no space left on device while {what}",
            hint="free disk space (for example with `pybuild image prune`) and try again",
        )
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StoreError(
            f"{err.strerror or err} while {what}",
            hint="run as a user who may write the store, or set PYBUILD_ROOT to another directory",
        )
    return StoreError(f"{err.strerror or err} while {what}")


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def write_atomically(dest: Path, data: bytes, temp: Path, what: str) -> None:
    """Write `data` to `temp`, fsync it, rename it over `dest`, fsync the directory.

    On any error the temp file is removed and `dest` is as it was.
    """
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, dest)
        fsync_dir(dest.parent)
    except OSError as err:
        unlink_quietly(temp)
        raise store_error(err, what) from None
    except BaseException:
        unlink_quietly(temp)
        raise


def remove_tree(path: Path) -> None:
    """Delete a tree that may hold read-only dirs, device nodes, mounts, any depth of dirs."""
    trees.remove_tree(path)


def tree_size(path: Path) -> int:
    """Apparent size of the files under `path` (hard links counted once); races tolerated."""
    return trees.tree_size(path)
