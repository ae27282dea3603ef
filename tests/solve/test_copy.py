"""COPY's file side on real trees: sources in a context, a destination root, checked entry by entry.

Run as root (owners are checked). The rules come from BuildKit's dockerfile
frontend (`dispatchCopy`) and fsutil's copier; each test names the rule.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest

from builder.context.dockerignore import parse_ignore_file
from builder.errors import BuildError
from builder.solve.copy.dest import dest_path
from builder.solve.copy.files import CopyReport, chomp_heredoc, copy_into
from builder.solve.copy.request import CopyRequest, InlineFile

T2001 = 978_307_200  # 2001-01-01T00:00:00Z
T2002 = 1_009_843_200

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n"
GROUP = "root:x:0:\nstaff:x:50:\napp:x:1001:\n"


# --------------------------------------------------------------------------
# Building and reading trees


@dataclass(frozen=True)
class File:
    data: str | bytes = ""
    mode: int = 0o644
    mtime: int = T2001
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Dir:
    mode: int = 0o755
    mtime: int = T2001
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Link:
    target: str


@dataclass(frozen=True)
class Hard:
    other: str  #: relpath of an earlier file of the same tree


Spec = dict[str, "str | bytes | File | Dir | Link | Hard"]


def make_tree(root: Path, spec: Spec) -> Path:
    """Create `spec` below `root`; directories get their metadata last."""
    root.mkdir(parents=True, exist_ok=True)
    dirs: list[tuple[Path, Dir]] = []
    for rel, item in spec.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(item, (str, bytes)):
            item = File(item)
        if isinstance(item, File):
            data = item.data.encode() if isinstance(item.data, str) else item.data
            path.write_bytes(data)
            os.chown(path, item.uid, item.gid)
            path.chmod(item.mode)
            os.utime(path, (item.mtime, item.mtime))
        elif isinstance(item, Dir):
            path.mkdir(exist_ok=True)
            dirs.append((path, item))
        elif isinstance(item, Link):
            path.symlink_to(item.target)
        else:
            os.link(root / item.other, path)
    for path, item in reversed(dirs):
        os.chown(path, item.uid, item.gid)
        path.chmod(item.mode)
        os.utime(path, (item.mtime, item.mtime))
    return root


def listing(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry below `root`: kind, mode, owner and content / link target."""
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            rel = str(path.relative_to(root))
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("l", os.readlink(path), st.st_uid, st.st_gid)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("d", oct(mode), st.st_uid, st.st_gid)
            else:
                out[rel] = ("f", oct(mode), st.st_uid, st.st_gid, path.read_bytes())
    return out


def mtime(path: Path) -> int:
    return int(path.lstat().st_mtime)


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    return tmp_path / "ctx"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A destination root with users, like an image's."""
    return make_tree(tmp_path / "root", {"etc/passwd": PASSWD, "etc/group": GROUP})


def split_request(
    sources: list[str], dest: str, src_root: Path | None, kwargs: dict[str, Any]
) -> tuple[CopyRequest, dict[str, Any]]:
    """The request made of the `CopyRequest` fields of `kwargs`, and the other keywords."""
    names = {f.name for f in fields(CopyRequest)}
    shared = {key: value for key, value in kwargs.items() if key in names}
    extra = {key: value for key, value in kwargs.items() if key not in names}
    return CopyRequest(sources=sources, dest=dest, src_root=src_root, **shared), extra


def copy(root: Path, ctx: Path | None, sources: list[str], dest: str, **kwargs: Any) -> CopyReport:
    """`copy_into` from `ctx`; `kwargs` mixes request fields and `copy_into`'s own keywords."""
    request, extra = split_request(sources, dest, ctx, kwargs)
    return copy_into(root, request, **extra)


# --------------------------------------------------------------------------
# Destination rules


