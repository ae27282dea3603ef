"""A RUN that makes a tree deeper than PATH_MAX: committed, cached, restored."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.image.digest import chain_ids
from builder.snapshot.trees import remove_tree
from builder.store import Store
from tests.snapshot.helpers import read_below
from tests.solve.building import busybox_store, run_build, write_context

DEPTH = 3000
DEEPEST = "deep/" + "/".join(["d"] * DEPTH)  # 6,004 bytes: past PATH_MAX

# busybox's `mkdir -p` and `cd` name the whole path (ENAMETOOLONG past
# PATH_MAX), and `cd -P` is slow past it (getcwd by hand): the tree is made
# in six relative runs of 500 levels
DOCKERFILE = """
FROM busybox
RUN mkdir /deep && cd /deep && p=d && for i in $(seq 499); do p=$p/d; done \\
    && for j in 1 2 3 4 5 6; do mkdir -p $p && cd -P $p || exit 1; done \\
    && echo bottom > f && ln -s f l
"""


@pytest.fixture
def store(tmp_path: Path, busybox_rootfs_tar: Path) -> Iterator[Store]:
    yield busybox_store(tmp_path / "store", busybox_rootfs_tar)
    remove_tree(tmp_path / "store")  # pytest's own clean-up recurses: it cannot


def _layer_members(store: Store, digest: str) -> dict[str, tarfile.TarInfo]:
    with store.open_blob(digest) as stream, tarfile.open(fileobj=stream, mode="r|*") as tar:
        return {member.name.rstrip("/"): member for member in tar}


def test_deep_tree_is_committed_and_restored_from_cache(store: Store, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", DOCKERFILE)
    first = run_build(store, context, tags=["deep:1"])
    manifest = store.manifest(first.record)
    layer = manifest.layers[-1]
    members = _layer_members(store, layer.digest)
    assert members[DEEPEST].isdir()
    assert members[f"{DEEPEST}/f"].size == len(b"bottom\n")
    assert members[f"{DEEPEST}/l"].linkname == "f"
    assert sum(name.startswith("deep") for name in members) == DEPTH + 3

    # the snapshot was the step's upper dir; drop it so the rebuild unpacks the layer
    chain = chain_ids(first.config.diff_ids)[-1]
    snapshot = store.snapshot_path(chain)
    remove_tree(snapshot.parent)
    second = run_build(store, context, tags=["deep:2"])
    assert second.record.manifest_digest == first.record.manifest_digest
    assert snapshot.is_dir()
    assert read_below(snapshot, f"{DEEPEST}/f") == b"bottom\n"
