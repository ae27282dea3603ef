"""Fixtures of the rootless tests: an unprivileged user, its Python, its own home per test."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, require_tool
from tests.rootless.users import (
    Runner,
    User,
    copy_sources,
    ensure_user,
    shared_dir,
    user_python,
)

ROOTLESS_USER = "pybuild-rootless"
NO_SUBIDS_USER = "pybuild-nosubids"


@pytest.fixture(scope="session")
def rootless_setup() -> Iterator[tuple[Path, Path]]:
    """(python, sources) any user can run pybuild with; the set-up time is printed."""
    for tool in ("adduser", "newuidmap", "newgidmap", "runc"):
        require_tool(tool)
    started = time.monotonic()
    python = user_python(REPO / "pyproject.toml")
    top = Path(tempfile.mkdtemp(prefix="pybuild-rootless-", dir="/var/tmp"))
    shared_dir(top)
    sources = copy_sources(REPO, shared_dir(top / "src"))
    print(f"rootless set-up (venv, sources): {time.monotonic() - started:.1f}s")
    yield python, sources
    shutil.rmtree(top, ignore_errors=True)


#: devices Debian's udev rules make 0666 (50-udev-default.rules); a host without udev
#: (a VM, a CI runner) leaves them 0600, out of a rootless build's reach
USER_DEVICES = (Path("/dev/fuse"), Path("/dev/net/tun"))


@pytest.fixture(scope="session", autouse=True)
def user_devices() -> Iterator[None]:
    """/dev/fuse (fuse-overlayfs) and /dev/net/tun (a RUN step's user-mode network) open to
    every user for the session, as udev makes them on Debian; their modes come back after."""
    modes = {}
    for device in USER_DEVICES:
        if device.exists():
            modes[device] = device.stat().st_mode & 0o777
            device.chmod(0o666)
    yield
    for device, mode in modes.items():
        device.chmod(mode)


@pytest.fixture(scope="session")
def fuse_device() -> Path:
    """/dev/fuse, for the fuse-overlayfs tests (fails when the host has none)."""
    require_tool("fuse-overlayfs")
    device = Path("/dev/fuse")
    if not device.exists():
        pytest.fail("/dev/fuse is missing: modprobe fuse (the fuse-overlayfs tests need it)")
    return device


@pytest.fixture(scope="session")
def rootless_user() -> User:
    return ensure_user(ROOTLESS_USER, subids=True)


@pytest.fixture(scope="session")
def no_subids_user() -> User:
    return ensure_user(NO_SUBIDS_USER, subids=False)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A directory every user can read (tmp_path is root's alone); removed after the test."""
    path = Path(tempfile.mkdtemp(prefix="pybuild-rootless-test-", dir="/var/tmp"))
    shared_dir(path)
    yield path
    shutil.rmtree(path, ignore_errors=True)  # root removes the subordinate ids' files too


def _runner(user: User, setup: tuple[Path, Path], home: Path) -> Runner:
    python, sources = setup
    return Runner(user, python, sources, shared_dir(home, user))


@pytest.fixture
def rootless(rootless_user: User, rootless_setup: tuple[Path, Path], workdir: Path) -> Runner:
    """`pybuild` as the user with subordinate ids, its store in `workdir/home/data/pybuild`."""
    return _runner(rootless_user, rootless_setup, workdir / "home")


@pytest.fixture
def rootless_elsewhere(
    rootless_user: User, rootless_setup: tuple[Path, Path], workdir: Path
) -> Runner:
    """The same user with a second home, hence a second, empty store."""
    return _runner(rootless_user, rootless_setup, workdir / "home2")


@pytest.fixture
def no_subids(no_subids_user: User, rootless_setup: tuple[Path, Path], workdir: Path) -> Runner:
    """`pybuild` as a user without subordinate ids."""
    return _runner(no_subids_user, rootless_setup, workdir / "nosubids")