@pytest.mark.parametrize(
    ("workdir", "dest", "expected"),
    [
        ("/", "/app", "/app"),
        ("/", "/app/", "/app/"),
        ("/w", "x", "/w/x"),
        ("/w", "x/", "/w/x/"),
        ("/w", ".", "/w/"),
        ("/w", "", "/w/"),
        ("/w", "./", "/w/"),
        ("/w", "../up", "/up"),
        ("/", "/a/./", "/a/"),
        ("/", "/a/.", "/a/"),
        ("/", "//a//b", "/a/b"),
        ("/", "/", "/"),
        ("/", "/../..", "/"),
    ],
)
def test_dest_path_is_normalized_like_buildkit(workdir: str, dest: str, expected: str) -> None:
    assert dest_path(workdir, dest) == expected


def test_file_to_missing_path_becomes_that_file(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"a.txt": "A"})
    report = copy(root, ctx, ["a.txt"], "/opt/b.txt")
    assert (root / "opt/b.txt").read_text() == "A"
    assert report.paths == ("/opt/b.txt",)
    assert report.files == 1 and report.bytes == 1


def test_file_to_dest_with_slash_goes_inside(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"a.txt": "A"})
    report = copy(root, ctx, ["a.txt"], "/opt/")
    assert (root / "opt/a.txt").read_text() == "A"
    assert report.paths == ("/opt/a.txt",)


def test_file_to_existing_dir_without_slash_goes_inside(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"a.txt": "A"})
    copy(root, ctx, ["a.txt"], "/etc")
    assert (root / "etc/a.txt").read_text() == "A"


def test_dest_relative_to_workdir(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"a.txt": "A"})
    copy(root, ctx, ["a.txt"], "sub/", workdir="/work")
    copy(root, ctx, ["a.txt"], ".", workdir="/work2")
    assert (root / "work/sub/a.txt").is_file()
    assert (root / "work2/a.txt").is_file()


def test_directory_source_copies_its_contents(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"src/a": "1", "src/sub/b": "2", "src/sub": Dir(0o750)})
    report = copy(root, ctx, ["src"], "/app")
    assert listing(root / "app") == {
        "a": ("f", "0o644", 0, 0, b"1"),
        "sub": ("d", "0o750", 0, 0),
        "sub/b": ("f", "0o644", 0, 0, b"2"),
    }
    assert report.paths == ("/app",)


def test_missing_parents_are_0755_root_owned_and_new(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"a": "1"})
    copy(root, ctx, ["a"], "/x/y/z/")
    for rel in ("x", "x/y", "x/y/z"):
        st = (root / rel).stat()
        assert stat.S_IMODE(st.st_mode) == 0o755 and (st.st_uid, st.st_gid) == (0, 0)
        assert st.st_mtime > T2002


def test_missing_parents_belong_to_the_chown_user(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"a": "1"})
    copy(root, ctx, ["a"], "/x/y/", chown="app")
    for rel in ("x", "x/y", "x/y/a"):
        st = (root / rel).stat()
        assert (st.st_uid, st.st_gid) == (1000, 1001), rel


def test_directory_to_missing_dest_gets_0755_not_the_source_mode(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"src": Dir(0o700), "src/a": "1"})
    copy(root, ctx, ["src"], "/new")
    assert stat.S_IMODE((root / "new").stat().st_mode) == 0o755


def test_existing_dest_directory_keeps_its_metadata(root: Path, ctx: Path) -> None:
    make_tree(root, {"app": Dir(0o711, uid=7, gid=8)})
    make_tree(ctx, {"src": Dir(0o700, uid=5), "src/a": "1"})
    copy(root, ctx, ["src"], "/app", chmod="0777")
    st = (root / "app").stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o711, 7, 8)


def test_nested_existing_directory_takes_the_source_metadata(root: Path, ctx: Path) -> None:
    make_tree(root, {"app/sub": Dir(0o700, uid=7), "app/sub/old": "old"})
    make_tree(ctx, {"src/sub": Dir(0o755, mtime=T2001), "src/sub/new": "new"})
    copy(root, ctx, ["src"], "/app")
    st = (root / "app/sub").stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, int(st.st_mtime)) == (0o755, 0, T2001)
    assert sorted(os.listdir(root / "app/sub")) == ["new", "old"]  # merged


def test_existing_file_is_replaced(root: Path, ctx: Path) -> None:
    make_tree(root, {"app/a": File("old", mode=0o600, uid=5)})
    make_tree(ctx, {"a": "new"})
    copy(root, ctx, ["a"], "/app/")
    assert listing(root / "app") == {"a": ("f", "0o644", 0, 0, b"new")}


