"""What the solver does with a named local context (`--build-context NAME=DIR`).

As in BuildKit, a directory context is read with its own `.dockerignore`
(not the Dockerfile's), its files are owned by 0:0 like the main context's,
and a step that uses it is keyed on the digest of everything it holds.
`FROM NAME` starts from an empty image with the directory's files as the
first layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from builder.context.dockerignore import DockerignoreError, IgnoreMatcher, load_ignore_patterns
from builder.errors import BuildError

if TYPE_CHECKING:
    from builder.context.statcache import StatCache

__all__ = ["context_digest", "named_ignore"]


def named_ignore(directory: Path) -> IgnoreMatcher:
    """The directory's own `.dockerignore` rules (an empty matcher without one)."""
    try:
        return load_ignore_patterns(directory, None)
    except DockerignoreError as err:
        raise BuildError(f"{directory}/.dockerignore: {err}") from None


def context_digest(directory: Path, statcache: StatCache | None = None) -> str:
    """`sha256:<hex>` over every file of the directory that its `.dockerignore` keeps."""
    from builder.context.hashing import content_digest
    from builder.context.walk import walk_context

    ignore = named_ignore(directory)
    return "context:" + content_digest(directory, walk_context(directory, ignore), statcache)
