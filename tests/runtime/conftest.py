"""A busybox root filesystem and the real runtimes for the runtime tests (run as root)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

BUSYBOX = Path("/bin/busybox")
APPLETS = (
    "sh", "cat", "echo", "id", "grep", "ls", "ps", "sleep", "mount", "hostname", "touch",
    "mkdir", "wc", "pwd", "unshare", "kill", "true", "env", "rm", "linux32", "uname",
)  # fmt: skip

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
lambda:x:1000:1000:lambda:/home/lambda:/bin/sh
"""
GROUP = """\
root:x:0:
staff:x:50:lambda
lambda:x:1000:
nogroup:x:65534:
"""


def make_busybox_rootfs(root: Path) -> Path:
    """A tiny root filesystem: static busybox, a few applets, passwd and group files."""
    if not BUSYBOX.is_file():
        pytest.fail(f"{BUSYBOX} is missing: apt-get install busybox-static")
    for directory in ("bin", "etc", "proc", "sys", "dev", "tmp", "root", "home/lambda"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    (root / "tmp").chmod(0o1777)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in APPLETS:
        os.symlink("busybox", root / "bin" / applet)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    os.chown(root / "home" / "lambda", 1000, 1000)
    return root


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared and never written to: tests that write use `rootfs`."""
    return make_busybox_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")


@pytest.fixture
def rootfs(busybox_rootfs: Path, tmp_path: Path) -> Path:
    """A private copy of the busybox root filesystem."""
    copy = tmp_path / "rootfs"
    shutil.copytree(busybox_rootfs, copy, symlinks=True)
    return copy


@pytest.fixture(scope="session")
def runc() -> str:
    path = shutil.which("runc")
    if path is None:
        pytest.fail("runc is missing: apt-get install runc")
    return path


@pytest.fixture(scope="session")
def crun() -> str:
    path = shutil.which("crun")
    if path is None:
        pytest.fail("crun is missing: apt-get install crun")
    return path
