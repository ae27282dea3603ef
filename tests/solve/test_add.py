"""ADD's file side: local archives, URLs from a local HTTP server, git from a local `git daemon`."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import http.server
import io
import lzma
import os
import shutil
import socket
import stat
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import zstandard

from builder.errors import BuildError
from builder.solve.copy.add import add_into
from builder.solve.copy.git import GitRef, parse_git_ref
from builder.solve.copy.kinds import SourceKind, source_kind
from builder.solve.copy.place import CopyReport
from builder.solve.copy.request import InlineFile
from builder.solve.copy.url import url_file_name
from tests.git_daemon import serve_git
from tests.solve.test_copy import (
    GROUP,
    PASSWD,
    T2001,
    File,
    Link,
    listing,
    make_tree,
    split_request,
)

# --------------------------------------------------------------------------
# Archives


def tar_bytes(members: list[tuple[str, str | bytes | None, dict[str, object]]]) -> bytes:
    """A tar: (name, content (None: a directory), TarInfo attributes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content, attrs in members:
            info = tarfile.TarInfo(name)
            info.mtime = T2001
            info.mode = 0o755 if content is None else 0o644
            data = content.encode() if isinstance(content, str) else content
            if content is None:
                info.type = tarfile.DIRTYPE
            else:
                info.size = len(data or b"")
            for key, value in attrs.items():
                setattr(info, key, value)
            if info.type != tarfile.REGTYPE:
                info.size = 0
            tar.addfile(info, io.BytesIO(data or b"") if info.size else None)
    return buffer.getvalue()


SAMPLE = tar_bytes(
    [
        ("pkg", None, {"mode": 0o750, "uid": 1000, "gid": 1001}),
        ("pkg/bin/tool", "#!/bin/sh\n", {"mode": 0o4755, "uid": 1000, "gid": 1001}),
        ("pkg/README", "read me", {}),
        ("pkg/link", None, {"type": tarfile.SYMTYPE, "linkname": "README"}),
    ]
)

COMPRESSORS = {
    "plain": lambda data: data,
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "root", {"etc/passwd": PASSWD, "etc/group": GROUP})


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "ctx", {})


def add(root: Path, ctx: Path | None, sources: list[str], dest: str, **kwargs: Any) -> CopyReport:
    """`add_into` from `ctx`; `kwargs` mixes request fields and `add_into`'s own keywords."""
    request, extra = split_request(sources, dest, ctx, kwargs)
    return add_into(root, request, **extra)


@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
def test_local_archives_are_unpacked_whatever_their_name(
    root: Path, ctx: Path, compression: str
) -> None:
    (ctx / "blob").write_bytes(COMPRESSORS[compression](SAMPLE))
    report = add(root, ctx, ["blob"], "/opt")  # no trailing slash: still a directory
    assert listing(root / "opt") == {
        "pkg": ("d", "0o750", 1000, 1001),
        "pkg/bin": ("d", "0o755", 0, 0),
        "pkg/bin/tool": ("f", "0o4755", 1000, 1001, b"#!/bin/sh\n"),
        "pkg/README": ("f", "0o644", 0, 0, b"read me"),
        "pkg/link": ("l", "README", 0, 0),
    }
    assert int((root / "opt/pkg/README").stat().st_mtime) == T2001
    assert report.paths == ("/opt",)
    assert [name for name in os.listdir(root / "opt") if name.startswith(".pybuild")] == []


def test_unpack_false_copies_the_archive(root: Path, ctx: Path) -> None:
    (ctx / "a.tar.gz").write_bytes(gzip.compress(SAMPLE))
    add(root, ctx, ["a.tar.gz"], "/opt/", unpack=False)
    assert os.listdir(root / "opt") == ["a.tar.gz"]


def test_files_that_only_look_like_archives_are_copied(root: Path, ctx: Path) -> None:
    make_tree(
        ctx,
        {
            "fake.tar.gz": "not gzip",
            "bad.gz": File(gzip.compress(b"not a tar" * 100)),
            "empty.tar": b"\0" * 1024,
        },
    )
    add(root, ctx, ["fake.tar.gz", "bad.gz", "empty.tar"], "/opt/")
    assert sorted(os.listdir(root / "opt")) == ["bad.gz", "empty.tar", "fake.tar.gz"]


def test_archive_merges_into_existing_directories(root: Path, ctx: Path) -> None:
    make_tree(
        root,
        {"opt/pkg/old": "kept", "opt/pkg/README": "replaced", "opt/pkg/bin": "a file, replaced"},
    )
    (ctx / "a.tar").write_bytes(SAMPLE)
    add(root, ctx, ["a.tar"], "/opt/")
    got = listing(root / "opt")
    assert got["pkg"] == ("d", "0o750", 1000, 1001)  # the archive's directory metadata
    assert got["pkg/old"][4] == b"kept"
    assert got["pkg/README"][4] == b"read me"
    assert got["pkg/bin"][0] == "d"


