"""Several processes sharing one store; a writer killed with SIGKILL at random moments."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time
from pathlib import Path

from builder.image.digest import chain_ids
from builder.store import Store

from . import workers

SPAWN = multiprocessing.get_context("spawn")


def check_store(store: Store) -> None:
    """index.json parses and every image's blobs are present and readable."""
    json.loads((store.root / "index.json").read_bytes())
    for record in store.images():
        manifest = store.manifest(record)
        store.config(record)
        for layer in manifest.layers:
            assert store.blob_size(layer.digest) == layer.size


def test_processes_add_and_tag_concurrently(tmp_path: Path) -> None:
    root = tmp_path / "store"
    Store.open(root)
    workers_n, count = 4, 6
    with SPAWN.Pool(workers_n + 1) as pool:
        pruner = pool.apply_async(workers.prune_loop, (str(root), 15))
        results = pool.starmap(
            workers.add_images, [(str(root), w, count) for w in range(workers_n)]
        )
        assert pruner.get(timeout=60) == 0  # leases kept the writers' images safe
    store = Store.open(root)
    check_store(store)
    images = store.images()
    assert len(images) == workers_n * count
    for w, ids in enumerate(results):
        for j, image_id in enumerate(ids):
            assert f"docker.io/library/w{w}:{j}" in store.resolve(image_id).names
    holders = [r for r in images if "docker.io/library/shared:latest" in r.names]
    assert len(holders) == 1
    assert sorted(os.listdir(root / "tmp")) == []


def test_kill_9_leaves_a_working_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    Store.open(root)
    rng = random.Random(1234)
    stale_seen = 0
    rounds = 8
    for round_ in range(rounds):
        started = tmp_path / f"started-{round_}"
        # the last round is killed for sure while a blob is being written
        writing = tmp_path / "writing" if round_ == rounds - 1 else None
        args = (str(root), round_, str(started), str(writing or ""))
        child = SPAWN.Process(target=workers.churn, args=args)
        child.start()
        deadline = time.monotonic() + 30
        while not started.exists():
            assert child.is_alive(), f"churn child died with exit code {child.exitcode}"
            assert time.monotonic() < deadline, "churn child did not start"
            time.sleep(0.01)
        if writing is None:
            time.sleep(rng.uniform(0, 0.3))
        else:
            while not writing.exists():
                assert child.is_alive(), f"churn child died with exit code {child.exitcode}"
                assert time.monotonic() < deadline, "churn child did not write"
                time.sleep(0.001)
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        assert child.exitcode == -signal.SIGKILL
        check_store(Store.open(root))
        stale_seen += len(os.listdir(root / "tmp"))

    store = Store.open(root)
    before = store.images()
    report = store.prune()
    assert os.listdir(root / "tmp") == []
    assert {p.name for p in (root / "snapshots").iterdir()} <= {
        c[7:] for r in store.images() for c in chain_ids(store.config(r).diff_ids)
    }
    assert [p for p in os.listdir(root / "snapshots") if p.startswith("tmp-")] == []
    remaining = store.images()
    assert [r.id for r in remaining] == [r.id for r in before if r.names]
    check_store(store)
    used = set()
    for record in remaining:
        used |= {record.manifest_digest, record.config_digest}
        used |= {layer.digest for layer in store.manifest(record).layers}
    on_disk = {"sha256:" + p for p in os.listdir(root / "blobs" / "sha256")}
    assert on_disk == used
    assert report.reclaimed_bytes > 0
    assert stale_seen > 0  # the kills did interrupt a writer
