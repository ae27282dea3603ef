"""docker-archive: the tar `docker save` writes and `docker load` reads.

Written the way Docker >= 25 writes it: an OCI layout (`oci-layout`,
`index.json`, `blobs/sha256/...`) plus the classic `manifest.json`
(`[{"Config": "blobs/sha256/<hex>", "RepoTags": ["debian:bookworm"],
"Layers": ["blobs/sha256/<hex>", ...]}]`) and `repositories`, so old and
new docker, containerd and skopeo all read it. Layers are written as
stored (usually gzip): `docker load` sniffs each layer file's compression
(moby `image/tarexport/load.go` passes it through `DecompressStream`;
containerd's importer detects the compression of docker-archive layers too).

Reading `manifest.json` covers every docker-archive generation: Docker >= 25
(layers under `blobs/`), and docker <= 24 / skopeo (`<hex>.json` configs,
`<id>/layer.tar` or `<hex>.tar` layers, uncompressed). When the archive
also holds an OCI layout whose manifest matches an entry (same config and
layers), that manifest is kept, so a save/load round trip keeps manifest
digests; otherwise an OCI manifest is built, after checking that each layer
hashes (uncompressed) to the config's `rootfs.diff_ids` entry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from builder.errors import ImageError
from builder.export.archive_reader import (
    ArchiveFiles,
    StoredFile,
    blob_name,
    hash_stream,
    read_blob_document,
)
from builder.export.oci_layout import is_layout, layout_entries, read_index, resolve_entry
from builder.export.selection import ImageSelection, merge_selections
from builder.export.staging import StagedImage, stage_manifest, tag_name
from builder.export.tar_writer import file_entry, write_tar
from builder.image import mediatypes
from builder.image.digest import DigestMismatchError, digest_hex
from builder.image.jsontext import parse_json
from builder.image.model import Descriptor, ImageConfig, Manifest
from builder.image.platform import host_platform
from builder.image.reference import parse_tag

if TYPE_CHECKING:
    from builder.store import Store

MANIFEST_FILE = "manifest.json"
REPOSITORIES_FILE = "repositories"


# --- writing ---------------------------------------------------------------------------------


def _json_file(obj: Any) -> bytes:
    """JSON as Go's json.Encoder writes it: compact, one trailing newline."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def manifest_json(store: Store, selections: Sequence[ImageSelection]) -> list[dict[str, Any]]:
    """The `manifest.json` items for `selections` (paths into the OCI layout's blobs)."""
    items = []
    for selection in selections:
        manifest = store.manifest(selection.record)
        items.append(
            {
                "Config": blob_name(manifest.config.digest),
                "RepoTags": [parse_tag(name).familiar for name in selection.names],
                "Layers": [blob_name(layer.digest) for layer in manifest.layers],
            }
        )
    return items


def repositories_json(store: Store, selections: Sequence[ImageSelection]) -> dict[str, Any]:
    """The legacy `repositories` file: {"debian": {"bookworm": "<top layer hex>"}}."""
    repositories: dict[str, dict[str, str]] = {}
    for selection in selections:
        config = store.config(selection.record)
        top = config.diff_ids[-1] if config.diff_ids else selection.record.config_digest
        for name in selection.names:
            ref = parse_tag(name)
            repository = ref.familiar.rsplit(":", 1)[0]
            repositories.setdefault(repository, {})[ref.tag or "latest"] = digest_hex(top)
    return repositories


def save_docker_archive(store: Store, selections: Sequence[ImageSelection], out: BinaryIO) -> None:
    """Stream a docker-archive of `selections` to `out` (deterministic bytes)."""
    selections = merge_selections(selections)
    entries = layout_entries(store, selections, attestations=False)
    entries.append(file_entry(MANIFEST_FILE, _json_file(manifest_json(store, selections))))
    repositories = repositories_json(store, selections)
    if repositories:
        entries.append(file_entry(REPOSITORIES_FILE, _json_file(repositories)))
    write_tar(entries, out)


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestItem:
    """One entry of `manifest.json`."""

    config: str
    repo_tags: tuple[str, ...]
    layers: tuple[str, ...]


def parse_manifest_json(data: bytes) -> list[ManifestItem]:
    what = MANIFEST_FILE
    obj = parse_json(data, what)
    if not isinstance(obj, list):
        raise ImageError(f"{what}: expected a JSON list of images")
    items = []
    for i, entry in enumerate(obj):
        where = f"{what} entry {i}"
        if not isinstance(entry, dict):
            raise ImageError(f"{where}: expected an object")
        config = entry.get("Config")
        tags = entry.get("RepoTags") or []
        layers = entry.get("Layers")
        if not isinstance(config, str) or not config:
            raise ImageError(f"{where}: 'Config' must be a file name")
        if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
            raise ImageError(f"{where}: 'Layers' must be a list of file names")
        if not isinstance(tags, list) or not all(isinstance(x, str) for x in tags):
            raise ImageError(f"{where}: 'RepoTags' must be a list of names")
        items.append(ManifestItem(config, tuple(tags), tuple(layers)))
    return items


