"""Shared test configuration: where the conformance data and corpora live."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CONFORMANCE = SHARED / "conformance"
FIXTURES = REPO / "fixtures"

# Real-world Dockerfiles from Debian packages, unpacked by
# tests/install-deps.sh: Docker's and openshift/imagebuilder's test data.
CORPUS = Path(os.environ.get("PYBUILD_TEST_CORPUS", "/var/cache/pybuild-tests/corpus"))
DEBIAN_CORPUS_ROOTS = (
    CORPUS / "usr/share/gocode/src/github.com/openshift/imagebuilder",
    CORPUS / "usr/share/gocode/src/github.com/docker/docker",
)


def require_dir(path: Path, how: str) -> Path:
    """Fail (never skip) when test data is missing."""
    if not path.is_dir():
        pytest.fail(f"missing test data {path}: {how}")
    return path


def require_tool(name: str) -> str:
    """The path of a system tool; fail (never skip) when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: apt-get install {name} (tests/install-deps.sh)")
    return path


@pytest.fixture(scope="session")
def busybox_rootfs_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fixtures/base-images/busybox.sh's root filesystem tarball, built once per session."""
    require_tool("busybox")
    out = tmp_path_factory.mktemp("base-images") / "busybox.tar"
    env = {**os.environ, "SOURCE_DATE_EPOCH": "0"}
    script = FIXTURES / "base-images" / "busybox.sh"
    result = subprocess.run(
        ["sh", str(script), str(out)], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"busybox.sh failed:\n{result.stderr}")
    return out


@pytest.fixture(autouse=True, scope="session")
def _private_default_store(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never see or touch the machine's own store (/var/lib/pybuild)."""
    os.environ["PYBUILD_ROOT"] = str(tmp_path_factory.mktemp("default-store"))