def test_file_over_existing_directory_is_an_error(root: Path, ctx: Path) -> None:
    make_tree(root, {"app/a/keep": "x"})
    make_tree(ctx, {"a": "new"})
    with pytest.raises(BuildError, match="cannot replace the directory /app/a with a file"):
        copy(root, ctx, ["a"], "/app/")
    assert (root / "app/a/keep").is_file()


def test_directory_over_existing_file_is_an_error(root: Path, ctx: Path) -> None:
    make_tree(root, {"app": "a file"})
    make_tree(ctx, {"src/a": "1"})
    with pytest.raises(BuildError, match="a file is there"):
        copy(root, ctx, ["src"], "/app")


def test_several_sources_need_a_directory_destination(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"a": "1", "b": "2"})
    with pytest.raises(BuildError, match="destination must be a directory and end with a /"):
        copy(root, ctx, ["a", "b"], "/out")
    assert not (root / "out").exists()  # checked before anything is written
    with pytest.raises(BuildError, match="more than one source file"):
        copy(root, ctx, ["*"], "/out")
    copy(root, ctx, ["a", "b"], "/etc")  # an existing directory is fine
    copy(root, ctx, ["a", "b"], "/out/")
    assert sorted(os.listdir(root / "out")) == ["a", "b"]


def test_copy_into_root(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"a": "1", "d/b": "2"})
    copy(root, ctx, ["a"], "/")
    copy(root, ctx, ["d"], "/")
    assert (root / "a").read_text() == "1" and (root / "b").read_text() == "2"
    copy(root, ctx, ["."], "/all/")
    assert (root / "all/d/b").is_file() and (root / "all/a").is_file()


# --------------------------------------------------------------------------
# Metadata


def test_mode_and_mtime_are_kept_owner_becomes_root(root: Path, ctx: Path) -> None:
    make_tree(
        ctx,
        {
            "src/run.sh": File("#!/bin/sh", mode=0o4755, mtime=T2001, uid=1234, gid=99),
            "src/secret": File("s", mode=0o600, mtime=T2002, uid=1234),
            "src/d": Dir(0o1777, mtime=T2002, uid=1234),
            "src": Dir(mtime=T2001),
        },
    )
    copy(root, ctx, ["src"], "/app")
    assert listing(root / "app") == {
        "run.sh": ("f", "0o4755", 0, 0, b"#!/bin/sh"),
        "secret": ("f", "0o600", 0, 0, b"s"),
        "d": ("d", "0o1777", 0, 0),
    }
    assert mtime(root / "app/run.sh") == T2001
    assert mtime(root / "app/secret") == T2002
    assert mtime(root / "app/d") == T2002


def test_owner_is_kept_from_another_stage(root: Path, tmp_path: Path) -> None:
    stage = make_tree(tmp_path / "stage", {"home/u/f": File("x", uid=1000, gid=1001)})
    (stage / "home/u").chmod(0o700)
    os.chown(stage / "home/u", 1000, 1001)
    copy(root, stage, ["/home"], "/h", source_is_context=False)
    assert listing(root / "h") == {
        "u": ("d", "0o700", 1000, 1001),
        "u/f": ("f", "0o644", 1000, 1001, b"x"),
    }


def test_xattrs_come_from_a_stage_but_not_from_the_context(root: Path, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"bin/ping": File("elf", mode=0o755)})
    os.setxattr(src / "bin/ping", "user.origin", b"stage")
    os.setxattr(
        src / "bin/ping", "security.capability", bytes.fromhex("0100000200200000" + "00" * 12)
    )
    copy(root, src, ["bin/ping"], "/ctx/")
    copy(root, src, ["bin/ping"], "/stage/", source_is_context=False)
    assert os.listxattr(root / "ctx/ping") == []
    assert os.getxattr(root / "stage/ping", "user.origin") == b"stage"
    assert os.getxattr(root / "stage/ping", "security.capability")[:4] == bytes.fromhex("01000002")


