"""OCI image layouts: writing a directory or tar of them, and reading their images.

A layout is `oci-layout`, `index.json` and `blobs/<alg>/<hex>` (image-spec
`image-layout.md`). As BuildKit and containerd do, each index entry for a
named image carries two annotations: `org.opencontainers.image.ref.name` =
the tag and `io.containerd.image.name` = the full name. An image without a
name gets one entry without annotations.

Reading: every index entry is followed to a single-platform manifest (a
nested index selects the host platform), except a named nested index whose
every platform's image is in the layout (what a multi-platform build or
`save` writes): without a platform asked for, all of them are loaded and the
name names the index, as the store keeps multi-platform images. Its name comes from
`io.containerd.image.name`, else from a `ref.name` that is a whole
reference (`busybox:1.36`); a bare tag (`latest`) names no repository, so
that image is loaded without a name and a warning says so.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from builder.errors import ImageError
from builder.export.archive_reader import ArchiveFiles, blob_name, read_blob_document
from builder.export.atomic_file import write_atomically
from builder.export.selection import ImageSelection, merge_selections
from builder.export.staging import StagedImage, StagedIndex, name_with_tag, stage_manifest
from builder.export.tar_writer import TarEntry, dir_entries, file_entry, write_tar
from builder.image import mediatypes
from builder.image.digest import sha256_digest
from builder.image.jsontext import parse_json
from builder.image.model import Descriptor, Index, is_index, select_manifest
from builder.image.platform import Platform, host_platform
from builder.image.reference import parse_tag

if TYPE_CHECKING:
    from builder.store import Store

OCI_LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
LAYOUT_VERSION = "1.0.0"
OCI_LAYOUT_BYTES = json.dumps({"imageLayoutVersion": LAYOUT_VERSION}).encode()
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
_MAX_NESTING = 4

Warn = Callable[[str], None]


# --- writing ---------------------------------------------------------------------------------


def image_blobs(
    store: Store, selection: ImageSelection, *, attestations: bool = True
) -> list[tuple[str, int]]:
    """(digest, size) of an image's manifest, config and layers (and attestations, index);
    for a multi-platform image, its index's and all its images'."""
    if selection.index is not None:
        return _index_blobs(store, selection.index.digest)
    record = selection.record
    manifest = store.manifest(record)
    blobs = [(record.manifest_digest, store.blob_size(record.manifest_digest))]
    blobs.append((manifest.config.digest, manifest.config.size))
    blobs.extend((layer.digest, layer.size) for layer in manifest.layers)
    if attestations and record.attestations is not None:
        from builder.attest.generate import attestation_blobs, attested_image_index

        blobs.extend(attestation_blobs(store, record))
        index = attested_image_index(store, record)
        assert index is not None
        data = index.to_bytes()
        blobs.append((store.put_blob(data), len(data)))  # stored already when attached
    return blobs


def _index_blobs(store: Store, digest: str) -> list[tuple[str, int]]:
    """(digest, size) of an index, its platforms' images and its other entries."""
    blobs = [(digest, store.blob_size(digest))]
    records = [r for _, r in store.platforms_of(digest) or []]
    blobs.extend(_index_extras(store, digest, {r.manifest_digest for r in records}))
    for record in records:
        manifest = store.manifest(record)
        blobs.append((record.manifest_digest, store.blob_size(record.manifest_digest)))
        blobs.append((manifest.config.digest, manifest.config.size))
        blobs.extend((layer.digest, layer.size) for layer in manifest.layers)
    return list(dict.fromkeys(blobs))


def _index_extras(store: Store, digest: str, images: set[str]) -> list[tuple[str, int]]:
    """Blobs of an index's entries that are not platform images (attestation manifests)."""
    from builder.image.model import Manifest

    found: list[tuple[str, int]] = []
    for entry in Index.from_bytes(store.read_blob(digest)).manifests:
        if entry.digest in images or entry.media_type not in mediatypes.MANIFEST_TYPES:
            continue
        manifest = Manifest.from_bytes(store.read_blob(entry.digest), entry.media_type)
        found.append((entry.digest, entry.size))
        found.extend((d.digest, d.size) for d in (manifest.config, *manifest.layers))
    return found


def index_entries(
    store: Store, selection: ImageSelection, *, attestations: bool = True
) -> list[Descriptor]:
    """index.json entries for one image: one per name, or one unnamed entry.

    A multi-platform image's entries point at its image index (no platform); an
    image with attestations is entered as its index [image, attestation manifest],
    as BuildKit's oci exporter writes it.
    """
    record = selection.record
    if selection.index is not None:
        media_type, digest = selection.index.media_type, selection.index.digest
        size = store.blob_size(digest)
        entry_platform = None
    elif attestations and record.attestations is not None:
        from builder.attest.generate import attested_image_index

        index = attested_image_index(store, record)
        assert index is not None
        data = index.to_bytes()
        media_type, digest, size = index.media_type, sha256_digest(data), len(data)
        entry_platform = None
    else:
        media_type, digest = record.media_type, record.manifest_digest
        size = store.blob_size(digest)
        platform = store.config(record).platform
        entry_platform = platform if platform.os and platform.architecture else None
    if not selection.names:
        return [Descriptor(media_type, digest, size, platform=entry_platform)]
    entries = []
    for name in selection.names:
        ref = parse_tag(name)
        annotations = {ANNOTATION_IMAGE_NAME: str(ref), ANNOTATION_REF_NAME: ref.tag or "latest"}
        entries.append(
            Descriptor(media_type, digest, size, annotations=annotations, platform=entry_platform)
        )
    return entries


