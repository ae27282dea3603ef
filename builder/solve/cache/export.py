"""`--cache-to`: write a build's step records to a registry or an OCI layout directory.

registry: each layer the records name is skipped when the repository has
it, mounted from another repository of the same registry that a stored
image was pushed to, or uploaded; then the config blob, then the manifest
under the ref's tag. local: an OCI layout (`oci-layout`, `index.json`,
`blobs/`) whose index entry for the cache manifest is annotated with
`org.opencontainers.image.ref.name=<tag>`; other tags in the directory are
kept (cache versioning, as buildx does). inline: the executor already put
the records into the image config; this only checks they are there.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from builder.errors import ImageError, UsageError
from builder.export.oci_layout import link_or_copy_blob
from builder.image import mediatypes
from builder.image.model import Descriptor, Index, Manifest
from builder.image.reference import parse_reference
from builder.solve.cache.format import (
    INLINE_CACHE_KEY,
    CacheRecord,
    cache_manifest,
    encode_cache_config,
    parse_json_object,
    record_layers,
)

if TYPE_CHECKING:
    from builder.image.reference import Reference
    from builder.registry.client import RegistryClient
    from builder.registry.transport import RetryPolicy
    from builder.solve.cache.spec import CacheSpec
    from builder.store import ImageRecord, Store

_UPLOAD_JOBS = 3
_MAX_MOUNT_TRIES = 3


def usable_records(store: Store, records: list[CacheRecord]) -> tuple[list[CacheRecord], int]:
    """The records whose layer blob the store has (all, normally); and how many were dropped."""
    kept = [r for r in records if r.layer is None or store.has_blob(r.layer.digest)]
    return kept, len(records) - len(kept)


# --- registry ----------------------------------------------------------------------------------


def _cache_document(
    store: Store, records: list[CacheRecord], messages: list[str]
) -> tuple[list[Descriptor], bytes, Manifest]:
    """The layers, config bytes and manifest of a cache export (records lost to prune dropped)."""
    records, dropped = usable_records(store, records)
    if dropped:
        messages.append(f"skipping {dropped} records whose layers are no longer in the store")
    layers = record_layers(records)
    config = encode_cache_config(records)
    return layers, config, cache_manifest(config, layers)


def export_to_registry(
    store: Store,
    spec: CacheSpec,
    records: list[CacheRecord],
    *,
    insecure: bool = False,
    retry: RetryPolicy | None = None,
    client: RegistryClient | None = None,
) -> list[str]:
    """Push the records as a cache manifest to `spec.ref`; return progress lines."""
    from builder.registry.client import RegistryClient

    assert spec.ref is not None
    ref = parse_reference(spec.ref)
    messages = [f"exporting cache to registry {ref.familiar}"]
    layers, config, manifest = _cache_document(store, records, messages)
    own_client = client is None
    session = client or RegistryClient(ref.registry, insecure=insecure, retry=retry)
    try:
        counts = _push_layers(store, session, ref, layers)
        messages.append(
            f"exporting {len(layers)} layers: {counts['uploaded']} uploaded, "
            f"{counts['exists']} already there, {counts['mounted']} mounted"
        )
        messages.append(f"exporting config {manifest.config.digest} ({len(records)} records)")
        if not session.has_blob(ref.path, manifest.config.digest, push=True):
            session.upload_blob(ref.path, manifest.config.digest, len(config), io.BytesIO(config))
        digest = session.put_manifest(
            ref.path, ref.tag or "latest", manifest.to_bytes(), mediatypes.OCI_MANIFEST
        )
    finally:
        if own_client:
            session.close()
    messages.append(f"writing manifest {digest}")
    return messages


def _push_layers(
    store: Store, client: RegistryClient, ref: Reference, layers: list[Descriptor]
) -> dict[str, int]:
    from builder.registry.parallel import Cancelled, run_jobs
    from builder.registry.push import mount_sources

    sources = mount_sources(store, ref)
    counts = {"uploaded": 0, "exists": 0, "mounted": 0}
    lock = threading.Lock()

    def push_one(layer: Descriptor, cancel: threading.Event) -> None:
        if cancel.is_set():
            raise Cancelled()
        outcome = _push_blob(store, client, ref, layer, sources.get(layer.digest, []))
        with lock:
            counts[outcome] += 1

    client.ping()
    run_jobs(layers, push_one, _UPLOAD_JOBS)
    return counts


def _push_blob(
    store: Store, client: RegistryClient, ref: Reference, layer: Descriptor, mounts: list[str]
) -> str:
    from builder.registry.errors import RegistryStatusError, RegistryUnavailableError

    if client.has_blob(ref.path, layer.digest, push=True):
        return "exists"
    for repo in mounts[:_MAX_MOUNT_TRIES]:
        try:
            if client.mount_blob(ref.path, layer.digest, repo):
                return "mounted"
        except RegistryUnavailableError:
            raise
        except RegistryStatusError:
            continue  # not allowed to read that repository: upload instead
    size = store.blob_size(layer.digest)
    if size != layer.size:
        raise ImageError(
            f"local blob {layer.digest} is {size} bytes, the cache record says {layer.size}",
            hint="the store is damaged; build again without the cache (--no-cache)",
        )
    with store.open_blob(layer.digest) as source:
        client.upload_blob(ref.path, layer.digest, size, source)
    return "uploaded"


# --- local directory ---------------------------------------------------------------------------


def export_to_directory(store: Store, spec: CacheSpec, records: list[CacheRecord]) -> list[str]:
    """Write the records as a cache manifest into the OCI layout `spec.dest`."""
    from builder.export.archive_reader import blob_name
    from builder.export.oci_layout import (
        ANNOTATION_REF_NAME,
        INDEX_FILE,
        OCI_LAYOUT_BYTES,
        OCI_LAYOUT_FILE,
    )

    assert spec.dest is not None
    dest = Path(spec.dest)
    messages = [f"exporting cache to local directory {dest}"]
    layers, config, manifest = _cache_document(store, records, messages)
    manifest_bytes = manifest.to_bytes()
    manifest_desc = Descriptor(
        mediatypes.OCI_MANIFEST,
        _digest(manifest_bytes),
        len(manifest_bytes),
        annotations={ANNOTATION_REF_NAME: spec.tag},
    )
    try:
        dest.mkdir(parents=True, exist_ok=True)
        existing = _existing_entries(dest / INDEX_FILE)
        _write_atomically(dest / OCI_LAYOUT_FILE, OCI_LAYOUT_BYTES)
        for layer in layers:
            link_or_copy_blob(store, layer.digest, dest / blob_name(layer.digest))
        for data in (config, manifest_bytes):
            target = dest / blob_name(_digest(data))
            if not target.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                _write_atomically(target, data)
        kept = [d for d in existing if d.annotations.get(ANNOTATION_REF_NAME) != spec.tag]
        index = Index(manifests=(*kept, manifest_desc), media_type=mediatypes.OCI_INDEX)
        _write_atomically(dest / INDEX_FILE, index.to_bytes())
    except OSError as err:
        raise ImageError(f"cannot write the cache to {dest}: {err.strerror or err}") from None
    messages.append(f"exporting {len(layers)} layers, config {manifest.config.digest}")
    messages.append(f"writing manifest {manifest_desc.digest}")
    return messages


def _digest(data: bytes) -> str:
    from builder.image.digest import sha256_digest

    return sha256_digest(data)


def _existing_entries(index_path: Path) -> list[Descriptor]:
    if not index_path.exists():
        return []
    try:
        return list(Index.from_bytes(index_path.read_bytes()).manifests)
    except ImageError as err:
        raise ImageError(
            f"{index_path}: {err.message}",
            hint="give a new directory, or remove the broken index.json",
        ) from None


def _write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        with open(temp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


# --- inline ------------------------------------------------------------------------------------


def check_inline(store: Store, image: ImageRecord | None) -> list[str]:
    """Confirm the built image's config carries the inline records the executor embedded."""
    if image is None:
        raise UsageError("--cache-to type=inline needs the built image")
    config = parse_json_object(store.config_bytes(image), f"image {image.short_id} config")
    records = config.get(INLINE_CACHE_KEY)
    if not isinstance(records, dict):
        raise ImageError(
            f"image {image.short_id}: its config has no inline cache records",
            hint="this is a pybuild bug: the executor must embed inline_records() in the config",
        )
    count = len(records.get("records") or [])
    return [f"exporting cache inline: {count} records in the config of image {image.short_id}"]
