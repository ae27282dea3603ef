"""The context walk: order, .dockerignore, symlinks, errors, speed."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from builder.context.dockerignore import IgnoreMatcher, load_ignore_patterns
from builder.context.walk import ContextEntry, ContextError, walk_context
from builder.errors import PybuildError


def make_tree(root: Path, files: dict[str, str | None]) -> None:
    """`None` makes a directory, a string a file with that content."""
    for rel, content in files.items():
        path = root / rel
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)


def paths(entries: list[ContextEntry]) -> list[str]:
    return [e.relpath for e in entries]


def test_order_is_walk_order_and_relpaths_are_clean(tmp_path: Path) -> None:
    make_tree(tmp_path, {"b": "", "a/z": "", "a/b/c": "", "a-b": "", "A": "", "a.txt": ""})
    entries = walk_context(tmp_path)
    # Go's filepath.Walk order: sorted names per directory, depth first.
    assert paths(entries) == ["A", "a", "a/b", "a/b/c", "a/z", "a-b", "a.txt", "b"]
    assert all(not p.startswith(("./", "/")) for p in paths(entries))


def test_entry_fields(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"12345")
    os.chmod(tmp_path / "f", 0o4751)
    os.utime(tmp_path / "f", ns=(1_000_000_000, 2_000_000_123))
    (tmp_path / "d").mkdir()
    os.symlink("f", tmp_path / "l")
    os.mkfifo(tmp_path / "p")
    by = {e.relpath: e for e in walk_context(tmp_path)}
    f = by["f"]
    st = os.lstat(tmp_path / "f")
    assert (f.kind, f.mode, f.uid, f.gid, f.size, f.mtime_ns) == (
        "file",
        st.st_mode,
        st.st_uid,
        st.st_gid,
        5,
        2_000_000_123,
    )
    assert stat.S_IMODE(f.mode) == 0o4751
    assert (f.inode, f.dev, f.ctime_ns) == (st.st_ino, st.st_dev, st.st_ctime_ns)
    assert f.link_target is None
    assert by["d"].kind == "dir"
    assert by["l"].kind == "symlink" and by["l"].link_target == "f"
    assert by["p"].kind == "other" and stat.S_ISFIFO(by["p"].mode)


def test_symlinks_are_recorded_never_followed(tmp_path: Path) -> None:
    os.symlink("/etc/passwd", tmp_path / "passwd")
    os.symlink("/etc", tmp_path / "etc")
    os.symlink("../../outside", tmp_path / "up")
    os.symlink("missing", tmp_path / "dangling")
    (tmp_path / "real").mkdir()
    os.symlink("real", tmp_path / "loop")
    os.symlink("loop2", tmp_path / "loop2")  # a link to itself
    entries = walk_context(tmp_path)
    assert paths(entries) == ["dangling", "etc", "loop", "loop2", "passwd", "real", "up"]
    by = {e.relpath: e for e in entries}
    assert by["passwd"].kind == "symlink"
    assert by["passwd"].link_target == "/etc/passwd"
    assert by["passwd"].size == len("/etc/passwd")  # the link's own size, not the target's
    assert by["etc"].kind == "symlink"  # never descended into
    assert by["loop"].kind == "symlink"
    assert by["up"].link_target == "../../outside"


def test_dockerignore_excludes_files_and_skips_dirs(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        {
            "src/main.py": "",
            "src/main.pyc": "",
            "node_modules/x/y.js": "",
            "build/a": "",
            "build/keep.txt": "",
            "docs/a.md": "",
            "secret.env": "",
        },
    )
    (tmp_path / ".dockerignore").write_text(
        "**/*.pyc\nnode_modules\nbuild\n!build/keep.txt\n*.env\ndocs/*\n"
    )
    matcher = load_ignore_patterns(tmp_path)
    assert paths(walk_context(tmp_path, matcher)) == [
        ".dockerignore",
        "build",
        "build/keep.txt",
        "docs",
        "src",
        "src/main.py",
    ]


def test_fully_excluded_directories_are_not_entered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path, {"node_modules/a/b": "", "keep": "", "docs/x": ""})
    matcher = IgnoreMatcher.compile(["node_modules", "docs/**"])
    seen: list[str] = []
    real_scandir = os.scandir

    def spy(path: str):
        seen.append(os.path.relpath(path, tmp_path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", spy)
    assert paths(walk_context(tmp_path, matcher)) == ["docs", "keep"]
    assert sorted(seen) == ["."]


def test_excluded_dir_with_exception_listed_only_when_something_kept(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a/x": "", "a/y.txt": "", "b/x": ""})
    matcher = IgnoreMatcher.compile(["a", "b", "!*/y.txt"])
    assert paths(walk_context(tmp_path, matcher)) == ["a", "a/y.txt"]


def test_empty_matcher_and_no_matcher_agree(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a/b": "x", "c": "y"})
    assert walk_context(tmp_path) == walk_context(tmp_path, IgnoreMatcher())


def test_non_utf8_names(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9")
    (tmp_path / name).write_text("x")
    (tmp_path / "cafe").write_text("x")
    (tmp_path / "caf\u00e9-utf8").write_text("x")
    # bytewise order: "cafe" < "caf\xc3\xa9-utf8" < "caf\xe9"
    assert paths(walk_context(tmp_path)) == ["cafe", "caf\u00e9-utf8", name]


def test_unreadable_directory_is_a_typed_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path, {"ok/a": "", "locked/b": ""})
    real_scandir = os.scandir

    def deny(path: str):
        if path.endswith("locked"):
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", deny)
    with pytest.raises(ContextError) as info:
        walk_context(tmp_path)
    assert isinstance(info.value, PybuildError)
    assert info.value.path == str(tmp_path / "locked")
    assert "'locked'" in str(info.value) and "Permission denied" in str(info.value)


def test_unreadable_directory_for_a_real_user(tmp_path: Path) -> None:
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "f").write_text("x")
    os.chmod(tmp_path / "locked", 0)
    try:
        if os.geteuid() == 0:
            # root reads anything: the walk succeeds and lists the file
            assert "locked/f" in paths(walk_context(tmp_path))
        else:
            with pytest.raises(ContextError, match="locked"):
                walk_context(tmp_path)
    finally:
        os.chmod(tmp_path / "locked", 0o755)


def test_missing_or_non_directory_context(tmp_path: Path) -> None:
    with pytest.raises(ContextError, match="cannot read build context"):
        walk_context(tmp_path / "nope")
    (tmp_path / "file").write_text("")
    with pytest.raises(ContextError, match="not a directory"):
        walk_context(tmp_path / "file")


def test_twenty_thousand_files_walk_fast(tmp_path: Path) -> None:
    for d in range(100):
        sub = tmp_path / f"d{d:03}"
        sub.mkdir()
        for f in range(200):
            (sub / f"f{f:03}").write_bytes(b"")
    matcher = IgnoreMatcher.compile(["**/*.pyc", "!keep.pyc"])
    start = time.perf_counter()
    entries = walk_context(tmp_path, matcher)
    elapsed = time.perf_counter() - start
    assert len(entries) == 20_100
    assert elapsed < 1.0, f"walk took {elapsed:.2f}s"
