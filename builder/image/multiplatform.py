"""One image index from per-platform manifests: the single place an index is assembled.

A multi-platform build, a second `import --platform` under one name and the
exports all make their index here, so what goes into every index (entry
order, media types, and later attestation manifests) is decided once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from builder.image import mediatypes
from builder.image.model import Descriptor, Index
from builder.image.platform import Platform, normalize


@dataclass(frozen=True)
class PlatformManifest:
    """One platform's image manifest, as an index entry names it."""

    platform: Platform
    digest: str
    size: int
    media_type: str = mediatypes.OCI_MANIFEST
    annotations: Mapping[str, str] = field(default_factory=dict)


def assemble_index(
    manifests: Sequence[PlatformManifest],
    *,
    docker: bool = False,
    annotations: Mapping[str, str] | None = None,
    extra: Sequence[Descriptor] = (),
) -> Index:
    """An OCI index (a Docker manifest list with `docker`) naming each platform's manifest.

    Entries keep the given order (the order of `--platform`); `extra`
    descriptors (attestation manifests, say) follow them. A Docker manifest
    list takes no annotations, so they are left out there.
    """
    entries = [
        Descriptor(
            media_type=m.media_type,
            digest=m.digest,
            size=m.size,
            annotations={} if docker else dict(m.annotations),
            platform=normalize(m.platform),
        )
        for m in manifests
    ]
    return Index(
        manifests=(*entries, *extra),
        media_type=mediatypes.DOCKER_MANIFEST_LIST if docker else mediatypes.OCI_INDEX,
        annotations={} if docker else dict(annotations or {}),
    )
