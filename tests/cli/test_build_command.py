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


def test_outputs_push_and_metadata(tmp_path: Path, busybox_rootfs_tar: Path) -> None:
    import json
    import tarfile

    from tests.registry_server import start_registry

    root = tmp_path / "store"
    ok(root, "import", str(busybox_rootfs_tar), "busybox:latest")
    context = _context(tmp_path, "FROM busybox\nRUN echo made > /made\n")
    rootfs_dir = tmp_path / "rootfs"
    rootfs_tar = tmp_path / "rootfs.tar"
    archive = tmp_path / "image.tar"
    proc = run(
        root, "build", "-q", "-t", "out:1", "-o", str(rootfs_dir),
        "-o", f"type=tar,dest={rootfs_tar}", "-o", f"type=docker,dest={archive}", str(context),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (rootfs_dir / "made").read_text() == "made\n"
    with tarfile.open(rootfs_tar) as tar:
        assert "made" in tar.getnames()
    assert ok(tmp_path / "other", "load", "-i", str(archive)) == "Loaded image: out:1\n"
    with start_registry(tmp_path / "reg") as registry:
        name = f"{registry.host}/team/out:2"
        meta = tmp_path / "meta.json"
        proc = run(root, "build", "--push", "-t", name, "--metadata-file", str(meta), str(context))
        assert proc.returncode == 0, proc.stderr
        data = json.loads(meta.read_text())
        assert data["image.name"] == name
        digest = data["containerimage.digest"]
        pulled = ok(tmp_path / "third", "pull", "-q", f"{registry.host}/team/out@{digest}")
        assert pulled.strip().endswith(digest)
    proc = run(root, "build", "--push", str(context))
    assert proc.returncode == 2 and "tag is needed" in proc.stderr
