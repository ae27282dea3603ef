"""Garbage collection (prune) and disk usage.

Prune holds the exclusive GC lock, so no lease is active: no writer has a
temp file open, and every blob or snapshot that no image references is
garbage. Snapshot dirs are renamed to a temp name before they are deleted,
so an interrupted prune never leaves a half-deleted snapshot under a real
chain ID.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from builder.errors import PybuildError, StoreError
from builder.store.blobs import iter_blobs
from builder.store.files import fsync_dir, remove_tree, store_error, tree_size, unlink_quietly
from builder.store.index import ImageIndex, load_index, update_index
from builder.store.owners import is_alive, owner_of
from builder.store.paths import TEMP_PREFIX, StoreLayout, temp_name

_CHAIN_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class PruneReport:
    deleted_images: tuple[str, ...]  #: image IDs (config digests) removed
    deleted_blobs: int
    deleted_snapshots: int
    deleted_temp: int  #: stale temp files and dirs
    reclaimed_bytes: int


@dataclass(frozen=True)
class DiskUsage:
    images: int  #: image records
    dangling_images: int  #: images without a name
    images_size: int  #: bytes of the blobs images use, each blob counted once
    blobs: int  #: blob files on disk (used or not)
    blobs_size: int
    snapshots: int  #: unpacked layers
    snapshots_size: int
    cache_size: int  #: bytes under <root>/cache
    temp_size: int  #: temp files and dirs (stale ones are freed by prune)
    reclaimable: int  #: bytes `prune()` would free (dangling images, unused blobs, snapshots, temp)


def _size(path: Path) -> int:
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    if path.is_dir() and not path.is_symlink():
        return tree_size(path)
    return st.st_size


def _temp_entries(layout: StoreLayout) -> list[Path]:
    found: list[Path] = []
    if layout.tmp.is_dir():
        found.extend(layout.tmp.iterdir())
    if layout.snapshots.is_dir():
        found.extend(p for p in layout.snapshots.iterdir() if p.name.startswith(TEMP_PREFIX))
    return found


def _stale(entry: Path) -> bool:
    """A temp entry no running process owns (names without an owner are from older pybuilds)."""
    owner = owner_of(entry.name)
    return owner is None or not is_alive(owner)


def _referenced(index: ImageIndex, layout: StoreLayout | None = None) -> tuple[set[str], set[str]]:
    """Blob digests and snapshot hex names that the images and indexes in `index` use.

    An index keeps its own blob and, read from it (with `layout`), the
    entries that are not images of the store (attestation manifests, say)
    with their config and layers.
    """
    blobs: set[str] = set()
    chains: set[str] = set()
    for image in index.images.values():
        blobs.update(image.blobs)
        chains.update(c.split(":", 1)[1] for c in image.chain_ids)
    for record in index.indexes.values():
        blobs.add(record.digest)
        if layout is not None:
            blobs.update(_index_extras(layout, record.digest, set(record.manifests)))
    return blobs, chains


def _index_extras(layout: StoreLayout, digest: str, images: set[str]) -> set[str]:
    """The blobs of an index's entries that are not platform images (unreadable: none)."""
    from builder.image.model import Index, Manifest
    from builder.store.blobs import read_blob

    found: set[str] = set()
    try:
        document = Index.from_bytes(read_blob(layout, digest))
    except PybuildError:
        return found
    for entry in document.manifests:
        if entry.digest in images:
            continue
        found.add(entry.digest)
        try:
            manifest = Manifest.from_bytes(
                read_blob(layout, entry.digest), entry.media_type or None
            )
        except PybuildError:
            continue
        found.update(d.digest for d in (manifest.config, *manifest.layers))
    return found


def _build_cache_references(layout: StoreLayout) -> tuple[set[str], set[str]]:
    """Blobs and snapshot hex names the build cache (`cache/steps/*.json`) still uses.

    The build cache keeps its layers until `prune --all`; an unreadable entry
    keeps nothing (the build then simply misses it).
    """
    blobs: set[str] = set()
    chains: set[str] = set()
    steps = layout.root / "cache" / "steps"
    if not steps.is_dir():
        return blobs, chains
    for path in steps.glob("*.json"):
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        layer = entry.get("layer") if isinstance(entry, dict) else None
        if isinstance(layer, dict) and isinstance(layer.get("digest"), str):
            blobs.add(layer["digest"])
            chain = entry.get("chain")
            if isinstance(chain, str) and chain.startswith("sha256:"):
                chains.add(chain.split(":", 1)[1])
    return blobs, chains


