"""Fixtures for the export tests: the busybox rootfs tarball, stores, imported images.

`busybox_rootfs_tar` and `require_tool` live in tests/conftest.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

BUSYBOX_SH = FIXTURES / "base-images" / "busybox.sh"
#: A fixed creation time, so imported images have the same digests in every run.
CREATED = "2024-01-01T00:00:00Z"


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a tool; a failure shows its output."""
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} failed ({result.returncode}):\n{result.stderr}")
    return result


@pytest.fixture
def store(tmp_path: Path):
    from builder.store import Store

    return Store.open(tmp_path / "store")


@pytest.fixture
def busybox_image(store, busybox_rootfs_tar: Path):
    """busybox imported into `store` as busybox:test."""
    from builder.export.rootfs_import import import_rootfs

    return import_rootfs(store, busybox_rootfs_tar, "busybox:test", created=CREATED)


def blob_files(store) -> set[str]:
    """Every file under the store's blobs/ and tmp/ directories."""
    root = Path(store.root)
    return {
        str(p.relative_to(root))
        for top in ("blobs", "tmp")
        for p in (root / top).rglob("*")
        if p.is_file()
    }
