"""Layers of trees deeper than PATH_MAX: written and unpacked through directory fds."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.errors import LayerError
from builder.snapshot.apply import apply_layer
from builder.snapshot.layer import write_layer
from builder.snapshot.paths import MAX_LAYER_PATH
from builder.snapshot.trees import open_below, remove_tree
from tests.snapshot.helpers import read_below

DEPTH = 3000


def _deep_tree(top: Path, depth: int, *, every: int, name: str = "d") -> None:
    """`top/d/d/...` `depth` levels, a file and a symlink every `every` levels."""
    top.mkdir()
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for level in range(depth):
            os.mkdir(name, dir_fd=fd)
            if level % every == 0:
                file_fd = os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
                os.write(file_fd, b"%d" % level)
                os.close(file_fd)
                os.symlink("f", "l", dir_fd=fd)
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)


@pytest.fixture
def work(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "work"
    remove_tree(tmp_path / "work")  # pytest's own clean-up recurses


@pytest.mark.parametrize("overlay", [False, True], ids=["flatten", "overlay"])
def test_deep_tree_round_trip(work: Path, overlay: bool) -> None:
    work.mkdir()
    _deep_tree(work / "src", DEPTH, every=500)
    out = io.BytesIO()
    blob = write_layer(work / "src", out, compression="gzip")
    assert blob.entries == DEPTH + 2 * 6
    out.seek(0)
    with tarfile.open(fileobj=out, mode="r:gz") as tar:
        names = tar.getnames()
    deepest = "/".join(["d"] * DEPTH)
    assert deepest in names  # a PAX path record: 5,999 bytes
    assert names == sorted(names, key=os.fsencode)

    (work / "dest").mkdir()
    out.seek(0)
    result = apply_layer(out, work / "dest", overlay=overlay)
    assert result.diff_id == blob.diff_id
    bottom = "/".join(["d"] * 2500)
    assert read_below(work / "dest", f"{bottom}/f") == b"2500"
    dir_fd = os.open(work / "dest", os.O_RDONLY | os.O_DIRECTORY)
    try:
        deep_fd = open_below(dir_fd, deepest, os.O_RDONLY | os.O_DIRECTORY)
        assert os.listdir(deep_fd) == []
        os.close(deep_fd)
        link_dir = open_below(dir_fd, bottom, os.O_RDONLY | os.O_DIRECTORY)
        assert os.readlink("l", dir_fd=link_dir) == "f"
        os.close(link_dir)
    finally:
        os.close(dir_fd)

    # written again from the unpacked tree: the same bytes
    again = write_layer(work / "dest", io.BytesIO(), compression="gzip")
    assert again.diff_id == blob.diff_id


def test_path_longer_than_a_layer_may_hold(work: Path) -> None:
    work.mkdir()
    _deep_tree(work / "src", MAX_LAYER_PATH // 256 + 1, every=1 << 30, name="n" * 255)
    with pytest.raises(LayerError, match=f"longer than {MAX_LAYER_PATH} bytes"):
        write_layer(work / "src", io.BytesIO(), compression="none")


def test_open_below_long_names(work: Path) -> None:
    """A path of 255-byte names past PATH_MAX is opened piece by piece."""
    work.mkdir()
    _deep_tree(work / "src", 20, every=19, name="n" * 255)
    assert read_below(work / "src", "/".join(["n" * 255] * 19) + "/f") == b"19"
    assert read_below(work / "src", "f") == b"0"
