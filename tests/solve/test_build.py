"""Builds on the busybox base with real runc and overlayfs: the files and the config they make."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from builder.errors import BuildError
from builder.store import Store
from tests.conftest import FIXTURES
from tests.solve.building import (
    busybox_store,
    flatten,
    layer_names,
    output_of,
    run_build,
    write_context,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs_tar: Path) -> Store:
    return busybox_store(tmp_path_factory.mktemp("build-store") / "store", busybox_rootfs_tar)


def test_every_instruction_gives_buildkits_config(store: Store, tmp_path: Path) -> None:
    reference = FIXTURES / "buildkit-reference" / "config-all"
    context = write_context(tmp_path / "ctx", (reference / "Dockerfile").read_text(),
                            {"f.txt": "hello\n"})  # fmt: skip
    result = run_build(store, context, tags=["all:1"])
    expected = json.loads((reference / "buildkit.json").read_text())
    config = result.config.config.to_json()
    wanted = {k: v for k, v in expected["config"].items() if v not in (None, "", False, {})}
    for key in ("Hostname", "Domainname", "Image"):
        wanted.pop(key, None)
    assert config == wanted
    history = [h for h in result.config.history[1:]]  # after the base's
    ours = [(h.created_by, h.empty_layer) for h in history]
    theirs = [(h["created_by"], h.get("empty_layer", False)) for h in expected["history"]]
    # BuildKit v0.8 predates HEALTHCHECK --start-interval (see fixtures/buildkit-reference).
    theirs = [
        (t.replace('"0s" \'\\x02\'', '"0s" "0s" \'\\x02\''), e) if t.startswith("HEALTHCHECK")
        else (t, e)
        for t, e in theirs
    ]  # fmt: skip
    assert [t for t, _ in ours] == [t for t, _ in theirs]
    # the one place we differ on purpose: a RUN that changes nothing adds no layer
    assert [e for _, e in ours] == [
        e or t.startswith("RUN |1 V=1 /bin/sh -ec echo shelled") for t, e in theirs
    ]
    assert result.config.author == "someone"
    assert result.record.names == ("docker.io/library/all:1",)
    root = flatten(store, result.record, tmp_path / "root")
    assert (root / "x").read_text() == "1\n"
    assert (root / "app/f.txt").read_text() == "hello\n"
    assert stat.S_IMODE((root / "app/h.txt").stat().st_mode) == 0o600
    sub = (root / "app/sub").stat()
    assert (sub.st_uid, sub.st_gid) == (65534, 65534)  # WORKDIR made by USER nobody


def test_run_layers_hold_only_what_changed(store: Store, tmp_path: Path) -> None:
    context = write_context(
        tmp_path / "ctx",
        """
        FROM busybox
        RUN echo one > /one && mkdir -p /d/e && echo two > /d/e/two
        RUN rm /one && rm -r /d && rm /bin/vi
        RUN true
        RUN cat /etc/hosts >/dev/null && ls /proc/self >/dev/null
        """,
    )
    result = run_build(store, context)
    layers = store.manifest(result.record).layers
    assert len(layers) == 3  # busybox + two RUNs that changed something
    assert sorted(layer_names(store, result.record, 1)) == ["d", "d/e", "d/e/two", "one"]
    assert sorted(layer_names(store, result.record, 2)) == [".wh.d", ".wh.one", "bin", "bin/.wh.vi"]
    assert [h.empty_layer for h in result.config.history[-2:]] == [True, True]
    root = flatten(store, result.record, tmp_path / "root")
    assert not (root / "one").exists() and not (root / "d").exists()
    assert not (root / "bin/vi").exists() and (root / "bin/sh").exists()
    assert not (root / "etc/hosts").exists()


def test_user_and_workdir_apply_to_run(store: Store, tmp_path: Path) -> None:
    context = write_context(
        tmp_path / "ctx",
        """
        FROM busybox
        USER lambda
        WORKDIR /home/lambda/work
        RUN id && pwd && touch mine
        USER 0:50
        RUN id
        """,
    )
    events: list = []
    result = run_build(store, context, events=events)
    text = output_of(events)
    assert "uid=1000(lambda) gid=1000(lambda)" in text
    assert "/home/lambda/work" in text
    assert "uid=0(root) gid=50" in text
    root = flatten(store, result.record, tmp_path / "root")
    assert (root / "home/lambda/work/mine").stat().st_uid == 1000


def test_unknown_user_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", "FROM busybox\nUSER nosuch\nRUN true\n")
    with pytest.raises(BuildError) as info:
        run_build(store, context)
    assert "unable to find user nosuch" in info.value.message
    assert info.value.location is not None and info.value.location.line == 3


def test_a_failing_step_names_its_line_exit_code_and_output(store: Store, tmp_path: Path) -> None:
    context = write_context(
        tmp_path / "ctx", "FROM busybox\nRUN echo before\nRUN echo doomed; exit 3\nRUN echo after\n"
    )
    events: list = []
    with pytest.raises(BuildError) as info:
        run_build(store, context, events=events)
    err = info.value
    assert err.location is not None and err.location.line == 3
    assert "exit code: 3" in err.message
    assert "doomed" in (err.hint or "")
    assert "after" not in output_of(events)
    assert not any((store.root / "tmp").iterdir())  # nothing left behind


def test_copy_from_context_respects_dockerignore_and_stages(store: Store, tmp_path: Path) -> None:
    context = write_context(
        tmp_path / "ctx",
        """
        FROM busybox AS build
        COPY src/ /src/
        RUN cat /src/a.txt > /out.txt && echo built >> /out.txt
        FROM busybox
        COPY --from=build /out.txt /result.txt
        COPY --chown=lambda:lambda --chmod=0640 src/a.txt /owned
        COPY <<EOF /greeting
        hello $NAME
        EOF
        """,
        {"src/a.txt": "a\n", "src/secret.key": "nope\n", ".dockerignore": "**/*.key\n"},
    )
    result = run_build(store, context)
    root = flatten(store, result.record, tmp_path / "root")
    assert (root / "result.txt").read_text() == "a\nbuilt\n"
    owned = (root / "owned").stat()
    assert (owned.st_uid, owned.st_gid, stat.S_IMODE(owned.st_mode)) == (1000, 1000, 0o640)
    assert (root / "greeting").read_text() == "hello \n"
    assert not (root / "src").exists()


def test_heredoc_run_and_onbuild_triggers(store: Store, tmp_path: Path) -> None:
    base = write_context(
        tmp_path / "base",
        """
        FROM busybox
        RUN <<EOF
        echo from heredoc > /h
        echo second line >> /h
        EOF
        ONBUILD RUN echo triggered > /t
        """,
    )
    result = run_build(store, base, tags=["onbuild-base:1"])
    assert result.config.config.on_build == ["RUN echo triggered > /t"]
    child = write_context(tmp_path / "child", "FROM onbuild-base:1\nRUN cat /t\n")
    events: list = []
    child_result = run_build(store, child, events=events)
    assert "triggered" in output_of(events)
    assert child_result.config.config.on_build is None
    root = flatten(store, child_result.record, tmp_path / "root")
    assert (root / "h").read_text() == "from heredoc\nsecond line\n"


def test_scratch_and_missing_base_image(store: Store, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", "FROM scratch\nCOPY f /f\n", {"f": "x"})
    result = run_build(store, context)
    assert len(store.manifest(result.record).layers) == 1
    assert result.config.os == "linux"
    missing = write_context(tmp_path / "m", "FROM 127.0.0.1:9/nothing:1\nRUN true\n")
    with pytest.raises(BuildError) as info:
        run_build(store, missing)
    assert "not in the local store" in info.value.message
    assert "pybuild import" in (info.value.hint or "")


def test_build_leaves_no_mounts_or_temp_dirs(store: Store, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo x > /x\nCOPY Dockerfile /\n")
    run_build(store, context)
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(store.root) not in mounts
    assert not any((store.root / "tmp").iterdir())
    assert os.listdir(store.root / "snapshots")


def test_cache_mounts_persist_and_stay_out_of_layers(store: Store, tmp_path: Path) -> None:
    dockerfile = (
        "FROM busybox\n"
        "ARG N\n"
        "RUN --mount=type=cache,target=/cache echo $N >> /cache/log && cat /cache/log\n"
    )
    context = write_context(tmp_path / "ctx", dockerfile)
    run_build(store, context, build_args={"N": "first"})
    events: list = []
    result = run_build(store, context, build_args={"N": "second"}, events=events)
    assert output_of(events).split() == ["first", "second"]
    assert len(store.manifest(result.record).layers) == 1  # nothing but the base


def test_copy_link_add_archive_and_parents(store: Store, tmp_path: Path) -> None:
    import io
    import tarfile

    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("pkg/readme")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"hi\n"))
    context = write_context(
        tmp_path / "ctx",
        """
        FROM busybox
        COPY --link a/b/c.txt /linked/
        ADD pkg.tar.gz /opt/
        COPY --parents a/b/c.txt /tree/
        """,
        {"a/b/c.txt": "c\n", "pkg.tar.gz": archive.getvalue()},
    )
    result = run_build(store, context)
    assert sorted(layer_names(store, result.record, 1)) == ["linked", "linked/c.txt"]
    root = flatten(store, result.record, tmp_path / "root")
    assert (root / "linked/c.txt").read_text() == "c\n"
    assert (root / "opt/pkg/readme").read_text() == "hi\n"
    assert (root / "tree/a/b/c.txt").read_text() == "c\n"


def test_insecure_needs_allow_and_crun_runs(store: Store, tmp_path: Path) -> None:
    context = write_context(
        tmp_path / "ctx", "FROM busybox\nRUN --security=insecure grep CapEff /proc/self/status\n"
    )
    with pytest.raises(BuildError) as info:
        run_build(store, context)
    assert "--allow security.insecure" in (info.value.hint or "")
    events: list = []
    run_build(store, context, allow_insecure=True, events=events)
    assert "00000000a80425fb" not in output_of(events)
    plain = write_context(tmp_path / "crun", "FROM busybox\nRUN echo via-crun > /c\n")
    result = run_build(store, plain, runtime="crun")
    assert (flatten(store, result.record, tmp_path / "r") / "c").read_text() == "via-crun\n"
