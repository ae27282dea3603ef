"""pybuild save (docker-archive) and loading docker-archives, checked with skopeo."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from builder.export.docker_archive import save_docker_archive
from builder.export.load import load_archive
from builder.export.selection import select_images
from builder.image import mediatypes
from builder.image.digest import digest_hex
from tests.conftest import require_tool
from tests.export.conftest import run


def save(store, texts: list[str], path: Path) -> Path:
    with path.open("wb") as out:
        save_docker_archive(store, select_images(store, texts), out)
    return path


@pytest.fixture
def empty_store(tmp_path: Path):
    from builder.store import Store

    return Store.open(tmp_path / "other-store")


def test_archive_has_docker_and_oci_views_of_the_image(
    store, busybox_image, tmp_path: Path
) -> None:
    path = save(store, ["busybox:test"], tmp_path / "b.tar")
    manifest = store.manifest(busybox_image)
    config_hex = digest_hex(busybox_image.config_digest)
    layer_hex = digest_hex(manifest.layers[0].digest)
    with tarfile.open(path) as archive:
        members = archive.getmembers()
        names = [m.name for m in members]
        read = lambda name: archive.extractfile(name).read()  # noqa: E731
        manifest_json = json.loads(read("manifest.json"))
        index = json.loads(read("index.json"))
        repositories = json.loads(read("repositories"))
        layout = json.loads(read("oci-layout"))
    assert names == sorted(names)
    assert names[:2] == ["blobs", "blobs/sha256"]
    assert {"index.json", "manifest.json", "oci-layout", "repositories"} <= set(names)
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" for m in members)
    assert manifest_json == [
        {
            "Config": f"blobs/sha256/{config_hex}",
            "RepoTags": ["busybox:test"],
            "Layers": [f"blobs/sha256/{layer_hex}"],
        }
    ]
    assert layout == {"imageLayoutVersion": "1.0.0"}
    [entry] = index["manifests"]
    assert entry["digest"] == busybox_image.manifest_digest
    assert entry["annotations"] == {
        "io.containerd.image.name": "docker.io/library/busybox:test",
        "org.opencontainers.image.ref.name": "test",
    }
    top_diff_id = store.config(busybox_image).diff_ids[-1]
    assert repositories == {"busybox": {"test": digest_hex(top_diff_id)}}
    # layers stay as stored: gzip
    assert f"blobs/sha256/{layer_hex}" in names
    assert manifest.layers[0].media_type == mediatypes.OCI_LAYER_GZIP


def test_save_is_deterministic_and_streams_to_a_pipe(store, busybox_image, tmp_path: Path) -> None:
    first = save(store, ["busybox:test"], tmp_path / "1.tar").read_bytes()

    class Pipe(io.RawIOBase):  # write-only, not seekable: like stdout
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:  # type: ignore[override]
            self.data += b
            return len(b)

    pipe = Pipe()
    save_docker_archive(store, select_images(store, ["busybox:test"]), pipe)  # type: ignore[arg-type]
    assert bytes(pipe.data) == first


def test_saving_by_id_writes_no_name(store, busybox_image, tmp_path: Path) -> None:
    path = save(store, [busybox_image.short_id], tmp_path / "id.tar")
    with tarfile.open(path) as archive:
        assert json.loads(archive.extractfile("manifest.json").read())[0]["RepoTags"] == []  # type: ignore[union-attr]
        assert "repositories" not in archive.getnames()


def test_skopeo_reads_the_docker_archive(store, busybox_image, tmp_path: Path) -> None:
    require_tool("skopeo")
    path = save(store, ["busybox:test"], tmp_path / "b.tar")
    info = json.loads(run("skopeo", "inspect", f"docker-archive:{path}").stdout)
    config = store.config(busybox_image)
    assert info["Architecture"] == config.architecture and info["Os"] == "linux"
    assert len(info["Layers"]) == 1
    raw = json.loads(run("skopeo", "inspect", "--config", f"docker-archive:{path}").stdout)
    assert raw["rootfs"]["diff_ids"] == config.diff_ids
    run("skopeo", "copy", "-q", f"docker-archive:{path}", f"oci:{tmp_path / 'layout'}:copied")
    assert (tmp_path / "layout" / "index.json").is_file()


def test_round_trip_into_an_empty_store_keeps_ids_and_digests(
    store, busybox_image, empty_store, tmp_path: Path
) -> None:
    store.tag("busybox:test", "localhost:5000/team/busybox:v2")
    path = save(store, ["busybox:test", "localhost:5000/team/busybox:v2"], tmp_path / "b.tar")
    [loaded] = load_archive(empty_store, path)
    assert loaded.id == busybox_image.id
    assert loaded.manifest_digest == busybox_image.manifest_digest
    assert set(loaded.names) == {"docker.io/library/busybox:test", "localhost:5000/team/busybox:v2"}
    assert empty_store.manifest(loaded) == store.manifest(busybox_image)
    assert empty_store.config_bytes(loaded) == store.config_bytes(busybox_image)
    # loading again changes nothing
    [again] = load_archive(empty_store, path)
    assert again.id == loaded.id and len(empty_store.images()) == 1


def test_load_what_skopeo_wrote_as_docker_archive(
    store, busybox_image, empty_store, tmp_path: Path
) -> None:
    require_tool("skopeo")
    from builder.export.oci_layout import save_oci

    layout = tmp_path / "layout"
    save_oci(store, select_images(store, ["busybox:test"]), layout, tar=False)
    archive = tmp_path / "skopeo.tar"
    run("skopeo", "copy", "-q", f"oci:{layout}:test", f"docker-archive:{archive}:busybox:skopeo")
    [loaded] = load_archive(empty_store, archive)
    assert loaded.names == ("docker.io/library/busybox:skopeo",)
    assert loaded.id == busybox_image.id  # same config bytes
    assert empty_store.config(loaded).diff_ids == store.config(busybox_image).diff_ids
    manifest = empty_store.manifest(loaded)
    assert len(manifest.layers) == 1
    assert manifest.layers[0].media_type in (mediatypes.OCI_LAYER, mediatypes.OCI_LAYER_GZIP)


def test_compressed_archive_loads(store, busybox_image, empty_store, tmp_path: Path) -> None:
    import gzip

    path = save(store, ["busybox:test"], tmp_path / "b.tar")
    packed = tmp_path / "b.tar.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    [loaded] = load_archive(empty_store, packed)
    assert loaded.manifest_digest == busybox_image.manifest_digest


def test_load_from_a_stream(store, busybox_image, empty_store, tmp_path: Path) -> None:
    path = save(store, ["busybox:test"], tmp_path / "b.tar")
    with path.open("rb") as stream:
        [loaded] = load_archive(empty_store, stream)
    assert loaded.names == ("docker.io/library/busybox:test",)


def test_several_images_in_one_archive(
    store, busybox_rootfs_tar: Path, empty_store, tmp_path: Path
) -> None:
    from builder.export.rootfs_import import import_rootfs

    first = import_rootfs(store, busybox_rootfs_tar, "one:1", created="2024-01-01T00:00:00Z")
    second = import_rootfs(store, busybox_rootfs_tar, "two:2", created="2024-02-02T00:00:00Z")
    path = save(store, ["one:1", "two:2", "one:1"], tmp_path / "both.tar")
    loaded = load_archive(empty_store, path)
    assert [(r.id, r.names) for r in loaded] == [
        (first.id, ("docker.io/library/one:1",)),
        (second.id, ("docker.io/library/two:2",)),
    ]


def test_unknown_image_cannot_be_selected(store) -> None:
    from builder.errors import ImageNotFoundError

    with pytest.raises(ImageNotFoundError):
        select_images(store, ["nothere:1"])
