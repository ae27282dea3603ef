"""Transport and error mapping: endpoints, schemes, retries, one-line errors."""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from builder.registry.client import RegistryClient
from builder.registry.errors import (
    RegistryAuthError,
    RegistryNotFoundError,
    RegistryStatusError,
    RegistryUnavailableError,
    error_for_response,
    parse_error_body,
)
from builder.registry.transport import (
    RetryPolicy,
    Transport,
    endpoint_host,
    is_loopback,
    parse_retry_after,
)
from tests.registry.conftest import FAST_RETRY
from tests.registry_server import RegistryServer, free_port


def body(*errors: tuple[str, str]) -> bytes:
    return json.dumps(
        {"errors": [{"code": c, "message": m, "detail": {}} for c, m in errors]}
    ).encode()


@pytest.mark.parametrize(
    ("status", "data", "what", "cls", "text"),
    [
        (
            401,
            body(("UNAUTHORIZED", "authentication required")),
            None,
            RegistryAuthError,
            "401 UNAUTHORIZED: authentication required",
        ),
        (
            404,
            body(("MANIFEST_UNKNOWN", "manifest unknown")),
            "manifest a:1",
            RegistryNotFoundError,
            "404 MANIFEST_UNKNOWN: manifest unknown (manifest a:1)",
        ),
        (
            404,
            body(("NAME_UNKNOWN", "repository name not known to registry")),
            None,
            RegistryNotFoundError,
            "404 NAME_UNKNOWN: repository name not known to registry",
        ),
        (
            404,
            body(("BLOB_UNKNOWN", "blob unknown to registry")),
            None,
            RegistryNotFoundError,
            "404 BLOB_UNKNOWN: blob unknown to registry",
        ),
        (
            429,
            body(("TOOMANYREQUESTS", "You have reached your pull rate limit")),
            None,
            RegistryUnavailableError,
            "429 TOOMANYREQUESTS: You have reached your pull rate limit",
        ),
        (
            403,
            body(("DENIED", "requested access to the resource is denied")),
            None,
            RegistryAuthError,
            "403 DENIED: requested access to the resource is denied",
        ),
        (
            502,
            b"<html><body>Bad Gateway</body></html>",
            None,
            RegistryUnavailableError,
            "502 Bad Gateway",
        ),
        (
            500,
            b"plain text\nsecond line\x1b[31m",
            None,
            RegistryUnavailableError,
            "500 Internal Server Error: plain text second line [31m",
        ),
        (400, b"", None, RegistryStatusError, "400 Bad Request"),
        (418, body(("", "")), None, RegistryStatusError, "418 I'm a Teapot"),
    ],
)
def test_error_for_response(
    status: int, data: bytes, what: str | None, cls: type, text: str
) -> None:
    error = error_for_response("reg.example", status, data, what=what)
    assert type(error) is cls
    assert str(error) == f"registry reg.example: {text}"


def test_hostile_error_body_is_bounded() -> None:
    huge = body(("X" * 500, "m" * 5000 + "\n\r\x00"))
    error = error_for_response("r", 400, huge)
    assert len(str(error)) < 300 and "\n" not in str(error)
    assert parse_error_body(b'{"errors": "nope"}') == []
    assert parse_error_body(b'{"errors": [1, {"code": 5}]}') == [("", "")]
    assert parse_error_body(b"\xff\xfe") == []


def test_429_has_a_hint() -> None:
    assert "rate-limiting" in (error_for_response("r", 429, b"").hint or "")


@pytest.mark.parametrize(
    ("registry", "host"),
    [
        ("docker.io", "registry-1.docker.io"),
        ("index.docker.io", "registry-1.docker.io"),
        ("ghcr.io", "ghcr.io"),
        ("localhost:5000", "localhost:5000"),
    ],
)
def test_endpoint_host(registry: str, host: str) -> None:
    assert endpoint_host(registry) == host


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost:5000", True),
        ("127.0.0.1", True),
        ("127.1.2.3:80", True),
        ("[::1]:5000", True),
        ("::1", True),
        ("10.0.0.1:5000", False),
        ("registry.example", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_https_by_default_http_only_for_loopback_or_insecure() -> None:
    assert Transport("registry.example").base_url == "https://registry.example"
    assert Transport("docker.io").base_url == "https://registry-1.docker.io"
    assert Transport("registry.example", insecure=True).insecure
    assert not Transport("registry.example").insecure


def test_retry_delays() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=3.0, max_retry_after=10.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    assert policy.delay(1, "7") == 7.0
    assert policy.delay(1, "3600") == 10.0
    assert policy.delay(1, "soon") == 0.5
    assert 0 < (parse_retry_after(formatdate(__import__("time").time() + 5, usegmt=True)) or 0) <= 6


def test_connection_refused_is_one_line() -> None:
    port = free_port()
    client = RegistryClient(f"127.0.0.1:{port}", credentials=None, retry=FAST_RETRY)
    with pytest.raises(RegistryUnavailableError) as info:
        client.ping()
    assert str(info.value).startswith(f"registry 127.0.0.1:{port}: connection refused")
    assert "\n" not in str(info.value)


def test_tls_failure_is_one_line(registry: RegistryServer) -> None:
    client = RegistryClient(registry.host, credentials=None, retry=FAST_RETRY, scheme="https")
    with pytest.raises(RegistryUnavailableError) as info:
        client.ping()
    assert str(info.value).startswith(f"registry {registry.host}: TLS handshake failed: ")
    assert "insecure" in (info.value.hint or "")


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server with a self-signed certificate that answers /v2/ with 200."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ],
        check=True,
        capture_output=True,
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_loopback_registry_with_self_signed_tls_uses_https(tls_server: str) -> None:
    client = RegistryClient(tls_server, credentials=None, retry=FAST_RETRY)
    client.ping()
    assert client.transport.base_url == f"https://{tls_server}"


def test_an_unknown_host_fails_at_once_without_retries() -> None:
    import time

    from builder.registry.transport import RetryPolicy

    slow = RetryPolicy(attempts=5, backoff=2.0)  # retrying would take 30 s
    started = time.monotonic()
    with (
        pytest.raises(RegistryUnavailableError) as info,
        RegistryClient("nosuchhost.invalid", credentials=None, retry=slow) as client,
    ):
        client.ping()
    assert time.monotonic() - started < 5
    assert "unknown host" in info.value.message
