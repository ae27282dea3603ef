"""Recovery after kill -9, deep trees, and a store other users cannot read."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from builder.snapshot.diff import prune_unchanged_dirs
from builder.snapshot.overlay import mount
from builder.snapshot.trees import mounts_under, remove_tree, tree_size
from builder.store import Store
from builder.store.owners import current_owner, owner_of, process_start
from builder.store.recovery import SHM, recover
from tests.conftest import REPO, require_tool
from tests.stacks import netns_mounts, wait_for_no_stacks

SECRET = "s3cr3t-value-" + os.urandom(6).hex()
NOBODY = 65534
DOCKERFILE = """\
FROM busybox AS one
RUN --mount=type=secret,id=tok --mount=type=secret,id=tok,env=TOK \
    sleep 1 && cat /run/secrets/tok > /dev/null && echo x > /y
COPY hello.txt /hello
FROM busybox
COPY --from=one /y /y2
RUN sleep 3 && echo z > /z
"""
#: The build lasts longer than the latest kill (3 s) on a fast machine too: the last
#: step sleeps 3 s after about 1.5 s of earlier steps, so every kill lands mid-build.


def _pybuild(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "builder.cli.main", *args]


def _env(root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYBUILD_ROOT": str(root),
        "PYTHONPATH": str(REPO),
        "SOURCE_DATE_EPOCH": "0",
        "TOK": SECRET,
    }


def _build(root: Path, context: Path, *extra: str) -> subprocess.Popen[bytes]:
    args = _pybuild(root, "build", "--secret", "id=tok,env=TOK", *extra, str(context))
    return subprocess.Popen(
        args, env=_env(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=context
    )


def _finish(proc: subprocess.Popen[bytes]) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    return out.decode().strip()


def _files_holding(top: Path, needle: bytes) -> list[str]:
    found = []
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                with open(path, "rb") as f:
                    if needle in f.read():
                        found.append(path)
            except OSError:
                continue
    return found


def _runc_list(root: Path) -> str:
    state = root / "run" / "runc"
    if not state.is_dir():
        return ""
    out = subprocess.run(
        ["runc", "--root", str(state), "list", "-q"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip()


def test_kill_9_at_random_moments_then_prune(tmp_path: Path, busybox_rootfs_tar: Path) -> None:
    root = tmp_path / "store"
    env = _env(root)
    subprocess.run(
        _pybuild(root, "import", str(busybox_rootfs_tar), "busybox:latest"), env=env, check=True
    )
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "hello.txt").write_text("hello\n")
    rng = random.Random(11)
    delays = sorted(rng.uniform(0.1, 3.0) for _ in range(6))
    killed = []
    for delay in delays:
        proc = _build(root, context, "--no-cache")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        pid = proc.pid
        killed.append(pid)
        assert proc.returncode == -signal.SIGKILL
        # a RUN step's network stack quits with the killed process (its exit pipe closes)
        assert wait_for_no_stacks(f"pybuild-run-{pid}-") == []
    prune = subprocess.run(
        _pybuild(root, "prune", "-f"), env=env, capture_output=True, text=True, timeout=60
    )
    assert prune.returncode == 0, prune.stderr
    assert "Traceback" not in prune.stderr
    assert mounts_under(root) == []
    assert _runc_list(root) == ""
    assert os.listdir(root / "tmp") == []
    leftovers = [n for n in os.listdir(SHM) if n.startswith("pybuild-") and str(pid) in n]
    assert leftovers == []
    for pid in killed:  # the namespaces the killed builds' RUN steps had are detached
        assert netns_mounts(f"pybuild-run-{pid}-") == []
    assert _files_holding(root, SECRET.encode()) == []
    assert _files_holding(SHM, SECRET.encode()) == []
    # no process of the killed builds' containers is alive
    sleepers = subprocess.run(["pgrep", "-f", "sleep [13] && "], capture_output=True, text=True)
    assert sleepers.stdout.strip() == ""

    rebuilt = _finish(_build(root, context, "-q"))
    clean = _finish(_build(root, context, "-q", "--no-cache"))  # every step run again
    assert rebuilt == clean and rebuilt.startswith("sha256:")


def _deep(top: Path, depth: int) -> Path:
    """`top/d/d/.../d` `depth` levels deep (longer than PATH_MAX), made with relative mkdirs."""
    top.mkdir(parents=True, exist_ok=True)
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        with open(os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as f:
            f.write(b"12345")
    finally:
        os.close(fd)
    return top


def test_deep_trees_remove_du_prune_and_diff(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    _deep(store.root / "tmp" / "tmp-step-1-dead", 3000)
    _deep(store.root / "snapshots" / ("ab" * 32) / "fs", 3000)
    usage = store.disk_usage()
    assert (usage.temp_size, usage.snapshots_size) == (5, 5)
    report = store.prune(all_images=True)
    assert report.deleted_temp == 1 and report.deleted_snapshots == 1
    assert os.listdir(store.root / "tmp") == [] and os.listdir(store.root / "snapshots") == []

    upper = _deep(tmp_path / "upper", 3000)
    lower = tmp_path / "lower"
    lower.mkdir()
    prune_unchanged_dirs(upper, [lower])
    assert tree_size(upper) == 5
    remove_tree(upper)
    assert not upper.exists()


def test_remove_tree_detaches_mounts_and_keeps_what_they_show(tmp_path: Path) -> None:
    lower = tmp_path / "lower"
    (lower / "keep").mkdir(parents=True)
    (lower / "keep" / "file").write_text("x")
    work = tmp_path / "work"
    (work / "merged").mkdir(parents=True)
    mount(str(lower), work / "merged", "", 4096)  # MS_BIND: same device as the files below
    assert mounts_under(work)
    remove_tree(work)
    assert not work.exists() and mounts_under(tmp_path) == []
    assert (lower / "keep" / "file").read_text() == "x"


def test_recovery_of_a_dead_owner_and_not_of_a_live_one(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    start = current_owner().start
    dead = store.root / "tmp" / f"tmp-step-{child.pid}-{start + 1}-{'0' * 16}"
    (dead / "merged").mkdir(parents=True)
    (dead / "lower").mkdir()
    mount(str(dead / "lower"), dead / "merged", "", 4096)  # MS_BIND
    live = store.temp_dir("step")
    shm = tmp_path / "shm"
    secrets = shm / f"pybuild-secrets-{child.pid}-{start + 1}-{'1' * 16}"
    secrets.mkdir(parents=True)
    (secrets / "secret-1").write_text(SECRET)
    report = recover(store._layout, shm)
    assert (report.temp, report.memory_files) == (1, 1)
    assert not dead.exists() and not secrets.exists() and live.is_dir()
    assert mounts_under(store.root) == []
    assert owner_of(live.name) == current_owner()


def test_recovery_costs_little_when_nothing_is_left(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    for n in range(200):
        (store.root / "snapshots" / f"{n:064x}").mkdir()
    recover(store._layout)
    started = time.perf_counter()
    for _ in range(20):
        recover(store._layout)
    assert (time.perf_counter() - started) / 20 < 0.01


def _drop_to_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)  # as root: real, effective and saved uid, so no capability is kept


def _as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        preexec_fn=_drop_to_nobody,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make device nodes")
def test_other_users_cannot_reach_devices_or_setuid_files(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    os.chmod(tmp_path.parent, 0o755)
    old = tmp_path / "old"
    old.mkdir(mode=0o755)
    (old / "snapshots").mkdir(mode=0o755)
    store = Store.open(old)  # an existing store, opened again: fixed at the first write
    store.put_blob(b"x")
    fs = store.root / "snapshots" / ("cd" * 32) / "fs"
    fs.mkdir(parents=True, mode=0o755)
    os.mknod(fs / "mem", 0o666 | 0o020000, os.makedev(1, 1))
    suid = fs / "suid"
    suid.write_bytes(Path("/bin/true").read_bytes())
    os.chmod(suid, 0o4755)
    for directory in (store.root, store.root / "snapshots", store.root / "tmp"):
        assert os.stat(directory).st_mode & 0o077 == 0, directory
    opened = _as_nobody("/bin/sh", "-c", 'head -c1 "$0"', str(fs / "mem"))
    assert opened.returncode != 0 and "Permission denied" in opened.stderr
    ran = _as_nobody("/bin/sh", "-c", '"$0"', str(suid))
    assert ran.returncode == 126 and "Permission denied" in ran.stderr
    # the same device node, outside the store, is open to anyone: the dirs are what protect
    assert _as_nobody("/bin/sh", "-c", 'head -c0 "$0"', "/dev/null").returncode == 0
    new = Store.open(tmp_path / "new")
    assert all(os.stat(d).st_mode & 0o777 == 0o700 for d in new._layout.directories())


def _sleeper() -> subprocess.Popen[bytes]:
    """A stand-in for a key agent: its own session, as `key_agent` starts ssh-agent."""
    return subprocess.Popen(["sleep", "60"], start_new_session=True)


def _ssh_dir(parent: Path, tag: str, agent: subprocess.Popen[bytes] | None, start: int) -> Path:
    """A socket dir as `socket_dir` makes it, with a relay socket and an agent record."""
    path = parent / f"pybuild-ssh-{tag}-{os.urandom(8).hex()}"
    path.mkdir(parents=True, mode=0o700)
    os.mknod(path / "0.sock", stat.S_IFSOCK | 0o600)  # (a bound path would be too long)
    if agent is not None:
        (path / "agent-1.pid").write_text(f"{agent.pid} {start}\n")
    return path


def test_recovery_removes_dead_owners_ssh_dirs_and_stops_their_agents(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_pid.wait()
    dead_tag = f"{dead_pid.pid}-{current_owner().start + 1}"
    shm, temp = tmp_path / "shm", tmp_path / "tmp"
    agent, survivor, reused = _sleeper(), _sleeper(), _sleeper()
    try:
        start_of = {p.pid: process_start(p.pid) or 0 for p in (agent, survivor, reused)}
        in_shm = _ssh_dir(shm, dead_tag, agent, start_of[agent.pid])
        in_temp = _ssh_dir(temp, dead_tag, None, 0)
        # a pid since reused by another process (other start time) is not killed
        stale = _ssh_dir(temp, dead_tag, reused, start_of[reused.pid] + 1)
        live = _ssh_dir(temp, current_owner().tag, survivor, start_of[survivor.pid])
        report = recover(store._layout, shm, temp)
        assert report.memory_files == 3
        assert agent.wait(timeout=10) == -signal.SIGKILL
        assert not in_shm.exists() and not in_temp.exists() and not stale.exists()
        assert live.is_dir() and survivor.poll() is None and reused.poll() is None
    finally:
        for proc in (agent, survivor, reused):
            proc.kill()
            proc.wait()


def test_kill_9_during_an_ssh_step_leaves_no_agent(
    tmp_path: Path, busybox_rootfs_tar: Path
) -> None:
    keygen = require_tool("ssh-keygen")  # openssh-client: tests/install-deps.sh installs it
    require_tool("ssh-agent")
    root = tmp_path / "store"
    env = _env(root)
    subprocess.run(
        _pybuild(root, "import", str(busybox_rootfs_tar), "busybox:latest"), env=env, check=True
    )
    key = tmp_path / "id_ed25519"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN --mount=type=ssh,id=deploy sleep 30\n")
    args = _pybuild(root, "build", "--no-cache", "--ssh", f"deploy={key}", str(context))
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        records: list[Path] = []
        deadline = time.monotonic() + 60
        while not records and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            for parent in (SHM, Path(tempfile.gettempdir())):
                records = list(parent.glob(f"pybuild-ssh-{proc.pid}-*/*.pid"))
                if records:
                    break
        assert records, "the build started its key agent"
        socket_dir = records[0].parent
        agent_pid = int(records[0].read_text().split()[0])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert process_start(agent_pid) is not None, "the agent outlives a kill -9"
    prune = subprocess.run(
        _pybuild(root, "prune", "-f"), env=env, capture_output=True, text=True, timeout=60
    )
    assert prune.returncode == 0 and "Traceback" not in prune.stderr, prune.stderr
    assert not socket_dir.exists()
    deadline = time.monotonic() + 10
    while process_start(agent_pid) is not None and time.monotonic() < deadline:
        time.sleep(0.05)  # killed; reaped by init
    assert process_start(agent_pid) is None
