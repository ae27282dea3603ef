"""Fixtures: real docker-registry instances on 127.0.0.1 (see tests/registry_server.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.registry.transport import RetryPolicy
from tests.registry_server import RegistryServer, TokenServer, start_registry

#: Retries without the production pauses, so failure tests stay fast.
FAST_RETRY = RetryPolicy(attempts=4, backoff=0.01, max_backoff=0.05, max_retry_after=2.0)

USER, PASSWORD = "alice", "s3cret-pass"


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """An open registry: anyone may pull and push."""
    with start_registry(tmp_path_factory.mktemp("registry-open")) as server:
        yield server


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A registry with HTTP Basic auth (htpasswd): user `alice`, password `s3cret-pass`."""
    with start_registry(
        tmp_path_factory.mktemp("registry-basic"), htpasswd=(USER, PASSWORD)
    ) as server:
        yield server


@pytest.fixture(scope="session")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    server = TokenServer(tmp_path_factory.mktemp("token"), users={USER: PASSWORD})
    server.refresh_tokens["refresh-me"] = USER
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory, token_server: TokenServer
) -> Iterator[RegistryServer]:
    """A registry with Bearer token auth from `token_server` (anonymous users may pull)."""
    with start_registry(
        tmp_path_factory.mktemp("registry-token"), token_server=token_server
    ) as server:
        server.token_server = None  # the session fixture stops it
        yield server


@pytest.fixture
def repo(request: pytest.FixtureRequest) -> str:
    """A repository name unique to the test."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    return f"test/{name[:100]}"


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty $DOCKER_CONFIG directory for the test."""
    directory = tmp_path / "docker-config"
    directory.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory / "config.json"
