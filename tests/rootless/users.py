"""Unprivileged users for the rootless tests, and a Python they can run pybuild with.

The tests run as root; rootless pybuild must run as someone else. `ensure_user`
makes a Debian user with `adduser --disabled-password` (once per machine) and
gives it a subordinate id range in /etc/subuid and /etc/subgid, or takes
every range away. The test Python (a pyenv one under /root, or a venv in a
clone under /root) is unreadable for that user, so `user_python` makes a venv
from Debian's /usr/bin/python3 with pybuild's dependencies from PyPI, cached
in /var/cache/pybuild-tests keyed by pyproject.toml, and `copy_sources` puts
pybuild's sources where the user can read them. `Runner` runs the CLI as
the user, with a private HOME and XDG_DATA_HOME (so the default store is
`$XDG_DATA_HOME/pybuild`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pwd
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("PYBUILD_TEST_CACHE", "/var/cache/pybuild-tests"))
SYSTEM_PYTHON = Path("/usr/bin/python3")
SUBID_FILES = (Path("/etc/subuid"), Path("/etc/subgid"))
#: where ranges the tests add start (adduser's own go from 100000 up)
SUBID_BASE = 1_000_000
SUBID_COUNT = 65536


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int


def _subid_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _set_subids(name: str, uid: int, wanted: bool) -> None:
    """Give `name` one range in each subid file (kept when present), or none."""
    with _locked(CACHE / "subid.lock"):
        for path in SUBID_FILES:
            lines = _subid_lines(path)
            mine = [line for line in lines if line.split(":", 1)[0] in (name, str(uid))]
            if wanted and mine:
                continue
            if not wanted:
                if mine:
                    path.write_text("".join(f"{line}\n" for line in lines if line not in mine))
                continue
            ends = [SUBID_BASE]
            for line in lines:
                parts = line.split(":")
                if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                    ends.append(int(parts[1]) + int(parts[2]))
            with path.open("a") as handle:
                handle.write(f"{name}:{max(ends)}:{SUBID_COUNT}\n")


def ensure_user(name: str, *, subids: bool) -> User:
    """The user `name`, made with adduser when missing; with or without subordinate ids."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["adduser", "--disabled-password", "--gecos", "", "--quiet", name],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        entry = pwd.getpwnam(name)
    _set_subids(name, entry.pw_uid, subids)
    return User(name, entry.pw_uid, entry.pw_gid)


def subid_start(user: User, path: Path) -> int:
    for line in _subid_lines(path):
        parts = line.split(":")
        if len(parts) == 3 and parts[0] in (user.name, str(user.uid)):
            return int(parts[1])
    raise AssertionError(f"no range for {user.name} in {path}")


def _dependencies(pyproject: Path) -> list[str]:
    return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])


def user_python(pyproject: Path) -> Path:
    """A venv any user can run, with pybuild's dependencies: its python's path.

    Made from Debian's python3 once per dependency list, built aside and
    renamed into place, so a half-made venv is never used.
    """
    deps = _dependencies(pyproject)
    key = hashlib.sha256("\n".join([*deps, SYSTEM_PYTHON.resolve().name]).encode()).hexdigest()
    venv = CACHE / f"rootless-venv-{key[:16]}"
    python = venv / "bin" / "python"
    with _locked(CACHE / "rootless-venv.lock"):
        if python.exists():
            return python
        partial = CACHE / f"{venv.name}.part"
        shutil.rmtree(partial, ignore_errors=True)
        old_umask = os.umask(0o022)
        try:
            subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", str(partial)], check=True)
            subprocess.run(
                [str(partial / "bin" / "python"), "-m", "pip", "install", "-q",
                 "--disable-pip-version-check", *deps],
                check=True,
            )  # fmt: skip
        finally:
            os.umask(old_umask)
        partial.rename(venv)
    return python


def copy_sources(repo: Path, dest: Path) -> Path:
    """pybuild's package and grammar under `dest`, readable by all: the PYTHONPATH entry."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("builder", "grammar"):
        shutil.copytree(repo / name, dest / name, ignore=ignore)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dest


def shared_dir(path: Path, owner: User | None = None) -> Path:
    """A directory everyone can enter (`owner`'s when given)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    if owner is not None:
        os.chown(path, owner.uid, owner.gid)
    return path


@dataclass(frozen=True)
class Runner:
    """Runs `pybuild ...` as `user`, with the sources at `sources` and home `home`."""

    user: User
    python: Path
    sources: Path
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / "data"),
            "PYTHONPATH": str(self.sources),
            "PYTHONDONTWRITEBYTECODE": "1",
            "LANG": "C.UTF-8",
            **extra,
        }

    def __call__(
        self, *args: str, cwd: Path | None = None, timeout: float = 600, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), "-c", "from builder.cli.main import main; main()", *args],
            cwd=cwd or self.home,
            env=self.env(**env),
            user=self.user.uid,
            group=self.user.gid,
            extra_groups=[],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    @property
    def store(self) -> Path:
        return self.home / "data" / "pybuild"
