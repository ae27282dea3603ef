"""pybuild import: a rootfs tarball becomes a one-layer image."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import tarfile
from pathlib import Path

import pytest
import zstandard

from builder.errors import LayerError, UsageError
from builder.export.rootfs_import import import_rootfs
from builder.image import mediatypes
from builder.image.platform import host_platform
from tests.export.conftest import CREATED, blob_files


def _layer_diff_id(store, digest: str) -> str:
    with store.open_blob(digest) as blob:
        return "sha256:" + hashlib.sha256(gzip.decompress(blob.read())).hexdigest()


def test_import_makes_a_tagged_one_layer_image(store, busybox_rootfs_tar: Path) -> None:
    record = import_rootfs(store, busybox_rootfs_tar, "busybox:test")
    assert record.names == ("docker.io/library/busybox:test",)
    assert store.resolve("busybox:test") == record
    manifest = store.manifest(record)
    assert manifest.media_type == mediatypes.OCI_MANIFEST
    assert manifest.config.media_type == mediatypes.OCI_CONFIG
    assert [layer.media_type for layer in manifest.layers] == [mediatypes.OCI_LAYER_GZIP]
    config = store.config(record)
    host = host_platform()
    assert (config.os, config.architecture, config.variant) == (
        host.os,
        host.architecture,
        host.variant,
    )
    assert config.diff_ids == [_layer_diff_id(store, manifest.layers[0].digest)]
    assert config.created.endswith("Z") and config.created[:4].isdigit()
    raw = json.loads(store.config_bytes(record))
    assert raw["history"] == [
        {
            "created": config.created,
            "created_by": "pybuild import",
            "comment": f"Imported from {busybox_rootfs_tar}",
        }
    ]
    assert raw["rootfs"] == {"type": "layers", "diff_ids": config.diff_ids}


def test_import_is_reproducible_with_a_fixed_creation_time(store, busybox_rootfs_tar: Path) -> None:
    first = import_rootfs(store, busybox_rootfs_tar, "a:1", created=CREATED)
    second = import_rootfs(store, busybox_rootfs_tar, "b:1", created=CREATED)
    assert first.id == second.id and first.manifest_digest == second.manifest_digest


@pytest.mark.parametrize(
    "compress",
    [
        gzip.compress,
        bz2.compress,
        lambda data: lzma.compress(data, preset=0),
        lambda data: zstandard.ZstdCompressor().compress(data),
    ],
    ids=["gzip", "bzip2", "xz", "zstd"],
)
def test_compressed_input_gives_the_same_layer(
    store, busybox_rootfs_tar: Path, tmp_path: Path, compress
) -> None:
    plain = import_rootfs(store, busybox_rootfs_tar, None, created=CREATED)
    packed = tmp_path / "rootfs.tar.x"
    packed.write_bytes(compress(busybox_rootfs_tar.read_bytes()))
    record = import_rootfs(store, packed, None, created=CREATED)
    assert store.config(record).diff_ids == store.config(plain).diff_ids


def test_stream_input_and_message(store, busybox_rootfs_tar: Path) -> None:
    stream = io.BytesIO(busybox_rootfs_tar.read_bytes())
    record = import_rootfs(store, stream, "busybox:stdin")
    assert store.config(record).history[0].comment == "Imported from -"
    again = import_rootfs(store, io.BytesIO(busybox_rootfs_tar.read_bytes()), None, message="hello")
    assert store.config(again).history[0].comment == "hello"
    assert again.names == ()


def _tar_with(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            archive.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return out.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


HOSTILE = {
    "dotdot": [(_member("../evil"), b"x")],
    "absolute": [(_member("/etc/evil"), b"x")],
    "symlink-then-write-through": [
        (_member("escape", tarfile.SYMTYPE, "/etc"), b""),
        (_member("escape/evil"), b"x"),
    ],
    "hardlink-outside": [(_member("link", tarfile.LNKTYPE, "../../etc/passwd"), b"")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_tar_is_rejected_and_nothing_is_stored(store, tmp_path: Path, case: str) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(_tar_with((_member("ok"), b"fine"), *HOSTILE[case]))
    before_images, before_blobs = store.images(), blob_files(store)
    with pytest.raises(LayerError):
        import_rootfs(store, bad, "evil:1")
    assert store.images() == before_images
    assert blob_files(store) == before_blobs
    assert store.find("evil:1") is None


def test_invalid_name_is_a_usage_error(store, busybox_rootfs_tar: Path) -> None:
    with pytest.raises(UsageError):
        import_rootfs(store, busybox_rootfs_tar, "Not A Name")
    assert store.images() == []
