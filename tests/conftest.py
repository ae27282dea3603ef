"""Shared test configuration: where the conformance data and corpora live."""

from __future__ import annotations

import os
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