def test_chown_applies_to_unpacked_files_chmod_does_not(root: Path, ctx: Path) -> None:
    (ctx / "a.tar").write_bytes(SAMPLE)
    add(root, ctx, ["a.tar"], "/opt/", chown="app", chmod="600")
    got = listing(root / "opt")
    assert {(v[2], v[3]) for v in got.values()} == {(1000, 1001)}
    assert got["pkg/bin/tool"][1] == "0o4755"  # setuid survives the chown, --chmod ignored


@pytest.mark.parametrize(
    "member", [".wh.x", "d/.wh..wh..opq", ".wh.dir/inner"], ids=["file", "opaque", "parent"]
)
def test_whiteout_names_are_refused_at_add_time(root: Path, ctx: Path, member: str) -> None:
    """An ADDed archive is not a layer, and no layer can carry a plain file named `.wh.*`.

    Docker's and BuildKit's untar do not interpret the name, so the file would
    reach the layer, where it reads as a deletion. pybuild refuses it at ADD,
    naming the member, before anything is placed (never a late commit error).
    """
    make_tree(root, {"opt/x": "keep me", "opt/d/y": "keep me too"})
    (ctx / "a.tar").write_bytes(tar_bytes([("new", "n", {}), (member, "", {})]))
    before = listing(root)
    with pytest.raises(
        BuildError, match=r"ADD failed: cannot unpack /a\.tar: archive member"
    ) as info:
        add(root, ctx, ["a.tar"], "/opt/")
    assert repr(member) in info.value.message
    assert "cannot be stored in a layer" in info.value.message
    assert listing(root) == before
    assert (root / "opt/x").read_text() == "keep me"


@pytest.mark.parametrize(
    "members",
    [
        [("../escape", "x", {})],
        [("/abs/../../escape", "x", {})],
        [("link", None, {"type": tarfile.SYMTYPE, "linkname": "/"}), ("link/escape", "x", {})],
        [("hard", None, {"type": tarfile.LNKTYPE, "linkname": "../../etc/passwd"})],
    ],
    ids=["dotdot", "absolute-dotdot", "through-symlink", "hardlink-out"],
)
def test_hostile_archives_write_nothing(
    root: Path, ctx: Path, tmp_path: Path, members: list[tuple[str, str | None, dict[str, object]]]
) -> None:
    (ctx / "evil.tar").write_bytes(tar_bytes([("ok", "fine", {}), *members]))
    before = listing(root)
    with pytest.raises(BuildError, match=r"ADD failed: cannot unpack /evil\.tar"):
        add(root, ctx, ["evil.tar"], "/opt/")
    after = listing(root)
    assert {k: v for k, v in after.items() if k != "opt"} == before  # only /opt was made
    assert os.listdir(root / "opt") == []
    assert not (tmp_path / "escape").exists() and not (root / "escape").exists()


def test_archive_into_a_symlinked_destination_stays_in_the_root(
    root: Path, ctx: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    make_tree(root, {"opt": Link(str(outside))})
    (ctx / "a.tar").write_bytes(SAMPLE)
    add(root, ctx, ["a.tar"], "/opt/")
    assert os.listdir(outside) == []
    assert (root / str(outside).lstrip("/") / "pkg/README").is_file()


def test_local_sources_follow_copy_rules(root: Path, ctx: Path) -> None:
    make_tree(ctx, {"d/a.txt": "a", "d/b.log": "b", "secret": "s"})
    add(root, ctx, ["d"], "/d", excludes=["*.log"])
    assert sorted(os.listdir(root / "d")) == ["a.txt"]
    with pytest.raises(BuildError, match='ADD failed: "/secret": not found'):
        add(root, ctx, ["secret"], "/s", ignore=lambda rel: rel == "secret")
    add(root, ctx, [], "/h/", heredocs=[InlineFile("EOF", b"x")])
    assert (root / "h/EOF").read_text() == "x"


def test_checksum_rules(root: Path, ctx: Path) -> None:
    with pytest.raises(BuildError, match="checksum requires HTTP\\(S\\) or Git sources"):
        add(root, ctx, ["a"], "/a", checksum="sha256:" + "0" * 64)
    with pytest.raises(BuildError, match="checksum can't be specified for multiple sources"):
        add(root, ctx, ["http://x/a", "http://x/b"], "/a/", checksum="sha256:" + "0" * 64)


# --------------------------------------------------------------------------
# Source kinds


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("https://github.com/moby/buildkit.git", GitRef("https://github.com/moby/buildkit.git")),
        (
            "https://github.com/moby/buildkit.git#v0.10.1",
            GitRef("https://github.com/moby/buildkit.git", "v0.10.1"),
        ),
        ("https://host/r.git#main:sub/dir", GitRef("https://host/r.git", "main", "sub/dir")),
        (
            "git@github.com:moby/buildkit.git#v1:docs",
            GitRef("git@github.com:moby/buildkit.git", "v1", "docs"),
        ),
        ("git://127.0.0.1:9418/repo.git#tag", GitRef("git://127.0.0.1:9418/repo.git", "tag")),
        ("git://host/repo", GitRef("git://host/repo")),
        ("ssh://git@host/repo.git", GitRef("ssh://git@host/repo.git")),
        ("https://host/r.git?tag=v1&subdir=x", GitRef("https://host/r.git", "refs/tags/v1", "x")),
        (
            "https://host/r.git?branch=main&keep-git-dir=true",
            GitRef("https://host/r.git", "refs/heads/main", keep_git_dir=True),
        ),
        (
            "https://host/r.git?commit=abc1234",
            GitRef("https://host/r.git", "abc1234", checksum="abc1234"),
        ),
        ("https://host/file.tar.gz", None),
        ("http://host/repo", None),
        ("github.com/moby/buildkit", None),
        ("file:///srv/repo.git", None),
        ("./repo.git", None),
        ("src/", None),
    ],
)
def test_parse_git_ref(source: str, expected: GitRef | None) -> None:
    assert parse_git_ref(source) == expected


