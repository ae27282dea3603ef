"""The cached-build fast path (`builder.cli.fastpath`): taken when nothing changed, never stale.

Each build runs `pybuild` the way the console script does (`builder.cli.entry`)
in a real process; the process says at exit whether typer was imported,
which tells the fast path (no typer) from the full build.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.test_image_commands import ok

_ENTRY = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write("
    "'\\n@@' + ('FULL' if 'typer' in sys.modules else 'FAST') + '\\n'))\n"
    "from builder.cli.entry import main\n"
    "main()\n"
)


class Built:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        assert "Traceback" not in proc.stderr, proc.stderr
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        err, _, path = proc.stderr.rpartition("\n@@")
        self.stderr = err
        self.path = path.strip()


class Project:
    """A store with busybox, a context, and `build` that says which path answered."""

    def __init__(self, tmp_path: Path, busybox_rootfs_tar: Path) -> None:
        self.root = tmp_path / "store"
        ok(self.root, "import", str(busybox_rootfs_tar), "busybox:1")
        self.context = tmp_path / "ctx"
        (self.context / "src" / "sub").mkdir(parents=True)
        (self.context / "src" / "a.txt").write_text("alpha\n")
        (self.context / "src" / "sub" / "b.txt").write_text("beta\n")
        (self.context / "Dockerfile").write_text(
            "FROM busybox:1\nARG V=0\nCOPY src /src\nRUN echo $V > /v\nLABEL x=1\n"
        )
        self.env: dict[str, str] = {}
        self.settle()  # out of the racy window: the first build may write its record

    def build(self, *args: str, env: dict[str, str] | None = None) -> Built:
        argv = ["build", *args] if args else ["build", "-t", "app:1", str(self.context)]
        proc = subprocess.run(
            [sys.executable, "-c", _ENTRY, *argv],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYBUILD_ROOT": str(self.root), **self.env, **(env or {})},
        )
        return Built(proc)

    def image_id(self, name: str = "app:1") -> str:
        return ok(self.root, "images", "--no-trunc", "-q", name).strip()

    def records(self) -> list[Path]:
        return sorted((self.root / "cache" / "fastpath").glob("*.json"))

    def settle(self) -> None:
        """Let the racy window pass after a change, so the next build may write its record."""
        time.sleep(0.15)


@pytest.fixture
def project(tmp_path: Path, busybox_rootfs_tar: Path) -> Project:
    return Project(tmp_path, busybox_rootfs_tar)


def _cached(project: Project, *args: str, env: dict[str, str] | None = None) -> Built:
    """Build until the record is there, then once more: that one must be the fast path."""
    first = project.build(*args, env=env)
    assert first.returncode == 0, first.stderr
    again = project.build(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert again.path == "FAST", again.stderr
    return again


def test_cached_build_skips_the_cli_and_prints_what_the_full_build_prints(
    project: Project,
) -> None:
    args = ("-t", "app:1", "--progress", "plain", str(project.context))
    cold = project.build(*args)
    assert cold.returncode == 0 and cold.path == "FULL", cold.stderr
    assert len(project.records()) == 1  # written by the cold build: every step keyed
    os.unlink(project.records()[0])  # the next build is a full one, and fully cached
    full = project.build(*args)
    assert full.path == "FULL" and "CACHED" in full.stderr
    fast = project.build(*args)
    assert fast.returncode == 0 and fast.path == "FAST"
    assert fast.stderr == full.stderr
    assert fast.stdout == full.stdout == ""
    quiet = project.build("-q", "-t", "app:1", "--iidfile", str(project.context.parent / "iid"),
                          str(project.context))  # fmt: skip
    assert quiet.path == "FAST" and quiet.stderr == ""
    assert quiet.stdout == project.image_id() + "\n"
    assert (project.context.parent / "iid").read_text() == project.image_id()
    rawjson = project.build("--progress=rawjson", "-t", "app:1", str(project.context))
    events = [json.loads(line) for line in rawjson.stderr.splitlines() if line.startswith("{")]
    assert rawjson.path == "FAST" and events[0]["type"] == "build_started"
    assert [e["cached"] for e in events if e["type"] == "step_done"] == [False, True, True]


def _changed(
    project: Project,
    before: str | None,
    *args: str,
    env: dict[str, str] | None = None,
) -> str:
    """After a change: the full build runs (and gives an image other than `before`)."""
    built = project.build(*args, env=env)
    assert built.returncode == 0, built.stderr
    assert built.path == "FULL", built.stderr
    name = args[args.index("-t") + 1] if "-t" in args else "app:1"
    after = project.image_id(name)
    assert before is None or after != before
    return after


def test_dockerfile_change(project: Project) -> None:
    _cached(project)
    before = project.image_id()
    dockerfile = project.context / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("x=1", "x=2"))
    _changed(project, before, "-t", "app:1", str(project.context))


def test_file_content_change_with_the_same_size_and_mtime(project: Project) -> None:
    _cached(project)
    before = project.image_id()
    path = project.context / "src" / "sub" / "b.txt"
    st = path.stat()
    path.write_text("BETA\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # only ctime tells
    _changed(project, before, "-t", "app:1", str(project.context))


def test_file_added_removed_and_chmod(project: Project) -> None:
    _cached(project)
    before = project.image_id()
    (project.context / "src" / "sub" / "new.txt").write_text("new\n")
    before = _changed(project, before, "-t", "app:1", str(project.context))
    project.settle()
    _cached(project)
    (project.context / "src" / "a.txt").unlink()
    before = _changed(project, before, "-t", "app:1", str(project.context))
    project.settle()
    _cached(project)
    (project.context / "src" / "sub" / "b.txt").chmod(0o600)
    _changed(project, before, "-t", "app:1", str(project.context))


def test_dockerignore_change(project: Project) -> None:
    _cached(project)
    before = project.image_id()
    (project.context / ".dockerignore").write_text("src/sub\n")
    _changed(project, before, "-t", "app:1", str(project.context))


def test_dockerignore_exceptions_are_never_recorded(project: Project) -> None:
    (project.context / ".dockerignore").write_text("src/sub\n!src/sub/b.txt\n")
    project.settle()
    for _ in range(2):
        built = project.build()
        assert built.returncode == 0 and built.path == "FULL", built.stderr
    assert project.records() == []


def test_build_args_target_label_platform(project: Project) -> None:
    ctx = str(project.context)
    _cached(project, "-t", "app:1", "--build-arg", "V=1", ctx)
    before = project.image_id()
    before = _changed(project, before, "-t", "app:1", "--build-arg", "V=2", ctx)
    # a bare --build-arg takes its value from the environment
    _cached(project, "-t", "app:1", "--build-arg", "V", ctx, env={"V": "3"})
    before = project.image_id()
    before = _changed(project, before, "-t", "app:1", "--build-arg", "V", ctx, env={"V": "4"})
    _cached(project, "-t", "app:1", "--label", "k=1", ctx)
    before = project.image_id()
    before = _changed(project, before, "-t", "app:1", "--label", "k=2", ctx)
    dockerfile = project.context / "Dockerfile"
    dockerfile.write_text(
        "FROM busybox:1 AS one\nRUN echo 1 > /n\nFROM one AS two\nRUN echo 2 > /n\n"
    )
    project.settle()
    _cached(project, "-t", "app:1", "--target", "two", ctx)
    _changed(project, project.image_id(), "-t", "app:1", "--target", "one", ctx)


def test_environment_that_builds_read(project: Project) -> None:
    _cached(project, env={"SOURCE_DATE_EPOCH": "100"})
    # the steps are cached, so the image is the same: but only the full build may say so
    _changed(project, None, "-t", "app:1", str(project.context), env={"SOURCE_DATE_EPOCH": "200"})
    _changed(project, None, "-t", "app:1", str(project.context), env={"BUILDKIT_X": "1"})
    _changed(project, None, "-t", "app:1", str(project.context), env={"https_proxy": "x:1"})


def test_base_image_moved(project: Project, busybox_rootfs_tar: Path) -> None:
    _cached(project)
    before = project.image_id()
    ok(project.root, "import", str(busybox_rootfs_tar), "busybox:1", "-m", "another one")
    _changed(project, before, "-t", "app:1", str(project.context))


def test_a_multi_platform_name_in_the_store(project: Project, busybox_rootfs_tar: Path) -> None:
    """A store that names an index (index.json version 2) keeps the fast path; a base
    name that becomes an index (a platform added to it) falls through."""
    tar = str(busybox_rootfs_tar)
    ok(project.root, "import", "--platform", "linux/amd64", tar, "multi:1")
    ok(project.root, "import", "--platform", "linux/arm64", tar, "multi:1")
    assert json.loads((project.root / "index.json").read_text())["version"] == 2
    _cached(project)
    before = project.image_id()
    ok(project.root, "import", "--platform", "linux/arm64", tar, "busybox:1")
    built = project.build()
    assert built.returncode == 0 and built.path == "FULL", built.stderr
    assert project.image_id() == before  # busybox:1's amd64 image is the same one


def test_outputs_not_satisfied(project: Project) -> None:
    _cached(project)
    image = project.image_id()
    ok(project.root, "tag", "busybox:1", "app:1")  # the tag points elsewhere now
    built = project.build()
    assert built.path == "FULL" and project.image_id() == image
    project.settle()
    _cached(project)
    ok(project.root, "rmi", "app:1")
    built = project.build()
    assert built.path == "FULL" and project.image_id() == image


def test_other_options_fall_through(project: Project) -> None:
    _cached(project)
    ctx = str(project.context)
    for args in (
        ["--no-cache", "-t", "app:1", ctx],
        ["-t", "app:1", "--network", "none", ctx],
        ["-qt", "app:1", ctx],
        ["-t", "app:1", "-f", "-", ctx],
        ["--platform", "linux/amd64,linux/arm64", "-t", "app:1", ctx],
    ):
        built = project.build(*args)
        assert built.path == "FULL", args


def test_a_file_changed_just_before_the_build_is_not_recorded(project: Project) -> None:
    """A stat taken in the same clock tick as a change proves nothing (git's racy clean)."""
    soon = time.time() + 60  # as if changed while the build started
    os.utime(project.context / "src" / "a.txt", (soon, soon))
    built = project.build()
    assert built.returncode == 0 and built.path == "FULL"
    assert project.records() == []


def test_secret_mounts_are_never_recorded(project: Project) -> None:
    (project.context / "Dockerfile").write_text(
        "FROM busybox:1\nRUN --mount=type=secret,id=s,required=false cat /run/secrets/s || true\n"
    )
    project.settle()
    for _ in range(2):
        built = project.build()
        assert built.returncode == 0 and built.path == "FULL", built.stderr
    assert project.records() == []


@pytest.mark.parametrize(
    "env",
    [{"PYBUILD_ROOT": "/x/y"}, {"XDG_DATA_HOME": "/d"}, {}],
)
def test_store_root_is_the_default_root(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from builder.cli.fastpath import store_root
    from builder.store.paths import default_root

    monkeypatch.delenv("PYBUILD_ROOT", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert store_root(os.environ) == str(default_root())
