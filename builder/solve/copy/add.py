"""ADD: COPY from the build context, plus archives, URLs and git repositories.

Each source of an ADD is one of (`kinds.source_kind`; BuildKit's `dispatchCopy`
with isAddCommand):

- a git repository (`git`): its files (and `.git` with
  `--keep-git-dir`) go into the destination directory;
- an `http(s)://` URL (`url`): one file, mode 0600, copied like a local
  file; not unpacked unless `--unpack=true`;
- a local path of the build context, as COPY (wildcards, .dockerignore,
  `--exclude`); a local tar archive is unpacked into the destination
  directory (`archive`) unless `--unpack=false`.

Everything remote is fetched, and every local source resolved, before the
first byte is written, so a failed download or a checksum mismatch leaves
the destination untouched. `--checksum` needs exactly one source, a URL or
a git repository.
"""

from __future__ import annotations

import contextlib
import dataclasses
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from builder.errors import BuildError
from builder.solve.copy.archive import is_archive, unpack_archive
from builder.solve.copy.files import (
    LocalItem,
    compile_excludes,
    open_sources,
    place_local,
    plan_sources,
)
from builder.solve.copy.git import GitRef, fetch_git_commit, parse_git_ref
from builder.solve.copy.kinds import SourceKind, is_remote_source, redact, source_kind
from builder.solve.copy.place import CopyReport, Transfer, open_transfer, place_all
from builder.solve.copy.request import CopyRequest
from builder.solve.copy.source import Ignore, SourceMatch, SourceTree
from builder.solve.copy.url import download

__all__ = ["add_into"]


@dataclass
class _Remote:
    """A fetched URL or git checkout, waiting to be copied."""

    root: Path
    match: SourceMatch
    git: bool
    material: tuple[str, str] = ("", "")  #: (URI, digest) for provenance


def add_into(
    dest_root: Path,
    request: CopyRequest,
    *,
    checksum: str | None = None,
    keep_git_dir: bool | None = None,
    unpack: bool | None = None,
    http_timeout: float = 300.0,
    git_timeout: float = 600.0,
) -> CopyReport:
    """Carry out `ADD [flags] <sources...> <dest>`; return the paths written.

    The request as for `copy_into` (local sources always come from the build
    context), plus `checksum` (`--checksum`), `keep_git_dir`
    (`--keep-git-dir`, None when not given) and `unpack` (`--unpack`, None
    when not given: local archives are unpacked, downloads are not).
    Downloads and clones go below `request.work_dir` and are removed
    afterwards.
    """
    sources = request.sources
    _check_checksum(sources, checksum)
    kinds = [_kind(source) for source in sources]
    with (
        open_transfer(dest_root, request, keyword="ADD", from_context=True) as transfer,
        tempfile.TemporaryDirectory(prefix="pybuild-add-", dir=request.work_dir) as scratch,
        _context(kinds, request.src_root, request.ignore) as tree,
    ):
        steps = _prepare(
            sources, kinds, tree, Path(scratch), request.excludes, request.allow_empty_wildcard,
            checksum, keep_git_dir, http_timeout, git_timeout,
        )  # fmt: skip
        report = place_all(
            transfer,
            steps,
            lambda step: _place(transfer, tree, step, unpack),
            request.heredocs,
            request.work_dir,
        )
    remote = tuple(step.material for step in steps if isinstance(step, _Remote))
    return dataclasses.replace(report, remote=remote)


def _kind(source: str) -> GitRef | SourceKind:
    """The git ref of a git source (a bad one raises BuildError), else the source's kind."""
    kind = source_kind(source)
    if kind is SourceKind.GIT:
        ref = parse_git_ref(source)
        assert ref is not None
        return ref
    return kind


def _context(
    kinds: Sequence[GitRef | SourceKind], src_root: Path | None, ignore: Ignore | None
) -> contextlib.AbstractContextManager[SourceTree | None]:
    """The build context when a source is local; nothing when all are remote."""
    if SourceKind.LOCAL not in kinds:
        return contextlib.nullcontext()
    return open_sources(src_root, ignore, what="the build context", keyword="ADD")


