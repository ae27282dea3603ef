"""Persistent directories for `RUN --mount=type=cache`, shared by builds through file locks.

Each cache (one id, plus what seeded it: `from=`/`source=`, `uid`, `gid`,
`mode`, as BuildKit keys a cache by its id and its base) lives in

    <cache_root>/mounts/<id slug>-<hash of the key>/
        id              the id and key, for people
        create.lock     held while a directory is made
        0/  0.lock      the cache directory, and its users' lock
        1/  1.lock ...  more directories, made for `private` users while 0 was busy

Sharing, with flocks on `N.lock` (so several pybuild processes cooperate):

- `shared` holds a shared lock on 0: any number of shared users at once;
- `locked` holds an exclusive lock on 0, waiting for every other user;
- `private` takes the first directory nobody uses, making a new one when
  all are in use; it never waits.

A new directory is made in a temporary directory (seeded by a copy of its
source, then given its owner and mode: 0:0 0755 by default) and renamed into
place, so a directory that exists is complete. Waiting polls, so a cancel
event (or Ctrl-C) ends the wait.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from builder.errors import BuildError, StoreError
from builder.runtime.container import RunCancelledError
from builder.snapshot.trees import remove_tree
from builder.solve.mounts.trees import clone_tree

MOUNTS_DIR = "mounts"
MAX_PRIVATE_DIRS = 256
_POLL_FIRST, _POLL_MAX = 0.005, 0.1
_TEMP_PREFIX = "new-"


@dataclass(frozen=True)
class CacheSpec:
    """What identifies one cache directory and how it is made."""

    id: str
    #: the directory copied into a new cache (called only when one is made)
    seed: Callable[[], Path] | None = field(default=None, compare=False)
    seed_key: str = ""  #: the identity of `seed` ("" when none)
    uid: int | None = None
    gid: int | None = None
    mode: int | None = None

    @property
    def key(self) -> str:
        """Everything that tells this cache apart from another with the same id."""
        owner = [self.uid, self.gid, self.mode]
        if not self.seed_key and owner == [None, None, None]:
            return self.id
        return json.dumps([self.id, self.seed_key, *owner])

    @property
    def dir_name(self) -> str:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", self.id).strip("-.")[:48] or "cache"
        return f"{slug}-{hashlib.sha256(self.key.encode()).hexdigest()[:16]}"


def _open_lock(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot open the cache lock {path}: {exc.strerror or exc}") from None


def _try_lock(fd: int, operation: int) -> bool:
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _wait_lock(fd: int, operation: int, cancel: threading.Event | None, what: str) -> None:
    delay = _POLL_FIRST
    while not _try_lock(fd, operation):
        if cancel is not None and cancel.is_set():
            raise RunCancelledError(f"cancelled while waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, _POLL_MAX)


@contextmanager
def _held(path: Path, operation: int, cancel: threading.Event | None, what: str) -> Iterator[None]:
    fd = _open_lock(path)
    try:
        _wait_lock(fd, operation, cancel, what)
        yield
    finally:
        os.close(fd)


def _make_dir(home: Path, number: int, spec: CacheSpec, cancel: threading.Event | None) -> Path:
    """The cache directory `number`, made (seeded, owned, moded) if it does not exist yet."""
    final = home / str(number)
    if final.is_dir():
        return final
    with _held(home / "create.lock", fcntl.LOCK_EX, cancel, f"cache {spec.id!r}"):
        if final.is_dir():
            return final
        for leftover in home.glob(_TEMP_PREFIX + "*"):  # from a process killed while creating
            remove_tree(leftover, ignore_errors=True)
        seed = spec.seed() if spec.seed is not None else None
        temp = home / f"{_TEMP_PREFIX}{number}"
        try:
            if seed is not None:
                clone_tree(seed, temp)
            else:
                temp.mkdir(mode=0o755)
            unset = 0 if seed is None else -1  # a seed keeps its owner unless told
            os.chown(
                temp,
                unset if spec.uid is None else spec.uid,
                unset if spec.gid is None else spec.gid,
            )
            if seed is None or spec.mode is not None:
                os.chmod(temp, 0o755 if spec.mode is None else spec.mode & 0o7777)
            temp.rename(final)
        except BaseException as exc:
            remove_tree(temp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise StoreError(
                    f"cannot make the directory of cache {spec.id!r} in {home}: "
                    f"{exc.strerror or exc}"
                ) from None
            raise
    return final


def _home(cache_root: Path, spec: CacheSpec) -> Path:
    home = cache_root / MOUNTS_DIR / spec.dir_name
    try:
        home.mkdir(parents=True, exist_ok=True)
        label = home / "id"
        if not label.exists():
            label.write_text(json.dumps({"id": spec.id, "key": spec.key}) + "\n")
    except OSError as exc:
        raise StoreError(
            f"cannot make the cache directory for {spec.id!r} in {cache_root}: "
            f"{exc.strerror or exc}"
        ) from None
    return home


@contextmanager
def hold_cache_dir(
    cache_root: Path, spec: CacheSpec, sharing: str, *, cancel: threading.Event | None = None
) -> Iterator[Path]:
    """The cache directory to mount for `spec`, held with `sharing` until the block ends."""
    home = _home(cache_root, spec)
    what = f"cache {spec.id!r}"
    if sharing == "private":
        for number in range(MAX_PRIVATE_DIRS):
            fd = _open_lock(home / f"{number}.lock")
            if _try_lock(fd, fcntl.LOCK_EX):
                break
            os.close(fd)
        else:
            raise BuildError(f"{what}: {MAX_PRIVATE_DIRS} private directories are all in use")
    else:
        fd = _open_lock(home / "0.lock")
        operation = fcntl.LOCK_EX if sharing == "locked" else fcntl.LOCK_SH
        try:
            _wait_lock(fd, operation, cancel, what)
        except BaseException:
            os.close(fd)
            raise
        number = 0
    try:
        yield _make_dir(home, number, spec, cancel)
    finally:
        os.close(fd)
