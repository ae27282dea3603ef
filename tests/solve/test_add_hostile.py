"""`ADD x.tar` of hostile or broken archives: a clean BuildError, nothing outside the destination."""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
from pathlib import Path

import pytest

from builder.errors import BuildError
from tests.cli.test_image_commands import ok, run
from tests.solve.test_add import add, ctx, root, tar_bytes  # noqa: F401 (fixtures)
from tests.solve.test_copy import listing

HARDLINK = tarfile.LNKTYPE


def _long_member() -> list[tuple[str, str | None, dict[str, object]]]:
    return [("d/" + "n" * 300, "x", {})]


def _hardlink_absolute() -> list[tuple[str, str | None, dict[str, object]]]:
    return [("h", None, {"type": HARDLINK, "linkname": "/etc/passwd"})]


def _hardlink_to_the_root() -> list[tuple[str, str | None, dict[str, object]]]:
    """`etc/passwd` exists in the image root, but not in the archive."""
    return [("h", None, {"type": HARDLINK, "linkname": "etc/passwd"})]


def _hardlink_through_symlink() -> list[tuple[str, str | None, dict[str, object]]]:
    return [
        ("up", None, {"type": tarfile.SYMTYPE, "linkname": "/etc"}),
        ("h", None, {"type": HARDLINK, "linkname": "up/passwd"}),
    ]


def _deep_then_broken() -> list[tuple[str, str | None, dict[str, object]]]:
    """3,000 levels (past PATH_MAX, past Python's recursion limit), then an escape."""
    return [
        ("/".join(["d"] * 3000), None, {}),
        ("../escape", "x", {}),
    ]


HOSTILE = {
    "component over 255 bytes": (_long_member, "File name too long"),
    "hardlink to an absolute path": (_hardlink_absolute, "hardlink escapes"),
    "hardlink to a file of the image": (_hardlink_to_the_root, "hardlink escapes"),
    "hardlink through a symlink": (_hardlink_through_symlink, "hardlink escapes"),
    "deep tree, then an escape": (_deep_then_broken, "'..' would climb out"),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_archive_is_a_clean_error(
    root: Path,  # noqa: F811
    ctx: Path,  # noqa: F811
    tmp_path: Path,
    case: str,
) -> None:
    build, message = HOSTILE[case]
    (ctx / "evil.tar").write_bytes(tar_bytes([("ok", "fine", {}), *build()]))
    before = listing(root)
    passwd = (root / "etc/passwd").read_bytes()
    with pytest.raises(BuildError, match=r"ADD failed: cannot unpack /evil\.tar") as info:
        add(root, ctx, ["evil.tar"], "/opt/")
    assert message in info.value.message
    after = listing(root)
    assert {k: v for k, v in after.items() if k != "opt"} == before  # only /opt was made
    assert os.listdir(root / "opt") == []  # the staging dir is gone too
    assert (root / "etc/passwd").read_bytes() == passwd
    assert os.lstat(root / "etc/passwd").st_nlink == 1
    assert not (tmp_path / "escape").exists() and not (root / "escape").exists()


TRUNCATED = {
    "plain": lambda data: data[:9000],  # inside the second member's data
    "gzip": lambda data: gzip.compress(data)[:4000],
}


@pytest.mark.parametrize("kind", list(TRUNCATED))
def test_truncated_archive_is_a_clean_error(
    root: Path,  # noqa: F811
    ctx: Path,  # noqa: F811
    kind: str,
) -> None:
    data = tar_bytes([("a", "x" * 5000, {}), ("b", os.urandom(5000).hex(), {})])
    (ctx / "cut.tar").write_bytes(TRUNCATED[kind](data))
    before = listing(root)
    with pytest.raises(BuildError, match=r"ADD failed: cannot unpack /cut\.tar: .*truncated"):
        add(root, ctx, ["cut.tar"], "/opt/")
    assert {k: v for k, v in listing(root).items() if k != "opt"} == before
    assert os.listdir(root / "opt") == []


@pytest.mark.skipif(os.geteuid() != 0, reason="device nodes are made only as root")
def test_device_node_member_is_made_as_root(root: Path, ctx: Path) -> None:  # noqa: F811
    """As Docker's ADD: a character device of the archive becomes one in the image."""
    device = {"type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3, "mode": 0o666}
    (ctx / "dev.tar").write_bytes(tar_bytes([("dev", None, {}), ("dev/null", None, device)]))
    add(root, ctx, ["dev.tar"], "/opt/")
    st = os.lstat(root / "opt/dev/null")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3
    assert stat.S_IMODE(st.st_mode) == 0o666


def test_truncated_archive_fails_the_cli_build_with_exit_1(
    tmp_path: Path, busybox_rootfs_tar: Path
) -> None:
    store = tmp_path / "store"
    ok(store, "import", str(busybox_rootfs_tar), "busybox:latest")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nADD cut.tar /opt/\n")
    data = tar_bytes([("a", "x" * 5000, {}), ("b", os.urandom(5000).hex(), {})])
    (context / "cut.tar").write_bytes(TRUNCATED["gzip"](data))
    # `[sys.executable, "-m", "builder.cli.main", ...]`; `run` asserts there is no traceback
    proc = run(store, "build", "-t", "cut:1", str(context))
    assert proc.returncode == 1, proc.stderr
    assert "Dockerfile:2" in proc.stderr
    assert "ADD failed: cannot unpack /cut.tar" in proc.stderr
    assert "cut:1" not in ok(store, "images")


def test_archive_cut_before_its_first_block_is_copied(root: Path, ctx: Path) -> None:  # noqa: F811
    """As BuildKit: a file whose first tar header cannot be read is no archive, and is copied."""
    cut = gzip.compress(tar_bytes([("a", "x" * 5000, {})]))[:-40]
    (ctx / "cut.tar").write_bytes(cut)
    add(root, ctx, ["cut.tar"], "/opt/")
    assert (root / "opt/cut.tar").read_bytes() == cut
