"""What one COPY or ADD asks for: the sources, the destination and the flags both share.

`files.copy_into` and `add.add_into` take a `CopyRequest`; what only one of
them knows (`--parents`, `--checksum`, ...) stays a keyword of that function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from builder.solve.copy.source import Ignore

__all__ = ["CopyRequest", "InlineFile"]


@dataclass(frozen=True)
class InlineFile:
    """A heredoc source: a file named after its delimiter, holding `data`."""

    name: str
    data: bytes


@dataclass(frozen=True, kw_only=True)
class CopyRequest:
    """`COPY|ADD [flags] <sources...> <dest>`, variables already expanded."""

    sources: Sequence[str]  #: as written in the Dockerfile
    dest: str  #: as written; relative to `workdir` unless absolute
    workdir: str = "/"  #: the stage's working directory
    #: where local sources are read: the build context, or another stage's root
    src_root: Path | None = None
    #: the build context's .dockerignore matcher (or any predicate on context
    #: relpaths); what it excludes is invisible
    ignore: Ignore | None = None
    #: the inline sources, bodies already chomped/expanded; written last
    heredocs: Sequence[InlineFile] = ()
    #: `--chown`: `"user:group"` (names looked up in `user_root`) or `(uid, gid)`
    chown: str | tuple[int, int] | None = None
    chmod: str | None = None  #: `--chmod`: octal, or symbolic (`u+x,go=r`)
    excludes: Sequence[str] = ()  #: `--exclude` patterns (.dockerignore syntax)
    #: False: a wildcard matching nothing is an error (else it copies nothing)
    allow_empty_wildcard: bool = True
    #: a fixed time for everything written (SOURCE_DATE_EPOCH)
    timestamp_ns: int | None = None
    #: where `chown` names are looked up (default: the destination root; for
    #: `--link` pass the stage's root)
    user_root: Path | None = None
    #: scratch files (heredocs, downloads, clones) go below it (default: the
    #: system temporary directory) and are removed afterwards
    work_dir: Path | None = None
