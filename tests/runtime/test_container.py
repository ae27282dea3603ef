"""Real containers with runc (and crun): output, exit status, identity, isolation, cleanup."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from builder.errors import BuildError
from builder.runtime.capabilities import bounding_set_of_this_process
from builder.runtime.container import RunCancelledError, RunResult, run
from builder.runtime.spec import MASKED_PATHS, Mount, RunSpec
from builder.runtime.users import ResolvedUser, resolve_user

ROOT = ResolvedUser(0, 0, (), "/root", "root")
DOCKER_DEFAULT_CAPS = "00000000a80425fb"
ETC_STUBS = ["etc/resolv.conf", "etc/hosts", "etc/hostname"]


def sh(
    rootfs: Path,
    script: str,
    *,
    user: ResolvedUser = ROOT,
    spec: dict[str, Any] | None = None,
    **run_options: Any,
) -> tuple[RunResult, str]:
    """Run a shell script in a container; its result and its whole output."""
    chunks: list[bytes] = []
    fields: dict[str, Any] = {"env": [], "cwd": "/", **(spec or {})}
    result = run(
        rootfs,
        RunSpec(args=["/bin/sh", "-c", script], user=user, **fields),
        output=chunks.append,
        **run_options,
    )
    return result, b"".join(chunks).decode()


def status_field(output: str, name: str) -> str:
    match = re.search(rf"^{name}:\s*(\S+)", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def host_processes_running(*argv: str) -> list[int]:
    """Host pids whose command line is exactly `argv`."""
    wanted = ("\0".join(argv) + "\0").encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes() == wanted:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def assert_cleaned_up(work_dir: Path, rootfs: Path, runc: str, sleeper: tuple[str, ...]) -> None:
    assert list(work_dir.iterdir()) == [], "the bundle and state directories are removed"
    state = work_dir / "state"
    listing = subprocess.run(
        [runc, "--root", str(state), "list", "-q"], capture_output=True, text=True
    )
    assert listing.stdout.strip() == ""
    assert host_processes_running(*sleeper) == []
    assert not (rootfs / "etc" / "hosts").exists()


def test_output_is_streamed_as_it_arrives(busybox_rootfs: Path, runc: str) -> None:
    arrivals: list[tuple[float, bytes]] = []
    result = run(
        busybox_rootfs,
        RunSpec(
            args=["sh", "-c", "echo hi; sleep 0.4; echo there >&2"], env=[], cwd="/", user=ROOT
        ),
        output=lambda chunk: arrivals.append((time.monotonic(), chunk)),
    )
    end = time.monotonic()
    assert b"".join(chunk for _, chunk in arrivals) == b"hi\nthere\n"  # stderr merged
    assert arrivals[0][1] == b"hi\n"
    assert end - arrivals[0][0] >= 0.3, "the first line came before the process ended"
    assert result.exit_code == 0
    assert result.signal is None
    assert 0.4 <= result.duration < 10


def test_exit_code_and_signal_are_passed_through(busybox_rootfs: Path, runc: str) -> None:
    assert sh(busybox_rootfs, "exit 7")[0].exit_code == 7
    result, _ = sh(busybox_rootfs, 'sh -c "kill -9 \\$\\$"; exit $?')
    assert (result.exit_code, result.signal) == (137, 9)


def test_env_cwd_stdin_and_default_path(busybox_rootfs: Path, runc: str) -> None:
    _, output = sh(
        busybox_rootfs,
        'echo "$GREETING"; pwd; echo "$PATH"; echo "$HOME"; cat',
        spec={"env": ["GREETING=hello world"], "cwd": "/tmp"},
        stdin=b"from stdin\n",
    )
    assert output.splitlines() == [
        "hello world",
        "/tmp",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "/root",
        "from stdin",
    ]


def test_stdin_is_dev_null_by_default(busybox_rootfs: Path, runc: str) -> None:
    assert sh(busybox_rootfs, "cat; echo done")[1] == "done\n"


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("", "uid=0(root) gid=0(root)"),
        ("lambda", "uid=1000(lambda) gid=1000(lambda) groups=50(staff)"),
        ("1000", "uid=1000(lambda) gid=1000(lambda) groups=50(staff)"),
        ("lambda:staff", "uid=1000(lambda) gid=50(staff)"),
        ("1000:50", "uid=1000(lambda) gid=50(staff)"),
        ("nobody", "uid=65534(nobody) gid=65534(nogroup)"),
        ("4242", "uid=4242 gid=0(root)"),
    ],
)
def test_user_forms(busybox_rootfs: Path, runc: str, user: str, expected: str) -> None:
    resolved = resolve_user(busybox_rootfs, user)
    assert sh(busybox_rootfs, "id", user=resolved)[1].strip() == expected


def test_unknown_user_is_a_clear_error(busybox_rootfs: Path) -> None:
    with pytest.raises(
        BuildError, match="unable to find user nosuch: no matching entries in passwd file"
    ):
        resolve_user(busybox_rootfs, "nosuch")


def test_pid_namespace_shows_only_the_container(busybox_rootfs: Path, runc: str) -> None:
    _, output = sh(
        busybox_rootfs, "sleep 30 & ls /proc | grep -E '^[0-9]+$'; ps -o pid,comm; kill $!"
    )
    pids = [line for line in output.splitlines() if line.isdigit()]
    assert sorted(pids, key=int)[0] == "1"
    assert len(pids) <= 4, output  # sh, sleep, ls, grep
    rows = [line.split() for line in output.splitlines() if line.strip() and not line.isdigit()]
    assert rows[0] == ["PID", "COMMAND"]
    assert {row[1] for row in rows[1:]} <= {"sh", "sleep", "ps"}, output


def test_default_capabilities_no_new_privs_and_seccomp(busybox_rootfs: Path, runc: str) -> None:
    _, output = sh(busybox_rootfs, "grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status")
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert status_field(output, field) == DOCKER_DEFAULT_CAPS, field
    assert status_field(output, "CapInh") == "0000000000000000"
    assert status_field(output, "CapAmb") == "0000000000000000"
    assert status_field(output, "NoNewPrivs") == "1"
    assert status_field(output, "Seccomp") == "2"
    lambda_user = resolve_user(busybox_rootfs, "lambda")
    _, output = sh(busybox_rootfs, "grep -E '^Cap' /proc/self/status", user=lambda_user)
    assert status_field(output, "CapEff") == "0000000000000000"
    assert status_field(output, "CapBnd") == DOCKER_DEFAULT_CAPS


def test_insecure_has_every_capability_and_no_seccomp(busybox_rootfs: Path, runc: str) -> None:
    script = "grep -E '^(CapEff|Seccomp)' /proc/self/status; mount -t tmpfs x /tmp && echo mounted"
    _, output = sh(busybox_rootfs, script, spec={"insecure": True})
    assert int(status_field(output, "CapEff"), 16) == bounding_set_of_this_process()
    assert status_field(output, "Seccomp") == "0"
    assert "mounted" in output


def test_mount_and_namespaces_are_denied(busybox_rootfs: Path, runc: str) -> None:
    _, output = sh(
        busybox_rootfs,
        "mount -t tmpfs x /tmp; echo mount=$?; unshare -U true; echo unshare=$?; linux32 uname -m",
    )
    assert "mount=1" in output
    assert "unshare: unshare(0x10000000): Operation not permitted" in output
    assert "unshare=1" in output
    # personality(PER_LINUX32) is one of the values Docker allows.
    assert output.splitlines()[-1] in ("i686", "armv8l", "armv7l")


def test_writes_land_in_the_rootfs_not_on_the_host(rootfs: Path, runc: str) -> None:
    name = f"pybuild-runtime-test-{os.getpid()}"
    result, _ = sh(rootfs, f"echo data > /{name}")
    assert result.exit_code == 0
    assert (rootfs / name).read_text() == "data\n"
    assert not Path("/", name).exists()


def test_network_none_has_only_loopback(busybox_rootfs: Path, runc: str) -> None:
    _, output = sh(busybox_rootfs, "cat /proc/net/dev", spec={"network": "none"})
    interfaces = [line.split(":")[0].strip() for line in output.splitlines()[2:]]
    assert interfaces == ["lo"]


def test_network_host_sees_the_host_interfaces(busybox_rootfs: Path, runc: str) -> None:
    host = sorted(
        line.split(":")[0].strip() for line in Path("/proc/net/dev").read_text().splitlines()[2:]
    )
    _, output = sh(busybox_rootfs, "cat /proc/net/dev", spec={"network": "host"})
    assert sorted(line.split(":")[0].strip() for line in output.splitlines()[2:]) == host


def test_masked_paths_are_empty_and_proc_sys_is_read_only(busybox_rootfs: Path, runc: str) -> None:
    present = [p for p in MASKED_PATHS if Path(p).exists()]
    assert "/proc/timer_list" in present or "/proc/kcore" in present, present
    script = "".join(
        f'echo "{p}=$(ls -A {p} | wc -l)"; '
        if Path(p).is_dir()
        else f'echo "{p}=$(cat {p} | wc -c)"; '
        for p in present
    )
    script += "echo x > /proc/sys/kernel/domainname; echo procsys=$?"
    _, output = sh(busybox_rootfs, script)
    for path in present:
        assert f"{path}=0" in output, output
    assert "Read-only file system" in output
    assert "procsys=1" in output


def test_hostname_and_etc_files(rootfs: Path, runc: str) -> None:
    result, output = sh(
        rootfs,
        "hostname; cat /etc/hostname /etc/hosts; test -r /etc/resolv.conf && echo resolv-ok",
        spec={"hostname": "step"},
    )
    lines = output.splitlines()
    assert lines[:3] == ["step", "step", "127.0.0.1\tlocalhost step"]
    assert "resolv-ok" in lines
    assert result.created_mount_targets == ETC_STUBS
    assert sorted(p.name for p in (rootfs / "etc").iterdir()) == ["group", "passwd"]


def test_etc_files_are_readable_by_other_users(busybox_rootfs: Path, runc: str) -> None:
    lambda_user = resolve_user(busybox_rootfs, "lambda")
    _, output = sh(
        busybox_rootfs, "cat /etc/hostname /etc/resolv.conf >/dev/null && echo ok", user=lambda_user
    )
    assert output == "ok\n"


def test_existing_etc_files_are_covered_not_touched(rootfs: Path, runc: str) -> None:
    (rootfs / "etc" / "hosts").write_text("image's own\n")
    result, output = sh(rootfs, "cat /etc/hosts")
    assert "localhost pybuild" in output
    assert (rootfs / "etc" / "hosts").read_text() == "image's own\n"
    assert "etc/hosts" not in result.created_mount_targets


def test_missing_mount_point_parents_are_removed(rootfs: Path, runc: str, tmp_path: Path) -> None:
    source = tmp_path / "cache"
    source.mkdir()
    mount = Mount("/var/cache/apt", "bind", str(source), ("rbind", "rw"))
    result, _ = sh(rootfs, "echo cached > /var/cache/apt/file", spec={"mounts": [mount]})
    assert (source / "file").read_text() == "cached\n"
    assert result.created_mount_targets == [*ETC_STUBS, "var", "var/cache", "var/cache/apt"]
    assert not (rootfs / "var").exists()


def test_readonly_rootfs(busybox_rootfs: Path, runc: str) -> None:
    _, output = sh(busybox_rootfs, "touch /x; echo rc=$?", spec={"readonly_rootfs": True})
    assert "Read-only file system" in output
    assert "rc=1" in output


def test_cancel_from_another_thread(rootfs: Path, runc: str, tmp_path: Path) -> None:
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(RunCancelledError):
        sh(rootfs, "exec sleep 1234", cancel=cancel, work_dir=work_dir)
    assert time.monotonic() - started < 2.5
    assert_cleaned_up(work_dir, rootfs, runc, ("sleep", "1234"))


def test_keyboard_interrupt_in_the_output_callback(rootfs: Path, runc: str, tmp_path: Path) -> None:
    work_dir = tmp_path / "work"
    work_dir.mkdir()

    def interrupt(chunk: bytes) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(
            rootfs,
            RunSpec(args=["sh", "-c", "echo started; exec sleep 1235"], env=[], cwd="/", user=ROOT),
            output=interrupt,
            work_dir=work_dir,
        )
    assert_cleaned_up(work_dir, rootfs, runc, ("sleep", "1235"))


def test_overlay_rootfs(busybox_rootfs: Path, runc: str, tmp_path: Path) -> None:
    upper, work, merged = (tmp_path / name for name in ("upper", "work", "merged"))
    for directory in (upper, work, merged):
        directory.mkdir()
    options = f"lowerdir={busybox_rootfs},upperdir={upper},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], check=True)
    try:
        result, _ = sh(merged, "echo step > /tmp/made-by-step; rm /bin/wc")
        assert result.exit_code == 0
    finally:
        subprocess.run(["umount", str(merged)], check=True)
    assert (upper / "tmp" / "made-by-step").read_text() == "step\n"
    assert (upper / "bin" / "wc").is_char_device()  # the overlay whiteout of the removed file
    assert (busybox_rootfs / "bin" / "wc").is_symlink()  # the lower layer is untouched
    assert not (upper / "etc" / "hosts").exists()
    assert result.created_mount_targets == ETC_STUBS


def test_crun_with_cgroups_disabled(busybox_rootfs: Path, crun: str) -> None:
    result, output = sh(
        busybox_rootfs, "echo ok; grep -E '^(CapEff|Seccomp)' /proc/self/status", runtime="crun"
    )
    assert result.exit_code == 0
    assert output.splitlines()[0] == "ok"
    assert status_field(output, "CapEff") == DOCKER_DEFAULT_CAPS
    assert status_field(output, "Seccomp") == "2"


def test_missing_runtime_binary(busybox_rootfs: Path) -> None:
    with pytest.raises(BuildError) as caught:
        sh(busybox_rootfs, "true", runtime="pybuild-no-such-runtime")
    assert caught.value.message == (
        "pybuild-no-such-runtime not found: install it with `apt-get install pybuild-no-such-runtime`"
    )


def test_runtime_failure_carries_its_error(rootfs: Path, runc: str, tmp_path: Path) -> None:
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    bad = Mount("/mnt", "pybuild-no-such-filesystem", "none")
    with pytest.raises(BuildError) as caught:
        sh(rootfs, "true", spec={"mounts": [bad]}, work_dir=work_dir)
    assert caught.value.message.startswith("runc could not run the container: ")
    assert "no such device" in caught.value.message
    assert list(work_dir.iterdir()) == []
    assert not (rootfs / "mnt").exists()


def test_missing_executable_is_a_runtime_error(busybox_rootfs: Path, runc: str) -> None:
    with pytest.raises(BuildError, match="no such file or directory"):
        run(busybox_rootfs, RunSpec(args=["/no/such/binary"], env=[], cwd="/", user=ROOT))


def test_missing_working_directory(busybox_rootfs: Path, runc: str) -> None:
    with pytest.raises(BuildError, match="working directory /no/such/dir does not exist"):
        sh(busybox_rootfs, "true", spec={"cwd": "/no/such/dir"})


def test_cancel_before_the_container_exists(rootfs: Path, runc: str, tmp_path: Path) -> None:
    work_dir = tmp_path / "work"
    cancel = threading.Event()
    cancel.set()
    started = time.monotonic()
    with pytest.raises(RunCancelledError):
        sh(rootfs, "exec sleep 1236", cancel=cancel, work_dir=work_dir)
    assert time.monotonic() - started < 2.5
    assert_cleaned_up(work_dir, rootfs, runc, ("sleep", "1236"))
