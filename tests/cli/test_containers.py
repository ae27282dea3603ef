"""`pybuild run`, `ps`, `rm`, `commit`, `diff` as a user runs them: real runc, a private store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.test_image_commands import PYBUILD, ok, run
from tests.conftest import require_tool


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs_tar: Path) -> Path:
    """A store with busybox imported as `busybox:latest`."""
    require_tool("runc")
    store = tmp_path_factory.mktemp("containers") / "store"
    ok(store, "import", str(busybox_rootfs_tar), "busybox:latest")
    return store


def _container_dirs(root: Path) -> list[str]:
    directory = root / "containers"
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def _our_mounts(root: Path) -> list[str]:
    text = Path("/proc/self/mountinfo").read_text()
    return [line for line in text.splitlines() if str(root) in line]


def _runc_containers(root: Path) -> list[str]:
    state = root / "run" / "runc"
    return sorted(os.listdir(state)) if state.is_dir() else []


def test_the_course_exercise(root: Path) -> None:
    ok(root, "run", "--name", "c", "busybox", "sh", "-c", "echo hi > /nouveau")
    image_id = ok(root, "commit", "c", "img2").strip()
    assert image_id.startswith("sha256:")
    assert ok(root, "run", "--rm", "img2", "cat", "/nouveau") == "hi\n"
    assert ok(root, "diff", "c").splitlines() == ["A /nouveau"]
    history = ok(root, "history", "--no-trunc", "img2", "--format", "{{.CreatedBy}}")
    assert history.splitlines()[0] == "sh -c echo hi > /nouveau"

    listed = ok(root, "ps", "-a").splitlines()
    assert listed[0].split()[:3] == ["CONTAINER", "ID", "IMAGE"]
    (row,) = [line for line in listed if line.endswith(" c")]
    assert "Exited (0)" in row and "busybox" in row
    assert "c" not in ok(root, "ps").split()  # not running
    (line,) = [x for x in ok(root, "ps", "-a", "-q").splitlines() if row.startswith(x)]
    assert len(line) == 12

    record = json.loads(next((root / "containers").glob(f"{line}*/container.json")).read_text())
    assert (record["name"], record["state"], record["exit_code"]) == ("c", "exited", 0)
    assert len(record["id"]) == 64
    assert ok(root, "rm", "c") == "c\n"
    assert record["id"] not in _container_dirs(root)
    assert run(root, "diff", "c").returncode == 1


def test_deletion_is_a_whiteout_and_the_commit_lacks_the_file(root: Path) -> None:
    ok(root, "run", "--name", "del", "busybox", "rm", "/bin/vi")
    assert ok(root, "diff", "del").splitlines() == ["C /bin", "D /bin/vi"]
    ok(root, "commit", "-m", "no vi", "-c", 'CMD ["ls", "/bin/vi"]', "del", "novi:1")
    proc = run(root, "run", "--rm", "novi:1")
    assert proc.returncode == 1 and "No such file" in proc.stdout
    assert ok(root, "run", "--rm", "busybox", "ls", "/bin/vi") == "/bin/vi\n"
    ok(root, "rm", "del")


def test_commit_changes_set_the_config(root: Path) -> None:
    ok(root, "run", "--name", "cfg", "busybox", "true")
    ok(
        root, "commit", "-c", "ENV GREETING=bonjour", "-c", "WORKDIR /srv", "-c", "USER 1000",
        "-c", "LABEL a=b", "-c", "EXPOSE 80", "-c", "ENTRYPOINT [\"sh\", \"-c\"]",
        "-c", 'CMD ["echo $GREETING $(pwd) $(id -u)"]', "cfg", "cfg:1",
    )  # fmt: skip
    assert ok(root, "run", "--rm", "cfg:1") == "bonjour /srv 1000\n"
    (doc,) = json.loads(ok(root, "inspect", "cfg:1"))
    assert doc["Config"]["Labels"] == {"a": "b"}
    assert doc["Config"]["ExposedPorts"] == {"80/tcp": {}}
    ok(root, "rm", "cfg")


def test_exit_codes(root: Path) -> None:
    assert run(root, "run", "--rm", "busybox", "sh", "-c", "exit 3").returncode == 3
    missing = run(root, "run", "--rm", "busybox", "no-such-command")
    assert missing.returncode == 127 and "not found" in missing.stderr
    assert run(root, "run", "--rm", "no-such-image:1", "true").returncode == 125
    assert run(root, "run", "--rm", "--network", "bridge", "busybox", "true").returncode == 125


def test_network_modes(root: Path) -> None:
    devices = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | xargs"
    own = ok(root, "run", "--rm", "--network", "default", "busybox", "sh", "-c", devices)
    assert own == "lo tap0\n"
    assert ok(root, "run", "--rm", "--network", "none", "busybox", "sh", "-c", devices) == "lo\n"
    resolv = ok(root, "run", "--rm", "--network", "default", "busybox", "cat", "/etc/resolv.conf")
    assert resolv.splitlines()[0] == "nameserver 10.0.2.3"


def test_env_workdir_user_entrypoint(root: Path) -> None:
    script = 'echo "$A|$B"; pwd; id -u; id -g'
    out = ok(
        root, "run", "--rm", "-e", "A=1", "-e", "B", "-w", "/made/here", "-u", "1234:99",
        "busybox", "sh", "-c", script, env={"B": "from-host"},
    )  # fmt: skip
    assert out.splitlines() == ["1|from-host", "/made/here", "1234", "99"]
    assert ok(root, "run", "--rm", "--entrypoint", "echo", "busybox", "a", "b") == "a b\n"


def test_bind_mounts(root: Path, tmp_path: Path) -> None:
    (tmp_path / "in").write_text("from the host\n")
    assert (
        ok(root, "run", "--rm", "-v", f"{tmp_path}:/data", "busybox", "sh", "-c",
           "cat /data/in; echo back > /data/out")
        == "from the host\n"
    )  # fmt: skip
    assert (tmp_path / "out").read_text() == "back\n"
    proc = run(root, "run", "--rm", "-v", f"{tmp_path}:/data:ro", "busybox", "touch", "/data/x")
    assert proc.returncode == 1 and "Read-only file system" in proc.stdout
    assert not (tmp_path / "x").exists()


def test_stdin_with_i(root: Path) -> None:
    assert ok(root, "run", "--rm", "-i", "busybox", "cat", stdin=b"piped\n") == "piped\n"


def test_rm_leaves_nothing(root: Path) -> None:
    before = _container_dirs(root)
    ok(root, "run", "--rm", "busybox", "touch", "/x")
    assert _container_dirs(root) == before
    assert _runc_containers(root) == [] and _our_mounts(root) == []
    assert not any((root / "tmp").iterdir())


def test_names_are_unique(root: Path) -> None:
    ok(root, "run", "--name", "twice", "busybox", "true")
    proc = run(root, "run", "--name", "twice", "busybox", "true")
    assert proc.returncode == 125 and "already in use" in proc.stderr
    ok(root, "run", "busybox", "true")  # a generated name
    names = [line.split()[-1] for line in ok(root, "ps", "-a").splitlines()[1:]]
    assert len(set(names)) == len(names)
    ok(root, "container", "prune", "-f")
    assert ok(root, "ps", "-a", "-q") == ""


def test_ctrl_c_exits_130_and_leaves_no_container_or_mount(root: Path) -> None:
    process = subprocess.Popen(
        [*PYBUILD, "run", "--name", "sleeper", "busybox", "sleep", "60"],
        env={**os.environ, "PYBUILD_ROOT": str(root)},
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while not _runc_containers(root) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _runc_containers(root), "the container never started"
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    assert process.wait(20) == 130
    assert process.stderr is not None and b"Traceback" not in process.stderr.read()
    assert _runc_containers(root) == [] and _our_mounts(root) == []
    assert "Exited (130)" in ok(root, "ps", "-a")
    ok(root, "rm", "sleeper")


def test_prune_keeps_the_image_of_a_container(root: Path) -> None:
    ok(root, "run", "--name", "keeper", "busybox", "sh", "-c", "echo kept > /k")
    kept = ok(root, "commit", "keeper", "kept:1").strip()
    ok(root, "run", "--name", "child", "kept:1", "true")
    assert run(root, "rmi", "kept:1").returncode == 1  # a container uses it
    assert ok(root, "rmi", "-f", "kept:1") == "Untagged: kept:1\n"
    assert ok(root, "rmi", "-f", kept) == f"Deleted: {kept}\n"  # the record; not its blobs
    ok(root, "prune")
    ok(root, "commit", "child", "kept:2")  # its image's blobs are still there
    assert ok(root, "run", "--rm", "kept:2", "cat", "/k") == "kept\n"
    ok(root, "rm", "keeper", "child")
    ok(root, "rmi", "kept:2")


def test_rm_of_unknown_container_fails(root: Path) -> None:
    proc = run(root, "rm", "nobody-here")
    assert proc.returncode == 1 and "No such container: nobody-here" in proc.stderr


def test_help_lists_the_commands() -> None:
    out = subprocess.run([*PYBUILD, "--help"], capture_output=True, text=True).stdout
    for name in ("run", "ps", "rm", "commit", "diff", "container"):
        assert f" {name} " in out
    assert sys.executable


def test_ps_format_templates_table_and_json(root: Path) -> None:
    ok(root, "run", "--name", "fmt1", "busybox", "sh", "-c", "echo a long command line here")
    lines = ok(root, "ps", "-a", "--format", "{{.Names}} {{.Status}}").splitlines()
    assert any(line.startswith("fmt1 Exited (0)") for line in lines)

    table = ok(root, "ps", "-a", "--format", "table {{.ID}}\\t{{.Names}}\\t{{.State}}")
    header, *rows = table.splitlines()
    assert header.split("   ")[0] == "CONTAINER ID" and "NAMES" in header and "STATE" in header
    (row,) = [r for r in rows if " fmt1 " in r]
    assert row.split()[2] == "exited" and len(row.split()[0]) == 12
    assert header.index("NAMES") == row.index("fmt1")

    command = ok(root, "ps", "-a", "--format", "{{.Command}}|{{.Networks}}|{{.Ports}}|")
    assert '"sh -c \'echo a long …"|host||' in command.splitlines()

    docs = [json.loads(x) for x in ok(root, "ps", "-a", "--format", "json").splitlines()]
    (doc,) = [d for d in docs if d["Names"] == "fmt1"]
    assert list(doc) == sorted(doc)
    assert doc["State"] == "exited" and doc["Status"].startswith("Exited (0)")
    assert doc["RunningFor"].endswith(" ago") and doc["CreatedAt"][:2] == "20"
    assert "(virtual " in doc["Size"] and doc["LocalVolumes"] == "0"
    proc = run(root, "ps", "--format", "{{.Nope")
    assert proc.returncode == 2
    ok(root, "rm", "fmt1")


def test_rmi_refuses_an_image_a_container_uses(root: Path) -> None:
    ok(root, "run", "--name", "rmisrc", "busybox", "sh", "-c", "echo x > /x")
    image_id = ok(root, "commit", "rmisrc", "rmimg:1").strip()
    short = image_id.removeprefix("sha256:")[:12]
    ok(root, "run", "--name", "rmiuser", "rmimg:1", "cat", "/x")
    (user,) = [
        line.split()[0]
        for line in ok(root, "ps", "-a", "--format", "{{.ID}} {{.Names}}").splitlines()
        if line.endswith(" rmiuser")
    ]
    proc = run(root, "rmi", "rmimg:1")
    assert proc.returncode == 1
    assert (
        'conflict: unable to remove repository reference "rmimg:1" (must force) - '
        f"container {user} is using its referenced image {short}"
    ) in proc.stderr
    proc = run(root, "rmi", short)
    assert proc.returncode == 1
    assert (
        f"conflict: unable to delete {short} (must be forced) - "
        f"image is being used by stopped container {user}"
    ) in proc.stderr
    assert ok(root, "rmi", "-f", "rmimg:1") == "Untagged: rmimg:1\n"
    assert ok(root, "inspect", "-f", "{{.Id}}", short).strip() == image_id  # dangling, kept
    ok(root, "prune", "-a", "-f")
    assert ok(root, "diff", "rmiuser").splitlines() == []  # its snapshots stay
    ok(root, "rm", "rmiuser", "rmisrc")
    assert ok(root, "rmi", short) == f"Deleted: {image_id}\n"
