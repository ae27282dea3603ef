"""`--secret` / `--ssh` options, what a step's mounts depend on, cache naming, private trees."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from builder.dockerfile.mounts import parse_mount
from builder.errors import BuildError, UsageError
from builder.solve.mounts.cache import CacheSpec
from builder.solve.mounts.run import (
    MountSources,
    context_paths,
    prepare_mounts,
    secret_ids,
    ssh_ids,
)
from builder.solve.mounts.secrets import (
    MAX_SECRET_SIZE,
    SecretSource,
    parse_secret_option,
    read_secret,
)
from builder.solve.mounts.ssh import parse_ssh_option
from builder.solve.mounts.trees import clone_tree

# -------------------------------------------------------------------- --secret


def test_secret_option_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "token.txt").write_text("t")
    (tmp_path / "bare").write_text("b")
    env = {"API_TOKEN": "x", "OTHER": "y"}
    assert parse_secret_option("id=a,src=token.txt", env) == (
        "a",
        SecretSource("a", path=tmp_path / "token.txt"),
    )
    assert parse_secret_option("id=a,source=token.txt", env)[1].path == tmp_path / "token.txt"
    assert parse_secret_option("id=a,env=OTHER", env) == ("a", SecretSource("a", env="OTHER"))
    assert parse_secret_option("type=env,id=a,src=OTHER", env)[1] == SecretSource("a", env="OTHER")
    # a bare id: the variable when it is set, else the file
    assert parse_secret_option("id=API_TOKEN", env)[1] == SecretSource("API_TOKEN", env="API_TOKEN")
    assert parse_secret_option("id=bare", env)[1] == SecretSource("bare", path=tmp_path / "bare")
    assert parse_secret_option("type=file,id=bare", {"bare": "v"})[1].path == tmp_path / "bare"
    assert parse_secret_option('"id=a,b",env=OTHER', env)[0] == "a,b"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("src=token.txt", "has no id"),
        ("env=OTHER", "has no id"),
        ("id=a,bogus=1", "unexpected key 'bogus'"),
        ("id=a,type=vault", 'unsupported secret type "vault"'),
        ("id=a,src", "must be a key=value pair"),
        ("id=a,src=missing.txt", "cannot read"),
        ('id="a', "invalid --secret"),
    ],
)
def test_secret_option_errors(
    text: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "token.txt").write_text("t")
    with pytest.raises(UsageError, match=message):
        parse_secret_option(text, {"OTHER": "v"})


def test_secret_size_limit_and_values_stay_out_of_errors(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"k" * (MAX_SECRET_SIZE + 1))
    with pytest.raises(UsageError, match="too big"):
        parse_secret_option(f"id=big,src={big}", {})
    small = tmp_path / "small"
    small.write_bytes(b"hunter2")
    source = parse_secret_option(f"id=s,src={small}", {})[1]
    assert read_secret(source) == b"hunter2"
    small.write_bytes(b"k" * (MAX_SECRET_SIZE + 1))  # grew after the option was checked
    with pytest.raises(BuildError, match="too big") as info:
        read_secret(source)
    assert "kkkk" not in info.value.render()
    with pytest.raises(BuildError, match="PYBUILD_UNSET_VAR is not set"):
        read_secret(SecretSource("e", env="PYBUILD_UNSET_VAR"), {})
    assert read_secret(SecretSource("e", env="V"), {"V": "value"}) == b"value"


def test_env_secret_must_be_text(tmp_path: Path) -> None:
    file = tmp_path / "binary"
    file.write_bytes(b"\xff\x00secret")
    sources = MountSources(
        context_dir=tmp_path,
        stage_root=lambda name: tmp_path,
        secrets={"b": SecretSource("b", path=file)},
    )
    mounts = [parse_mount("type=secret,id=b,env=B")]
    with (
        pytest.raises(BuildError, match="not text") as info,
        prepare_mounts(mounts, sources, work_dir=tmp_path / "w"),
    ):
        pass
    assert "secret" in info.value.message and "\\xff" not in info.value.render()


def test_secret_without_an_id_is_an_error(tmp_path: Path) -> None:
    sources = MountSources(context_dir=tmp_path, stage_root=lambda name: tmp_path)
    with (
        pytest.raises(BuildError, match="the secret has no id"),
        prepare_mounts([parse_mount("type=secret,env=FOO")], sources, work_dir=tmp_path / "w"),
    ):
        pass


# -------------------------------------------------------------------- --ssh


def test_ssh_option_forms(tmp_path: Path) -> None:
    sock_path = tmp_path / "agent.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(sock_path))
    key1, key2 = tmp_path / "k1", tmp_path / "k2"
    key1.write_text("key")
    key2.write_text("key")
    try:
        env = {"SSH_AUTH_SOCK": str(sock_path)}
        assert parse_ssh_option("default", env) == ("default", [sock_path])
        assert parse_ssh_option("default=", env) == ("default", [sock_path])
        assert parse_ssh_option(f"gh={sock_path}", {}) == ("gh", [sock_path])
        assert parse_ssh_option(f"deploy={key1},{key2}", {}) == ("deploy", [key1, key2])
        with pytest.raises(UsageError, match="SSH_AUTH_SOCK is not set"):
            parse_ssh_option("default", {})
        with pytest.raises(UsageError, match="the id is missing"):
            parse_ssh_option(f"={key1}", {})
        with pytest.raises(UsageError, match="cannot use"):
            parse_ssh_option(f"x={tmp_path / 'nope'}", {})
        with pytest.raises(UsageError, match="is a socket"):
            parse_ssh_option(f"x={sock_path},{key1}", {})
        with pytest.raises(UsageError, match="neither"):
            parse_ssh_option(f"x={tmp_path}", {})
    finally:
        listener.close()


# -------------------------------------------------------------------- step inputs


def test_ids_and_context_paths_of_a_step() -> None:
    mounts = [
        parse_mount(v)
        for v in (
            "type=secret,id=npm",
            "type=secret,target=/root/.aws/credentials",
            "type=secret,source=pip,env=PIP",
            "type=ssh",
            "type=ssh,id=github",
            "type=bind,source=go.sum,target=/x",
            "type=bind,target=/src",
            "type=bind,from=builder,source=/out,target=/y",
            "type=cache,target=/c",
        )
    ]
    assert secret_ids(mounts) == ["npm", "credentials", "pip"]
    assert ssh_ids(mounts) == ["default", "github"]
    assert context_paths(mounts) == ["/go.sum", "/"]


def test_bad_targets_are_refused(tmp_path: Path) -> None:
    sources = MountSources(context_dir=tmp_path, stage_root=lambda name: tmp_path)
    for value in ("type=tmpfs,target=/", "type=tmpfs,target=a/..", "type=tmpfs,target=//"):
        with (
            pytest.raises(BuildError, match="invalid mount target"),
            prepare_mounts([parse_mount(value)], sources, work_dir=tmp_path / "w"),
        ):
            pass
    with prepare_mounts(
        [parse_mount("type=tmpfs,target=tmp/../cache,size=64k")],
        sources,
        work_dir=tmp_path / "w",
        workdir="/app",
    ) as (mounts, _):
        assert [(m.destination, m.options) for m in mounts] == [
            ("/app/cache", ("nosuid", "size=65536"))
        ]


def test_mounts_come_out_parents_first(tmp_path: Path) -> None:
    sources = MountSources(context_dir=tmp_path, stage_root=lambda name: tmp_path)
    values = ["type=tmpfs,target=/a/b/c", "type=tmpfs,target=/a", "type=tmpfs,target=/z/y"]
    with prepare_mounts([parse_mount(v) for v in values], sources, work_dir=tmp_path / "w") as (
        mounts,
        _,
    ):
        assert [m.destination for m in mounts] == ["/a", "/z/y", "/a/b/c"]


def test_cache_without_a_cache_root_is_an_error(tmp_path: Path) -> None:
    sources = MountSources(context_dir=tmp_path, stage_root=lambda name: tmp_path)
    with (
        pytest.raises(BuildError, match="cache_root"),
        prepare_mounts([parse_mount("type=cache,target=/c")], sources, work_dir=tmp_path / "w"),
    ):
        pass


# -------------------------------------------------------------------- cache names


def test_cache_names_are_safe_and_distinct() -> None:
    plain = CacheSpec("/root/.cache/go-build")
    assert plain.key == "/root/.cache/go-build"
    assert plain.dir_name.startswith("root-.cache-go-build-")
    assert "/" not in CacheSpec("../../etc").dir_name
    assert CacheSpec("../../etc").dir_name.startswith("etc-")
    assert CacheSpec("").dir_name.startswith("cache-")
    names = {
        CacheSpec("a").dir_name,
        CacheSpec("a", uid=1000).dir_name,
        CacheSpec("a", mode=0o700).dir_name,
        CacheSpec("a", seed_key='["builder", "/"]').dir_name,
        CacheSpec("a/").dir_name,
        CacheSpec("a_").dir_name,
    }
    assert len(names) == 6


# -------------------------------------------------------------------- private trees


def test_clone_tree_keeps_metadata_links_and_special_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "dir").mkdir(parents=True)
    (src / "dir" / "file").write_bytes(b"data" * 1000)
    os.chown(src / "dir" / "file", 1000, 50)
    os.chmod(src / "dir" / "file", 0o4750)
    os.utime(src / "dir" / "file", ns=(1_000_000_000, 2_000_000_000))
    os.setxattr(src / "dir" / "file", "user.note", b"kept")
    os.symlink("/etc/passwd", src / "abs-link")
    os.mkfifo(src / "fifo")
    os.mknod(src / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(src / "sock"))
    os.chmod(src / "dir", 0o711)
    try:
        clone_tree(src, tmp_path / "copy")
    finally:
        listener.close()
    copy = tmp_path / "copy"
    st = os.stat(copy / "dir" / "file")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 50, 0o4750)
    assert st.st_mtime_ns == 2_000_000_000
    assert st.st_ino != os.stat(src / "dir" / "file").st_ino
    assert os.getxattr(copy / "dir" / "file", "user.note") == b"kept"
    assert (copy / "dir" / "file").read_bytes() == b"data" * 1000
    assert os.readlink(copy / "abs-link") == "/etc/passwd"
    assert stat.S_ISFIFO(os.lstat(copy / "fifo").st_mode)
    assert os.lstat(copy / "null").st_rdev == os.makedev(1, 3)
    assert not (copy / "sock").exists()
    assert stat.S_IMODE(os.stat(copy / "dir").st_mode) == 0o711


def test_clone_tree_hardlinks_and_filters(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "keep").mkdir(parents=True)
    (src / "keep" / "a").write_text("a")
    (src / "keep" / "b.log").write_text("b")
    clone_tree(
        src / "keep",
        tmp_path / "view",
        hardlink=True,
        visible=lambda rel, st: not rel.endswith(".log"),
        rel="keep",
    )
    assert sorted(p.name for p in (tmp_path / "view").iterdir()) == ["a"]
    assert os.stat(tmp_path / "view" / "a").st_ino == os.stat(src / "keep" / "a").st_ino
    clone_tree(src / "keep" / "a", tmp_path / "one-file")
    assert (tmp_path / "one-file").read_text() == "a"
