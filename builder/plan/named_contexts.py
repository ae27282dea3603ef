"""Named build contexts (`--build-context NAME=VALUE`), as buildx reads them.

A value is a local directory (absolute or relative), `docker-image://REF`
(an image, from the store or pulled, as FROM does), or a remote source (a
git repository or an HTTP(S) tarball, fetched before the build). Anything
else is a path, so an unknown scheme fails as a missing directory does in
buildx. A Dockerfile's `FROM NAME`, `COPY --from=NAME` and
`RUN --mount=from=NAME` then use the context; it takes precedence over a
stage or an image of the same name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from builder.errors import UsageError

__all__ = ["NamedContext", "context_name", "parse_build_context"]

DOCKER_IMAGE: Final = "docker-image://"
_NAME: Final = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
_REMOTE: Final = ("http://", "https://", "git://", "ssh://", "git@")


@dataclass(frozen=True)
class NamedContext:
    """One `--build-context`: exactly one of `path`, `image` or `url` is set."""

    name: str  #: as FROM and `--from` match it (`alpine`, not `docker.io/library/alpine`)
    path: Path | None = None  #: a local directory
    image: str | None = None  #: an image reference (`docker-image://`)
    url: str | None = None  #: a git repository or a tarball, fetched into `path` by the build


def context_name(name: str) -> str:
    """The short form buildx matches names in: `docker.io/library/a:latest` is `a`."""
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    return name.removesuffix(":latest")


def parse_build_context(value: str, *, cwd: Path | None = None) -> NamedContext:
    """Parse `NAME=VALUE`; UsageError with buildx's message when it is wrong."""
    name, sep, source = value.partition("=")
    if not sep:
        raise UsageError(f"invalid context value: {value}, expected key=value")
    if not _NAME.match(name):
        raise UsageError(
            f"invalid context name {name}: invalid reference format",
            hint="a context name is written like an image name: lower case, e.g. `base`",
        )
    key = context_name(name)
    if source.startswith(DOCKER_IMAGE):
        image = source[len(DOCKER_IMAGE) :]
        if not image:
            raise UsageError(f"invalid context value: {value}, docker-image:// needs a reference")
        return NamedContext(key, image=image)
    if source.startswith(_REMOTE):
        return NamedContext(key, url=source)
    path = Path(source) if cwd is None or Path(source).is_absolute() else cwd / source
    if not path.exists():
        raise UsageError(
            f"failed to get build context {key}: stat {source}: no such file or directory"
        )
    if not path.is_dir():
        raise UsageError(
            f"failed to get build context path {source}: not a directory",
            hint="a named context is a directory, docker-image://REF, or a git/https URL",
        )
    return NamedContext(key, path=path)
