"""apply_layer: metadata, replacement rules, whiteouts (flatten and overlay, with real overlayfs)."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.snapshot.helpers import (
    Member,
    T,
    apply_bytes,
    dev,
    dir_,
    hard,
    reg,
    sym,
    tar_bytes,
    tree_state,
)


def with_xattrs(member: Member, **xattrs: bytes) -> Member:
    member.info.pax_headers = {
        f"SCHILY.xattr.{key.replace('__', '.')}": value.decode("utf-8", "surrogateescape")
        for key, value in xattrs.items()
    }
    return member


# --------------------------------------------------------------------------- metadata


def test_result_hashes_the_whole_stream(dest: Path) -> None:
    data = tar_bytes(reg("a", b"hello")) + b"\x00" * 4096 + b"trailing bytes"
    result = apply_bytes(data, dest)
    assert result.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert result.size == len(data)
    assert result.entries == 1


def test_empty_stream_is_an_empty_layer(dest: Path) -> None:
    result = apply_bytes(b"", dest)
    assert (result.entries, result.size) == (0, 0)
    assert apply_bytes(b"\x00" * 1024, dest).entries == 0


def test_names_are_normalised(dest: Path) -> None:
    apply_bytes(tar_bytes(dir_("./a"), reg("./a//b/./c", b"x"), reg("d/", b"y")), dest)
    assert (dest / "a/b/c").read_bytes() == b"x"
    assert (dest / "d").read_bytes() == b"y"
    assert oct((dest / "a/b").stat().st_mode & 0o777) == oct(0o755)  # implicit parent


def test_modes_owners_mtimes(dest: Path, root_user: None) -> None:
    data = tar_bytes(
        dir_("d", mode=0o1777, uid=10, gid=20, mtime=T + 1),
        reg("d/suid", b"x", mode=0o4755, uid=1234, gid=5678, mtime=T + 2),
        reg("d/sgid", b"y", mode=0o2711, uid=0, gid=50, mtime=T + 3),
        sym("d/link", "/etc/passwd", uid=7, gid=8, mtime=T + 4),
        dir_("locked", mode=0o000, mtime=T + 5),
        reg("locked/inside", b"z", mode=0o400, mtime=T + 6),
    )
    apply_bytes(data, dest)
    state = tree_state(dest)
    assert state["d"][:5] == (stat.S_IFDIR, oct(0o1777), 10, 20, (T + 1) * 10**9)
    assert state["d/suid"][:5] == (stat.S_IFREG, oct(0o4755), 1234, 5678, (T + 2) * 10**9)
    assert state["d/sgid"][:5] == (stat.S_IFREG, oct(0o2711), 0, 50, (T + 3) * 10**9)
    assert state["d/link"][2:6] == (7, 8, (T + 4) * 10**9, "/etc/passwd")
    assert state["locked"][:5] == (stat.S_IFDIR, oct(0), 0, 0, (T + 5) * 10**9)
    assert state["locked/inside"][1] == oct(0o400)


def test_directory_entry_merges_with_existing_directory(dest: Path) -> None:
    (dest / "d").mkdir()
    (dest / "d" / "lower").write_text("lower")
    apply_bytes(tar_bytes(dir_("d", mode=0o700), reg("d/new", b"n")), dest)
    assert sorted(os.listdir(dest / "d")) == ["lower", "new"]
    assert stat.S_IMODE((dest / "d").stat().st_mode) == 0o700


def test_non_directory_replaces_directory(dest: Path) -> None:
    (dest / "d" / "sub").mkdir(parents=True)
    (dest / "d" / "sub" / "f").write_text("x")
    apply_bytes(tar_bytes(reg("d", b"now a file")), dest)
    assert (dest / "d").read_bytes() == b"now a file"


def test_later_entry_replaces_earlier_one(dest: Path) -> None:
    data = tar_bytes(
        reg("a", b"one"), sym("a", "target"), reg("b", b"x"), dir_("b"), reg("b/c", b"c")
    )
    apply_bytes(data, dest)
    assert os.readlink(dest / "a") == "target"
    assert (dest / "b/c").read_bytes() == b"c"


def test_hardlinks(dest: Path) -> None:
    (dest / "lower").write_text("from a lower layer")
    data = tar_bytes(
        reg("f", b"data", mode=0o640),
        hard("g", "f"),
        hard("./h", "./lower"),
        sym("s", "f"),
        hard("hs", "s"),
    )
    apply_bytes(data, dest)
    assert os.stat(dest / "f").st_ino == os.stat(dest / "g").st_ino
    assert os.stat(dest / "h").st_ino == os.stat(dest / "lower").st_ino
    assert (
        os.lstat(dest / "hs").st_ino == os.lstat(dest / "s").st_ino
    )  # a link to the symlink itself


def test_devices_and_fifos_as_root(dest: Path, root_user: None) -> None:
    data = tar_bytes(
        dev("null", tarfile.CHRTYPE, 1, 3, mode=0o666),
        dev("loop", tarfile.BLKTYPE, 7, 0, mode=0o660),
        dev("fifo", tarfile.FIFOTYPE, mode=0o620),
    )
    apply_bytes(data, dest)
    state = tree_state(dest)
    assert state["null"][:2] == (stat.S_IFCHR, oct(0o666)) and state["null"][5] == (1, 3)
    assert state["loop"][:2] == (stat.S_IFBLK, oct(0o660)) and state["loop"][5] == (7, 0)
    assert state["fifo"][:2] == (stat.S_IFIFO, oct(0o620))
    assert state["null"][4] == T * 10**9


def test_xattrs(dest: Path, root_user: None) -> None:
    capability = b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    data = tar_bytes(
        with_xattrs(dir_("d"), user__dir=b"dirvalue", trusted__t=b"t"),
        with_xattrs(
            reg("d/ping", b"elf", mode=0o4755, uid=5),
            security__capability=capability,
            user__bin=b"\xff\x00\xfe",
        ),
        with_xattrs(
            sym("d/link", "ping"), trusted__onlink=b"1", user__refused=b"symlinks take no user.*"
        ),
    )
    apply_bytes(data, dest)
    assert os.getxattr(dest / "d", "user.dir") == b"dirvalue"
    assert os.getxattr(dest / "d", "trusted.t") == b"t"
    # chown clears file capabilities: they are set after it, and the mode after both
    assert os.getxattr(dest / "d/ping", "security.capability") == capability
    assert os.getxattr(dest / "d/ping", "user.bin") == b"\xff\x00\xfe"
    assert stat.S_IMODE(os.stat(dest / "d/ping").st_mode) == 0o4755
    assert os.getxattr(dest / "d/link", "trusted.onlink", follow_symlinks=False) == b"1"
    assert "user.refused" not in os.listxattr(dest / "d/link", follow_symlinks=False)


def test_aufs_metadata_is_ignored(dest: Path) -> None:
    data = tar_bytes(
        dir_(".wh..wh.plnk"),
        reg(".wh..wh.plnk/123.456", b"x"),
        reg(".wh..wh.aufs"),
        reg("kept", b"k"),
    )
    result = apply_bytes(data, dest)
    assert os.listdir(dest) == ["kept"]
    assert result.entries == 4


def test_root_entry_sets_root_metadata(dest: Path) -> None:
    apply_bytes(tar_bytes(dir_("./", mode=0o750, mtime=T), reg("f", b"x")), dest)
    st = dest.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (0o750, T * 10**9)


# --------------------------------------------------------------------------- whiteouts, flatten mode


@pytest.fixture
def lower(dest: Path) -> Path:
    """dest holding a lower layer."""
    for rel in ["a/x", "a/y", "b", "d/old1", "d/old2/sub", "d/keep/oldfile", "e/deep/er"]:
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    return dest


def files(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            found.append(os.path.relpath(os.path.join(dirpath, name), root))
    return sorted(found)


def test_whiteouts_delete_lower_files_and_dirs(lower: Path) -> None:
    apply_bytes(
        tar_bytes(
            reg("a/.wh.x"), reg(".wh.b"), reg(".wh.e"), reg(".wh.absent"), reg("nodir/.wh.x")
        ),
        lower,
    )
    assert files(lower) == [
        "a",
        "a/y",
        "d",
        "d/keep",
        "d/keep/oldfile",
        "d/old1",
        "d/old2",
        "d/old2/sub",
    ]


@pytest.mark.parametrize("marker_first", [True, False])
def test_opaque_dir_keeps_entries_of_the_same_layer(lower: Path, marker_first: bool) -> None:
    opq = [reg("d/.wh..wh..opq")]
    entries = [dir_("d"), reg("d/new", b"n"), reg("d/keep/inner", b"i")]
    members = opq + entries if marker_first else entries + opq
    apply_bytes(tar_bytes(*members), lower)
    expected = ["d", "d/new"]
    # with the marker first, d/keep was cleared before d/keep/inner recreated it; after, d/keep stays
    # (made by this layer) while its lower content goes: same result either way
    expected += ["d/keep", "d/keep/inner"]
    assert [f for f in files(lower) if f.startswith("d")] == sorted(expected)
    assert (lower / "a/x").exists()


def test_whiteout_does_not_remove_an_entry_of_the_same_layer(lower: Path) -> None:
    apply_bytes(tar_bytes(reg("new", b"1"), reg(".wh.new"), reg(".wh.a"), reg("a/z", b"z")), lower)
    assert (lower / "new").read_bytes() == b"1"
    # a/ was whited out (lower content gone) while a/z of this layer stays
    assert files(lower / "a") == ["z"]


def test_opaque_root(lower: Path) -> None:
    apply_bytes(tar_bytes(reg(".wh..wh..opq"), reg("only", b"o")), lower)
    assert files(lower) == ["only"]


# --------------------------------------------------------------------------- overlay mode


def test_overlay_mode_writes_overlayfs_whiteouts(tmp_path: Path, root_user: None) -> None:
    layer = tmp_path / "layer"
    layer.mkdir()
    data = tar_bytes(
        reg("a/.wh.x"),
        reg(".wh.b"),
        dir_("d"),
        reg("d/.wh..wh..opq"),
        reg("d/new", b"n"),
        reg("e/.wh..wh..opq"),
    )
    apply_bytes(data, layer, overlay=True)
    for rel in ["a/x", "b"]:
        st = os.lstat(layer / rel)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(layer / "d", "trusted.overlay.opaque") == b"y"
    assert os.getxattr(layer / "e", "trusted.overlay.opaque") == b"y"
    assert (layer / "d/new").read_bytes() == b"n"


@pytest.fixture
def overlay_mount(tmp_path: Path, root_user: None) -> Iterator[tuple[Path, Path, Path]]:
    """(lower1, lower2, merged): mounted by the test, always unmounted here."""
    l1, l2, upper, work, merged = (tmp_path / n for n in ("l1", "l2", "upper", "work", "merged"))
    for path in (l1, l2, upper, work, merged):
        path.mkdir()
    yield l1, l2, merged
    if os.path.ismount(merged):
        subprocess.run(["umount", str(merged)], check=True)


def mount_overlay(lowers: list[Path], merged: Path) -> None:
    base = merged.parent
    lowerdir = ":".join(str(p) for p in lowers)
    options = f"lowerdir={lowerdir},upperdir={base / 'upper'},workdir={base / 'work'}"
    result = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", options, str(merged)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"mount -t overlay failed: {result.stderr}"


LAYER1 = tar_bytes(
    dir_("a"), reg("a/x", b"ax"), reg("a/y", b"ay"), reg("b", b"b"),
    dir_("d"), reg("d/old", b"old"), dir_("d/sub"), reg("d/sub/f", b"f"),
    dir_("e"), reg("e/stay", b"s"), sym("link", "a/x"),
)  # fmt: skip
LAYER2 = tar_bytes(
    reg("a/.wh.x"), reg(".wh.b"), dir_("d"), reg("d/.wh..wh..opq"), reg("d/new", b"new"),
    dir_("d/sub"), reg("d/sub/g", b"g"), reg("e/.wh.nothing"), reg("c", b"c"), reg(".wh.link"),
)  # fmt: skip


def test_overlay_layers_stack_like_flattened_layers(
    tmp_path: Path, overlay_mount: tuple[Path, Path, Path]
) -> None:
    l1, l2, merged = overlay_mount
    apply_bytes(LAYER1, l1, overlay=True)
    apply_bytes(LAYER2, l2, overlay=True)
    flat = tmp_path / "flat"
    flat.mkdir()
    apply_bytes(LAYER1, flat)
    apply_bytes(LAYER2, flat)
    mount_overlay([l2, l1], merged)
    seen = files(merged)
    assert seen == ["a", "a/y", "c", "d", "d/new", "d/sub", "d/sub/g", "e", "e/stay"]
    assert seen == files(flat)
    assert tree_state(merged, dir_mtimes=False) == tree_state(flat, dir_mtimes=False)


def test_overlay_whiteout_then_same_name_dir_hides_lower(
    tmp_path: Path, overlay_mount: tuple[Path, Path, Path]
) -> None:
    """OCI: a whiteout hides lower layers only; the same layer's new dir at that path is opaque."""
    l1, l2, merged = overlay_mount
    apply_bytes(tar_bytes(dir_("d"), reg("d/old", b"o")), l1, overlay=True)
    apply_bytes(tar_bytes(reg(".wh.d"), dir_("d"), reg("d/new", b"n")), l2, overlay=True)
    mount_overlay([l2, l1], merged)
    assert files(merged) == ["d", "d/new"]


def test_expected_diff_id(dest: Path) -> None:
    from builder.image.digest import DigestMismatchError

    data = tar_bytes(reg("a", b"x"))
    good = "sha256:" + hashlib.sha256(data).hexdigest()
    assert apply_bytes(data, dest, expected_diff_id=good).diff_id == good
    with pytest.raises(DigestMismatchError, match="digest mismatch"):
        apply_bytes(data, dest, expected_diff_id="sha256:" + "0" * 64)
