"""ENOSPC on a tiny tmpfs: a clear StoreError, and the store as it was."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.errors import StoreError
from builder.image.digest import sha256_digest
from builder.store import Store

from .images import unique_image


@pytest.fixture
def small_store(tmp_path: Path) -> Iterator[Store]:
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mountpoint)], check=True)
    try:
        yield Store.open(mountpoint / "store")
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def fill_disk(path: Path) -> None:
    """Write to `path` until the filesystem is full."""
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                f.write(b"\0" * 4096)
            except OSError as err:
                assert err.errno == errno.ENOSPC
                return


def snapshot_state(store: Store) -> tuple[bytes, list[str], list[str]]:
    index = (store.root / "index.json").read_bytes()
    return (
        index,
        sorted(os.listdir(store.root / "blobs" / "sha256")),
        sorted(os.listdir(store.root / "tmp")),
    )


def test_blob_too_big_for_disk(small_store: Store) -> None:
    unique_image(small_store, "kept", names=("kept:1",))
    before = snapshot_state(small_store)
    data = os.urandom(2 << 20)
    with pytest.raises(StoreError, match=r"^no space left on device while writing blob"):
        small_store.put_blob(data)
    no_space = pytest.raises(StoreError, match=r"^no space left on device while writing a blob")
    with no_space, small_store.blob_writer() as w:
        for i in range(0, len(data), 65536):
            w.write(data[i : i + 65536])
    assert snapshot_state(small_store) == before
    assert not small_store.has_blob(sha256_digest(data))
    assert small_store.resolve("kept:1").names == ("docker.io/library/kept:1",)


def test_index_write_on_full_disk(small_store: Store) -> None:
    record = unique_image(small_store, "kept", names=("kept:1",))
    before = snapshot_state(small_store)
    filler = small_store.root.parent / "filler"
    fill_disk(filler)
    with pytest.raises(StoreError, match=r"^no space left on device while writing the image index"):
        small_store.tag("kept:1", "kept:2")
    with pytest.raises(StoreError, match=r"^no space left on device"):
        small_store.remove("kept:1")
    with pytest.raises(StoreError, match=r"^no space left on device"):
        unique_image(small_store, "new", names=("new:1",))
    index, blobs, temp = snapshot_state(small_store)
    assert (index, temp) == (before[0], before[2])
    assert set(before[1]) <= set(blobs)  # blobs that fit may have been added; no image uses them
    assert small_store.images() == [record]

    filler.unlink()
    assert small_store.tag("kept:1", "kept:2").names[-1] == "docker.io/library/kept:2"
    small_store.prune()
    assert sorted(os.listdir(small_store.root / "blobs" / "sha256")) == before[1]
