"""ensure_snapshots: real layers unpacked with builder.snapshot, stacked with real overlayfs."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from builder.errors import LayerError
from builder.image.digest import chain_ids
from builder.store import Store

from .images import make_layer, store_image

BASE = make_layer({"etc/a": b"1", "etc/b": b"2", "opt/x/y": b"3"})
TOP = make_layer({"etc/c": b"3"}, whiteouts=("etc/a", "opt/x/.wh..opq"))


def no_temp_dirs(store: Store) -> bool:
    return not [p for p in os.listdir(store.root / "snapshots") if p.startswith("tmp-")]


def test_unpacks_each_layer_once(store: Store) -> None:
    record = store_image(store, [BASE, TOP], names=("app:1",))
    lowers = store.ensure_snapshots(record)
    chains = chain_ids([BASE.diff_id, TOP.diff_id])
    assert lowers == [store.snapshot_path(c) for c in chains]
    assert lowers[0] == store.root / "snapshots" / chains[0][7:] / "fs"
    assert (lowers[0] / "etc" / "a").read_bytes() == b"1"
    whiteout = os.lstat(lowers[1] / "etc" / "a")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert os.getxattr(lowers[1] / "opt" / "x", "trusted.overlay.opaque") == b"y"
    assert no_temp_dirs(store)

    inode = (lowers[1] / "etc" / "c").stat().st_ino
    assert store.ensure_snapshots(record) == lowers
    assert (lowers[1] / "etc" / "c").stat().st_ino == inode  # not unpacked again

    # an image on the same base shares its snapshot
    other = store_image(store, [BASE], names=("base:1",))
    assert store.ensure_snapshots(other) == lowers[:1]


def test_lower_dirs_stack_in_overlayfs(store: Store, tmp_path: Path) -> None:
    record = store_image(store, [BASE, TOP])
    lowers = store.ensure_snapshots(record)
    merged = tmp_path / "merged"
    merged.mkdir()
    lowerdir = ":".join(str(p) for p in reversed(lowers))  # top layer first
    subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lowerdir}", str(merged)], check=True
    )
    try:
        assert sorted(os.listdir(merged / "etc")) == ["b", "c"]
        assert os.listdir(merged / "opt" / "x") == []
    finally:
        subprocess.run(["umount", str(merged)], check=True)


def test_wrong_diff_id_is_a_layer_error(store: Store) -> None:
    record = store_image(store, [BASE, TOP], diff_ids=[BASE.diff_id, BASE.diff_id])
    with pytest.raises(LayerError, match=r"unpacks to diff_id .* but the image config says"):
        store.ensure_snapshots(record)
    chains = chain_ids([BASE.diff_id, BASE.diff_id])
    assert store.snapshot_path(chains[0]).is_dir()  # the good base layer stays
    assert not store.snapshot_path(chains[1]).parent.exists()
    assert no_temp_dirs(store)


def test_hostile_layer_leaves_nothing(store: Store) -> None:
    import gzip
    import hashlib
    import io
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("../../escape")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    data = raw.getvalue()
    from .images import Layer

    evil = Layer(gzip.compress(data), "sha256:" + hashlib.sha256(data).hexdigest())
    record = store_image(store, [evil])
    with pytest.raises(LayerError):
        store.ensure_snapshots(record)
    assert os.listdir(store.root / "snapshots") == []


def test_concurrent_ensure(store: Store) -> None:
    layers = [make_layer({f"d{i}/f": os.urandom(200_000)}) for i in range(3)]
    record = store_image(store, layers)
    results: list[list[Path]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(Store.open(store.root).ensure_snapshots(record))
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results[0] == results[1] == results[2]
    assert len(os.listdir(store.root / "snapshots")) == 3


def test_prune_removes_snapshots_with_devices_and_readonly_dirs(store: Store) -> None:
    record = store_image(store, [BASE, TOP], names=("app:1",))
    lowers = store.ensure_snapshots(record)
    locked = lowers[0] / "opt" / "x"
    os.chmod(locked, 0o555)
    os.chmod(lowers[0] / "opt", 0o555)
    os.mknod(lowers[1] / "dev-null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.chown(lowers[1] / "etc" / "c", 0, 0)
    keep = store_image(store, [BASE], names=("base:1",))
    store.remove("app:1")
    report = store.prune()
    assert report.deleted_snapshots == 1
    assert store.ensure_snapshots(keep) == lowers[:1]
    assert not lowers[1].exists()
    store.remove("base:1")
    assert store.prune().deleted_snapshots == 1
    assert os.listdir(store.root / "snapshots") == []
    assert [p for p in os.listdir(store.root / "locks") if p.startswith("snapshot-")] == []


def test_image_without_layers(store: Store) -> None:
    record = store_image(store, [])
    assert store.ensure_snapshots(record) == []
