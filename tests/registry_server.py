"""Real registries on 127.0.0.1 for tests and benchmarks.

`start_registry(workdir)` runs Debian's `docker-registry` (distribution 2.8)
with filesystem storage in `workdir`, on a free loopback port, and waits
until `/v2/` answers. Variants:

- open: anyone may pull and push;
- htpasswd: HTTP Basic (`htpasswd=("user", "password")`); the bcrypt line is
  made with `htpasswd -B` (Debian package apache2-utils);
- token: Bearer tokens from `TokenServer`, a small token service in a thread
  that signs RS256 JWTs with the `openssl` CLI; the registry trusts its
  self-signed certificate (`rootcertbundle`), the JWT carries it in `x5c`.

`FaultProxy` sits in front of a registry and injects failures on chosen
requests (5xx, corrupted or truncated bodies, ignored Range headers, bodies
trickled a byte at a time, servers that stall), so client behaviour is
tested against the real registry protocol.

Each server is a context manager; `stop()` ends it. Nothing here skips: a
missing tool fails loudly.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REGISTRY_BIN = "/usr/bin/docker-registry"
TOKEN_SERVICE = "pybuild-test-registry"
TOKEN_ISSUER = "pybuild-test-token-issuer"


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name) or (name if os.path.isabs(name) and os.path.exists(name) else None)
    if path is None:
        raise RuntimeError(f"{name} is missing: install the Debian package {package}")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def htpasswd_line(username: str, password: str) -> str:
    """A bcrypt htpasswd entry (docker-registry accepts only bcrypt)."""
    tool = require_tool("htpasswd", "apache2-utils")
    out = subprocess.run(
        [tool, "-nbB", username, password], check=True, capture_output=True, text=True
    ).stdout
    return out.strip().splitlines()[0]


def _wait_http(host: str, port: int, proc: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"docker-registry exited ({proc.returncode}): {log.read_text(errors='replace')[-2000:]}"
            )
        try:
            conn = http.client.HTTPConnection(host, port, timeout=1)
            conn.request("GET", "/v2/")
            status = conn.getresponse().status
            conn.close()
            if status in (200, 401):
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"registry on {host}:{port} did not answer /v2/ within 15s")


# -- docker-registry -------------------------------------------------------------------


@dataclass
class RegistryServer:
    """A running docker-registry. `host` is what references use: `127.0.0.1:PORT`."""

    host: str
    port: int
    storage: Path
    config: Path
    process: subprocess.Popen[bytes]
    log: Path
    username: str = ""
    password: str = ""
    token_server: TokenServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.token_server is not None:
            self.token_server.stop()

    def __enter__(self) -> RegistryServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_registry(
    workdir: Path,
    *,
    htpasswd: tuple[str, str] | None = None,
    token_server: TokenServer | None = None,
) -> RegistryServer:
    """Start docker-registry with its storage and config under `workdir`."""
    binary = require_tool(REGISTRY_BIN, "docker-registry")
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    auth: dict[str, Any] = {}
    if htpasswd is not None:
        passwd = workdir / "htpasswd"
        passwd.write_text(htpasswd_line(*htpasswd) + "\n")
        auth = {"htpasswd": {"realm": "pybuild-test", "path": str(passwd)}}
    elif token_server is not None:
        auth = {
            "token": {
                "realm": token_server.realm,
                "service": TOKEN_SERVICE,
                "issuer": TOKEN_ISSUER,
                "rootcertbundle": str(token_server.cert),
            }
        }
    for _ in range(3):
        port = free_port()
        config = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(storage)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": f"127.0.0.1:{port}", "secret": uuid.uuid4().hex},
            "health": {"storagedriver": {"enabled": False}},
        }
        if auth:
            config["auth"] = auth
        config_path = workdir / "config.yml"
        config_path.write_text(json.dumps(config, indent=1))  # JSON is YAML
        log = workdir / "registry.log"
        with log.open("wb") as log_file:
            proc = subprocess.Popen(
                [binary, "serve", str(config_path)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            _wait_http("127.0.0.1", port, proc, log)
        except RuntimeError:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if "address already in use" in log.read_text(errors="replace"):
                continue
            raise
        server = RegistryServer(
            host=f"127.0.0.1:{port}",
            port=port,
            storage=storage,
            config=config_path,
            process=proc,
            log=log,
            token_server=token_server,
        )
        if htpasswd is not None:
            server.username, server.password = htpasswd
        return server
    raise RuntimeError("could not find a free port for docker-registry")


# -- small HTTP servers in threads ----------------------------------------------------------


class _QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # a client that stops talking (or speaks TLS to us) is dropped

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


class _ThreadedServer:
    """A ThreadingHTTPServer on 127.0.0.1 in a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.port = int(self.httpd.server_address[1])
        self.host = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- token server -------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenRequest:
    method: str
    account: str | None  #: the authenticated user, None for anonymous
    scopes: list[str]
    grant_type: str = ""


