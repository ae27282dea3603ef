"""The source side of a COPY/ADD: what a source path names, seen from inside its root.

The root is the build context or another stage's root filesystem. Rules, as
BuildKit applies them (`dispatchCopy`, fsutil's `copy.Copy` with
FollowSymlinks):

- a source is cleaned as an absolute path, so `../../etc/passwd` is
  `/etc/passwd` *of the root*: nothing outside the root is reachable;
- symlinks on the way, and the named source itself, are followed, but
  relative to the root (an absolute target starts again at the root, `..`
  stops at it); symlinks *inside* a copied directory are copied as symlinks;
- a source with `*`, `?` or `[` is a pattern (Go's `filepath.Match`,
  `\\` escapes): the part before the first wildcard component is resolved,
  then the entries below are matched against the rest, without following
  symlinks, a matched directory being taken whole;
- paths excluded by .dockerignore are invisible, as if absent; an excluded
  directory exists only when an `!exception` keeps something below it.

Everything is reached with O_NOFOLLOW directory fds, so a path checked here
cannot be swapped for a symlink that leads elsewhere.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from builder.context.dockerignore import (
    BadPatternError,
    IgnoreMatcher,
    compile_go_match,
    contains_wildcards,
    go_clean,
)
from builder.errors import BuildError
from builder.solve.copy.rootdir import OpenRoot

__all__ = ["Ignore", "SourceMatch", "SourceTree", "clean_source", "split_wildcards"]

#: A .dockerignore matcher, or any predicate "is this relpath excluded?".
Ignore = IgnoreMatcher | Callable[[str], bool]

_MAX_SYMLINKS: Final = 255  # what fsutil's root-scoped resolution allows


def clean_source(source: str) -> str:
    """A source as BuildKit sees it: cleaned as an absolute path, then made relative.

    `../x`, `/x` and `./x` all mean `x`; the root itself is `""`.
    """
    return go_clean("/" + source).lstrip("/")


def split_wildcards(path: str) -> tuple[str, str]:
    """(`a/b`, `c*/d`) for `a/b/c*/d`: the plain leading directories, and the pattern."""
    parts = path.split("/") if path else []
    for index, part in enumerate(parts):
        if contains_wildcards(part):
            return "/".join(parts[:index]), "/".join(parts[index:])
    return path, ""


def _join(base: str, name: str) -> str:
    return f"{base}/{name}" if base else name


@dataclass(frozen=True)
class SourceMatch:
    """One thing a source names: a path of the root, symlinks resolved."""

    path: str  #: the resolved relpath inside the root ("" is the root)
    name: str  #: the name it was asked by (the last component before resolution)
    is_dir: bool
    shown: str  #: how to name it in messages: `/a/b`
    #: for a wildcard match: its path below the wildcard's base, which --exclude sees
    pattern_path: str | None = None


class SourceTree(OpenRoot):
    """An open source root with its ignore rules. Close it (or use `with`)."""

    def __init__(self, root: Path, ignore: Ignore | None = None, *, what: str) -> None:
        self.what = what  #: "the build context", "stage build"... for messages
        self._matcher = ignore if isinstance(ignore, IgnoreMatcher) else None
        self._ignore: Callable[[str], bool] | None
        if isinstance(ignore, IgnoreMatcher):
            self._ignore = ignore.matches if ignore.patterns else None
        else:
            self._ignore = ignore
        super().__init__(root, shown=f"{what} at {root}")

    # ---------------------------------------------------------------- ignore rules

    @property
    def has_ignore_rules(self) -> bool:
        return self._ignore is not None

    def ignored(self, rel: str) -> bool:
        """Is `rel` excluded by .dockerignore (or a parent of it)?"""
        return bool(rel) and self._ignore is not None and self._ignore(rel)

    def may_keep_inside(self, rel: str) -> bool:
        """Could something below the excluded directory `rel` be kept by an exception?"""
        if self._matcher is not None:
            return self._matcher.may_match_inside(rel)
        return self._ignore is not None

    # ---------------------------------------------------------------- fds

    def open_dir(self, rel: str) -> int:
        """A new fd of the directory `rel` (a resolved path: no symlink on the way)."""
        return self.open_below(rel.split("/") if rel else ())

    def lstat(self, rel: str) -> os.stat_result | None:
        """lstat of `rel` (a path whose parents are real directories), None when missing."""
        if not rel:
            return os.fstat(self.fd)
        parent, _, name = rel.rpartition("/")
        try:
            fd = self.open_dir(parent)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise self._unreadable(parent, exc) from None
        try:
            return os.lstat(name, dir_fd=fd)
        except FileNotFoundError:
            return None
        finally:
            os.close(fd)

    def _readlink(self, rel: str) -> str:
        parent, _, name = rel.rpartition("/")
        fd = self.open_dir(parent)
        try:
            return os.readlink(name, dir_fd=fd)
        finally:
            os.close(fd)

    def _unreadable(self, rel: str, exc: OSError) -> BuildError:
        return BuildError(f"cannot read /{rel} in {self.what}: {exc.strerror or exc}")

    # ---------------------------------------------------------------- resolution

    def resolve(self, rel: str) -> str | None:
        """The path `rel` leads to inside the root, symlinks followed; None when absent.

        Excluded (.dockerignore) symlinks and files are absent; so is an
        excluded directory unless an exception keeps something below it.
        """
        pending = deque(p for p in rel.split("/") if p not in ("", "."))
        resolved: list[str] = []
        hops = 0
        while pending:
            part = pending.popleft()
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = _join("/".join(resolved), part)
            st = self.lstat(candidate)
            if st is None:
                return None
            if stat.S_ISLNK(st.st_mode):
                if self.ignored(candidate):
                    return None
                hops += 1
                if hops > _MAX_SYMLINKS:
                    raise BuildError(f"too many levels of symbolic links in /{rel} ({self.what})")
                try:
                    target = self._readlink(candidate)
                except OSError as exc:
                    raise self._unreadable(candidate, exc) from None
                if target.startswith("/"):
                    resolved = []
                pending.extendleft(reversed([p for p in target.split("/") if p not in ("", ".")]))
                continue
            if pending and not stat.S_ISDIR(st.st_mode):
                return None  # a file used as a directory: nothing is there
            resolved.append(part)
        path = "/".join(resolved)
        if self.ignored(path) and not self._dir_keeps_something(path):
            return None
        return path

    def _dir_keeps_something(self, rel: str) -> bool:
        """For an excluded path: is it a directory with something kept below it?"""
        st = self.lstat(rel)
        if st is None or not stat.S_ISDIR(st.st_mode) or not self.may_keep_inside(rel):
            return False
        pending = [rel]
        while pending:
            current = pending.pop()
            try:
                fd = self.open_dir(current)
            except OSError:
                continue
            try:
                names = os.listdir(fd)
                for name in names:
                    child = _join(current, name)
                    child_st = os.lstat(name, dir_fd=fd)
                    if stat.S_ISDIR(child_st.st_mode):
                        if not self.ignored(child):
                            return True
                        if self.may_keep_inside(child):
                            pending.append(child)
                    elif not self.ignored(child):
                        return True
            finally:
                os.close(fd)
        return False

    def visible(self, rel: str, st: os.stat_result) -> bool:
        """Is the entry `rel` (lstat `st`) part of the source, .dockerignore considered?"""
        if not self.ignored(rel):
            return True
        return stat.S_ISDIR(st.st_mode) and self._dir_keeps_something(rel)

    # ---------------------------------------------------------------- sources

    def not_found(self, source: str, keyword: str) -> BuildError:
        shown = "/" + clean_source(source)
        hint = (
            "check the path; files excluded by .dockerignore are not part of the context"
            if self._ignore is not None
            else "check the path (it is resolved inside the source, symlinks included)"
        )
        return BuildError(
            f'{keyword} failed: "{shown}": not found in {self.what}',
            hint=hint,
        )

    def match(self, source: str, *, keyword: str) -> SourceMatch:
        """The one thing a source without wildcards names. Raises BuildError when absent."""
        path = clean_source(source)
        resolved = self.resolve(path)
        if resolved is None:
            raise self.not_found(source, keyword)
        st = self.lstat(resolved)
        if st is None:
            raise self.not_found(source, keyword)
        name = path.rpartition("/")[2]
        return SourceMatch(resolved, name, stat.S_ISDIR(st.st_mode), "/" + path)

    def expand(self, source: str, *, keyword: str) -> list[SourceMatch]:
        """What a source with wildcards matches, in Go's walk order (maybe nothing).

        Raises BuildError when the directory before the first wildcard is absent.
        """
        path = clean_source(source)
        base, pattern = split_wildcards(path)
        try:
            match = compile_go_match(pattern)
        except BadPatternError as exc:
            raise BuildError(f"{keyword} failed: {exc} in {source!r}") from None
        resolved_base = self.resolve(base)
        if resolved_base is None:
            raise self.not_found(base or "/", keyword)
        base_st = self.lstat(resolved_base)
        if base_st is None or not stat.S_ISDIR(base_st.st_mode):
            return []
        depth = pattern.count("/") + 1
        found: list[tuple[str, str]] = []  # (relpath below base, relpath in root)
        self._walk_matches(resolved_base, "", depth, match, found)
        out = []
        for below, rel in found:
            target = self.resolve(rel)
            st = None if target is None else self.lstat(target)
            if target is None or st is None:
                raise BuildError(
                    f"{keyword} failed: /{rel} (matched by {source!r}) is a symlink to "
                    f"nothing in {self.what}"
                )
            name = below.rpartition("/")[2]
            out.append(SourceMatch(target, name, stat.S_ISDIR(st.st_mode), "/" + rel, below))
        return out

    def _walk_matches(
        self,
        directory: str,
        below: str,
        depth: int,
        match: Callable[[str], bool],
        found: list[tuple[str, str]],
    ) -> None:
        try:
            fd = self.open_dir(_join(directory, below) if below else directory)
        except OSError as exc:
            raise self._unreadable(_join(directory, below), exc) from None
        try:
            entries = []
            for name in sorted(os.listdir(fd), key=os.fsencode):
                try:
                    entries.append((name, os.lstat(name, dir_fd=fd)))
                except FileNotFoundError:
                    continue
        finally:
            os.close(fd)
        for name, st in entries:
            rel_below = _join(below, name)
            rel = _join(directory, rel_below)
            if not self.visible(rel, st):
                continue
            if match(rel_below):
                found.append((rel_below, rel))
            elif depth > 1 and stat.S_ISDIR(st.st_mode):
                self._walk_matches(directory, rel_below, depth - 1, match, found)
