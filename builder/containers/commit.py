"""`pybuild commit`: a container's upper dir as a new layer on top of its image.

The upper dir is written as the RUN commit writes a step's
(`write_layer(from_overlay_upper=True)`: overlay whiteouts become OCI
`.wh.` entries, opaque dirs `.wh..wh..opq`); the new config is the image's
with the `-c` changes applied and one history entry (docker's: the
container's command, the `-m` message as comment). The upper dir stays: the
container is unchanged. The image is added like a pulled one, its new layer
unpacked into a snapshot from the blob.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from builder.containers.changes import apply_changes
from builder.containers.record import Container, ContainerStore, now
from builder.errors import ContainerError, UsageError
from builder.image import mediatypes
from builder.image.model import Descriptor, History, ImageConfig, Manifest
from builder.image.reference import ReferenceError, parse_tag
from builder.store import ImageRecord, IncomingImage, Store


@dataclass(frozen=True)
class CommitOptions:
    name: str | None = None
    message: str = ""
    author: str = ""
    changes: tuple[str, ...] = ()


def commit_container(store: Store, container: Container, options: CommitOptions) -> ImageRecord:
    """Store the container's changes as a new image (tagged `options.name` when given)."""
    from builder.snapshot.layer import write_layer

    if container.running:
        raise ContainerError(
            f"container {container.name} is running", hint="commit it after it exits"
        )
    full_name = None
    if options.name:
        try:
            full_name = str(parse_tag(options.name))
        except ReferenceError as err:
            raise UsageError(str(err)) from None
    upper = ContainerStore(store.root).directory(container.id) / "rootfs" / "upper"
    if not upper.is_dir():
        raise ContainerError(f"container {container.name} has no file system to commit")
    with store.lease():
        base = Manifest.from_bytes(store.read_blob(container.manifest))
        config = ImageConfig.from_bytes(store.read_blob(base.config.digest))
        created = now()
        with store.blob_writer() as writer:
            blob = write_layer(upper, writer, compression="gzip", from_overlay_upper=True)
        docker = base.media_type == mediatypes.DOCKER_MANIFEST
        layer = Descriptor(
            mediatypes.DOCKER_LAYER_GZIP if docker else mediatypes.OCI_LAYER_GZIP,
            blob.digest,
            blob.size,
        )
        history = History(
            created=created,
            created_by=" ".join(container.command),
            author=options.author,
            comment=options.message,
        )
        new = dataclasses.replace(
            config,
            config=apply_changes(config.config, list(options.changes)),
            diff_ids=[*config.diff_ids, blob.diff_id],
            history=[*config.history, history],
            created=created,
            author=options.author or config.author,
        )
        config_bytes = new.to_bytes()
        manifest = Manifest(
            config=Descriptor(
                base.config.media_type, store.put_blob(config_bytes), len(config_bytes)
            ),
            layers=(*base.layers, layer),
            media_type=base.media_type,
        )
        digest = store.put_blob(manifest.to_bytes())
        names = (full_name,) if full_name else ()
        return store.add_unpacked_images([IncomingImage(digest, names)])[0]
