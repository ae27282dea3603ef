"""COPY: the file side. Copies sources from a source root into a destination root.

The executor calls `copy_into` with the stage's merged view (or an empty
directory for `--link`) as `dest_root`, and a `CopyRequest` whose `src_root`
is the build context or another stage's root. Sources are resolved inside
`src_root` only (`source`), written inside `dest_root` only (`dest`), by
Docker's destination rules (`place`) and metadata rules (`tree`).

BuildKit behaviours kept here (frontend `dispatchCopy`, fsutil `copy`):

- a wildcard that matches nothing copies nothing (not an error, unlike
  Docker's classic builder) unless `CopyRequest.allow_empty_wildcard` is
  False; the directory before the first wildcard must exist;
- `--exclude` patterns (.dockerignore syntax, `!` exceptions) are matched
  against paths below each source: below a directory source, below the
  base of a wildcard source (`--exclude=*.txt hom*` skips `home.txt`);
- `--parents` keeps each source's path below the context root, or below
  the `/./` pivot (`COPY --parents a/./b/c.txt /d/` writes `/d/b/c.txt`);
  wildcards and `**` work as in .dockerignore; a path without wildcards
  must exist;
- heredoc sources are files named after their delimiter, mode 0644,
  written after the other sources.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from builder.context.dockerignore import DockerignoreError, IgnoreMatcher, contains_wildcards
from builder.errors import BuildError
from builder.solve.copy.kinds import SourceKind, source_kind
from builder.solve.copy.place import CopyReport, Transfer, open_transfer, place_all
from builder.solve.copy.request import CopyRequest, InlineFile
from builder.solve.copy.source import Ignore, SourceMatch, SourceTree, clean_source
from builder.solve.copy.tree import Decision, EntryFilter, take_everything

__all__ = [
    "CopyReport",
    "CopyRequest",
    "InlineFile",
    "LocalItem",
    "chomp_heredoc",
    "compile_excludes",
    "copy_into",
    "open_sources",
    "place_local",
    "plan_sources",
]


def copy_into(
    dest_root: Path,
    request: CopyRequest,
    *,
    parents: bool = False,
    source_is_context: bool = True,
) -> CopyReport:
    """Carry out `COPY [flags] <sources...> <dest>`; return the paths written.

    `parents` is `--parents`; `source_is_context` says whether
    `request.src_root` is the build context (owners become 0:0, xattrs are
    not copied) or another stage's root (owners and xattrs kept).

    Raises BuildError for a missing source, a bad flag value, or a
    destination that cannot be written.
    """
    for source in request.sources:
        kind = source_kind(source)
        if kind is SourceKind.GIT:
            raise BuildError("source can't be a git ref for COPY", hint="use ADD for git sources")
        if kind is SourceKind.HTTP:
            raise BuildError("source can't be a URL for COPY", hint="use ADD for URLs")
    with open_transfer(
        dest_root, request, keyword="COPY", from_context=source_is_context
    ) as transfer:
        if not request.sources:
            return place_all(transfer, [], _nothing, request.heredocs, request.work_dir)
        what = "the build context" if source_is_context else "the source stage"
        with open_sources(request.src_root, request.ignore, what=what, keyword="COPY") as tree:
            items = plan_sources(
                tree,
                request.sources,
                parents=parents,
                excludes=compile_excludes(request.excludes),
                allow_empty_wildcard=request.allow_empty_wildcard,
                keyword="COPY",
            )
            return place_all(
                transfer,
                items,
                lambda item: place_local(transfer, tree, item),
                request.heredocs,
                request.work_dir,
                check_destination=not parents,
            )


def _nothing(item: object) -> None:
    """What placing nothing does."""


def chomp_heredoc(content: str) -> str:
    """The body of a `<<-EOF` heredoc: leading tabs removed from every line (BuildKit)."""
    return "".join(line.lstrip("\t") for line in content.splitlines(keepends=True))


# --------------------------------------------------------------------------
# Planning: what each source names, decided before anything is written


class LocalItem:
    """One thing to copy from the source root, and which entries below it to take."""

    __slots__ = ("entry_filter", "match")

    def __init__(self, match: SourceMatch, entry_filter: EntryFilter = take_everything) -> None:
        self.match = match
        self.entry_filter = entry_filter


def open_sources(
    src_root: Path | None, ignore: Ignore | None, *, what: str, keyword: str
) -> SourceTree:
    """The source root local sources are taken from (`what` names it in messages)."""
    if src_root is None:
        raise BuildError(f"{keyword} has local sources but no source root to take them from")
    return SourceTree(src_root, ignore, what=what)


def place_local(transfer: Transfer, tree: SourceTree, item: LocalItem) -> None:
    """Copy a planned local source, the entries its filter takes."""
    transfer.place(tree, item.match, entry_filter=item.entry_filter)


def compile_excludes(excludes: Sequence[str]) -> IgnoreMatcher | None:
    """`--exclude` patterns (.dockerignore syntax); BuildError for a bad one."""
    if not excludes:
        return None
    try:
        return IgnoreMatcher.compile(excludes)
    except DockerignoreError as exc:
        raise BuildError(f"invalid --exclude pattern: {exc}") from None


def plan_sources(
    tree: SourceTree,
    sources: Sequence[str],
    *,
    parents: bool,
    excludes: IgnoreMatcher | None,
    allow_empty_wildcard: bool,
    keyword: str,
) -> list[LocalItem]:
    """Resolve every source; raises BuildError (nothing written yet) when one is missing."""
    items: list[LocalItem] = []
    for source in sources:
        if parents:
            items.extend(_plan_parents(tree, source, excludes, keyword))
            continue
        if not contains_wildcards(clean_source(source)):
            match = tree.match(source, keyword=keyword)
            items.append(LocalItem(match, _entry_filter(tree, excludes, None)))
            continue
        matches = tree.expand(source, keyword=keyword)
        if not matches and not allow_empty_wildcard:
            raise BuildError(
                f"{keyword} failed: no source files were specified: {source!r} matches nothing "
                f"in {tree.what}"
            )
        for match in matches:
            if excludes is not None and match.pattern_path and excludes.matches(match.pattern_path):
                continue
            items.append(LocalItem(match, _entry_filter(tree, excludes, None)))
    return items


def _plan_parents(
    tree: SourceTree, source: str, excludes: IgnoreMatcher | None, keyword: str
) -> list[LocalItem]:
    """`--parents`: copy from the pivot (before `/./`, else the root) what the rest names."""
    pivot, has_pivot, rest = source.partition("/./")
    if not has_pivot:
        pivot, rest = "/", source
    pattern = clean_source(rest)
    if not contains_wildcards(pivot) and not contains_wildcards(pattern):
        required = f"{clean_source(pivot)}/{pattern}".strip("/")
        if tree.resolve(required) is None:
            raise tree.not_found(required, keyword)
    include = None
    if pattern:
        try:
            include = IgnoreMatcher.compile(["*", "!" + pattern])
        except DockerignoreError as exc:
            raise BuildError(f"{keyword} failed: bad source pattern {source!r}: {exc}") from None
    pivots = (
        tree.expand(pivot, keyword=keyword)
        if contains_wildcards(clean_source(pivot))
        else [tree.match(pivot, keyword=keyword)]
    )
    items = []
    for match in pivots:
        if not match.is_dir:
            raise BuildError(
                f"{keyword} --parents failed: {match.shown} (before '/./' in {source!r}) "
                "is not a directory"
            )
        items.append(LocalItem(match, _entry_filter(tree, excludes, include)))
    return items


def _entry_filter(
    tree: SourceTree, excludes: IgnoreMatcher | None, include: IgnoreMatcher | None
) -> EntryFilter:
    """Combine .dockerignore, `--exclude` and a `--parents` pattern into one decision."""
    if excludes is None and include is None and not tree.has_ignore_rules:
        return take_everything

    def decide(below: str, rel: str, is_dir: bool) -> Decision:
        take = True
        may_enter = True
        if tree.ignored(rel):
            take = False
            may_enter = tree.may_keep_inside(rel)
        for matcher in (excludes, include):
            if matcher is not None and matcher.matches(below):
                take = False
                may_enter = may_enter and matcher.may_match_inside(below)
        if take:
            return Decision.TAKE
        return Decision.ENTER if is_dir and may_enter else Decision.SKIP

    return decide
