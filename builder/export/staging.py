"""Images found in an archive, checked and ready to be added to the store.

The format readers (docker-archive, OCI layout) turn an archive into
`StagedImage`s. Each was checked on the way: its manifest, config and every
layer blob are in the store and verified against their digests and sizes,
the config parses, and it has one layer per `rootfs.diff_ids` entry. Only
then does the loader add image records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from builder.errors import ImageError
from builder.export.archive_reader import ArchiveFiles, read_blob_document
from builder.image import mediatypes
from builder.image.model import Descriptor, ImageConfig, Manifest
from builder.image.reference import ReferenceError, parse_reference, parse_tag

if TYPE_CHECKING:
    from builder.store import Store


@dataclass
class StagedIndex:
    """A named multi-platform image of an archive: its stored index, every platform staged."""

    digest: str
    names: list[str] = field(default_factory=list)


@dataclass
class StagedImage:
    """One image of an archive: its stored manifest and the names to give it."""

    manifest_digest: str
    config_digest: str
    names: list[str] = field(default_factory=list)

    def add_names(self, names: list[str]) -> None:
        for name in names:
            if name not in self.names:
                self.names.append(name)


def tag_name(text: str, what: str) -> str:
    """A tag from an archive (`debian:bookworm`) as a full name; ImageError if invalid."""
    try:
        return str(parse_tag(text))
    except ReferenceError as err:
        raise ImageError(f"{what}: invalid image name {text!r}: {err}") from None


def name_with_tag(text: str) -> str | None:
    """A full `name:tag` from an annotation, or None if it has no tag (or is not a name)."""
    try:
        ref = parse_reference(text, default_tag=None)
    except ReferenceError:
        return None
    if ref.tag is None:
        return None
    return str(parse_tag(f"{ref.name}:{ref.tag}"))


def check_manifest(store: Store, files: ArchiveFiles, manifest: Manifest, what: str) -> ImageConfig:
    """Verify a manifest's config and layers (present, digests, sizes); return the config."""
    if manifest.config.media_type and manifest.config.media_type not in mediatypes.CONFIG_TYPES:
        raise ImageError(
            f"{what}: config media type {manifest.config.media_type!r} is not an image config",
            hint="the archive holds an artifact, not a container image",
        )
    files.ensure_blob(manifest.config.digest, manifest.config.size)
    config = ImageConfig.from_bytes(read_blob_document(store, manifest.config.digest, what))
    for i, layer in enumerate(manifest.layers):
        if not mediatypes.is_layer(layer.media_type):
            raise ImageError(f"{what}: layer {i} has unsupported media type {layer.media_type!r}")
        files.ensure_blob(layer.digest, layer.size)
    if len(manifest.layers) != len(config.diff_ids):
        raise ImageError(
            f"{what}: {len(manifest.layers)} layers but the config lists "
            f"{len(config.diff_ids)} diff_ids",
            hint="the archive is inconsistent; nothing was loaded",
        )
    return config


def stage_manifest(
    store: Store, files: ArchiveFiles, descriptor: Descriptor, what: str
) -> tuple[Manifest, ImageConfig]:
    """Verify the manifest `descriptor` points to, and everything it references."""
    files.ensure_blob(descriptor.digest, descriptor.size)
    data = read_blob_document(store, descriptor.digest, what)
    manifest = Manifest.from_bytes(data, descriptor.media_type or None)
    return manifest, check_manifest(store, files, manifest, what)