def _container_references(layout: StoreLayout) -> tuple[set[str], set[str], set[str]]:
    """Image IDs, blobs and snapshot hex names of containers (`containers/*/container.json`).

    They stay while the container exists, even after `rmi` of its image.
    """
    images: set[str] = set()
    blobs: set[str] = set()
    chains: set[str] = set()
    for path in (layout.root / "containers").glob("*/container.json"):
        try:
            entry = json.loads(path.read_text())
            images.add(str(entry["image"]))
            blobs.update(str(b) for b in entry["blobs"])
            chains.update(str(c).split(":", 1)[-1] for c in entry["chains"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return images, blobs, chains


def _drop_build_cache(layout: StoreLayout) -> int:
    """Delete the build cache's step records and step locks (`prune --all`); the bytes freed.

    No build runs meanwhile (prune holds the GC lock exclusively), so no step lock is held.
    """
    freed = 0
    for name in ("steps", "last", "locks"):
        directory = layout.root / "cache" / name
        if directory.is_dir():
            freed += _size(directory)
            remove_tree(directory)
    return freed


def _unused_snapshots(layout: StoreLayout, chains: set[str]) -> list[Path]:
    if not layout.snapshots.is_dir():
        return []
    return [
        p
        for p in layout.snapshots.iterdir()
        if not p.name.startswith(TEMP_PREFIX)
        and not (_CHAIN_HEX.fullmatch(p.name) and p.name in chains)
    ]


class _Failures:
    """The first error of each part of a prune; every part runs even after another failed."""

    def __init__(self) -> None:
        self.first: StoreError | None = None

    def run(self, what: str, action: Callable[[], None]) -> bool:
        try:
            action()
            return True
        except StoreError as err:
            self.first = self.first or err
        except OSError as err:
            self.first = self.first or store_error(err, what)
        return False


def prune(layout: StoreLayout, *, all_images: bool, build_cache_only: bool = False) -> PruneReport:
    """Delete images (dangling, or all), then unreferenced blobs, snapshots and temp files.

    Call with the exclusive GC lock held. Each blob, snapshot and temp entry
    is deleted on its own: a failure is raised at the end, after the others
    were deleted, and a later prune takes up what is left (images already
    gone leave their blobs and snapshots unreferenced). `build_cache_only`
    (`builder prune`) keeps every image and drops the build cache instead.
    """
    failures = _Failures()
    reclaimed = 0
    deleted_temp = 0
    container_images, container_blobs, container_chains = _container_references(layout)
    with update_index(layout) as index:
        doomed_indexes = [
            digest
            for digest, record in index.indexes.items()
            if not build_cache_only and (all_images or not (record.names or record.repo_digests))
        ]
        for digest in doomed_indexes:
            index.delete_index(digest)
        in_indexes = index.referenced_by_indexes()
        doomed = [
            image_id
            for image_id, image in index.images.items()
            if not build_cache_only
            and (all_images or not image.record.names)
            and image.record.manifest_digest not in in_indexes
            and image_id not in container_images
        ]
        for image_id in doomed:
            index.delete(image_id)
        if all_images or build_cache_only:
            reclaimed += _drop_build_cache(layout)
        # inside the index lock no index writer is active; outside the GC lock no blob writer
        for entry in _temp_entries(layout):
            if not _stale(entry):
                continue
            size = _size(entry)
            if failures.run(f"deleting {entry}", partial(remove_tree, entry)):
                reclaimed += size
                deleted_temp += 1
        blobs_used, chains_used = _referenced(index, layout)
        cache_blobs, cache_chains = _build_cache_references(layout)
        blobs_used |= cache_blobs | container_blobs
        chains_used |= cache_chains | container_chains

    deleted_blobs = 0
    for digest, path in iter_blobs(layout):
        if digest not in blobs_used:
            reclaimed += _size(path)
            unlink_quietly(path)
            deleted_blobs += 1

    deleted_snapshots = 0
    for path in _unused_snapshots(layout, chains_used):
        size = _size(path)
        if failures.run(f"deleting snapshot {path}", partial(_delete_snapshot, layout, path)):
            reclaimed += size
            deleted_snapshots += 1
    for lock in layout.locks.glob("snapshot-*.lock"):  # no snapshot lock is held now
        unlink_quietly(lock)

    for directory in (layout.tmp, layout.snapshots, *layout.blobs.iterdir()):
        if directory.is_dir():
            fsync_dir(directory)
    if failures.first is not None:
        raise failures.first
    return PruneReport(
        deleted_images=tuple(sorted(doomed)),
        deleted_blobs=deleted_blobs,
        deleted_snapshots=deleted_snapshots,
        deleted_temp=deleted_temp,
        reclaimed_bytes=reclaimed,
    )


def _delete_snapshot(layout: StoreLayout, path: Path) -> None:
    """Rename to a temp name first: an interrupted delete never leaves a half snapshot."""
    doomed_dir = layout.snapshots / temp_name("delete")
    os.rename(path, doomed_dir)
    remove_tree(doomed_dir)


def disk_usage(layout: StoreLayout) -> DiskUsage:
    """What the store holds on disk; files changing meanwhile are tolerated."""
    index = load_index(layout)
    blobs_used, _ = _referenced(index, layout)
    in_indexes = index.referenced_by_indexes()
    named = ImageIndex(
        {
            k: v
            for k, v in index.images.items()
            if v.record.names or v.record.manifest_digest in in_indexes
        },
        {k: v for k, v in index.indexes.items() if v.names or v.repo_digests},
    )
    blobs_kept, chains_kept = _referenced(named, layout)

    blob_count = blobs_size = images_size = reclaimable = 0
    for digest, path in iter_blobs(layout):
        size = _size(path)
        blob_count += 1
        blobs_size += size
        if digest in blobs_used:
            images_size += size
        if digest not in blobs_kept:
            reclaimable += size

    snapshot_count = snapshots_size = 0
    if layout.snapshots.is_dir():
        for path in layout.snapshots.iterdir():
            if path.name.startswith(TEMP_PREFIX):
                continue
            size = _size(path)
            snapshot_count += 1
            snapshots_size += size
            if path.name not in chains_kept:
                reclaimable += size

    temp_size = sum(_size(p) for p in _temp_entries(layout))
    return DiskUsage(
        images=len(index.images),
        dangling_images=len(index.images) - len(named.images),
        images_size=images_size,
        blobs=blob_count,
        blobs_size=blobs_size,
        snapshots=snapshot_count,
        snapshots_size=snapshots_size,
        cache_size=_size(layout.cache) if layout.cache.is_dir() else 0,
        temp_size=temp_size,
        reclaimable=reclaimable + temp_size,
    )
