"""The wheel must hold every package and the grammar: `pip install .` is how users get pybuild."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO, in_ci


def test_every_package_is_listed_in_pyproject() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "builder").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages"
    assert config["package-dir"]["builder._grammar"] == "grammar"
    assert (REPO / "grammar" / "dockerfile.lark").is_file()


SYSTEM_PYTHON = Path("/usr/bin/python3")


def _externally_managed(python: Path) -> bool:
    code = (
        "import os, sys, sysconfig; sys.exit(not os.path.isfile("
        "os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')))"
    )
    return python.is_file() and subprocess.run([str(python), "-c", code]).returncode == 0


def test_readme_install_works_with_an_externally_managed_python(tmp_path: Path) -> None:
    """The README's first command installs pybuild with Debian's own python3
    (PEP 668: pip refuses to install into it) by making a venv of its own."""
    if not _externally_managed(SYSTEM_PYTHON):
        reason = "no externally managed /usr/bin/python3 here (Debian 12 has one)"
        if in_ci():
            pytest.fail(f"{reason}: CI runs on Debian 12, where this test must run")
        pytest.skip(reason)
    venv, bindir = tmp_path / "venv", tmp_path / "bin"
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",  # python3 is /usr/bin/python3
        "HOME": str(tmp_path),
        "PYBUILD_VENV": str(venv),
        "PYBUILD_BIN_DIR": str(bindir),
    }
    script = REPO / "fixtures" / "sshd" / "build.sh"
    done = subprocess.run(
        ["sh", str(script), "--install-only"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert f"linked as {bindir}/pybuild" in done.stderr
    assert (bindir / "pybuild").resolve() == (venv / "bin" / "pybuild").resolve()
    version = subprocess.run(
        [str(bindir / "pybuild"), "--version"], env=env, capture_output=True, text=True
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip()
