"""`Store.check` / `pybuild system check`: each kind of damage found, reported, repaired."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from builder.image.digest import digest_hex
from builder.store import Store
from builder.store.check import Severity
from tests.store.images import make_layer, store_image

BASE = make_layer({"etc/base": b"base"})
TOP = make_layer({"etc/top": b"top"})


@pytest.fixture
def image(store: Store):
    record = store_image(store, [BASE, TOP], names=("app:1",))
    store.ensure_snapshots(record)
    return record


def _messages(report) -> list[str]:
    return [f"{f.severity.value} {f.message}" for f in report.findings]


def test_a_sound_store_is_healthy(store: Store, image) -> None:
    report = store.check()
    assert report.healthy and report.findings == []
    assert (report.blobs, report.images, report.snapshots) == (4, 1, 2)


def test_corrupt_blob_is_removed_and_its_image_dropped(store: Store, image) -> None:
    layer = store.manifest(image).layers[1].digest
    path = store.blob_path(layer)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    report = store.check()
    assert not report.healthy
    assert "problem blob does not hash to its name" in _messages(report)
    assert any(f"blob {layer} is corrupt" in m for m in _messages(report))
    assert store.images() == [image]  # nothing changed without --repair

    repaired = store.check(repair=True)
    assert repaired.healthy
    assert {f.repair for f in repaired.findings if f.severity is Severity.PROBLEM} == {
        "removed",
        "image record dropped",
    }
    assert not store.has_blob(layer)
    assert store.images() == []
    # its snapshots are now orphans: removed as garbage
    assert all(f.repaired for f in repaired.findings)
    assert store.check().healthy


def test_missing_config_breaks_the_closure(store: Store, image) -> None:
    store.blob_path(image.config_digest).unlink()
    report = store.check()
    assert any(f"blob {image.config_digest} is missing" in m for m in _messages(report))
    assert store.check(repair=True).healthy
    assert store.images() == []


def test_missing_snapshot_is_unpacked_again(store: Store, image) -> None:
    chain = store.snapshot_path(store_image_chain(store, image)).parent
    import shutil

    shutil.rmtree(chain)
    report = store.check()
    assert not report.healthy
    assert any("snapshot" in m and "is missing" in m for m in _messages(report))
    repaired = store.check(repair=True)
    assert repaired.healthy
    assert [f.repair for f in repaired.findings] == ["unpacked again"]
    assert (chain / "fs" / "etc" / "top").read_bytes() == b"top"
    assert store.images() == [image]


def store_image_chain(store: Store, image) -> str:
    from builder.image.digest import chain_ids

    return chain_ids(store.config(image).diff_ids)[-1]


def test_orphan_snapshots_and_temp_entries_are_garbage(store: Store, image) -> None:
    orphan = store.root / "snapshots" / ("ab" * 32)
    (orphan / "fs").mkdir(parents=True)
    stray = store.root / "snapshots" / "not-a-chain"
    stray.mkdir()
    temp = store.root / "tmp" / "tmp-blob-1-x"
    temp.write_bytes(b"partial")
    report = store.check()
    assert report.healthy  # garbage, not damage
    assert sorted(f.subject for f in report.findings) == sorted(
        [str(orphan), str(stray), str(temp)]
    )
    assert all(f.severity is Severity.GARBAGE for f in report.findings)
    repaired = store.check(repair=True)
    assert all(f.repaired for f in repaired.findings)
    assert not orphan.exists() and not stray.exists() and not temp.exists()
    assert store.check().findings == []


def test_unreferenced_blobs_are_counted(store: Store, image) -> None:
    store.put_blob(b"nobody uses me")
    report = store.check()
    assert report.healthy and report.unreferenced_blobs == 1


def test_corrupt_index_is_reported_not_repaired(store: Store, image) -> None:
    index = store.root / "index.json"
    index.write_text("{not json")
    report = store.check(repair=True)
    assert not report.healthy
    assert "is corrupt" in report.problems[0].message
    assert index.read_text() == "{not json"
    assert digest_hex(image.manifest_digest) in os.listdir(store.root / "blobs" / "sha256")


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "builder.cli.main", "system", "check", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYBUILD_ROOT": str(root)},
        check=False,
    )


def test_cli_reports_and_repairs(store: Store, image) -> None:
    proc = _cli(store.root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "checked 4 blobs, 1 images, 2 snapshots\nstore is healthy\n"

    layer = store.manifest(image).layers[0].digest
    store.blob_path(layer).write_bytes(b"garbage")
    proc = _cli(store.root)
    assert proc.returncode == 1
    assert f"problem: {layer}: blob does not hash to its name" in proc.stdout
    assert proc.stdout.endswith("2 problems found; run `pybuild system check --repair`\n")

    proc = _cli(store.root, "--repair")
    assert proc.returncode == 0, proc.stdout
    assert "[repaired: removed]" in proc.stdout
    assert "[repaired: image record dropped]" in proc.stdout
    assert "Traceback" not in proc.stderr
    assert _cli(store.root).returncode == 0
