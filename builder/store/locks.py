"""File locks (flock) shared by every process that opens the same store.

Lock order, to stay free of deadlocks: gc lock, then index lock or one
snapshot lock. Lock fds are close-on-exec; a process forked while holding
one shares it with its child (use the spawn start method with a store).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from builder.errors import StoreError
from builder.store.files import store_error


def _open_lock(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise store_error(err, f"opening lock file {path}") from None


@contextmanager
def file_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold an flock on `path` (created if missing), waiting for it."""
    fd = _open_lock(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


class GcLock:
    """The store's GC lock: shared by writers (leases), exclusive for prune.

    Shared holds of one GcLock nest and may come from several threads; they
    share one lock fd. `exclusive()` refuses to run while this object holds a
    shared lock, because waiting for our own lease would never end.
    """

    def __init__(self, path: Path, on_first_use: Callable[[], None] | None = None) -> None:
        """`on_first_use` runs once, the first time the lock is held (either side)."""
        self._path = path
        self._on_first_use = on_first_use
        self._mutex = threading.Lock()
        self._holders = 0
        self._fd: int | None = None

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._mutex:
            if self._holders == 0:
                fd = _open_lock(self._path)
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH)
                except BaseException:
                    os.close(fd)
                    raise
                self._fd = fd
            self._holders += 1
            try:
                self._first_use()
            except BaseException:
                self._release_shared()
                raise
        try:
            yield
        finally:
            with self._mutex:
                self._release_shared()

    def _first_use(self) -> None:
        hook, self._on_first_use = self._on_first_use, None
        if hook is not None:
            hook()

    def _release_shared(self) -> None:
        self._holders -= 1
        if self._holders == 0 and self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._mutex:
            if self._holders:
                raise StoreError(
                    "cannot prune the store while this process holds a lease on it",
                    hint="prune after the build, pull or load in progress has finished",
                )
        with file_lock(self._path):
            with self._mutex:
                self._first_use()
            yield