@pytest.mark.parametrize(
    ("chown", "ids"),
    [("app", (1000, 1001)), ("1000", (1000, 1000)), ("app:staff", (1000, 50)),
     ("1000:50", (1000, 50)), ("2000:app", (2000, 1001)), (":staff", (0, 50)), ((7, 8), (7, 8))],
)  # fmt: skip
def test_chown_names_are_resolved_in_the_destination(
    root: Path, ctx: Path, chown: str | tuple[int, int], ids: tuple[int, int]
) -> None:
    make_tree(ctx, {"src/f": "x", "src/l": Link("f"), "src/d/g": "y"})
    copy(root, ctx, ["src"], "/app", chown=chown)
    for rel in ("f", "l", "d", "d/g"):
        st = (root / "app" / rel).lstat()
        assert (st.st_uid, st.st_gid) == ids, rel


def test_chown_names_can_come_from_another_root(root: Path, ctx: Path, tmp_path: Path) -> None:
    """--link copies into an empty root: names are looked up in the stage."""
    empty = tmp_path / "link-layer"
    empty.mkdir()
    make_tree(ctx, {"f": "x"})
    copy(empty, ctx, ["f"], "/f", chown="app", user_root=root)
    st = (empty / "f").stat()
    assert (st.st_uid, st.st_gid) == (1000, 1001)


def test_unknown_chown_user_is_an_error(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"f": "x"})
    with pytest.raises(BuildError, match="unable to find user nobody"):
        copy(root, ctx, ["f"], "/f", chown="nobody")
    with pytest.raises(BuildError, match="unable to find group wheel"):
        copy(root, ctx, ["f"], "/f", chown="app:wheel")
    assert not (root / "f").exists()


def test_chown_keeps_setuid_bits(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"su": File("x", mode=0o4755)})
    copy(root, ctx, ["su"], "/su", chown="app")
    assert stat.S_IMODE((root / "su").stat().st_mode) == 0o4755


def test_chmod_octal_applies_to_files_and_directories_not_symlinks(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"src/f": File("x", mode=0o600), "src/d/g": "y", "src/l": Link("f")})
    copy(root, ctx, ["src"], "/app", chmod="755")
    got = listing(root / "app")
    assert got["f"][1] == "0o755" and got["d"][1] == "0o755" and got["d/g"][1] == "0o755"
    assert got["l"][0] == "l"
    assert stat.S_IMODE((root / "app").stat().st_mode) == 0o755  # MkdirAll's, not --chmod's


def test_chmod_symbolic(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"src/f": File("x", mode=0o640), "src/x": File("x", mode=0o700), "src/d/g": "y"})
    copy(root, ctx, ["src"], "/app", chmod="u=rwX,go=rX")
    got = listing(root / "app")
    assert (got["f"][1], got["x"][1], got["d"][1], got["d/g"][1]) == (
        "0o644", "0o755", "0o755", "0o644",
    )  # fmt: skip


def test_chmod_with_special_bits(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"f": File("x", mode=0o4755)})
    copy(root, ctx, ["f"], "/a", chmod="0700")
    copy(root, ctx, ["f"], "/b", chmod="2755")
    assert stat.S_IMODE((root / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "b").stat().st_mode) == 0o2755


def test_bad_chmod_is_an_error_before_writing(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"f": "x"})
    with pytest.raises(BuildError, match="should be octal string and between 0 and 07777"):
        copy(root, ctx, ["f"], "/f", chmod="9999")
    with pytest.raises(BuildError, match="invalid chmod parameter: 'u\\+q'"):
        copy(root, ctx, ["f"], "/f", chmod="u+q")
    assert not (root / "f").exists()


def test_timestamp_overrides_times(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"src/f": "x", "src/d/g": "y"})
    copy(root, ctx, ["src"], "/new/app/", timestamp_ns=T2002 * 10**9)
    for rel in ("new/app/f", "new/app/d", "new/app/d/g"):
        assert mtime(root / rel) == T2002, rel


# --------------------------------------------------------------------------
# Links


