"""Layer snapshots: each layer unpacked once, in overlayfs form, under its chain ID.

`snapshots/<chain-hex>/fs` is one layer's own diff (whiteouts as 0:0 char
devices, opaque dirs by xattr), an overlayfs lower dir. An unpack goes to a
`snapshots/tmp-*` dir and is renamed into place when complete, so a
snapshot dir that exists is whole; a per-chain lock keeps two processes from
unpacking the same layer at once. The caller holds the GC lease.
"""

from __future__ import annotations

import os
from pathlib import Path

from builder.errors import ImageError, LayerError
from builder.image.digest import chain_ids
from builder.image.model import Descriptor
from builder.store.blobs import open_blob
from builder.store.files import fsync_dir, remove_tree, store_error
from builder.store.locks import file_lock
from builder.store.paths import StoreLayout, temp_name

FS_DIR = "fs"


def snapshot_fs(layout: StoreLayout, chain_id: str) -> Path:
    return layout.snapshot(chain_id) / FS_DIR


def _unpack(layout: StoreLayout, layer: Descriptor, diff_id: str, chain_id: str) -> None:
    from builder.snapshot.apply import apply_layer  # heavy; only needed to unpack

    work = layout.snapshots / temp_name("unpack")
    try:
        try:
            (work / FS_DIR).mkdir(parents=True)
        except OSError as err:
            raise store_error(err, f"creating {work}") from None
        with open_blob(layout, layer.digest) as stream:
            try:
                result = apply_layer(stream, work / FS_DIR, compression="auto", overlay=True)
            except OSError as err:
                raise store_error(err, f"unpacking layer {layer.digest}") from None
        if result.diff_id != diff_id:
            raise LayerError(
                f"layer {layer.digest} unpacks to diff_id {result.diff_id}, "
                f"but the image config says {diff_id}",
                hint="the image is broken: pull or build it again",
            )
        try:
            os.rename(work, layout.snapshot(chain_id))
            fsync_dir(layout.snapshots)
        except OSError as err:
            raise store_error(err, f"storing the snapshot of layer {layer.digest}") from None
    except BaseException:
        remove_tree(work)
        raise


def ensure_snapshots(
    layout: StoreLayout, layers: tuple[Descriptor, ...], diff_ids: list[str]
) -> list[Path]:
    """Unpack the layers that have no snapshot yet; return the `fs` dirs, base first."""
    if len(layers) != len(diff_ids):
        raise ImageError(
            f"the image has {len(layers)} layers but its config lists {len(diff_ids)} diff_ids",
            hint="the image is broken: pull or build it again",
        )
    chains = chain_ids(diff_ids)
    for layer, diff_id, chain_id in zip(layers, diff_ids, chains, strict=True):
        if layout.snapshot(chain_id).is_dir():
            continue
        with file_lock(layout.snapshot_lock(chain_id)):
            if not layout.snapshot(chain_id).is_dir():  # another process may have done it
                _unpack(layout, layer, diff_id, chain_id)
    return [snapshot_fs(layout, c) for c in chains]


def ensure_layer(layout: StoreLayout, chain_id: str, layer: Descriptor, diff_id: str) -> Path:
    """Unpack one layer as the snapshot of `chain_id` unless it is there already."""
    if not layout.snapshot(chain_id).is_dir():
        with file_lock(layout.snapshot_lock(chain_id)):
            if not layout.snapshot(chain_id).is_dir():
                _unpack(layout, layer, diff_id, chain_id)
    return snapshot_fs(layout, chain_id)


def adopt_snapshot(layout: StoreLayout, chain_id: str, tree: Path) -> Path:
    """Make `tree` (an overlay upper dir on the store's filesystem) the snapshot of `chain_id`.

    Used by the executor: the upper dir of a step already is the layer in
    overlayfs form, so it is moved into place instead of unpacked again. If the
    snapshot exists already (another build made the same layer), `tree` is
    deleted. Returns the snapshot's `fs` dir.
    """
    target = layout.snapshot(chain_id)
    with file_lock(layout.snapshot_lock(chain_id)):
        if target.is_dir():
            remove_tree(tree)
            return snapshot_fs(layout, chain_id)
        work = layout.snapshots / temp_name("adopt")
        try:
            work.mkdir(parents=True)
            os.rename(tree, work / FS_DIR)
            os.rename(work, target)
            fsync_dir(layout.snapshots)
        except OSError as err:
            remove_tree(work)
            raise store_error(err, f"storing the snapshot {chain_id}") from None
    return snapshot_fs(layout, chain_id)
