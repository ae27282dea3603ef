"""docs/bake.md's CI recipe against a real registry: bake, push, and share the cache.

Runner A bakes two targets with `--push` and `cache-to type=registry`;
runner B, with an empty store but for the base image, bakes the same file
with `cache-from`: every RUN step is CACHED, and it pulls what A pushed.
"""

from __future__ import annotations

from pathlib import Path

from tests.bake.printing import run_bake, write_files
from tests.cli.test_image_commands import ok
from tests.registry_server import start_registry

BAKE = """
variable "REGISTRY" { default = "" }
variable "TAG" { default = "dev" }

group "default" {
  targets = ["api", "web"]
}

target "_ci" {
  args = { BASE = "${REGISTRY}/base/busybox:1" }
}

target "api" {
  inherits   = ["_ci"]
  context    = "api"
  tags       = ["${REGISTRY}/team/api:${TAG}"]
  cache-to   = ["type=registry,ref=${REGISTRY}/cache/api:main,mode=max"]
  cache-from = ["type=registry,ref=${REGISTRY}/cache/api:main"]
}

target "web" {
  inherits   = ["_ci"]
  context    = "web"
  tags       = ["${REGISTRY}/team/web:${TAG}"]
  cache-to   = ["type=registry,ref=${REGISTRY}/cache/web:main,mode=max"]
  cache-from = ["type=registry,ref=${REGISTRY}/cache/web:main"]
}
"""

DOCKERFILE = """
ARG BASE
FROM $BASE
COPY app.sh /app.sh
RUN sh /app.sh > /out
"""


def test_bake_pushes_and_shares_its_cache(tmp_path: Path, busybox_rootfs_tar: Path) -> None:
    project = write_files(
        tmp_path / "project",
        {
            "docker-bake.hcl": BAKE,
            "api/Dockerfile": DOCKERFILE,
            "api/app.sh": "echo api\n",
            "web/Dockerfile": DOCKERFILE,
            "web/app.sh": "echo web\n",
        },
    )
    with start_registry(tmp_path / "registry") as registry:
        env = {"REGISTRY": registry.host, "TAG": "abc123"}
        runner_a, runner_b = tmp_path / "runner-a", tmp_path / "runner-b"
        base = f"{registry.host}/base/busybox:1"
        ok(runner_a, "import", str(busybox_rootfs_tar), base)
        ok(runner_a, "push", base)
        ok(runner_b, "pull", base)

        first = run_bake(project, "--push", "--progress", "plain", root=runner_a, env=env)
        assert first.returncode == 0, first.stderr
        for name in ("api", "web"):
            assert f"{name}: pushing {registry.host}/team/{name}:abc123" in first.stderr
        assert first.stderr.count("exporting cache to registry") == 2

        second = run_bake(project, "--progress", "plain", root=runner_b, env=env)
        assert second.returncode == 0, second.stderr
        assert second.stderr.count("CACHED") == 4  # COPY and RUN of both targets
        for name in ("api", "web"):
            ok(runner_b, "pull", f"{registry.host}/team/{name}:abc123")
            ids = [
                ok(r, "images", "-q", "--no-trunc", f"{registry.host}/team/{name}:abc123")
                for r in (runner_a, runner_b)
            ]
            assert ids[0] == ids[1] != ""
