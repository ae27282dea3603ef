"""Registry authentication: WWW-Authenticate challenges, Basic, and Bearer tokens.

A registry says how it wants to be approached in a 401's `WWW-Authenticate`:
`Basic realm="..."`, or `Bearer realm="https://auth/token",service="reg",
scope="repository:app:pull"`. For Bearer, a token is fetched from the realm
(distribution "token authentication" spec): a GET with `service` and
`scope` parameters (and HTTP Basic when we have a password), or, for an
identity token or when GET is refused with 404/405, a POST of the OAuth2
form (`grant_type=refresh_token|password`). Tokens are cached per scope set
for the life of the client, until they expire.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from builder.image.jsontext import JsonTextError, loads_limited
from builder.registry.credentials import Credentials
from builder.registry.errors import RegistryAuthError, error_for_response, printable
from builder.registry.transport import Response, Transport, is_loopback

CLIENT_ID = "pybuild"
_DEFAULT_TOKEN_LIFETIME = 60  # seconds, when the token server does not say
_EXPIRY_MARGIN = 10.0
_TOKEN_SEPARATORS = ' \t,="'


@dataclass(frozen=True)
class Challenge:
    """One challenge of a WWW-Authenticate header; the scheme is lower-cased."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def parse_challenges(headers: Iterable[str]) -> list[Challenge]:
    """Parse WWW-Authenticate values (RFC 7235) into challenges, in order."""
    found: list[Challenge] = []
    for text in headers:
        _parse_one_header(text, found)
    return found


def _parse_one_header(text: str, found: list[Challenge]) -> None:
    pos, end = 0, len(text)
    current: Challenge | None = None
    while pos < end:
        while pos < end and text[pos] in " \t,":
            pos += 1
        start = pos
        while pos < end and text[pos] not in _TOKEN_SEPARATORS:
            pos += 1
        word = text[start:pos]
        if not word:
            pos += 1  # a stray '=' or quote: skip it
            continue
        while pos < end and text[pos] in " \t":
            pos += 1
        if pos < end and text[pos] == "=":
            pos += 1
            while pos < end and text[pos] in " \t":
                pos += 1
            value, pos = _read_value(text, pos)
            if current is not None:
                current.params[word.lower()] = value
        else:
            current = Challenge(word.lower(), {})
            found.append(current)


def _read_value(text: str, pos: int) -> tuple[str, int]:
    end = len(text)
    if pos < end and text[pos] == '"':
        pos += 1
        out = []
        while pos < end and text[pos] != '"':
            if text[pos] == "\\" and pos + 1 < end:
                pos += 1
            out.append(text[pos])
            pos += 1
        return "".join(out), pos + 1
    start = pos
    while pos < end and text[pos] not in " \t,":
        pos += 1
    return text[start:pos], pos


def repository_scope(repository: str, *, push: bool = False) -> str:
    return f"repository:{repository}:{'pull,push' if push else 'pull'}"


def _covers(have: frozenset[str], want: Iterable[str]) -> bool:
    """Whether scopes `have` grant everything in `want` (`pull,push` covers `pull`)."""
    granted: dict[str, set[str]] = {}
    for scope in have:
        resource, _, actions = scope.rpartition(":")
        granted.setdefault(resource, set()).update(actions.split(","))
    for scope in want:
        resource, _, actions = scope.rpartition(":")
        if not set(actions.split(",")) <= granted.get(resource, set()):
            return False
    return True


@dataclass(frozen=True)
class _Token:
    value: str
    expires: float  # time.monotonic() deadline


CredentialSource = Callable[[], Credentials | None]


