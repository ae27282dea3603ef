"""A Docker engine, over its unix socket: where `pybuild build --load` hands the image.

    engine = find_engine(os.environ)          # DOCKER_HOST, the default socket, or Podman's
    messages = load_image(engine, lambda out: save_docker_archive(store, selections, out))

The engine is found as the docker CLI finds it: `DOCKER_HOST` when set
(only `unix://PATH`; tcp, ssh and npipe hosts are refused), else
`/var/run/docker.sock`. When neither is set nor there, Podman's socket
(`$XDG_RUNTIME_DIR/podman/podman.sock`, then `/run/podman/podman.sock`) is
used: its Docker-compatible API has the same endpoint.

The image goes in one `POST /images/load` (the engine API's `docker load`)
whose body is a docker-archive, streamed with chunked transfer encoding as
it is written: nothing holds the whole image. The engine answers with a
stream of JSON messages; `{"stream": "Loaded image: app:latest\\n"}` lines
are returned, an `errorDetail` (or `error`) becomes an EngineError.

Plain HTTP/1.1 over `http.client`, with a connection class that dials a
unix socket; no dependency.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, cast

from builder.errors import EngineError, EngineUnavailableError

__all__ = [
    "DEFAULT_SOCKET",
    "EngineAddress",
    "find_engine",
    "load_image",
    "podman_sockets",
]

DEFAULT_SOCKET: Final = "/var/run/docker.sock"
CHUNK_SIZE: Final = 1 << 20  #: bytes of the archive sent per HTTP chunk
CONNECT_TIMEOUT: Final = 10.0  #: seconds to reach the engine; a load itself may take long
_SAVE_HINT: Final = "use `pybuild save IMAGE | docker load`"


@dataclass(frozen=True)
class EngineAddress:
    """The unix socket of an engine, and how it was chosen."""

    socket: Path
    source: str  #: "DOCKER_HOST", "default" or "podman"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"


def podman_sockets(environ: Mapping[str, str]) -> list[Path]:
    """Where Podman's API socket lives: rootless first, then the system one."""
    found = []
    runtime_dir = environ.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        found.append(Path(runtime_dir) / "podman" / "podman.sock")
    found.append(Path("/run/podman/podman.sock"))
    return found


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except OSError:
        return False


def _no_engine(url: str) -> EngineUnavailableError:
    return EngineUnavailableError(
        f"--load: no Docker engine at {url} (set DOCKER_HOST, or {_SAVE_HINT})"
    )


def _from_docker_host(value: str) -> EngineAddress:
    scheme, sep, rest = value.partition("://")
    if not sep or scheme != "unix":
        raise EngineError(
            f"--load: DOCKER_HOST={value} is not supported: pybuild reaches a Docker engine "
            "through a unix socket only (unix:///PATH)",
            hint=f"set DOCKER_HOST to the engine's unix socket, or {_SAVE_HINT}",
        )
    if not rest.startswith("/"):
        raise EngineError(
            f"--load: DOCKER_HOST={value}: the socket path must be absolute (unix:///PATH)"
        )
    return EngineAddress(Path(rest), "DOCKER_HOST")


def find_engine(environ: Mapping[str, str] | None = None) -> EngineAddress:
    """The engine `--load` talks to (see the module docstring).

    Raises EngineError for a DOCKER_HOST that is not a unix socket, and
    EngineUnavailableError when the chosen socket does not exist.
    """
    env = os.environ if environ is None else environ
    host = env.get("DOCKER_HOST", "")
    if host:
        address = _from_docker_host(host)
    else:
        address = EngineAddress(Path(DEFAULT_SOCKET), "default")
        if not _is_socket(address.socket):
            podman = next((p for p in podman_sockets(env) if _is_socket(p)), None)
            if podman is not None:
                address = EngineAddress(podman, "podman")
    if not _is_socket(address.socket):
        raise _no_engine(address.url)
    return address


