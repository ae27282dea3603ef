"""Content hashes of the build context, for the cache keys of COPY and ADD.

The digest of a selection covers, for each selected entry in walk order: its
path, kind, mode (file type, permission bits, setuid/setgid/sticky), owner,
the sha256 of its content (files) and its link target (symlinks). Times are
not covered: touching a file changes nothing. File contents come from the
stat cache when the file's stat is unchanged, so unchanged files are never
read again.

Files are opened beneath the context one component at a time with
`O_NOFOLLOW`, so a path swapped for a symlink after the walk can never make
us read outside the context.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from builder.context.dockerignore import (
    BadPatternError,
    IgnoreMatcher,
    compile_go_match,
    contains_wildcards,
    go_clean,
)
from builder.context.statcache import StatCache
from builder.context.walk import ContextEntry, ContextError, walk_context

__all__ = [
    "SelectionDigest",
    "SourceNotFoundError",
    "clean_source",
    "content_digest",
    "entry_digest",
    "file_sha256",
    "select_entries",
    "selection_digest",
]

_MAX_SYMLINKS = 255
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class SourceNotFoundError(ContextError):
    """A COPY/ADD source that selects nothing in the build context."""

    def __init__(self, message: str, source: str) -> None:
        super().__init__(message)
        self.source = source


@dataclass(frozen=True)
class SelectionDigest:
    """The digest of what a COPY/ADD selects, and of each selected entry."""

    digest: str  #: `sha256:<hex>` over every selected entry
    sources: tuple[str, ...]  #: the sources as written
    files: dict[str, str] = field(default_factory=dict)  #: relpath → entry digest, walk order

    def changed(self, previous: SelectionDigest) -> list[str]:
        """Relpaths added, removed or changed since `previous` (for `--explain-cache`)."""
        out = [p for p, d in self.files.items() if previous.files.get(p) != d]
        out.extend(p for p in previous.files if p not in self.files)
        return sorted(out)


# ---------------------------------------------------------------------------
# Files


def _open_beneath(root: str, relpath: str) -> int:
    """Open `relpath` below `root` without following any symlink on the way."""
    parts = relpath.split("/")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            next_fd = os.open(part, _OPEN_DIR, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        return os.open(parts[-1], _OPEN_FILE, dir_fd=fd)
    finally:
        os.close(fd)


def _key(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def file_sha256(
    context_dir: str | os.PathLike[str], entry: ContextEntry, statcache: StatCache | None = None
) -> str:
    """The sha256 hex of a regular file of the context; from the stat cache when unchanged."""
    if statcache is not None:
        cached = statcache.get(entry.relpath, entry.stat_key)
        if cached is not None:
            return cached
    return _read_sha256(context_dir, entry, statcache)


def _read_sha256(
    context_dir: str | os.PathLike[str], entry: ContextEntry, statcache: StatCache | None
) -> str:
    """Read and hash the file (three tries while it changes); remember it in the stat cache."""
    root = os.fspath(context_dir)
    for _ in range(3):
        started = time.time_ns()
        try:
            fd = _open_beneath(root, entry.relpath)
        except OSError as exc:
            raise ContextError(
                f"cannot read {entry.relpath!r} in the build context: {exc.strerror or exc}",
                os.path.join(root, entry.relpath),
            ) from None
        with os.fdopen(fd, "rb", buffering=0) as f:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):
                raise ContextError(
                    f"{entry.relpath!r} changed while the build context was read",
                    os.path.join(root, entry.relpath),
                )
            hexdigest = hashlib.file_digest(f, "sha256").hexdigest()
            after = os.fstat(fd)
        if _key(before) == _key(after):
            if statcache is not None:
                statcache.put(entry.relpath, _key(after), hexdigest, started)
            return hexdigest
    raise ContextError(
        f"{entry.relpath!r} keeps changing while the build context is read",
        os.path.join(root, entry.relpath),
    )


def entry_digest(
    context_dir: str | os.PathLike[str], entry: ContextEntry, statcache: StatCache | None = None
) -> str:
    """`sha256:<hex>` of one entry: kind, mode, owner, and content or link target."""
    if entry.kind == "file":
        payload = file_sha256(context_dir, entry, statcache).encode("ascii")
    elif entry.kind == "symlink":
        payload = os.fsencode(entry.link_target or "")
    else:
        payload = b""
    header = f"{entry.kind}\0{entry.mode:o}\0{entry.uid}\0{entry.gid}\0".encode("ascii")
    return "sha256:" + hashlib.sha256(header + payload).hexdigest()


def _digest_entries(
    context_dir: str | os.PathLike[str],
    entries: Sequence[ContextEntry],
    statcache: StatCache | None,
) -> tuple[str, dict[str, str]]:
    # `entry_digest` inlined for files the stat cache knows: this loop runs once
    # per context file on every build, and the calls were most of its time.
    total = hashlib.sha256()
    files: dict[str, str] = {}
    sha256 = hashlib.sha256
    cached = statcache.get if statcache is not None else None
    for entry in entries:
        relpath = entry.relpath
        if entry.kind == "file":
            content = cached(relpath, entry.stat_key) if cached is not None else None
            if content is None:
                content = _read_sha256(context_dir, entry, statcache)
            header = f"file\0{entry.mode:o}\0{entry.uid}\0{entry.gid}\0{content}"
            digest = "sha256:" + sha256(header.encode("ascii")).hexdigest()
        else:
            digest = entry_digest(context_dir, entry, statcache)
        files[relpath] = digest
        total.update(f"{relpath}\0{digest}\n".encode("utf-8", "surrogateescape"))
    return "sha256:" + total.hexdigest(), files


def content_digest(
    context_dir: str | os.PathLike[str],
    entries: Sequence[ContextEntry],
    statcache: StatCache | None = None,
) -> str:
    """`sha256:<hex>` of the given entries (e.g. a whole `walk_context`), in their order."""
    return _digest_entries(context_dir, entries, statcache)[0]


# ---------------------------------------------------------------------------
# Sources


def clean_source(source: str) -> str:
    """A COPY source as BuildKit sees it: cleaned, clamped to the context root.

    `../x` and `/x` both mean `x`; the context root is `""`.
    """
    return go_clean("/" + source).lstrip("/")


def _resolve(relpath: str, index: dict[str, ContextEntry]) -> str:
    """Follow symlinks in `relpath` the way BuildKit does, never leaving the context.

    Absolute targets start again at the context root; `..` stops at the root.
    Resolution uses the walked entries, so excluded paths are not found.
    """
    pending = [p for p in reversed(relpath.split("/")) if p]
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop()
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = "/".join([*resolved, part])
        entry = index.get(candidate)
        if entry is not None and entry.kind == "symlink":
            hops += 1
            if hops > _MAX_SYMLINKS:
                raise ContextError(f"too many levels of symbolic links: {relpath!r}", relpath)
            target = entry.link_target or ""
            if target.startswith("/"):
                resolved = []
            pending.extend(p for p in reversed(target.split("/")) if p)
            continue
        resolved.append(part)
    return "/".join(resolved)


def _not_found(source: str, wildcard: bool) -> SourceNotFoundError:
    if wildcard:
        return SourceNotFoundError(
            f"COPY failed: no source files were specified: {source!r} matches nothing in the "
            "build context (or everything it matches is excluded by .dockerignore)",
            source,
        )
    return SourceNotFoundError(
        f"COPY failed: file not found in build context or excluded by .dockerignore: {source!r}",
        source,
    )


def select_entries(sources: Sequence[str], entries: Sequence[ContextEntry]) -> list[ContextEntry]:
    """The walked entries a COPY/ADD with `sources` selects, in walk order.

    A directory selects everything below it; a selected symlink brings the
    entries of its target (resolved inside the context) too. Raises
    `SourceNotFoundError` for a source that selects nothing.
    """
    index = {e.relpath: e for e in entries}
    roots: set[str] = set()
    for source in sources:
        cleaned = clean_source(source)
        if cleaned == "":
            return list(entries)
        wildcard = contains_wildcards(cleaned)
        matched: list[str] = []
        if wildcard:
            try:
                match = compile_go_match(cleaned)
            except BadPatternError as exc:
                raise SourceNotFoundError(f"COPY failed: {exc}: {source!r}", source) from None
            matched = [e.relpath for e in entries if match(e.relpath)]
        else:
            parent, _, name = cleaned.rpartition("/")
            resolved_parent = _resolve(parent, index) if parent else ""
            path = f"{resolved_parent}/{name}" if resolved_parent else name
            if path in index:
                matched = [path]
        if not matched:
            raise _not_found(source, wildcard)
        for path in matched:
            roots.add(path)
            if index[path].kind == "symlink":
                target = _resolve(path, index)
                if target == "":
                    return list(entries)
                if target in index:
                    roots.add(target)
    selected = []
    for entry in entries:
        path = entry.relpath
        while True:
            if path in roots:
                selected.append(entry)
                break
            path = path.rpartition("/")[0]
            if not path:
                break
    return selected


def selection_digest(
    context_dir: str | os.PathLike[str],
    sources: Sequence[str],
    matcher: IgnoreMatcher | None = None,
    statcache: StatCache | None = None,
    *,
    entries: Sequence[ContextEntry] | None = None,
) -> SelectionDigest:
    """The digest of what `COPY <sources...> <dest>` takes from the context.

    Pass `entries` (a `walk_context` result) to reuse one walk for many steps.
    """
    if entries is None:
        entries = walk_context(context_dir, matcher)
    selected = select_entries(sources, entries)
    digest, files = _digest_entries(context_dir, selected, statcache)
    return SelectionDigest(digest, tuple(sources), files)