def test_git_query_errors() -> None:
    with pytest.raises(BuildError, match="unexpected query"):
        parse_git_ref("https://host/r.git?foo=bar")
    with pytest.raises(BuildError, match="branch conflicts with tag"):
        parse_git_ref("https://host/r.git?tag=a&branch=b")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://example.com/files/tool-1.0.tar.gz", "tool-1.0.tar.gz"),
        ("https://example.com/a%20b.txt?x=1#frag", "a b.txt"),
        ("https://example.com/", "__unnamed__"),
        ("https://example.com", "__unnamed__"),
        ("https://example.com/dir/", "dir"),
        ("https://example.com/%2e%2e", "__unnamed__"),
    ],
)
def test_url_file_name(url: str, name: str) -> None:
    assert url_file_name(url) == name
    assert source_kind(url) is SourceKind.HTTP


# --------------------------------------------------------------------------
# URLs, from a local HTTP server


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}

    def do_GET(self) -> None:
        status, headers, body = self.routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Handler.routes = {
        "/files/tool.sh": (
            200,
            {"Last-Modified": "Mon, 01 Jan 2001 00:00:00 GMT"},
            b"#!/bin/sh\necho tool\n",
        ),
        "/files/pkg.tar.gz": (200, {}, gzip.compress(SAMPLE)),
        "/": (200, {}, b"index"),
        "/moved": (302, {"Location": "/files/tool.sh"}, b""),
        "/broken": (500, {}, b"oops"),
    }
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_url_download_is_a_0600_file_named_after_the_url(root: Path, server: str) -> None:
    report = add(root, None, [f"{server}/files/tool.sh"], "/usr/local/bin/")
    path = root / "usr/local/bin/tool.sh"
    assert listing(root / "usr/local/bin") == {
        "tool.sh": ("f", "0o600", 0, 0, b"#!/bin/sh\necho tool\n")
    }
    assert int(path.stat().st_mtime) == T2001  # Last-Modified
    assert report.paths == ("/usr/local/bin/tool.sh",)


def test_url_to_a_file_path_with_chown_chmod(root: Path, server: str) -> None:
    add(root, None, [f"{server}/files/tool.sh"], "/tool", chown="app", chmod="755")
    assert listing(root)["tool"] == ("f", "0o755", 1000, 1001, b"#!/bin/sh\necho tool\n")


def test_url_without_last_modified_gets_the_epoch_and_a_default_name(
    root: Path, server: str
) -> None:
    add(root, None, [f"{server}/"], "/d/")
    assert (root / "d/__unnamed__").read_bytes() == b"index"
    assert (root / "d/__unnamed__").stat().st_mtime == 0


def test_url_redirects_are_followed(root: Path, server: str) -> None:
    add(root, None, [f"{server}/moved"], "/d/")
    assert (root / "d/moved").read_bytes() == b"#!/bin/sh\necho tool\n"


def test_url_archives_are_not_unpacked_unless_asked(root: Path, server: str) -> None:
    add(root, None, [f"{server}/files/pkg.tar.gz"], "/a/")
    assert os.listdir(root / "a") == ["pkg.tar.gz"]
    add(root, None, [f"{server}/files/pkg.tar.gz"], "/b/", unpack=True)
    assert (root / "b/pkg/README").read_text() == "read me"


