"""remove_tree as a non-root user: read-only dirs from an image must not block deletion."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from builder.store.files import remove_tree, tree_size

NOBODY = 65534


def remove_as_nobody(path: str) -> None:
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    remove_tree(Path(path))


def make_tree(top: Path) -> None:
    (top / "a" / "b").mkdir(parents=True)
    (top / "a" / "b" / "f").write_bytes(b"12345")
    os.link(top / "a" / "b" / "f", top / "a" / "hardlink")
    os.symlink("/etc/passwd", top / "a" / "link")
    (top / "unreadable").mkdir()
    (top / "unreadable" / "g").write_bytes(b"x")


def test_remove_tree_with_read_only_dirs_unprivileged() -> None:
    base = Path(tempfile.mkdtemp(prefix="pybuild-store-test-"))
    try:
        os.chmod(base, 0o755)
        top = base / "snap"
        top.mkdir()
        make_tree(top)
        assert tree_size(top) == 5 + 11 + 1  # f (hard link counted once), symlink, g
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames + filenames:
                os.lchown(os.path.join(dirpath, name), NOBODY, NOBODY)
        os.chown(top, NOBODY, NOBODY)
        os.chmod(base, 0o777)
        os.chmod(top / "a" / "b", 0o555)
        os.chmod(top / "a", 0o555)
        os.chmod(top / "unreadable", 0o000)
        os.chmod(top, 0o555)
        child = multiprocessing.get_context("spawn").Process(
            target=remove_as_nobody, args=(str(top),)
        )
        child.start()
        child.join(30)
        assert child.exitcode == 0
        assert not top.exists()
    finally:
        shutil.rmtree(base)


def test_remove_tree_of_a_tree_another_process_removes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two recoveries (two stores) may clean the same /dev/shm leftover at once: the one
    that finds it gone mid-way is not an error, with or without ignore_errors."""
    from builder.snapshot import trees

    def removed_meanwhile(path: Path) -> None:
        shutil.rmtree(path)  # the other process got there between lstat and chmod

    monkeypatch.setattr(trees, "detach_mounts_under", removed_meanwhile)
    for ignore in (False, True):
        tree = tmp_path / f"leftover-{ignore}"
        (tree / "sub").mkdir(parents=True)
        (tree / "sub" / "f").write_text("x")
        trees.remove_tree(tree, ignore_errors=ignore)
        assert not tree.exists()
