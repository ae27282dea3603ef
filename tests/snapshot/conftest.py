"""Fixtures of the snapshot tests: a destination and a sentinel that must stay untouched."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.snapshot.helpers import dir_state


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    path = tmp_path / "dest"
    path.mkdir()
    return path


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[Path]:
    """A directory outside `dest`, with a file and a subdirectory; checked unchanged after the test."""
    path = tmp_path / "outside"
    (path / "sub").mkdir(parents=True)
    (path / "file").write_text("precious\n")
    (path / "sub" / "inner").write_text("inner\n")
    before = dir_state(path)
    parent_before = sorted(os.listdir(tmp_path))
    yield path
    assert dir_state(path) == before, "something outside dest was changed"
    assert sorted(os.listdir(tmp_path)) == parent_before, "something was created next to dest"


@pytest.fixture
def root_user() -> None:
    """These tests need root (as CI has): owners, devices, trusted.* xattrs, overlayfs."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root (CI runs the suite as root)")


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run tests/install-deps.sh")
    return path
