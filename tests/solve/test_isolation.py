"""What a RUN step can and cannot do, checked from inside real builds."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from builder.store import Store
from tests.solve.building import busybox_store, output_of, run_build, write_context

DOCKER_DEFAULT_CAPS = "00000000a80425fb"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs_tar: Path) -> Store:
    return busybox_store(tmp_path_factory.mktemp("iso-store") / "store", busybox_rootfs_tar)


def _output(store: Store, tmp_path: Path, dockerfile: str, **options: object) -> str:
    events: list = []
    run_build(store, write_context(tmp_path / "ctx", dockerfile), events=events, **options)
    return output_of(events)


def test_run_has_exactly_dockers_default_capabilities(store: Store, tmp_path: Path) -> None:
    text = _output(store, tmp_path, "FROM busybox\nRUN grep Cap /proc/self/status\n")
    caps = dict(line.split(":\t") for line in text.strip().splitlines())
    assert caps["CapEff"] == DOCKER_DEFAULT_CAPS
    assert caps["CapBnd"] == DOCKER_DEFAULT_CAPS
    assert caps["CapAmb"] == "0000000000000000"


def test_run_sees_only_its_own_processes(store: Store, tmp_path: Path) -> None:
    text = _output(store, tmp_path, "FROM busybox\nRUN ls /proc | grep -c '^[0-9]'; echo pid=$$\n")
    count, pid = text.strip().splitlines()
    assert int(count) <= 3  # sh, ls, grep
    assert pid == "pid=1"


def test_run_cannot_write_outside_its_root(store: Store, tmp_path: Path) -> None:
    marker = f"/tmp/pybuild-escape-{os.getpid()}"
    text = _output(
        store,
        tmp_path,
        f"FROM busybox\nRUN echo x > {marker} && mount -t tmpfs none /mnt; echo mount=$?\n",
    )
    assert not Path(marker).exists()
    assert "mount=1" in text or "mount=255" in text


def test_run_network_none(store: Store, tmp_path: Path) -> None:
    text = _output(store, tmp_path, "FROM busybox\nRUN --network=none cat /proc/net/dev\n")
    interfaces = [line.split(":")[0].strip() for line in text.splitlines() if ":" in line]
    assert interfaces == ["lo"]


def test_secret_is_readable_but_stored_nowhere(store: Store, tmp_path: Path) -> None:
    secret = b"s3cr3t-" + os.urandom(8).hex().encode()
    source = tmp_path / "token"
    source.write_bytes(secret)
    dockerfile = (
        "FROM busybox\n"
        "RUN --mount=type=secret,id=tok cp /run/secrets/tok /copy && rm /copy "
        "&& wc -c < /run/secrets/tok && echo done > /done\n"
    )
    from builder.solve.mounts.run import parse_secret_option

    secrets = dict([parse_secret_option(f"id=tok,src={source}")])
    text = _output(store, tmp_path, dockerfile, secrets=secrets)
    assert text.split()[0] == str(len(secret))
    assert secret.decode() not in text
    for path in store.root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            assert secret not in data, path
