"""A root directory a COPY/ADD reads from or writes to, held open by an fd.

Everything below it is reached from that fd, one O_NOFOLLOW directory at a
time (`DIR_FLAGS`), so a symlink swapped in on the way cannot lead outside.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final, Self

from builder.errors import BuildError

__all__ = ["DIR_FLAGS", "OpenRoot"]

DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class OpenRoot:
    """An open root directory (`fd`). Close it (or use it as a context manager)."""

    def __init__(self, root: Path, *, shown: str) -> None:
        """Open `root`; `shown` names it in the error when that fails."""
        self.root = root
        try:
            self.fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise BuildError(f"cannot open {shown}: {exc.strerror or exc}") from None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def open_below(
        self,
        names: Sequence[str],
        fail: Callable[[int, int, OSError], Exception] | None = None,
    ) -> int:
        """A new fd of the directory `names` below the root, reached without following symlinks.

        When a component cannot be opened, `fail(parent_fd, index, error)`
        gives the exception to raise (default: the OSError itself).
        """
        fd = os.dup(self.fd)
        try:
            for index, name in enumerate(names):
                try:
                    child = os.open(name, DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if fail is None:
                        raise
                    raise fail(fd, index, exc) from None
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd
