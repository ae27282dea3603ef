"""`--annotation [TYPE[PLATFORM]:]KEY=VALUE`, parsed as buildx does.

Manifest annotations (no type, or `manifest:`) go on each platform's
manifest. A multi-platform build's index takes `index:` annotations, and
its entries `manifest-descriptor:` ones; a single platform has no index, so
there those are refused rather than dropped (`check_annotation_levels`), as
is `index-descriptor:` (the descriptor of the index in an OCI layout).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from builder.errors import UsageError

#: buildx's annotation key: an optional `type[platform]:` prefix, then the key
_KEY = re.compile(r"^(?:([a-z-]+)(?:\[([A-Za-z0-9_/-]+)\])?:)?(\S+)$")
KNOWN_TYPES = ("index", "index-descriptor", "manifest", "manifest-descriptor")
SUPPORTED_TYPES = ("", "manifest", "index", "manifest-descriptor")
_INDEX_LEVELS = ("index", "manifest-descriptor")


@dataclass(frozen=True)
class Annotation:
    """One annotation, for every platform or for `platform` only."""

    key: str
    value: str
    platform: str | None = None  #: `manifest[linux/amd64]:...`: only that platform's manifest
    kind: str = "manifest"  #: manifest, index or manifest-descriptor


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
            hint="use manifest:KEY=VALUE (or KEY=VALUE), or index:KEY=VALUE in a "
            "multi-platform build",
        )
    return Annotation(name, value, platform, kind or "manifest")


def check_annotation_levels(annotations: list[Annotation], platforms: int) -> None:
    """UsageError for index-level annotations when the build makes no index (one platform)."""
    if platforms > 1:
        return
    for annotation in annotations:
        if annotation.kind in _INDEX_LEVELS:
            raise UsageError(
                f"--annotation {annotation.kind}:{annotation.key}={annotation.value}: "
                f"{annotation.kind} annotations are not supported for a single platform "
                "(its image is a plain manifest, without an index)",
                hint="use manifest:KEY=VALUE, or build several platforms (--platform a,b)",
            )


def index_annotations(annotations: list[Annotation]) -> dict[str, str]:
    """The annotations of a multi-platform build's index (`index:KEY=VALUE`)."""
    return {a.key: a.value for a in annotations if a.kind == "index"}


def descriptor_annotations(annotations: list[Annotation], platform: str) -> dict[str, str]:
    """The annotations of the index entry of `platform`'s manifest (`manifest-descriptor:`)."""
    return {
        a.key: a.value
        for a in annotations
        if a.kind == "manifest-descriptor"
        and (a.platform is None or _same_platform(a.platform, platform))
    }


def manifest_annotations(annotations: list[Annotation], platform: str) -> dict[str, str]:
    """The annotations of the manifest built for `platform` (`os/arch[/variant]`)."""
    out: dict[str, str] = {}
    for annotation in annotations:
        if annotation.kind != "manifest":
            continue
        if annotation.platform is None or _same_platform(annotation.platform, platform):
            out[annotation.key] = annotation.value
    return out


def _same_platform(wanted: str, built: str) -> bool:
    from builder.image.platform import parse_platform

    try:
        return parse_platform(wanted) == parse_platform(built)
    except ValueError:
        return False
