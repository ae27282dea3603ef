"""`ADD https://...`: download one file the way BuildKit's HTTP source does.

- `http://` and `https://` sources that are not git repositories
  (`kinds.source_kind`: `https://host/repo.git` is git);
- streamed to a scratch directory with a timeout, redirects followed; a
  status outside 200-399 is an error;
- the file is named after the last component of the URL path
  (`__unnamed__` when there is none); its mode is 0600 and its mtime the
  `Last-Modified` header (the Unix epoch without one);
- `--checksum=sha256:<hex>` (sha384, sha512 too) is checked before anything
  is written to the image; a mismatch names both digests.

The caller copies the file into the image; it is not unpacked unless
`--unpack=true` says so.
"""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import os
import posixpath
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from builder.errors import BuildError
from builder.solve.copy.kinds import redact

__all__ = ["Download", "download", "parse_checksum", "url_file_name"]

UNNAMED: Final = "__unnamed__"
DOWNLOAD_MODE: Final = 0o600
_CHUNK: Final = 1 << 20
_MAX_REDIRECTS: Final = 10
_DIGEST_LENGTHS: Final = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX: Final = re.compile(r"[a-f0-9]+")


def url_file_name(url: str) -> str:
    """The file name BuildKit gives a download: the URL path's last component."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    name = posixpath.basename(posixpath.normpath("/" + path))
    if name in ("", "/", ".", "..") or "\x00" in name:
        return UNNAMED
    return name


def parse_checksum(text: str) -> tuple[str, str]:
    """(algorithm, hex) of a `--checksum` digest; BuildError when malformed."""
    algorithm, sep, hexdigest = text.partition(":")
    if not sep:
        raise BuildError(
            f"invalid checksum digest format: {text!r}", hint="write it as sha256:<64 hex digits>"
        )
    expected = _DIGEST_LENGTHS.get(algorithm)
    if expected is None:
        raise BuildError(
            f"unsupported digest algorithm {algorithm!r} in --checksum={text}",
            hint="use sha256, sha384 or sha512",
        )
    if len(hexdigest) != expected or not _HEX.fullmatch(hexdigest):
        raise BuildError(f"invalid checksum digest length or characters: {text!r}")
    return algorithm, hexdigest


@dataclass(frozen=True)
class Download:
    """A downloaded file, ready to be copied."""

    root: Path  #: a directory holding only the file
    name: str
    digest: str  #: `sha256:<hex>` of the content


def download(
    url: str,
    directory: Path,
    *,
    checksum: str | None = None,
    timeout: float = 300.0,
    retries: int = 2,
) -> Download:
    """Download `url` into a new directory below `directory`. Raises BuildError on failure."""
    import urllib3  # lazily: only ADD of a URL needs it

    expected = parse_checksum(checksum) if checksum else None
    name = url_file_name(url)
    root = Path(os.fspath(directory)) / f"url-{hashlib.sha256(url.encode()).hexdigest()[:16]}"
    root.mkdir(mode=0o700)
    partial = root / ".partial"
    shown = redact(url)
    pool = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=min(timeout, 30.0), read=timeout),
        retries=urllib3.Retry(
            total=retries, connect=retries, read=retries, redirect=_MAX_REDIRECTS, status=0
        ),
        headers={"User-Agent": "pybuild"},
    )
    try:
        response = pool.request("GET", url, preload_content=False, redirect=True)
    except urllib3.exceptions.HTTPError as exc:
        raise BuildError(f"failed to download {shown}: {_reason(exc)}") from None
    try:
        if not 200 <= response.status < 400:
            raise BuildError(
                f"failed to download {shown}: invalid response status {response.status}"
            )
        hashers = {"sha256": hashlib.sha256()}
        if expected is not None:
            hashers.setdefault(expected[0], hashlib.new(expected[0]))
        try:
            with open(partial, "wb") as out:
                for chunk in response.stream(_CHUNK):
                    out.write(chunk)
                    for hasher in hashers.values():
                        hasher.update(chunk)
        except urllib3.exceptions.HTTPError as exc:
            raise BuildError(f"failed to download {shown}: {_reason(exc)}") from None
        except OSError as exc:
            raise BuildError(f"cannot store the download of {shown}: {exc.strerror}") from None
        last_modified = response.headers.get("Last-Modified")
    finally:
        response.release_conn()
        pool.clear()
    if expected is not None:
        got = hashers[expected[0]].hexdigest()
        if got != expected[1]:
            partial.unlink()
            raise BuildError(
                f"digest mismatch for {shown}: {expected[0]}:{got} "
                f"(expected: {expected[0]}:{expected[1]})",
                hint="the file changed on the server, or --checksum is wrong",
            )
    final = root / name
    partial.rename(final)
    final.chmod(DOWNLOAD_MODE)
    mtime_ns = _http_time_ns(last_modified)
    os.utime(final, ns=(mtime_ns, mtime_ns))
    return Download(root, name, "sha256:" + hashers["sha256"].hexdigest())


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc)


def _http_time_ns(value: str | None) -> int:
    """A `Last-Modified` header as nanoseconds since the epoch; 0 when absent or bad."""
    if not value:
        return 0
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return 0
    if when.tzinfo is None:  # "-0000": UTC, says RFC 5322
        when = when.replace(tzinfo=datetime.UTC)
    return int(when.timestamp()) * 1_000_000_000