def test_symlinks_inside_a_directory_are_copied_not_followed(root: Path, ctx: Path) -> None:
    make_tree(
        ctx, {"src/abs": Link("/etc/shadow"), "src/rel": Link("../../x"), "src/dir": Link("/etc")}
    )
    copy(root, ctx, ["src"], "/app")
    assert listing(root / "app") == {
        "abs": ("l", "/etc/shadow", 0, 0),
        "rel": ("l", "../../x", 0, 0),
        "dir": ("l", "/etc", 0, 0),
    }


def test_named_symlink_source_is_followed_inside_the_context(root: Path, ctx: Path) -> None:
    make_tree(
        ctx,
        {
            "real/f": "1",
            "to-dir": Link("real"),
            "to-file": Link("/real/f"),
            "chain": Link("to-file"),
        },
    )
    copy(root, ctx, ["to-dir"], "/d")
    copy(root, ctx, ["to-file", "chain"], "/f/")
    assert (root / "d/f").read_text() == "1"
    assert listing(root / "f") == {
        "to-file": ("f", "0o644", 0, 0, b"1"),  # named as asked, content of the target
        "chain": ("f", "0o644", 0, 0, b"1"),
    }


def test_symlinks_on_the_source_path_are_followed(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"real/sub/f": "1", "alias": Link("real")})
    copy(root, ctx, ["alias/sub/f"], "/f")
    assert (root / "f").read_text() == "1"


def test_hardlinks_inside_one_source_are_kept(root: Path, ctx: Path) -> None:
    make_tree(
        ctx,
        {"src/a": "same", "src/b": Hard("src/a"), "src/d/c": Hard("src/a"), "other": Hard("src/a")},
    )
    report = copy(root, ctx, ["src", "other"], "/app/")
    a, b, c = ((root / "app" / rel).stat() for rel in ("a", "b", "d/c"))
    assert a.st_ino == b.st_ino == c.st_ino and a.st_nlink == 3
    assert (root / "app/other").stat().st_ino != a.st_ino  # another source: a copy
    assert report.files == 2


def test_fifo_and_device_nodes_are_made_again(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"src/keep": "x"})
    os.mkfifo(ctx / "src/fifo", 0o640)
    os.mknod(ctx / "src/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    copy(root, ctx, ["src"], "/dev2")
    assert stat.S_ISFIFO((root / "dev2/fifo").lstat().st_mode)
    st = (root / "dev2/null").lstat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)


# --------------------------------------------------------------------------
# Missing sources and wildcards


def test_missing_source_is_an_error_naming_it(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"a": "1"})
    with pytest.raises(BuildError, match='COPY failed: "/nope/x": not found in the build context'):
        copy(root, ctx, ["a", "nope/x"], "/out/")
    assert not (root / "out").exists()  # all sources are checked first


def test_dangling_symlink_source_is_not_found(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"dangling": Link("missing")})
    with pytest.raises(BuildError, match='"/dangling": not found'):
        copy(root, ctx, ["dangling"], "/x")


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*.txt", ["a.txt", "b.txt"]),
        ("?.txt", ["a.txt", "b.txt"]),
        ("[a].txt", ["a.txt"]),
        ("[^a].txt", ["b.txt"]),
        ("d*/*.md", ["x.md", "y.md"]),
        ("*", ["a.txt", "b.txt", "c.md", "star*", "x.md", "y.md"]),  # d1/, d2/: their contents
        ("s[t]ar\\*", ["star*"]),  # an escaped star is a literal one
        ("d1/../*.md", ["c.md"]),
    ],
)
def test_wildcards_use_go_filepath_match(
    root: Path, ctx: Path, pattern: str, expected: list[str]
) -> None:
    make_tree(
        ctx, {"a.txt": "a", "b.txt": "b", "c.md": "c", "d1/x.md": "x", "d2/y.md": "y", "star*": "s"}
    )
    copy(root, ctx, [pattern], "/out/")
    assert sorted(os.listdir(root / "out")) == sorted(expected)


def test_wildcard_matching_nothing_copies_nothing(root: Path, ctx: Path) -> None:
    """BuildKit (AllowEmptyWildcard): `COPY requirements.* .` is fine when absent."""
    make_tree(ctx, {"a": "1"})
    report = copy(root, ctx, ["*.nothing"], "/out/")
    assert report.paths == ()
    with pytest.raises(BuildError, match="no source files were specified"):
        copy(root, ctx, ["*.nothing"], "/out/", allow_empty_wildcard=False)


