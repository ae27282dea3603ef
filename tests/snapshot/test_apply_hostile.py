"""apply_layer on hostile layers: a typed LayerError, and nothing outside dest touched."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from builder.errors import LayerError
from builder.snapshot.compression import compressing_writer
from tests.snapshot.helpers import Member, apply_bytes, dev, dir_, hard, reg, sym, tar_bytes

Case = Callable[[Path], list[Member]]


def _pax_named(name: str) -> Member:
    member = reg("placeholder", b"x")
    member.info.pax_headers = {"path": name}
    return member


HOSTILE: dict[str, tuple[Case, str]] = {
    "absolute name": (lambda s: [reg(str(s / "file"), b"pwned")], "absolute"),
    "absolute /etc": (lambda s: [reg("/etc/passwd", b"pwned")], "absolute"),
    "dotdot": (lambda s: [reg("../outside/file", b"pwned")], r"'\.\.'"),
    "dotdot inside": (lambda s: [dir_("a"), reg("a/../../outside/file", b"pwned")], r"'\.\.'"),
    "dotdot dir": (lambda s: [dir_("a/../..")], r"'\.\.'"),
    "symlink abs then write through": (
        lambda s: [sym("a", str(s)), reg("a/file", b"pwned")],
        "symlink",
    ),
    "symlink rel then write through": (
        lambda s: [sym("a", "../outside"), reg("a/new", b"pwned")],
        "symlink",
    ),
    "symlink dir then deeper file": (
        lambda s: [sym("a", str(s)), reg("a/sub/inner", b"pwned")],
        "symlink",
    ),
    "symlink then mkdir through": (lambda s: [sym("a", str(s)), dir_("a/newdir")], "symlink"),
    "symlink then symlink through": (lambda s: [sym("a", str(s)), sym("a/l", "/x")], "symlink"),
    "symlink to itself loop": (lambda s: [sym("a", "a"), reg("a/f", b"x")], "symlink"),
    "symlink to root dir": (lambda s: [sym("a", "."), reg("a/a/f", b"x")], "symlink"),
    "dir replaced by symlink": (
        lambda s: [dir_("d"), sym("d", str(s)), reg("d/file", b"pwned")],
        "symlink",
    ),
    "hardlink to /etc/passwd": (lambda s: [hard("h", "/etc/passwd")], "hardlink escapes"),
    "hardlink to absolute sentinel": (lambda s: [hard("h", str(s / "file"))], "hardlink escapes"),
    "hardlink dotdot": (lambda s: [hard("h", "../outside/file")], "hardlink escapes"),
    "hardlink through symlink": (
        lambda s: [sym("s", str(s)), hard("h", "s/file")],
        "hardlink escapes",
    ),
    "hardlink missing": (lambda s: [hard("h", "nothere")], "hardlink escapes"),
    "hardlink to dir": (lambda s: [dir_("d"), hard("h", "d")], "hardlink escapes"),
    "hardlink to itself": (lambda s: [hard("h", "h")], "hardlink escapes"),
    "whiteout dotdot name": (lambda s: [reg("../.wh.outside")], r"'\.\.'"),
    "whiteout of dotdot": (lambda s: [reg(".wh..."), reg("x")], "whiteout"),
    "whiteout of dot": (lambda s: [dir_("d"), reg("d/.wh..")], "whiteout"),
    "whiteout of nothing": (lambda s: [reg(".wh.")], "whiteout"),
    "whiteout through symlink": (lambda s: [sym("s", str(s)), reg("s/.wh.file")], "symlink"),
    "opaque through symlink": (lambda s: [sym("s", str(s)), reg("s/.wh..wh..opq")], "symlink"),
    "huge name": (lambda s: [reg("a/" * 33000 + "f", b"x")], "longer than 65536"),
    "huge component": (lambda s: [reg("x" * 300, b"x")], "name too long"),
    "nul in name": (lambda s: [_pax_named("a\x00b")], "NUL"),
    "file under a file": (lambda s: [reg("f", b"x"), reg("f/g", b"y")], "not a directory"),
    "root replaced by file": (lambda s: [reg("./", b"x")], "image root"),
    "bad uid": (lambda s: [reg("f", b"x", uid=1 << 40)], "out of range"),
    "empty symlink": (lambda s: [sym("l", "")], "empty target"),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_layer_is_refused(case: str, dest: Path, sentinel: Path) -> None:
    build, message = HOSTILE[case]
    data = tar_bytes(*build(sentinel))
    with pytest.raises(LayerError, match=message):
        apply_bytes(data, dest)


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_layer_is_refused_in_overlay_mode(
    case: str, dest: Path, sentinel: Path, root_user: None
) -> None:
    build, message = HOSTILE[case]
    with pytest.raises(LayerError, match=message):
        apply_bytes(tar_bytes(*build(sentinel)), dest, overlay=True)


def test_lower_layer_symlink_is_not_followed(dest: Path, sentinel: Path) -> None:
    """A symlink from a lower layer (already in dest) does not redirect a later layer."""
    os.symlink(sentinel, dest / "etc")
    with pytest.raises(LayerError, match="'etc' is a symlink"):
        apply_bytes(tar_bytes(reg("etc/file", b"pwned")), dest)
    with pytest.raises(LayerError, match="symlink"):
        apply_bytes(tar_bytes(reg("etc/.wh.file")), dest)
    with pytest.raises(LayerError, match="hardlink escapes"):
        apply_bytes(tar_bytes(hard("h", "etc/file")), dest)


def test_file_over_symlink_replaces_the_symlink(dest: Path, sentinel: Path) -> None:
    """A member overwriting a symlink replaces it; it never writes through it."""
    data = tar_bytes(sym("a", str(sentinel / "file")), reg("a", b"new content"))
    apply_bytes(data, dest)
    assert not (dest / "a").is_symlink()
    assert (dest / "a").read_bytes() == b"new content"
    # the same with the symlink in a lower layer
    os.symlink(sentinel / "file", dest / "b")
    os.symlink(sentinel / "sub", dest / "c")
    apply_bytes(tar_bytes(reg("b", b"new"), dir_("c"), reg("c/inner", b"new")), dest)
    assert (dest / "b").read_bytes() == b"new"
    assert (dest / "c").is_dir() and not (dest / "c").is_symlink()


def test_file_over_hardlink_does_not_write_into_the_shared_inode(dest: Path) -> None:
    (dest / "orig").write_bytes(b"original")
    data = tar_bytes(hard("h", "orig"), reg("h", b"replaced"))
    apply_bytes(data, dest)
    assert (dest / "orig").read_bytes() == b"original"
    assert (dest / "h").read_bytes() == b"replaced"


def test_whiteout_of_symlink_removes_the_link_only(dest: Path, sentinel: Path) -> None:
    os.symlink(sentinel, dest / "link")
    os.symlink(sentinel / "file", dest / "flink")
    apply_bytes(tar_bytes(reg(".wh.link"), reg(".wh.flink")), dest)
    assert not os.path.lexists(dest / "link") and not os.path.lexists(dest / "flink")


def test_opaque_dir_that_is_a_symlink_is_refused(dest: Path, sentinel: Path) -> None:
    os.symlink(sentinel, dest / "d")
    with pytest.raises(LayerError, match="symlink"):
        apply_bytes(tar_bytes(reg("d/.wh..wh..opq")), dest)


def test_overlay_xattrs_from_the_tar_are_ignored(dest: Path, root_user: None) -> None:
    info = dir_("d").info
    info.pax_headers = {
        "SCHILY.xattr.trusted.overlay.opaque": "y",
        "SCHILY.xattr.trusted.overlay.redirect": "/etc",
    }
    apply_bytes(tar_bytes(Member(info)), dest, overlay=True)
    assert os.listxattr(dest / "d") == []


def test_huge_pax_header_is_refused(dest: Path) -> None:
    info = reg("f", b"x").info
    info.pax_headers = {"comment": "x" * (2 << 20)}
    data = tar_bytes(Member(info, b"x"))
    with pytest.raises(LayerError, match="extended tar header"):
        apply_bytes(data, dest)


def test_sparse_file_is_refused(dest: Path) -> None:
    info = reg("f", b"").info
    info.type = tarfile.GNUTYPE_SPARSE
    data = tar_bytes(Member(info, b""), fmt=tarfile.GNU_FORMAT)
    with pytest.raises(LayerError, match="sparse"):
        apply_bytes(data, dest)


def test_unknown_entry_type_is_refused(dest: Path) -> None:
    info = reg("f", b"").info
    info.type = b"V"
    with pytest.raises(LayerError, match="unsupported tar entry type"):
        apply_bytes(tar_bytes(Member(info, b"")), dest)


# --------------------------------------------------------------------------- broken streams


def _gzip(data: bytes) -> bytes:
    out = io.BytesIO()
    writer = compressing_writer(out, "gzip")
    writer.write(data)
    writer.close()
    return out.getvalue()


def _zstd(data: bytes) -> bytes:
    out = io.BytesIO()
    writer = compressing_writer(out, "zstd")
    writer.write(data)
    writer.close()
    return out.getvalue()


LAYER = tar_bytes(dir_("d"), reg("d/f", os.urandom(50_000)), reg("g", b"x" * 20_000))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_gzip(LAYER)[:-1], id="gzip cut in trailer"),
        pytest.param(_gzip(LAYER)[:-8], id="gzip without trailer"),
        pytest.param(_gzip(LAYER)[: len(_gzip(LAYER)) // 2], id="gzip cut in half"),
        pytest.param(gzip.compress(LAYER)[:100], id="gzip cut early"),
        pytest.param(_gzip(LAYER) + b"garbage", id="gzip trailing garbage"),
        pytest.param(_zstd(LAYER)[:-1], id="zstd cut in checksum"),
        pytest.param(_zstd(LAYER)[: len(_zstd(LAYER)) // 2], id="zstd cut in half"),
        pytest.param(_zstd(LAYER) + b"garbage", id="zstd trailing garbage"),
        pytest.param(LAYER[:700], id="tar cut in data"),
        pytest.param(LAYER[:50_000], id="tar cut in big file"),
        pytest.param(LAYER[: 1536 + 300], id="tar cut in header"),
        pytest.param(b"\x00" * 100 + b"not a tar at all" * 50, id="wrong magic"),
        pytest.param(os.urandom(4096), id="random bytes"),
        pytest.param(b"PK\x03\x04" + os.urandom(2000), id="zip file"),
    ],
)
def test_truncated_or_corrupt_stream(data: bytes, dest: Path, sentinel: Path) -> None:
    with pytest.raises(LayerError, match="truncated or corrupt"):
        apply_bytes(data, dest)


def test_corrupt_header_in_the_middle_is_not_a_quiet_end(dest: Path) -> None:
    data = bytearray(tar_bytes(reg("a", b"x"), reg("b", b"y"), reg("c", b"z")))
    # The second member's header starts after a's PAX-less header + 1 data block.
    data[1024 + 148] ^= 0x55  # damage its checksum field
    with pytest.raises(LayerError, match="truncated or corrupt"):
        apply_bytes(bytes(data), dest)


def test_corrupt_gzip_payload(dest: Path) -> None:
    data = bytearray(gzip.compress(LAYER))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(LayerError, match="truncated or corrupt"):
        apply_bytes(bytes(data), dest)


def test_unknown_compression_name(dest: Path) -> None:
    with pytest.raises(LayerError, match="unknown compression"):
        apply_bytes(LAYER, dest, compression="lz4")


def test_devices_need_root(dest: Path) -> None:
    """Not allowed: device nodes and FIFOs are skipped, not an error."""
    data = tar_bytes(
        dev("null", tarfile.CHRTYPE, 1, 3), dev("fifo", tarfile.FIFOTYPE), reg("f", b"x")
    )
    result = apply_bytes(data, dest, allow_devices=False)
    assert sorted(os.listdir(dest)) == ["f"]
    assert result.entries == 3


def _with_pax(member: Member, **records: str) -> Member:
    member.info.pax_headers = dict(records)
    return member


@pytest.mark.parametrize(
    "members",
    [
        pytest.param([_with_pax(reg("big", b"x"), size=str(10**15))], id="huge pax size"),
        pytest.param(
            [_with_pax(reg(".wh..wh.plnk/skipped", b"x"), size=str(10**15))],
            id="huge size, skipped entry",
        ),
        pytest.param([_with_pax(reg("f", b"x"), size="-5")], id="negative pax size"),
        pytest.param([_with_pax(reg("f", b"x"), uid="nope")], id="pax uid not a number"),
        pytest.param([_with_pax(reg("f", b"x"), mtime="1e400")], id="pax mtime infinite"),
    ],
)
def test_hostile_pax_numbers(members: list[Member], dest: Path) -> None:
    with pytest.raises(LayerError):
        apply_bytes(tar_bytes(*members), dest)


def test_malformed_pax_records(dest: Path) -> None:
    data = bytearray(tar_bytes(_with_pax(reg("f", b"x"), comment="abc")))
    records = data[512:1024]
    assert records.startswith(b"15 comment=abc\n")
    data[512:514] = b"99"  # a record longer than the header
    with pytest.raises(LayerError, match="malformed PAX record"):
        apply_bytes(bytes(data), dest)


def test_long_chain_of_extended_headers(dest: Path) -> None:
    data = tar_bytes(_with_pax(reg("f", b"x"), comment="c"))
    pax = data[:1024]
    assert apply_bytes(pax * 3 + data, dest).entries == 1
    with pytest.raises(LayerError, match="extended headers in a row"):
        apply_bytes(pax * 1000 + data, dest)


def test_gnu_and_ustar_long_names(dest: Path) -> None:
    long_name = "d" * 90 + "/" + "e" * 90 + "/" + "f" * 90
    apply_bytes(
        tar_bytes(reg(long_name, b"gnu"), sym("l" * 150, "t" * 200), fmt=tarfile.GNU_FORMAT), dest
    )
    assert (dest / long_name).read_bytes() == b"gnu"
    assert os.readlink(dest / ("l" * 150)) == "t" * 200
    prefixed = "p" * 100 + "/" + "n" * 50
    apply_bytes(tar_bytes(reg(prefixed, b"ustar"), fmt=tarfile.USTAR_FORMAT), dest)
    assert (dest / prefixed).read_bytes() == b"ustar"


def test_global_pax_header_is_ignored(dest: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(
        fileobj=buf,
        mode="w",
        format=tarfile.PAX_FORMAT,
        pax_headers={"uid": "4242", "comment": "git"},
    ) as tar:
        member = reg("f", b"x")
        tar.addfile(member.info, io.BytesIO(member.data))
    apply_bytes(buf.getvalue(), dest)
    assert (dest / "f").stat().st_uid == os.geteuid()


def test_replaced_directory_is_not_reached_through_a_stale_handle(
    dest: Path, sentinel: Path
) -> None:
    """Directory handles are cached; replacing a directory must drop them."""
    data = tar_bytes(dir_("a/b"), reg("a/b/c", b"1"), sym("a", str(sentinel)), reg("a/b/d", b"2"))
    with pytest.raises(LayerError, match="'a' is a symlink"):
        apply_bytes(data, dest)
    data = tar_bytes(dir_("x/y"), reg("x/y/c", b"1"), reg("x", b"file"), reg("x/y/d", b"2"))
    with pytest.raises(LayerError, match="'x' is not a directory"):
        apply_bytes(data, dest)
    data = tar_bytes(dir_("p/q"), reg("p/q/c", b"1"), reg(".wh.p"), reg("p/q/d", b"2"))
    apply_bytes(data, dest)  # p is this layer's: the whiteout leaves it
    assert sorted(os.listdir(dest / "p/q")) == ["c", "d"]


def test_hardlink_to_a_lower_layer(dest: Path) -> None:
    """Flatten mode: the lower layer is under dest, so the link is made. Overlay mode
    unpacks a layer alone (as Docker's overlay2 does): the link is refused, saying why."""
    (dest / "lower").write_bytes(b"from below")
    apply_bytes(tar_bytes(hard("link", "lower")), dest)
    assert (dest / "link").read_bytes() == b"from below"
    assert (dest / "link").stat().st_ino == (dest / "lower").stat().st_ino

    alone = dest.parent / "alone"
    alone.mkdir()
    with pytest.raises(LayerError, match="hard link to a file of a lower layer"):
        apply_bytes(tar_bytes(hard("link", "lower")), alone, overlay=True)
    apply_bytes(tar_bytes(reg("same", b"own"), hard("link", "same")), alone, overlay=True)
    assert (alone / "link").read_bytes() == b"own"
