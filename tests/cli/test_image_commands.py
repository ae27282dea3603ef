"""The image commands as a user runs them: real processes, a real registry, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.registry_server import RegistryServer, start_registry

PYBUILD = [sys.executable, "-m", "builder.cli.main"]


def run(
    root: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    raw = subprocess.run(
        [*PYBUILD, *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, "PYBUILD_ROOT": str(root), "COLUMNS": "200", **(env or {})},
        timeout=120,
    )
    proc = subprocess.CompletedProcess(
        raw.args, raw.returncode, raw.stdout.decode(), raw.stderr.decode()
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def ok(root: Path, *args: str, **kw: object) -> str:
    proc = run(root, *args, **kw)  # type: ignore[arg-type]
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def imported(root: Path, busybox_rootfs_tar: Path) -> str:
    """busybox imported as `busybox:1`; returns the image ID."""
    out = ok(root, "import", str(busybox_rootfs_tar), "busybox:1", "-m", "from the test")
    image_id = out.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    return image_id


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    with start_registry(tmp_path_factory.mktemp("cli-registry")) as server:
        yield server


def test_images_history_inspect_after_import(root: Path, imported: str) -> None:
    lines = ok(root, "images").splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert lines[1].split()[:3] == ["busybox", "1", imported[7:19]]
    assert ok(root, "images", "-q") == imported[7:19] + "\n"
    assert ok(root, "images", "--no-trunc", "-q") == imported + "\n"
    row = json.loads(ok(root, "images", "--format", "json"))
    assert (row["Repository"], row["Tag"], row["ID"]) == ("busybox", "1", imported[7:19])
    assert ok(root, "images", "--format", "{{.Repository}}:{{.Tag}}") == "busybox:1\n"
    assert ok(root, "images", "nothing-like-it").split() == lines[0].split()

    history = ok(root, "history", "busybox:1").splitlines()
    assert history[0].split()[:2] == ["IMAGE", "CREATED"]
    assert history[1].startswith(imported[7:19])
    assert "pybuild import" in history[1] and "from the test" in history[1]

    (doc,) = json.loads(ok(root, "inspect", "busybox:1"))
    assert doc["Id"] == imported
    assert doc["RepoTags"] == ["busybox:1"]
    assert doc["Os"] == "linux" and len(doc["RootFS"]["Layers"]) == 1
    assert ok(root, "inspect", "-f", "{{.Id}}", imported[7:15]) == imported + "\n"


def test_tag_rmi_and_prune(root: Path, imported: str) -> None:
    ok(root, "tag", "busybox:1", "example.com/team/box:2")
    names = ok(root, "images", "--format", "{{.Repository}}:{{.Tag}}").split()
    assert sorted(names) == ["busybox:1", "example.com/team/box:2"]
    proc = run(root, "rmi", imported)
    assert proc.returncode == 1
    assert "(must be forced) - image is referenced in multiple repositories" in proc.stderr
    assert ok(root, "rmi", "busybox:1") == "Untagged: busybox:1\n"
    out = ok(root, "rmi", "example.com/team/box:2")
    assert out.splitlines() == ["Untagged: example.com/team/box:2", f"Deleted: {imported}"]
    assert "Total reclaimed space:" in ok(root, "prune", "-f")
    usage = ok(root, "du").splitlines()
    assert usage[1].split()[:3] == ["Images", "0", "0"]


def test_prune_asks_before_removing(root: Path, imported: str) -> None:
    out = ok(root, "prune", "-a", stdin=b"n\n")
    assert "Are you sure you want to continue? [y/N]" in out
    assert ok(root, "images", "-q").strip()  # still there
    ok(root, "prune", "-a", stdin=b"y\n")
    assert ok(root, "images", "-q") == ""


def test_save_and_load_round_trip_in_both_formats(
    root: Path, imported: str, tmp_path: Path
) -> None:
    require_tool("skopeo")
    docker_tar = tmp_path / "box.tar"
    oci_tar = tmp_path / "box-oci.tar"
    ok(root, "save", "busybox:1", "-o", str(docker_tar))
    ok(root, "save", "busybox:1", "-o", str(oci_tar), "--format", "oci")
    inspected = subprocess.run(
        ["skopeo", "inspect", f"docker-archive:{docker_tar}"], capture_output=True, text=True
    )
    assert inspected.returncode == 0, inspected.stderr
    other = tmp_path / "other-store"
    assert ok(other, "load", "-i", str(docker_tar)) == "Loaded image: busybox:1\n"
    assert ok(other, "images", "-q", "--no-trunc") == imported + "\n"
    third = tmp_path / "third-store"
    with oci_tar.open("rb") as stream:
        out = ok(third, "load", stdin=stream.read())
    assert out == "Loaded image: busybox:1\n"


def test_save_refuses_a_terminal_and_bad_formats(root: Path, imported: str) -> None:
    proc = run(root, "save", "busybox:1", "--format", "zip", "-o", "/dev/null")
    assert proc.returncode == 2
    assert "--format" in proc.stderr


def test_corrupt_archive_loads_nothing(root: Path, imported: str, tmp_path: Path) -> None:
    archive = tmp_path / "box.tar"
    ok(root, "save", "busybox:1", "-o", str(archive))
    data = archive.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: len(data) // 2])
    other = tmp_path / "other"
    proc = run(other, "load", "-i", str(cut))
    assert proc.returncode == 1
    assert proc.stderr.count("\n") <= 3, proc.stderr  # one clear message, no traceback
    assert ok(other, "images", "-q") == ""


def test_unknown_image_says_how_to_get_it(root: Path) -> None:
    for command in (["inspect", "x:1"], ["history", "x:1"], ["save", "x:1", "-o", "/dev/null"]):
        proc = run(root, *command)
        assert proc.returncode == 1
        assert 'image "x:1" not found locally; pull it with `pybuild pull x:1`' in proc.stderr


def test_push_then_pull_into_an_empty_store(
    root: Path, imported: str, tmp_path: Path, registry: RegistryServer
) -> None:
    name = f"{registry.host}/cli/box:1"
    ok(root, "tag", "busybox:1", name)
    out = ok(root, "push", name)
    assert out.splitlines()[0] == f"The push refers to repository [{registry.host}/cli/box]"
    assert "Pushed" in out
    digest = out.splitlines()[-1].split()[2]
    assert out.splitlines()[-1].startswith("1: digest: sha256:")
    again = ok(root, "push", name)
    assert "Layer already exists" in again and "Pushed" not in again

    other = tmp_path / "other"
    pulled = ok(other, "pull", name)
    assert f"Digest: {digest}" in pulled
    assert f"Status: Downloaded newer image for {name}" in pulled
    assert pulled.splitlines()[-1] == name
    assert ok(other, "images", "-q", "--no-trunc") == imported + "\n"
    assert "Image is up to date" in ok(other, "pull", name)
    assert ok(other, "pull", "-q", f"{registry.host}/cli/box@{digest}") == (
        f"{registry.host}/cli/box@{digest}\n"
    )


def test_registry_errors_are_one_line(root: Path, registry: RegistryServer) -> None:
    proc = run(root, "pull", f"{registry.host}/cli/missing:1")
    assert proc.returncode == 1
    assert "404 MANIFEST_UNKNOWN" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = run(root, "pull", "Bad Reference")
    assert proc.returncode == 2


def test_login_and_logout_write_docker_config(tmp_path: Path, busybox_rootfs_tar: Path) -> None:
    config_dir = tmp_path / "docker-config"
    env = {"DOCKER_CONFIG": str(config_dir)}
    with start_registry(tmp_path / "reg", htpasswd=("alice", "pw-123")) as reg:
        root = tmp_path / "store"
        proc = run(root, "login", reg.host, "-u", "alice", "--password-stdin",
                   stdin=b"wrong\n", env=env)  # fmt: skip
        assert proc.returncode == 1 and "401" in proc.stderr
        proc = run(root, "login", reg.host, "-u", "alice", "--password-stdin",
                   stdin=b"pw-123\n", env=env)  # fmt: skip
        assert proc.returncode == 0 and proc.stdout == "Login Succeeded\n", proc.stderr
        config = json.loads((config_dir / "config.json").read_text())
        assert reg.host in config["auths"]
        assert (config_dir / "config.json").stat().st_mode & 0o777 == 0o600
        ok(root, "import", str(busybox_rootfs_tar), f"{reg.host}/p/box:1", env=env)
        assert "Pushed" in ok(root, "push", f"{reg.host}/p/box:1", env=env)
        assert (
            ok(root, "logout", reg.host, env=env) == f"Removing login credentials for {reg.host}\n"
        )
        proc = run(root, "push", f"{reg.host}/p/box:1", env=env)
        assert proc.returncode == 1 and "401" in proc.stderr
