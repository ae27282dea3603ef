"""PB1002: a COPY/ADD source that .dockerignore excludes.

Excluded paths are never sent to the builder: copying one fails with `not
found`, and a wildcard or directory whose content is all excluded copies
nothing. Exceptions (`!pattern`) are honoured, including a directory that is
excluded but has re-included files inside. The ignore file is the
Dockerfile's own `<Dockerfile>.dockerignore` when it exists, else the
context's `.dockerignore`.

Bad (`.dockerignore` holds `*.env`)::

    FROM alpine
    COPY prod.env /etc/app/

Good (`.dockerignore` holds `*.env` and `!prod.env`)::

    FROM alpine
    COPY prod.env /etc/app/
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from builder.context.dockerignore import IgnoreMatcher, IgnorePattern
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.context._support import (
    ContextSource,
    context_dir,
    context_ignore,
    context_sources,
    glob_context,
    ignore_file_name,
)

CODE = "PB1002"
#: Stop looking for a kept file after this many entries and assume there is one.
_WALK_LIMIT = 100_000


def _first_excluded(matcher: IgnoreMatcher, root: Path, rel: str) -> str | None:
    """The first excluded path under the directory `rel`, or None when something there is
    kept (the copy then gets content)."""
    if not matcher.may_match_inside(rel):
        return rel + "/"
    first: str | None = None
    seen = 0
    for directory, dirs, files in os.walk(root / rel):
        dirs.sort()
        base = Path(directory).relative_to(root).as_posix()
        for name in sorted(files):
            seen += 1
            path = f"{base}/{name}"
            if not matcher.matches(path) or seen > _WALK_LIMIT:
                return None
            first = first or path
        keep_dirs = []
        for name in dirs:
            child = f"{base}/{name}"
            if not matcher.matches(child):
                return None
            first = first or child
            if matcher.may_match_inside(child):
                keep_dirs.append(name)
        dirs[:] = keep_dirs
    return first


def _has_kept_file(matcher: IgnoreMatcher, root: Path, rel: str) -> bool:
    """Is anything under the directory `rel` kept in the context?"""
    return _first_excluded(matcher, root, rel) is None


def _kept(matcher: IgnoreMatcher, root: Path, rel: str) -> bool:
    if not matcher.matches(rel):
        return True
    return (root / rel).is_dir() and _has_kept_file(matcher, root, rel)


def _why(matcher: IgnoreMatcher, pattern: IgnorePattern | None) -> str:
    name = ignore_file_name(matcher)
    if pattern is None:
        return name
    return f"{name} (line {pattern.line}: '{pattern}')"


def _check_source(matcher: IgnoreMatcher, root: Path, source: ContextSource) -> Iterator[Violation]:
    line = source.inst.start_line
    what = f"{source.verb} source '{source.word}'"
    if source.wildcard:
        found = glob_context(root, source.path) or []
        if found and not any(_kept(matcher, root, rel) for rel in found):
            yield Violation(
                line,
                f"{what} only matches paths excluded by {_why(matcher, matcher.explain(found[0]))}"
                ", so the instruction copies nothing",
            )
        return
    pattern = matcher.explain(source.path)
    full = root / source.path
    if pattern is not None and not pattern.exclusion:
        if full.is_dir() and _has_kept_file(matcher, root, source.path):
            return
        yield Violation(
            line,
            f"{what} is excluded by {_why(matcher, pattern)}: it is not sent to the builder, "
            "so the build cannot find it",
        )
    elif full.is_dir() and (excluded := _first_excluded(matcher, root, source.path)):
        inside = matcher.explain_inside(source.path) or matcher.explain(excluded)
        yield Violation(
            line,
            f"{what} is a directory whose whole content is excluded by "
            f"{_why(matcher, inside)}, so it copies an empty directory",
        )


def check(ctx: LintContext) -> Iterator[Violation]:
    root = context_dir(ctx)
    if root is None:
        return
    matcher = context_ignore(ctx)
    if matcher is None or not matcher.patterns:
        return
    for source in context_sources(ctx):
        if source.path:
            yield from _check_source(matcher, root, source)


RULE = Rule(CODE, Severity.WARNING, "COPY/ADD source is excluded by .dockerignore", check)
