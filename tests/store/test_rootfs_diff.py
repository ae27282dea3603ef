"""`pybuild diff IMAGE1 IMAGE2`: two built images' root filesystems, compared from their layers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.store import Store
from builder.store.rootfs_diff import Entry, diff_images, diff_trees, image_tree
from tests.cli.test_image_commands import ok, run
from tests.solve.building import busybox_store, run_build, write_context

BEFORE = """
    FROM busybox
    RUN mkdir -p /d/sub /opq /todir && echo a > /d/sub/f && echo m > /mode && ln -s a /sym \\
        && echo o > /opq/old && echo t > /tofile && echo k > /todir/k && echo s > /same \\
        && echo h > /hard && ln /hard /hard2
"""
#: built on BEFORE: a deletion (whiteout), an opaque directory, type changes, a new file
AFTER = """
    FROM before:1
    RUN rm -rf /d /opq && mkdir /opq && echo n > /opq/new && chmod 600 /mode && ln -sf b /sym \\
        && rm /tofile && mkdir /tofile && rm -rf /todir && echo x > /todir && echo y > /new \\
        && echo H > /hard
"""


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs_tar: Path) -> Store:
    tmp = tmp_path_factory.mktemp("rootfs-diff")
    store = busybox_store(tmp / "store", busybox_rootfs_tar)
    run_build(store, write_context(tmp / "before", BEFORE), tags=["before:1"])
    after = write_context(tmp / "after", AFTER)
    run_build(store, after, tags=["after:1"])
    return store


def test_added_deleted_and_changed_paths(images: Store) -> None:
    before, after = images.resolve("before:1"), images.resolve("after:1")
    changes = diff_images(images, before, after, ignore_mtime=True)  # the seconds may tick
    kinds = {c.path: c.kind for c in changes}
    assert kinds == {
        "/d": "D",  # what was below it is not listed, as docker diff prints a deletion
        "/hard": "C",  # (overlayfs copied /hard up alone: /hard2 keeps the old content)
        "/mode": "C",
        "/new": "A",
        "/opq/new": "A",
        "/opq/old": "D",  # gone below an opaque directory
        "/sym": "C",
        "/todir": "C",
        "/todir/k": "D",
        "/tofile": "C",
    }
    fields = {c.path: c.fields for c in changes if c.kind == "C"}
    assert fields["/mode"] == ("mode",)
    assert fields["/sym"] == ("linkname",)
    assert fields["/todir"][0] == "type" and fields["/tofile"][0] == "type"
    assert fields["/hard"] == ("digest",)
    with_mtimes = {c.path for c in diff_images(images, before, after)}
    assert with_mtimes >= set(kinds)
    by_path = {c.path: c for c in changes}
    assert by_path["/todir"].old is not None and by_path["/todir"].old.type == "dir"
    assert by_path["/todir"].new is not None and by_path["/todir"].new.type == "file"
    assert by_path["/sym"].new is not None and by_path["/sym"].new.linkname == "b"
    same = diff_images(images, images.resolve("after:1"), images.resolve("after:1"))
    assert same == []


def test_the_tree_follows_whiteouts_and_hard_links(images: Store) -> None:
    before = image_tree(images, images.resolve("before:1"))
    after = image_tree(images, images.resolve("after:1"))
    assert "/d/sub/f" in before and "/d" not in after and "/d/sub/f" not in after
    assert "/opq/old" in before and "/opq/old" not in after and "/opq/new" in after
    assert (
        before["/hard2"].hardlink == "/hard" and before["/hard2"].digest == before["/hard"].digest
    )
    assert before["/bin/busybox"] == after["/bin/busybox"]  # from the base layer, untouched


def test_mtime_only_changes_can_be_ignored() -> None:
    old = {
        "/a": Entry("file", 0o644, 0, 0, 1, "sha256:x", mtime=1),
        "/b": Entry("dir", 0o755, 0, 0),
    }
    new = {
        "/a": Entry("file", 0o644, 0, 0, 1, "sha256:x", mtime=2),
        "/b": Entry("dir", 0o700, 0, 0),
    }
    assert [(c.path, c.fields) for c in diff_trees(old, new)] == [
        ("/a", ("mtime",)),
        ("/b", ("mode",)),
    ]
    assert [c.path for c in diff_trees(old, new, ignore_mtime=True)] == ["/b"]


def test_the_command_prints_docker_diff_lines_and_json(images: Store) -> None:
    root = Path(images.root)
    text = ok(root, "diff", "before:1", "after:1")
    assert "D /d\n" in text and "A /new\n" in text and "C /sym\n" in text
    assert text.splitlines() == sorted(text.splitlines(), key=lambda line: line[2:])
    assert ok(root, "image", "diff", "before:1", "after:1") == text
    lines = ok(root, "diff", "--format", "json", "before:1", "after:1").splitlines()
    records = [json.loads(line) for line in lines]
    sym = next(r for r in records if r["path"] == "/sym")
    assert sym["kind"] == "C" and "linkname" in sym["fields"]
    assert sym["old"]["linkname"] == "a" and sym["new"]["linkname"] == "b"
    assert sym["new"]["mode"] == "0777" and sym["new"]["type"] == "symlink"
    assert ok(root, "diff", "after:1", "after:1") == ""


def test_unknown_images_and_wrong_arguments_are_clear_errors(images: Store) -> None:
    root = Path(images.root)
    missing = run(root, "diff", "before:1", "nothere:1")
    assert (
        missing.returncode != 0 and "nothere:1" in missing.stderr and "not found" in missing.stderr
    )
    three = run(root, "diff", "a", "b", "c")
    assert three.returncode == 2 and "a container or two images" in three.stderr
    bad = run(root, "diff", "--format", "yaml", "before:1", "after:1")
    assert bad.returncode == 2 and "--format 'yaml'" in bad.stderr
    container = run(root, "diff", "--ignore-mtime", "somecontainer")
    assert container.returncode == 2 and "two images" in container.stderr
