"""Tiny test images, built directly into a Store: tar -> gzip -> blob, config, manifest."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from isal import igzip

from builder.image import mediatypes
from builder.image.model import Descriptor, History, ImageConfig, Manifest
from builder.image.platform import Platform, host_platform
from builder.store import ImageRecord, Store
from tests.store.images import layer_tar


def add_image(
    store: Store,
    layers: Sequence[Mapping[str, bytes] | bytes],
    *,
    name: str | None = None,
    platform: Platform | None = None,
    docker: bool = False,
    created: str = "2024-01-01T00:00:00Z",
) -> ImageRecord:
    """Store an image of `layers` (each a {path: content} map or a ready tar); tag it `name`."""
    platform = platform or host_platform()
    descriptors = []
    diff_ids = []
    for files in layers:
        tar = files if isinstance(files, bytes) else layer_tar(files)
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        blob = igzip.compress(tar, mtime=0)
        digest = store.put_blob(blob)
        descriptors.append(
            Descriptor(mediatypes.layer_media_type("gzip", docker=docker), digest, len(blob))
        )
    config = ImageConfig(
        architecture=platform.architecture,
        os=platform.os,
        variant=platform.variant,
        diff_ids=diff_ids,
        history=[History(created=created, created_by="test layer") for _ in layers],
        created=created,
    )
    config_bytes = config.to_bytes()
    config_digest = store.put_blob(config_bytes)
    manifest = Manifest(
        Descriptor(
            mediatypes.DOCKER_CONFIG if docker else mediatypes.OCI_CONFIG,
            config_digest,
            len(config_bytes),
        ),
        tuple(descriptors),
        media_type=mediatypes.DOCKER_MANIFEST if docker else mediatypes.OCI_MANIFEST,
    )
    manifest_digest = store.put_blob(manifest.to_bytes())
    return store.add_image(manifest_digest, names=[name] if name else [])


def write_oci_layout(store: Store, record: ImageRecord, directory: Path, tag: str) -> None:
    """An OCI image layout of one stored image, for skopeo/umoci to read."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    manifest = store.manifest(record)
    for digest in (
        record.manifest_digest,
        manifest.config.digest,
        *(d.digest for d in manifest.layers),
    ):
        target = blobs / digest.split(":", 1)[1]
        if not target.exists():
            shutil.copyfile(store.blob_path(digest), target)
    (directory / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    entry = Descriptor(
        record.media_type,
        record.manifest_digest,
        store.blob_size(record.manifest_digest),
        annotations={"org.opencontainers.image.ref.name": tag},
    )
    index = {"schemaVersion": 2, "manifests": [entry.to_json()]}
    (directory / "index.json").write_text(json.dumps(index))
