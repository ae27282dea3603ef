"""A RUN's own network: a namespace served by slirp4netns, with real runc; nothing outlives it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from builder.errors import BuildError
from builder.runtime.container import RunCancelledError
from builder.runtime.etcfiles import private_resolv_conf
from builder.runtime.network import DNS_FORWARDER, start_network
from builder.runtime.sandbox import HostEntry, SandboxOptions
from builder.runtime.spec import build_config
from tests.conftest import REPO, require_tool
from tests.runtime.test_container import ROOT, assert_cleaned_up, sh
from tests.stacks import netns_mounts, stack_processes, wait_for_no_stacks


@pytest.fixture(scope="module", autouse=True)
def _slirp4netns() -> None:
    require_tool("slirp4netns")


def _interfaces(proc_net_dev: str) -> list[str]:
    return [line.split(":")[0].strip() for line in proc_net_dev.splitlines()[2:]]


def test_default_network_has_its_own_interface_and_the_forwarder_as_dns(
    busybox_rootfs: Path, runc: str, tmp_path: Path
) -> None:
    work_dir = tmp_path / "work"
    extra = SandboxOptions(extra_hosts=(HostEntry("db", "10.1.2.3"),))
    result, output = sh(
        busybox_rootfs,
        "cat /proc/net/dev; echo ==; cat /etc/resolv.conf; echo ==; cat /etc/hosts; echo ==; "
        "ip -4 -o addr show dev tap0; ip route",
        spec={"network": "default", "sandbox": extra},
        work_dir=work_dir,
    )
    assert result.exit_code == 0, output
    dev, resolv, hosts, addresses = output.split("==\n")
    assert sorted(_interfaces(dev)) == ["lo", "tap0"]
    assert resolv.splitlines()[0] == f"nameserver {DNS_FORWARDER}"
    assert [line for line in resolv.splitlines() if line.startswith("nameserver")] == [
        f"nameserver {DNS_FORWARDER}"
    ]
    assert hosts.splitlines()[-1] == "10.1.2.3\tdb"
    assert "10.0.2.100/24" in addresses
    assert "default via 10.0.2.2" in addresses
    assert stack_processes(str(work_dir)) == []
    assert netns_mounts(str(work_dir)) == []
    assert list(work_dir.iterdir()) == []


def test_the_stack_is_gone_after_a_failing_and_a_cancelled_run(
    rootfs: Path, runc: str, tmp_path: Path
) -> None:
    work_dir = tmp_path / "work"
    result, _ = sh(rootfs, "exit 3", spec={"network": "default"}, work_dir=work_dir)
    assert result.exit_code == 3
    assert stack_processes(str(work_dir)) == []
    cancel = threading.Event()
    seen: list[list[int]] = []

    def cancel_once_served() -> None:
        deadline = time.monotonic() + 20
        while not (found := stack_processes(str(work_dir))) and time.monotonic() < deadline:
            time.sleep(0.02)
        seen.append(found)
        time.sleep(0.2)
        cancel.set()

    threading.Thread(target=cancel_once_served, daemon=True).start()
    with pytest.raises(RunCancelledError):
        sh(rootfs, "exec sleep 1241", spec={"network": "default"}, cancel=cancel,
           work_dir=work_dir)  # fmt: skip
    assert len(seen) == 1 and len(seen[0]) == 1, "slirp4netns served the run"
    assert stack_processes(str(work_dir)) == []
    assert netns_mounts(str(work_dir)) == []
    assert_cleaned_up(work_dir, rootfs, runc, ("sleep", "1241"))


def test_start_and_close(tmp_path: Path) -> None:
    private = start_network(tmp_path)
    assert private.process is not None
    pid = private.process.pid
    assert stack_processes(str(tmp_path)) == [pid]
    assert netns_mounts(str(tmp_path)) == [str(tmp_path / "netns")]
    probe = subprocess.run(
        ["nsenter", f"--net={private.namespace}", "ip", "-o", "-4", "addr", "show", "tap0"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "10.0.2.100/24" in probe.stdout, probe.stderr
    private.close()
    private.close()  # again: nothing left to do
    assert stack_processes(str(tmp_path)) == []
    assert netns_mounts(str(tmp_path)) == []
    assert not private.namespace.exists()


def test_the_stack_stops_when_its_starter_is_killed(tmp_path: Path) -> None:
    """kill -9 of the process that started slirp4netns: the kernel closes its exit pipe."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from builder.runtime.network import start_network\n"
        "start_network(Path(sys.argv[1]))\n"
        "print('ready', flush=True)\n"
        "time.sleep(600)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        assert len(stack_processes(str(tmp_path))) == 1
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert wait_for_no_stacks(str(tmp_path)) == []
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for point in netns_mounts(str(tmp_path)):
            subprocess.run(["umount", "-l", point], check=False)


def test_missing_slirp4netns_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(BuildError) as caught:
        start_network(tmp_path)
    assert "slirp4netns not found" in caught.value.message
    assert "apt-get install slirp4netns" in (caught.value.hint or "")
    assert "--network none" in (caught.value.hint or "")


def test_config_joins_the_namespace_by_path(tmp_path: Path) -> None:
    files = {name: tmp_path / name for name in ("hosts", "resolv", "hostname")}
    from builder.runtime.spec import RunSpec

    spec = RunSpec(args=["true"], env=[], cwd="/", user=ROOT, network="default")
    config = build_config(
        spec, tmp_path, hosts_file=files["hosts"], resolv_conf=files["resolv"],
        hostname_file=files["hostname"], network_namespace=Path("/dev/shm/x/netns"),
    )  # fmt: skip
    assert {"type": "network", "path": "/dev/shm/x/netns"} in config["linux"]["namespaces"]
    with pytest.raises(BuildError, match="needs its network namespace"):
        build_config(
            spec, tmp_path, hosts_file=files["hosts"], resolv_conf=files["resolv"],
            hostname_file=files["hostname"],
        )  # fmt: skip


def test_private_resolv_conf_keeps_search_and_options(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text(
        "# comment\nnameserver 127.0.0.53\nnameserver 192.0.2.1\n"
        "search example.org corp.example\noptions edns0 ndots:2\n"
    )
    assert private_resolv_conf("10.0.2.3", host, tmp_path / "missing") == (
        "nameserver 10.0.2.3\nsearch example.org corp.example\noptions edns0 ndots:2\n"
    )
    assert private_resolv_conf("10.0.2.3", tmp_path / "none", tmp_path / "none") == (
        "nameserver 10.0.2.3\n"
    )


def test_crun_joins_the_namespace_too(busybox_rootfs: Path, crun: str, tmp_path: Path) -> None:
    """crun may run in a mount namespace of its own (hybrid cgroups): the namespace file is there."""
    work_dir = tmp_path / "work"
    result, output = sh(
        busybox_rootfs, "cat /proc/net/dev", spec={"network": "default"}, runtime="crun",
        work_dir=work_dir,
    )  # fmt: skip
    assert result.exit_code == 0, output
    assert sorted(_interfaces(output)) == ["lo", "tap0"]
    assert stack_processes(str(work_dir)) == []
    assert netns_mounts(str(work_dir)) == []
