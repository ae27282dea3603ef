"""SOURCE_DATE_EPOCH: two fresh stores, one Dockerfile and context, the same image digest.

The contexts are copies touched at different times, the builds run at
different times (RUN-created files get the time of their run), the URL that
ADD fetches sends a new Last-Modified each time: only the epoch is shared.
"""

from __future__ import annotations

import email.utils
import http.server
import io
import os
import shutil
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import builder
from builder.api import BuildRequest, BuildResult
from builder.errors import UsageError
from builder.export.rootfs_import import import_rootfs
from builder.solve.progress import Event, StepDone
from builder.store import Store
from builder.store.rootfs_diff import diff_images
from tests.solve.building import write_context

EPOCH = 1_000_000_000  # 2001-09-09T01:46:40Z
EPOCH_TEXT = "2001-09-09T01:46:40Z"

DOCKERFILE = """
    # syntax=docker/dockerfile:1
    FROM busybox AS build
    ARG SOURCE_DATE_EPOCH
    WORKDIR /work/deep
    RUN echo "epoch=$SOURCE_DATE_EPOCH" > /epoch && mkdir -p /out/sub && echo hi > /out/sub/a \\
        && ln /out/sub/a /out/sub/b && ln -s a /out/sub/link && echo x >> /etc/profile
    COPY hello.txt /out/
    COPY dir/ /out/dir/
    ADD pack.tar /out/unpacked/
    ADD {url} /out/fetched.sh
    COPY <<EOT /out/heredoc.txt
    from a heredoc
    EOT
    RUN <<EOT
    set -e
    echo run-heredoc > /out/rh
    chmod 0750 /out/rh
    EOT

    FROM busybox
    COPY --from=build /out /app
    COPY --from=build /epoch /epoch
    ADD hello.txt /app/added.txt
    RUN touch /stamp && ls -laR /app > /listing && rm /bin/true
    CMD ["cat", "/app/hello.txt"]
"""


class _Changing(http.server.BaseHTTPRequestHandler):
    """Serves one script, with a Last-Modified of now: a server whose times move."""

    def do_GET(self) -> None:
        body = b"#!/bin/sh\necho fetched\n"
        self.send_response(200)
        self.send_header("Last-Modified", email.utils.formatdate(time.time(), usegmt=True))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Changing)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/tool.sh"
    httpd.shutdown()
    httpd.server_close()


def _pack() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, mtime in (("pkg/new", b"new\n", 2_000_000_000), ("pkg/old", b"old\n", 5)):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.uid, info.gid = len(data), mtime, 1000, 1000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _context(path: Path, url: str, when: float) -> Path:
    files: dict[str, str | bytes] = {
        "hello.txt": "hello\n",
        "dir/nested/file": "nested\n",
        "pack.tar": _pack(),
    }
    write_context(path, DOCKERFILE.format(url=url), files)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in [*dirnames, *filenames]:
            os.utime(Path(dirpath) / name, (when, when))
    os.utime(path, (when, when))
    return path


def _fresh_store(root: Path, rootfs_tar: Path) -> Store:
    store = Store.open(root)
    import_rootfs(store, rootfs_tar, "busybox:latest")  # created: the tarball's newest mtime
    return store


def _layer_members(store: Store, result: BuildResult) -> list[tarfile.TarInfo]:
    members: list[tarfile.TarInfo] = []
    for layer in store.manifest(result.record).layers[1:]:  # the base layer is busybox's own
        with store.open_blob(layer.digest) as blob, tarfile.open(fileobj=blob, mode="r|*") as tar:
            members.extend(tar)
    return members


def test_two_fresh_stores_give_the_same_image_digest(
    tmp_path: Path, busybox_rootfs_tar: Path, url: str
) -> None:
    first_store = _fresh_store(tmp_path / "store-1", busybox_rootfs_tar)
    second_store = _fresh_store(tmp_path / "store-2", busybox_rootfs_tar)
    first_ctx = _context(tmp_path / "ctx-1", url, 500_000_000)  # before the epoch
    second_ctx = _context(tmp_path / "ctx-2", url, time.time() + 3600)
    # the client's $SOURCE_DATE_EPOCH for one, `--build-arg SOURCE_DATE_EPOCH` for the other
    first = builder.build(
        BuildRequest(first_ctx, tags=["app:1"], source_date_epoch=EPOCH, environ={}),
        store=first_store,
    )
    time.sleep(1.1)  # the second build's RUN steps write files a second later
    second = builder.build(
        BuildRequest(
            second_ctx, tags=["app:1"], build_args={"SOURCE_DATE_EPOCH": str(EPOCH)}, environ={}
        ),
        store=second_store,
    )
    assert first.warnings == second.warnings == []  # SOURCE_DATE_EPOCH is never "not consumed"
    assert first.manifest_digest == second.manifest_digest
    assert first.image_id == second.image_id

    config = first.config
    assert config.created == EPOCH_TEXT
    assert [h.created for h in config.history[1:]] == [EPOCH_TEXT] * (len(config.history) - 1)
    members = _layer_members(first_store, first)
    assert members and all(m.mtime <= EPOCH for m in members)
    by_name = {m.name: m for m in members}
    assert by_name["app/unpacked/pkg/old"].mtime == 5  # older than the epoch: kept
    assert by_name["app/unpacked/pkg/new"].mtime == EPOCH  # newer: clamped
    assert by_name["app/unpacked/pkg/new"].uid == 1000  # owners from the tar, never the host's
    assert not any(name.startswith(("etc/hosts", "etc/resolv.conf")) for name in by_name)
    assert diff_images(first_store, first.record, first_store.resolve("busybox")) != []


