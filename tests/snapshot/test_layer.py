"""write_layer and recompress_tar: determinism, round trips, overlay upper dirs, import checks."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.errors import LayerError
from builder.snapshot.compression import decompressing_reader
from builder.snapshot.layer import LayerBlob, recompress_tar, write_layer
from tests.snapshot.helpers import (
    apply_bytes,
    dir_,
    hard,
    make_tree,
    reg,
    set_mtime,
    sym,
    tar_bytes,
    tree_state,
)


def write(root: Path, **kwargs: object) -> tuple[LayerBlob, bytes]:
    out = io.BytesIO()
    blob = write_layer(root, out, **kwargs)  # type: ignore[arg-type]
    return blob, out.getvalue()


def plain_tar(blob: LayerBlob, data: bytes) -> bytes:
    return decompressing_reader(io.BytesIO(data), blob.compression).read()


def names(tar: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        return [m.name for m in archive.getmembers()]


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_round_trip(tmp_path: Path, compression: str, root_user: None) -> None:
    src = make_tree(tmp_path / "src")
    blob, data = write(src, compression=compression)
    assert blob.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert blob.size == len(data)
    assert blob.diff_id == "sha256:" + hashlib.sha256(plain_tar(blob, data)).hexdigest()
    dest = tmp_path / "dest"
    dest.mkdir()
    result = apply_bytes(data, dest)
    assert result.diff_id == blob.diff_id
    assert result.entries == blob.entries
    assert tree_state(dest) == tree_state(src)


def test_same_tree_same_digests(tmp_path: Path, root_user: None) -> None:
    src = make_tree(tmp_path / "src", devices=False)
    for compression in ["gzip", "zstd", "none"]:
        first, _ = write(src, compression=compression)
        second, _ = write(src, compression=compression)
        assert first == second
    # a copy made at another time, in another order, gives the same layer
    copy = tmp_path / "copy"
    shutil.copytree(src, copy, symlinks=True)
    os.link(copy / "usr/bin/ping", copy / "usr/bin/ping6.tmp")
    os.replace(copy / "usr/bin/ping6.tmp", copy / "usr/bin/ping6")
    os.link(copy / "etc/passwd", copy / "a-hardlink.tmp")
    os.replace(copy / "a-hardlink.tmp", copy / "a-hardlink")
    for path in [copy / "usr/bin", copy / "etc", copy, copy / "usr/bin/ping6", copy / "a-hardlink"]:
        set_mtime(path, os.lstat(src / path.relative_to(copy)).st_mtime_ns // 10**9)
    os.chown(copy / "etc/ssh", 100, 101)
    os.chown(copy / "etc/ssh/sshd_config", 100, 101)
    os.setxattr(copy / "etc", "trusted.dirattr", b"v")
    assert write(copy)[0] == write(src)[0]


def test_tar_layout(tmp_path: Path, root_user: None) -> None:
    src = make_tree(tmp_path / "src", devices=False)
    blob, data = write(src, compression="none")
    tar = plain_tar(blob, data)
    listed = names(tar)
    assert listed == sorted(listed, key=os.fsencode)
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        members = {m.name: m for m in archive.getmembers()}
    assert all(m.uname == "" and m.gname == "" for m in members.values())
    ping, ping6 = members["usr/bin/ping"], members["usr/bin/ping6"]
    assert ping.isreg() and ping6.islnk() and ping6.linkname == "usr/bin/ping"
    assert members["a-hardlink"].isreg() and members["etc/passwd"].islnk()  # first in sort order
    assert members["etc/passwd"].linkname == "a-hardlink"
    assert members["etc/ssh"].uid == 100 and members["etc/ssh"].gid == 101
    assert members["usr/bin/ping"].mode == 0o4755
    assert members["tmp"].mode == 0o1777
    assert members["bin"].issym() and members["bin"].linkname == "/usr/bin"
    assert (
        members["a-hardlink"]
        .pax_headers["SCHILY.xattr.user.binary"]
        .encode("utf-8", "surrogateescape")
        == b"\x00\xff\xfe"
    )
    assert tar.endswith(b"\x00" * 1024)


def test_source_date_epoch_clamps_mtimes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "old").write_text("o")
    (src / "new").write_text("n")
    set_mtime(src / "old", 1000)
    set_mtime(src / "new", 2_000_000_000)
    blob, data = write(src, compression="none", source_date_epoch=1_500_000_000)
    with tarfile.open(fileobj=io.BytesIO(plain_tar(blob, data))) as archive:
        mtimes = {m.name: m.mtime for m in archive.getmembers()}
    assert mtimes == {"new": 1_500_000_000, "old": 1000}
    # touching a file later gives the same layer when clamped
    set_mtime(src / "new", 2_100_000_000)
    assert write(src, compression="none", source_date_epoch=1_500_000_000)[0] == blob


def test_exclude(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "keep/skip").mkdir(parents=True)
    (src / "keep/skip/x").write_text("x")
    (src / "keep/y").write_text("y")
    (src / "z").write_text("z")
    blob, data = write(src, compression="none", exclude=lambda p: p in ("keep/skip", "z"))
    assert names(plain_tar(blob, data)) == ["keep", "keep/y"]
    assert blob.entries == 2


def test_empty_tree(tmp_path: Path) -> None:
    blob, data = write(tmp_path, compression="gzip")
    assert blob.entries == 0
    assert plain_tar(blob, data) == b"\x00" * 1024


def test_sink_without_flush(tmp_path: Path, root_user: None) -> None:
    """The sink may be a store blob writer: write() only."""

    class WriteOnly:
        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, block: bytes) -> int:
            self.data += block
            return len(block)

    src = make_tree(tmp_path / "src", devices=False)
    for compression in ["gzip", "zstd", "none"]:
        sink = WriteOnly()
        blob = write_layer(src, sink, compression=compression)  # type: ignore[arg-type]
        assert blob.digest == "sha256:" + hashlib.sha256(sink.data).hexdigest()


def test_file_named_like_a_whiteout_in_an_upper_dir(tmp_path: Path) -> None:
    (tmp_path / ".wh.trap").write_text("")
    with pytest.raises(LayerError, match="cannot be stored in a layer"):
        write(tmp_path, from_overlay_upper=True)


# --------------------------------------------------------------------------- overlay upper dir -> layer


@pytest.fixture
def overlay(tmp_path: Path, root_user: None) -> Iterator[tuple[Path, Path, Path]]:
    """(lower, upper, merged) of a mounted overlay; unmounted at the end."""
    lower, upper, work, merged = (tmp_path / n for n in ("lower", "upper", "work", "merged"))
    for path in (lower, upper, work, merged):
        path.mkdir()
    for rel in ["etc/motd", "etc/gone", "var/cache/a", "var/cache/b/c", "opt/tool/bin", "keep"]:
        (lower / rel).parent.mkdir(parents=True, exist_ok=True)
        (lower / rel).write_text(rel)
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    result = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", options, str(merged)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"mount -t overlay failed: {result.stderr}"
    try:
        yield lower, upper, merged
    finally:
        if os.path.ismount(merged):
            subprocess.run(["umount", str(merged)], check=True)


def test_overlay_upper_becomes_oci_whiteouts(
    tmp_path: Path, overlay: tuple[Path, Path, Path]
) -> None:
    lower, upper, merged = overlay
    # what a RUN step might do
    (merged / "etc/gone").unlink()
    shutil.rmtree(merged / "var/cache")
    (merged / "var/cache").mkdir()
    (merged / "var/cache/fresh").write_text("fresh")
    shutil.rmtree(merged / "opt")
    (merged / "etc/motd").write_text("changed")
    (merged / "new").write_text("new")
    expected = tree_state(merged, dir_mtimes=False, seconds=True)
    subprocess.run(["umount", str(merged)], check=True)

    blob, data = write(upper, from_overlay_upper=True)
    listed = names(plain_tar(blob, data))
    assert ".wh.opt" in listed
    assert "etc/.wh.gone" in listed
    assert "var/cache/.wh..wh..opq" in listed
    with tarfile.open(fileobj=io.BytesIO(plain_tar(blob, data))) as archive:
        for member in archive.getmembers():
            assert not any(
                k.startswith("SCHILY.xattr.trusted.overlay.") for k in member.pax_headers
            )
            if os.path.basename(member.name).startswith(".wh."):
                assert member.isreg() and member.size == 0

    flat = tmp_path / "flat"
    shutil.copytree(lower, flat, symlinks=True)
    apply_bytes(data, flat)
    assert tree_state(flat, dir_mtimes=False, seconds=True) == expected


# --------------------------------------------------------------------------- recompress_tar


def test_recompress_normalises_and_hashes(tmp_path: Path) -> None:
    raw = tar_bytes(
        dir_("./"),
        dir_("./etc"),
        reg("./etc/passwd", b"root", uname="root", gname="root"),
        sym("./bin", "usr/bin"),
        hard("./etc/pw2", "./etc/passwd"),
    )
    for source in [raw, gzip.compress(raw)]:
        out = io.BytesIO()
        blob = recompress_tar(io.BytesIO(source), out, compression="gzip")
        tar = gzip.decompress(out.getvalue())
        assert blob.diff_id == "sha256:" + hashlib.sha256(tar).hexdigest()
        assert blob.digest == "sha256:" + hashlib.sha256(out.getvalue()).hexdigest()
        assert names(tar) == [".", "etc", "etc/passwd", "bin", "etc/pw2"]
        with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
            members = archive.getmembers()
        assert all(m.uname == "" for m in members)
        assert members[-1].linkname == "etc/passwd"
        dest = tmp_path / f"dest{len(source)}"
        dest.mkdir()
        assert apply_bytes(out.getvalue(), dest).diff_id == blob.diff_id
        assert (dest / "etc/pw2").read_bytes() == b"root"


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([reg("/etc/passwd", b"x")], "absolute"),
        ([reg("../x", b"x")], r"'\.\.'"),
        ([sym("a", "/etc"), reg("a/passwd", b"x")], "symlink"),
        ([sym("a", "/etc"), dir_("a/sub")], "symlink"),
        ([hard("h", "/etc/passwd")], "hardlink escapes"),
        ([hard("h", "nothere")], "hardlink escapes"),
        ([sym("s", "/etc"), hard("h", "s/passwd")], "hardlink escapes"),
        ([dir_("d"), reg("f", b"x"), sym("d", "/"), hard("h", "d/f")], "hardlink escapes"),
        ([reg(".wh..."), reg("x")], "whiteout"),
        ([reg("f", b"x"), reg("f/g", b"y")], "not a directory"),
    ],
)
def test_recompress_refuses_hostile_tars(members: list, message: str) -> None:
    with pytest.raises(LayerError, match=message):
        recompress_tar(io.BytesIO(tar_bytes(*members)), io.BytesIO())


def test_recompress_truncated(tmp_path: Path) -> None:
    data = gzip.compress(tar_bytes(reg("f", os.urandom(10000))))
    with pytest.raises(LayerError, match="tar is truncated or corrupt"):
        recompress_tar(io.BytesIO(data[:-10]), io.BytesIO())


def test_file_shrinking_while_written(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 100_000)
    (tmp_path / "d").mkdir()
    (tmp_path / "d/x").write_text("x")

    seen: list[str] = []

    def exclude(path: str) -> bool:
        seen.append(path)
        if len(seen) == 3:  # the last entry: f was looked at, not yet read
            (tmp_path / "f").write_bytes(b"short")
        return False

    with pytest.raises(LayerError, match="did the tree change"):
        write(tmp_path, exclude=exclude)


def test_missing_tree() -> None:
    with pytest.raises(LayerError, match="cannot read the tree"):
        write(Path("/nonexistent/tree"))
