"""Shared test configuration: where the conformance data and corpora live.

The conformance data (BuildKit's parser and shell test files) is not part of
the repository: tests find it through $PYBUILD_CONFORMANCE_DIR. Without it
they skip, except under CI (CI=true), where missing data fails them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"

# Real-world Dockerfiles from Debian packages, unpacked by
# tests/install-deps.sh: Docker's and openshift/imagebuilder's test data.
CORPUS = Path(os.environ.get("PYBUILD_TEST_CORPUS", "/var/cache/pybuild-tests/corpus"))
DEBIAN_CORPUS_ROOTS = (
    CORPUS / "usr/share/gocode/src/github.com/openshift/imagebuilder",
    CORPUS / "usr/share/gocode/src/github.com/docker/docker",
)


CONFORMANCE_ENV = "PYBUILD_CONFORMANCE_DIR"


def in_ci() -> bool:
    """Whether the tests run under CI ($CI set, and not to false or 0)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def conformance_dir() -> Path | None:
    """The conformance data directory, or None when $PYBUILD_CONFORMANCE_DIR is unset or absent.

    For collecting test cases; a test that needs the data asks `require_conformance`.
    """
    value = os.environ.get(CONFORMANCE_ENV, "")
    if not value:
        return None
    path = Path(value).resolve()
    return path if path.is_dir() else None


def require_conformance() -> Path:
    """The conformance data directory: skip when $PYBUILD_CONFORMANCE_DIR is unset,
    fail when it names no directory, and fail under CI whenever the data is missing."""
    value = os.environ.get(CONFORMANCE_ENV, "")
    path = conformance_dir()
    if path is not None:
        return path
    if value:
        pytest.fail(f"{CONFORMANCE_ENV}={value} is not a directory")
    reason = f"conformance data not configured: set {CONFORMANCE_ENV} to its directory"
    if in_ci():
        pytest.fail(f"{reason} (CI must not skip these tests)")
    pytest.skip(reason)


@pytest.fixture
def conformance() -> Path:
    """The conformance data directory (see `require_conformance`)."""
    return require_conformance()


def missing_conformance(*values: object) -> list[object]:
    """The one case to collect when the conformance data is absent: a test that
    asks for the `conformance` fixture then skips or fails instead of vanishing."""
    return [pytest.param(*values, id="conformance-data")]


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


@pytest.fixture(scope="session")
def busybox_arm64_rootfs_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fixtures/base-images/busybox-arm64.sh's tarball (Debian's busybox-static:arm64), once."""
    require_tool("busybox")
    require_tool("dpkg-deb")
    out = tmp_path_factory.mktemp("base-images-arm64") / "busybox-arm64.tar"
    env = {**os.environ, "SOURCE_DATE_EPOCH": "0"}
    debs = Path(os.environ.get("PYBUILD_TEST_DEBS", "/var/cache/pybuild-tests/debs"))
    fetched = sorted(debs.glob("busybox-static_*_arm64.deb"))  # install-deps.sh keeps it there
    if fetched:
        env["BUSYBOX_ARM64_DEB"] = str(fetched[-1])
    script = FIXTURES / "base-images" / "busybox-arm64.sh"
    result = subprocess.run(
        ["sh", str(script), str(out)], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"busybox-arm64.sh failed (tests/install-deps.sh sets it up):\n{result.stderr}")
    return out


@pytest.fixture(autouse=True, scope="session")
def _private_default_store(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never see or touch the machine's own store (/var/lib/pybuild)."""
    os.environ["PYBUILD_ROOT"] = str(tmp_path_factory.mktemp("default-store"))