def test_wildcard_under_a_missing_directory_is_an_error(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"a": "1"})
    with pytest.raises(BuildError, match='"/missing": not found'):
        copy(root, ctx, ["missing/*.txt"], "/out/")


def test_wildcard_does_not_walk_into_symlinked_directories(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"real/f.txt": "1", "alias": Link("real")})
    copy(root, ctx, ["*/f.txt"], "/out/")
    assert os.listdir(root / "out") == ["f.txt"]


def test_wildcard_matching_a_symlink_follows_it(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"real.txt": "1", "link.txt": Link("real.txt")})
    copy(root, ctx, ["link*"], "/out/")
    assert listing(root / "out") == {"link.txt": ("f", "0o644", 0, 0, b"1")}


# --------------------------------------------------------------------------
# .dockerignore, --exclude


def test_dockerignored_paths_are_invisible(root: Path, ctx: Path) -> None:
    make_tree(
        ctx,
        {
            "a": "1",
            "secret.key": "k",
            "src/x": "x",
            "src/tmp.log": "l",
            "keylink": Link("secret.key"),
        },
    )
    ignore = parse_ignore_file("*.key\n**/*.log\nkeylink\n")
    with pytest.raises(BuildError, match=r'"/secret\.key": not found'):
        copy(root, ctx, ["secret.key"], "/", ignore=ignore)
    with pytest.raises(BuildError, match='"/keylink": not found'):
        copy(root, ctx, ["keylink"], "/", ignore=ignore)
    copy(root, ctx, ["*"], "/all/", ignore=ignore)
    assert sorted(listing(root / "all")) == ["a", "x"]
    copy(root, ctx, ["."], "/ctx/", ignore=ignore)
    assert sorted(listing(root / "ctx")) == ["a", "src", "src/x"]


def test_symlink_to_an_ignored_file_is_not_found(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"secret": "k", "link": Link("secret")})
    with pytest.raises(BuildError, match='"/link": not found'):
        copy(root, ctx, ["link"], "/x", ignore=parse_ignore_file("secret\n"))


def test_ignore_exceptions_keep_only_what_they_name(root: Path, ctx: Path) -> None:
    make_tree(
        ctx, {"docs/a.md": "a", "docs/b.txt": "b", "docs/deep/c.md": "c", "docs/empty/x.txt": "x"}
    )
    ignore = parse_ignore_file("docs\n!docs/**/*.md\n")
    copy(root, ctx, ["docs"], "/d", ignore=ignore)
    assert sorted(listing(root / "d")) == ["a.md", "deep", "deep/c.md"]
    with pytest.raises(BuildError, match='"/docs/empty": not found'):
        copy(root, ctx, ["docs/empty"], "/e", ignore=ignore)


def test_ignore_can_be_a_plain_predicate(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"a": "1", "b": "2"})
    copy(root, ctx, ["."], "/out", ignore=lambda rel: rel == "b")
    assert sorted(os.listdir(root / "out")) == ["a"]


def test_exclude_patterns_are_relative_to_each_source(root: Path, ctx: Path) -> None:
    make_tree(
        ctx,
        {
            "src/a.go": "a",
            "src/a_test.go": "t",
            "src/sub/b_test.go": "t",
            "src/sub/keep_test.go": "k",
        },
    )
    copy(root, ctx, ["src"], "/app", excludes=["*_test.go", "sub/*_test.go", "!sub/keep_test.go"])
    assert sorted(listing(root / "app")) == ["a.go", "sub", "sub/keep_test.go"]


def test_exclude_applies_to_wildcard_matches(root: Path, ctx: Path) -> None:
    """The Dockerfile reference's example: `COPY --exclude=*.txt hom* /mydir/`."""
    make_tree(ctx, {"home.txt": "t", "home.md": "m", "homer/x.txt": "x", "homer/y.md": "y"})
    copy(root, ctx, ["hom*"], "/mydir/", excludes=["*.txt", "*.md"])
    assert listing(root / "mydir") == {}
    copy(root, ctx, ["hom*"], "/other/", excludes=["*.txt"])
    assert sorted(listing(root / "other")) == ["home.md", "y.md"]