class _UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 to an engine's unix socket (the Host header says `docker`)."""

    def __init__(self, path: Path) -> None:
        super().__init__("docker", timeout=CONNECT_TIMEOUT)
        self._path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect(self._path)
            sock.settimeout(None)  # loading a large image takes as long as it takes
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _ChunkedBody:
    """A write-only stream sent as the chunks of an HTTP request body."""

    def __init__(self, conn: _UnixConnection, chunk_size: int) -> None:
        self._conn = conn
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        self.sent = 0

    def write(self, data: bytes) -> int:
        self._buffer += data
        if len(self._buffer) >= self._chunk_size:
            self._send(bytes(self._buffer))
            self._buffer.clear()
        return len(data)

    def flush(self) -> None:
        """Nothing to do: full chunks are sent as they fill, the rest by `finish`."""

    def finish(self) -> None:
        if self._buffer:
            self._send(bytes(self._buffer))
            self._buffer.clear()
        self._conn.send(b"0\r\n\r\n")

    def _send(self, chunk: bytes) -> None:
        self._conn.send(b"%x\r\n" % len(chunk))
        self._conn.send(chunk)
        self._conn.send(b"\r\n")
        self.sent += len(chunk)


def _connect(address: EngineAddress) -> _UnixConnection:
    """A connection to an engine that answered `GET /_ping`."""
    conn = _UnixConnection(address.socket)
    try:
        conn.request("GET", "/_ping")
        response = conn.getresponse()
        response.read()
    except (OSError, http.client.HTTPException):
        conn.close()
        raise _no_engine(address.url) from None
    if response.status != 200:
        conn.close()
        raise EngineError(
            f"--load: the engine at {address.url} is not ready: HTTP {response.status}"
        )
    return conn


def load_image(
    address: EngineAddress,
    write: Callable[[BinaryIO], None],
    *,
    chunk_size: int = CHUNK_SIZE,
) -> list[str]:
    """Send the docker-archive `write` produces to the engine's `POST /images/load`.

    Returns the engine's messages (`Loaded image: app:latest`). Raises
    EngineUnavailableError when nothing answers at the socket, EngineError
    when the engine refuses the archive or reports an error while loading.
    Errors of `write` itself (reading the store) propagate unchanged.
    """
    conn = _connect(address)
    try:
        conn.putrequest("POST", "/images/load?quiet=1")
        conn.putheader("Content-Type", "application/x-tar")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        body = _ChunkedBody(conn, chunk_size)
        try:
            write(cast(BinaryIO, body))
            body.finish()
        except OSError as err:
            # the engine may have answered (and hung up) early: its answer says why
            response = _response_or_none(conn)
            if response is None:
                raise EngineError(
                    f"--load: the engine at {address.url} closed the connection "
                    f"after {body.sent} bytes of the image: {err.strerror or err}"
                ) from None
        else:
            response = conn.getresponse()
        return _read_answer(address, response)
    except http.client.HTTPException as err:
        raise EngineError(f"--load: bad answer from the engine at {address.url}: {err!r}") from None
    except OSError as err:
        raise EngineError(
            f"--load: lost the engine at {address.url}: {err.strerror or err}"
        ) from None
    finally:
        conn.close()


def _response_or_none(conn: _UnixConnection) -> http.client.HTTPResponse | None:
    try:
        return conn.getresponse()
    except (OSError, http.client.HTTPException):
        return None


def _read_answer(address: EngineAddress, response: http.client.HTTPResponse) -> list[str]:
    data = response.read()
    if response.status != 200:
        raise EngineError(
            f"--load: the engine at {address.url} refused the image: "
            f"{_error_text(data) or f'HTTP {response.status}'}"
        )
    messages = []
    for message in _json_messages(data, address):
        detail = message.get("errorDetail")
        error = detail.get("message") if isinstance(detail, dict) else None
        error = error or message.get("error")
        if error:
            raise EngineError(
                f"--load: the engine at {address.url} could not load the image: {error}"
            )
        text = message.get("stream")
        if isinstance(text, str) and text.strip():
            messages.append(text.strip())
    return messages


def _error_text(data: bytes) -> str:
    """The `message` of an engine's error body (`{"message": "..."}`), else its text."""
    text = data.decode("utf-8", "replace").strip()
    try:
        obj = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(obj, dict) and isinstance(obj.get("message"), str):
        return str(obj["message"])
    return text[:500]


def _json_messages(data: bytes, address: EngineAddress) -> list[dict[str, object]]:
    """The JSON objects of an engine's message stream (concatenated, usually one a line)."""
    text = data.decode("utf-8", "replace")
    decoder = json.JSONDecoder()
    found: list[dict[str, object]] = []
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return found
        try:
            obj, at = decoder.raw_decode(text, at)
        except ValueError:
            raise EngineError(
                f"--load: the engine at {address.url} answered something that is not "
                f"a JSON message stream: {text[at : at + 200]!r}"
            ) from None
        if isinstance(obj, dict):
            found.append(obj)
