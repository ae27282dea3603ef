"""Child-process bodies for the concurrency and crash tests (run with the spawn start method)."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from builder.store import Store

from .images import make_layer, store_image, unique_image


def add_images(root: str, worker: int, count: int) -> list[str]:
    """Add `count` images named w<worker>:<j>, and race for the name shared:latest."""
    store = Store.open(Path(root))
    ids = []
    for j in range(count):
        record = unique_image(store, f"{worker}-{j}", names=(f"w{worker}:{j}",))
        store.tag(record.id, "shared:latest")
        ids.append(record.id)
    return ids


def prune_loop(root: str, rounds: int) -> int:
    """Prune again and again while writers work; return images deleted (should be none)."""
    store = Store.open(Path(root))
    deleted = 0
    for _ in range(rounds):
        deleted += len(store.prune().deleted_images)
    return deleted


def churn(root: str, seed: int, started: str, writing: str = "") -> None:
    """Write blobs, add, tag, untag and prune forever; the parent kills it with SIGKILL.

    `started` is touched after the first round, `writing` (if given) while a blob
    is being streamed in a later round.
    """
    store = Store.open(Path(root))
    rng = random.Random(seed)
    first = True
    while True:
        layers = [
            make_layer({f"f{i}": os.urandom(rng.choice((100, 50_000, 400_000)))})
            for i in range(rng.randint(0, 3))
        ]
        record = store_image(store, layers, names=(f"app:{rng.randint(0, 5)}",))
        store.tag(record.id, f"other:{rng.randint(0, 5)}")
        if rng.random() < 0.3:
            for name in record.names:
                store.remove(name)
        if rng.random() < 0.2:
            store.prune()
        if rng.random() < 0.5:
            store.ensure_snapshots(record)
        with store.blob_writer() as w:  # an unreferenced blob, streamed slowly
            for _ in range(rng.randint(1, 20)):
                w.write(os.urandom(10_000))
                if writing and not first:
                    Path(writing).touch()
                time.sleep(0.005)
        if first:
            Path(started).touch()
            first = False