def _check_checksum(sources: Sequence[str], checksum: str | None) -> None:
    if not checksum:
        return
    if len(sources) != 1:
        raise BuildError("checksum can't be specified for multiple sources")
    if not is_remote_source(sources[0]):
        raise BuildError("checksum requires HTTP(S) or Git sources")


def _prepare(
    sources: Sequence[str],
    kinds: Sequence[GitRef | SourceKind],
    tree: SourceTree | None,
    scratch: Path,
    excludes: Sequence[str],
    allow_empty_wildcard: bool,
    checksum: str | None,
    keep_git_dir: bool | None,
    http_timeout: float,
    git_timeout: float,
) -> list[LocalItem | _Remote]:
    """Resolve local sources and fetch remote ones, in source order; nothing is written."""
    exclude_matcher = compile_excludes(excludes)
    steps: list[LocalItem | _Remote] = []
    for index, (source, kind) in enumerate(zip(sources, kinds, strict=True)):
        if kind is SourceKind.LOCAL:
            assert tree is not None
            steps.extend(
                plan_sources(
                    tree,
                    [source],
                    parents=False,
                    excludes=exclude_matcher,
                    allow_empty_wildcard=allow_empty_wildcard,
                    keyword="ADD",
                )
            )
            continue
        directory = scratch / f"remote-{index}"
        directory.mkdir()
        if isinstance(kind, GitRef):
            if None not in (keep_git_dir, kind.keep_git_dir) and keep_git_dir != kind.keep_git_dir:
                raise BuildError("inconsistent keep-git-dir configuration")
            if checksum and kind.checksum and checksum != kind.checksum:
                raise BuildError(f"checksum mismatch {checksum!r} != {kind.checksum!r}")
            root, commit = fetch_git_commit(
                kind,
                directory,
                keep_git_dir=bool(keep_git_dir),
                checksum=checksum,
                timeout=git_timeout,
            )
            uri = redact(kind.remote) + (f"#{kind.ref}" if kind.ref else "")
            match = _git_match(root, kind, source)
            steps.append(_Remote(root, match, git=True, material=(uri, f"sha1:{commit}")))
        else:
            got = download(source, directory, checksum=checksum, timeout=http_timeout)
            match = SourceMatch(got.name, got.name, False, source)
            steps.append(_Remote(got.root, match, git=False, material=(redact(source), got.digest)))
    return steps


def _git_match(root: Path, ref: GitRef, source: str) -> SourceMatch:
    if not ref.subdir:
        return SourceMatch("", ref.short_name, True, source)
    with SourceTree(root, what=f"the repository {ref.remote}") as tree:
        resolved = tree.resolve(ref.subdir)
        st = None if resolved is None else tree.lstat(resolved)
    if resolved is None or st is None:
        raise BuildError(f"ADD failed: {ref.subdir!r} does not exist in {source}")
    name = ref.subdir.rstrip("/").rpartition("/")[2]
    return SourceMatch(resolved, name, stat.S_ISDIR(st.st_mode), source)


def _place(
    transfer: Transfer, tree: SourceTree | None, step: LocalItem | _Remote, unpack: bool | None
) -> None:
    """Local archives are unpacked unless `--unpack=false`, downloads only with `--unpack=true`."""
    if isinstance(step, _Remote):
        _place_remote(transfer, step, unpack is True)
        return
    assert tree is not None
    if unpack is not False and is_archive(tree, step.match):
        unpack_archive(transfer, tree, step.match)
    else:
        place_local(transfer, tree, step)


def _place_remote(transfer: Transfer, remote: _Remote, unpack: bool) -> None:
    what = "the repository" if remote.git else "the download"
    with SourceTree(remote.root, what=what) as tree:
        if remote.git:
            transfer.place(tree, remote.match, contents_only=False)
        elif unpack and is_archive(tree, remote.match):
            unpack_archive(transfer, tree, remote.match)
        else:
            transfer.place(tree, remote.match)
