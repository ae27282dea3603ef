"""`pybuild build` on input it cannot use as given: bytes that are not UTF-8, an
`--iidfile` it cannot write. An image or one clear line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_image_commands import ok, run


def test_a_byte_that_is_not_utf8_builds_with_u_fffd_in_the_config(
    tmp_path: Path, busybox_rootfs_tar: Path
) -> None:
    root = tmp_path / "store"
    ok(root, "import", str(busybox_rootfs_tar), "busybox:latest")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_bytes(b"FROM busybox\nRUN echo caf\xe9 >/x\nLABEL a=caf\xe9\n")
    proc = run(root, "build", "-q", "-t", "u8:1", str(context))
    assert proc.returncode == 0, proc.stderr
    inspect = json.loads(ok(root, "inspect", "u8:1"))
    assert inspect[0]["Config"]["Labels"] == {"a": "caf\ufffd"}
    history = ok(root, "history", "--no-trunc", "u8:1", "--format", "{{.CreatedBy}}")
    assert "RUN /bin/sh -c echo caf\ufffd >/x # buildkit" in history


def test_iidfile_in_a_missing_directory_stops_before_building(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox-that-is-not-there\n")
    proc = run(tmp_path / "store", "build", "--iidfile", "/no/such/dir/id", str(context))
    assert proc.returncode == 2
    assert proc.stderr.strip() == "--iidfile /no/such/dir/id: no such directory /no/such/dir"


def test_iidfile_that_cannot_be_written_names_the_image(
    tmp_path: Path, busybox_rootfs_tar: Path
) -> None:
    root = tmp_path / "store"
    ok(root, "import", str(busybox_rootfs_tar), "busybox:latest")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nLABEL a=b\n")
    proc = run(root, "build", "-q", "--iidfile", str(context), str(context))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("built sha256:")
    assert f"cannot write it to --iidfile {context}: Is a directory" in proc.stderr