class _TokenHandler(_QuietHandler):
    def do_GET(self) -> None:
        server: TokenServer = self.server.owner  # type: ignore[attr-defined]
        if not server.allow_get:
            self.send_json(405, {"errors": [{"code": "UNSUPPORTED", "message": "use POST"}]})
            return
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        account = None
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if server.users.get(user) != password:
                self.send_json(
                    401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}
                )
                return
            account = user
        self._grant("GET", account, query.get("scope", []), "", query.get("service", [""])[0])

    def do_POST(self) -> None:
        server: TokenServer = self.server.owner  # type: ignore[attr-defined]
        form = urllib.parse.parse_qs(self.read_body().decode())
        grant = form.get("grant_type", [""])[0]
        account = None
        if grant == "password":
            user = form.get("username", [""])[0]
            if server.users.get(user) != form.get("password", [""])[0]:
                self.send_json(
                    401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}
                )
                return
            account = user
        elif grant == "refresh_token":
            account = server.refresh_tokens.get(form.get("refresh_token", [""])[0])
            if account is None:
                self.send_json(
                    401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad refresh token"}]}
                )
                return
        else:
            self.send_json(400, {"errors": [{"code": "UNSUPPORTED", "message": "grant_type"}]})
            return
        scopes = " ".join(form.get("scope", [])).split()
        self._grant("POST", account, scopes, grant, form.get("service", [""])[0], oauth=True)

    def _grant(
        self,
        method: str,
        account: str | None,
        scopes: list[str],
        grant: str,
        service: str,
        oauth: bool = False,
    ) -> None:
        server: TokenServer = self.server.owner  # type: ignore[attr-defined]
        server.requests.append(TokenRequest(method, account, list(scopes), grant))
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            allowed = [
                a
                for a in actions.split(",")
                if a and (account is not None or a in server.anonymous_actions)
            ]
            if allowed:
                access.append({"type": kind, "name": name, "actions": allowed})
        token = server.sign(account or "", access, service or TOKEN_SERVICE)
        key = "access_token" if oauth else "token"
        self.send_json(200, {key: token, "expires_in": 300})


