"""`SOURCE_DATE_EPOCH` from the environment, as buildx reads it: `pybuild build` and `import`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_image_commands import ok, run


def test_import_gives_one_id_and_takes_the_epoch(tmp_path: Path, busybox_rootfs_tar: Path) -> None:
    tar = str(busybox_rootfs_tar)
    first = ok(tmp_path / "one", "import", tar, "bb:1")
    second = ok(tmp_path / "two", "import", tar, "bb:1")
    assert first == second  # the tarball's newest mtime, not the time of the import
    pinned = ok(tmp_path / "three", "import", tar, "bb:1", env={"SOURCE_DATE_EPOCH": "86400"})
    assert pinned != first
    (doc,) = json.loads(ok(tmp_path / "three", "inspect", "bb:1"))
    assert doc["Created"] == "1970-01-02T00:00:00Z"


def test_build_reads_the_environment(tmp_path: Path, busybox_rootfs_tar: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM busybox\nARG SOURCE_DATE_EPOCH\nRUN echo $SOURCE_DATE_EPOCH > /e\nCOPY f /f\n"
    )
    (context / "f").write_text("f\n")
    ids = []
    for name in ("a", "b"):
        root = tmp_path / name
        ok(root, "import", str(busybox_rootfs_tar), "busybox:latest")
        env = {"SOURCE_DATE_EPOCH": "1700000000"}
        proc = run(root, "build", "-q", "-t", "app", str(context), env=env)
        assert proc.returncode == 0, proc.stderr
        assert "were not consumed" not in proc.stderr
        ids.append(proc.stdout)
        (context / "f").touch()  # another mtime for the second build's context
    assert ids[0] == ids[1]
    history = ok(tmp_path / "a", "history", "--no-trunc", "--format", "{{.CreatedAt}}", "app")
    assert set(history.splitlines()[:-1]) == {"2023-11-14T22:13:20Z"}
    bad = run(tmp_path / "a", "build", str(context), env={"SOURCE_DATE_EPOCH": "soon"})
    assert bad.returncode == 2
    assert "invalid $SOURCE_DATE_EPOCH: 'soon'" in bad.stderr
