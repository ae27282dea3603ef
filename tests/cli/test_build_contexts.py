"""`--build-context NAME=VALUE` and remote build contexts (git, HTTP tarballs), as buildx."""

from __future__ import annotations

import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from tests.cli.test_image_commands import ok, run
from tests.git_daemon import serve_git
from tests.solve.test_add import _git


def _context(tmp_path: Path, dockerfile: str, name: str = "ctx") -> Path:
    context = tmp_path / name
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    return context


def _extra(tmp_path: Path, files: dict[str, str]) -> Path:
    extra = tmp_path / "extra"
    extra.mkdir(exist_ok=True)
    for name, text in files.items():
        (extra / name).write_text(text)
    return extra


@pytest.fixture
def store(tmp_path: Path, busybox_rootfs_tar: Path) -> Path:
    root = tmp_path / "store"
    ok(root, "import", str(busybox_rootfs_tar), "busybox:latest")
    return root


def test_copy_and_mount_from_a_local_named_context(tmp_path: Path, store: Path) -> None:
    extra = _extra(tmp_path, {"a.txt": "from extra\n", "skip.txt": "x", ".dockerignore": "skip*"})
    context = _context(
        tmp_path,
        "FROM busybox AS extra\nRUN exit 1\n"  # replaced by the named context: never runs
        "FROM busybox\nCOPY --from=extra a.txt /a\n"
        "RUN --mount=from=extra,target=/m cat /m/a.txt > /b\n"
        "COPY --from=extra . /all/\n",
    )
    out = tmp_path / "out"
    proc = run(
        store, "build", "--progress", "plain", "--build-context", f"extra={extra}",
        "-o", f"type=local,dest={out}", str(context),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "a").read_text() == "from extra\n"
    assert (out / "b").read_text() == "from extra\n"
    assert (out / "a").stat().st_uid == 0
    assert sorted(p.name for p in (out / "all").iterdir()) == [".dockerignore", "a.txt"]


def test_cache_key_follows_the_named_context_files(tmp_path: Path, store: Path) -> None:
    extra = _extra(tmp_path, {"a.txt": "one\n"})
    context = _context(tmp_path, "FROM busybox\nCOPY --from=extra a.txt /a\nRUN cat /a\n")
    args = ["build", "--progress", "plain", "--build-context", f"extra={extra}", str(context)]
    first = run(store, *args)
    assert first.returncode == 0, first.stderr
    again = run(store, *args)
    assert again.returncode == 0 and "#2 CACHED" in again.stderr, again.stderr
    (extra / "a.txt").write_text("two\n")
    changed = run(store, *args)
    assert changed.returncode == 0, changed.stderr
    assert "CACHED" not in changed.stderr
    assert "two" in changed.stderr


def test_from_a_docker_image_context_overrides_the_base(tmp_path: Path, store: Path) -> None:
    # alpine is neither in the store nor reachable: only the named context can provide it
    context = _context(tmp_path, "FROM alpine:3.19\nRUN echo built > /x\n")
    out = tmp_path / "out"
    proc = run(
        store, "build", "--build-context", "alpine:3.19=docker-image://busybox",
        "-o", f"type=local,dest={out}", str(context),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "x").read_text() == "built\n"
    assert (out / "bin/busybox").exists()
    # and a stage of the same name is replaced, also for COPY --from
    context = _context(
        tmp_path,
        "FROM scratch AS base\nFROM base\nCOPY --from=base /bin/busybox /copied\n",
        name="ctx2",
    )
    out2 = tmp_path / "out2"
    proc = run(
        store, "build", "--build-context", "base=docker-image://busybox:latest",
        "-o", f"type=local,dest={out2}", str(context),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out2 / "copied").is_file() and (out2 / "bin/sh").exists()


def test_from_a_local_named_context(tmp_path: Path, store: Path) -> None:
    extra = _extra(tmp_path, {"f": "file\n"})
    context = _context(tmp_path, "FROM files\nCOPY --from=busybox /bin/busybox /bin/busybox\n")
    out = tmp_path / "out"
    proc = run(
        store, "build", "--build-context", f"files={extra}",
        "-o", f"type=local,dest={out}", str(context),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "f").read_text() == "file\n"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("foo", "invalid context value: foo, expected key=value"),
        ("foo=bar://x", "failed to get build context foo: stat bar://x: no such file"),
        ("Foo=.", "invalid context name Foo"),
    ],
)
def test_bad_build_context_values_exit_2(tmp_path: Path, value: str, message: str) -> None:
    context = _context(tmp_path, "FROM busybox\n")
    proc = run(tmp_path / "store", "build", "--build-context", value, str(context))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr


# --- remote contexts ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def git_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("gitctx")
    work = base / "work"
    (work / "sub").mkdir(parents=True)
    _git(work, "init", "-q", "-b", "main")
    (work / "sub/Dockerfile.app").write_text("FROM busybox\nCOPY msg /msg\nRUN cat /msg\n")
    (work / "sub/msg").write_text("from git\n")
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "one")
    _git(base, "clone", "-q", "--bare", str(work), "repo.git")
    with serve_git(base) as server:
        yield f"{server}/repo.git"


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.routes.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, data in {
            "Dockerfile": b"FROM busybox\nCOPY msg /msg\nRUN cat /msg\n",
            "msg": b"from tarball\n",
        }.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    _Handler.routes = {
        "/ctx.tar.gz": archive.getvalue(),
        "/Dockerfile": b"FROM busybox\nRUN echo plain dockerfile\n",
    }
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _temp_dirs(store: Path) -> list[Path]:
    tmp = store / "tmp"
    return [p for p in tmp.iterdir() if p.name.startswith("context")] if tmp.is_dir() else []


def test_git_url_context_with_ref_subdir_and_file(git_repo: str, store: Path) -> None:
    proc = run(
        store, "build", "--progress", "plain", "-f", "Dockerfile.app", f"{git_repo}#main:sub"
    )
    assert proc.returncode == 0, proc.stderr
    assert "from git" in proc.stderr
    assert _temp_dirs(store) == []


def test_http_tarball_context(http_server: str, store: Path) -> None:
    proc = run(store, "build", "--progress", "plain", f"{http_server}/ctx.tar.gz")
    assert proc.returncode == 0, proc.stderr
    assert "from tarball" in proc.stderr
    plain = run(store, "build", "--progress", "plain", f"{http_server}/Dockerfile")
    assert plain.returncode == 0, plain.stderr
    assert "plain dockerfile" in plain.stderr
    assert _temp_dirs(store) == []


def test_git_url_as_a_named_context(git_repo: str, store: Path, tmp_path: Path) -> None:
    context = _context(tmp_path, "FROM busybox\nCOPY --from=src msg /msg\nRUN cat /msg\n")
    proc = run(
        store, "build", "--progress", "plain", "--build-context", f"src={git_repo}#main:sub",
        str(context),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "from git" in proc.stderr
