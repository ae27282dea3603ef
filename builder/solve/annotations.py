"""`--annotation [TYPE[PLATFORM]:]KEY=VALUE`, parsed as buildx does.

Only manifest annotations (no type, or `manifest:`) are written, on each
platform's manifest; the index and descriptor levels (which a multi-platform
build's index could carry) are not implemented yet, so they are refused
rather than dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from builder.errors import UsageError

#: buildx's annotation key: an optional `type[platform]:` prefix, then the key
_KEY = re.compile(r"^(?:([a-z-]+)(?:\[([A-Za-z0-9_/-]+)\])?:)?(\S+)$")
KNOWN_TYPES = ("index", "index-descriptor", "manifest", "manifest-descriptor")
SUPPORTED_TYPES = ("", "manifest")


@dataclass(frozen=True)
class Annotation:
    """One manifest annotation, for every platform or for `platform` only."""

    key: str
    value: str
    platform: str | None = None  #: `manifest[linux/amd64]:...`: only that platform's manifest


def parse_annotation(text: str) -> Annotation:
    """One `--annotation` value; UsageError with buildx's message when it is malformed."""
    key, eq, value = text.partition("=")
    if not eq:
        raise UsageError(
            f"invalid annotation {text!r}, expected key=value",
            hint="write --annotation KEY=VALUE or --annotation manifest:KEY=VALUE",
        )
    match = _KEY.match(key)
    if match is None:
        raise UsageError(
            f"invalid annotation format, expected <type>:<key>=<value>, got {text!r}",
            hint="write --annotation KEY=VALUE or --annotation manifest:KEY=VALUE",
        )
    kind, platform, name = match.group(1) or "", match.group(2), match.group(3)
    if kind not in ("", *KNOWN_TYPES):
        raise UsageError(
            f"unknown annotation type {kind!r}", hint=f"types: {', '.join(KNOWN_TYPES)}"
        )
    if kind not in SUPPORTED_TYPES:
        raise UsageError(
            f"--annotation {text}: {kind} annotations are not supported",
            hint="pybuild writes annotations on image manifests only: "
            "use manifest:KEY=VALUE (or KEY=VALUE)",
        )
    return Annotation(name, value, platform)


def manifest_annotations(annotations: list[Annotation], platform: str) -> dict[str, str]:
    """The annotations of the manifest built for `platform` (`os/arch[/variant]`)."""
    out: dict[str, str] = {}
    for annotation in annotations:
        if annotation.platform is None or _same_platform(annotation.platform, platform):
            out[annotation.key] = annotation.value
    return out


def _same_platform(wanted: str, built: str) -> bool:
    from builder.image.platform import parse_platform

    try:
        return parse_platform(wanted) == parse_platform(built)
    except ValueError:
        return False
