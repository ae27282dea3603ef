"""`pybuild bake` building for real: runc, overlayfs, one store, targets in parallel.

The shared first stage of three compose services runs once (the cache
key's step lock makes the other builds wait and reuse it), a failing
target stops the others, and the progress shows which target each step
belongs to.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from builder.export.rootfs_import import import_rootfs
from builder.store import Store
from tests.bake.printing import run_bake, write_files
from tests.conftest import FIXTURES
from tests.runtime.test_container import host_processes_running
from tests.solve.building import CREATED, busybox_store, flatten

SHARED = "RUN echo shared-stage-ran && sleep 1 && echo base > /base.txt"


@pytest.fixture
def root(tmp_path: Path, busybox_rootfs_tar: Path) -> Path:
    root = tmp_path / "store"
    busybox_store(root, busybox_rootfs_tar)
    return root


def _events(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def _three_services(directory: Path) -> Path:
    files = {
        "compose.yaml": """
            services:
              api:
                build: ./api
                image: bake3/api:1
              web:
                build:
                  context: web
                image: bake3/web:1
              worker:
                build:
                  context: worker
                  args:
                    - ROLE=worker
                image: bake3/worker:1
              db:
                image: postgres
        """
    }
    for service in ("api", "web", "worker"):
        files[f"{service}/Dockerfile"] = f"""
            FROM busybox AS base
            {SHARED}

            FROM base
            ARG ROLE={service}
            RUN echo "$ROLE" > /name.txt
            CMD ["cat", "/name.txt"]
        """
    return write_files(directory, files)


def test_shared_first_stage_runs_once(tmp_path: Path, root: Path) -> None:
    """The issue's "done when": three services, one `pybuild bake`, the shared RUN once."""
    project = _three_services(tmp_path / "project")
    proc = run_bake(project, "--progress", "rawjson", root=root)
    assert proc.returncode == 0, proc.stderr
    events = _events(proc.stderr)
    steps = [e for e in events if e["type"] != "build_started"]
    assert steps and all(e["target"] in ("api", "web", "worker") for e in steps)
    shared = {
        (e["target"], e["vertex"])
        for e in steps
        if e["type"] == "step_started" and SHARED in e["name"]
    }
    assert {target for target, _ in shared} == {"api", "web", "worker"}
    done = [e for e in steps if e["type"] == "step_done" and (e["target"], e["vertex"]) in shared]
    assert sorted(e["cached"] for e in done) == [False, True, True]  # ran once, reused twice
    outputs = [e for e in steps if e["type"] == "step_output" and "shared-stage-ran" in e["data"]]
    assert len(outputs) == 1
    store = Store.open(root)
    names = {}
    for service, role in (("api", "api"), ("web", "web"), ("worker", "worker")):
        record = store.find(f"bake3/{service}:1")
        assert record is not None, f"bake3/{service}:1 was not built"
        rootfs = flatten(store, record, tmp_path / f"rootfs-{service}")
        names[service] = (rootfs / "name.txt").read_text()
        assert (rootfs / "base.txt").read_text() == "base\n"
        assert names[service] == f"{role}\n"
    again = run_bake(project, "--progress", "rawjson", root=root)
    assert again.returncode == 0, again.stderr
    events = _events(again.stderr)
    runs = {
        (e["target"], e["vertex"]) for e in events if e.get("name", "").split("] ")[-1][:3] == "RUN"
    }
    rebuilt = [e for e in events if e["type"] == "step_done" and (e["target"], e["vertex"]) in runs]
    assert len(rebuilt) == 6 and all(e["cached"] for e in rebuilt)
    # --no-cache runs every step again, but a step the targets share still runs once
    fresh = run_bake(project, "--progress", "rawjson", "--no-cache", root=root)
    assert fresh.returncode == 0, fresh.stderr
    events = _events(fresh.stderr)
    ran = [e for e in events if e["type"] == "step_output" and "shared-stage-ran" in e["data"]]
    assert len(ran) == 1
    runs = {(e["target"], e["vertex"]): e["name"] for e in events if e["type"] == "step_started"}
    done = {(e["target"], e["vertex"]): e["cached"] for e in events if e["type"] == "step_done"}
    own = [done[k] for k, name in runs.items() if "> /name.txt" in name]
    assert own == [False, False, False]


