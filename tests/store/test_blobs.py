"""Blobs: put/get, streaming writer, verification, hostile digest strings."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from builder.errors import ImageError, StoreError
from builder.image.digest import DigestMismatchError, sha256_digest
from builder.store import BlobSizeMismatchError, Store, default_root


def temp_files(store: Store) -> list[str]:
    return os.listdir(store.root / "tmp")


def test_open_creates_layout(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "a" / "b")
    for name in ("blobs/sha256", "tmp", "snapshots", "locks", "cache"):
        assert (store.root / name).is_dir()
    assert store.images() == []


def test_default_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PYBUILD_ROOT", str(tmp_path / "r"))
    assert default_root() == tmp_path / "r"
    monkeypatch.delenv("PYBUILD_ROOT")
    assert default_root() == Path("/var/lib/pybuild")  # tests run as root
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_root() == tmp_path / "data" / "pybuild"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_root() == tmp_path / "home" / ".local" / "share" / "pybuild"


def test_put_and_read(store: Store) -> None:
    digest = store.put_blob(b"hello")
    assert digest == sha256_digest(b"hello")
    assert store.has_blob(digest)
    assert store.read_blob(digest) == b"hello"
    assert store.blob_size(digest) == 5
    assert store.blob_path(digest) == store.root / "blobs" / "sha256" / digest[7:]
    with store.open_blob(digest) as f:
        assert f.read() == b"hello"
    assert temp_files(store) == []


def test_put_is_idempotent(store: Store) -> None:
    first = store.put_blob(b"same", sha256_digest(b"same"))
    inode = store.blob_path(first).stat().st_ino
    assert store.put_blob(b"same") == first
    with store.blob_writer(expected=first) as w:
        w.write(b"same")
    assert w.digest == first
    assert store.read_blob(first) == b"same"
    assert store.blob_path(first).stat().st_ino == inode
    assert temp_files(store) == []


def test_put_mismatch_stores_nothing(store: Store) -> None:
    wrong = sha256_digest(b"other")
    with pytest.raises(DigestMismatchError):
        store.put_blob(b"data", wrong)
    assert not store.has_blob(wrong)
    assert not store.has_blob(sha256_digest(b"data"))


def test_writer_streams_and_verifies(store: Store) -> None:
    data = os.urandom(3 << 20)
    expected = sha256_digest(data)
    with store.blob_writer(expected=expected, expected_size=len(data)) as w:
        for i in range(0, len(data), 100_000):
            assert w.write(data[i : i + 100_000]) == len(data[i : i + 100_000])
        assert w.size == len(data)
    assert (w.digest, w.size) == (expected, len(data))
    assert store.read_blob(expected) == data
    assert temp_files(store) == []


def test_writer_digest_mismatch_stores_nothing(store: Store) -> None:
    with pytest.raises(DigestMismatchError), store.blob_writer(expected=sha256_digest(b"x")) as w:
        w.write(b"y")
    assert not store.has_blob(sha256_digest(b"y"))
    assert temp_files(store) == []


def test_writer_size_mismatch(store: Store) -> None:
    too_short = pytest.raises(BlobSizeMismatchError, match="expected 3 bytes, got 2")
    with too_short, store.blob_writer(expected_size=3) as w:
        w.write(b"ab")
    # more than announced stops the stream at once
    too_long = pytest.raises(DigestMismatchError, match="expected 3 bytes, got 10 or more")
    with too_long, store.blob_writer(expected_size=3) as w:
        w.write(b"0123456789")
    assert temp_files(store) == []
    assert list((store.root / "blobs" / "sha256").iterdir()) == []


def test_writer_exception_in_body_stores_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.blob_writer() as w:
        w.write(b"partial")
        raise RuntimeError("source failed")
    assert not store.has_blob(sha256_digest(b"partial"))
    assert temp_files(store) == []
    with pytest.raises(StoreError, match="only known after"):
        _ = w.digest


def test_writer_is_a_binary_sink(store: Store) -> None:
    import gzip

    with store.blob_writer() as w, gzip.GzipFile(fileobj=w, mode="wb", mtime=0) as gz:
        gz.write(b"a" * 10000)
    assert gzip.decompress(store.read_blob(w.digest)) == b"a" * 10000


def test_writer_closed_by_caller(store: Store) -> None:
    with store.blob_writer() as w:
        w.write(b"closed early")
        w.close()
        assert w.size == len(b"closed early")
    assert store.read_blob(w.digest) == b"closed early"


def test_ingest_file(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "layer.tar"
    source.write_bytes(b"x" * 5000)
    digest, size = store.ingest_file(source)
    assert (digest, size) == (sha256_digest(b"x" * 5000), 5000)
    with pytest.raises(DigestMismatchError):
        store.ingest_file(source, expected=sha256_digest(b"nope"))
    with pytest.raises(StoreError, match="cannot read"):
        store.ingest_file(tmp_path / "missing")


def test_sha512_blobs(store: Store) -> None:
    expected = "sha512:" + hashlib.sha512(b"five").hexdigest()
    assert store.put_blob(b"five", expected) == expected
    assert store.read_blob(expected) == b"five"


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:../../etc",
        "sha256:../../../etc/passwd",
        "sha256:" + "A" * 64,
        "sha256:" + "0" * 63,
        "md5:" + "0" * 32,
        "/etc/passwd",
        "sha256:" + "0" * 64 + "/x",
        "",
    ],
)
def test_hostile_digest_strings_rejected(store: Store, digest: str) -> None:
    for call in (
        store.has_blob,
        store.blob_path,
        store.blob_size,
        store.open_blob,
        store.read_blob,
    ):
        with pytest.raises(ImageError, match="invalid digest"):
            call(digest)
    with pytest.raises(ImageError, match="invalid digest"):
        store.put_blob(b"x", digest)
    with pytest.raises(ImageError, match="invalid digest"):
        store.blob_writer(expected=digest).__enter__()
    assert temp_files(store) == []


def test_missing_blob(store: Store) -> None:
    digest = sha256_digest(b"absent")
    assert not store.has_blob(digest)
    for call in (store.blob_path, store.blob_size, store.open_blob, store.read_blob):
        with pytest.raises(StoreError, match="not in the store"):
            call(digest)


def test_corrupt_blob_detected_on_read(store: Store) -> None:
    digest = store.put_blob(b"good")
    store.blob_path(digest).write_bytes(b"evil")
    with pytest.raises(StoreError, match="corrupt"):
        store.read_blob(digest)
