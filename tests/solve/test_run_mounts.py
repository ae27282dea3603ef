"""RUN --mount with real containers (runc on a busybox root): bind, cache, tmpfs, secret, ssh."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from builder.context.dockerignore import IgnoreMatcher
from builder.dockerfile.mounts import Mount as MountFlag
from builder.dockerfile.mounts import parse_mount
from builder.errors import BuildError
from builder.runtime.container import run
from builder.runtime.spec import Mount, RunSpec
from builder.runtime.users import ResolvedUser
from builder.solve.mounts.run import MountSources, prepare_mounts
from builder.solve.mounts.secrets import SecretSource
from tests.conftest import require_tool
from tests.runtime.conftest import make_busybox_rootfs

ROOT = ResolvedUser(0, 0, (), "/root", "root")
LAMBDA = ResolvedUser(1000, 1000, (), "/home/lambda", "lambda")
EXTRA_APPLETS = ("stat", "test", "[", "chmod", "df", "head", "find", "xargs", "sed", "seq")
SECRET = b"s3cr3t-value-\x01-end"


@pytest.fixture(scope="module")
def base_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("runc")
    root = make_busybox_rootfs(tmp_path_factory.mktemp("mounts") / "rootfs")
    for applet in EXTRA_APPLETS:
        os.symlink("busybox", root / "bin" / applet)
    return root


@pytest.fixture
def rootfs(base_rootfs: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "rootfs"
    shutil.copytree(base_rootfs, copy, symlinks=True)
    return copy


@pytest.fixture
def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "context"
    (ctx / "sub").mkdir(parents=True)
    (ctx / "a.txt").write_text("from the context\n")
    (ctx / "sub" / "b.txt").write_text("bee\n")
    return ctx


@pytest.fixture
def stage(tmp_path: Path) -> Path:
    root = tmp_path / "stage-root"
    (root / "opt" / "app").mkdir(parents=True)
    (root / "opt" / "app" / "built.txt").write_text("built in a stage\n")
    return root


@pytest.fixture
def sources(context: Path, stage: Path, tmp_path: Path) -> MountSources:
    def stage_root(name: str) -> Path:
        assert name == "builder"
        return stage

    return MountSources(context_dir=context, stage_root=stage_root, cache_root=tmp_path / "cache")


def sh(
    rootfs: Path,
    script: str,
    mounts: list[Mount],
    env: dict[str, str] | None = None,
    user: ResolvedUser = ROOT,
) -> tuple[int, str]:
    chunks: list[bytes] = []
    spec = RunSpec(
        args=["/bin/sh", "-c", script],
        env=[f"{k}={v}" for k, v in (env or {}).items()],
        cwd="/",
        user=user,
        mounts=mounts,
    )
    result = run(rootfs, spec, output=chunks.append)
    return result.exit_code, b"".join(chunks).decode(errors="replace")


def flags(*values: str) -> list[MountFlag]:
    return [parse_mount(v) for v in values]


def run_with(
    rootfs: Path,
    script: str,
    mount_flags: list[MountFlag],
    sources: MountSources,
    work: Path,
    **options: object,
) -> tuple[int, str]:
    with prepare_mounts(mount_flags, sources, work_dir=work, **options) as (mounts, env):  # type: ignore[arg-type]
        return sh(rootfs, script, mounts, env)


def refused(sources: MountSources, tmp_path: Path, *values: str, match: str) -> BuildError:
    """The BuildError that preparing these mounts raises."""
    with (
        pytest.raises(BuildError, match=match) as info,
        prepare_mounts(flags(*values), sources, work_dir=tmp_path / "w"),
    ):
        pass
    return info.value


def tree_bytes(root: Path) -> Iterator[tuple[Path, bytes]]:
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                yield path, path.read_bytes()


# -------------------------------------------------------------------- bind


def test_bind_is_read_only_by_default(rootfs: Path, sources: MountSources, tmp_path: Path) -> None:
    code, out = run_with(
        rootfs,
        "cat /ctx/a.txt; touch /ctx/new 2>/dev/null && echo WROTE || echo REFUSED",
        flags("type=bind,target=/ctx"),
        sources,
        tmp_path / "work",
    )
    assert code == 0
    assert "from the context" in out and "REFUSED" in out
    assert not (sources.context_dir / "new").exists()
    assert not (rootfs / "ctx").exists(), "the mount point is not left in the root"


def test_bind_rw_writes_are_discarded(rootfs: Path, sources: MountSources, tmp_path: Path) -> None:
    before = {p: p.read_bytes() for p in sources.context_dir.rglob("*") if p.is_file()}
    work = tmp_path / "work"
    code, out = run_with(
        rootfs,
        "echo changed > /ctx/a.txt && touch /ctx/new && rm /ctx/sub/b.txt && cat /ctx/a.txt",
        flags("type=bind,target=/ctx,rw"),
        sources,
        work,
    )
    assert code == 0 and "changed" in out
    after = {p: p.read_bytes() for p in sources.context_dir.rglob("*") if p.is_file()}
    assert after == before
    assert list(work.iterdir()) == [], "the private copy is removed"


def test_insecure_steps_get_copies_even_read_only(
    rootfs: Path, sources: MountSources, tmp_path: Path
) -> None:
    with prepare_mounts(flags("target=/ctx"), sources, work_dir=tmp_path / "w", insecure=True) as (
        mounts,
        _,
    ):
        copy = Path(mounts[0].source)
        assert copy != sources.context_dir and mounts[0].options == ("rbind", "ro")
        original = sources.context_dir / "a.txt"
        assert (copy / "a.txt").stat().st_ino != original.stat().st_ino
        code, out = sh(rootfs, "cat /ctx/a.txt", mounts)
        assert code == 0
    assert out == "from the context\n"
    assert not copy.exists()


def test_bind_from_a_stage_with_a_source(
    rootfs: Path, sources: MountSources, tmp_path: Path
) -> None:
    code, out = run_with(
        rootfs,
        "cat /app/built.txt; ls /app",
        flags("type=bind,from=builder,source=/opt/app,target=/app"),
        sources,
        tmp_path / "work",
    )
    assert code == 0 and "built in a stage" in out


def test_bind_of_one_file_with_a_relative_target(
    rootfs: Path, sources: MountSources, tmp_path: Path
) -> None:
    (rootfs / "home" / "lambda").mkdir(exist_ok=True)
    code, out = run_with(
        rootfs,
        "cat /home/lambda/b.txt",
        flags("type=bind,source=sub/b.txt,target=b.txt"),
        sources,
        tmp_path / "work",
        workdir="/home/lambda",
    )
    assert code == 0 and out == "bee\n"


def test_bind_source_cannot_leave_its_root(
    rootfs: Path, sources: MountSources, tmp_path: Path
) -> None:
    ctx = sources.context_dir
    (tmp_path / "outside.txt").write_text("HOST FILE\n")
    os.symlink("../outside.txt", ctx / "up-link")
    os.symlink("/etc", ctx / "etc-link")
    for bad in ("../outside.txt", "up-link", "../../../../etc/passwd", "etc-link/passwd"):
        refused(
            sources, tmp_path, f"source={bad},target=/x", match="not found in the build context"
        )
    # Contained: the symlink resolves to the context's own etc/passwd.
    (ctx / "etc").mkdir()
    (ctx / "etc" / "passwd").write_text("context passwd\n")
    code, out = run_with(
        rootfs, "cat /x", flags("source=etc-link/passwd,target=/x"), sources, tmp_path / "w"
    )
    assert code == 0 and out == "context passwd\n"


def test_bind_of_the_context_is_filtered_by_dockerignore(
    rootfs: Path, sources: MountSources, tmp_path: Path
) -> None:
    ctx = sources.context_dir
    (ctx / ".env").write_text("IGNORED\n")
    (ctx / "sub" / "keep.log").write_text("kept\n")
    (ctx / "sub" / "drop.log").write_text("dropped\n")
    sources.ignore = IgnoreMatcher.compile([".env", "sub/*.log", "!sub/keep.log"])
    code, out = run_with(
        rootfs,
        "ls -a /ctx /ctx/sub; touch /ctx/x 2>/dev/null || echo READONLY",
        flags("target=/ctx"),
        sources,
        tmp_path / "work",
    )
    assert code == 0
    assert "a.txt" in out and "keep.log" in out and "b.txt" in out and "READONLY" in out
    assert ".env" not in out and "drop.log" not in out
    refused(sources, tmp_path, "source=.env,target=/e", match=r'source "/\.env" not found')


# -------------------------------------------------------------------- cache


def test_cache_persists_per_id_and_stays_out_of_the_root(
    rootfs: Path, sources: MountSources, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    write = "echo $0 >> /cache/log; cat /cache/log"
    assert run_with(rootfs, write, flags("type=cache,target=/cache"), sources, work) == (
        0,
        "/bin/sh\n",
    )
    _, out = run_with(rootfs, write, flags("type=cache,target=/cache"), sources, work)
    assert out == "/bin/sh\n/bin/sh\n", "the second run sees the first run's file"
    _code, out = run_with(rootfs, write, flags("type=cache,id=other,target=/cache"), sources, work)
    assert out == "/bin/sh\n", "another id is another cache"
    assert not (rootfs / "cache").exists()
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "cache" / "mounts").iterdir()) == [
        "cache",
        "other",
    ]


def test_cache_owner_and_mode_and_seed(rootfs: Path, sources: MountSources, tmp_path: Path) -> None:
    code, out = run_with(
        rootfs,
        "stat -c '%u %g %a' /c; touch /c/mine && echo WRITABLE",
        flags("type=cache,target=/c,uid=1000,gid=50,mode=0750"),
        sources,
        tmp_path / "work",
    )
    assert code == 0 and out.splitlines() == ["1000 50 750", "WRITABLE"]
    code, out = run_with(
        rootfs,
        "stat -c '%u %g %a' /c; ls /c",
        flags("type=cache,target=/c"),
        sources,
        tmp_path / "work",
    )
    assert out.splitlines() == ["0 0 755"], "defaults: 0:0 0755, a different cache"
    calls: list[str] = []
    stage_root = sources.stage_root
    sources.stage_root = lambda name: calls.append(name) or stage_root(name)
    seeded = flags("type=cache,target=/c,from=builder,source=/opt/app")
    script = "cat /c/built.txt; echo more >> /c/built.txt"
    code, out = run_with(rootfs, script, seeded, sources, tmp_path / "work")
    assert code == 0 and out == "built in a stage\n"
    code, out = run_with(rootfs, "cat /c/built.txt", seeded, sources, tmp_path / "work")
    assert out == "built in a stage\nmore\n" and calls == ["builder"], "seeded once"
    assert (sources.stage_root("builder") / "opt/app/built.txt").read_text() == "built in a stage\n"


def test_locked_cache_serializes_concurrent_runs(
    rootfs: Path, sources: MountSources, tmp_path: Path
) -> None:
    script = "echo start >> /c/log; sleep 0.3; echo end >> /c/log"
    errors: list[BaseException] = []

    def one(index: int) -> None:
        try:
            run_with(
                rootfs,
                script,
                flags("type=cache,id=shared-log,target=/c,sharing=locked"),
                sources,
                tmp_path / f"work{index}",
            )
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    _code, out = run_with(
        rootfs, "cat /c/log", flags("type=cache,id=shared-log,target=/c"), sources, tmp_path / "w"
    )
    assert out.split() == ["start", "end", "start", "end"]


def test_private_cache_gets_its_own_directory_while_busy(
    sources: MountSources, tmp_path: Path
) -> None:
    shared = flags("type=cache,id=p,target=/c")
    private = flags("type=cache,id=p,target=/c,sharing=private")
    work = tmp_path / "w"
    with (
        prepare_mounts(shared, sources, work_dir=work) as (busy, _),
        prepare_mounts(private, sources, work_dir=work) as (other, _),
        prepare_mounts(private, sources, work_dir=work) as (third, _),
    ):
        assert other[0].source != busy[0].source
        assert third[0].source not in (busy[0].source, other[0].source)
    with prepare_mounts(private, sources, work_dir=tmp_path / "w") as (free, _):
        assert free[0].source == busy[0].source, "the main directory again once it is free"


def test_locked_wait_is_cancellable(sources: MountSources, tmp_path: Path) -> None:
    from builder.runtime.container import RunCancelledError

    locked = flags("type=cache,id=l,target=/c,sharing=locked")
    cancel = threading.Event()
    with prepare_mounts(locked, sources, work_dir=tmp_path / "w"):
        threading.Timer(0.2, cancel.set).start()
        started = time.monotonic()
        with (
            pytest.raises(RunCancelledError),
            prepare_mounts(locked, sources, work_dir=tmp_path / "w", cancel=cancel),
        ):
            pass
        assert time.monotonic() - started < 2


# -------------------------------------------------------------------- tmpfs


def test_tmpfs_is_writable_sized_and_gone_after(
    rootfs: Path, sources: MountSources, tmp_path: Path
) -> None:
    code, out = run_with(
        rootfs,
        "echo hi > /scratch/f && cat /scratch/f && grep ' /scratch ' /proc/mounts",
        flags("type=tmpfs,target=/scratch,size=1m"),
        sources,
        tmp_path / "work",
    )
    assert code == 0
    assert out.startswith("hi\ntmpfs /scratch tmpfs") and "size=1024k" in out
    assert not (rootfs / "scratch").exists()


# -------------------------------------------------------------------- secrets


def secret_sources(sources: MountSources, tmp_path: Path) -> MountSources:
    file = tmp_path / "secret.txt"
    file.write_bytes(SECRET)
    sources.secrets = {
        "mysecret": SecretSource("mysecret", path=file),
        "token": SecretSource("token", env="PYBUILD_TEST_TOKEN"),
    }
    sources.environ = {"PYBUILD_TEST_TOKEN": "tok-123"}
    return sources


def test_secret_file_is_read_only_and_leaves_no_trace(
    rootfs: Path, sources: MountSources, tmp_path: Path
) -> None:
    secret_sources(sources, tmp_path)
    secret_dir = tmp_path / "secrets"
    modes: list[int] = []
    with prepare_mounts(
        flags("type=secret,id=mysecret", "type=secret,id=mysecret,target=/s2,mode=0440,uid=1000"),
        sources,
        work_dir=tmp_path / "work",
        secret_dir=secret_dir,
    ) as (mounts, env):
        modes += [p.stat().st_mode & 0o7777 for p in secret_dir.rglob("*") if p.is_file()]
        assert env == {}
        code, out = sh(
            rootfs,
            "stat -c '%a %u %g' /run/secrets/mysecret /s2; cat /run/secrets/mysecret; "
            "echo x > /run/secrets/mysecret 2>/dev/null || echo READONLY",
            mounts,
        )
        _, as_user = sh(rootfs, "cat /run/secrets/mysecret || echo DENIED", mounts, user=LAMBDA)
    assert code == 0
    lines = out.splitlines()
    assert lines[:2] == ["400 0 0", "440 1000 0"]
    assert SECRET.decode() in out and "READONLY" in out
    assert "DENIED" in as_user
    assert sorted(modes) == [0o400, 0o440]
    assert list(secret_dir.iterdir()) == [], "the secret files are deleted"
    assert not any(SECRET in data for _, data in tree_bytes(rootfs))
    assert not any(SECRET in data for _, data in tree_bytes(tmp_path / "work"))
    assert not (rootfs / "run").exists()


def test_secret_as_environment_variable(
    rootfs: Path, sources: MountSources, tmp_path: Path
) -> None:
    secret_sources(sources, tmp_path)
    with prepare_mounts(
        flags("type=secret,id=token,env=TOKEN"), sources, work_dir=tmp_path / "w"
    ) as (mounts, env):
        assert mounts == [] and env == {"TOKEN": "tok-123"}
        _code, out = sh(
            rootfs, '[ "$TOKEN" = tok-123 ] && echo MATCH; ls /run/secrets', mounts, env
        )
    assert "MATCH" in out and "No such file" in out
    # env= and target= both: a variable and a file
    with prepare_mounts(
        flags("type=secret,id=token,env=T,target=/t"), sources, work_dir=tmp_path / "w"
    ) as (mounts, env):
        assert env == {"T": "tok-123"} and [m.destination for m in mounts] == ["/t"]


def test_missing_secrets(sources: MountSources, tmp_path: Path) -> None:
    with prepare_mounts(flags("type=secret,id=absent"), sources, work_dir=tmp_path / "w") as (
        mounts,
        env,
    ):
        assert mounts == [] and env == {}
    error = refused(sources, tmp_path, "type=secret,id=absent,required", match="required")
    assert '"absent"' in error.message and "--secret id=absent" in (error.hint or "")


def test_secret_id_defaults_to_the_target_base_name(sources: MountSources, tmp_path: Path) -> None:
    secret_sources(sources, tmp_path)
    with prepare_mounts(
        flags("type=secret,target=/etc/mysecret", "type=secret,source=token"),
        sources,
        work_dir=tmp_path / "w",
    ) as (mounts, _):
        assert sorted(m.destination for m in mounts) == ["/etc/mysecret", "/run/secrets/token"]
        assert all(m.source.startswith("/dev/shm/pybuild-secrets-") for m in mounts)
        assert all(m.options == ("rbind", "ro", "nosuid", "nodev", "noexec") for m in mounts)


# -------------------------------------------------------------------- ssh


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Path]:
    binary = require_tool("ssh-agent")
    sock = Path(f"/tmp/pybuild-test-agent-{os.getpid()}.sock")
    process = subprocess.Popen([binary, "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not sock.exists():
            assert time.monotonic() < deadline, "ssh-agent did not start"
            time.sleep(0.01)
        yield sock
    finally:
        process.terminate()
        process.wait()
        sock.unlink(missing_ok=True)


def ssh_add(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("ssh-add"), *args],
        env={"SSH_AUTH_SOCK": str(sock), "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=False,
    )


def make_key(directory: Path) -> tuple[Path, str]:
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "id_ed25519"
    subprocess.run(
        [require_tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", str(directory),
         "-f", str(key)],
        check=True,
    )  # fmt: skip
    return key, str(directory)


def test_ssh_agent_is_forwarded(
    rootfs: Path, sources: MountSources, tmp_path: Path, agent: Path
) -> None:
    key, comment = make_key(tmp_path)
    assert ssh_add(agent, str(key)).returncode == 0
    sources.ssh = {"default": [agent]}
    mode_before = agent.stat().st_mode
    with prepare_mounts(
        flags("type=ssh", "type=ssh,id=default,target=/agent2,uid=1000,mode=0660"),
        sources,
        work_dir=tmp_path / "w",
        step_env=["PATH=/bin"],
    ) as (mounts, env):
        assert env == {"SSH_AUTH_SOCK": "/run/buildkit/ssh_agent.0"}
        code, out = sh(
            rootfs,
            '[ -S "$SSH_AUTH_SOCK" ] && echo SOCKET; stat -c "%a %u" "$SSH_AUTH_SOCK" /agent2',
            mounts,
            env,
        )
        relay = next(m.source for m in mounts if m.destination == "/run/buildkit/ssh_agent.0")
        listed = ssh_add(Path(relay), "-l")
    assert code == 0 and out.splitlines() == ["SOCKET", "600 0", "660 1000"]
    assert listed.returncode == 0 and comment in listed.stdout, "the relay talks to the agent"
    assert not Path(relay).exists() and not Path(relay).parent.exists()
    assert agent.stat().st_mode == mode_before, "the user's socket is untouched"
    assert not (rootfs / "run").exists() and not (rootfs / "agent2").exists()


def test_ssh_keys_get_a_private_agent(sources: MountSources, tmp_path: Path) -> None:
    key, comment = make_key(tmp_path / "one")
    other_key, other_comment = make_key(tmp_path / "two")
    sources.ssh = {"deploy": [key], "other": [other_key]}
    with prepare_mounts(
        flags("type=ssh,id=deploy,target=/a", "type=ssh,id=other,target=/b"),
        sources,
        work_dir=tmp_path / "w",
        step_env=["SSH_AUTH_SOCK=/mine"],
    ) as (mounts, env):
        assert env == {}, "SSH_AUTH_SOCK from the step wins"
        relays = {m.destination: Path(m.source) for m in mounts}
        made = [p for p in relays["/a"].parent.iterdir() if p not in relays.values()]
        agent_socks = [p for p in made if p.suffix != ".pid"]
        records = [p.read_text().split() for p in made if p.suffix == ".pid"]
        listed = ssh_add(relays["/a"], "-L").stdout
        listed_other = ssh_add(relays["/b"], "-L").stdout
    assert listed.strip() == key.with_suffix(".pub").read_text().strip()
    assert listed_other.strip() == other_key.with_suffix(".pub").read_text().strip()
    assert comment in listed and other_comment in listed_other
    assert len(agent_socks) == 2, "one private agent per id"
    assert len(records) == 2 and all(len(r) == 2 for r in records), "pid and start time"
    assert relays["/a"].parent.name.startswith(f"pybuild-ssh-{os.getpid()}-")
    assert not relays["/a"].parent.exists(), "agent and relay sockets are gone"


def test_missing_ssh_agent(sources: MountSources, tmp_path: Path) -> None:
    with prepare_mounts(flags("type=ssh"), sources, work_dir=tmp_path / "w") as (mounts, env):
        assert mounts == [] and env == {}
    refused(sources, tmp_path, "type=ssh,required", match='ssh agent "default" is required')


# -------------------------------------------------------------------- clean-up


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_everything_is_undone_when_the_step_fails(
    sources: MountSources, tmp_path: Path, agent: Path, error: Callable[[], BaseException]
) -> None:
    secret_sources(sources, tmp_path)
    sources.ssh = {"default": [agent]}
    work, secret_dir = tmp_path / "work", tmp_path / "secrets"
    all_kinds = flags(
        "type=bind,target=/rw,rw",
        "type=cache,target=/c,sharing=locked",
        "type=tmpfs,target=/t",
        "type=secret,id=mysecret",
        "type=ssh",
    )
    made: list[Path] = []
    with (
        pytest.raises(error),
        prepare_mounts(all_kinds, sources, work_dir=work, secret_dir=secret_dir) as (m, _),
    ):
        made = [Path(x.source) for x in m if x.type == "bind"]
        assert all(p.exists() for p in made)
        raise error()
    assert list(work.iterdir()) == [] and list(secret_dir.iterdir()) == []
    assert not any(p.exists() for p in made if "cache" not in p.parts)
    # the cache lock was released: a locked user gets it at once
    cancel = threading.Event()
    cancel.set()
    with prepare_mounts(
        flags("type=cache,target=/c,sharing=locked"), sources, work_dir=work, cancel=cancel
    ):
        pass
