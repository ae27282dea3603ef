"""load and import write an image record only once every layer is unpacked and verified.

Each hostile case (traversal, absolute name, a name over 255 bytes, symlink
escape, truncated layer, diff_id mismatch) must give one typed error, leave
no new record, no new snapshot, not move an existing tag, and touch nothing
outside the store. The deeply nested JSON cases are here too.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from builder.errors import ImageError, PybuildError
from builder.export.docker_archive import save_docker_archive
from builder.export.load import load_archive
from builder.export.oci_layout import save_oci
from builder.export.rootfs_import import import_rootfs
from builder.export.selection import select_images
from builder.store import Store
from tests.export.conftest import CREATED
from tests.export.hostile_images import (
    DEEP_JSON,
    bad_layer_cases,
    hostile_image,
    hostile_layers,
    snapshot_dirs,
    tree_listing,
)

NAME = "docker.io/library/evil:1"


@pytest.fixture
def sentinel(tmp_path: Path) -> Path:
    directory = tmp_path / "sentinel"
    directory.mkdir()
    (directory / "keep").write_text("untouched")
    return directory


@pytest.fixture
def target(tmp_path: Path, busybox_rootfs_tar: Path) -> Store:
    """A store where `evil:1` already names a good image (the tag must not move)."""
    store = Store.open(tmp_path / "target")
    import_rootfs(store, busybox_rootfs_tar, "evil:1", created=CREATED)
    return store


def _state(store: Store, sentinel: Path) -> tuple[object, ...]:
    return (store.images(), snapshot_dirs(store), tree_listing(sentinel))


CASES = sorted(bad_layer_cases(Path("/nonexistent")))


def _archive(tmp_path: Path, sentinel: Path, case: str, fmt: str) -> bytes:
    source = Store.open(tmp_path / f"source-{fmt}")
    layer, _ = bad_layer_cases(sentinel)[case]
    hostile_image(source, layer, NAME)
    out = io.BytesIO()
    selections = select_images(source, [NAME])
    if fmt == "docker":
        save_docker_archive(source, selections, out)
    else:
        save_oci(source, selections, out, tar=True)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["docker", "oci"])
@pytest.mark.parametrize("case", CASES)
def test_hostile_load_leaves_no_image(
    tmp_path: Path, target: Store, sentinel: Path, case: str, fmt: str
) -> None:
    data = _archive(tmp_path, sentinel, case, fmt)
    before = _state(target, sentinel)
    with pytest.raises(PybuildError, match=bad_layer_cases(sentinel)[case][1]):
        load_archive(target, io.BytesIO(data))
    assert _state(target, sentinel) == before
    assert target.resolve("evil:1").id == before[0][0].id  # type: ignore[index]


@pytest.mark.parametrize("case", sorted(hostile_layers(Path("/x"))))
def test_hostile_import_leaves_no_image(target: Store, sentinel: Path, case: str) -> None:
    tar, match = hostile_layers(sentinel)[case]
    before = _state(target, sentinel)
    with pytest.raises(PybuildError, match=match):
        import_rootfs(target, io.BytesIO(tar), "evil:1")
    assert _state(target, sentinel) == before


def test_truncated_import_leaves_no_image(target: Store, sentinel: Path) -> None:
    tar, _ = hostile_layers(sentinel)["dotdot"]
    before = _state(target, sentinel)
    with pytest.raises(PybuildError):
        import_rootfs(target, io.BytesIO(tar[: len(tar) // 2 + 100]), "evil:1")
    assert _state(target, sentinel) == before


def _deep_docker_archive() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(DEEP_JSON)
        archive.addfile(info, io.BytesIO(DEEP_JSON))
    return out.getvalue()


def _deep_oci_archive(where: str) -> bytes:
    index = {"schemaVersion": 2, "manifests": []}
    files = {
        "oci-layout": DEEP_JSON if where == "oci-layout" else b'{"imageLayoutVersion":"1.0.0"}',
        "index.json": DEEP_JSON if where == "index.json" else json.dumps(index).encode(),
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.parametrize(
    "data",
    [_deep_docker_archive(), _deep_oci_archive("index.json"), _deep_oci_archive("oci-layout")],
    ids=["manifest.json", "index.json", "oci-layout"],
)
def test_deeply_nested_json_is_an_image_error(target: Store, data: bytes) -> None:
    before = target.images()
    with pytest.raises(ImageError, match="nested more than 100 levels deep"):
        load_archive(target, io.BytesIO(data))
    assert target.images() == before


def test_cli_load_of_a_hostile_archive_is_one_message(
    tmp_path: Path, target: Store, sentinel: Path
) -> None:
    archive = tmp_path / "evil.tar"
    archive.write_bytes(_archive(tmp_path, sentinel, "dotdot", "docker"))
    before = _state(target, sentinel)
    env = {"PYBUILD_ROOT": str(target.root), "PATH": "/usr/bin:/bin"}
    import os

    proc = subprocess.run(
        [sys.executable, "-m", "builder.cli.main", "load", "-i", str(archive)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "'..'" in proc.stderr.splitlines()[0]
    assert _state(target, sentinel) == before
    deep = tmp_path / "deep.tar"
    deep.write_bytes(_deep_docker_archive())
    proc = subprocess.run(
        [sys.executable, "-m", "builder.cli.main", "load", "-i", str(deep)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "nested more than 100 levels deep" in proc.stderr
