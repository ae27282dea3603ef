"""Which COPY/ADD sources are local paths, downloads or git repositories (BuildKit's ADD rules)."""

from __future__ import annotations

import pytest

from builder.solve.copy.kinds import SourceKind, is_remote_source, redact, source_kind

LOCAL, HTTP, GIT = SourceKind.LOCAL, SourceKind.HTTP, SourceKind.GIT


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        # git: by scheme
        ("git://host/repo", GIT),
        ("git://127.0.0.1:9418/repo.git#tag", GIT),
        ("ssh://git@host/repo.git", GIT),
        ("GIT://host/repo", GIT),  # the scheme in any case
        # git: http(s) whose URL path ends in .git
        ("https://github.com/moby/buildkit.git", GIT),
        ("http://host/r.git", GIT),
        ("https://host/r.git#main:sub/dir", GIT),
        ("https://host/r.git?tag=v1&subdir=x", GIT),
        ("https://host/r.git?foo=bar", GIT),  # a bad query is still git (reading it fails)
        ("HTTPS://host/r.git", GIT),
        # git: scp-like user@host:path
        ("git@github.com:moby/buildkit.git", GIT),
        ("git@github.com:moby/buildkit.git#v1:docs", GIT),
        ("deploy@host:repo", GIT),
        # http: the rest of http(s)://, lower case only
        ("https://example.com/tool-1.0.tar.gz", HTTP),
        ("http://host/repo", HTTP),
        ("https://host/r.git.tar", HTTP),
        ("https://host/r?x=.git", HTTP),  # the query is not the path
        ("https://host/dir#frag.git", HTTP),  # nor is the fragment
        ("https://example.com", HTTP),
        # local
        ("HTTPS://host/file", LOCAL),
        ("file:///srv/repo.git", LOCAL),
        ("ftp://host/file", LOCAL),
        ("github.com/moby/buildkit", LOCAL),  # git only for build contexts
        ("github.com/moby/buildkit.git", LOCAL),
        ("./repo.git", LOCAL),
        ("../user@host:repo", LOCAL),
        ("./git@host:repo", LOCAL),
        ("git@host", LOCAL),  # no path
        ("git@host://x", LOCAL),
        ("user@host:path://x", LOCAL),
        ("src/", LOCAL),
        ("*.txt", LOCAL),
        ("", LOCAL),
    ],
)
def test_source_kind(source: str, kind: SourceKind) -> None:
    assert source_kind(source) is kind
    assert is_remote_source(source) is (kind is not LOCAL)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://host/f", "https://host/f"),
        ("https://user:secret@host:8443/f", "https://xxxxx:xxxxx@host:8443/f"),
        ("https://token@host/r.git", "https://xxxxx:xxxxx@host/r.git"),
    ],
)
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown
