"""Walk the build context: every entry the builder may copy, in a stable order.

`walk_context` lists the context the way BuildKit's fsutil walker sees it:
depth first, names sorted bytewise at each level (Go's `filepath.Walk`
order), excluded paths left out, fully excluded directories never entered,
symlinks never followed (a symlink is an entry carrying its target string).
An excluded directory that a later `!exception` may re-include is entered;
it is listed only when something below it is kept, as fsutil does.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Final, Literal

from builder.context.dockerignore import IgnoreMatcher
from builder.errors import PybuildError

__all__ = ["ContextEntry", "ContextError", "EntryKind", "walk_context"]

EntryKind = Literal["file", "dir", "symlink", "other"]

FILE: Final = "file"
DIR: Final = "dir"
SYMLINK: Final = "symlink"
OTHER: Final = "other"


class ContextError(PybuildError):
    """The build context cannot be read (or a source cannot be found in it)."""

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(message)
        self.path = os.fspath(path) if path is not None else None


@dataclass(frozen=True, slots=True)
class ContextEntry:
    """One path of the context, as `lstat` saw it during the walk."""

    relpath: str  #: `/`-separated, relative to the context, no leading `./`
    kind: EntryKind
    mode: int  #: the full `st_mode` (type and permission bits)
    uid: int
    gid: int
    size: int
    mtime_ns: int
    ctime_ns: int = 0
    inode: int = 0
    dev: int = 0
    link_target: str | None = None  #: symlinks only: the target, as stored

    @property
    def stat_key(self) -> tuple[int, int, int, int, int]:
        """What the stat cache compares: size, mtime, ctime, inode, device."""
        return (self.size, self.mtime_ns, self.ctime_ns, self.inode, self.dev)


def _kind(mode: int) -> EntryKind:
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISDIR(mode):
        return DIR
    if stat.S_ISLNK(mode):
        return SYMLINK
    return OTHER


def _sort_key(name: str) -> bytes:
    return os.fsencode(name)


def walk_context(
    context_dir: str | os.PathLike[str], matcher: IgnoreMatcher | None = None
) -> list[ContextEntry]:
    """Every entry of the context not excluded by `matcher`, sorted by path.

    Raises `ContextError` when the context or a directory in it cannot be read.
    """
    root = os.fspath(context_dir)
    try:
        root_st = os.stat(root)
    except OSError as exc:
        raise ContextError(
            f"cannot read build context {root}: {exc.strerror or exc}", root
        ) from None
    if not stat.S_ISDIR(root_st.st_mode):
        raise ContextError(f"build context {root} is not a directory", root)
    if matcher is not None and not matcher.patterns:
        matcher = None

    out: list[ContextEntry] = []

    def walk(abs_dir: str, rel_dir: str) -> None:
        try:
            with os.scandir(abs_dir) as it:
                items = sorted(it, key=lambda e: _sort_key(e.name))
        except OSError as exc:
            shown = rel_dir or "."
            raise ContextError(
                f"cannot read directory {shown!r} of the build context: {exc.strerror or exc}",
                abs_dir,
            ) from None
        for item in items:
            rel = f"{rel_dir}/{item.name}" if rel_dir else item.name
            excluded = matcher is not None and matcher.matches(rel)
            try:
                is_dir = item.is_dir(follow_symlinks=False)
                if excluded and not is_dir:
                    continue
                st = item.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed while we walked: it is not part of the context
            except OSError as exc:
                raise ContextError(
                    f"cannot stat {rel!r} in the build context: {exc.strerror or exc}", item.path
                ) from None
            mode = st.st_mode
            kind = _kind(mode)
            target = None
            if kind == SYMLINK:
                try:
                    target = os.readlink(item.path)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    raise ContextError(
                        f"cannot read symlink {rel!r} in the build context: {exc.strerror or exc}",
                        item.path,
                    ) from None
            entry = ContextEntry(
                rel,
                kind,
                mode,
                st.st_uid,
                st.st_gid,
                st.st_size,
                st.st_mtime_ns,
                st.st_ctime_ns,
                st.st_ino,
                st.st_dev,
                target,
            )
            if kind != DIR:
                out.append(entry)
                continue
            if excluded:
                # Only entered when an exception may re-include something below;
                # the directory itself is listed only if something was kept.
                if matcher is None or not matcher.may_match_inside(rel):
                    continue
                mark = len(out)
                out.append(entry)
                walk(item.path, rel)
                if len(out) == mark + 1:
                    out.pop()
                continue
            out.append(entry)
            if matcher is None or matcher.may_match_inside(rel):
                walk(item.path, rel)

    walk(root, "")
    return out