def test_excluded_directory_is_not_made(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"src/node_modules/m/i.js": "x", "src/i.js": "y"})
    copy(root, ctx, ["src"], "/app", excludes=["node_modules"])
    assert sorted(listing(root / "app")) == ["i.js"]


# --------------------------------------------------------------------------
# --parents


def test_parents_keep_the_source_path(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"x/a.txt": "1", "y/a.txt": "2", "x": Dir(0o750, mtime=T2002)})
    report = copy(root, ctx, ["./x/a.txt", "y/a.txt"], "/parents", parents=True)
    assert listing(root / "parents") == {
        "x": ("d", "0o750", 0, 0),
        "x/a.txt": ("f", "0o644", 0, 0, b"1"),
        "y": ("d", "0o755", 0, 0),
        "y/a.txt": ("f", "0o644", 0, 0, b"2"),
    }
    assert mtime(root / "parents/x") == T2002  # parents are copies of the source's
    assert report.paths == ("/parents",)


def test_parents_with_a_pivot(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"a/b/c/d.txt": "d", "a/b/other": "o"})
    copy(root, ctx, ["a/./b/c/d.txt"], "/p/", parents=True)
    assert sorted(listing(root / "p")) == ["b", "b/c", "b/c/d.txt"]


def test_parents_with_double_star(root: Path, ctx: Path) -> None:
    """The reference's example: `COPY --parents ./src/**/*.txt /parents/`."""
    make_tree(
        ctx,
        {
            "src/a.txt": "a",
            "src/x/b.txt": "b",
            "src/x/y/c.txt": "c",
            "src/x/y/d.md": "d",
            "e.txt": "e",
        },
    )
    copy(root, ctx, ["./src/**/*.txt"], "/parents/", parents=True)
    assert sorted(p for p, v in listing(root / "parents").items() if v[0] == "f") == [
        "src/a.txt", "src/x/b.txt", "src/x/y/c.txt",
    ]  # fmt: skip


def test_parents_directory_source_comes_whole(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"a/b/c": "c", "a/b/d/e": "e", "a/z": "z"})
    copy(root, ctx, ["a/b"], "/p", parents=True, excludes=["a/b/d"])
    assert sorted(listing(root / "p")) == ["a", "a/b", "a/b/c"]


def test_parents_missing_path_is_an_error(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"a/b": "1"})
    with pytest.raises(BuildError, match='"/a/nope": not found'):
        copy(root, ctx, ["a/nope"], "/p/", parents=True)
    copy(root, ctx, ["a/*.none"], "/p/", parents=True)  # a wildcard may match nothing


# --------------------------------------------------------------------------
# Heredocs


def test_heredoc_sources_are_0644_files(root: Path, ctx: Path) -> None:
    body = chomp_heredoc("\t#!/bin/sh\n\techo hi\n")
    report = copy(root, None, [], "/app/", heredocs=[InlineFile("run.sh", body.encode())])
    assert listing(root / "app") == {"run.sh": ("f", "0o644", 0, 0, b"#!/bin/sh\necho hi\n")}
    assert report.paths == ("/app/run.sh",)
    copy(root, None, [], "/bin/hello", heredocs=[InlineFile("EOF", b"x")], chmod="755", chown="app")
    assert listing(root / "bin") == {"hello": ("f", "0o755", 1000, 1001, b"x")}


def test_heredocs_come_after_other_sources(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"EOF": "from the context"})
    copy(root, ctx, ["EOF"], "/out/", heredocs=[InlineFile("EOF", b"inline")])
    assert (root / "out/EOF").read_text() == "inline"


def test_heredoc_with_a_path_name_is_refused(root: Path) -> None:
    with pytest.raises(BuildError, match="cannot be the name of a file"):
        copy(root, None, [], "/x/", heredocs=[InlineFile("../evil", b"x")])


