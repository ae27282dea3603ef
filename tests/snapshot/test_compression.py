"""Compression: sniffing, streaming round trips, determinism, what other tools accept."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import random
import subprocess
from pathlib import Path

import pytest
import zstandard

from builder.errors import LayerError
from builder.snapshot.compression import (
    compressing_writer,
    decompressing_reader,
    detect_compression,
)
from tests.snapshot.conftest import require_tool


def sample(size: int = 3_000_000, seed: int = 1) -> bytes:
    """Half-compressible bytes: random words and random noise."""
    rng = random.Random(seed)
    words = [rng.randbytes(rng.randint(3, 12)) for _ in range(500)]
    parts: list[bytes] = []
    total = 0
    while total < size:
        part = b" ".join(rng.choices(words, k=200)) if rng.random() < 0.7 else rng.randbytes(2000)
        parts.append(part)
        total += len(part)
    return b"".join(parts)[:size]


def compress(
    data: bytes, compression: str, chunks: list[int] | None = None, level: int | None = None
) -> bytes:
    out = io.BytesIO()
    writer = compressing_writer(out, compression, level=level)
    pos = 0
    for size in chunks or [len(data)]:
        writer.write(data[pos : pos + size])
        pos += size
    writer.write(data[pos:])
    writer.close()
    assert not out.closed, "close() must not close the sink"
    return out.getvalue()


def read_all(data: bytes, compression: str = "auto", chunk: int = 65536) -> bytes:
    reader = decompressing_reader(io.BytesIO(data), compression)
    parts = []
    while block := reader.read(chunk):
        parts.append(block)
    return b"".join(parts)


DATA = sample()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (gzip.compress(b"x"), "gzip"),
        (zstandard.ZstdCompressor().compress(b"x"), "zstd"),
        (bz2.compress(b"x"), "bzip2"),
        (lzma.compress(b"x"), "xz"),
        (b"etc/passwd\x00\x00", "none"),
        (b"", "none"),
        (b"\x1f", "none"),
    ],
)
def test_detect_compression(head: bytes, expected: str) -> None:
    assert detect_compression(head[:6]) == expected


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_round_trip(compression: str) -> None:
    packed = compress(DATA, compression)
    assert read_all(packed) == DATA
    assert read_all(packed, compression) == DATA
    if compression != "none":
        assert len(packed) < len(DATA)


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_output_does_not_depend_on_write_pattern(compression: str) -> None:
    whole = compress(DATA, compression)
    rng = random.Random(7)
    for _ in range(3):
        chunks = [rng.choice([1, 511, 4096, 65536, 1 << 20, 3 << 20]) for _ in range(40)]
        assert compress(DATA, compression, chunks) == whole


def test_gzip_header_is_deterministic() -> None:
    packed = compress(b"hello", "gzip")
    # deflate, no flags (no name), mtime 0, XFL 0, OS 255 (unknown)
    assert packed[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    assert gzip.decompress(packed) == b"hello"


@pytest.mark.parametrize("level", [0, 1, 2, 3, 9])
def test_gzip_levels(level: int) -> None:
    assert gzip.decompress(compress(DATA, "gzip", level=level)) == DATA


def test_multi_member_gzip_and_multi_frame_zstd() -> None:
    assert read_all(gzip.compress(b"one") + gzip.compress(b"two")) == b"onetwo"
    zc = zstandard.ZstdCompressor()
    assert read_all(zc.compress(b"one") + zc.compress(b"two")) == b"onetwo"
    # a skippable frame between two frames
    skippable = (0x184D2A50).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"12345"
    assert read_all(zc.compress(b"one") + skippable + zc.compress(b"two")) == b"onetwo"


def test_zstd_without_checksum_or_content_size() -> None:
    zc = zstandard.ZstdCompressor(write_checksum=False, write_content_size=False)
    packed = zc.compress(DATA)
    assert read_all(packed) == DATA
    with pytest.raises(LayerError, match="truncated"):
        read_all(packed[:-3])


def test_bzip2_and_xz_are_read() -> None:
    data = DATA[:300_000]
    packed_bz2, packed_xz = bz2.compress(data), lzma.compress(data)
    assert read_all(packed_bz2) == data
    assert read_all(packed_xz) == data
    with pytest.raises(LayerError, match="truncated or corrupt"):
        read_all(packed_bz2[:-20])
    with pytest.raises(LayerError, match="truncated or corrupt"):
        read_all(packed_xz[:-20])


def test_what_names_the_stream() -> None:
    reader = decompressing_reader(
        io.BytesIO(gzip.compress(DATA)[:-4]), "gzip", what="archive 'x.tar.gz'"
    )
    with pytest.raises(LayerError, match=r"archive 'x\.tar\.gz' is truncated or corrupt"):
        while reader.read(1 << 16):
            pass


def test_unknown_compressions() -> None:
    with pytest.raises(LayerError, match="unknown compression"):
        decompressing_reader(io.BytesIO(b""), "lz4")
    with pytest.raises(LayerError, match="cannot write"):
        compressing_writer(io.BytesIO(), "bzip2")


def test_short_reads_from_a_pipe() -> None:
    """A source returning a few bytes per read (a socket) still sniffs and decodes."""

    class Trickle(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = memoryview(data)

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            block = bytes(self._data[: min(3, len(self._data))])
            self._data = self._data[len(block) :]
            return block

    for compression in ["gzip", "zstd"]:
        packed = compress(DATA[:100_000], compression)
        reader = decompressing_reader(Trickle(packed), "auto")  # type: ignore[arg-type]
        assert reader.read() == DATA[:100_000]


def test_third_party_tools_accept_our_output(tmp_path: Path) -> None:
    require_tool("gzip")
    zstd = require_tool("zstd")
    gz = tmp_path / "data.gz"
    gz.write_bytes(compress(DATA, "gzip"))
    assert subprocess.run(["gzip", "-t", str(gz)], capture_output=True).returncode == 0
    assert subprocess.run(["gzip", "-dc", str(gz)], capture_output=True, check=True).stdout == DATA
    zs = tmp_path / "data.zst"
    zs.write_bytes(compress(DATA, "zstd"))
    assert subprocess.run([zstd, "-t", "-q", str(zs)], capture_output=True).returncode == 0
    assert subprocess.run([zstd, "-dc", str(zs)], capture_output=True, check=True).stdout == DATA


def test_we_accept_third_party_output(tmp_path: Path) -> None:
    zstd = require_tool("zstd")
    plain = tmp_path / "data"
    plain.write_bytes(DATA)
    subprocess.run(["gzip", "-k", "-9", str(plain)], check=True)
    subprocess.run([zstd, "-q", "-T2", "-12", str(plain), "-o", str(plain) + ".zst"], check=True)
    assert read_all((tmp_path / "data.gz").read_bytes()) == DATA
    assert read_all((tmp_path / "data.zst").read_bytes()) == DATA


def test_reader_streams(tmp_path: Path) -> None:
    """Reading a chunk does not decompress the whole stream into memory."""
    big = os.urandom(1 << 16) * 400  # 26 MB, very compressible
    packed = compress(big, "zstd")
    reader = decompressing_reader(io.BytesIO(packed), "zstd")
    assert len(reader.read(1000)) == 1000
