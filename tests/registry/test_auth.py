"""Authentication against real registries: Basic (htpasswd) and Bearer (token server)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from builder.image.digest import sha256_digest
from builder.registry.auth import Challenge, parse_challenges, repository_scope
from builder.registry.client import RegistryClient
from builder.registry.credentials import Credentials, store_credentials
from builder.registry.errors import RegistryAuthError
from tests.registry.conftest import FAST_RETRY, PASSWORD, USER
from tests.registry_server import RegistryServer, TokenServer, start_registry


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            [
                'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull"'
            ],
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://auth.docker.io/token",
                        "service": "registry.docker.io",
                        "scope": "repository:library/debian:pull",
                    },
                )
            ],
        ),
        (['Basic realm="Registry Realm"'], [Challenge("basic", {"realm": "Registry Realm"})]),
        (
            ['Basic realm="a, b", Bearer realm="r" , service=svc,error="insufficient_scope"'],
            [
                Challenge("basic", {"realm": "a, b"}),
                Challenge(
                    "bearer", {"realm": "r", "service": "svc", "error": "insufficient_scope"}
                ),
            ],
        ),
        (['BEARER Realm = "x\\"y"'], [Challenge("bearer", {"realm": 'x"y'})]),
        (
            ["Negotiate", 'Basic realm="x"'],
            [Challenge("negotiate", {}), Challenge("basic", {"realm": "x"})],
        ),
        (['=",,"', ""], []),
    ],
)
def test_parse_challenges(headers: list[str], expected: list[Challenge]) -> None:
    assert parse_challenges(headers) == expected


def test_scopes() -> None:
    assert repository_scope("team/app") == "repository:team/app:pull"
    assert repository_scope("team/app", push=True) == "repository:team/app:pull,push"


def upload_small_blob(client: RegistryClient, repo: str, data: bytes = b"hello auth") -> str:
    digest = sha256_digest(data)
    client.upload_blob(repo, digest, len(data), io.BytesIO(data))
    return digest


# -- Basic --------------------------------------------------------------------------------


def test_basic_auth_refused_without_credentials(
    auth_registry: RegistryServer, docker_config: Path, repo: str
) -> None:
    client = RegistryClient(auth_registry.host, retry=FAST_RETRY)
    with pytest.raises(RegistryAuthError) as info:
        client.has_blob(repo, sha256_digest(b"x"))
    message = str(info.value)
    assert message.startswith(
        f"registry {auth_registry.host}: 401 UNAUTHORIZED: authentication required"
    )
    assert "\n" not in message
    assert info.value.hint is not None and "pybuild login" in info.value.hint


def test_basic_auth_with_docker_config(
    auth_registry: RegistryServer, docker_config: Path, repo: str
) -> None:
    store_credentials(auth_registry.host, USER, PASSWORD)
    client = RegistryClient(auth_registry.host, retry=FAST_RETRY)
    digest = upload_small_blob(client, repo)
    assert client.has_blob(repo, digest)
    sink = io.BytesIO()
    client.get_blob(repo, digest, sink)
    assert sink.getvalue() == b"hello auth"


def test_basic_auth_wrong_password_is_one_line(
    auth_registry: RegistryServer, docker_config: Path, repo: str
) -> None:
    store_credentials(auth_registry.host, USER, "wrong")
    client = RegistryClient(auth_registry.host, retry=FAST_RETRY)
    with pytest.raises(RegistryAuthError) as info:
        client.get_manifest(repo, "latest")
    message = str(info.value)
    assert (
        message
        == f"registry {auth_registry.host}: 401 UNAUTHORIZED: authentication required (manifest {repo}:latest)"
    )
    assert info.value.hint is not None and "credentials of 'alice' were rejected" in info.value.hint


def test_basic_auth_through_credential_helper(
    auth_registry: RegistryServer,
    docker_config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    repo: str,
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-test"
    answer = json.dumps({"ServerURL": auth_registry.host, "Username": USER, "Secret": PASSWORD})
    helper.write_text(
        f'#!/bin/sh\nread url\n[ "$1" = get ] && [ "$url" = "{auth_registry.host}" ] && echo \'{answer}\' && exit 0\n'
        "echo 'credentials not found in native keychain'; exit 1\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    docker_config.write_text(json.dumps({"credHelpers": {auth_registry.host: "test"}}))
    client = RegistryClient(auth_registry.host, retry=FAST_RETRY)
    digest = upload_small_blob(client, repo)
    assert client.has_blob(repo, digest)


# -- Bearer ------------------------------------------------------------------------------


def test_bearer_anonymous_pull_allowed_push_refused(
    token_registry: RegistryServer, repo: str
) -> None:
    client = RegistryClient(token_registry.host, credentials=None, retry=FAST_RETRY)
    assert client.has_blob(repo, sha256_digest(b"nothing")) is False
    with pytest.raises(RegistryAuthError, match=r"401 UNAUTHORIZED: authentication required"):
        upload_small_blob(client, repo)


def test_bearer_token_get_with_basic_and_cache(
    token_registry: RegistryServer, token_server: TokenServer, repo: str
) -> None:
    client = RegistryClient(
        token_registry.host, credentials=Credentials(USER, PASSWORD), retry=FAST_RETRY
    )
    start = len(token_server.requests)
    digest = upload_small_blob(client, repo)
    for _ in range(3):
        assert client.has_blob(repo, digest)  # pull is covered by the cached pull,push token
    requests = token_server.requests[start:]
    assert [(r.method, r.account, r.scopes) for r in requests] == [
        ("GET", USER, [f"repository:{repo}:pull,push"]),
    ]


def test_bearer_mount_asks_for_source_pull_scope(
    token_registry: RegistryServer, token_server: TokenServer, repo: str
) -> None:
    client = RegistryClient(
        token_registry.host, credentials=Credentials(USER, PASSWORD), retry=FAST_RETRY
    )
    digest = upload_small_blob(client, repo, b"mount me")
    start = len(token_server.requests)
    assert client.mount_blob(repo + "-copy", digest, repo) is True
    assert token_server.requests[start].scopes == [
        f"repository:{repo}-copy:pull,push",
        f"repository:{repo}:pull",
    ]


def test_bearer_wrong_password_one_line(token_registry: RegistryServer, repo: str) -> None:
    client = RegistryClient(
        token_registry.host, credentials=Credentials(USER, "nope"), retry=FAST_RETRY
    )
    with pytest.raises(RegistryAuthError) as info:
        client.has_blob(repo, sha256_digest(b"x"))
    assert (
        str(info.value)
        == f"registry {token_registry.host}: 401 UNAUTHORIZED: bad credentials (token request)"
    )


def test_bearer_post_form_when_get_is_refused(tmp_path: Path, repo: str) -> None:
    """Token servers that only speak OAuth2 answer GET with 405: the client POSTs the form."""
    with (
        TokenServer(tmp_path / "token", users={USER: PASSWORD}, allow_get=False) as tokens,
        start_registry(tmp_path / "registry", token_server=tokens) as server,
    ):
        client = RegistryClient(
            server.host, credentials=Credentials(USER, PASSWORD), retry=FAST_RETRY
        )
        digest = upload_small_blob(client, repo)
        assert client.has_blob(repo, digest)
        assert [(r.method, r.grant_type) for r in tokens.requests] == [("POST", "password")]


def test_bearer_identity_token_uses_refresh_grant(
    token_registry: RegistryServer, token_server: TokenServer, repo: str
) -> None:
    client = RegistryClient(
        token_registry.host, credentials=Credentials(identity_token="refresh-me"), retry=FAST_RETRY
    )
    start = len(token_server.requests)
    upload_small_blob(client, repo)
    assert [(r.method, r.grant_type, r.account) for r in token_server.requests[start:]] == [
        ("POST", "refresh_token", USER)
    ]


# -- login ------------------------------------------------------------------------------


def test_login_checks_basic_credentials(auth_registry: RegistryServer) -> None:
    RegistryClient(auth_registry.host, credentials=Credentials(USER, PASSWORD)).login()
    with pytest.raises(
        RegistryAuthError,
        match=r"^registry \S+: 401 UNAUTHORIZED: authentication required \(login\)$",
    ):
        RegistryClient(auth_registry.host, credentials=Credentials(USER, "bad")).login()


def test_login_checks_token_credentials(
    token_registry: RegistryServer, token_server: TokenServer
) -> None:
    start = len(token_server.requests)
    RegistryClient(token_registry.host, credentials=Credentials(USER, PASSWORD)).login()
    assert [(r.account, r.scopes) for r in token_server.requests[start:]] == [(USER, [])]
    with pytest.raises(RegistryAuthError, match="bad credentials"):
        RegistryClient(token_registry.host, credentials=Credentials(USER, "bad")).login()


def test_login_on_open_registry(registry: RegistryServer) -> None:
    RegistryClient(registry.host, credentials=Credentials(USER, PASSWORD)).login()
