"""Small real images for store tests: gzip layer tars, configs and manifests."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass

from builder.image import mediatypes
from builder.image.model import Descriptor, History, ImageConfig, Manifest
from builder.store import ImageRecord, Store


@dataclass(frozen=True)
class Layer:
    blob: bytes  #: gzip-compressed tar
    diff_id: str  #: sha256 of the uncompressed tar


def layer_tar(files: Mapping[str, bytes], *, whiteouts: tuple[str, ...] = ()) -> bytes:
    """An uncompressed, deterministic layer tar: regular files (parent dirs added), whiteouts."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for name in sorted(files):
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[name]))
        for name in whiteouts:
            head, _, base = name.rpartition("/")
            info = tarfile.TarInfo(f"{head}/.wh.{base}" if head else f".wh.{base}")
            tar.addfile(info, io.BytesIO(b""))
    return raw.getvalue()


def make_layer(files: dict[str, bytes], *, whiteouts: tuple[str, ...] = ()) -> Layer:
    """A gzip layer with regular files (parent dirs added) and OCI whiteouts."""
    data = layer_tar(files, whiteouts=whiteouts)
    return Layer(gzip.compress(data, mtime=0), "sha256:" + hashlib.sha256(data).hexdigest())


def store_image(
    store: Store,
    layers: list[Layer],
    *,
    names: tuple[str, ...] = (),
    repo_digest: str | None = None,
    created: str = "2024-01-01T00:00:00Z",
    docker: bool = False,
    diff_ids: list[str] | None = None,
    architecture: str = "amd64",
) -> ImageRecord:
    """Put the blobs of an image (config, manifest, layers) and add it under `names`."""
    config = ImageConfig(
        architecture=architecture,
        os="linux",
        diff_ids=diff_ids if diff_ids is not None else [layer.diff_id for layer in layers],
        history=[History(created=created, created_by="test")],
        created=created,
    )
    config_bytes = config.to_bytes()
    layer_type = mediatypes.layer_media_type("gzip", docker=docker)
    with store.lease():
        descriptors = tuple(
            Descriptor(layer_type, store.put_blob(layer.blob), len(layer.blob)) for layer in layers
        )
        manifest = Manifest(
            config=Descriptor(
                mediatypes.DOCKER_CONFIG if docker else mediatypes.OCI_CONFIG,
                store.put_blob(config_bytes),
                len(config_bytes),
            ),
            layers=descriptors,
            media_type=mediatypes.DOCKER_MANIFEST if docker else mediatypes.OCI_MANIFEST,
        )
        manifest_digest = store.put_blob(manifest.to_bytes())
        return store.add_image(manifest_digest, names=names, repo_digest=repo_digest)


def unique_image(store: Store, seed: str, *, names: tuple[str, ...] = ()) -> ImageRecord:
    """An image with one small layer whose content depends on `seed`."""
    return store_image(store, [make_layer({"seed.txt": seed.encode()})], names=names)
