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
    from builder.image.model import Descriptor
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


def docker_media_types(store: Store, record: ImageRecord) -> ImageRecord:
    """The image with a Docker schema 2 manifest (`oci-mediatypes=false`), stored and recorded.

    The config and layers are the same bytes (only their descriptors' media
    types change), so the image ID stays; its record now names the Docker
    manifest. Manifest annotations have no place in schema 2 and are dropped.
    """
    from dataclasses import replace

    from builder.image import mediatypes
    from builder.image.model import Manifest

    manifest = store.manifest(record)
    if manifest.media_type == mediatypes.DOCKER_MANIFEST:
        return record
    docker = Manifest(
        config=replace(manifest.config, media_type=mediatypes.DOCKER_CONFIG),
        layers=tuple(
            replace(layer, media_type=mediatypes.to_docker(layer.media_type))
            for layer in manifest.layers
        ),
        media_type=mediatypes.DOCKER_MANIFEST,
    )
    digest = store.put_blob(docker.to_bytes())
    return store.add_image(digest)


def store_index(
    store: Store,
    images: Mapping[str, ImageRecord],
    *,
    docker: bool = False,
    annotations: Mapping[str, str] | None = None,
    descriptors: Mapping[str, Mapping[str, str]] | None = None,
    extra: Sequence[Descriptor] = (),
) -> IndexRecord:
    """Store the index naming `images` (platform -> image, in `--platform` order); no name yet.

    `docker`: a Docker manifest list (the images' manifests should be Docker's
    too). `annotations` go on the index, `descriptors[platform]` on that
    platform's entry (an OCI index only: a Docker list has no annotations).
    `extra` entries (the images' attestation manifests) follow the images.
    """
    manifests = [
        PlatformManifest(
            platform=parse_platform(platform),
            digest=record.manifest_digest,
            size=store.blob_size(record.manifest_digest),
            media_type=record.media_type,
            annotations=(descriptors or {}).get(platform, {}),
        )
        for platform, record in images.items()
    ]
    index = assemble_index(manifests, docker=docker, annotations=annotations, extra=extra)
    digest = store.put_blob(index.to_bytes())
    return store.add_index(digest)


def platform_dir(platform: str) -> str:
    """`linux_arm64`: a platform's subdirectory in `local` and `tar` outputs (BuildKit's name)."""
    return str(parse_platform(platform)).replace("/", "_")
