"""Image references in Docker's grammar: `[registry[:port]/]path[:tag][@digest]`.

`debian` means `docker.io/library/debian:latest`, as docker does. The rules
(lower-case path components, `_`/`__`/`-`/`.` separators, 128-character
tags, `algorithm:hex` digests, 255-character names) follow the
distribution reference grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_REGISTRY = "docker.io"
OFFICIAL_NAMESPACE = "library"

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE = re.compile(
    rf"^(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)
_NAME_MAX = 255


class ReferenceError(ValueError):
    """A string that is not a valid image reference; the message says why."""


@dataclass(frozen=True)
class Reference:
    registry: str  #: e.g. "docker.io", "localhost:5000"
    path: str  #: e.g. "library/debian"
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """`registry/path`, the repository's full name."""
        return f"{self.registry}/{self.path}"

    @property
    def familiar(self) -> str:
        """The short form docker prints: `debian:bookworm`, `localhost:5000/app:1`."""
        name = self.name
        if self.registry == DEFAULT_REGISTRY:
            name = self.path.removeprefix(f"{OFFICIAL_NAMESPACE}/")
        return (
            name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")
        )

    def __str__(self) -> str:
        return (
            self.name
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )


def _looks_like_registry(first: str) -> bool:
    return "." in first or ":" in first or first == "localhost" or first.startswith("[")


def parse_reference(text: str, *, default_tag: str | None = "latest") -> Reference:
    """Parse and normalize a reference (`debian` -> `docker.io/library/debian:latest`).

    The tag defaults to `default_tag` when neither a tag nor a digest is given.
    """
    if not text:
        raise ReferenceError("invalid reference: empty name")
    m = _REFERENCE.match(text)
    if m is None:
        if text.lower() != text and _REFERENCE.match(text.lower()):
            raise ReferenceError(f"invalid reference {text!r}: repository name must be lowercase")
        raise ReferenceError(
            f"invalid reference {text!r}: expected [registry/]name[:tag][@digest] "
            "with a lower-case name (letters, digits, '.', '_', '-', '/')"
        )
    domain, path = m.group("domain"), m.group("path")
    if domain is not None and not _looks_like_registry(domain):
        # `team/app`: the first component is a path, not a registry
        path = f"{domain}/{path}"
        domain = None
        if not re.fullmatch(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*", path):
            raise ReferenceError(f"invalid reference {text!r}: repository name must be lowercase")
    registry = domain or DEFAULT_REGISTRY
    if registry == "index.docker.io":
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"{OFFICIAL_NAMESPACE}/{path}"
    if len(f"{registry}/{path}") > _NAME_MAX:
        raise ReferenceError(f"invalid reference {text!r}: name longer than {_NAME_MAX} characters")
    tag, digest = m.group("tag"), m.group("digest")
    if tag is None and digest is None:
        tag = default_tag
    return Reference(registry, path, tag, digest)


def parse_tag(text: str) -> Reference:
    """A name for `-t`: a reference with a tag (default `latest`) and no digest."""
    ref = parse_reference(text)
    if ref.digest is not None:
        raise ReferenceError(f"invalid tag {text!r}: a tag cannot contain a digest")
    return ref
