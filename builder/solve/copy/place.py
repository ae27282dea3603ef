"""Where each source of a COPY/ADD lands: Docker's destination rules.

For each thing a source names (BuildKit's fsutil `Copy` and `prepareTargetDir`):

- the destination's parent directories are made first: the destination
  itself when it ends with `/`, else its parent; new directories are 0755,
  owned by the `--chown` user (root otherwise), timestamped now;
- the destination is then resolved inside the root (a symlink, even the last
  component, is followed inside it);
- a directory source copies its *contents* into the destination directory
  (made when missing; an existing one keeps its own owner and mode);
- any other source goes *into* the destination when that is an existing
  directory, under the name it was asked by; else it *becomes* the
  destination (replacing a file or symlink there).

`Transfer` holds one COPY/ADD's destination, metadata policy and report;
`open_transfer` sets one up from the instruction's flags and `place_all`
writes what was planned, heredocs last: COPY and ADD share both.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from builder.errors import BuildError
from builder.solve.copy.chmod import parse_chmod
from builder.solve.copy.chown import resolve_chown
from builder.solve.copy.dest import DestRoot, DirOwner, container_path, dest_path
from builder.solve.copy.request import CopyRequest, InlineFile
from builder.solve.copy.source import SourceMatch, SourceTree
from builder.solve.copy.tree import EntryFilter, MetadataPolicy, TreeWriter, take_everything

__all__ = ["CopyReport", "InlineFile", "Transfer", "open_transfer", "os_errors", "place_all"]

_INLINE_MODE: Final = 0o644  # BuildKit's Mkfile mode for heredoc sources

Planned = TypeVar("Planned")


@dataclass(frozen=True)
class CopyReport:
    """What a COPY/ADD wrote."""

    paths: tuple[str, ...]  #: top-level destination paths written, as the container sees them
    files: int = 0  #: regular files written (hard links not counted)
    bytes: int = 0  #: bytes of file content written
    #: remote sources fetched (ADD): (URI, `sha256:<hex>` of a download or `sha1:<commit>`)
    remote: tuple[tuple[str, str], ...] = ()


@contextlib.contextmanager
def os_errors(keyword: str) -> Iterator[None]:
    """Turn an unexpected OSError (a race, a permission) into a BuildError."""
    try:
        yield
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise BuildError(f"{keyword} failed: {exc.strerror or exc}{where}") from None


class Transfer:
    """One COPY or ADD into `dest_root`: its destination, its metadata rules, its report."""

    def __init__(
        self,
        dest_root: Path,
        *,
        keyword: str,
        dest: str,
        chown: str | tuple[int, int] | None,
        chmod: str | None,
        reset_owner: bool,
        copy_xattrs: bool,
        timestamp_ns: int | None,
        user_root: Path | None,
    ) -> None:
        self.keyword = keyword
        self.dest_path = dest  #: absolute, a trailing "/" kept (`dest.dest_path`)
        owner = self._owner(chown, user_root or dest_root)
        chmod_spec = parse_chmod(chmod) if chmod else None
        self.policy = MetadataPolicy(owner, reset_owner, chmod_spec, copy_xattrs, timestamp_ns)
        uid, gid = owner if owner is not None else (0, 0)
        self.dir_owner = DirOwner(uid, gid, timestamp_ns)
        self.dest = DestRoot(dest_root)
        self.writer = TreeWriter(self.dest, self.policy)
        self._written: list[str] = []

    @staticmethod
    def _owner(chown: str | tuple[int, int] | None, user_root: Path) -> tuple[int, int] | None:
        if chown is None or isinstance(chown, tuple):
            return chown
        return resolve_chown(user_root, chown)

    def __enter__(self) -> Transfer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.dest.close()

    # ---------------------------------------------------------------- checks

    def check_destination(self, count: int) -> None:
        """Several things go to one destination only when it is a directory.

        Like Docker's classic builder (BuildKit silently lets the last one
        win): an error, unless the destination ends with `/` or already is a
        directory.
        """
        if count <= 1 or self.dest_path.endswith("/"):
            return
        resolved = self.dest.resolve(self.dest_path)
        st = None if resolved.missing else self.dest.lookup(resolved.existing)
        if st is not None and stat.S_ISDIR(st.st_mode):
            return
        raise BuildError(
            f"When using {self.keyword} with more than one source file, "
            "the destination must be a directory and end with a /",
            hint=f"write the destination as {self.dest_path}/",
        )

    # ---------------------------------------------------------------- placing

    def record(self, path: str) -> None:
        if path not in self._written:
            self._written.append(path)

    def report(self) -> CopyReport:
        return CopyReport(tuple(self._written), self.writer.files, self.writer.bytes)

    def ensure_dir(self, path: str) -> tuple[str, ...]:
        """MkdirAll inside the destination root, with this copy's owner and time."""
        return self.dest.ensure_dir(path, self.dir_owner)

    def _ensure_parent(self) -> None:
        dest = self.dest_path
        self.ensure_dir(dest if dest.endswith("/") else posixpath.dirname(dest) or "/")

    def _resolve_dest(self) -> tuple[tuple[str, ...], os.stat_result | None]:
        resolved = self.dest.resolve(self.dest_path)
        parts = resolved.existing + resolved.missing
        st = None if resolved.missing else self.dest.lookup(resolved.existing)
        return parts, st

    def place(
        self,
        tree: SourceTree,
        match: SourceMatch,
        *,
        entry_filter: EntryFilter = take_everything,
        contents_only: bool = True,
    ) -> None:
        """Copy what `match` names into the destination, by Docker's rules.

        `contents_only=False` (git sources) makes a missing destination a
        copy of the source directory itself, metadata included.
        """
        self._ensure_parent()
        parts, st = self._resolve_dest()
        self.writer.start_source()
        src_st = tree.lstat(match.path)
        if src_st is None:
            raise BuildError(f"{self.keyword} failed: {match.shown} disappeared while copied")
        if stat.S_ISDIR(src_st.st_mode):
            self._place_dir(tree, match, src_st, parts, st, entry_filter, contents_only)
            return
        if st is not None and stat.S_ISDIR(st.st_mode):
            target = (*parts, match.name)
        else:
            target = (*self.ensure_dir(container_path(parts[:-1])), parts[-1])
        parent, _, name = match.path.rpartition("/")
        src_dir = tree.open_dir(parent)
        try:
            self.writer.copy_entry(src_dir, name, src_st, target)
        finally:
            os.close(src_dir)
        self.record(container_path(target))

    def _place_dir(
        self,
        tree: SourceTree,
        match: SourceMatch,
        src_st: os.stat_result,
        parts: tuple[str, ...],
        st: os.stat_result | None,
        entry_filter: EntryFilter,
        contents_only: bool,
    ) -> None:
        if st is not None and not stat.S_ISDIR(st.st_mode):
            raise BuildError(
                f"cannot copy the directory {match.shown} to {container_path(parts)}: "
                "a file is there",
                hint="remove it in an earlier step, or copy to another path",
            )
        create = st is None and not contents_only
        if st is None:
            if contents_only:
                parts = self.ensure_dir(container_path(parts))
            else:
                parts = (*self.ensure_dir(container_path(parts[:-1])), parts[-1])
        src_fd = tree.open_dir(match.path)
        try:
            self.writer.copy_tree(
                src_fd, src_st, match.path, parts, create=create, entry_filter=entry_filter
            )
        finally:
            os.close(src_fd)
        self.record(container_path(parts))

    def place_inline(self, files: Sequence[InlineFile], work_dir: Path | None) -> None:
        """Write heredoc sources (0644, owned by root unless --chown) into the destination."""
        with tempfile.TemporaryDirectory(prefix="pybuild-heredoc-", dir=work_dir) as scratch:
            root = Path(scratch)
            for inline in files:
                name = inline.name
                if not name or "/" in name or name in (".", "..") or "\x00" in name:
                    raise BuildError(
                        f"{self.keyword} failed: {name!r} cannot be the name of a file",
                        hint="name the heredoc with a plain word: <<EOF",
                    )
                path = root / name
                path.write_bytes(inline.data)
                path.chmod(_INLINE_MODE)
            with SourceTree(root, what="the heredoc") as tree:
                for inline in files:
                    self.place(tree, tree.match(inline.name, keyword=self.keyword))