def test_the_epoch_is_a_build_arg_a_stage_sees_when_it_declares_it(
    tmp_path: Path, busybox_rootfs_tar: Path
) -> None:
    store = _fresh_store(tmp_path / "store", busybox_rootfs_tar)
    context = write_context(
        tmp_path / "ctx",
        """
        ARG SOURCE_DATE_EPOCH=1234
        FROM busybox
        RUN echo "undeclared=${SOURCE_DATE_EPOCH:-unset}" > /undeclared
        ARG SOURCE_DATE_EPOCH
        RUN echo "declared=$SOURCE_DATE_EPOCH" > /declared
        """,
    )
    result = builder.build(BuildRequest(context, tags=["e:1"], environ={}), store=store)
    assert result.config.created == "1970-01-01T00:20:34Z"  # the meta ARG's default
    assert result.warnings == []
    overridden = builder.build(
        BuildRequest(context, tags=["e:2"], source_date_epoch=EPOCH, environ={}), store=store
    )
    assert overridden.config.created == EPOCH_TEXT  # a given epoch wins over the default
    root = _files(store, overridden)
    assert (root / "undeclared").read_text() == "undeclared=unset\n"
    assert (root / "declared").read_text() == f"declared={EPOCH}\n"
    bare = builder.build(
        BuildRequest(context, dockerfile=b"FROM busybox\n", source_date_epoch=EPOCH, environ={}),
        store=store,
    )
    assert bare.config.created == EPOCH_TEXT  # no step of its own: still the epoch
    with pytest.raises(UsageError, match="invalid build arg SOURCE_DATE_EPOCH"):
        builder.build(
            BuildRequest(context, build_args={"SOURCE_DATE_EPOCH": "yesterday"}, environ={}),
            store=store,
        )


def _files(store: Store, result: BuildResult) -> Path:
    from tests.solve.building import flatten

    dest = Path(store.root) / "flat"
    shutil.rmtree(dest, ignore_errors=True)
    return flatten(store, result.record, dest)


def test_a_step_cached_under_another_epoch_is_not_reused(
    tmp_path: Path, busybox_rootfs_tar: Path
) -> None:
    store = _fresh_store(tmp_path / "store", busybox_rootfs_tar)
    context = write_context(
        tmp_path / "ctx", "FROM busybox\nCOPY f /f\nRUN echo hi > /run\n", {"f": "f\n"}
    )

    def build(store: Store, epoch: int | None, events: list[Event] | None = None) -> BuildResult:
        request = BuildRequest(
            context,
            source_date_epoch=epoch,
            environ={},
            progress=events.append if events is not None else None,
        )
        return builder.build(request, store=store)

    first = build(store, EPOCH)
    events: list[Event] = []
    again = build(store, EPOCH, events)
    assert again.image_id == first.image_id
    cached = [e.cached for e in events if isinstance(e, StepDone)]
    assert cached == [False, True, True]  # FROM, then COPY and RUN from the cache
    later = build(store, EPOCH + 86400)
    fresh = build(_fresh_store(tmp_path / "fresh", busybox_rootfs_tar), EPOCH + 86400)
    assert later.image_id == fresh.image_id != first.image_id
    changed = diff_images(store, first.record, later.record)
    assert {c.path for c in changed} == {"/f", "/run"}
    assert all(c.fields == ("mtime",) for c in changed)
    assert diff_images(store, first.record, later.record, ignore_mtime=True) == []
    unset = build(store, None)
    assert unset.config.created != first.config.created


def test_import_of_one_tarball_gives_one_image_id(tmp_path: Path, busybox_rootfs_tar: Path) -> None:
    first = import_rootfs(Store.open(tmp_path / "one"), busybox_rootfs_tar, "bb:1")
    time.sleep(1.1)
    second = import_rootfs(Store.open(tmp_path / "two"), busybox_rootfs_tar, "bb:1")
    assert first.id == second.id
    config = Store.open(tmp_path / "one").config(first)
    assert config.created == "1970-01-01T00:00:00Z"  # busybox.sh writes every mtime as 0
