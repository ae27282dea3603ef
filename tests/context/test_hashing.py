"""Content digests of the context and of COPY selections, and the stat cache."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from builder.context import hashing
from builder.context.dockerignore import IgnoreMatcher
from builder.context.hashing import (
    SourceNotFoundError,
    clean_source,
    content_digest,
    file_sha256,
    selection_digest,
)
from builder.context.statcache import StatCache
from builder.context.walk import ContextError, walk_context
from builder.errors import PybuildError


def make_tree(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def digest(root: Path) -> str:
    return content_digest(root, walk_context(root))


def cached(tmp_path: Path, root: Path) -> StatCache:
    return StatCache.for_context(tmp_path / "cache", root, racy_window_ns=0)


# -- digest sensitivity ------------------------------------------------------


def _content(p: Path) -> None:
    p.write_text("hellp")


def _same_content_rewritten(p: Path) -> None:
    p.write_text("hello")


def _mode(p: Path) -> None:
    os.chmod(p, 0o755)


def _setuid(p: Path) -> None:
    os.chmod(p, 0o4644)


def _sticky_on_dir(p: Path) -> None:
    os.chmod(p.parent / "d", 0o1755)


def _uid(p: Path) -> None:
    os.chown(p, 1234, -1)


def _gid(p: Path) -> None:
    os.chown(p, -1, 4321)


def _link_target(p: Path) -> None:
    link = p.parent / "link"
    link.unlink()
    os.symlink("other", link)


def _mtime(p: Path) -> None:
    os.utime(p, ns=(5, 5))


def _atime_and_mtime_of_dir(p: Path) -> None:
    os.utime(p.parent / "d", ns=(7, 7))


def _rename(p: Path) -> None:
    p.rename(p.parent / "g")


def _new_file(p: Path) -> None:
    (p.parent / "d" / "new").write_text("")


def _empty_dir(p: Path) -> None:
    (p.parent / "e").mkdir()


@pytest.mark.parametrize(
    ("change", "differs"),
    [
        (_content, True),
        (_mode, True),
        (_setuid, True),
        (_sticky_on_dir, True),
        (_uid, True),
        (_gid, True),
        (_link_target, True),
        (_rename, True),
        (_new_file, True),
        (_empty_dir, True),
        (_mtime, False),
        (_atime_and_mtime_of_dir, False),
        (_same_content_rewritten, False),
    ],
)
def test_digest_sensitivity(tmp_path: Path, change: Callable[[Path], None], differs: bool) -> None:
    if change in (_uid, _gid):
        assert os.geteuid() == 0, "chown cases need root (the CI runs the suite as root)"
    root = tmp_path / "ctx"
    make_tree(root, {"f": "hello", "d/x": "x"})
    os.chmod(root / "f", 0o644)
    os.chmod(root / "d", 0o755)
    os.symlink("target", root / "link")
    cache = cached(tmp_path, root)
    before = content_digest(root, walk_context(root), cache)
    before_sel = selection_digest(root, ["f", "link", "d"], statcache=cache)
    change(root / "f")
    time.sleep(0.001)
    after = content_digest(root, walk_context(root), cache)
    assert (before != after) is differs
    # and the same answer without any cache
    assert (before != digest(root)) is differs
    if change not in (_rename, _empty_dir):
        after_sel = selection_digest(root, ["f", "link", "d"], statcache=cache)
        assert (before_sel.digest != after_sel.digest) is differs


def test_digest_format_and_empty(tmp_path: Path) -> None:
    assert content_digest(tmp_path, []) == "sha256:" + hashlib.sha256(b"").hexdigest()
    (tmp_path / "f").write_text("x")
    d = digest(tmp_path)
    assert d.startswith("sha256:") and len(d) == 71
    assert d == digest(tmp_path)


def test_file_sha256_is_the_content_hash(tmp_path: Path) -> None:
    data = os.urandom(1 << 20) + b"tail"
    (tmp_path / "big").write_bytes(data)
    (entry,) = walk_context(tmp_path)
    assert file_sha256(tmp_path, entry) == hashlib.sha256(data).hexdigest()


# -- the stat cache ----------------------------------------------------------


def _count_opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    opened: list[str] = []
    real = hashing._open_beneath

    def spy(root: str, relpath: str) -> int:
        opened.append(relpath)
        return real(root, relpath)

    monkeypatch.setattr(hashing, "_open_beneath", spy)
    return opened


def test_stat_cache_avoids_reads_across_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ctx"
    make_tree(root, {"a": "1", "b/c": "2", "b/d": "3"})
    opened = _count_opens(monkeypatch)
    cache = cached(tmp_path, root)
    first = content_digest(root, walk_context(root), cache)
    assert sorted(opened) == ["a", "b/c", "b/d"]
    cache.save()
    opened.clear()

    # a fresh cache object (a later build) reads the file and needs no reads
    cache2 = cached(tmp_path, root)
    assert len(cache2) == 3 and cache2.load_error is None
    assert content_digest(root, walk_context(root), cache2) == first
    assert opened == []
    assert cache2.hits == 3 and cache2.misses == 0

    # touching one file re-reads exactly that file
    (root / "b" / "c").write_text("2")
    assert content_digest(root, walk_context(root), cache2) == first
    assert opened == ["b/c"]


def test_unreadable_after_caching_still_hashes_from_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ctx"
    make_tree(root, {"a": "secret"})
    cache = cached(tmp_path, root)
    first = digest_with(root, cache)
    cache.save()

    def refuse(root: str, relpath: str) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(hashing, "_open_beneath", refuse)
    assert digest_with(root, cached(tmp_path, root)) == first
    # without the cache the read is attempted and fails with a typed error
    with pytest.raises(ContextError, match="Permission denied"):
        digest_with(root, None)


def digest_with(root: Path, cache: StatCache | None) -> str:
    return content_digest(root, walk_context(root), cache)


def test_same_size_same_mtime_rewrite_is_seen(tmp_path: Path) -> None:
    """Restoring mtime after a same-size rewrite cannot fool the cache: ctime changes."""
    root = tmp_path / "ctx"
    make_tree(root, {"a": "aaaa"})
    os.utime(root / "a", ns=(10**18, 10**18))
    cache = cached(tmp_path, root)
    first = digest_with(root, cache)
    time.sleep(0.01)
    (root / "a").write_text("bbbb")
    os.utime(root / "a", ns=(10**18, 10**18))
    assert digest_with(root, cache) != first


def test_racy_entries_are_not_stored(tmp_path: Path) -> None:
    root = tmp_path / "ctx"
    make_tree(root, {"a": "x"})
    cache = StatCache.for_context(tmp_path / "cache", root)  # default 100 ms window
    digest_with(root, cache)
    assert "a" not in cache  # just written: its stat cannot be trusted yet
    os.utime(root / "a", ns=(1, 1))
    time.sleep(0.15)  # ctime now older than the window
    digest_with(root, cache)
    assert "a" in cache


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"{",
        b"\x00\x01\x02",
        b"[]",
        b'{"version": 1, "context": null, "entries": {"a": [1, 2]}}',
        b'{"version": 99, "entries": {}}',
        b'{"version": 1, "entries": "nope"}',
        b"[" * 100_000,
    ],
)
def test_corrupt_cache_file_is_ignored_and_rebuilt(tmp_path: Path, garbage: bytes) -> None:
    root = tmp_path / "ctx"
    make_tree(root, {"a": "x", "b": "y"})
    expected = digest(root)
    cache = cached(tmp_path, root)
    assert cache.path is not None
    cache.path.parent.mkdir(parents=True, exist_ok=True)
    cache.path.write_bytes(garbage)
    cache = cached(tmp_path, root)
    assert len(cache) == 0
    assert digest_with(root, cache) == expected
    cache.save()
    rebuilt = cached(tmp_path, root)
    assert rebuilt.load_error is None and len(rebuilt) == 2


def test_truncated_cache_file_is_ignored(tmp_path: Path) -> None:
    root = tmp_path / "ctx"
    make_tree(root, {f"f{i}": str(i) for i in range(50)})
    cache = cached(tmp_path, root)
    expected = digest_with(root, cache)
    cache.save()
    assert cache.path is not None
    data = cache.path.read_bytes()
    cache.path.write_bytes(data[: len(data) // 2])
    again = cached(tmp_path, root)
    assert len(again) == 0 and again.load_error
    assert digest_with(root, again) == expected


def test_wrong_cached_digest_for_other_context_is_not_used(tmp_path: Path) -> None:
    root = tmp_path / "ctx"
    make_tree(root, {"a": "x"})
    cache = cached(tmp_path, root)
    digest_with(root, cache)
    cache.save()
    assert cache.path is not None
    data = json.loads(cache.path.read_text())
    data["context"] = "/somewhere/else"
    cache.path.write_text(json.dumps(data))
    assert len(cached(tmp_path, root)) == 0


def _hammer(cache_dir: str, root: str, n: int, rounds: int) -> None:
    for i in range(rounds):
        cache = StatCache.for_context(cache_dir, root, racy_window_ns=0)
        cache.put(f"p{n}-{i}", (1, 1, 1, 1, 1), "0" * 64, 10**19)
        cache.save()


def test_two_processes_never_leave_a_corrupt_file(tmp_path: Path) -> None:
    root = tmp_path / "ctx"
    root.mkdir()
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_hammer, args=(str(tmp_path / "c"), str(root), n, 40)) for n in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    final = StatCache.for_context(tmp_path / "c", root)
    assert final.load_error is None and len(final) >= 1
    assert [p.name for p in (tmp_path / "c").iterdir()] == [Path(str(final.path)).name]


def test_retain_forgets_removed_files(tmp_path: Path) -> None:
    root = tmp_path / "ctx"
    make_tree(root, {"a": "1", "b": "2"})
    cache = cached(tmp_path, root)
    digest_with(root, cache)
    (root / "b").unlink()
    cache.retain({e.relpath for e in walk_context(root)})
    assert "b" not in cache and "a" in cache


def test_memory_only_cache(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a": "1"})
    cache = StatCache(racy_window_ns=0)
    digest_with(tmp_path, cache)
    digest_with(tmp_path, cache)
    assert (cache.hits, cache.misses) == (1, 1)
    cache.save()  # a no-op


# -- selections --------------------------------------------------------------


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    make_tree(
        root,
        {
            "app.py": "a",
            "lib.py": "l",
            "README.md": "r",
            "src/x.py": "x",
            "src/sub/y.py": "y",
            "src/sub/z.txt": "z",
            "other/w": "w",
        },
    )
    return root


def selected(root: Path, *sources: str, matcher: IgnoreMatcher | None = None) -> list[str]:
    return list(selection_digest(root, list(sources), matcher).files)


def test_directory_source_selects_everything_below(ctx: Path) -> None:
    assert selected(ctx, "src") == ["src", "src/sub", "src/sub/y.py", "src/sub/z.txt", "src/x.py"]
    assert selected(ctx, "./src/") == selected(ctx, "src")


def test_dot_selects_the_whole_context(ctx: Path) -> None:
    sel = selection_digest(ctx, ["."])
    assert list(sel.files) == [e.relpath for e in walk_context(ctx)]
    assert sel.digest == digest(ctx)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*.py", ["app.py", "lib.py"]),
        ("src/*.py", ["src/x.py"]),
        ("src/*", ["src/sub", "src/sub/y.py", "src/sub/z.txt", "src/x.py"]),
        ("[al]*.py", ["app.py", "lib.py"]),
        ("?EADME.md", ["README.md"]),
        ("*/sub", ["src/sub", "src/sub/y.py", "src/sub/z.txt"]),
    ],
)
def test_wildcard_selection(ctx: Path, pattern: str, expected: list[str]) -> None:
    assert selected(ctx, pattern) == expected


def test_several_sources_are_merged_in_walk_order(ctx: Path) -> None:
    assert selected(ctx, "src/x.py", "app.py", "*.md", "app.py") == [
        "README.md",
        "app.py",
        "src/x.py",
    ]


def test_dockerignored_files_are_not_selected(ctx: Path) -> None:
    m = IgnoreMatcher.compile(["**/*.txt", "lib.py"])
    assert selected(ctx, "src", matcher=m) == ["src", "src/sub", "src/sub/y.py", "src/x.py"]
    with pytest.raises(SourceNotFoundError, match=r"excluded by \.dockerignore"):
        selected(ctx, "lib.py", matcher=m)


@pytest.mark.parametrize(
    ("source", "kind"),
    [("nope", "file not found"), ("*.go", "no source files were specified"), ("src/*.rs", "no")],
)
def test_source_matching_nothing_is_a_typed_error(ctx: Path, source: str, kind: str) -> None:
    with pytest.raises(SourceNotFoundError, match=kind) as info:
        selected(ctx, source)
    assert isinstance(info.value, PybuildError)
    assert info.value.source == source
    assert source in str(info.value)
    assert str(info.value).startswith("COPY failed")


def test_bad_wildcard_is_a_typed_error(ctx: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="COPY failed"):
        selected(ctx, "[a")


@pytest.mark.parametrize(
    ("source", "cleaned"),
    [
        ("../x", "x"),
        ("../../../../etc/passwd", "etc/passwd"),
        ("/etc/passwd", "etc/passwd"),
        ("a/../../b", "b"),
        ("./a//b/", "a/b"),
        ("..", ""),
        ("/", ""),
        ("", ""),
    ],
)
def test_clean_source_clamps_to_the_root(source: str, cleaned: str) -> None:
    assert clean_source(source) == cleaned


def test_escape_attempts_stay_inside_the_context(
    ctx: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ctx.parent / "outside").write_text("secret")
    opened = _count_opens(monkeypatch)
    assert selected(ctx, "../app.py") == ["app.py"]
    assert selected(ctx, "/src/x.py") == ["src/x.py"]
    assert selected(ctx, "..") == selected(ctx, ".")
    with pytest.raises(SourceNotFoundError):
        selected(ctx, "../outside")
    assert all(".." not in p and not p.startswith("/") for p in opened)


def test_symlink_to_etc_passwd_is_hashed_as_a_link(
    ctx: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.symlink("/etc/passwd", ctx / "passwd")
    os.symlink("../../../../etc", ctx / "sysetc")
    opened = _count_opens(monkeypatch)
    sel = selection_digest(ctx, ["passwd", "sysetc", "."])
    assert "passwd" in sel.files and "sysetc" in sel.files
    assert "passwd" not in opened and "sysetc" not in opened
    # the link is resolved inside the context: /etc/passwd → <context>/etc/passwd,
    # which does not exist there; nothing outside is read
    assert selected(ctx, "passwd") == ["passwd"]
    assert selected(ctx, "sysetc") == ["sysetc"]
    with pytest.raises(SourceNotFoundError):
        selected(ctx, "sysetc/passwd")


def test_symlink_source_covers_its_target_inside_the_context(ctx: Path) -> None:
    os.symlink("src/sub", ctx / "link")
    assert selected(ctx, "link") == ["link", "src/sub", "src/sub/y.py", "src/sub/z.txt"]
    before = selection_digest(ctx, ["link"]).digest
    (ctx / "src" / "sub" / "y.py").write_text("changed")
    assert selection_digest(ctx, ["link"]).digest != before
    # a symlink in the middle of a source path is followed, inside the context
    assert selected(ctx, "link/y.py") == ["src/sub/y.py"]
    os.symlink("/src", ctx / "abs")
    assert selected(ctx, "abs/x.py") == ["src/x.py"]


def test_symlink_loop_is_a_typed_error(ctx: Path) -> None:
    os.symlink("b", ctx / "a")
    os.symlink("a", ctx / "b")
    with pytest.raises(ContextError, match="too many levels"):
        selected(ctx, "a")


def test_explain_lists_the_changed_file(ctx: Path) -> None:
    before = selection_digest(ctx, ["src"])
    (ctx / "src" / "sub" / "z.txt").write_text("Z")
    os.chmod(ctx / "src" / "x.py", 0o600)
    after = selection_digest(ctx, ["src"])
    assert after.changed(before) == ["src/sub/z.txt", "src/x.py"]
    assert after.files["src/sub/z.txt"] != before.files["src/sub/z.txt"]


def test_reusing_one_walk(ctx: Path) -> None:
    entries = walk_context(ctx)
    assert selection_digest(ctx, ["src"], entries=entries) == selection_digest(ctx, ["src"])


def test_file_vanished_after_walk_is_a_typed_error(ctx: Path) -> None:
    entries = walk_context(ctx)
    (ctx / "app.py").unlink()
    with pytest.raises(ContextError, match=r"app\.py"):
        content_digest(ctx, entries)


def test_file_replaced_by_symlink_after_walk_is_not_followed(ctx: Path) -> None:
    entries = walk_context(ctx)
    (ctx / "src" / "sub").rename(ctx / "moved")
    os.symlink("/etc", ctx / "src" / "sub")
    with pytest.raises(ContextError):
        selection_digest(ctx, ["src"], entries=entries)
