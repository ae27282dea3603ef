"""Mount points the runtime creates: found before the run, removed after it."""

from __future__ import annotations

import os
from pathlib import Path

from builder.runtime.mountstubs import find_mount_stubs, remove_mount_stubs


def test_missing_destinations_and_their_parents_are_stubs(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hosts").write_text("kept\n")
    destinations = ["/proc", "/dev", "/dev/pts", "/etc/hosts", "/etc/resolv.conf", "/run/a/b"]
    assert find_mount_stubs(tmp_path, destinations) == [
        "proc",
        "dev",  # /dev/pts is created on the /dev tmpfs, not in the root
        "etc/resolv.conf",
        "run",
        "run/a",
        "run/a/b",
    ]


def test_destinations_resolve_symlinks_inside_the_root(tmp_path: Path) -> None:
    (tmp_path / "var" / "run").mkdir(parents=True)
    os.symlink("/var/run", tmp_path / "run")
    assert find_mount_stubs(tmp_path, ["/run/secrets/x"]) == [
        "var/run/secrets",
        "var/run/secrets/x",
    ]


def test_only_empty_stubs_are_removed_and_parent_times_kept(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    stubs = ["etc/hosts", "etc/full", "run", "run/a", "data"]
    (tmp_path / "etc" / "hosts").touch()
    (tmp_path / "etc" / "full").write_text("the step wrote this\n")
    (tmp_path / "run" / "a").mkdir(parents=True)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "file").touch()
    os.utime(tmp_path / "etc", ns=(1_000_000_000, 2_000_000_000))
    removed = remove_mount_stubs(tmp_path, stubs)
    assert sorted(removed) == ["etc/hosts", "run", "run/a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "etc"]
    assert (tmp_path / "etc" / "full").exists()
    assert os.stat(tmp_path / "etc").st_mtime_ns == 2_000_000_000


def test_removal_follows_no_symlink(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    victim = tmp_path / "host-etc"
    victim.mkdir()
    (victim / "hosts").touch()  # empty, like a stub
    os.symlink(str(victim), root / "etc")  # the step replaced /etc by a symlink
    assert remove_mount_stubs(root, ["etc/hosts", "etc"]) == []
    assert (victim / "hosts").exists()
    assert (root / "etc").is_symlink()
