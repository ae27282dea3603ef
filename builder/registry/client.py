"""The OCI distribution API of one registry: manifests, blobs, uploads, mounts.

Everything a registry sends is checked before it is trusted: manifests are
hashed and compared with the digest asked for (or announced), blobs are
hashed while they stream and rejected on a mismatch, sizes are bounded.
Time is bounded too (`Deadlines`): a manifest must arrive within the
document deadline, a blob that stalls or crawls fails the attempt and is
resumed by the next one.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import quote, urlencode, urljoin, urlsplit

from urllib3.exceptions import HTTPError as Urllib3Error

from builder.image import mediatypes
from builder.image.digest import (
    DigestMismatchError,
    is_digest,
    new_hasher,
    parse_digest,
    sha256_digest,
)
from builder.image.jsontext import JsonTextError, loads_limited
from builder.registry.auth import Authenticator, repository_scope
from builder.registry.credentials import Credentials, lookup_credentials
from builder.registry.deadlines import Deadlines, TransferTimeout
from builder.registry.errors import (
    RegistryAuthError,
    RegistryStatusError,
    RegistryUnavailableError,
    error_for_exception,
    error_for_response,
    printable,
    timeout_error,
)
from builder.registry.transport import Response, RetryPolicy, Transport

#: Manifests larger than this are refused (containerd uses the same bound).
MAX_MANIFEST_SIZE = 4 << 20
DEFAULT_CHUNK_SIZE = 8 << 20

_ALNUM = r"[a-z0-9]+"
_COMPONENT = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_RANGE = re.compile(r"^(?:bytes=)?0-(\d+)$")


class _FromDockerConfig:
    """Marker: read credentials from the docker config (the default)."""

    def __repr__(self) -> str:
        return "FROM_DOCKER_CONFIG"


FROM_DOCKER_CONFIG = _FromDockerConfig()


class Sink(Protocol):
    def write(self, data: bytes, /) -> int | None: ...


ByteProgress = Callable[[int], None]


@dataclass(frozen=True)
class ManifestInfo:
    """What a HEAD on a manifest tells: its digest, media type and size."""

    digest: str
    media_type: str
    size: int


class RegistryClient:
    """A session with one registry (`docker.io`, `localhost:5000`, ...).

    `credentials`: a Credentials, None for anonymous access, or (default)
    whatever the docker config holds for this registry. `deadlines`: time
    limits of transfers (default: `Deadlines.from_env()`). Safe to share
    between threads.
    """

    def __init__(
        self,
        registry: str,
        *,
        insecure: bool = False,
        credentials: Credentials | _FromDockerConfig | None = FROM_DOCKER_CONFIG,
        docker_config: Path | None = None,
        retry: RetryPolicy | None = None,
        deadlines: Deadlines | None = None,
        scheme: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        monolithic_max: int | None = None,
        pool_size: int = 8,
    ):
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self.registry = registry
        self.chunk_size = chunk_size
        self.monolithic_max = chunk_size if monolithic_max is None else monolithic_max
        self.transport = Transport(
            registry,
            insecure=insecure,
            scheme=scheme,
            retry=retry,
            deadlines=deadlines,
            pool_size=pool_size,
        )
        if isinstance(credentials, _FromDockerConfig):

            def source() -> Credentials | None:
                return lookup_credentials(registry, path=docker_config)

        else:
            fixed = credentials

            def source() -> Credentials | None:
                return fixed

        self.auth = Authenticator(self.transport, source)
        self._pinged = False
        self._ping_lock = threading.Lock()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    # -- session -----------------------------------------------------------------------

    def ping(self) -> None:
        """GET /v2/: check this is a registry and learn how it wants to be authenticated."""
        resp = self.transport.request("GET", "/v2/")
        if resp.status == 401:
            if not self.auth.learn(resp.header_all("WWW-Authenticate")):
                raise error_for_response(
                    self.registry, 401, resp.body, what="no usable WWW-Authenticate challenge"
                )
        elif resp.status != 200:
            raise error_for_response(
                self.registry, resp.status, resp.body, what="GET /v2/: not a registry API endpoint"
            )
        self._pinged = True

    def login(self) -> None:
        """Check the credentials as `docker login` does: /v2/ must answer 200 with them.

        For a token registry this fetches a token without scopes, which the
        token server only issues when the user and password are right.
        """
        self.ping()
        if self.auth.challenge is None:
            return  # an open registry: nothing to check
        resp = self._request("GET", "/v2/", scopes=())
        self._check(resp, ok=(200,), what="login")

    def _ensure_pinged(self) -> None:
        if self._pinged:
            return
        with self._ping_lock:
            if not self._pinged:
                self.ping()

    def _request(
        self,
        method: str,
        url: str,
        *,
        scopes: tuple[str, ...],
        headers: dict[str, str] | None = None,
        body: bytes | BinaryIO | None = None,
        stream: bool = False,
        retry: bool | None = None,
        max_body: int = MAX_MANIFEST_SIZE,
        what: str | None = None,
        commit: bool = False,
    ) -> Response:
        """A request with authorization; one more try after a 401 with new credentials.

        `what` (`manifest app:1 from HOST`) names the object in a timeout's message.
        """
        self._ensure_pinged()
        if url.startswith("/"):
            url = self.transport.url(url)
        ours = urlsplit(url).netloc == self.transport.host
        hdrs = dict(headers or {})
        auth = self.auth.header(scopes) if ours else None
        if auth:
            hdrs["Authorization"] = auth
        send = functools.partial(
            self.transport.request, method, url, body=body, stream=stream, retry=retry,
            max_body=max_body, what=what, commit=commit,
        )  # fmt: skip
        resp = send(headers=hdrs)
        if resp.status != 401 or not ours or not isinstance(body, bytes | None):
            return resp
        resp.close()
        if not self.auth.learn(resp.header_all("WWW-Authenticate")):
            return resp
        self.auth.forget(scopes)
        fresh = self.auth.header(scopes)
        if fresh is None or fresh == auth:
            return resp
        hdrs["Authorization"] = fresh
        return send(headers=hdrs)

    def _check(self, resp: Response, *, ok: tuple[int, ...], what: str) -> Response:
        """`resp` if its status is in `ok`; else the one-line error, saying why for a bare 401."""
        if resp.status in ok:
            return resp
        resp.close()
        error = error_for_response(self.registry, resp.status, resp.body, what=what)
        if resp.status != 401:
            raise error
        creds = self.auth.credentials()
        if creds is None:
            rejected = "authentication required"
        elif creds.username:
            rejected = f"the credentials of {creds.username!r} were rejected"
        else:
            rejected = "the identity token was rejected"
        hint = error.hint
        if creds is not None:
            hint = f"{rejected}; log in again with `pybuild login {self.registry}`"
        if error.codes:
            raise RegistryAuthError(str(error), hint=hint, status=401, codes=error.codes)
        # a HEAD, or a registry that says nothing: say what we know
        raise RegistryAuthError(
            f"registry {self.registry}: 401 UNAUTHORIZED: {rejected} ({what})",
            hint=hint,
            status=401,
            codes=("UNAUTHORIZED",),
        )

    # -- tags --------------------------------------------------------------------------

    def list_tags(self, repo: str, *, page_size: int = 1000) -> list[str]:
        """Every tag of `repo` (`GET /v2/<repo>/tags/list`), following `Link: rel="next"` pages."""
        url: str | None = f"/v2/{_check_repo(repo)}/tags/list?n={page_size}"
        tags: list[str] = []
        what = f"tags of {repo}"
        while url is not None:
            resp = self._request(
                "GET", url, scopes=(repository_scope(repo),), what=f"{what} from {self.registry}"
            )
            self._check(resp, ok=(200,), what=what)
            try:
                page = loads_limited(resp.body, what)
            except JsonTextError:
                page = None
            names = page.get("tags") if isinstance(page, dict) else None
            if not isinstance(page, dict) or not isinstance(names, list | None):
                raise RegistryStatusError(
                    f"registry {self.registry}: malformed tag list ({what})", status=resp.status
                )
            tags.extend(t for t in names or [] if isinstance(t, str))
            url = _next_link(resp.header("Link"), resp.url)
        return tags

    # -- manifests ---------------------------------------------------------------------

    def get_manifest(
        self, repo: str, ref: str, accept: str = mediatypes.MANIFEST_ACCEPT
    ) -> tuple[bytes, str, str]:
        """Fetch a manifest or index by tag or digest: (bytes, media type, digest), verified."""
        path = _manifest_path(repo, ref)
        what = f"manifest {_ref_text(repo, ref)}"
        resp = self._request(
            "GET",
            path,
            scopes=(repository_scope(repo),),
            headers={"Accept": accept},
            what=f"{what} from {self.registry}",
        )
        self._check(resp, ok=(200,), what=what)
        data = resp.body
        if is_digest(ref):
            hasher = new_hasher(ref)
            hasher.update(data)
            actual = f"{hasher.name}:{hasher.hexdigest()}"
            if actual != ref:
                raise DigestMismatchError(ref, actual, f"{what} from {self.registry}")
            digest = ref
        else:
            digest = sha256_digest(data)
            announced = resp.header("Docker-Content-Digest")
            if announced and announced.startswith("sha256:") and announced != digest:
                raise DigestMismatchError(announced, digest, f"{what} from {self.registry}")
        return data, _manifest_media_type(resp.header("Content-Type"), data, what), digest

    def head_manifest(
        self, repo: str, ref: str, accept: str = mediatypes.MANIFEST_ACCEPT, *, push: bool = False
    ) -> ManifestInfo | None:
        """Digest, media type and size of a manifest without fetching it; None if absent."""
        what = f"manifest {_ref_text(repo, ref)}"
        resp = self._request(
            "HEAD",
            _manifest_path(repo, ref),
            scopes=(repository_scope(repo, push=push),),
            headers={"Accept": accept},
            what=f"{what} from {self.registry}",
        )
        if resp.status == 404:
            return None
        self._check(resp, ok=(200,), what=what)
        announced = resp.header("Docker-Content-Digest") or ""
        media_type = (resp.header("Content-Type") or "").split(";")[0].strip()
        size = _content_length(resp)
        if not is_digest(announced) or size is None:
            data, media_type, digest = self.get_manifest(repo, ref, accept)
            return ManifestInfo(digest, media_type, len(data))
        return ManifestInfo(announced, media_type, size)

    def put_manifest(self, repo: str, ref: str, data: bytes, media_type: str) -> str:
        """Upload a manifest under a tag (or its digest); return its digest."""
        what = f"manifest {_ref_text(repo, ref)}"
        digest = sha256_digest(data)
        if is_digest(ref) and ref != digest:
            raise DigestMismatchError(ref, digest, what)
        resp = self._request(
            "PUT",
            _manifest_path(repo, ref),
            scopes=(repository_scope(repo, push=True),),
            headers={"Content-Type": media_type},
            body=data,
        )
        self._check(resp, ok=(200, 201), what=what)
        announced = resp.header("Docker-Content-Digest")
        if announced and announced.startswith("sha256:") and announced != digest:
            raise RegistryStatusError(
                f"registry {self.registry}: stored {what} under {announced}, expected {digest}"
            )
        return digest

    # -- blobs -------------------------------------------------------------------------

    def has_blob(self, repo: str, digest: str, *, push: bool = False) -> bool:
        """Whether the repository has the blob (HEAD)."""
        resp = self._request(
            "HEAD",
            _blob_path(repo, digest),
            scopes=(repository_scope(repo, push=push),),
            what=f"blob {digest} in {self.registry}/{repo}",
        )
        if resp.status == 404:
            return False
        self._check(resp, ok=(200,), what=f"blob {digest} in {repo}")
        return True

    def get_blob(
        self,
        repo: str,
        digest: str,
        sink: Sink,
        *,
        size: int | None = None,
        progress: ByteProgress | None = None,
    ) -> int:
        """Stream a blob into `sink`, verifying digest and size; return the byte count.

        A connection that breaks mid-way, or a body that stalls or crawls
        (see `Deadlines`), is resumed with a Range request (when the server
        does not honour it, the bytes already received are skipped in a
        fresh response).
        """
        what = f"blob {digest} from {self.registry}/{repo}"
        hasher = new_hasher(digest)
        written = 0
        failures = 0
        policy = self.transport.retry
        while True:
            headers = {"Range": f"bytes={written}-"} if written else {}
            resp = self._request(
                "GET",
                _blob_path(repo, digest),
                scopes=(repository_scope(repo),),
                headers=headers,
                stream=True,
                what=what,
            )
            skip = 0
            if written and resp.status == 206:
                content_range = resp.header("Content-Range") or ""
                if not content_range.startswith(f"bytes {written}-"):
                    resp.close()
                    raise RegistryStatusError(
                        f"registry {self.registry}: {what}: resumed at the wrong offset "
                        f"({printable(content_range, 60)!r})"
                    )
            elif resp.status == 200:
                skip = written
            else:
                self._check(resp, ok=(200,), what=f"blob {digest} in {repo}")
            try:
                for chunk in resp.stream():
                    if skip:
                        dropped = min(skip, len(chunk))
                        skip -= dropped
                        chunk = chunk[dropped:]
                        if not chunk:
                            continue
                    written += len(chunk)
                    if size is not None and written > size:
                        raise RegistryStatusError(
                            f"registry {self.registry}: {what}: "
                            f"more than the {size} bytes announced"
                        )
                    hasher.update(chunk)
                    sink.write(chunk)
                    if progress is not None:
                        progress(written)
            except (TransferTimeout, Urllib3Error) as err:
                failures += 1
                if failures >= policy.attempts:
                    if isinstance(err, TransferTimeout):
                        raise timeout_error(what, err.reason, failures, policy.attempts) from None
                    raise error_for_exception(self.registry, err) from None
                time.sleep(policy.delay(failures))
                continue
            finally:
                resp.close()
            if skip:  # the fresh response was shorter than what we already had
                raise RegistryStatusError(f"registry {self.registry}: {what}: truncated")
            break
        actual = f"{hasher.name}:{hasher.hexdigest()}"
        if actual != digest:
            raise DigestMismatchError(digest, actual, what)
        if size is not None and written != size:
            raise RegistryStatusError(
                f"registry {self.registry}: {what}: {written} bytes, the manifest says {size}"
            )
        return written

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Ask the registry to link a blob from another repository; True if it did (201)."""
        _check_repo(from_repo)
        query = urlencode({"mount": digest, "from": from_repo})
        resp = self._request(
            "POST",
            f"/v2/{_check_repo(repo)}/blobs/uploads/?{query}",
            scopes=(repository_scope(repo, push=True), repository_scope(from_repo)),
            body=b"",
            headers={"Content-Length": "0"},
            retry=True,
        )
        if resp.status == 201:
            return True
        self._check(resp, ok=(202,), what=f"mount of {digest} from {from_repo}")
        return False

    def upload_blob(
        self,
        repo: str,
        digest: str,
        size: int,
        source: BinaryIO,
        *,
        progress: ByteProgress | None = None,
    ) -> None:
        """Upload `size` bytes from the seekable `source` as blob `digest`.

        Up to `monolithic_max` bytes go in one PUT; larger blobs in PATCH
        chunks of `chunk_size` with Content-Range. A failed session
        (connection lost, 5xx) is restarted from the beginning.
        """
        parse_digest(digest)
        policy = self.transport.retry
        start = source.tell()
        for attempt in range(1, policy.attempts + 1):
            source.seek(start)
            try:
                self._upload_once(repo, digest, size, source, progress)
                return
            except RegistryUnavailableError:
                if attempt == policy.attempts:
                    raise
                time.sleep(policy.delay(attempt))

    def _upload_once(
        self,
        repo: str,
        digest: str,
        size: int,
        source: BinaryIO,
        progress: ByteProgress | None,
    ) -> None:
        what = f"upload of {digest} to {repo}"
        scopes = (repository_scope(repo, push=True),)
        resp = self._request(
            "POST",
            f"/v2/{_check_repo(repo)}/blobs/uploads/",
            scopes=scopes,
            body=b"",
            headers={"Content-Length": "0"},
            retry=True,
        )
        self._check(resp, ok=(202,), what=what)
        location = self._location(resp, what)
        if size <= self.monolithic_max:
            data = _read_exactly(source, size, what)
            final_body = data
        else:
            offset = 0
            while offset < size:
                chunk = _read_exactly(source, min(self.chunk_size, size - offset), what)
                end = offset + len(chunk) - 1
                resp = self._request(
                    "PATCH",
                    location,
                    scopes=scopes,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{offset}-{end}",
                    },
                    body=chunk,
                    retry=False,
                    commit=True,
                )
                self._check(resp, ok=(202,), what=what)
                received = _RANGE.match(resp.header("Range") or "")
                if received is not None and int(received.group(1)) != end:
                    raise RegistryUnavailableError(
                        f"registry {self.registry}: {what}: it holds bytes 0-"
                        f"{received.group(1)}, expected 0-{end}"
                    )
                location = self._location(resp, what)
                offset = end + 1
                if progress is not None:
                    progress(offset)
            final_body = b""
        resp = self._request(
            "PUT",
            _with_query(location, {"digest": digest}),
            scopes=scopes,
            headers={"Content-Type": "application/octet-stream"},
            body=final_body,
            retry=False,
            commit=True,
        )
        self._check(resp, ok=(201, 204), what=what)
        announced = resp.header("Docker-Content-Digest")
        if announced and announced != digest:
            raise DigestMismatchError(digest, announced, what)
        if progress is not None:
            progress(size)

    def _location(self, resp: Response, what: str) -> str:
        location = resp.header("Location")
        if not location:
            raise RegistryStatusError(
                f"registry {self.registry}: {what}: no Location in its answer"
            )
        url = urljoin(resp.url, location)
        if urlsplit(url).scheme not in ("http", "https"):
            raise RegistryStatusError(f"registry {self.registry}: {what}: unusable upload location")
        return url


