"""A build context from the network: a git repository or an HTTP(S) tarball.

`pybuild build https://host/repo.git#ref:subdir` and `--build-context
NAME=URL` fetch the source into a private directory of the store with
ADD's fetchers (`copy.git`, `copy.url`, classified by `copy.kinds`), as
docker does: a git URL is checked out (its `subdir` is the context), an
archive is unpacked with the layer unpacker's hostile-input checks, and any
other download is the Dockerfile of an empty context. The directory is
removed when the build is done.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from builder.errors import BuildError
from builder.solve.copy.kinds import SourceKind, redact, source_kind

if TYPE_CHECKING:
    from builder.store import Store

__all__ = ["RemoteContext", "fetch_context", "fetched_context", "is_remote_context"]


@dataclass(frozen=True)
class RemoteContext:
    """A fetched context: its directory, or the Dockerfile a plain download was."""

    root: Path
    dockerfile: bytes | None = None  #: a download that is no archive: the Dockerfile


def is_remote_context(source: str) -> bool:
    """Is the context argument a git repository or an HTTP(S) URL (as ADD classifies)?"""
    return source_kind(source) is not SourceKind.LOCAL


def fetch_context(source: str, directory: Path) -> RemoteContext:
    """Fetch `source` below `directory` (which the caller removes); BuildError on failure."""
    if source_kind(source) is SourceKind.GIT:
        from builder.solve.copy.git import fetch_git, parse_git_ref

        ref = parse_git_ref(source)
        if ref is None:
            raise BuildError(f"invalid git URL {redact(source)}")
        checkout = fetch_git(ref, directory)
        root = (checkout / ref.subdir.strip("/")).resolve() if ref.subdir else checkout
        if not root.is_relative_to(checkout.resolve()) or not root.is_dir():
            raise BuildError(
                f"{redact(source)}: subdirectory {ref.subdir!r} is not a directory of the repo"
            )
        return RemoteContext(root)
    from builder.context.stdin import is_archive
    from builder.snapshot.apply import apply_layer
    from builder.solve.copy.url import download

    got = download(source, directory)
    path = got.root / got.name
    root = directory / "ctx"
    root.mkdir()
    with path.open("rb") as stream:
        head = stream.read(512)
        if not is_archive(head):
            return RemoteContext(root, head + stream.read())
        stream.seek(0)
        apply_layer(stream, root, compression="auto", allow_devices=False)
    os.unlink(path)
    return RemoteContext(root)


@contextmanager
def fetched_context(source: str, store: Store) -> Iterator[RemoteContext]:
    """Fetch `source` into a private directory of the store, removed afterwards."""
    from builder.snapshot.trees import remove_tree

    directory = store.temp_dir("context")
    try:
        yield fetch_context(source, directory)
    finally:
        remove_tree(directory, ignore_errors=True)  # any depth: the content is the server's