class Authenticator:
    """Authorization headers for one registry: learns the challenge, caches tokens."""

    def __init__(self, transport: Transport, credentials: CredentialSource):
        self._transport = transport
        self._credentials_source = credentials
        self._credentials: Credentials | None = None
        self._credentials_loaded = False
        self._challenge: Challenge | None = None
        self._tokens: dict[frozenset[str], _Token] = {}
        self._lock = threading.RLock()

    @property
    def challenge(self) -> Challenge | None:
        return self._challenge

    def credentials(self) -> Credentials | None:
        with self._lock:
            if not self._credentials_loaded:
                self._credentials = self._credentials_source()
                self._credentials_loaded = True
            return self._credentials

    def learn(self, headers: Iterable[str]) -> bool:
        """Take the challenge of a 401 (Bearer preferred); False if none is usable."""
        challenges = [c for c in parse_challenges(headers) if c.scheme in ("bearer", "basic")]
        if not challenges:
            return False
        bearer = [c for c in challenges if c.scheme == "bearer"]
        with self._lock:
            self._challenge = bearer[0] if bearer else challenges[0]
        return True

    def header(self, scopes: Iterable[str]) -> str | None:
        """The Authorization value for a request needing `scopes` (None: send none)."""
        wanted = frozenset(scopes)
        with self._lock:
            challenge = self._challenge
            if challenge is None:
                return None
            if challenge.scheme == "basic":
                creds = self.credentials()
                if creds is None or not creds.has_basic:
                    return None
                pair = f"{creds.username}:{creds.password}".encode()
                return "Basic " + base64.b64encode(pair).decode()
            now = time.monotonic()
            for have, token in self._tokens.items():
                if token.expires > now and _covers(have, wanted):
                    return f"Bearer {token.value}"
            token = self._fetch_token(challenge, wanted)
            self._tokens[wanted] = token
            return f"Bearer {token.value}"

    def forget(self, scopes: Iterable[str]) -> None:
        """Drop cached tokens that would serve `scopes` (after the registry refused one)."""
        wanted = frozenset(scopes)
        with self._lock:
            for have in [h for h in self._tokens if _covers(h, wanted)]:
                del self._tokens[have]

    # -- token server ------------------------------------------------------------------

    def _fetch_token(self, challenge: Challenge, scopes: frozenset[str]) -> _Token:
        realm = challenge.realm
        registry = self._transport.registry
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RegistryAuthError(
                f"registry {registry}: bad token realm {printable(realm, 100)!r} in its challenge"
            )
        creds = self.credentials()
        if (
            parts.scheme == "http"
            and creds is not None
            and not (is_loopback(parts.netloc) or self._transport.insecure)
        ):
            raise RegistryAuthError(
                f"registry {registry}: refusing to send credentials to a plain-HTTP token "
                f"server ({parts.netloc})",
                hint=f"mark {registry} insecure if this is intended",
            )
        service = challenge.params.get("service", "")
        if challenge.params.get("scope"):
            scopes = scopes | frozenset(challenge.params["scope"].split())
        sorted_scopes = sorted(scopes)
        if creds is not None and creds.identity_token:
            resp = self._post_form(
                realm,
                {
                    "grant_type": "refresh_token",
                    "refresh_token": creds.identity_token,
                    "service": service,
                    "scope": " ".join(sorted_scopes),
                    "client_id": CLIENT_ID,
                },
            )
        else:
            query = [("service", service)] if service else []
            query += [("scope", s) for s in sorted_scopes]
            headers = {}
            if creds is not None and creds.has_basic:
                query.append(("account", creds.username))
                pair = f"{creds.username}:{creds.password}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
            sep = "&" if parts.query else "?"
            url = realm + (sep + urlencode(query) if query else "")
            resp = self._transport.request(
                "GET", url, headers=headers, max_body=1 << 20, what=_token_what(registry, realm)
            )
            if resp.status in (404, 405) and creds is not None and creds.has_basic:
                resp = self._post_form(
                    realm,
                    {
                        "grant_type": "password",
                        "username": creds.username,
                        "password": creds.password,
                        "service": service,
                        "scope": " ".join(sorted_scopes),
                        "client_id": CLIENT_ID,
                    },
                )
        if resp.status != 200:
            raise error_for_response(registry, resp.status, resp.body, what="token request")
        return _parse_token(registry, resp.body)

    def _post_form(self, realm: str, form: dict[str, str]) -> Response:
        body = urlencode(form).encode()
        return self._transport.request(
            "POST",
            realm,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=body,
            retry=True,
            max_body=1 << 20,
            what=_token_what(self._transport.registry, realm),
        )


def _token_what(registry: str, realm: str) -> str:
    return f"token for {registry} from {urlsplit(realm).netloc}"


def _parse_token(registry: str, body: bytes) -> _Token:
    try:
        obj = loads_limited(body, "token")
    except JsonTextError:
        obj = None
    if not isinstance(obj, dict):
        raise RegistryAuthError(f"registry {registry}: token server answered something not JSON")
    value = obj.get("token") or obj.get("access_token")
    if not isinstance(value, str) or not value or any(c in value for c in "\r\n"):
        raise RegistryAuthError(f"registry {registry}: token server answered no usable token")
    lifetime = obj.get("expires_in")
    if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime <= 0:
        lifetime = _DEFAULT_TOKEN_LIFETIME
    return _Token(value, time.monotonic() + max(lifetime - _EXPIRY_MARGIN, 1.0))
