"""Prune (dangling vs all, shared blobs, temp files, leases) and disk usage."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from builder.errors import StoreError
from builder.store import Store

from .images import make_layer, store_image, unique_image


def blob_names(store: Store) -> set[str]:
    return {"sha256:" + p for p in os.listdir(store.root / "blobs" / "sha256")}


def image_blobs(store: Store, name: str) -> set[str]:
    record = store.resolve(name)
    layers = {layer.digest for layer in store.manifest(record).layers}
    return {record.manifest_digest, record.config_digest} | layers


def test_prune_dangling_only(store: Store) -> None:
    named = unique_image(store, "named", names=("app:1",))
    dangling = unique_image(store, "dangling")
    untagged = unique_image(store, "untagged", names=("gone:1",))
    store.remove("gone:1")  # last name: the record goes; its blobs wait for prune
    assert store.find(untagged.id) is None
    kept = image_blobs(store, "app:1")
    report = store.prune()
    assert report.deleted_images == (dangling.id,)
    assert report.deleted_blobs == 6  # manifest, config, layer of two images
    assert report.reclaimed_bytes > 0
    assert blob_names(store) == kept
    assert [r.id for r in store.images()] == [named.id]


def test_prune_all(store: Store) -> None:
    unique_image(store, "a", names=("a:1",))
    unique_image(store, "b")
    report = store.prune(all_images=True)
    assert len(report.deleted_images) == 2
    assert store.images() == []
    assert blob_names(store) == set()


def test_shared_blobs_survive(store: Store) -> None:
    base = make_layer({"base": b"shared"})
    store_image(store, [base, make_layer({"one": b"1"})], names=("one:1",))
    store_image(store, [base, make_layer({"two": b"2"})], names=("two:1",))
    shared = image_blobs(store, "one:1") & image_blobs(store, "two:1")
    assert len(shared) == 1
    store.remove("one:1")
    store.prune()
    assert blob_names(store) == image_blobs(store, "two:1")
    assert shared <= blob_names(store)


def test_prune_deletes_stale_temp_files(store: Store) -> None:
    unique_image(store, "a", names=("a:1",))
    (store.root / "tmp" / "tmp-blob-1-dead").write_bytes(b"x" * 100)
    (store.root / "snapshots" / "tmp-unpack-1-dead" / "fs" / "d").mkdir(parents=True)
    (store.root / "snapshots" / ("ab" * 32)).mkdir()  # a snapshot no image uses
    report = store.prune()
    assert report.deleted_temp == 2
    assert report.deleted_snapshots == 1
    assert os.listdir(store.root / "tmp") == []
    assert os.listdir(store.root / "snapshots") == []


def test_lease_blocks_prune(store: Store) -> None:
    other = Store.open(store.root)  # another user of the same store, as another process would be
    events: list[str] = []
    with store.lease():
        digest = store.put_blob(b"not yet referenced")
        pruner = threading.Thread(target=lambda: (other.prune(), events.append("pruned")))
        pruner.start()
        time.sleep(0.3)
        assert events == []  # waiting for the lease
        assert store.has_blob(digest)
        events.append("released")
    pruner.join(10)
    assert events == ["released", "pruned"]
    assert not store.has_blob(digest)


def test_leases_nest_and_prune_refuses_inside_own_lease(store: Store) -> None:
    with store.lease(), store.lease():
        store.put_blob(b"x")
        with pytest.raises(StoreError, match="holds a lease"):
            store.prune()
    store.prune()


def test_disk_usage(store: Store, tmp_path: Path) -> None:
    empty = store.disk_usage()
    assert (empty.images, empty.blobs, empty.snapshots, empty.reclaimable) == (0, 0, 0, 0)
    named = unique_image(store, "named", names=("app:1",))
    unique_image(store, "dangling")
    (store.cache_root / "ctx").mkdir()
    (store.cache_root / "ctx" / "f").write_bytes(b"c" * 1000)
    (store.root / "tmp" / "tmp-blob-1-dead").write_bytes(b"t" * 10)
    usage = store.disk_usage()
    on_disk = sum(p.stat().st_size for p in (store.root / "blobs" / "sha256").iterdir())
    named_bytes = sum(store.blob_size(d) for d in image_blobs(store, "app:1"))
    assert (usage.images, usage.dangling_images, usage.blobs) == (2, 1, 6)
    assert usage.blobs_size == usage.images_size == on_disk
    assert usage.cache_size == 1000
    assert usage.temp_size == 10
    assert usage.reclaimable == on_disk - named_bytes + 10
    assert named.size == named_bytes - len(store.read_blob(named.manifest_digest))
    report = store.prune()
    assert report.reclaimed_bytes == usage.reclaimable
