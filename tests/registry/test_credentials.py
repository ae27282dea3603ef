"""Docker config credentials: auths entries, helpers, login/logout writes."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from builder.registry.credentials import (
    DOCKER_HUB_KEY,
    Credentials,
    config_path,
    credential_key,
    erase_credentials,
    lookup_credentials,
    normalize_key,
    store_credentials,
)
from builder.registry.errors import CredentialsError


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write_helper(directory: Path, name: str, script: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An executable docker-credential-NAME on PATH."""
    directory.mkdir(exist_ok=True)
    helper = directory / f"docker-credential-{name}"
    helper.write_text("#!/bin/sh\n" + script)
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    return helper


def test_config_path_honours_docker_config(tmp_path: Path) -> None:
    assert config_path({"DOCKER_CONFIG": str(tmp_path)}) == tmp_path / "config.json"
    assert config_path({"HOME": "/home/u"}) == Path("/home/u/.docker/config.json")


@pytest.mark.parametrize(
    ("key", "normal"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("docker.io", "docker.io"),
        ("http://Registry.Example:5000/v2/", "registry.example:5000"),
        ("localhost:5000", "localhost:5000"),
    ],
)
def test_normalize_key(key: str, normal: str) -> None:
    assert normalize_key(key) == normal


def test_docker_hub_is_keyed_by_its_index_url() -> None:
    assert credential_key("docker.io") == DOCKER_HUB_KEY
    assert credential_key("ghcr.io") == "ghcr.io"


def test_auths_base64_entry(docker_config: Path) -> None:
    docker_config.write_text(
        json.dumps({"auths": {"reg.example:5000": {"auth": b64("bob:pa:ss")}}})
    )
    assert lookup_credentials("reg.example:5000") == Credentials("bob", "pa:ss")
    assert lookup_credentials("other.example") is None


def test_auths_username_password_and_url_keys(docker_config: Path) -> None:
    docker_config.write_text(
        json.dumps(
            {
                "auths": {
                    "https://reg.example/v2/": {"username": "u", "password": "p"},
                    DOCKER_HUB_KEY: {"identitytoken": "secret-refresh"},
                }
            }
        )
    )
    assert lookup_credentials("reg.example") == Credentials("u", "p")
    creds = lookup_credentials("docker.io")
    assert creds == Credentials(identity_token="secret-refresh")
    assert "secret-refresh" not in repr(creds)


def test_missing_config_is_anonymous(docker_config: Path) -> None:
    assert lookup_credentials("reg.example") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"auths": []}', "'auths' must be an object"),
        ('{"auths": {"r": {"auth": "!!!"}}}', "not base64"),
        ('{"auths": {"r": {"auth": "' + b64("nocolon") + '"}}}', "no ':'"),
        ('{"auths": {"r": {"username": 5}}}', "not a string"),
        ('{"credsStore": "../../bin/sh"}', "invalid credential helper name"),
    ],
)
def test_hostile_config_is_a_clear_error(docker_config: Path, content: str, message: str) -> None:
    docker_config.write_text(content)
    with pytest.raises(CredentialsError, match=r"config\.json") as info:
        lookup_credentials("r")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_credential_helper_get(
    docker_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "helper.log"
    write_helper(
        tmp_path / "bin",
        "test",
        f'read url; echo "$1 $url" >> {log}\n'
        'if [ "$url" = "reg.example:5000" ]; then\n'
        '  echo \'{"ServerURL":"reg.example:5000","Username":"helper-user","Secret":"helper-pw"}\'\n'
        'elif [ "$url" = "https://index.docker.io/v1/" ]; then\n'
        '  echo \'{"Username":"<token>","Secret":"refresh-123"}\'\n'
        "else echo 'credentials not found in native keychain'; exit 1; fi\n",
        monkeypatch,
    )
    docker_config.write_text(
        json.dumps({"credHelpers": {"reg.example:5000": "test"}, "credsStore": "test"})
    )
    assert lookup_credentials("reg.example:5000") == Credentials("helper-user", "helper-pw")
    assert lookup_credentials("docker.io") == Credentials(identity_token="refresh-123")
    assert lookup_credentials("unknown.example") is None
    assert log.read_text().splitlines() == [
        "get reg.example:5000",
        "get https://index.docker.io/v1/",
        "get unknown.example",
    ]


def test_failing_or_missing_helper_is_one_line(
    docker_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_helper(tmp_path / "bin", "broken", "echo 'keyring locked' >&2; exit 3\n", monkeypatch)
    docker_config.write_text(json.dumps({"credsStore": "broken"}))
    with pytest.raises(
        CredentialsError, match=r"docker-credential-broken get failed: keyring locked"
    ):
        lookup_credentials("reg.example")
    docker_config.write_text(json.dumps({"credsStore": "absent-helper"}))
    with pytest.raises(CredentialsError, match="docker-credential-absent-helper not found on PATH"):
        lookup_credentials("reg.example")


def test_store_keeps_unknown_keys_mode_0600(docker_config: Path) -> None:
    docker_config.write_text(
        json.dumps(
            {
                "auths": {
                    "other.example": {"auth": b64("x:y")},
                    "reg.example": {"email": "a@b", "auth": b64("old:old")},
                },
                "psFormat": "table {{.ID}}",
                "proxies": {"default": {"httpProxy": "http://p"}},
            }
        )
    )
    docker_config.chmod(0o644)
    where = store_credentials("reg.example", "new", "pw")
    assert where == str(docker_config)
    saved = json.loads(docker_config.read_text())
    assert saved["psFormat"] == "table {{.ID}}"
    assert saved["proxies"] == {"default": {"httpProxy": "http://p"}}
    assert saved["auths"]["other.example"] == {"auth": b64("x:y")}
    assert saved["auths"]["reg.example"] == {"email": "a@b", "auth": b64("new:pw")}
    assert stat.S_IMODE(docker_config.stat().st_mode) == 0o600
    assert lookup_credentials("reg.example") == Credentials("new", "pw")
    assert [p.name for p in docker_config.parent.iterdir()] == ["config.json"]  # no temp files left


def test_store_creates_config_and_docker_hub_key(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "config.json"
    store_credentials("docker.io", "me", "pw", path=path)
    assert json.loads(path.read_text()) == {"auths": {DOCKER_HUB_KEY: {"auth": b64("me:pw")}}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_erase_removes_every_spelling(docker_config: Path) -> None:
    docker_config.write_text(
        json.dumps(
            {
                "auths": {
                    "reg.example": {"auth": b64("a:b")},
                    "https://reg.example/v2/": {},
                    "keep": {},
                },
                "x": 1,
            }
        )
    )
    assert erase_credentials("reg.example") is True
    assert json.loads(docker_config.read_text()) == {"auths": {"keep": {}}, "x": 1}
    assert erase_credentials("reg.example") is False


def test_store_and_erase_through_helper(
    docker_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "helper.log"
    write_helper(tmp_path / "bin", "test", f'echo "$1 $(cat)" >> {log}\n', monkeypatch)
    docker_config.write_text(json.dumps({"credsStore": "test"}))
    assert store_credentials("reg.example", "u", "p") == "docker-credential-test"
    assert json.loads(docker_config.read_text()) == {
        "credsStore": "test",
        "auths": {"reg.example": {}},
    }
    assert erase_credentials("reg.example") is True
    lines = log.read_text().splitlines()
    assert json.loads(lines[0].removeprefix("store ")) == {
        "ServerURL": "reg.example",
        "Username": "u",
        "Secret": "p",
    }
    assert lines[1] == "erase reg.example"