# -- helpers -------------------------------------------------------------------------


def _check_repo(repo: str) -> str:
    if len(repo) > 255 or not _REPOSITORY.match(repo):
        raise RegistryStatusError(f"invalid repository name {printable(repo, 80)!r}")
    return repo


def _check_ref(ref: str) -> str:
    if is_digest(ref) or _TAG.match(ref):
        return ref
    raise RegistryStatusError(f"invalid tag or digest {printable(ref, 80)!r}")


def _manifest_path(repo: str, ref: str) -> str:
    return f"/v2/{_check_repo(repo)}/manifests/{quote(_check_ref(ref), safe=':')}"


def _blob_path(repo: str, digest: str) -> str:
    return f"/v2/{_check_repo(repo)}/blobs/{parse_digest(digest)}"


def _ref_text(repo: str, ref: str) -> str:
    return f"{repo}@{ref}" if is_digest(ref) else f"{repo}:{ref}"


def _next_link(header: str | None, base: str) -> str | None:
    """The `rel="next"` target of a `Link` header, made absolute; None on the last page."""
    if not header:
        return None
    match = re.search(r'<([^>]*)>\s*;\s*rel="?next"?', header)
    return urljoin(base, match.group(1)) if match else None


def _with_query(url: str, params: dict[str, str]) -> str:
    sep = "&" if urlsplit(url).query else "?"
    return url + sep + urlencode(params)


