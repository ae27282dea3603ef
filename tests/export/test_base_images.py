"""fixtures/base-images/busybox.sh: contents and determinism."""

from __future__ import annotations

import os
import stat
import subprocess
import tarfile
from pathlib import Path

from tests.export.conftest import BUSYBOX_SH


def test_busybox_rootfs_has_busybox_applets_dirs_and_users(busybox_rootfs_tar: Path) -> None:
    with tarfile.open(busybox_rootfs_tar) as archive:
        names = archive.getnames()
        members = {m.name.removeprefix("./").rstrip("/"): m for m in archive.getmembers()}
        passwd = archive.extractfile(members["etc/passwd"]).read().decode()  # type: ignore[union-attr]
    assert members["bin/busybox"].isfile() and members["bin/busybox"].mode == 0o755
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
    assert members["bin/ls"].linkname == "busybox"
    for d in ("etc", "tmp", "root", "home", "proc", "sys", "dev", "var", "usr/bin"):
        assert members[d].isdir(), d
    assert stat.S_IMODE(members["tmp"].mode) == 0o1777
    assert "lambda:x:1000:1000:" in passwd and passwd.startswith("root:x:0:0:")
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == 0 for m in members.values())
    assert names == sorted(names)


def test_busybox_rootfs_is_byte_for_byte_reproducible(
    busybox_rootfs_tar: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again.tar"
    env = {**os.environ, "SOURCE_DATE_EPOCH": "0"}
    subprocess.run(["sh", str(BUSYBOX_SH), str(again)], check=True, env=env, capture_output=True)
    assert again.read_bytes() == busybox_rootfs_tar.read_bytes()


def test_busybox_script_needs_an_output_argument() -> None:
    result = subprocess.run(["sh", str(BUSYBOX_SH)], capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "usage" in result.stderr