def test_plain_progress_names_the_target(tmp_path: Path, root: Path) -> None:
    project = write_files(
        tmp_path / "project",
        {
            "docker-bake.hcl": """
                variable "GREETING" { default = "hello" }
                target "app" {
                  name = "app-${flavour}"
                  matrix = { flavour = ["plain", "fancy"] }
                  dockerfile-inline = "FROM busybox\\nARG FLAVOUR\\nRUN echo ${GREETING} $FLAVOUR > /out\\n"
                  args = { FLAVOUR = flavour }
                  tags = ["bake/app:${flavour}"]
                }
            """
        },
    )
    metadata = tmp_path / "metadata.json"
    proc = run_bake(
        project, "app", "--progress", "plain", "--metadata-file", str(metadata),
        root=root, env={"GREETING": "hi"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    document = json.loads(metadata.read_text())
    assert sorted(document) == ["app-fancy", "app-plain"]
    assert document["app-plain"]["image.name"] == "docker.io/bake/app:plain"
    assert "[app-plain 2/2] RUN echo hi $FLAVOUR > /out" in proc.stderr
    assert "[app-fancy 2/2] RUN echo hi $FLAVOUR > /out" in proc.stderr
    assert "app-fancy: naming to docker.io/bake/app:fancy done" in proc.stderr
    store = Store.open(root)
    for flavour in ("plain", "fancy"):
        record = store.find(f"bake/app:{flavour}")
        assert record is not None
        rootfs = flatten(store, record, tmp_path / flavour)
        assert (rootfs / "out").read_text() == f"hi {flavour}\n"


def test_a_failing_target_stops_the_others(tmp_path: Path, root: Path) -> None:
    project = write_files(
        tmp_path / "project",
        {
            "docker-bake.hcl": """
                group "default" { targets = ["bad", "slow"] }
                target "bad" {
                  dockerfile-inline = "FROM busybox\\nRUN sleep 1 && echo boom && exit 3\\n"
                }
                target "slow" {
                  dockerfile-inline = "FROM busybox\\nRUN sleep 27\\n"
                }
            """
        },
    )
    started = time.monotonic()
    proc = run_bake(project, "--progress", "plain", root=root, timeout=120)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    assert elapsed < 20, f"the slow target was not stopped ({elapsed:.1f}s)"
    assert "target 'bad' failed" in proc.stderr
    assert "RUN sleep 1 && echo boom && exit 3" in proc.stderr
    assert "exit code: 3" in proc.stderr
    assert "[slow 2/2] RUN sleep 27" in proc.stderr
    slow_vertex = next(
        line.split()[0]
        for line in proc.stderr.splitlines()
        if line.endswith("[slow 2/2] RUN sleep 27")
    )
    assert f"{slow_vertex} CANCELED" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert host_processes_running("sleep", "27") == []


def test_awesome_compose_proxy_builds(tmp_path: Path, root: Path, busybox_rootfs_tar: Path) -> None:
    """nginx-flask-mysql's proxy service, its FROM image played by the busybox fixture."""
    import_rootfs(Store.open(root), busybox_rootfs_tar, "nginx:1.13-alpine", created=CREATED)
    project = Path(
        shutil.copytree(FIXTURES / "awesome-compose" / "nginx-flask-mysql", tmp_path / "p")
    )
    proc = run_bake(
        project, "proxy", "--set", "proxy.tags=awesome/proxy:test", "--progress", "plain", root=root
    )
    assert proc.returncode == 0, proc.stderr
    store = Store.open(root)
    record = store.find("awesome/proxy:test")
    assert record is not None
    rootfs = flatten(store, record, tmp_path / "rootfs")
    conf = (rootfs / "etc/nginx/conf.d/default.conf").read_text()
    assert conf == (project / "proxy" / "conf").read_text()


def test_a_target_as_another_targets_context(tmp_path: Path, root: Path) -> None:
    """bake-reference.md, "Use another target as base": `contexts = { baseapp = "target:base" }`."""
    project = write_files(
        tmp_path / "project",
        {
            "docker-bake.hcl": """
                target "base" {
                  dockerfile-inline = "FROM busybox\\nRUN echo from-base > /base.txt\\n"
                }
                target "app" {
                  contexts = { baseapp = "target:base" }
                  dockerfile-inline = "FROM baseapp\\nRUN cat /base.txt > /app.txt\\n"
                  tags = ["bake/linked:1"]
                }
            """
        },
    )
    printed = run_bake(project, "app", "--print", root=root)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["target"]["base"]["output"] == [{"type": "cacheonly"}]
    proc = run_bake(project, "app", "--progress", "plain", root=root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.index("[base 2/2] RUN") < proc.stderr.index("[app 2/2] RUN")
    store = Store.open(root)
    record = store.find("bake/linked:1")
    assert record is not None
    assert (flatten(store, record, tmp_path / "rootfs") / "app.txt").read_text() == "from-base\n"


def test_sigint_cancels_every_target(tmp_path: Path, root: Path) -> None:
    import os
    import signal
    import subprocess

    from tests.cli.test_image_commands import PYBUILD
    from tests.conftest import REPO

    project = write_files(
        tmp_path / "project",
        {
            "docker-bake.hcl": """
                group "default" { targets = ["a", "b"] }
                target "a" { dockerfile-inline = "FROM busybox\\nRUN sleep 27\\n" }
                target "b" { dockerfile-inline = "FROM busybox\\nRUN sleep 26\\n" }
            """
        },
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYBUILD_ROOT": str(root)}
    process = subprocess.Popen(
        [*PYBUILD, "bake", "--progress", "plain"], cwd=project, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (host_processes_running("sleep", "27") and host_processes_running("sleep", "26")):
        assert time.monotonic() < deadline, "the builds did not start"
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert stderr.count("CANCELED") == 2
    assert "ERROR: build canceled" in stderr
    assert host_processes_running("sleep", "27") == host_processes_running("sleep", "26") == []


def test_a_git_context(tmp_path: Path, root: Path) -> None:
    """A target whose context is a git repository: fetched, its subdir the context."""
    import subprocess

    from tests.git_daemon import serve_git

    base = tmp_path / "git"
    work = base / "work"
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "app.Dockerfile").write_text("FROM busybox\nCOPY msg /msg\n")
    (work / "sub" / "msg").write_text("from git\n")
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.email=t@e", "-c", "user.name=t", "commit", "-q", "-m", "one"]):  # fmt: skip
        subprocess.run(["git", *argv], cwd=work, check=True, capture_output=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), "repo.git"], cwd=base, check=True)
    with serve_git(base) as server:
        hcl = (
            f'target "fromgit" {{\n  context = "{server}/repo.git#main:sub"\n'
            '  dockerfile = "app.Dockerfile"\n  tags = ["bake/git:1"]\n}\n'
        )
        project = write_files(tmp_path / "project", {"docker-bake.hcl": hcl})
        proc = run_bake(project, "fromgit", "--progress", "plain", root=root)
    assert proc.returncode == 0, proc.stderr
    store = Store.open(root)
    record = store.find("bake/git:1")
    assert record is not None
    assert (flatten(store, record, tmp_path / "rootfs") / "msg").read_text() == "from git\n"


def test_entitlements_must_be_granted(tmp_path: Path, root: Path) -> None:
    """A bake file asking for security.insecure gets it only with --allow (as buildx asks)."""
    project = write_files(
        tmp_path / "project",
        {
            "docker-bake.hcl": """
                target "privileged" {
                  entitlements = ["security.insecure"]
                  dockerfile-inline = "FROM busybox\\nRUN --security=insecure cat /proc/self/status | grep CapEff > /caps\\n"
                  tags = ["bake/privileged:1"]
                }
            """
        },
    )
    refused = run_bake(project, "privileged", root=root)
    assert refused.returncode == 2
    assert "requires the entitlement security.insecure, which was not granted" in refused.stderr
    assert Store.open(root).find("bake/privileged:1") is None
    granted = run_bake(project, "privileged", "--allow", "security.insecure", root=root)
    assert granted.returncode == 0, granted.stderr
    store = Store.open(root)
    record = store.find("bake/privileged:1")
    assert record is not None
    caps = (flatten(store, record, tmp_path / "rootfs") / "caps").read_text()
    assert int(caps.split()[-1], 16) > 0xA80425FB  # more than Docker's default capabilities


def test_network_host_must_be_granted(tmp_path: Path, root: Path) -> None:
    """`network = "host"` asks for network.host: refused without --allow, as buildx asks."""
    project = write_files(
        tmp_path / "project",
        {
            "docker-bake.hcl": """
                target "hostnet" {
                  network = "host"
                  dockerfile-inline = "FROM busybox\\nRUN ls /sys/class/net > /nets\\n"
                  tags = ["bake/hostnet:1"]
                }
            """
        },
    )
    refused = run_bake(project, "hostnet", root=root)
    assert refused.returncode == 2
    assert "requires the entitlement network.host, which was not granted" in refused.stderr
    granted = run_bake(project, "hostnet", "--allow", "network.host", root=root)
    assert granted.returncode == 0, granted.stderr
    store = Store.open(root)
    record = store.find("bake/hostnet:1")
    assert record is not None
    nets = (flatten(store, record, tmp_path / "rootfs") / "nets").read_text().split()
    assert set(nets) == {p.name for p in Path("/sys/class/net").iterdir()}  # the host's


def test_attest_entries_attach_attestations(tmp_path: Path, root: Path) -> None:
    project = write_files(
        tmp_path / "project",
        {
            "docker-bake.hcl": """
                target "attested" {
                  attest = ["type=sbom", "type=provenance,mode=max"]
                  dockerfile-inline = "FROM busybox\\nRUN echo hi > /hi\\n"
                  tags = ["bake/attested:1"]
                }
            """
        },
    )
    built = run_bake(project, "attested", root=root)
    assert built.returncode == 0, built.stderr
    record = Store.open(root).find("bake/attested:1")
    assert record is not None and record.attestations is not None