def layout_entries(
    store: Store, selections: Sequence[ImageSelection], *, attestations: bool = True
) -> list[TarEntry]:
    """The tar entries of an OCI layout holding `selections` (blobs streamed from the store).

    `attestations=False` leaves them out (docker archives, as BuildKit's docker exporter).
    """
    blobs: dict[str, int] = {}
    descriptors: list[Descriptor] = []
    for selection in selections:
        blobs.update(image_blobs(store, selection, attestations=attestations))
        descriptors.extend(index_entries(store, selection, attestations=attestations))
    index = Index(manifests=tuple(descriptors), media_type=mediatypes.OCI_INDEX)
    entries = [
        file_entry(OCI_LAYOUT_FILE, OCI_LAYOUT_BYTES),
        file_entry(INDEX_FILE, index.to_bytes()),
    ]
    for digest, size in blobs.items():
        entries.append(TarEntry(blob_name(digest), size, _blob_opener(store, digest)))
    return entries + dir_entries(blob_name(d) for d in blobs)


def _blob_opener(store: Store, digest: str) -> Callable[[], BinaryIO]:
    return lambda: store.open_blob(digest)


def save_oci(
    store: Store,
    selections: Sequence[ImageSelection],
    dest: Path | BinaryIO,
    *,
    tar: bool,
) -> None:
    """Write the images as an OCI layout directory (`tar=False`) or OCI archive (`tar=True`).

    A tar goes to `dest` (a path, or an open binary stream such as stdout).
    A directory is created if missing; an existing layout gains the images
    (entries with the same `ref.name` are replaced, as skopeo does). Blobs
    are hard-linked from the store when it is on the same filesystem, else copied.
    """
    selections = merge_selections(selections)
    if tar:
        if isinstance(dest, Path):
            write_atomically(dest, lambda out: write_tar(layout_entries(store, selections), out))
        else:
            write_tar(layout_entries(store, selections), dest)
        return
    if not isinstance(dest, Path):
        raise TypeError("an OCI layout directory needs a path")
    _save_layout_dir(store, selections, dest)


def _save_layout_dir(store: Store, selections: Sequence[ImageSelection], dest: Path) -> None:
    try:
        dest.mkdir(parents=True, exist_ok=True)
        existing = _existing_entries(dest)
        (dest / OCI_LAYOUT_FILE).write_bytes(OCI_LAYOUT_BYTES)
        new: list[Descriptor] = []
        for selection in selections:
            for digest, _size in image_blobs(store, selection):
                link_or_copy_blob(store, digest, dest / blob_name(digest))
            new.extend(index_entries(store, selection))
    except OSError as err:
        raise ImageError(f"cannot write the OCI layout {dest}: {err}") from None
    replaced = {d.annotations.get(ANNOTATION_REF_NAME) for d in new} - {None}
    kept = [d for d in existing if d.annotations.get(ANNOTATION_REF_NAME) not in replaced]
    index = Index(manifests=tuple(kept + new), media_type=mediatypes.OCI_INDEX)
    data = index.to_bytes()

    def write_index(out: BinaryIO) -> None:
        out.write(data)

    write_atomically(dest / INDEX_FILE, write_index)


def _existing_entries(dest: Path) -> list[Descriptor]:
    """The entries of the layout already at `dest` (none for an empty directory)."""
    if not (dest / INDEX_FILE).exists():
        if any(p.name != "blobs" for p in dest.iterdir()) and not (dest / OCI_LAYOUT_FILE).exists():
            raise ImageError(
                f"{dest} is neither empty nor an OCI layout",
                hint="give a new or empty directory, or an existing OCI layout",
            )
        return []
    try:
        return list(Index.from_bytes((dest / INDEX_FILE).read_bytes()).manifests)
    except ImageError as err:
        raise ImageError(f"{dest}/{INDEX_FILE}: {err.message}") from None


