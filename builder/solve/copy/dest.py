"""The destination of a COPY/ADD: a root filesystem that is written without escaping it.

The destination root (the stage's merged view, or an empty directory for
`--link`) is hostile: an earlier step may have made `/app` a symlink to
`/../../tmp/outside`. A destination path is resolved the way the container
would see it (`builder.runtime.rootpath`: symlinks followed relative to the
root, `..` stopped at it), then every directory is opened component by
component with O_NOFOLLOW, and everything is created with `*at` calls
relative to those directory fds. A symlink swapped in on the way stops the
walk; nothing can land outside the root.
"""

from __future__ import annotations

import os
import posixpath
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from builder.errors import BuildError
from builder.runtime.rootpath import InRootPath, resolve_in_root
from builder.solve.copy.rootdir import DIR_FLAGS, OpenRoot

__all__ = ["DestRoot", "DirOwner", "container_path", "dest_path", "lstat_at"]

_NEW_DIR_MODE: Final = 0o755


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    """lstat of `name` in the directory `dir_fd`, None when nothing is there."""
    try:
        return os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return None


def container_path(parts: Sequence[str]) -> str:
    """`/a/b` for ("a", "b"), `/` for ()."""
    return "/" + "/".join(parts)


def dest_path(workdir: str, dest: str) -> str:
    """The absolute destination of `COPY ... <dest>`, as BuildKit normalizes it.

    A relative dest is taken from `workdir`; `.` and `` mean the workdir as a
    directory; a trailing `/` (or `/.`) is kept: it says "a directory".
    """
    if dest in ("", "."):
        dest = "./"
    joined = dest if dest.startswith("/") else posixpath.join(workdir or "/", dest)
    cleaned = posixpath.normpath("/" + joined)
    cleaned = "/" + cleaned.lstrip("/")  # normpath keeps a leading "//"
    if cleaned != "/" and (dest.endswith("/") or dest.endswith("/.")):
        cleaned += "/"
    return cleaned


@dataclass(frozen=True)
class DirOwner:
    """Owner and time of the directories a copy has to create (BuildKit's MkdirAll)."""

    uid: int = 0
    gid: int = 0
    mtime_ns: int | None = None  #: None: now


class DestRoot(OpenRoot):
    """An open destination root. Close it (or use it as a context manager)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, shown=f"the destination root {root}")
        self.is_root_user = os.geteuid() == 0

    # ---------------------------------------------------------------- lookups

    def resolve(self, path: str) -> InRootPath:
        """Where `path` lands in the root, symlinks (even the last one) resolved inside it."""
        try:
            return resolve_in_root(self.root, path)
        except NotADirectoryError as exc:
            raise BuildError(
                f"cannot copy to {path}: /{exc.filename} is not a directory",
                hint="an earlier step left a file where a directory is needed",
            ) from None
        except OSError as exc:
            raise BuildError(f"cannot resolve {path} in the image: {exc.strerror or exc}") from None

    def open_dir(self, parts: Sequence[str]) -> int:
        """A new fd of the directory at `parts`, reached without following any symlink."""
        return self.open_below(
            parts, lambda fd, index, exc: self._not_a_dir(fd, parts[index], parts[: index + 1], exc)
        )

    def _not_a_dir(self, fd: int, name: str, parts: Sequence[str], exc: OSError) -> BuildError:
        st = lstat_at(fd, name)
        where = container_path(parts)
        if st is not None and stat.S_ISLNK(st.st_mode):
            return BuildError(
                f"{where} changed into a symlink while it was written to",
                hint="something else is modifying the image being built",
            )
        if st is None:
            return BuildError(f"{where} disappeared while it was written to")
        if not stat.S_ISDIR(st.st_mode):
            return BuildError(f"cannot copy to {where}: it is not a directory")
        return BuildError(f"cannot open {where}: {exc.strerror or exc}")

    # ---------------------------------------------------------------- creation

    def ensure_dir(self, path: str, owner: DirOwner) -> tuple[str, ...]:
        """Make the directory `path` and its missing parents (0755, `owner`); return its parts.

        Symlinks on the way are resolved inside the root; an existing
        non-directory is an error.
        """
        resolved = self.resolve(path)
        fd = self.open_dir(resolved.existing)
        parts = list(resolved.existing)
        try:
            for name in resolved.missing:
                fd = self._make_child_dir(fd, name, parts, owner)
                parts.append(name)
        finally:
            os.close(fd)
        return tuple(parts)

    def _make_child_dir(self, parent_fd: int, name: str, parts: list[str], owner: DirOwner) -> int:
        created = False
        try:
            os.mkdir(name, 0o700, dir_fd=parent_fd)
            created = True
        except FileExistsError:
            pass  # made meanwhile, or a dangling name: opening it decides
        except OSError as exc:
            os.close(parent_fd)
            raise BuildError(
                f"cannot create {container_path([*parts, name])}: {exc.strerror or exc}"
            ) from None
        try:
            child = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        except OSError as exc:
            err = self._not_a_dir(parent_fd, name, [*parts, name], exc)
            os.close(parent_fd)
            raise err from None
        os.close(parent_fd)
        if created:
            try:
                if self.is_root_user:
                    os.fchown(child, owner.uid, owner.gid)
                os.fchmod(child, _NEW_DIR_MODE)
                mtime = time.time_ns() if owner.mtime_ns is None else owner.mtime_ns
                os.utime(child, ns=(mtime, mtime))
            except OSError as exc:
                os.close(child)
                raise BuildError(
                    f"cannot set up {container_path([*parts, name])}: {exc.strerror or exc}"
                ) from None
        return child

    def lookup(self, parts: Sequence[str]) -> os.stat_result | None:
        """lstat of the entry at `parts` (its parents reached without following symlinks)."""
        if not parts:
            return os.fstat(self.fd)
        try:
            fd = self.open_dir(parts[:-1])
        except BuildError:
            return None
        try:
            return lstat_at(fd, parts[-1])
        finally:
            os.close(fd)
