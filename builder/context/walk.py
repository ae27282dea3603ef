"""Walk the build context: every entry the builder may copy, in a stable order.

`walk_context` lists the context the way BuildKit's fsutil walker sees it:
depth first, names sorted bytewise at each level (Go's `filepath.Walk`
order), excluded paths left out, fully excluded directories never entered,
symlinks never followed (a symlink is an entry carrying its target string).
An excluded directory that a later `!exception` may re-include is entered;
it is listed only when something below it is kept, as fsutil does.
"""

from __future__ import annotations

import operator
import os
import stat
from typing import Final, Literal, NamedTuple

from builder.context.dockerignore import IgnoreMatcher
from builder.errors import PybuildError

__all__ = ["ContextEntry", "ContextError", "EntryKind", "walk_context"]

EntryKind = Literal["file", "dir", "symlink", "other"]

_IFMT: Final = 0o170000  #: the file-type bits of st_mode (`stat.S_IFMT`)
FILE: Final = "file"
DIR: Final = "dir"
SYMLINK: Final = "symlink"
OTHER: Final = "other"


class ContextError(PybuildError):
    """The build context cannot be read (or a source cannot be found in it)."""

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(message)
        self.path = os.fspath(path) if path is not None else None


class ContextEntry(NamedTuple):
    """One path of the context, as `lstat` saw it during the walk.

    A named tuple, not a dataclass: a walk makes one per file (20,000 and
    more), and a tuple is several times cheaper to make than a frozen object.
    """

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


_NAME: Final = operator.attrgetter("name")
_KINDS: Final[dict[int, EntryKind]] = {stat.S_IFREG: FILE, stat.S_IFDIR: DIR, stat.S_IFLNK: SYMLINK}


def _sorted(items: list[os.DirEntry[str]]) -> list[os.DirEntry[str]]:
    """Bytewise by name (Go's order); ASCII names sort the same as text, without encoding."""
    if all(item.name.isascii() for item in items):
        return sorted(items, key=_NAME)
    return sorted(items, key=lambda e: os.fsencode(e.name))


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
                items = _sorted(list(it))
        except OSError as exc:
            shown = rel_dir or "."
            raise ContextError(
                f"cannot read directory {shown!r} of the build context: {exc.strerror or exc}",
                abs_dir,
            ) from None
        prefix = f"{rel_dir}/" if rel_dir else ""
        for item in items:
            rel = prefix + item.name
            excluded = matcher is not None and matcher.matches(rel)
            try:
                if excluded and not item.is_dir(follow_symlinks=False):
                    continue
                st = item.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed while we walked: it is not part of the context
            except OSError as exc:
                raise ContextError(
                    f"cannot stat {rel!r} in the build context: {exc.strerror or exc}", item.path
                ) from None
            mode = st.st_mode
            kind = _KINDS.get(mode & _IFMT, OTHER)
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
                rel, kind, mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns,
                st.st_ctime_ns, st.st_ino, st.st_dev, target,
            )  # fmt: skip
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
