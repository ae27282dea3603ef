"""What the context rules share: COPY/ADD sources, wildcard lookup, stage references."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from builder.context.dockerignore import (
    BadPatternError,
    IgnoreMatcher,
    compile_go_match,
    contains_wildcards,
    go_clean,
)
from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext
from builder.lint.rules.buildkit._common import (
    StageView,
    Step,
    context_dir,
    context_ignore,
    copy_sources,
    expand,
    is_remote_source,
    walk_stages,
)

__all__ = [
    "ContextSource",
    "StageReference",
    "context_dir",
    "context_ignore",
    "context_sources",
    "glob_context",
    "ignore_file_name",
    "reference_pattern",
    "stage_label",
    "stage_references",
]


def ignore_file_name(matcher: IgnoreMatcher) -> str:
    return matcher.source.name if matcher.source is not None else ".dockerignore"


def stage_label(view: StageView) -> str:
    name = view.stage.name
    return f"stage '{name}'" if name else f"stage {view.stage.index} (unnamed)"


# ---------------------------------------------------------------------------
# COPY / ADD sources read from the context


@dataclass(frozen=True)
class ContextSource:
    """A COPY/ADD source word that names something in the build context."""

    inst: Instruction
    word: str  #: as written
    path: str  #: cleaned, relative to the context root; "" for the root itself
    wildcard: bool  #: contains `*`, `?` or `[` (BuildKit expands it)

    @property
    def verb(self) -> str:
        return self.inst.written_keyword.upper()


def context_sources(ctx: LintContext) -> Iterator[ContextSource]:
    """Every COPY/ADD source read from the build context, with variables expanded.

    Left out: `COPY --from`, ADD URLs and git sources, heredocs, and words
    whose variables are not all known (their value depends on build args).
    """
    for _, steps in walk_stages(ctx):
        for step in steps:
            inst = step.inst
            if inst.keyword == "copy":
                if inst.get_flag("from") is not None:
                    continue
            elif inst.keyword != "add":
                continue
            for word in copy_sources(inst):
                result = expand(ctx.dockerfile, word, step.env)
                if result.value is None or result.unmatched:
                    continue
                if inst.keyword == "add" and is_remote_source(result.value):
                    continue
                path = go_clean("/" + result.value).lstrip("/")
                yield ContextSource(inst, word, path, contains_wildcards(path))


def _scan(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return list(entries)
    except OSError:
        return []


def glob_context(root: Path, path: str) -> list[str] | None:
    """The context paths a wildcard source matches, the way BuildKit resolves them.

    The path is split at its first component with a wildcard; below the
    directory before it, each remaining component is matched with Go's
    `filepath.Match` (no `**`). Returns None for a pattern Go rejects.
    """
    parts = path.split("/")
    first = next((i for i, part in enumerate(parts) if contains_wildcards(part)), len(parts) - 1)
    try:
        matchers = [compile_go_match(part) for part in parts[first:]]
    except BadPatternError:
        return None
    prefix = "/".join(parts[:first])
    current: list[tuple[Path, str]] = [(root / prefix if prefix else root, prefix)]
    for depth, match in enumerate(matchers):
        last = depth == len(matchers) - 1
        found: list[tuple[Path, str]] = []
        for directory, rel in current:
            for entry in _scan(directory):
                if not match(entry.name):
                    continue
                if not last and not entry.is_dir(follow_symlinks=False):
                    continue
                found.append((Path(entry.path), f"{rel}/{entry.name}" if rel else entry.name))
        current = sorted(found, key=lambda item: item[1])
    return [rel for _, rel in current]


# ---------------------------------------------------------------------------
# References to other stages


@dataclass(frozen=True)
class StageReference:
    """A `COPY --from=` or `RUN --mount=...,from=` naming a stage or an image."""

    stage: int  #: the index of the stage the instruction is in
    inst: Instruction
    name: str  #: the value, variables expanded when possible
    kind: str  #: "copy" or "mount"


def _mount_from(spec: str) -> str | None:
    try:
        fields = next(csv.reader([spec]))
    except (csv.Error, StopIteration):
        return None
    found = None
    for item in fields:
        key, eq, value = item.partition("=")
        if eq and key.strip().lower() == "from":
            found = value
    return found


def _expand_name(ctx: LintContext, word: str, step: Step) -> str:
    result = expand(ctx.dockerfile, word, step.env)
    return result.value if result.value is not None and not result.unmatched else word


def stage_references(ctx: LintContext) -> Iterator[tuple[StageView, StageReference]]:
    for view, steps in walk_stages(ctx):
        for step in steps:
            inst = step.inst
            if inst.keyword == "copy":
                source = inst.get_flag("from")
                if source:
                    name = _expand_name(ctx, source, step)
                    yield view, StageReference(view.stage.index, inst, name, "copy")
            elif inst.keyword == "run":
                for flag in inst.flags:
                    key, eq, spec = flag[2:].partition("=")
                    if key.lower() != "mount" or not eq:
                        continue
                    source = _mount_from(spec)
                    if source:
                        name = _expand_name(ctx, source, step)
                        yield view, StageReference(view.stage.index, inst, name, "mount")


# ---------------------------------------------------------------------------
# Variable references


def reference_pattern(name: str, escape: str = "\\") -> re.Pattern[str]:
    """Matches `$name` and `${name...}` (not escaped) in instruction text."""
    quoted = re.escape(name)
    return re.compile(
        rf"(?<!{re.escape(escape)})\$(?:{quoted}(?![A-Za-z0-9_])|\{{{quoted}(?=[}}:#%/+?-]))"
    )
