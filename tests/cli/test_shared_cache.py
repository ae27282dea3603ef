"""Two CI runners share work through a registry: --cache-to on one, --cache-from on the other."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli.test_image_commands import ok, run
from tests.registry_server import start_registry

DOCKERFILE = """\
FROM {base}
COPY app.sh /app.sh
RUN sh /app.sh > /out
RUN sleep 1 && echo slow > /slow
"""


def test_second_runner_reuses_the_first_runners_steps(
    tmp_path: Path, busybox_rootfs_tar: Path
) -> None:
    with start_registry(tmp_path / "registry") as registry:
        base = f"{registry.host}/base/busybox:1"
        cache = f"{registry.host}/cache/app:main"
        runner_a, runner_b = tmp_path / "runner-a", tmp_path / "runner-b"
        ok(runner_a, "import", str(busybox_rootfs_tar), base)
        ok(runner_a, "push", base)
        ok(runner_b, "pull", base)  # both runners start from the same base digest
        context = tmp_path / "ctx"
        context.mkdir()
        (context / "Dockerfile").write_text(DOCKERFILE.format(base=base))
        (context / "app.sh").write_text("echo built\n")

        first = run(runner_a, "build", "--progress", "plain", "-t", "app:1",
                    "--cache-to", f"type=registry,ref={cache},mode=max", str(context))  # fmt: skip
        assert first.returncode == 0, first.stderr
        assert "exporting cache to registry" in first.stderr

        second = run(runner_b, "build", "--progress", "plain", "-t", "app:1",
                     "--cache-from", f"type=registry,ref={cache}", str(context))  # fmt: skip
        assert second.returncode == 0, second.stderr
        assert second.stderr.count("CACHED") == 3, second.stderr
        assert not re.search(r"^#\d+ \d+\.\d+ ", second.stderr, re.M)  # no step printed output
        ids = [ok(r, "images", "-q", "--no-trunc", "app:1") for r in (runner_a, runner_b)]
        assert ids[0] == ids[1]

        (context / "app.sh").write_text("echo changed\n")
        third = run(runner_b, "build", "--progress", "plain", "--explain-cache",
                    "--cache-from", cache, str(context))  # fmt: skip
        assert third.returncode == 0, third.stderr
        assert "cache miss: file changed: app.sh" in third.stderr
        assert third.stderr.count("CACHED") == 0

        missing = run(runner_b, "build", "--progress", "plain",
                      "--cache-from", f"{registry.host}/cache/none:1", str(context))  # fmt: skip
        assert missing.returncode == 0 and "WARNING" in missing.stderr
