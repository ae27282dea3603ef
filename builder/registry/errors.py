"""Registry failures as one-line `RegistryError`s.

A registry answers an error with a status and, usually, a JSON body
`{"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", ...}]}`
(distribution spec, "Error Codes"). The message a user sees is built from
both, e.g. `registry 127.0.0.1:5000: 401 UNAUTHORIZED: authentication required`.
Bodies are hostile: only a bounded, printable excerpt is ever shown.
"""

from __future__ import annotations

import ssl
from http import HTTPStatus

from builder.errors import RegistryError
from builder.image.jsontext import JsonTextError, loads_limited

#: Never show more than this much of a registry's own text.
_MAX_TEXT = 200


class RegistryStatusError(RegistryError):
    """A registry failure with the HTTP status (0: no answer) and the registry's error codes."""

    def __init__(
        self, message: str, *, hint: str | None = None, status: int = 0, codes: tuple[str, ...] = ()
    ):
        super().__init__(message, hint=hint)
        self.status = status
        self.codes = codes


class RegistryAuthError(RegistryStatusError):
    """The registry refused our credentials or wants some we do not have (401/403)."""


class RegistryNotFoundError(RegistryStatusError):
    """The repository, manifest or blob does not exist (404)."""


class RegistryUnavailableError(RegistryStatusError):
    """The registry could not be reached, or kept failing (connection, TLS, 5xx, 429)."""


class RegistryTimeoutError(RegistryUnavailableError):
    """A transfer stalled, crawled, or missed its deadline on every attempt."""


def timeout_error(what: str, reason: str, attempt: int, attempts: int) -> RegistryTimeoutError:
    """`blob sha256:... from HOST: no data for 30 s (attempt 5 of 5)`; one try: no count."""
    tries = f" (attempt {attempt} of {attempts})" if attempts > 1 else ""
    return RegistryTimeoutError(
        f"{what}: {reason}{tries}",
        hint="the registry or the network is too slow; the limits are set by "
        "PYBUILD_REGISTRY_* variables (see docs/images.md)",
    )


class CredentialsError(RegistryError):
    """The docker config file or a credential helper failed."""


def printable(text: str, limit: int = _MAX_TEXT) -> str:
    """A one-line, bounded excerpt of untrusted text."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def parse_error_body(body: bytes) -> list[tuple[str, str]]:
    """The `(code, message)` pairs of a registry error body; [] if it has none."""
    try:
        obj = loads_limited(body, "error body")
    except JsonTextError:
        return []
    errors = obj.get("errors") if isinstance(obj, dict) else None
    if not isinstance(errors, list):
        return []
    pairs = []
    for entry in errors[:5]:
        if not isinstance(entry, dict):
            continue
        code = entry.get("code")
        message = entry.get("message")
        pairs.append(
            (
                printable(code, 60) if isinstance(code, str) else "",
                printable(message) if isinstance(message, str) else "",
            )
        )
    return pairs


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "unexpected status"


_HINTS = {
    401: "log in with `pybuild login {registry}` or check the credentials in your docker config",
    403: "your credentials do not allow this; check the repository name and your access rights",
    429: "the registry is rate-limiting requests; wait and try again",
}


def error_for_response(
    registry: str, status: int, body: bytes = b"", *, what: str | None = None
) -> RegistryStatusError:
    """The error for a non-success HTTP answer.

    `what` names the object asked for (`manifest app:1`), added in parentheses.
    """
    pairs = parse_error_body(body)
    if pairs:
        code, message = pairs[0]
        detail = f"{code or _reason(status)}: {message}" if message else code or _reason(status)
    else:
        detail = _reason(status)
        text = printable(body.decode("utf-8", "replace")) if body else ""
        if text and not text.lstrip().startswith("<"):  # skip HTML error pages
            detail = f"{detail}: {text}"
    line = f"registry {registry}: {status} {detail}"
    if what:
        line += f" ({what})"
    hint = _HINTS.get(status, "").format(registry=registry) or None
    cls: type[RegistryStatusError]
    if status in (401, 403):
        cls = RegistryAuthError
    elif status == 404:
        cls = RegistryNotFoundError
    elif status == 429 or status >= 500:
        cls = RegistryUnavailableError
    else:
        cls = RegistryStatusError
    return cls(line, hint=hint, status=status, codes=tuple(c for c, _ in pairs if c))


def error_for_exception(
    registry: str, exc: BaseException, *, url: str = ""
) -> RegistryUnavailableError:
    """The error for a request that got no HTTP answer: TLS, refused, timeout, reset."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 8:
        chain.append(cur)
        reason = getattr(cur, "reason", None)  # urllib3 wraps the cause in .reason
        cur = reason if isinstance(reason, BaseException) else cur.__cause__ or cur.__context__
    names = " ".join(type(e).__name__ for e in chain)
    text = " ".join(str(e) for e in chain).lower()
    where = f" ({url})" if url else ""
    if any(isinstance(e, ssl.SSLError) for e in chain) or "SSLError" in names:
        detail = printable(str(chain[-1]), 120)
        return RegistryUnavailableError(
            f"registry {registry}: TLS handshake failed: {detail}{where}",
            hint=(
                f"if {registry} serves plain HTTP or a self-signed certificate, "
                "mark it insecure (--insecure-registry); otherwise check its certificate"
            ),
        )
    if "refused" in text:
        return RegistryUnavailableError(
            f"registry {registry}: connection refused{where}",
            hint="check the registry address and that the registry is running",
        )
    if "timed out" in text or "timeout" in names.lower():
        return RegistryUnavailableError(f"registry {registry}: timed out{where}")
    if "name or service not known" in text or "nodename nor servname" in text:
        return RegistryUnavailableError(
            f"registry {registry}: unknown host{where}",
            hint="check the registry name in the image reference",
        )
    detail = printable(str(chain[-1]), 120) or type(chain[-1]).__name__
    return RegistryUnavailableError(f"registry {registry}: connection failed: {detail}{where}")
