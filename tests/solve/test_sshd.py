"""The seed course's sshd image (fixtures/sshd) builds on a Debian base made with debootstrap.

The base is fixtures/base-images/debian.sh's tarball, made once per machine
and kept in the test cache ($PYBUILD_TEST_CACHE, default
/var/cache/pybuild-tests); `apt-get install` in the build reaches
deb.debian.org from the RUN steps' own network (slirp4netns), as `docker build`
does from its default one.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from builder.export.rootfs_import import import_rootfs
from builder.store import Store
from tests.conftest import FIXTURES, require_tool
from tests.solve.building import flatten, run_build

CACHE = Path(os.environ.get("PYBUILD_TEST_CACHE", "/var/cache/pybuild-tests"))


@pytest.fixture(scope="session")
def debian_rootfs_tar() -> Path:
    """Debian bookworm minbase (fixtures/base-images/debian.sh), made once per machine."""
    require_tool("debootstrap")
    tarball = CACHE / "debian-bookworm.tar"
    if not tarball.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = tarball.with_suffix(".part")
        result = subprocess.run(
            ["sh", str(FIXTURES / "base-images" / "debian.sh"), str(partial)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            pytest.fail(f"debian.sh failed:\n{result.stderr[-3000:]}")
        partial.rename(tarball)
    return tarball


def test_sshd_image(tmp_path: Path, debian_rootfs_tar: Path) -> None:
    store = Store.open(tmp_path / "store")
    import_rootfs(store, debian_rootfs_tar, "debian:bookworm-slim")
    result = run_build(store, FIXTURES / "sshd", tags=["sshd"])
    config = result.config
    assert config.config.user == "lambda"
    assert config.config.cmd == ["/usr/sbin/sshd", "-D"]
    assert config.config.labels["org.opencontainers.image.title"] == "sshd"
    assert "DEBIAN_FRONTEND=noninteractive" in config.config.env
    assert result.record.names == ("docker.io/library/sshd:latest",)
    root = flatten(store, result.record, tmp_path / "root")
    sshd = (root / "usr/sbin/sshd").stat()
    assert sshd.st_mode & stat.S_ISUID and sshd.st_uid == 0
    passwd = (root / "etc/passwd").read_text()
    assert any(line.startswith("lambda:") for line in passwd.splitlines())
    assert (root / "home/lambda").is_dir()
    assert not list((root / "var/lib/apt/lists").glob("*_Packages"))
    # the chmod step's layer holds sshd alone (and the dirs leading to it)
    created_by = [h.created_by for h in config.history if not h.empty_layer]
    assert created_by[-1] == "RUN /bin/sh -c chmod u+s /usr/sbin/sshd # buildkit"


def test_readme_main_job(tmp_path: Path, debian_rootfs_tar: Path) -> None:
    """The README's first command: fixtures/sshd/build.sh builds sshd and shows its history."""
    readme = (FIXTURES.parent / "README.md").read_text()
    first_block = readme.split("```sh\n", 2)[1].split("```", 1)[0].strip()
    assert first_block == "sh fixtures/sshd/build.sh"
    # build.sh installs pybuild into the `python3` first on PATH: give it a venv of
    # its own (seeing this one's packages), so the test session's install is untouched
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "PYBUILD_ROOT": str(tmp_path / "store"),
        "PYBUILD_BASE_CACHE": str(debian_rootfs_tar.parent),
    }
    result = subprocess.run(
        ["sh", str(FIXTURES / "sshd" / "build.sh")],
        capture_output=True, text=True, env=env, check=False, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    history = result.stdout.splitlines()
    assert history[0].split()[:3] == ["IMAGE", "CREATED", "CREATED"]
    assert 'CMD ["/usr/sbin/sshd" "-D"]' in history[1]
    assert "RUN /bin/sh -c chmod u+s /usr/sbin/sshd" in result.stdout
    assert "naming to docker.io/library/sshd:latest done" in result.stderr


def test_sshd_rebuilds_like_the_course_shows(tmp_path: Path, debian_rootfs_tar: Path) -> None:
    """A second build is all CACHED; editing the chmod line re-runs only that step."""
    import shutil

    from builder.solve.progress import StepDone, StepStarted

    store = Store.open(tmp_path / "store")
    import_rootfs(store, debian_rootfs_tar, "debian:bookworm-slim")
    context = tmp_path / "sshd"
    shutil.copytree(FIXTURES / "sshd", context)
    run_build(store, context, tags=["sshd"])

    def statuses() -> dict[str, bool]:
        events: list = []
        run_build(store, context, tags=["sshd"], events=events)
        names = {e.vertex: e.name for e in events if isinstance(e, StepStarted)}
        return {names[e.vertex]: e.cached for e in events if isinstance(e, StepDone)
                if "FROM" not in names[e.vertex]}  # fmt: skip

    assert all(statuses().values())
    dockerfile = context / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("chmod u+s", "chmod 4755"))
    after_edit = statuses()
    assert [cached for _, cached in sorted(after_edit.items())] == [True, True, False]
    assert any("chmod 4755" in name for name, cached in after_edit.items() if not cached)