def test_urls_and_git_refs_are_refused_by_copy(root: Path, ctx: Path) -> None:
    with pytest.raises(BuildError, match="source can't be a URL for COPY"):
        copy(root, ctx, ["https://example.com/f"], "/x")
    with pytest.raises(BuildError, match="source can't be a git ref for COPY"):
        copy(root, ctx, ["https://example.com/repo.git"], "/x")


# --------------------------------------------------------------------------
# Hostile trees


def test_dotdot_source_stays_in_the_context(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"a": "1"})
    with pytest.raises(BuildError, match='"/etc/passwd": not found'):
        copy(root, ctx, ["../../etc/passwd"], "/stolen")
    make_tree(ctx, {"etc/passwd": "context's own"})
    copy(root, ctx, ["../../etc/passwd"], "/stolen")
    assert (root / "stolen").read_text() == "context's own"


def test_absolute_symlink_source_resolves_inside_the_context(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"evil": Link("/etc/passwd"), "climb": Link("../../../../etc/passwd")})
    for source in ("evil", "climb"):
        with pytest.raises(BuildError, match=f'"/{source}": not found'):
            copy(root, ctx, [source], "/stolen")
    make_tree(ctx, {"etc/passwd": "context's own"})
    copy(root, ctx, ["evil", "climb"], "/s/")
    assert (root / "s/evil").read_text() == (root / "s/climb").read_text() == "context's own"


def test_dest_symlink_leading_out_of_the_root_lands_inside_it(
    root: Path, ctx: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    make_tree(
        root,
        {"app": Link("/../../" + str(outside).lstrip("/")), "rel": Link("../../../../outside2")},
    )
    make_tree(ctx, {"a.txt": "A", "d/b": "B"})
    copy(root, ctx, ["a.txt"], "/app/")
    copy(root, ctx, ["d"], "/rel")
    assert os.listdir(outside) == []
    assert not (tmp_path / "outside2").exists()
    assert (root / str(outside).lstrip("/") / "a.txt").read_text() == "A"
    assert (root / "outside2/b").read_text() == "B"


def test_dest_symlink_to_a_file_outside_replaces_a_file_inside(
    root: Path, ctx: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    make_tree(root, {"tmp": Dir(), "target": Link(str(victim))})
    make_tree(ctx, {"a": "A"})
    copy(root, ctx, ["a"], "/target")
    assert victim.read_text() == "untouched"
    assert (root / str(victim).lstrip("/")).read_text() == "A"


def test_symlinks_inside_the_destination_tree_are_never_written_through(
    root: Path, ctx: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    make_tree(root, {"app/sub": Link(str(victim)), "app/f": Link(str(victim / "f"))})
    make_tree(ctx, {"src/f": "new", "src/sub/x": "x"})
    with pytest.raises(BuildError, match="cannot copy a directory to /app/sub"):
        copy(root, ctx, ["src"], "/app")
    assert os.listdir(victim) == []
    assert (root / "app/f").read_text() == "new"  # the symlink was replaced, not followed
    assert not (root / "app/f").is_symlink()


def test_dest_through_a_file_is_an_error(root: Path, ctx: Path) -> None:
    make_tree(root, {"file": "x"})
    make_tree(ctx, {"a": "1"})
    with pytest.raises(BuildError, match="not a directory"):
        copy(root, ctx, ["a"], "/file/sub/")


def test_symlink_loops_are_errors_not_hangs(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"a": Link("b"), "b": Link("a")})
    with pytest.raises(BuildError, match="too many levels of symbolic links"):
        copy(root, ctx, ["a"], "/x")
    make_tree(root, {"loop": Link("/loop")})
    make_tree(ctx, {"f": "1"})
    with pytest.raises(BuildError, match="/loop"):
        copy(root, ctx, ["f"], "/loop/")


def test_deep_trees_are_copied_without_recursion(root: Path, ctx: Path) -> None:
    deep = ctx / "src" / "/".join(["d"] * 300)
    deep.mkdir(parents=True)
    (deep / "leaf").write_text("bottom")
    copy(root, ctx, ["src"], "/deep")
    assert (root / "deep" / "/".join(["d"] * 300) / "leaf").read_text() == "bottom"
