"""Loading hostile, truncated and corrupt archives stores no image."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import tarfile
from pathlib import Path

import pytest

from builder.errors import ImageError
from builder.export.docker_archive import save_docker_archive
from builder.export.load import load_archive
from builder.export.selection import select_images
from builder.image import mediatypes
from builder.image.digest import DigestMismatchError, digest_hex
from tests.export.conftest import blob_files


@pytest.fixture
def saved(store, busybox_image, tmp_path: Path) -> bytes:
    out = io.BytesIO()
    save_docker_archive(store, select_images(store, ["busybox:test"]), out)
    return out.getvalue()


@pytest.fixture
def target(tmp_path: Path):
    from builder.store import Store

    return Store.open(tmp_path / "target")


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {m.name.rstrip("/"): m for m in archive.getmembers()}


def _expect_nothing_loaded(target, data: bytes, error: type[Exception] = ImageError) -> ImageError:
    before = blob_files(target)
    with pytest.raises(error) as info:
        load_archive(target, io.BytesIO(data))
    assert target.images() == []
    target.prune()
    assert blob_files(target) == before  # what the failed load wrote is garbage, gone at prune
    return info.value  # type: ignore[return-value]


def _archive(*members: tuple[str, bytes | tarfile.TarInfo]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, content in members:
            if isinstance(content, tarfile.TarInfo):
                content.name = name
                archive.addfile(content)
            else:
                info = tarfile.TarInfo(name)
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    return out.getvalue()


def _end_of_members(members: dict[str, tarfile.TarInfo]) -> int:
    last = max(members.values(), key=lambda m: m.offset_data)
    return last.offset_data + (last.size + 511) // 512 * 512


def test_truncated_archive_stores_nothing(target, saved: bytes, busybox_image, store) -> None:
    members = _members(saved)
    layer_hex = digest_hex(store.manifest(busybox_image).layers[0].digest)
    layer = members[f"blobs/sha256/{layer_hex}"]
    manifest_json = members["manifest.json"]
    cuts = {
        "inside the first header": 100,
        "inside the layer": layer.offset_data + layer.size // 2,
        "one byte short of the layer": layer.offset_data + layer.size - 1,
        "right after the layer's header": layer.offset_data,
        "at the manifest.json header": manifest_json.offset,
        "inside the manifest.json header": manifest_json.offset + 100,
        "inside manifest.json": manifest_json.offset_data + 10,
        "in the last member's padding": _end_of_members(members) - 1,
    }
    for where, cut in cuts.items():
        error = _expect_nothing_loaded(target, saved[:cut])
        assert error.message, where


def test_cut_in_the_end_of_archive_marker_loses_nothing(
    target, saved: bytes, busybox_image
) -> None:
    """Like Go's archive/tar (docker load): the end of the last member ends the archive."""
    end = _end_of_members(_members(saved))
    for cut in (end, end + 512):
        [loaded] = load_archive(target, io.BytesIO(saved[:cut]))
        assert loaded.manifest_digest == busybox_image.manifest_digest


def test_flipped_byte_in_a_blob_is_a_digest_mismatch(
    target, saved: bytes, store, busybox_image
) -> None:
    members = _members(saved)
    for digest in (store.manifest(busybox_image).layers[0].digest, busybox_image.manifest_digest):
        member = members[f"blobs/sha256/{digest_hex(digest)}"]
        damaged = bytearray(saved)
        damaged[member.offset_data + member.size // 2] ^= 0x01
        _expect_nothing_loaded(target, bytes(damaged), DigestMismatchError)


def test_damaged_header_is_not_taken_for_the_end(target, saved: bytes) -> None:
    member = _members(saved)["index.json"]
    damaged = bytearray(saved)
    damaged[member.offset + 3] ^= 0x20  # the name: the header checksum no longer matches
    error = _expect_nothing_loaded(target, bytes(damaged))
    assert "corrupt" in error.message


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("../evil", b"x"),
        ("/abs/evil", b"x"),
        ("a/../../evil", b"x"),
        ("blobs/sha256/not-a-digest", b"x"),
    ],
)
def test_hostile_member_names_are_rejected(target, saved: bytes, name: str, content: bytes) -> None:
    with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
        originals = [
            (m.name, archive.extractfile(m).read()) for m in archive.getmembers() if m.isfile()
        ]  # type: ignore[union-attr]
    error = _expect_nothing_loaded(target, _archive((name, content), *originals))
    assert name.split("/")[0] in error.message or "blobs/" in error.message


