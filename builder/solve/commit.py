"""A step's result into the stage: a layer from its changed tree, and its history entry."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from builder.image import mediatypes
from builder.image.digest import chain_ids
from builder.image.model import Descriptor, History
from builder.solve.cache.keys import CachedStep
from builder.solve.metadata import HISTORY_COMMENT

if TYPE_CHECKING:
    from builder.solve.stages import StageState
    from builder.store import Store


def timestamp(epoch: int | None) -> str:
    """Now (or `SOURCE_DATE_EPOCH`, whole seconds as BuildKit writes it) as the config's times."""
    if epoch is not None:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def add_history(state: StageState, text: str, *, empty: bool, created: str) -> None:
    state.config.image.history.append(
        History(created=created, created_by=text, comment=HISTORY_COMMENT, empty_layer=empty)
    )


def add_layer(state: StageState, layer: Descriptor, diff_id: str, text: str, created: str) -> None:
    state.config.image.diff_ids.append(diff_id)
    state.layers.append(layer)
    add_history(state, text, empty=False, created=created)


def commit_tree(
    store: Store,
    state: StageState,
    tree: Path,
    text: str,
    *,
    epoch: int | None,
    overlay: bool = True,
) -> CachedStep:
    """Turn a step's changed tree into a layer (or an `empty_layer` history entry).

    `overlay`: `tree` is an overlay upper dir (whiteouts, copied-up dirs), not
    a plain tree (`COPY --link` writes one).
    """
    # the layer writer loads the compressors: a cached rebuild never commits (start-up time)
    from builder.snapshot.diff import prune_unchanged_dirs
    from builder.snapshot.layer import write_layer

    created = timestamp(epoch)
    if overlay:
        prune_unchanged_dirs(tree, state.snapshots)
    if not any(tree.iterdir()):
        add_history(state, text, empty=True, created=created)
        return CachedStep(None, None, created)
    with store.blob_writer() as writer:
        blob = write_layer(
            tree, writer, compression="gzip", source_date_epoch=epoch, from_overlay_upper=overlay
        )
    if blob.entries == 0:
        add_history(state, text, empty=True, created=created)
        return CachedStep(None, None, created)
    layer = Descriptor(mediatypes.OCI_LAYER_GZIP, blob.digest, blob.size)
    chain = chain_ids([*state.config.image.diff_ids, blob.diff_id])[-1]
    state.snapshots.append(store.adopt_snapshot(chain, tree))
    add_layer(state, layer, blob.diff_id, text, created)
    return CachedStep(layer, blob.diff_id, created, chain=chain)