def _layout_manifests(store: Store, files: ArchiveFiles) -> dict[str, list[tuple[str, Manifest]]]:
    """Manifests of the archive's OCI layout, by config digest (empty if it has none).

    Only a way to keep original manifest digests: a layout that cannot be
    read is ignored, and manifest.json alone decides what is loaded.
    """
    found: dict[str, list[tuple[str, Manifest]]] = {}
    if not is_layout(files):
        return found
    try:
        entries = read_index(files).manifests
    except ImageError:
        return found
    for i, entry in enumerate(entries):
        what = f"index.json entry {i}"
        try:
            descriptor = resolve_entry(store, files, entry, host_platform(), what)
            if descriptor is None:
                continue
            manifest, _config = stage_manifest(store, files, descriptor, what)
        except ImageError:
            continue
        found.setdefault(manifest.config.digest, []).append((descriptor.digest, manifest))
    return found


def _layer_descriptor(store: Store, layer: StoredFile, diff_id: str, what: str) -> Descriptor:
    """A layer file as an OCI layer descriptor, once it is shown to match `diff_id`."""
    from builder.snapshot.compression import decompressing_reader, detect_compression

    with store.open_blob(layer.digest) as blob:
        compression = detect_compression(blob.read(512))
    if compression == "none":
        if layer.digest != diff_id:
            raise DigestMismatchError(diff_id, layer.digest, what)
        return Descriptor(mediatypes.OCI_LAYER, layer.digest, layer.size)
    if compression in ("gzip", "zstd"):
        with (
            store.open_blob(layer.digest) as blob,
            decompressing_reader(blob, compression, what=what) as plain,
        ):
            actual = hash_stream(plain)
        if actual != diff_id:
            raise DigestMismatchError(diff_id, actual, what)
        return Descriptor(
            mediatypes.layer_media_type(compression, docker=False), layer.digest, layer.size
        )
    # bzip2 / xz: no OCI media type; keep the layer uncompressed (its digest is the diff_id)
    with (
        store.open_blob(layer.digest) as blob,
        decompressing_reader(blob, compression, what=what) as plain,
        store.blob_writer(expected=diff_id) as writer,
    ):
        while block := plain.read(1 << 20):
            writer.write(block)
    return Descriptor(mediatypes.OCI_LAYER, diff_id, writer.size)


def _build_manifest(
    store: Store, item: ManifestItem, config_file: StoredFile, config: ImageConfig,
    layers: list[StoredFile], what: str,
) -> str:  # fmt: skip
    descriptors = [
        _layer_descriptor(store, layer, diff_id, f"{what}: layer {path!r}")
        for layer, diff_id, path in zip(layers, config.diff_ids, item.layers, strict=True)
    ]
    manifest = Manifest(
        config=Descriptor(mediatypes.OCI_CONFIG, config_file.digest, config_file.size),
        layers=tuple(descriptors),
        media_type=mediatypes.OCI_MANIFEST,
    )
    return store.put_blob(manifest.to_bytes())


def docker_archive_images(store: Store, files: ArchiveFiles) -> list[StagedImage]:
    """Stage every image `manifest.json` lists (verified, not yet added)."""
    items = parse_manifest_json(files.read_document(MANIFEST_FILE))
    if not items:
        raise ImageError(f"{MANIFEST_FILE}: the archive holds no image")
    layout = _layout_manifests(store, files)
    staged: dict[str, StagedImage] = {}
    for i, item in enumerate(items):
        what = f"{MANIFEST_FILE} entry {i}"
        names = [tag_name(tag, what) for tag in item.repo_tags]
        config_file = files.stored(item.config)
        config = ImageConfig.from_bytes(read_blob_document(store, config_file.digest, what))
        if len(item.layers) != len(config.diff_ids):
            raise ImageError(
                f"{what}: {len(item.layers)} layers but the config lists "
                f"{len(config.diff_ids)} diff_ids",
                hint="the archive is inconsistent; nothing was loaded",
            )
        layers = [files.stored(path) for path in item.layers]
        layer_digests = [layer.digest for layer in layers]
        manifest_digest = next(
            (
                digest
                for digest, manifest in layout.get(config_file.digest, [])
                if [d.digest for d in manifest.layers] == layer_digests
            ),
            None,
        )
        if manifest_digest is None:
            manifest_digest = _build_manifest(store, item, config_file, config, layers, what)
        entry = staged.setdefault(manifest_digest, StagedImage(manifest_digest, config_file.digest))
        entry.add_names(names)
    return list(staged.values())