def _link(kind: bytes, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo()
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize(
    ("name", "member"),
    [
        ("escape", _link(tarfile.SYMTYPE, "../../etc/passwd")),
        ("absolute", _link(tarfile.SYMTYPE, "/etc/passwd")),
        ("hard", _link(tarfile.LNKTYPE, "../outside")),
        ("device", _link(tarfile.CHRTYPE, "")),
        ("fifo", _link(tarfile.FIFOTYPE, "")),
    ],
)
def test_links_out_of_the_archive_and_special_files_are_rejected(
    target, saved: bytes, name: str, member
) -> None:
    with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
        originals = [
            (m.name, archive.extractfile(m).read()) for m in archive.getmembers() if m.isfile()
        ]  # type: ignore[union-attr]
    _expect_nothing_loaded(target, _archive((name, member), *originals))


def test_manifest_json_pointing_outside_is_rejected(target, saved: bytes) -> None:
    with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
        files = {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]
    items = json.loads(files["manifest.json"])
    items[0]["Config"] = "../../etc/passwd"
    files["manifest.json"] = json.dumps(items).encode()
    error = _expect_nothing_loaded(target, _archive(*files.items()))
    assert ".." in error.message


@pytest.mark.parametrize(
    "manifest_json",
    [
        b"{}",
        b"not json",
        b'[{"Config": 1, "Layers": []}]',
        b'[{"Config": "x.json", "Layers": "a"}]',
        b"[]",
    ],
)
def test_malformed_manifest_json_is_an_image_error(
    target, saved: bytes, manifest_json: bytes
) -> None:
    with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
        files = {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]
    files["manifest.json"] = manifest_json
    _expect_nothing_loaded(target, _archive(*files.items()))


def test_not_an_archive(target) -> None:
    _expect_nothing_loaded(target, b"")
    _expect_nothing_loaded(target, b"hello world" * 100)
    _expect_nothing_loaded(target, _archive(("README", b"hi")))


# --- docker <= 24 archives: <hex>.json config, <id>/layer.tar, symlinked duplicates -------------


def _legacy_archive(store, record, *, layer_extra: bytes = b"", compress: str = "none") -> bytes:
    config = store.config_bytes(record)
    with store.open_blob(store.manifest(record).layers[0].digest) as blob:
        layer = gzip.decompress(blob.read())
    layer += layer_extra
    if compress == "gzip":
        layer = gzip.compress(layer)
    elif compress == "xz":
        layer = lzma.compress(layer, preset=0)
    config_hex = hashlib.sha256(config).hexdigest()
    manifest = [
        {"Config": f"{config_hex}.json", "RepoTags": ["old:24"], "Layers": ["bbb/layer.tar"]}
    ]
    return _archive(
        ("aaa/VERSION", b"1.0"),
        ("aaa/json", b"{}"),
        ("aaa/layer.tar", layer),
        ("bbb/layer.tar", _link(tarfile.SYMTYPE, "../aaa/layer.tar")),
        (f"{config_hex}.json", config),
        ("manifest.json", json.dumps(manifest).encode()),
        ("repositories", b'{"old": {"24": "aaa"}}'),
    )


@pytest.mark.parametrize("compress", ["none", "gzip", "xz"])
def test_old_docker_archive_loads(target, store, busybox_image, compress: str) -> None:
    [loaded] = load_archive(
        target, io.BytesIO(_legacy_archive(store, busybox_image, compress=compress))
    )
    assert loaded.names == ("docker.io/library/old:24",)
    assert loaded.id == busybox_image.id
    [layer] = target.manifest(loaded).layers
    diff_id = store.config(busybox_image).diff_ids[0]
    if compress == "gzip":
        assert layer.media_type == mediatypes.OCI_LAYER_GZIP
    else:  # plain, or xz (which has no OCI media type) stored uncompressed
        assert (layer.media_type, layer.digest) == (mediatypes.OCI_LAYER, diff_id)


def test_old_docker_archive_with_a_wrong_layer_is_rejected(target, store, busybox_image) -> None:
    data = _legacy_archive(store, busybox_image, layer_extra=b"\0" * 1024)
    _expect_nothing_loaded(target, data, DigestMismatchError)
