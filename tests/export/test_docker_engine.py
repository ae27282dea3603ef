"""`pybuild build --load` and `-o type=docker` into a real Docker engine (Debian's docker.io).

A private `dockerd` runs for the session on its own socket, data and exec
roots (no bridge, no iptables), and is stopped at the end: the machine's
own engine, if any, is never used. A fake engine (a unix-socket HTTP server)
stands in where a real one cannot be made to fail on cue.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from builder.errors import EngineError, EngineUnavailableError
from builder.export import docker_engine
from builder.export.docker_engine import EngineAddress, find_engine, load_image
from builder.export.output_spec import OutputSpec, parse_outputs
from tests.cli.test_image_commands import ok, run

DOCKER = "/usr/bin/docker"  #: Debian's client, not whatever else is on PATH
APP = "docker.io/library/app:latest"


# --- a private engine --------------------------------------------------------------------------


class Engine:
    """A private dockerd: its socket, and `docker -H` on it."""

    def __init__(self, sock: Path) -> None:
        self.socket = sock
        self.host = f"unix://{sock}"

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [DOCKER, "-H", self.host, *args], capture_output=True, text=True, timeout=120
        )
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc


def _start_dockerd(top: Path, driver: str) -> tuple[subprocess.Popen[bytes], Engine] | None:
    sock = top / "docker.sock"
    config = top / "daemon.json"
    config.write_text("{}\n")  # never the machine's /etc/docker/daemon.json
    log = (top / f"dockerd-{driver}.log").open("wb")
    proc = subprocess.Popen(
        [
            "dockerd", "--config-file", str(config), "--host", f"unix://{sock}",
            "--data-root", str(top / "data"), "--exec-root", str(top / "exec"),
            "--pidfile", str(top / "docker.pid"), "--bridge", "none", "--iptables=false",
            "--ip6tables=false", "--storage-driver", driver,
        ],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    engine = Engine(sock)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if sock.exists() and engine.docker("info", check=False).returncode == 0:
            return proc, engine
        time.sleep(0.3)
    _stop(proc)
    return None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # dockerd stops its containerd and containers
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A private Docker engine for the session (overlay2, else vfs)."""
    if not shutil.which("dockerd") or not Path(DOCKER).exists():
        pytest.fail("dockerd and /usr/bin/docker are missing: run tests/install-deps.sh")
    if os.geteuid() != 0:
        pytest.skip("dockerd needs root")
    # short: unix socket paths (containerd's too, under exec-root) hold at most 107 bytes
    top = Path(tmp_path_factory.mktemp("dockerd"))
    started = None
    for driver in ("overlay2", "vfs"):
        started = _start_dockerd(top, driver)
        if started:
            break
        shutil.rmtree(top / "data", ignore_errors=True)
    if started is None:
        logs = "".join(p.read_text()[-2000:] for p in sorted(top.glob("dockerd-*.log")))
        pytest.fail(f"the private dockerd did not start:\n{logs}")
    proc, eng = started
    try:
        yield eng
    finally:
        _stop(proc)


@pytest.fixture
def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        'FROM busybox\nRUN echo "made by pybuild" > /made\nCMD ["cat", "/made"]\n'
    )
    return ctx


@pytest.fixture
def root(tmp_path: Path, busybox_rootfs_tar: Path) -> Path:
    store = tmp_path / "store"
    ok(store, "import", str(busybox_rootfs_tar), "busybox:latest")
    return store


def _image_id(engine: Engine, name: str) -> str:
    return engine.docker("image", "inspect", name, "--format", "{{.Id}}").stdout.strip()


# --- build --load into the real engine ---------------------------------------------------------


