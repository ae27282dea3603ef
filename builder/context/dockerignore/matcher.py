"""A compiled ignore file: is a path excluded, and by which pattern?"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from builder.context.dockerignore.errors import BadPatternError, DockerignoreError
from builder.context.dockerignore.gopath import go_clean
from builder.context.dockerignore.pattern import ALWAYS, MAYBE, IgnorePattern
from builder.dockerfile.text import go_trim_space

_DIR_CACHE_LIMIT: Final = 1 << 16


def _normalize(relpath: str) -> str:
    """A path as moby compares it: cleaned, relative, `""` for the context root."""
    path = go_clean(relpath.replace(os.sep, "/") if os.sep != "/" else relpath)
    path = path.lstrip("/")
    return "" if path == "." else path


class IgnoreMatcher:
    """Compiled ignore patterns. `matches` answers for one path; build it once per build.

    Not thread-safe while the parent-directory cache fills; give each thread its own
    matcher (they are cheap to copy with `IgnoreMatcher(m.patterns, m.source)`).
    """

    __slots__ = ("_dir_hits", "has_exceptions", "patterns", "source")

    def __init__(self, patterns: Sequence[IgnorePattern] = (), source: Path | None = None) -> None:
        self.patterns: tuple[IgnorePattern, ...] = tuple(patterns)
        self.source = source  #: the ignore file the patterns came from, if any
        self.has_exceptions = any(p.exclusion for p in self.patterns)
        self._dir_hits: dict[str, tuple[bool, ...]] = {}

    @classmethod
    def compile(cls, patterns: Iterable[str], source: Path | None = None) -> IgnoreMatcher:
        """Compile patterns as `patternmatcher.New` does; blank ones are skipped."""
        compiled = []
        for number, text in enumerate(patterns, 1):
            if not go_trim_space(text):
                continue
            try:
                compiled.append(IgnorePattern.compile(text, number))
            except BadPatternError as exc:
                raise DockerignoreError(f"{exc}: {text!r}") from None
        return cls(compiled, source)

    def __len__(self) -> int:
        return len(self.patterns)

    def __repr__(self) -> str:
        return f"IgnoreMatcher({[str(p) for p in self.patterns]!r}, source={self.source!r})"

    # -- matching ------------------------------------------------------------

    def _hits(self, directory: str) -> tuple[bool, ...]:
        """For each pattern: does it match `directory` or one of its parents?"""
        cache = self._dir_hits
        cached = cache.get(directory)
        if cached is not None:
            return cached
        # Walk up to the nearest cached ancestor, then fill the cache downwards.
        missing = [directory]
        above: tuple[bool, ...] | None = None
        current = directory
        while True:
            current = current.rpartition("/")[0]
            if not current:
                break
            found = cache.get(current)
            if found is not None:
                above = found
                break
            missing.append(current)
        if len(cache) + len(missing) > _DIR_CACHE_LIMIT:
            cache.clear()
        patterns = self.patterns
        for path in reversed(missing):
            if above is None:
                above = tuple(p._match(path) for p in patterns)
            else:
                above = tuple(a or p._match(path) for a, p in zip(above, patterns, strict=True))
            cache[path] = above
        assert above is not None
        return above

    def explain(self, relpath: str) -> IgnorePattern | None:
        """The pattern that decides `relpath`: the last one matching it or a parent."""
        path = _normalize(relpath)
        if not path or not self.patterns:
            return None
        parent, _, _ = path.rpartition("/")
        hits = self._hits(parent) if parent else None
        for i in range(len(self.patterns) - 1, -1, -1):
            pattern = self.patterns[i]
            if (hits is not None and hits[i]) or pattern._match(path):
                return pattern
        return None

    def matches(self, relpath: str) -> bool:
        """Is `relpath` (relative to the context, `/`-separated) excluded from the context?"""
        pattern = self.explain(relpath)
        return pattern is not None and not pattern.exclusion

    def _inside(self, dirpath: str) -> tuple[bool, IgnorePattern | None]:
        path = _normalize(dirpath)
        parts = path.split("/") if path else []
        dir_slash = path + "/" if path else ""
        for pattern in reversed(self.patterns):
            relation = pattern._relation(parts, dir_slash)
            if relation == ALWAYS:
                return pattern.exclusion, pattern
            if relation == MAYBE and pattern.exclusion:
                return True, None
        return True, None

    def may_match_inside(self, dirpath: str) -> bool:
        """Could anything under the directory `dirpath` be kept in the context?

        False only when every path below it is certainly excluded, so a walker
        may skip the whole directory; True when a file below might be kept,
        e.g. because a later `!exception` could re-include it.
        """
        return self._inside(dirpath)[0]

    def explain_inside(self, dirpath: str) -> IgnorePattern | None:
        """The pattern that excludes everything under `dirpath`, or None if something may stay."""
        keep, pattern = self._inside(dirpath)
        return None if keep else pattern