class TokenServer(_ThreadedServer):
    """A distribution token service: GET with Basic auth, POST OAuth2 form.

    `users`: name -> password. Authenticated users get every action they ask
    for; anonymous callers only `anonymous_actions`. `allow_get=False`
    answers GET with 405 so clients must use the POST form.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        users: dict[str, str] | None = None,
        anonymous_actions: tuple[str, ...] = ("pull",),
        allow_get: bool = True,
    ):
        require_tool("openssl", "openssl")
        workdir.mkdir(parents=True, exist_ok=True)
        self.key = workdir / "token-key.pem"
        self.cert = workdir / "token-cert.pem"
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", str(self.key), "-out", str(self.cert),
                "-days", "3", "-subj", "/CN=pybuild-test-token",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
            check=True,
            capture_output=True,
        ).stdout
        self._x5c = base64.b64encode(der).decode()
        self.users = dict(users or {})
        self.anonymous_actions = anonymous_actions
        self.allow_get = allow_get
        self.refresh_tokens: dict[str, str] = {}  #: identity token -> user
        self.requests: list[TokenRequest] = []
        super().__init__(_TokenHandler)

    @property
    def realm(self) -> str:
        return f"http://{self.host}/token"

    def sign(self, subject: str, access: list[dict[str, Any]], audience: str) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {
            "iss": TOKEN_ISSUER,
            "sub": subject,
            "aud": audience,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(),
            check=True,
            capture_output=True,
        ).stdout
        return signing_input + "." + _b64url(signature)


# -- fault-injecting proxy ------------------------------------------------------------------


@dataclass
class Fault:
    """What to do to matching requests, `times` times (then pass them through).

    action: "status" (answer `status` with a registry error body and
    `headers`), "corrupt" (flip one byte of the body), "truncate" (send the
    full Content-Length, then only `keep` bytes, then close), "no-range"
    (drop the request's Range header upstream), "trickle" (send the answer's
    headers, then the body `step` bytes every `delay` seconds; with `keep`,
    stop after `keep` bytes and hold the connection open), "stall" (accept
    the request, never answer, hold the connection open).
    """

    method: str
    path: str  #: a regular expression searched in the request path
    action: str
    times: int = 1
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    keep: int = 0
    delay: float = 0.0
    step: int = 1
    hits: int = 0


@dataclass
class ProxyLog:
    method: str
    path: str
    status: int
    headers: dict[str, str]


class _ProxyHandler(_QuietHandler):
    def _handle(self) -> None:
        proxy: FaultProxy = self.server.owner  # type: ignore[attr-defined]
        body = self.read_body()
        fault = proxy.take_fault(self.command, self.path)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        if fault is not None and fault.action == "status":
            proxy.log.append(ProxyLog(self.command, self.path, fault.status, headers))
            self.send_json(
                fault.status,
                {"errors": [{"code": "UNAVAILABLE", "message": "injected failure"}]},
                fault.headers,
            )
            return
        if fault is not None and fault.action == "stall":
            proxy.log.append(ProxyLog(self.command, self.path, 0, headers))
            self._hold(proxy)
            return
        if fault is not None and fault.action == "no-range":
            headers = {k: v for k, v in headers.items() if k.lower() != "range"}
        conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
        conn.request(self.command, self.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        proxy.log.append(ProxyLog(self.command, self.path, resp.status, headers))
        if fault is not None and fault.action == "corrupt" and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        self.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(key, value)
        length = resp.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
        if length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()
        if self.command == "HEAD":
            return
        if fault is not None and fault.action == "trickle":
            self._trickle(proxy, fault, data)
            return
        if fault is not None and fault.action == "truncate":
            self.wfile.write(data[: fault.keep])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)

    def _trickle(self, proxy: FaultProxy, fault: Fault, data: bytes) -> None:
        """Send `data` slowly; stop early (and stall) after `fault.keep` bytes if set."""
        end = fault.keep or len(data)
        self.close_connection = True
        try:
            for offset in range(0, end, fault.step):
                if proxy.stopped.is_set():
                    return
                self.wfile.write(data[offset : min(offset + fault.step, end)])
                self.wfile.flush()
                time.sleep(fault.delay)
        except OSError:  # the client gave up: that is what the test wants
            return
        if fault.keep:
            self._hold(proxy)

    def _hold(self, proxy: FaultProxy, limit: float = 60.0) -> None:
        """Keep the connection open, silent, until the client hangs up (or `limit`)."""
        self.close_connection = True
        self.connection.settimeout(0.05)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not proxy.stopped.is_set():
            try:
                if not self.connection.recv(1 << 16):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class FaultProxy(_ThreadedServer):
    """An HTTP proxy to a registry on 127.0.0.1 that injects `faults`."""

    def __init__(self, upstream: RegistryServer, faults: list[Fault] | None = None):
        self.upstream_port = upstream.port
        self.faults = list(faults or [])
        self.log: list[ProxyLog] = []
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        super().__init__(_ProxyHandler)

    def stop(self) -> None:
        self.stopped.set()
        super().stop()

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if (
                    fault.method == method
                    and fault.hits < fault.times
                    and re.search(fault.path, path)
                ):
                    fault.hits += 1
                    return fault
        return None
