"""The network of RUN steps in real builds on the Debian base: own namespace by default.

A server the test starts on 127.0.0.1 stands for what listens on a build
machine's loopback (a registry, a database). By default a RUN step cannot
reach it but reaches the package mirror; with `--allow network.host
--network host` it reaches both. Probes use bash's /dev/tcp (busybox's
wget crashes in a container).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.errors import BuildError
from builder.export.rootfs_import import import_rootfs
from builder.runtime.sandbox import HostEntry, SandboxOptions
from builder.store import Store
from builder.store.owners import current_owner
from tests.conftest import REPO, require_tool
from tests.solve.building import output_of, run_build, write_context
from tests.solve.test_sshd import debian_rootfs_tar  # noqa: F401  (a fixture)
from tests.stacks import netns_mounts, stack_processes, wait_for_no_stacks

MIRROR = "deb.debian.org"


class LoopbackServer:
    """A TCP server on 127.0.0.1 that greets and counts its clients."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.clients = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.socket.accept()
            except OSError:
                return
            self.clients += 1
            with client:
                client.sendall(b"hello-from-the-host\n")

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    served = LoopbackServer()
    yield served
    served.close()


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory,
    debian_rootfs_tar: Path,  # noqa: F811
) -> Store:
    require_tool("slirp4netns")
    store = Store.open(tmp_path_factory.mktemp("net-store") / "store")
    import_rootfs(store, debian_rootfs_tar, "debian:bookworm-slim")
    return store


def _probe(port: int, flags: str = "") -> str:
    return (
        'FROM debian:bookworm-slim\nSHELL ["/bin/bash", "-c"]\n'
        f"RUN {flags} (exec 3<>/dev/tcp/127.0.0.1/{port} && read -r line <&3 "
        '&& echo "loopback: $line" || echo "loopback: unreachable"); '
        f"(exec 3<>/dev/tcp/{MIRROR}/80 && echo 'mirror: reached' || echo 'mirror: unreachable'); "
        "echo \"interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | xargs)\"\n"
    )


