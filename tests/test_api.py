"""`builder.build` from Python: docs/api.md's example, results, threads, cancelling, errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import builder
from builder.api import BuildRequest, BuildResult, lint_config
from builder.errors import BuildCancelled, BuildError, ParseError, PybuildError, UsageError
from builder.solve.progress import Event, StepStarted
from builder.store import Store
from tests.conftest import FIXTURES, REPO
from tests.runtime.test_container import host_processes_running
from tests.solve.building import busybox_store, flatten, write_context
from tests.solve.test_sshd import debian_rootfs_tar  # noqa: F401  (a fixture)

MULTI_STAGE = """
    FROM busybox AS build
    COPY hello.txt /src/
    RUN tr a-z A-Z < /src/hello.txt > /shout

    FROM busybox
    COPY --from=build /shout /shout
    CMD ["cat", "/shout"]
"""


@pytest.fixture
def store(tmp_path: Path, busybox_rootfs_tar: Path) -> Store:
    return busybox_store(tmp_path / "store", busybox_rootfs_tar)


def test_the_docs_example_runs(tmp_path: Path, busybox_rootfs_tar: Path) -> None:
    """docs/api.md's python block, run as a script against a store holding busybox."""
    text = (REPO / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "docs/api.md has one example script"
    script = tmp_path / "example.py"
    script.write_text(blocks[0])
    root = busybox_store(tmp_path / "store", busybox_rootfs_tar).root
    env = {**os.environ, "PYBUILD_ROOT": str(root), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "naming to docker.io/library/hello:1 done" in proc.stdout
    assert "platforms: linux/" in proc.stdout
    assert "hello:hello: 0 steps ran, 2 from the cache" in proc.stdout
    assert "cancelled: " in proc.stdout
    assert "UsageError --network 'bridge': expected default, none or host" in proc.stdout
    assert "#4 [stage-1 2/2] COPY --from=build /greeting /greeting" in proc.stderr


def test_a_multi_stage_build_and_its_result(tmp_path: Path, store: Store) -> None:
    context = write_context(tmp_path / "ctx", MULTI_STAGE, {"hello.txt": "hello\n"})
    events: list[Event] = []
    result = builder.build(
        builder.BuildRequest(context, tags=["app:1"], progress=events.append), store=store
    )
    assert isinstance(result, builder.BuildResult)
    assert result.store is store
    assert result.image_id == result.record.id == store.resolve("app:1").id
    assert result.manifest_digest == result.record.manifest_digest
    assert result.tags == ["docker.io/library/app:1"]
    assert result.record.names == ("docker.io/library/app:1",)
    assert list(result.platforms.values()) == [result.record]
    assert list(result.platforms) == [f"{result.config.os}/{result.config.architecture}"]
    assert result.config.config.cmd == ["cat", "/shout"]
    assert result.exported == [
        f"writing image {result.image_id}",
        "naming to docker.io/library/app:1",
    ]
    assert result.metadata["containerimage.config.digest"] == result.image_id
    assert result.metadata["image.name"] == "docker.io/library/app:1"
    assert [o.type for o in result.outputs] == ["image"]
    assert result.warnings == []
    assert any(u.in_target for u in result.used)
    assert any("COPY --from=build" in e.name for e in events if isinstance(e, StepStarted))
    root = flatten(store, result.record, tmp_path / "root")
    assert (root / "shout").read_text() == "HELLO\n"
    assert not (root / "src").exists()


def test_dockerfile_bytes_and_the_default_store(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `store=`, the store is $PYBUILD_ROOT's; bytes are shown under their name."""
    monkeypatch.setenv("PYBUILD_ROOT", str(store.root))
    context = tmp_path / "ctx"
    context.mkdir()
    result = builder.build(BuildRequest(context, dockerfile=b"FROM busybox\nRUN true\n"))
    assert result.store.root == store.root
    assert store.find(result.image_id) is not None
    with pytest.raises(BuildError) as failed:
        builder.build(BuildRequest(context, dockerfile=b"FROM busybox\nRUN exit 3\n"))
    assert str(failed.value.location) == "Dockerfile:2"
    with pytest.raises(BuildError) as failed:
        builder.build(
            BuildRequest(context, dockerfile=b"FROM busybox\nRUN exit 3\n", dockerfile_name="X")
        )
    assert str(failed.value.location) == "X:2"


def test_two_builds_at_once_in_one_store(tmp_path: Path, store: Store) -> None:
    def one(name: str) -> BuildResult:
        context = write_context(
            tmp_path / name,
            f"FROM busybox\nRUN sleep 1 && echo {name} > /name\nCOPY . /ctx\n",
            {"file.txt": name},
        )
        return builder.build(BuildRequest(context, tags=[f"{name}:1"]), store=store)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(one, ["first", "second"])
    assert time.monotonic() - started < 10
    assert first.image_id != second.image_id
    assert store.resolve("first:1").id == first.image_id
    assert store.resolve("second:1").id == second.image_id
    for result, name in ((first, "first"), (second, "second")):
        root = flatten(store, result.record, tmp_path / f"root-{name}")
        assert (root / "name").read_text() == f"{name}\n"
        assert (root / "ctx" / "file.txt").read_text() == name


def test_a_cancelled_build_stops_and_leaves_nothing_running(tmp_path: Path, store: Store) -> None:
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN sleep 37\n")
    cancel = threading.Event()
    running = threading.Event()
    cancelled_at: list[float] = []

    def progress(event: Event) -> None:
        if isinstance(event, StepStarted) and "sleep 37" in event.name:
            running.set()

    def cancel_when_running() -> None:
        running.wait(30)
        time.sleep(0.5)  # the container is up and `sleep` runs
        cancelled_at.append(time.monotonic())
        cancel.set()

    threading.Thread(target=cancel_when_running, daemon=True).start()
    request = BuildRequest(context, progress=progress, cancel=cancel)
    with pytest.raises(BuildCancelled):
        builder.build(request, store=store)
    assert running.is_set() and cancelled_at
    assert time.monotonic() - cancelled_at[0] < 5
    assert host_processes_running("sleep", "37") == []
    assert [p.name for p in (store.root / "tmp").iterdir()] == []


def test_a_build_cancelled_before_it_starts(tmp_path: Path, store: Store) -> None:
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN true\n")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(BuildCancelled, match="canceled"):
        builder.build(BuildRequest(context, cancel=cancel), store=store)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (
            {"platforms": ["linux/amd64,linux/bogus/x/y"]},
            UsageError,
            "--platform",
        ),
        (
            {"platforms": ["linux/amd64", "linux/arm64"], "outputs": ["type=docker,dest=x.tar"]},
            UsageError,
            "does not support exporting manifest lists",
        ),
        ({"network": "bridge"}, UsageError, "--network 'bridge': expected default, none or host"),
        ({"network": "host"}, UsageError, "--network host needs the network.host entitlement"),
        ({"allow": ["network.nope"]}, UsageError, "--allow 'network.nope': unknown entitlement"),
        (
            {"allow": ["security.insecure,device"]},
            UsageError,
            "--allow 'device': unknown entitlement",
        ),
        ({"tags": ["Bad Tag"]}, UsageError, "Bad Tag"),
        ({"outputs": ["type=nope"]}, UsageError, "nope"),
        ({"cache_from": ["type=nope"]}, UsageError, "nope"),
        ({"jobs": -1}, UsageError, "--jobs must be 0"),
        ({"labels": {"": "x"}}, UsageError, "invalid --label '=x'"),
        ({"dockerfile": Path("missing")}, UsageError, "cannot read Dockerfile 'missing'"),
        ({"dockerfile": b"FROM busybox\nFROB x\n"}, ParseError, "FROB"),
        ({"dockerfile": b"FROM 127.0.0.1:9/none:1\n"}, BuildError, "pybuild import"),
    ],
)
def test_bad_input_is_a_typed_error(
    tmp_path: Path, store: Store, options: dict[str, object], error: type, message: str
) -> None:
    context = write_context(tmp_path / "ctx", "FROM busybox\n")
    request = BuildRequest(context, **options)  # type: ignore[arg-type]
    with pytest.raises(error) as raised:
        builder.build(request, store=store)
    assert isinstance(raised.value, PybuildError)
    assert message in raised.value.render()


def test_the_sshd_fixture_builds_through_the_api(
    tmp_path: Path,
    debian_rootfs_tar: Path,  # noqa: F811
) -> None:
    from builder.export.rootfs_import import import_rootfs

    store = Store.open(tmp_path / "store")
    import_rootfs(store, debian_rootfs_tar, "debian:bookworm-slim")
    result = builder.build(BuildRequest(FIXTURES / "sshd", tags=["sshd"]), store=store)
    assert result.config.config.user == "lambda"
    assert result.config.config.cmd == ["/usr/sbin/sshd", "-D"]
    assert result.tags == ["docker.io/library/sshd:latest"]
    assert store.resolve("sshd").id == result.image_id


def test_lint_dockerfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .hadolint.yaml here
    config = lint_config(store_root=tmp_path / "no-store")
    result = builder.lint_dockerfile(b"FROM debian\nRUN apt-get install curl\n", config)
    codes = {(f.code, f.line) for f in result.findings}
    assert {("DL3006", 1), ("DL3008", 2)} <= codes
    assert result.exit_code == 1
    (tmp_path / "Dockerfile").write_text("FROM debian:12\n")
    assert builder.lint_dockerfile(tmp_path / "Dockerfile", config).findings == []


def test_import_builder_leaves_the_solver_alone() -> None:
    code = (
        "import sys, builder; builder.BuildRequest; builder.build; "
        "print(sorted(m for m in sys.modules if m.startswith(('builder.solve', 'builder.lint'))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    assert proc.stdout == "[]\n"
