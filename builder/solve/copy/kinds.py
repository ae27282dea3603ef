"""What a COPY/ADD source is: a local path, an HTTP download or a git repository.

The one place that decides it, by BuildKit's rules for ADD (`dfgitutil.ParseGitRef`,
then "is it an http(s) URL"):

- git: `git://...` and `ssh://...`; `http(s)://...` whose URL path ends in
  `.git` (a `#ref:subdir` fragment or a `?ref=` query may follow); scp-like
  `user@host:path` (`git@github.com:moby/buildkit.git`);
- http: any other source starting with `http://` or `https://` (these two
  in lower case only);
- local: everything else, also `./x`, `../x`, `github.com/...` (git for build
  contexts only), `file://...` and other schemes.

Only the classification lives here (it never raises); `git.parse_git_ref`
reads a git source's ref, subdir and query. `redact` shows a remote source
in messages without its credentials.
"""

from __future__ import annotations

import enum
import re
import urllib.parse
from typing import Final

__all__ = ["GIT_SCHEMES", "SourceKind", "is_remote_source", "redact", "source_kind"]

GIT_SCHEMES: Final = ("http", "https", "git", "ssh")  #: the transports git may use
_SCP_LIKE: Final = re.compile(r"^([A-Za-z0-9_.-]+)@([A-Za-z0-9.-]+):(?!//)(.+)$")
_NEVER_GIT: Final = ("./", "../", "github.com/")


class SourceKind(enum.Enum):
    LOCAL = "local"  #: a path in the build context (or a source stage)
    HTTP = "http"  #: a file to download
    GIT = "git"  #: a repository to clone


def source_kind(source: str) -> SourceKind:
    """What `source` (as written, variables expanded) names for ADD."""
    if _is_git(source):
        return SourceKind.GIT
    if source.startswith(("http://", "https://")):
        return SourceKind.HTTP
    return SourceKind.LOCAL


def is_remote_source(source: str) -> bool:
    """Is `source` fetched from the network (a download or a git repository)?"""
    return source_kind(source) is not SourceKind.LOCAL


def _is_git(source: str) -> bool:
    if source.startswith(_NEVER_GIT):
        return False
    scheme, sep, _ = source.partition("://")
    if not sep:
        return _SCP_LIKE.match(source) is not None
    scheme = scheme.lower()
    if scheme not in GIT_SCHEMES:
        return False
    if scheme in ("git", "ssh"):
        return True
    try:
        path = urllib.parse.urlsplit(source).path
    except ValueError:  # a malformed host: not a repository, the download reports it
        return False
    return path.endswith(".git")


def redact(url: str) -> str:
    """The URL with any `user:password@` replaced, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"xxxxx:xxxxx@{host}"))