@contextlib.contextmanager
def open_transfer(
    dest_root: Path, request: CopyRequest, *, keyword: str, from_context: bool
) -> Iterator[Transfer]:
    """The `Transfer` of one COPY/ADD to the request's `dest` (relative to its `workdir`).

    Sources from the build context (`from_context`) are owned by root and
    lose their xattrs; from a stage they keep both. An OSError inside
    becomes a BuildError.
    """
    with (
        os_errors(keyword),
        Transfer(
            dest_root,
            keyword=keyword,
            dest=dest_path(request.workdir, request.dest),
            chown=request.chown,
            chmod=request.chmod,
            reset_owner=from_context,
            copy_xattrs=not from_context,
            timestamp_ns=request.timestamp_ns,
            user_root=request.user_root,
        ) as transfer,
    ):
        yield transfer


def place_all(
    transfer: Transfer,
    planned: Sequence[Planned],
    place: Callable[[Planned], None],
    heredocs: Sequence[InlineFile],
    work_dir: Path | None,
    *,
    check_destination: bool = True,
) -> CopyReport:
    """Place every planned source (`place`), then the heredocs; return what was written.

    With `check_destination`, several things need a directory destination
    (`Transfer.check_destination`).
    """
    if check_destination:
        transfer.check_destination(len(planned) + len(heredocs))
    for item in planned:
        place(item)
    if heredocs:
        transfer.place_inline(heredocs, work_dir)
    return transfer.report()
