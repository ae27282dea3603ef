"""The tar writer: what it writes reads back the same in tarfile and in our strict reader."""

from __future__ import annotations

import io
import tarfile

from hypothesis import given, settings
from hypothesis import strategies as st

from builder.snapshot.streams import HashingReader
from builder.snapshot.tarstream import TarStream, member_xattrs
from builder.snapshot.tarwriter import TarHeader, TarWriter

names = st.lists(
    st.text(
        st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=60,
    ).filter(lambda part: part not in (".", "..")),
    min_size=1,
    max_size=6,
).map("/".join)
raw_names = (
    st.binary(min_size=1, max_size=30)
    .filter(lambda b: b"/" not in b and b"\x00" not in b and b not in (b".", b".."))
    .map(lambda b: b.decode("utf-8", "surrogateescape"))
)
kinds = st.sampled_from(
    [
        tarfile.REGTYPE,
        tarfile.DIRTYPE,
        tarfile.SYMTYPE,
        tarfile.LNKTYPE,
        tarfile.CHRTYPE,
        tarfile.FIFOTYPE,
    ]
)
ids = st.one_of(st.integers(0, 70000), st.integers(0, (1 << 32) - 2))
xattrs = st.dictionaries(
    st.sampled_from(["user.a", "user.b", "security.capability", "trusted.x"]),
    st.binary(max_size=40),
    max_size=3,
)


@st.composite
def headers(draw: st.DrawFn) -> TarHeader:
    kind = draw(kinds)
    name = draw(st.one_of(names, raw_names))
    size = draw(st.integers(0, 3000)) if kind == tarfile.REGTYPE else 0
    link = draw(st.one_of(names, raw_names)) if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
    major, minor = (
        (draw(st.integers(0, 4095)), draw(st.integers(0, 1 << 20)))
        if kind == tarfile.CHRTYPE
        else (0, 0)
    )
    return TarHeader(
        name,
        kind,
        draw(st.integers(0, 0o7777)),
        uid=draw(ids),
        gid=draw(ids),
        mtime=draw(st.integers(-(1 << 40), 1 << 40)),
        size=size,
        linkname=link,
        devmajor=major,
        devminor=minor,
        xattrs=tuple(sorted(draw(xattrs).items())),
    )


def write(entries: list[TarHeader]) -> bytes:
    out = io.BytesIO()
    writer = TarWriter(out)
    for header in entries:
        writer.add(header, io.BytesIO(b"z" * header.size))
    writer.close()
    return out.getvalue()


def check(member: tarfile.TarInfo, header: TarHeader) -> None:
    assert member.name == header.name
    assert member.type == header.kind
    assert (member.mode, member.uid, member.gid, int(member.mtime)) == (
        header.mode,
        header.uid,
        header.gid,
        header.mtime,
    )
    assert member.size == header.size
    assert member.linkname == header.linkname
    assert (member.devmajor, member.devminor) == (header.devmajor, header.devminor)
    assert member.uname == member.gname == ""
    assert member_xattrs(member) == dict(header.xattrs)


@settings(max_examples=150, deadline=None)
@given(st.lists(headers(), min_size=1, max_size=5))
def test_tarfile_reads_back_what_we_write(entries: list[TarHeader]) -> None:
    data = write(entries)
    assert len(data) % 512 == 0 and data.endswith(b"\x00" * 1024)
    with tarfile.open(
        fileobj=io.BytesIO(data), encoding="utf-8", errors="surrogateescape"
    ) as archive:
        members = archive.getmembers()
    assert len(members) == len(entries)
    for member, header in zip(members, entries, strict=True):
        check(member, header)
    stream = TarStream(HashingReader(io.BytesIO(data)))  # type: ignore[arg-type]
    for member, header in zip(stream, entries, strict=True):
        check(member, header)
        if member.isreg():
            assert stream.data().read() == b"z" * header.size


def test_small_entries_are_gathered() -> None:
    class Counting(io.BytesIO):
        writes = 0

        def write(self, data: bytes) -> int:  # type: ignore[override]
            self.writes += 1
            return super().write(data)

    sink = Counting()
    writer = TarWriter(sink)
    for n in range(1000):
        writer.add(TarHeader(f"f{n}", tarfile.REGTYPE, 0o644, size=10), io.BytesIO(b"0123456789"))
    writer.close()
    assert sink.writes == 1
    assert len(sink.getvalue()) == 1000 * 1024 + 1024


def test_short_source_is_an_error() -> None:
    writer = TarWriter(io.BytesIO())
    try:
        writer.add(TarHeader("f", tarfile.REGTYPE, 0o644, size=10), io.BytesIO(b"short"))
    except EOFError as e:
        assert "5 of 10 bytes missing" in str(e)
    else:
        raise AssertionError("no error")
