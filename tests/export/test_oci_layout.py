"""OCI layouts and archives: written for umoci and skopeo, read back from them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from builder.errors import ImageError
from builder.export.load import load_archive
from builder.export.oci_layout import save_oci
from builder.export.selection import select_images
from builder.image import mediatypes
from builder.image.model import Descriptor, Index
from builder.image.platform import host_platform
from tests.conftest import require_tool
from tests.export.conftest import run


@pytest.fixture
def target(tmp_path: Path):
    from builder.store import Store

    return Store.open(tmp_path / "target")


@pytest.fixture
def layout(store, busybox_image, tmp_path: Path) -> Path:
    dest = tmp_path / "layout"
    save_oci(store, select_images(store, ["busybox:test"]), dest, tar=False)
    return dest


def test_layout_index_names_the_image_like_buildkit(layout: Path, busybox_image) -> None:
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((layout / "index.json").read_text())
    [entry] = index["manifests"]
    assert entry["mediaType"] == mediatypes.OCI_MANIFEST
    assert entry["digest"] == busybox_image.manifest_digest
    assert entry["annotations"] == {
        "org.opencontainers.image.ref.name": "test",
        "io.containerd.image.name": "docker.io/library/busybox:test",
    }
    assert entry["platform"]["architecture"] == host_platform().architecture


def test_layout_blobs_are_hard_links_to_the_store(layout: Path, store, busybox_image) -> None:
    for digest in [busybox_image.manifest_digest, busybox_image.config_digest]:
        blob = layout / "blobs" / "sha256" / digest.split(":")[1]
        assert os.path.samefile(blob, store.blob_path(digest))


def test_umoci_lists_and_unpacks_the_layout(layout: Path, tmp_path: Path) -> None:
    require_tool("umoci")
    assert run("umoci", "ls", "--layout", layout).stdout.split() == ["test"]
    bundle = tmp_path / "bundle"
    run("umoci", "unpack", "--image", f"{layout}:test", bundle)
    busybox = bundle / "rootfs" / "bin" / "busybox"
    assert busybox.is_file() and os.access(busybox, os.X_OK)
    assert os.readlink(bundle / "rootfs" / "bin" / "sh") == "busybox"


def test_saving_into_an_existing_layout_adds_and_replaces_tags(
    layout: Path, store, busybox_image
) -> None:
    store.tag("busybox:test", "busybox:second")
    save_oci(store, select_images(store, ["busybox:second", "busybox:test"]), layout, tar=False)
    refs = [
        m["annotations"]["org.opencontainers.image.ref.name"]
        for m in json.loads((layout / "index.json").read_text())["manifests"]
    ]
    assert sorted(refs) == ["second", "test"]


def test_a_directory_that_is_not_a_layout_is_refused(store, busybox_image, tmp_path: Path) -> None:
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "something").write_text("mine")
    with pytest.raises(ImageError, match="neither empty nor an OCI layout"):
        save_oci(store, select_images(store, ["busybox:test"]), dest, tar=False)


def test_oci_archive_round_trip_and_skopeo(store, busybox_image, target, tmp_path: Path) -> None:
    require_tool("skopeo")
    archive = tmp_path / "b.oci.tar"
    save_oci(store, select_images(store, ["busybox:test"]), archive, tar=True)
    info = json.loads(run("skopeo", "inspect", f"oci-archive:{archive}:test").stdout)
    assert info["Digest"] == busybox_image.manifest_digest
    [loaded] = load_archive(target, archive)
    assert (loaded.id, loaded.manifest_digest) == (busybox_image.id, busybox_image.manifest_digest)
    assert loaded.names == ("docker.io/library/busybox:test",)


def test_load_what_skopeo_wrote_as_oci_archive(
    layout: Path, busybox_image, target, tmp_path: Path
) -> None:
    require_tool("skopeo")
    archive = tmp_path / "skopeo.oci.tar"
    run("skopeo", "copy", "-q", f"oci:{layout}:test", f"oci-archive:{archive}:busybox:from-skopeo")
    [loaded] = load_archive(target, archive)
    assert loaded.id == busybox_image.id
    assert loaded.names == ("docker.io/library/busybox:from-skopeo",)


def test_bare_tag_loads_unnamed_with_a_warning(
    layout: Path, busybox_image, target, tmp_path: Path
) -> None:
    require_tool("skopeo")
    copied = tmp_path / "copied"
    run("skopeo", "copy", "-q", f"oci:{layout}:test", f"oci:{copied}:latest")
    warnings: list[str] = []
    [loaded] = load_archive(target, copied, warn=warnings.append)
    assert loaded.names == () and loaded.id == busybox_image.id
    assert len(warnings) == 1 and "'latest'" in warnings[0] and "without a name" in warnings[0]


def test_layout_directory_loads(layout: Path, busybox_image, target) -> None:
    [loaded] = load_archive(target, layout)
    assert loaded.manifest_digest == busybox_image.manifest_digest
    assert loaded.names == ("docker.io/library/busybox:test",)


def _write_blob(layout: Path, data: bytes) -> Descriptor:
    import hashlib

    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
    return Descriptor(mediatypes.OCI_INDEX, digest, len(data))


def test_nested_index_selects_the_host_platform(layout: Path, busybox_image, target) -> None:
    from builder.image.platform import Platform

    [entry] = Index.from_bytes((layout / "index.json").read_bytes()).manifests
    host = host_platform()
    other = Platform("linux", "s390x" if host.architecture != "s390x" else "amd64")
    nested = Index(
        manifests=(
            Descriptor(entry.media_type, "sha256:" + "0" * 64, 1, platform=other),
            Descriptor(entry.media_type, entry.digest, entry.size, platform=host),
        )
    )
    pointer = _write_blob(layout, nested.to_bytes())
    top = Index(
        manifests=(
            Descriptor(
                pointer.media_type, pointer.digest, pointer.size, annotations=entry.annotations
            ),
        )
    )
    (layout / "index.json").write_bytes(top.to_bytes())
    [loaded] = load_archive(target, layout)
    assert loaded.manifest_digest == busybox_image.manifest_digest
    assert loaded.names == ("docker.io/library/busybox:test",)


def test_symlinked_blob_in_a_layout_is_refused(
    layout: Path, busybox_image, target, tmp_path: Path
) -> None:
    blob = layout / "blobs" / "sha256" / busybox_image.config_digest.split(":")[1]
    outside = tmp_path / "outside"
    outside.write_bytes(blob.read_bytes())
    blob.unlink()
    blob.symlink_to(outside)
    with pytest.raises(ImageError, match="symlink"):
        load_archive(target, layout)
    assert target.images() == []


def test_corrupt_blob_in_a_layout_is_refused(layout: Path, busybox_image, store, target) -> None:
    from builder.image.digest import DigestMismatchError

    layer = store.manifest(busybox_image).layers[0]
    blob = layout / "blobs" / "sha256" / layer.digest.split(":")[1]
    data = bytearray(blob.read_bytes())
    blob.unlink()  # a hard link to the store's copy: do not damage that one
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    with pytest.raises(DigestMismatchError):
        load_archive(target, layout)
    assert target.images() == []


def test_symlinked_index_json_is_refused(layout: Path, target, tmp_path: Path) -> None:
    real = tmp_path / "index.json"
    real.write_bytes((layout / "index.json").read_bytes())
    (layout / "index.json").unlink()
    (layout / "index.json").symlink_to(real)
    with pytest.raises(ImageError, match="symlink"):
        load_archive(target, layout)


def test_manifest_without_the_configs_layers_is_refused(
    layout: Path, store, busybox_image, target
) -> None:
    from builder.image.model import Manifest

    manifest = store.manifest(busybox_image)
    hollow = Manifest(config=manifest.config, layers=(), media_type=manifest.media_type)
    pointer = _write_blob(layout, hollow.to_bytes())
    entry = Descriptor(mediatypes.OCI_MANIFEST, pointer.digest, pointer.size)
    (layout / "index.json").write_bytes(Index(manifests=(entry,)).to_bytes())
    with pytest.raises(ImageError, match="0 layers but the config lists 1 diff_ids"):
        load_archive(target, layout)
    assert target.images() == []