def link_or_copy_blob(store: Store, digest: str, target: Path) -> None:
    """A store blob into a layout: hard-linked when the filesystem allows, else copied."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(store.blob_path(digest), target)
        return
    except FileExistsError:
        return
    except OSError as err:
        if err.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with store.open_blob(digest) as source, open(tmp, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


# --- reading ---------------------------------------------------------------------------------


def is_layout(files: ArchiveFiles) -> bool:
    return files.exists(OCI_LAYOUT_FILE) and files.exists(INDEX_FILE)


def check_layout_version(files: ArchiveFiles) -> None:
    obj = parse_json(files.read_document(OCI_LAYOUT_FILE), OCI_LAYOUT_FILE)
    version = obj.get("imageLayoutVersion") if isinstance(obj, dict) else None
    if not isinstance(version, str) or not version.startswith("1."):
        raise ImageError(
            f"{OCI_LAYOUT_FILE}: unsupported imageLayoutVersion {version!r} (expected 1.x)"
        )


def read_index(files: ArchiveFiles) -> Index:
    try:
        return Index.from_bytes(files.read_document(INDEX_FILE))
    except ImageError as err:
        raise ImageError(f"{INDEX_FILE}: {err.message}") from None


def resolve_entry(
    store: Store,
    files: ArchiveFiles,
    entry: Descriptor,
    platform: Platform,
    what: str,
    depth: int = 0,
) -> Descriptor | None:
    """The single-platform manifest an index entry leads to; None if `platform` has none."""
    if entry.media_type in mediatypes.MANIFEST_TYPES:
        return entry
    if entry.media_type and entry.media_type not in mediatypes.INDEX_TYPES:
        return None  # an artifact or an unknown document: not an image
    files.ensure_blob(entry.digest, entry.size)
    data = read_blob_document(store, entry.digest, what)
    if not is_index(data, entry.media_type or None):
        return entry
    if depth >= _MAX_NESTING:
        raise ImageError(f"{what}: indexes nested more than {_MAX_NESTING} deep")
    nested = select_manifest(Index.from_bytes(data, entry.media_type or None), platform)
    if nested is None:
        return None
    return resolve_entry(store, files, nested, platform, what, depth + 1)


def entry_name(entry: Descriptor, warn: Warn, what: str) -> str | None:
    """The full image name an index entry gives its image, if any."""
    image_name = entry.annotations.get(ANNOTATION_IMAGE_NAME)
    if image_name:
        name = name_with_tag(image_name)
        if name is None:
            warn(f"{what}: ignoring {ANNOTATION_IMAGE_NAME}={image_name!r}: not a tagged name")
        return name
    ref_name = entry.annotations.get(ANNOTATION_REF_NAME)
    if not ref_name:
        return None
    if "/" in ref_name or ":" in ref_name:
        name = name_with_tag(ref_name)
        if name is not None:
            return name
    warn(
        f"{what}: tag {ref_name!r} names no repository; the image is loaded without a name "
        "(give it one with `pybuild tag IMAGE-ID NAME:TAG`)"
    )
    return None


def layout_images(
    store: Store, files: ArchiveFiles, *, warn: Warn, platform: Platform | None = None
) -> list[StagedImage | StagedIndex]:
    """Stage every image an OCI layout's index.json points to (verified, not yet added).

    Named multi-platform images come last, as `StagedIndex`es after their images.
    """
    check_layout_version(files)
    index = read_index(files)
    wanted = platform or host_platform()
    staged: dict[str, StagedImage] = {}
    indexes: list[StagedIndex] = []
    for i, entry in enumerate(index.manifests):
        what = f"{INDEX_FILE} entry {i} ({entry.digest})"
        if platform is None:
            whole = _whole_index(store, files, entry, warn, what, staged)
            if whole is not None:
                indexes.append(whole)
                continue
        manifest_descriptor = resolve_entry(store, files, entry, wanted, what)
        if manifest_descriptor is None:
            kind = entry.media_type or "no media type"
            warn(f"{what}: skipped: not an image for {wanted} ({kind})")
            continue
        if manifest_descriptor.digest not in staged:
            manifest, _config = stage_manifest(store, files, manifest_descriptor, what)
            staged[manifest_descriptor.digest] = StagedImage(
                manifest_descriptor.digest, manifest.config.digest
            )
        name = entry_name(entry, warn, what)
        if name is not None:
            staged[manifest_descriptor.digest].add_names([name])
    if not staged:
        raise ImageError(f"{INDEX_FILE}: the layout holds no image for {wanted}")
    return [*staged.values(), *indexes]


def _whole_index(
    store: Store,
    files: ArchiveFiles,
    entry: Descriptor,
    warn: Warn,
    what: str,
    staged: dict[str, StagedImage],
) -> StagedIndex | None:
    """Stage every platform of a named nested index; None to read the entry the usual way.

    That is when it is not an index, has no name, or lacks a platform's blobs.
    """
    if entry.media_type not in mediatypes.INDEX_TYPES:
        return None
    name = entry_name(entry, _no_warning, what)
    if name is None or not files.exists(blob_name(entry.digest)):
        return None
    files.ensure_blob(entry.digest, entry.size)
    nested = Index.from_bytes(read_blob_document(store, entry.digest, what), entry.media_type)
    platforms = [
        d
        for d in nested.manifests
        if d.media_type in mediatypes.MANIFEST_TYPES
        and d.platform is not None
        and d.platform.os != "unknown"
    ]
    if len(platforms) < 2 or not all(files.exists(blob_name(d.digest)) for d in platforms):
        return None
    for descriptor in platforms:
        if descriptor.digest not in staged:
            manifest, _config = stage_manifest(store, files, descriptor, what)
            staged[descriptor.digest] = StagedImage(descriptor.digest, manifest.config.digest)
    entry_name(entry, warn, what)  # its warnings, once
    return StagedIndex(entry.digest, [name])


def _no_warning(_message: str) -> None:
    return None
