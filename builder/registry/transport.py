"""HTTP to one registry: endpoint choice, connection pools, retries, redirects.

HTTPS is the default. Plain HTTP is only used for loopback hosts
(`localhost`, `127.0.0.0/8`, `::1`) and hosts marked insecure, and even
there HTTPS is tried first (without certificate checks), like docker's
insecure-registry handling. Connection errors, timeouts, 5xx and 429 are
retried with exponential backoff (a `Retry-After` is honoured); 4xx never
is. Requests that carry a stream, and non-idempotent ones, are not retried
here: the caller restarts the whole operation.

Every read is bounded by `Deadlines` (builder/registry/deadlines.py): the
socket timeout is the idle limit, a body read into memory must arrive within
the document deadline, and a streamed body is metered for throughput.
"""

from __future__ import annotations

import email.utils
import ipaddress
import ssl
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    InsecureRequestWarning,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import HTTPError as Urllib3Error

from builder.registry.deadlines import Deadlines, Meter, TransferTimeout, env_number, seconds
from builder.registry.errors import (
    RegistryStatusError,
    error_for_exception,
    timeout_error,
)

#: docker.io names the registry in references; this host serves its API.
DOCKER_HUB_ENDPOINT = "registry-1.docker.io"
_DOCKER_HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

#: The most of a non-streamed body (error text, manifest, token) we read.
MAX_SMALL_BODY = 8 << 20
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
#: Environment variable: how many times a failing request is tried, the first included.
ATTEMPTS_ENV_VAR = "PYBUILD_REGISTRY_ATTEMPTS"


def _unknown_host(err: BaseException | None) -> bool:
    """A name that does not resolve: trying again will not make it resolve."""
    while err is not None:
        if isinstance(err, NameResolutionError):
            return True
        err = getattr(err, "reason", None) or err.__cause__
    return False


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently failing requests are retried."""

    attempts: int = 5  #: tries in all, the first included
    backoff: float = 0.5  #: first wait, in seconds; doubles after each failure
    max_backoff: float = 15.0
    max_retry_after: float = 60.0  #: a longer Retry-After is cut to this

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RetryPolicy:
        """The defaults, with the number of tries from `PYBUILD_REGISTRY_ATTEMPTS` if set."""
        attempts = env_number(
            ATTEMPTS_ENV_VAR, cls.attempts, unit="tries", integer=True, environ=environ
        )
        return cls(attempts=int(attempts))

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before try number `attempt + 1` (attempt counts from 1)."""
        wanted = parse_retry_after(retry_after) if retry_after else None
        if wanted is not None:
            return min(max(wanted, 0.0), self.max_retry_after)
        return min(self.backoff * (2 ** (attempt - 1)), self.max_backoff)


def parse_retry_after(value: str) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


def endpoint_host(registry: str) -> str:
    """The host[:port] that serves a registry's API (docker.io -> registry-1.docker.io)."""
    return DOCKER_HUB_ENDPOINT if registry in _DOCKER_HUB_NAMES else registry


def split_host(hostport: str) -> str:
    """The host of `host[:port]` or `[v6]:port`, without brackets."""
    if hostport.startswith("["):
        return hostport[1 : hostport.find("]")] if "]" in hostport else hostport[1:]
    return hostport.rsplit(":", 1)[0] if hostport.count(":") == 1 else hostport


def is_loopback(hostport: str) -> bool:
    host = split_host(hostport)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Response:
    """An HTTP answer. `body` is read (bounded) unless the request asked to stream."""

    status: int
    headers: Mapping[str, str]
    url: str  #: after redirects
    body: bytes = b""
    raw: urllib3.BaseHTTPResponse | None = field(default=None, repr=False)
    deadlines: Deadlines = field(default_factory=Deadlines, repr=False)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def header_all(self, name: str) -> list[str]:
        getlist = getattr(self.headers, "getlist", None)
        if getlist is not None:
            return list(getlist(name))
        value = self.headers.get(name)
        return [value] if value is not None else []

    def stream(self, chunk: int = 1 << 20) -> Iterator[bytes]:
        """The body in pieces of up to `chunk` bytes, metered by the idle and speed limits.

        A stalled or crawling body raises TransferTimeout (a broken one a
        urllib3 error) after the bytes already received have been yielded.
        """
        if self.raw is None:
            if self.body:
                yield self.body
            return
        meter = Meter(self.deadlines)
        pending: list[bytes] = []
        size = 0
        try:
            while data := _read_some(self.raw, meter, chunk, decode=False):
                pending.append(data)
                size += len(data)
                if size >= chunk:
                    yield b"".join(pending)
                    pending, size = [], 0
        except (TransferTimeout, Urllib3Error):
            if pending:
                yield b"".join(pending)
            raise
        if pending:
            yield b"".join(pending)

    def close(self) -> None:
        if self.raw is not None:
            _finish(self.raw)
            self.raw = None


