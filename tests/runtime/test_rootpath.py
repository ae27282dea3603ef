"""In-root path resolution: symlinks follow the container's view, never the host's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from builder.runtime.rootpath import (
    InRootPath,
    is_directory_in_root,
    read_file_in_root,
    resolve_in_root,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "usr" / "lib").mkdir(parents=True)
    (root / "usr" / "lib" / "os-release").write_text("in root\n")
    os.symlink("usr/lib", root / "lib")  # relative
    os.symlink("/usr/lib/os-release", root / "abs")  # absolute: from the root
    os.symlink("../../../../..", root / "usr" / "up")  # climbs past the root
    os.symlink("loop", root / "loop")
    return root


@pytest.mark.parametrize(
    ("path", "existing", "missing"),
    [
        ("/", (), ()),
        ("/usr/lib", ("usr", "lib"), ()),
        ("lib/os-release", ("usr", "lib", "os-release"), ()),
        ("/abs", ("usr", "lib", "os-release"), ()),
        ("/usr/up/usr/lib", ("usr", "lib"), ()),
        ("/../../usr/./lib/../lib", ("usr", "lib"), ()),
        ("/etc/hosts", (), ("etc", "hosts")),
        ("/lib/new/deeper", ("usr", "lib"), ("new", "deeper")),
        ("/etc/x/../hosts", (), ("etc", "hosts")),
    ],
)
def test_resolve(
    root: Path, path: str, existing: tuple[str, ...], missing: tuple[str, ...]
) -> None:
    assert resolve_in_root(root, path) == InRootPath(existing, missing)


def test_relative_form(root: Path) -> None:
    assert resolve_in_root(root, "/lib/new").relative == "usr/lib/new"
    assert resolve_in_root(root, "/").relative == ""


def test_loops_and_files_used_as_directories_are_errors(root: Path) -> None:
    with pytest.raises(OSError):
        resolve_in_root(root, "/loop")
    with pytest.raises(NotADirectoryError):
        resolve_in_root(root, "/abs/x")


def test_read_file_never_leaves_the_root(root: Path, tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("host secret\n")
    os.symlink(str(tmp_path / "secret"), root / "to-host")  # the host path, seen from the root
    os.symlink("../secret", root / "dotdot")
    assert read_file_in_root(root, "/abs", 100) == b"in root\n"
    assert read_file_in_root(root, "/to-host", 100) is None
    assert read_file_in_root(root, "/dotdot", 100) is None
    assert read_file_in_root(root, "/loop", 100) is None
    assert read_file_in_root(root, "/usr", 100) is None  # a directory
    assert read_file_in_root(root, "/abs", 3) == b"in r"  # limit + 1 bytes


def test_is_directory(root: Path) -> None:
    assert is_directory_in_root(root, "/lib")
    assert is_directory_in_root(root, "/usr/up")  # the root itself
    assert not is_directory_in_root(root, "/abs")
    assert not is_directory_in_root(root, "/missing")