def test_build_load_runs_in_docker(engine: Engine, root: Path, context: Path, tmp_path) -> None:
    iid = tmp_path / "iid"
    proc = run(
        root, "build", "--load", "-t", "app", "--iidfile", str(iid), str(context),
        env={"DOCKER_HOST": engine.host},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"importing to docker at {engine.host} (Loaded image: app:latest) done" in proc.stderr
    ran = engine.docker("run", "--rm", "--network", "none", "app", "cat", "/made")
    assert ran.stdout == "made by pybuild\n"
    assert engine.docker("run", "--rm", "--network", "none", "app").stdout == "made by pybuild\n"
    tags = engine.docker("image", "inspect", "app", "--format", "{{json .RepoTags}}").stdout
    assert json.loads(tags) == ["app:latest"]
    assert _image_id(engine, "app") == iid.read_text()  # the same image ID as pybuild's
    assert ok(root, "images", "-q", "--no-trunc", "app") == iid.read_text() + "\n"


def test_output_type_docker_without_dest_loads(engine: Engine, root: Path, context: Path) -> None:
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo docker-output > /made\n")
    proc = run(
        root, "build", "-q", "-o", "type=docker", "-t", "app:out", "-t", "team/app:2",
        str(context), env={"DOCKER_HOST": engine.host},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    image_id = proc.stdout.strip()
    ran = engine.docker("run", "--rm", "--network", "none", "team/app:2", "cat", "/made")
    assert ran.stdout == "docker-output\n"
    tags = engine.docker("image", "inspect", image_id, "--format", "{{json .RepoTags}}").stdout
    assert sorted(json.loads(tags)) == ["app:out", "team/app:2"]


def test_load_with_other_outputs(engine: Engine, root: Path, context: Path, tmp_path) -> None:
    archive = tmp_path / "app.tar"
    proc = run(
        root, "build", "--load", "-t", "app:both", "-o", f"type=docker,dest={archive}",
        "-o", f"type=local,dest={tmp_path / 'rootfs'}", str(context),
        env={"DOCKER_HOST": engine.host},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "rootfs" / "made").read_text() == "made by pybuild\n"
    assert archive.stat().st_size > 0
    assert engine.docker("run", "--rm", "--network", "none", "app:both").stdout.startswith("made")


def test_load_without_tags_loads_the_image_id(engine: Engine, root: Path, context) -> None:
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo untagged > /made\n")
    proc = run(root, "build", "-q", "--load", str(context), env={"DOCKER_HOST": engine.host})
    assert proc.returncode == 0, proc.stderr
    image_id = proc.stdout.strip()
    assert _image_id(engine, image_id) == image_id


# --- errors ------------------------------------------------------------------------------------


def test_no_engine_is_a_clear_error_before_building(root: Path, context: Path, tmp_path) -> None:
    host = f"unix://{tmp_path}/nothing.sock"
    proc = run(root, "build", "--load", "-t", "app", str(context), env={"DOCKER_HOST": host})
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"--load: no Docker engine at {host} "
        "(set DOCKER_HOST, or use `pybuild save IMAGE | docker load`)"
    )
    assert ok(root, "images", "-q", "app") == ""  # nothing was built


def _no_host_sockets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point the default socket and Podman's system socket into `tmp_path` (absent there),
    so the test does not depend on what engines this machine runs."""
    default = tmp_path / "var-run" / "docker.sock"
    monkeypatch.setattr(docker_engine, "DEFAULT_SOCKET", str(default))
    system_podman = tmp_path / "run-podman" / "podman.sock"
    real = docker_engine.podman_sockets
    monkeypatch.setattr(
        docker_engine,
        "podman_sockets",
        lambda env: [
            p if p != Path("/run/podman/podman.sock") else system_podman for p in real(env)
        ],
    )
    return default


def test_the_default_socket_is_dockers() -> None:
    assert docker_engine.DEFAULT_SOCKET == "/var/run/docker.sock"


def test_no_engine_at_the_default_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = _no_host_sockets(monkeypatch, tmp_path)
    with pytest.raises(EngineUnavailableError) as info:
        find_engine({"XDG_RUNTIME_DIR": str(tmp_path)})
    assert info.value.message == (
        f"--load: no Docker engine at unix://{default} "
        "(set DOCKER_HOST, or use `pybuild save IMAGE | docker load`)"
    )


def test_a_socket_nobody_listens_on(root: Path, context: Path, tmp_path) -> None:
    path = tmp_path / "dead.sock"
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))  # a socket file, but no listener: connection refused
    dead.close()
    proc = run(root, "build", "--load", str(context), env={"DOCKER_HOST": f"unix://{path}"})
    assert proc.returncode == 1
    assert f"--load: no Docker engine at unix://{path}" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("host", ["tcp://127.0.0.1:2375", "ssh://me@host", "npipe:////./pipe/x"])
def test_only_unix_docker_hosts(host: str) -> None:
    with pytest.raises(EngineError, match="unix socket only") as info:
        find_engine({"DOCKER_HOST": host})
    assert not isinstance(info.value, EngineUnavailableError)


def test_tcp_docker_host_from_the_cli(root: Path, context: Path) -> None:
    env = {"DOCKER_HOST": "tcp://127.0.0.1:2375"}
    proc = run(root, "build", "-o", "type=docker", str(context), env=env)
    assert proc.returncode == 1
    assert "DOCKER_HOST=tcp://127.0.0.1:2375 is not supported" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_podman_socket_when_docker_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_host_sockets(monkeypatch, tmp_path)
    path = tmp_path / "podman" / "podman.sock"
    path.parent.mkdir()
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        assert find_engine({"XDG_RUNTIME_DIR": str(tmp_path)}) == EngineAddress(path, "podman")
        # DOCKER_HOST always wins
        other = f"unix://{tmp_path}/other.sock"
        with pytest.raises(EngineUnavailableError, match=other):
            find_engine({"XDG_RUNTIME_DIR": str(tmp_path), "DOCKER_HOST": other})


def test_the_real_engine_refusing_an_archive(engine: Engine) -> None:
    address = find_engine({"DOCKER_HOST": engine.host})

    def broken(out) -> None:  # a manifest.json naming files the archive lacks
        import io
        import tarfile

        data = json.dumps([{"Config": "c.json", "RepoTags": ["x:1"], "Layers": []}]).encode()
        with tarfile.open(fileobj=out, mode="w|") as tar:
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

    with pytest.raises(EngineError, match=f"--load: the engine at {engine.host} ") as info:
        load_image(address, broken)
    assert "c.json" in info.value.message


def test_the_real_engine_gets_the_archive_in_chunks(engine: Engine, tmp_path: Path) -> None:
    """A tiny chunk size: thousands of HTTP chunks make one image."""
    from builder.export.docker_archive import save_docker_archive
    from builder.export.rootfs_import import import_rootfs
    from builder.export.selection import ImageSelection
    from builder.store import Store

    store = Store.open(tmp_path / "store")
    rootfs = tmp_path / "rootfs.tar"
    _tiny_rootfs(rootfs)
    record = import_rootfs(store, rootfs, "tiny:1", created="2024-01-01T00:00:00Z")
    selections = [ImageSelection(record, ["docker.io/library/tiny:1"])]
    address = find_engine({"DOCKER_HOST": engine.host})
    messages = load_image(
        address, lambda out: save_docker_archive(store, selections, out), chunk_size=97
    )
    assert messages == ["Loaded image: tiny:1"]
    assert _image_id(engine, "tiny:1") == record.id


def _tiny_rootfs(path: Path) -> None:
    import io
    import tarfile

    with tarfile.open(path, "w") as tar:
        data = os.urandom(200_000)
        info = tarfile.TarInfo("blob")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


# --- a fake engine that reports an error in its message stream --------------------------------


class _FakeEngine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    answer: bytes = b""
    received = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _FakeEngine

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._reply(b"OK", "text/plain")

    def do_POST(self) -> None:
        assert self.path.startswith("/images/load")
        assert self.headers["Transfer-Encoding"] == "chunked"
        while True:  # read the chunked body to its end
            size = int(self.rfile.readline().split(b";")[0], 16)
            self.server.received += len(self.rfile.read(size))
            self.rfile.readline()
            if size == 0:
                break
        self._reply(self.server.answer, "application/json")

    def _reply(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def fake_engine(tmp_path: Path) -> Iterator[_FakeEngine]:
    server = _FakeEngine(str(tmp_path / "fake.sock"), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_error_detail_is_a_typed_error(fake_engine: _FakeEngine, tmp_path: Path) -> None:
    fake_engine.answer = (
        b'{"stream":"Loading layer\\n"}\n'
        b'{"errorDetail":{"message":"no space left on device"},"error":"no space left"}\n'
    )
    address = find_engine({"DOCKER_HOST": f"unix://{tmp_path}/fake.sock"})
    with pytest.raises(EngineError, match="could not load the image: no space left on device"):
        load_image(address, lambda out: out.write(b"x" * 3_000_000))
    assert fake_engine.received == 3_000_000


def test_engine_error_from_the_cli(fake_engine: _FakeEngine, root: Path, context: Path) -> None:
    fake_engine.answer = b'{"errorDetail":{"message":"boom"},"error":"boom"}\n'
    host = f"unix://{fake_engine.server_address}"
    proc = run(root, "build", "--load", "-t", "app", str(context), env={"DOCKER_HOST": host})
    assert proc.returncode == 1
    assert f"--load: the engine at {host} could not load the image: boom" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- the option ----------------------------------------------------------------------------------


def test_load_adds_a_docker_output() -> None:
    assert parse_outputs([], push=False, tags=["app"], load=True) == [
        OutputSpec("docker", names=(APP,), text="type=docker")
    ]
    specs = parse_outputs(["type=docker"], push=False, tags=[], load=True)
    assert [s.type for s in specs] == ["docker"]  # already there: not twice
    specs = parse_outputs([], push=True, tags=["127.0.0.1:5000/app:1"], load=True)
    assert [(s.type, s.push, s.to_engine) for s in specs] == [
        ("image", True, False),
        ("docker", False, True),
    ]
