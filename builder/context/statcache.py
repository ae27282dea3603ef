"""A persistent stat cache: the sha256 of context files that have not changed.

A file whose size, mtime, ctime, inode and device are what they were when it
was hashed is never read again. The cache of one context is one JSON file,
`<cache_dir>/<sha256 of the absolute context path>.json`, replaced atomically
(temp file, fsync, rename): two processes saving at once leave one complete
file (the last writer wins). A missing, truncated or corrupt file is ignored
and rebuilt; it never fails a build.

Racy entries (git's "racy clean" problem): a file changed again within the
filesystem's timestamp granularity after it was hashed would keep the same
stat. A digest is therefore only stored when the file's mtime and ctime are
older than `racy_window_ns` before the moment it was read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Final

__all__ = ["DEFAULT_RACY_WINDOW_NS", "FORMAT_VERSION", "StatCache", "StatKey"]

FORMAT_VERSION: Final = 1
#: Kernel timestamps are coarse (one jiffy, at most 10 ms); keep a wide margin.
DEFAULT_RACY_WINDOW_NS: Final = 100_000_000

StatKey = tuple[int, int, int, int, int]  # size, mtime_ns, ctime_ns, inode, dev
_Record = list[Any]  #: [size, mtime_ns, ctime_ns, inode, dev, sha256 hex], as stored


class StatCache:
    """relpath → (size, mtime_ns, ctime_ns, inode, dev, sha256 hex) for one context.

    `path=None` gives a cache that lives in memory only. Not thread-safe.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        context_dir: str | os.PathLike[str] | None = None,
        racy_window_ns: int = DEFAULT_RACY_WINDOW_NS,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.context = os.path.abspath(context_dir) if context_dir is not None else None
        self.racy_window_ns = racy_window_ns
        self._entries: dict[str, _Record] = {}
        self._dirty = False
        self.hits = 0  #: lookups answered from the cache
        self.misses = 0  #: lookups the caller had to hash
        self.load_error: str | None = None  #: why a cache file was ignored, if it was
        if self.path is not None:
            self._load()

    @classmethod
    def for_context(
        cls,
        cache_dir: str | os.PathLike[str],
        context_dir: str | os.PathLike[str],
        racy_window_ns: int = DEFAULT_RACY_WINDOW_NS,
    ) -> StatCache:
        """The cache of `context_dir`, kept under `cache_dir` (e.g. `<store>/context-cache`)."""
        context = os.path.abspath(context_dir)
        name = hashlib.sha256(os.fsencode(context)).hexdigest() + ".json"
        return cls(Path(cache_dir) / name, context, racy_window_ns)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, relpath: object) -> bool:
        return relpath in self._entries

    # -- file ----------------------------------------------------------------

    def _load(self) -> None:
        assert self.path is not None
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValueError, RecursionError) as exc:
            self.load_error = f"{type(exc).__name__}: {exc}"
            return
        if (
            not isinstance(data, dict)
            or data.get("version") != FORMAT_VERSION
            or (self.context is not None and data.get("context") != self.context)
            or not isinstance(data.get("entries"), dict)
        ):
            self.load_error = "not a stat cache of this version and context"
            return
        # Records are checked when used (`get`), not here: a context has tens of
        # thousands, and a malformed one only ever misses.
        self._entries = data["entries"]

    def save(self) -> None:
        """Write the cache atomically if it changed. Errors are ignored (it is a cache)."""
        if self.path is None or not self._dirty:
            return
        with contextlib.suppress(OSError):
            self._write(self.path)
            self._dirty = False

    def _write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": FORMAT_VERSION,
            "context": self.context,
            "entries": self._entries,
        }
        blob = json.dumps(data, separators=(",", ":")).encode("utf-8", "surrogatepass")
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # -- lookups -------------------------------------------------------------

    def get(self, relpath: str, key: StatKey) -> str | None:
        """The sha256 hex of `relpath` if its stat is still `key`, else None."""
        record = self._entries.get(relpath)
        if (
            type(record) is list
            and len(record) == 6
            and record[0] == key[0]
            and record[1] == key[1]
            and record[2] == key[2]
            and record[3] == key[3]
            and record[4] == key[4]
            and type(record[5]) is str
            and len(record[5]) == 64
        ):
            self.hits += 1
            return record[5]
        self.misses += 1
        return None

    def put(self, relpath: str, key: StatKey, sha256_hex: str, read_started_ns: int) -> bool:
        """Remember a digest computed from a read that began at `read_started_ns`.

        Not stored (False) when the file changed too recently to trust its stat.
        """
        _, mtime_ns, ctime_ns, _, _ = key
        if max(mtime_ns, ctime_ns) >= read_started_ns - self.racy_window_ns:
            self._entries.pop(relpath, None)
            return False
        record = [*key, sha256_hex]
        if self._entries.get(relpath) != record:
            self._entries[relpath] = record
            self._dirty = True
        return True

    def retain(self, relpaths: set[str] | frozenset[str]) -> None:
        """Forget every path not in `relpaths` (files gone from the context)."""
        stale = [p for p in self._entries if p not in relpaths]
        for p in stale:
            del self._entries[p]
        if stale:
            self._dirty = True

    @staticmethod
    def now_ns() -> int:
        """The clock `put` compares file times with."""
        return time.time_ns()