def _content_length(resp: Response) -> int | None:
    value = resp.header("Content-Length")
    return int(value) if value is not None and value.isdigit() else None


def _read_exactly(source: BinaryIO, size: int, what: str) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise RegistryStatusError(f"{what}: the local blob is shorter than {size} bytes")
    return data


def _manifest_media_type(content_type: str | None, data: bytes, what: str) -> str:
    """The media type of a fetched manifest: the document's own, else the header's."""
    known = mediatypes.MANIFEST_TYPES | mediatypes.INDEX_TYPES
    header = (content_type or "").split(";")[0].strip()
    try:
        obj = loads_limited(data, what)
    except JsonTextError as err:
        message = (
            str(err) if err.too_deep else f"{what}: the registry sent something that is not JSON"
        )
        raise RegistryStatusError(message) from None
    declared = obj.get("mediaType") if isinstance(obj, dict) else None
    if isinstance(obj, dict) and obj.get("schemaVersion") == 1:
        raise RegistryStatusError(
            f"{what}: Docker schema 1 manifests are not supported",
            hint="push the image again with a current docker or pybuild",
        )
    if isinstance(declared, str) and declared in known:
        return declared
    if header in known:
        return header
    if isinstance(obj, dict) and "manifests" in obj:
        return mediatypes.OCI_INDEX
    if isinstance(obj, dict) and "config" in obj and "layers" in obj:
        return mediatypes.OCI_MANIFEST
    shown = declared if isinstance(declared, str) else header
    raise RegistryStatusError(
        f"{what}: unsupported manifest media type {printable(shown or '(none)', 100)!r}"
    )