def _finish(raw: urllib3.BaseHTTPResponse) -> None:
    """Give the connection back; one with unread body bytes is closed, not reused."""
    if not raw.closed:  # True once the whole body was read
        raw.close()
    raw.release_conn()


def _read_some(raw: urllib3.BaseHTTPResponse, meter: Meter, limit: int, decode: bool) -> bytes:
    """What arrives next (b"" at the end), waiting no longer than `meter` allows."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    wait = meter.read_timeout()
    if sock is not None:
        sock.settimeout(wait)
    try:
        data = raw.read1(limit, decode_content=decode)
    except ReadTimeoutError:
        raise meter.timed_out() from None
    if data:
        meter.received(len(data))
    return data


def _read_bounded(raw: urllib3.BaseHTTPResponse, limit: int, decode: bool, meter: Meter) -> bytes:
    parts: list[bytes] = []
    size = 0
    try:
        while data := _read_some(raw, meter, 1 << 16, decode):
            size += len(data)
            if size > limit:
                raise RegistryStatusError(
                    f"response from {raw.geturl() or 'registry'} is larger than {limit} bytes",
                    status=raw.status,
                )
            parts.append(data)
    finally:
        _finish(raw)
    return b"".join(parts)


class Transport:
    """Requests to one registry (and to its token realm), shared by threads."""

    def __init__(
        self,
        registry: str,
        *,
        insecure: bool = False,
        scheme: str | None = None,
        retry: RetryPolicy | None = None,
        deadlines: Deadlines | None = None,
        pool_size: int = 8,
    ):
        self.registry = registry
        self.host = endpoint_host(registry)
        self.insecure = insecure or is_loopback(self.host)
        if scheme not in (None, "http", "https"):
            raise ValueError(f"scheme must be http or https, not {scheme!r}")
        self._scheme = scheme if scheme is not None else (None if self.insecure else "https")
        self.retry = retry or RetryPolicy.from_env()
        self.deadlines = deadlines or Deadlines.from_env()
        self._pool_options: dict[str, Any] = {
            "num_pools": 16,
            "maxsize": pool_size,
            "block": False,
            "retries": False,
        }
        self._verified: urllib3.PoolManager | None = None  # made when first needed
        self._unverified: urllib3.PoolManager | None = None
        if self.insecure:
            quiet_insecure_warnings()
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            self._unverified = urllib3.PoolManager(ssl_context=context, **self._pool_options)
        self._lock = threading.Lock()
        self._pool_lock = threading.Lock()

    # -- endpoint ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """`scheme://host`, probing HTTPS then HTTP for an insecure registry."""
        with self._lock:
            if self._scheme is None:
                self._scheme = self._probe_scheme()
            return f"{self._scheme}://{self.host}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def _probe_scheme(self) -> str:
        url = f"https://{self.host}/v2/"
        # one limit for the TCP and TLS handshakes and the answer: urllib3 reports
        # a stalled TLS handshake as a read timeout
        wait = max(self.deadlines.connect, min(self.deadlines.idle, self.deadlines.document))
        try:
            resp = self._pool_for(url).urlopen(
                "GET",
                url,
                retries=False,
                redirect=False,
                preload_content=False,
                timeout=urllib3.Timeout(connect=wait, read=wait),
            )
        except SSLError:
            return "http"
        except (ConnectTimeoutError, ReadTimeoutError) as err:
            if isinstance(err, NewConnectionError):
                raise error_for_exception(self.registry, err, url=url) from None
            reason = f"no answer for {seconds(wait)}"
            raise timeout_error(self._what("GET", url), reason, 1, 1) from None
        except Urllib3Error as err:
            # a plain-HTTP server may also just drop the TLS hello
            text = str(err).lower()
            if "refused" in text or "name or service" in text or "timed out" in text:
                raise error_for_exception(self.registry, err, url=url) from None
            return "http"
        _finish(resp)
        return "https"

    def _pool_for(self, url: str) -> urllib3.PoolManager:
        netloc = urlsplit(url).netloc
        if self._unverified is not None and (netloc == self.host or is_loopback(netloc)):
            return self._unverified
        with self._pool_lock:
            if self._verified is None:
                # one context (system CA certificates, loaded once) for every connection
                context = ssl.create_default_context()
                self._verified = urllib3.PoolManager(ssl_context=context, **self._pool_options)
            return self._verified

    # -- requests ------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | BinaryIO | None = None,
        stream: bool = False,
        retry: bool | None = None,
        max_body: int = MAX_SMALL_BODY,
        what: str | None = None,
        commit: bool = False,
    ) -> Response:
        """Send a request, following redirects and retrying what may be retried.

        `url` may be absolute or a path on the registry. Errors without an
        answer raise RegistryUnavailableError (RegistryTimeoutError when the
        last try timed out; `what` names the object in its message); an
        HTTP error status is returned as is, after retries for 5xx/429.
        A body read into memory must arrive by the document deadline, unless
        `commit` (an upload's request): then the answer may take as long as
        the registry needs to store the data, up to the commit limit.
        """
        if url.startswith("/"):
            url = self.url(url)
        if retry is None:
            retry = method in _IDEMPOTENT
        attempts = self.retry.attempts if retry and not _is_stream(body) else 1
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                resp = self._send(method, url, dict(headers or {}), body, stream, max_body, commit)
            except TransferTimeout as err:
                if last:
                    raise timeout_error(
                        what or self._what(method, url), err.reason, attempt, attempts
                    ) from None
                time.sleep(self.retry.delay(attempt))
                continue
            except Urllib3Error as err:
                if last or isinstance(err, SSLError) or _unknown_host(err):
                    raise error_for_exception(self.registry, err, url=_safe_url(url)) from None
                time.sleep(self.retry.delay(attempt))
                continue
            if (resp.status >= 500 or resp.status == 429) and not last:
                resp.close()
                time.sleep(self.retry.delay(attempt, resp.header("Retry-After")))
                continue
            return resp
        raise AssertionError("unreachable")

    def _what(self, method: str, url: str) -> str:
        return f"registry {self.registry}: {method} {_safe_url(url)}"

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | BinaryIO | None,
        stream: bool,
        max_body: int,
        commit: bool,
    ) -> Response:
        limits = self.deadlines
        document = not stream and not commit and not _is_stream(body)
        meter = Meter(limits, deadline=time.monotonic() + limits.document if document else None)
        for _ in range(_MAX_REDIRECTS + 1):
            wait = limits.commit if commit else meter.read_timeout()
            connect = min(limits.connect, wait) if document else limits.connect
            try:
                raw = self._pool_for(url).urlopen(
                    method,
                    url,
                    body=body,
                    headers=headers,
                    retries=False,
                    redirect=False,
                    preload_content=False,
                    decode_content=False,
                    timeout=urllib3.Timeout(connect=connect, read=wait),
                    assert_same_host=False,
                )
            except ConnectTimeoutError as err:
                if isinstance(err, NewConnectionError):  # refused, unknown host: not a timeout
                    raise
                raise TransferTimeout(f"no connection within {seconds(connect)}") from None
            except ReadTimeoutError:
                if document and meter.deadline is not None and wait < limits.idle:
                    raise meter.timed_out() from None
                raise TransferTimeout(f"no answer for {seconds(wait)}") from None
            location = raw.headers.get("Location")
            if raw.status in _REDIRECTS and location and method in ("GET", "HEAD"):
                _finish(raw)
                target = urljoin(url, location)
                if urlsplit(target).scheme not in ("http", "https"):
                    raise RegistryStatusError(
                        f"registry {self.registry}: redirect to an unsupported URL scheme",
                        status=raw.status,
                    )
                if urlsplit(target).netloc != urlsplit(url).netloc:
                    headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                url = target
                continue
            if stream and 200 <= raw.status < 300 and method != "HEAD":
                return Response(raw.status, raw.headers, url, raw=raw, deadlines=limits)
            data = b"" if method == "HEAD" else _read_bounded(raw, max_body, not stream, meter)
            if method == "HEAD":
                raw.read(decode_content=False)  # no body: marks the response complete
                _finish(raw)
            return Response(raw.status, raw.headers, url, body=data)
        raise RegistryStatusError(
            f"registry {self.registry}: too many redirects ({_safe_url(url)})"
        )

    def close(self) -> None:
        if self._verified is not None:
            self._verified.clear()
        if self._unverified is not None:
            self._unverified.clear()


def _is_stream(body: object) -> bool:
    return body is not None and not isinstance(body, bytes | bytearray)


def _safe_url(url: str) -> str:
    """A URL without its query (upload URLs carry state tokens)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def quiet_insecure_warnings() -> None:
    """urllib3 warns on every unverified HTTPS request; insecure registries are chosen."""
    warnings.filterwarnings("ignore", category=InsecureRequestWarning)
