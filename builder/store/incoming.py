"""Images coming in (load, pull, import): every snapshot unpacked before the record exists.

`unpack_images` unpacks the layers of one or more manifests whose blobs are
stored but that no image record names yet. Each missing layer is unpacked
into its own `snapshots/tmp-incoming-*` dir and its diff_id checked; only
when every layer of every image has unpacked are the dirs renamed into
place. A failure (a hostile member, a truncated layer, a diff_id mismatch)
removes what this call unpacked and leaves no snapshot behind, so the
caller can add the image records afterwards, or nothing at all.

The per-chain locks of the missing layers are taken in one global order
(sorted chain IDs) and held until the renames are done: two processes
loading images that share layers unpack each layer once and cannot
deadlock. The caller holds the GC lease.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from builder.errors import ImageError, LayerError
from builder.image.digest import chain_ids
from builder.image.model import Descriptor, ImageConfig, Manifest
from builder.store.blobs import open_blob, read_blob
from builder.store.files import fsync_dir, remove_tree, store_error
from builder.store.locks import file_lock
from builder.store.paths import StoreLayout, temp_name

FS_DIR = "fs"


@dataclass(frozen=True)
class PendingLayer:
    """A layer of an incoming image that has no snapshot yet."""

    chain_id: str
    layer: Descriptor
    diff_id: str


def _layers_of(layout: StoreLayout, manifest_digest: str) -> list[PendingLayer]:
    manifest = Manifest.from_bytes(read_blob(layout, manifest_digest))
    config = ImageConfig.from_bytes(read_blob(layout, manifest.config.digest))
    if len(config.diff_ids) != len(manifest.layers):
        raise ImageError(
            f"image {manifest_digest}: the manifest has {len(manifest.layers)} layers "
            f"but the config lists {len(config.diff_ids)} diff_ids"
        )
    chains = chain_ids(config.diff_ids)
    return [
        PendingLayer(chain, layer, diff_id)
        for layer, diff_id, chain in zip(manifest.layers, config.diff_ids, chains, strict=True)
    ]


def _unpack_into(layout: StoreLayout, pending: PendingLayer, work: Path) -> None:
    """Unpack one layer into `work/fs` and check its diff_id (LayerError otherwise)."""
    from builder.snapshot.apply import apply_layer  # heavy; only needed to unpack

    try:
        (work / FS_DIR).mkdir(parents=True)
    except OSError as err:
        raise store_error(err, f"creating {work}") from None
    with open_blob(layout, pending.layer.digest) as stream:
        try:
            result = apply_layer(stream, work / FS_DIR, compression="auto", overlay=True)
        except OSError as err:
            raise store_error(err, f"unpacking layer {pending.layer.digest}") from None
    if result.diff_id != pending.diff_id:
        raise LayerError(
            f"layer {pending.layer.digest} unpacks to diff_id {result.diff_id}, "
            f"but the image config says {pending.diff_id}",
            hint="the image is broken; nothing was stored",
        )


def unpack_images(layout: StoreLayout, manifest_digests: Iterable[str]) -> None:
    """Unpack every missing layer of the manifests; all or nothing (see the module doc)."""
    wanted: dict[str, PendingLayer] = {}
    for digest in manifest_digests:
        for pending in _layers_of(layout, digest):
            wanted.setdefault(pending.chain_id, pending)
    missing = [wanted[c] for c in sorted(wanted) if not layout.snapshot(c).is_dir()]
    if not missing:
        return
    done: list[tuple[Path, PendingLayer]] = []
    with ExitStack() as locks:
        try:
            for pending in missing:
                locks.enter_context(file_lock(layout.snapshot_lock(pending.chain_id)))
                if layout.snapshot(pending.chain_id).is_dir():
                    continue  # another process unpacked it meanwhile
                work = layout.snapshots / temp_name("incoming")
                done.append((work, pending))
                _unpack_into(layout, pending, work)
            for work, pending in done:
                try:
                    os.rename(work, layout.snapshot(pending.chain_id))
                except OSError as err:
                    raise store_error(
                        err, f"storing the snapshot of layer {pending.layer.digest}"
                    ) from None
            if done:
                fsync_dir(layout.snapshots)
        except BaseException:
            for work, _ in done:
                remove_tree(work)  # a renamed one is no longer there: nothing happens
            raise
