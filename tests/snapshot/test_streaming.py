"""A 100 MB layer is written, applied and re-compressed without being held in memory."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from builder.snapshot.apply import apply_layer
from builder.snapshot.layer import recompress_tar, write_layer

R = TypeVar("R")
LIMIT = 50 * 1024 * 1024
SIZE = 100 * 1024 * 1024


def peak_memory(work: Callable[[], R]) -> tuple[R, int]:
    tracemalloc.start()
    try:
        result = work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100 MB: three big files of random-ish blocks, and a few hundred small ones."""
    root = tmp_path_factory.mktemp("big") / "tree"
    (root / "small").mkdir(parents=True)
    noise = os.urandom(1 << 20)
    text = b"".join(b"line %d of a log file\n" % i for i in range(40_000))[: 1 << 20]
    written = 0
    for n in range(300):
        (root / "small" / f"f{n:03}").write_bytes(text[n * 1000 : n * 1000 + 3000])
        written += 3000
    for n in range(3):
        with open(root / f"big{n}.bin", "wb") as f:
            for i in range((SIZE - written) // 3 >> 20):
                block = noise if (i + n) % 3 else text
                f.write(block[i % 7 :] + block[: i % 7])
    return root


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_big_layer_streams(big_tree: Path, tmp_path: Path, compression: str) -> None:
    blob_path = tmp_path / "layer.blob"
    with open(blob_path, "wb") as out:
        blob, peak = peak_memory(lambda: write_layer(big_tree, out, compression=compression))
    assert blob.size == blob_path.stat().st_size
    assert peak < LIMIT, f"write_layer peak {peak / 2**20:.1f} MiB"

    dest = tmp_path / "dest"
    dest.mkdir()
    with open(blob_path, "rb") as stream:
        result, peak = peak_memory(lambda: apply_layer(stream, dest))
    assert result.diff_id == blob.diff_id
    assert result.size > 100_000_000
    assert peak < LIMIT, f"apply_layer peak {peak / 2**20:.1f} MiB"
    assert (dest / "big2.bin").stat().st_size == (big_tree / "big2.bin").stat().st_size

    with open(blob_path, "rb") as stream, open(tmp_path / "again.blob", "wb") as out:
        again, peak = peak_memory(lambda: recompress_tar(stream, out, compression=compression))
    assert again.diff_id == blob.diff_id  # sorted, normalised input: the same tar comes out
    assert peak < LIMIT, f"recompress_tar peak {peak / 2**20:.1f} MiB"