def _lines(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def _build(store: Store, tmp_path: Path, dockerfile: str, **options: object) -> str:
    events: list = []
    context = write_context(tmp_path / "ctx", dockerfile)
    run_build(store, context, events=events, no_cache=True, **options)
    return output_of(events)


def test_default_network_reaches_the_mirror_not_the_hosts_loopback(
    store: Store, tmp_path: Path, server: LoopbackServer
) -> None:
    owner = current_owner()
    tag = f"pybuild-run-{owner.pid}-"
    dockerfile = _probe(server.port) + "RUN getent hosts deb.debian.org && cat /etc/resolv.conf\n"
    text = _build(store, tmp_path, dockerfile)
    assert _lines(text, "loopback: ") == ["loopback: unreachable"], text
    assert server.clients == 0
    assert _lines(text, "mirror: ") == ["mirror: reached"], text
    assert _lines(text, "interfaces: ") == ["interfaces: lo tap0"], text
    assert f" {MIRROR}" in text  # the name resolved through the forwarder
    assert "nameserver 10.0.2.3" in text
    # nothing of the two RUN steps' networks is left
    assert stack_processes(tag) == []
    assert netns_mounts(tag) == []


def test_host_network_with_the_entitlement_reaches_the_loopback(
    store: Store, tmp_path: Path, server: LoopbackServer
) -> None:
    text = _build(store, tmp_path, _probe(server.port), network="host", allow_host_network=True)
    assert _lines(text, "loopback: ") == ["loopback: hello-from-the-host"], text
    assert server.clients == 1
    assert _lines(text, "mirror: ") == ["mirror: reached"], text


def test_run_network_host_needs_the_entitlement(
    store: Store, tmp_path: Path, server: LoopbackServer
) -> None:
    dockerfile = _probe(server.port, "--network=host")
    text = _build(store, tmp_path, dockerfile, allow_host_network=True)
    assert _lines(text, "loopback: ") == ["loopback: hello-from-the-host"], text
    # without it the build stops before any step runs, at the RUN's line
    refused = dockerfile.replace("SHELL", "RUN touch /first-step\nSHELL")
    events: list = []
    with pytest.raises(BuildError) as caught:
        run_build(store, write_context(tmp_path / "ctx2", refused), events=events, no_cache=True)
    error = caught.value
    assert "RUN --network=host is not allowed without the network.host entitlement" in str(error)
    assert error.location is not None and error.location.line == 4
    assert "--allow network.host" in (error.hint or "")
    assert output_of(events) == ""
    assert server.clients == 1


def test_run_network_none_and_default_in_a_host_build(store: Store, tmp_path: Path) -> None:
    """`RUN --network=default` is the build's `--network` (BuildKit's unset mode), here host."""
    names = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort"
    dockerfile = (
        "FROM debian:bookworm-slim\n"
        f"RUN --network=none {names} | sed 's/^/none: /'\n"
        f"RUN --network=default {names} | sed 's/^/default: /'\n"
    )
    host = sorted(
        line.split(":")[0].strip() for line in Path("/proc/net/dev").read_text().splitlines()[2:]
    )
    text = _build(store, tmp_path, dockerfile, network="host", allow_host_network=True)
    assert _lines(text, "none: ") == ["none: lo"], text
    assert _lines(text, "default: ") == [f"default: {name}" for name in host], text


def test_add_host_is_in_etc_hosts_on_the_default_network(store: Store, tmp_path: Path) -> None:
    sandbox = SandboxOptions(extra_hosts=(HostEntry("db", "10.1.2.3"),))
    text = _build(
        store, tmp_path, "FROM debian:bookworm-slim\nRUN getent hosts db; cat /etc/hosts\n",
        sandbox=sandbox,
    )  # fmt: skip
    assert "10.1.2.3        db" in text
    assert text.splitlines()[-1] == "10.1.2.3\tdb"


# --- the command line ---------------------------------------------------------------------


def _pybuild(root: Path, *args: str, **popen: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYBUILD_ROOT": str(root), "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "builder.cli.main", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        **popen,  # type: ignore[call-overload]
    )  # fmt: skip


def test_cli_network_host_needs_allow(store: Store, tmp_path: Path, server: LoopbackServer) -> None:
    context = write_context(tmp_path / "ctx", _probe(server.port))
    refused = _pybuild(store.root, "build", "--network", "host", str(context))
    _, err = refused.communicate(timeout=60)
    assert refused.returncode == 2, err
    assert "--network host needs the network.host entitlement" in err
    assert "--allow network.host --network host" in err
    assert "Traceback" not in err
    allowed = _pybuild(
        store.root, "build", "--progress", "plain", "--no-cache",
        "--allow", "network.host", "--network", "host", str(context),
    )  # fmt: skip
    _, err = allowed.communicate(timeout=120)
    assert allowed.returncode == 0, err
    assert "loopback: hello-from-the-host" in err
    assert server.clients == 1


def test_a_killed_build_leaves_no_stack_and_the_next_command_cleans_up(
    store: Store, tmp_path: Path
) -> None:
    context = write_context(
        tmp_path / "ctx", "FROM debian:bookworm-slim\nRUN echo started && sleep 1239\n"
    )
    build = _pybuild(store.root, "build", "--progress", "plain", "--no-cache", str(context))
    tag = f"pybuild-run-{build.pid}-"
    try:
        deadline = time.monotonic() + 60
        while not stack_processes(tag) and time.monotonic() < deadline:
            assert build.poll() is None, build.communicate()[1]
            time.sleep(0.05)
        assert len(stack_processes(tag)) == 1
        time.sleep(0.5)
        build.send_signal(signal.SIGKILL)
        build.communicate(timeout=30)
    finally:
        if build.poll() is None:
            build.kill()
            build.communicate()
    # the stack quits on its own: its exit pipe closed with the killed process
    assert wait_for_no_stacks(tag) == []
    assert netns_mounts(tag) != []  # the namespace file stays until the next command
    after = _pybuild(store.root, "prune", "-f")
    _, err = after.communicate(timeout=60)
    assert after.returncode == 0, err
    assert netns_mounts(tag) == []
    assert [n for n in os.listdir("/dev/shm") if n.startswith(tag)] == []