def test_url_checksum(root: Path, server: str, ctx: Path) -> None:
    good = "sha256:" + hashlib.sha256(b"#!/bin/sh\necho tool\n").hexdigest()
    add(root, None, [f"{server}/files/tool.sh"], "/ok", checksum=good)
    assert (root / "ok").is_file()
    wrong = "sha256:" + "0" * 64
    (ctx / "local").write_text("x")
    with pytest.raises(BuildError, match=f"digest mismatch for .*: {good} \\(expected: {wrong}\\)"):
        add(root, None, [f"{server}/files/tool.sh"], "/bad", checksum=wrong)
    assert not (root / "bad").exists()
    with pytest.raises(BuildError, match="unsupported digest algorithm 'md5'"):
        add(root, None, [f"{server}/files/tool.sh"], "/bad", checksum="md5:" + "0" * 32)


def test_url_errors_write_nothing(root: Path, server: str, ctx: Path) -> None:
    (ctx / "local").write_text("x")
    with pytest.raises(BuildError, match="invalid response status 404"):
        add(root, ctx, ["local", f"{server}/missing"], "/d/")
    with pytest.raises(BuildError, match="invalid response status 500"):
        add(root, None, [f"{server}/broken"], "/d/")
    assert not (root / "d").exists()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BuildError, match=f"failed to download http://127.0.0.1:{port}/x"):
        add(root, None, [f"http://127.0.0.1:{port}/x"], "/d/", http_timeout=2)


# --------------------------------------------------------------------------
# git, from a local git daemon


def _git(cwd: Path, *args: str) -> str:
    env = {
        "PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t", "GIT_AUTHOR_DATE": "2001-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2001-01-01T00:00:00Z",
    }  # fmt: skip
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    if shutil.which("git") is None:
        pytest.fail("git is missing: apt-get install git")
    base = tmp_path_factory.mktemp("git")
    work = base / "work"
    work.mkdir()
    _git(work, "init", "-q", "-b", "main")
    make_tree(
        work, {"README": "v1", "app/run.sh": File("#!/bin/sh\n", mode=0o755), "app/conf": "c"}
    )
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "one")
    _git(work, "tag", "v1")
    commits = {"v1": _git(work, "rev-parse", "HEAD")}
    (work / "README").write_text("v2")
    _git(work, "commit", "-q", "-am", "two")
    commits["main"] = _git(work, "rev-parse", "HEAD")
    _git(base, "clone", "-q", "--bare", str(work), "repo.git")
    with serve_git(base) as server:
        yield f"{server}/repo.git", commits


def test_git_tag_checkout_without_dot_git(
    root: Path, git_server: tuple[str, dict[str, str]]
) -> None:
    url, _ = git_server
    report = add(root, None, [f"{url}#v1"], "/src")
    got = listing(root / "src")
    assert got["README"] == ("f", "0o644", 0, 0, b"v1")
    assert got["app/run.sh"][:2] == ("f", "0o755")
    assert ".git" not in got
    assert stat.S_IMODE((root / "src").stat().st_mode) == 0o755
    assert report.paths == ("/src",)


def test_git_default_branch_subdir_and_chown(
    root: Path, git_server: tuple[str, dict[str, str]]
) -> None:
    url, _ = git_server
    add(root, None, [url], "/head/")
    assert (root / "head/README").read_text() == "v2"
    add(root, None, [f"{url}#main:app"], "/app/", chown="app")
    assert sorted(listing(root / "app")) == ["conf", "run.sh"]
    assert (root / "app/conf").stat().st_uid == 1000


def test_git_commit_and_keep_git_dir(root: Path, git_server: tuple[str, dict[str, str]]) -> None:
    url, commits = git_server
    add(root, None, [f"{url}#{commits['v1']}"], "/c/", keep_git_dir=True)
    assert (root / "c/README").read_text() == "v1"
    assert (root / "c/.git").is_dir()


def test_git_checksum(root: Path, git_server: tuple[str, dict[str, str]]) -> None:
    url, commits = git_server
    add(root, None, [f"{url}#v1"], "/ok/", checksum=commits["v1"])
    with pytest.raises(
        BuildError,
        match=f"checksum mismatch .*: the commit is {commits['v1']}, expected {commits['main']}",
    ):
        add(root, None, [f"{url}#v1"], "/bad/", checksum=commits["main"])
    assert not (root / "bad").exists()


def test_git_missing_ref_or_subdir(root: Path, git_server: tuple[str, dict[str, str]]) -> None:
    url, _ = git_server
    with pytest.raises(BuildError, match=r"failed to fetch .*#nope"):
        add(root, None, [f"{url}#nope"], "/x/")
    with pytest.raises(BuildError, match="'nope' does not exist"):
        add(root, None, [f"{url}#v1:nope"], "/x/")
