"""`pybuild build` as a user runs it: a real store, runc, exit codes and messages."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_image_commands import ok, run


def _context(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    (context / "hello.txt").write_text("hello\n")
    return context


def test_build_tag_history_and_iidfile(tmp_path: Path, busybox_rootfs_tar: Path) -> None:
    root = tmp_path / "store"
    ok(root, "import", str(busybox_rootfs_tar), "busybox:latest")
    context = _context(
        tmp_path,
        'FROM busybox\nCOPY hello.txt /\nRUN cat /hello.txt > /copy\nCMD ["cat", "/copy"]\n',
    )
    iid = tmp_path / "iid"
    proc = run(
        root, "build", "-t", "app:1", "--iidfile", str(iid), "--progress", "plain", str(context)
    )
    assert proc.returncode == 0, proc.stderr
    assert "#2 [2/3] COPY hello.txt /" in proc.stderr
    assert "#3 [3/3] RUN cat /hello.txt > /copy" in proc.stderr
    assert "naming to docker.io/library/app:1 done" in proc.stderr
    image_id = iid.read_text()
    assert ok(root, "images", "--no-trunc", "-q", "app:1") == image_id + "\n"
    history = ok(root, "history", "app:1", "--format", "{{.CreatedBy}}").splitlines()
    assert history[0] == 'CMD ["cat" "/copy"]'
    quiet = run(root, "build", "-q", "-t", "app:2", str(context))
    assert quiet.returncode == 0 and quiet.stdout.startswith("sha256:") and quiet.stderr == ""


def test_failing_step_exit_1_with_its_location(tmp_path: Path, busybox_rootfs_tar: Path) -> None:
    root = tmp_path / "store"
    ok(root, "import", str(busybox_rootfs_tar), "busybox:latest")
    context = _context(tmp_path, "FROM busybox\nRUN echo ok\nRUN echo broken >&2; exit 7\n")
    proc = run(root, "build", str(context))
    assert proc.returncode == 1
    assert f"{context}/Dockerfile:3" in proc.stderr
    assert "exit code: 7" in proc.stderr
    assert "broken" in proc.stderr
    assert "RUN echo broken >&2; exit 7" in proc.stderr


def test_missing_base_image_says_how_to_get_one(tmp_path: Path) -> None:
    context = _context(tmp_path, "FROM 127.0.0.1:9/none:1\nRUN true\n")
    proc = run(tmp_path / "store", "build", str(context))
    assert proc.returncode == 1
    assert "pybuild import" in proc.stderr


def test_context_and_dockerfile_from_stdin(tmp_path: Path, busybox_rootfs_tar: Path) -> None:
    import io
    import tarfile

    root = tmp_path / "store"
    ok(root, "import", str(busybox_rootfs_tar), "busybox:latest")
    context = _context(tmp_path, "FROM busybox\nCOPY hello.txt /\nRUN cat /hello.txt\n")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        tar.add(context, arcname=".")
    proc = run(
        root, "build", "--progress", "plain", "-t", "fromtar:1", "-", stdin=archive.getvalue()
    )
    assert proc.returncode == 0, proc.stderr
    assert "hello" in proc.stderr
    dockerfile = b"FROM busybox\nCOPY hello.txt /copied\n"
    proc = run(root, "build", "-q", "-f", "-", str(context), stdin=dockerfile)
    assert proc.returncode == 0, proc.stderr
    proc = run(root, "build", "-f", "-", "-", stdin=dockerfile)
    assert proc.returncode == 2
