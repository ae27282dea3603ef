"""Registry deadlines: idle, throughput and document limits against slow and stalled servers.

The slow servers are the fault proxy in front of the real docker-registry,
trickling answers a byte at a time or never answering (tests/registry_server.py).
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.errors import UsageError
from builder.registry.client import RegistryClient
from builder.registry.deadlines import Deadlines, Meter, TransferTimeout
from builder.registry.errors import RegistryTimeoutError
from builder.registry.pull import pull
from builder.registry.push import push
from builder.registry.transport import RetryPolicy
from builder.store import Store
from tests.registry.images import add_image
from tests.registry_server import Fault, FaultProxy, RegistryServer

#: Small limits so a failing attempt costs a fraction of a second.
QUICK = Deadlines(connect=1.0, idle=0.2, min_speed=0, speed_window=1.0, document=5.0)


def retries(attempts: int) -> RetryPolicy:
    return RetryPolicy(attempts=attempts, backoff=0.01, max_backoff=0.02)


def client_for(host: str, deadlines: Deadlines, attempts: int = 3) -> RegistryClient:
    return RegistryClient(host, credentials=None, retry=retries(attempts), deadlines=deadlines)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "store")


@pytest.fixture
def image(registry: RegistryServer, store: Store, repo: str) -> Iterator[tuple[str, str, int]]:
    """`repo:v1` in the registry, with one 64 KB layer: (repo, layer digest, layer size)."""
    name = f"{registry.host}/{repo}:v1"
    record = add_image(store, [{"data.bin": os.urandom(64_000)}], name=name)
    push(store, name, client=RegistryClient(registry.host, credentials=None))
    layer = store.manifest(record).layers[0]
    yield repo, layer.digest, layer.size


# -- configuration ---------------------------------------------------------------------------


def test_defaults_and_environment() -> None:
    assert Deadlines.from_env({}) == Deadlines()
    got = Deadlines.from_env(
        {
            "PYBUILD_REGISTRY_IDLE_TIMEOUT": "0.5",
            "PYBUILD_REGISTRY_MIN_SPEED": "0",
            "PYBUILD_REGISTRY_DOCUMENT_TIMEOUT": " 7 ",
            "PYBUILD_REGISTRY_CONNECT_TIMEOUT": "",
        }
    )
    assert (got.idle, got.min_speed, got.document, got.connect) == (0.5, 0.0, 7.0, 15.0)
    assert RetryPolicy.from_env({"PYBUILD_REGISTRY_ATTEMPTS": "2"}).attempts == 2
    assert RetryPolicy.from_env({}).attempts == 5


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("PYBUILD_REGISTRY_IDLE_TIMEOUT", "soon"),
        ("PYBUILD_REGISTRY_IDLE_TIMEOUT", "0"),
        ("PYBUILD_REGISTRY_SPEED_WINDOW", "-1"),
        ("PYBUILD_REGISTRY_DOCUMENT_TIMEOUT", "inf"),
        ("PYBUILD_REGISTRY_MIN_SPEED", "nan"),
        ("PYBUILD_REGISTRY_ATTEMPTS", "2.5"),
    ],
)
def test_bad_environment_values_are_usage_errors(var: str, value: str) -> None:
    with pytest.raises(UsageError) as info:
        Deadlines.from_env({var: value})
        RetryPolicy.from_env({var: value})
    assert info.value.message.startswith(f"{var}={value!r}: expected a")


def test_meter_window(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("builder.registry.deadlines.time.monotonic", lambda: now[0])
    meter = Meter(Deadlines(min_speed=1000, speed_window=10))
    for _ in range(9):  # 2000 B/s for 9 s: fine
        now[0] += 1
        meter.received(2000)
    for _ in range(10):  # a pause, then bursts: the last 10 s still average >= 1000 B/s
        now[0] += 0.5
        meter.received(1000)
    with pytest.raises(TransferTimeout) as info:
        for _ in range(20):  # 100 B/s: the average over 10 s sinks below 1 KB/s
            now[0] += 1
            meter.received(100)
    assert info.value.reason.startswith("under 1000 B/s for 10 s (")


def test_meter_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr("builder.registry.deadlines.time.monotonic", lambda: now[0])
    meter = Meter(Deadlines(idle=30, document=60), deadline=60.0)
    assert meter.read_timeout() == 30
    now[0] = 45.0
    assert meter.read_timeout() == 15
    assert meter.timed_out().reason == "not received within 60 s"
    now[0] = 60.0
    with pytest.raises(TransferTimeout, match="not received within 60 s"):
        meter.read_timeout()
    assert Meter(Deadlines(idle=30)).timed_out().reason == "no data for 30 s"


# -- slow and stalled servers ---------------------------------------------------------------


def test_a_blob_with_long_pauses_fails_on_the_idle_limit(
    registry: RegistryServer, image: tuple[str, str, int]
) -> None:
    repo, digest, size = image
    fault = Fault("GET", "/blobs/sha256:", "trickle", delay=0.5, times=99)
    with FaultProxy(registry, [fault]) as proxy:
        client = client_for(proxy.host, QUICK, attempts=3)
        started = time.monotonic()
        with pytest.raises(RegistryTimeoutError) as info:
            client.get_blob(repo, digest, io.BytesIO(), size=size)
        elapsed = time.monotonic() - started
    assert str(info.value) == (
        f"blob {digest} from {proxy.host}/{repo}: no data for 0.2 s (attempt 3 of 3)"
    )
    assert "PYBUILD_REGISTRY_" in (info.value.hint or "")
    assert fault.hits == 3
    assert elapsed < 2.0, elapsed


def test_a_crawling_blob_fails_on_the_minimum_throughput(
    registry: RegistryServer, image: tuple[str, str, int]
) -> None:
    repo, digest, size = image
    fault = Fault("GET", "/blobs/sha256:", "trickle", delay=0.05, times=99)  # ~20 B/s
    limits = Deadlines(idle=1.0, min_speed=1024, speed_window=1.0)
    with FaultProxy(registry, [fault]) as proxy:
        client = client_for(proxy.host, limits, attempts=2)
        sink = io.BytesIO()
        started = time.monotonic()
        with pytest.raises(RegistryTimeoutError) as info:
            client.get_blob(repo, digest, sink, size=size)
        elapsed = time.monotonic() - started
    message = str(info.value)
    assert message.startswith(f"blob {digest} from {proxy.host}/{repo}: under 1 KiB/s for 1 s (")
    assert message.endswith(" B/s) (attempt 2 of 2)")
    assert 2.0 <= elapsed < 4.0, elapsed
    # the second attempt resumed where the first one stopped
    assert 0 < len(sink.getvalue()) < size
    ranges = [e.headers.get("Range") for e in proxy.log if "/blobs/" in e.path]
    assert ranges[0] is None and (ranges[1] or "").startswith("bytes=")


def test_a_trickled_manifest_misses_its_deadline(
    registry: RegistryServer, image: tuple[str, str, int]
) -> None:
    repo, _, _ = image
    fault = Fault("GET", "/manifests/v1", "trickle", delay=0.1, times=99)
    limits = Deadlines(idle=5.0, document=1.0)
    with FaultProxy(registry, [fault]) as proxy:
        client = client_for(proxy.host, limits, attempts=2)
        client.ping()
        started = time.monotonic()
        with pytest.raises(RegistryTimeoutError) as info:
            client.get_manifest(repo, "v1")
        elapsed = time.monotonic() - started
    assert str(info.value) == (
        f"manifest {repo}:v1 from {proxy.host}: not received within 1 s (attempt 2 of 2)"
    )
    assert fault.hits == 2
    assert 2.0 <= elapsed < 3.0, elapsed


def test_a_server_that_never_answers_costs_attempts_times_the_idle_limit(
    registry: RegistryServer, image: tuple[str, str, int]
) -> None:
    repo, _, _ = image
    fault = Fault("GET", "/manifests/v1", "stall", times=99)
    with FaultProxy(registry, [fault]) as proxy:
        client = client_for(proxy.host, QUICK, attempts=4)
        client.ping()
        started = time.monotonic()
        with pytest.raises(RegistryTimeoutError) as info:
            client.get_manifest(repo, "v1")
        elapsed = time.monotonic() - started
    assert str(info.value) == (
        f"manifest {repo}:v1 from {proxy.host}: no answer for 0.2 s (attempt 4 of 4)"
    )
    assert fault.hits == 4
    assert 0.8 <= elapsed < 1.5, elapsed


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP port that completes handshakes (the kernel's backlog) and never says a word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def test_a_silent_server_is_bounded_and_one_line(silent_server: str) -> None:
    client = RegistryClient(
        silent_server, credentials=None, retry=retries(3), deadlines=QUICK, scheme="http"
    )
    started = time.monotonic()
    with pytest.raises(RegistryTimeoutError) as info:
        client.ping()
    elapsed = time.monotonic() - started
    assert str(info.value) == (
        f"registry {silent_server}: GET http://{silent_server}/v2/: "
        "no answer for 0.2 s (attempt 3 of 3)"
    )
    assert elapsed < 1.5, elapsed


def test_a_silent_server_fails_the_https_probe_at_once(silent_server: str) -> None:
    client = RegistryClient(silent_server, credentials=None, retry=retries(3), deadlines=QUICK)
    started = time.monotonic()
    with pytest.raises(RegistryTimeoutError) as info:
        client.ping()
    assert time.monotonic() - started < 2.0
    assert str(info.value).startswith(f"registry {silent_server}: ")
    assert str(info.value).endswith(f"GET https://{silent_server}/v2/: no answer for 1 s")


def test_a_stalled_blob_resumes_where_it_stopped(
    registry: RegistryServer, image: tuple[str, str, int]
) -> None:
    repo, digest, size = image
    fault = Fault("GET", "/blobs/sha256:", "trickle", keep=20_000, step=5_000)
    with FaultProxy(registry, [fault]) as proxy:
        sink = io.BytesIO()
        got = client_for(proxy.host, QUICK).get_blob(repo, digest, sink, size=size)
        blob_gets = [e for e in proxy.log if e.method == "GET" and "/blobs/" in e.path]
    assert got == size and len(sink.getvalue()) == size
    assert [e.headers.get("Range") for e in blob_gets] == [None, "bytes=20000-"]
    assert [e.status for e in blob_gets] == [200, 206]


def test_pull_and_push_work_within_tight_limits(
    registry: RegistryServer, store: Store, tmp_path: Path, repo: str
) -> None:
    tight = Deadlines(connect=1.0, idle=1.0, min_speed=64 << 10, speed_window=0.5, document=2.0)
    name = f"{registry.host}/{repo}:v1"
    record = add_image(store, [{"big.bin": os.urandom(3 << 20)}, {"a": b"b"}], name=name)
    with FaultProxy(registry) as proxy:
        target = f"{proxy.host}/{repo}:v1"
        push(store, name, target, client=client_for(proxy.host, tight))
        other = Store.open(tmp_path / "other")
        pulled = pull(other, target, client=client_for(proxy.host, tight))
    assert pulled.manifest_digest == record.manifest_digest


def test_pull_of_a_stalling_layer_stores_nothing(
    registry: RegistryServer, image: tuple[str, str, int], tmp_path: Path
) -> None:
    repo, digest, _ = image
    fault = Fault("GET", f"/blobs/{digest}", "trickle", delay=0.5, times=99)
    other = Store.open(tmp_path / "other")
    with FaultProxy(registry, [fault]) as proxy, pytest.raises(RegistryTimeoutError):
        pull(other, f"{proxy.host}/{repo}:v1", client=client_for(proxy.host, QUICK))
    assert other.images() == []
    assert not other.has_blob(digest)


def test_cli_pull_from_a_trickling_registry_exits_1_with_the_message(
    registry: RegistryServer, image: tuple[str, str, int], tmp_path: Path
) -> None:
    repo, digest, _ = image
    fault = Fault("GET", f"/blobs/{digest}", "trickle", delay=0.5, times=99)
    env = {
        **os.environ,
        "PYBUILD_ROOT": str(tmp_path / "root"),
        "PYBUILD_REGISTRY_IDLE_TIMEOUT": "0.2",
        "PYBUILD_REGISTRY_ATTEMPTS": "2",
    }
    with FaultProxy(registry, [fault]) as proxy:
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "builder.cli.main", "pull", f"{proxy.host}/{repo}:v1"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"blob {digest} from {proxy.host}/{repo}: no data for 0.2 s (attempt 2 of 2)" in (
        proc.stderr
    )
    assert elapsed < 15, elapsed
