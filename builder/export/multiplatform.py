"""The outputs of a multi-platform build: one index over the platforms' images.

`store_index` records the index (assembled by `builder.image.multiplatform`,
the one place indexes are made) in the store; `platform_dir` is the
subdirectory BuildKit gives each platform in `local` and `tar` outputs
(`linux_arm64`, `linux_arm_v7`); `check_outputs` refuses, before anything is
built, outputs that cannot hold several platforms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from builder.errors import UsageError
from builder.image.multiplatform import PlatformManifest, assemble_index
from builder.image.platform import parse_platform

if TYPE_CHECKING:
    from builder.export.output_spec import OutputSpec
    from builder.store import ImageRecord, IndexRecord, Store


def check_outputs(outputs: Sequence[OutputSpec]) -> None:
    """UsageError for an output a multi-platform result cannot go to (docker archives, --load)."""
    for spec in outputs:
        if spec.type == "docker":
            raise UsageError(
                f'output "{spec.text or "type=docker"}": the docker exporter does not support '
                "exporting manifest lists (a multi-platform image)",
                hint="use -o type=oci,dest=FILE, or --push, or build one platform for --load",
            )


def store_index(store: Store, images: Mapping[str, ImageRecord]) -> IndexRecord:
    """Store the index naming `images` (platform -> image, in `--platform` order); no name yet."""
    manifests = [
        PlatformManifest(
            platform=parse_platform(platform),
            digest=record.manifest_digest,
            size=store.blob_size(record.manifest_digest),
            media_type=record.media_type,
        )
        for platform, record in images.items()
    ]
    index = assemble_index(manifests)
    digest = store.put_blob(index.to_bytes())
    return store.add_index(digest)


def platform_dir(platform: str) -> str:
    """`linux_arm64`: a platform's subdirectory in `local` and `tar` outputs (BuildKit's name)."""
    return str(parse_platform(platform)).replace("/", "_")
