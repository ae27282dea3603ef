"""Compose files as bake targets: the build keys, x-bake, interpolation, and awesome-compose's files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from builder.errors import BakeFileError
from tests.bake.printing import printed, write_files
from tests.conftest import FIXTURES

AWESOME = FIXTURES / "awesome-compose"


def test_build_keys(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "compose.yaml": """
                services:
                  db:
                    build: ./db
                    command: ./entrypoint.sh
                    image: docker.io/example/db
                  webapp:
                    environment:
                      FROM_SERVICE: service-value
                    build:
                      context: ./dir
                      additional_contexts:
                        foo: ./bar
                        base: service:db
                      dockerfile: Dockerfile-alternate
                      network: none
                      args:
                        buildno: 123
                        FROM_SERVICE:
                      cache_from:
                        - type=local,src=path/to/cache
                      cache_to:
                        - type=local,dest=path/to/cache
                      extra_hosts:
                        - "somehost:162.242.195.82"
                        - "somehost:162.242.195.83"
                        - "myhostv6:::1"
                      ssh:
                        - key=/path/to/key
                        - default
                      secrets:
                        - token
                        - aws
                      labels:
                        - com.example.a=1
                      target: prod
                      shm_size: 128m
                      ulimits:
                        nproc: 65535
                        nofile:
                          soft: 20000
                          hard: 40000
                  web.app2:
                    profiles: [test]
                    build:
                      context: ./dir
                      dockerfile_inline: |
                        FROM alpine
                  plain:
                    image: postgres
                secrets:
                  token:
                    environment: ENV_TOKEN
                  aws:
                    file: /root/.aws/credentials
            """
        },
    )
    data = printed(tmp_path)
    assert data["group"] == {"default": {"targets": ["db", "web_app2", "webapp"]}}
    assert data["target"]["db"] == {
        "context": "db",
        "dockerfile": "Dockerfile",
        "tags": ["docker.io/example/db"],
    }
    assert data["target"]["webapp"] == {
        "context": "dir",
        "contexts": {"base": "target:db", "foo": "bar"},
        "dockerfile": "Dockerfile-alternate",
        "args": {"FROM_SERVICE": "service-value", "buildno": "123"},
        "labels": {"com.example.a": "1"},
        "cache-from": [{"src": "path/to/cache", "type": "local"}],
        "cache-to": [{"dest": "path/to/cache", "type": "local"}],
        "target": "prod",
        "secret": [
            {"id": "aws", "src": "/root/.aws/credentials"},
            {"id": "token", "env": "ENV_TOKEN"},
        ],
        "ssh": [{"id": "default"}, {"id": "key", "paths": ["/path/to/key"]}],
        "network": "none",
        "shm-size": "128m",
        "ulimits": ["nproc=65535:65535", "nofile=20000:40000"],
        "extra-hosts": {"myhostv6": "::1", "somehost": "162.242.195.82,162.242.195.83"},
    }
    assert data["target"]["web_app2"] == {
        "context": "dir",
        "dockerfile": "Dockerfile",
        "dockerfile-inline": "FROM alpine\n",
    }


def test_interpolation_from_the_environment_and_dotenv(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "compose.yaml": """
                services:
                  app:
                    image: "${REGISTRY:-docker.io/library}/app:${TAG-latest}"
                    build:
                      context: "${CONTEXT:-.}"
                      args:
                        - FROM_DOTENV=${FROM_DOTENV}
                        - EMPTY_DEFAULT=${EMPTY:-fallback}
                        - EMPTY_SET=${EMPTY-unset-only}
                        - DOLLAR=$$HOME
                        - NESTED=${MISSING:-${TAG:-inner}}
                        - ALT=${TAG:+tagged}
            """,
            ".env": "FROM_DOTENV=from-file\nTAG=from-file\n# comment\nexport CONTEXT='sub'\n",
            "sub/.keep": "",
        },
    )
    app = printed(tmp_path, environ={"EMPTY": "", "TAG": "v2"})["target"]["app"]
    assert app["tags"] == ["docker.io/library/app:v2"]  # the environment wins over .env
    assert app["context"] == "sub"
    assert app["args"] == {
        "FROM_DOTENV": "from-file",
        "EMPTY_DEFAULT": "fallback",
        "EMPTY_SET": "",
        "DOLLAR": "$HOME",
        "NESTED": "v2",
        "ALT": "tagged",
    }


def test_required_variable_is_an_error(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {"compose.yaml": "services:\n  app:\n    build:\n      context: ${CTX:?set CTX}\n"},
    )
    with pytest.raises(BakeFileError, match="required variable CTX is missing a value: set CTX"):
        printed(tmp_path)


def test_compose_with_a_bake_override(tmp_path: Path) -> None:
    """A compose file and docker-bake.hcl found by default are merged: compose first."""
    write_files(
        tmp_path,
        {
            "compose.yaml": "services:\n  app:\n    build: .\n    image: app:1\n",
            "docker-bake.hcl": 'target "app" {\n  platforms = ["linux/amd64"]\n}\n',
        },
    )
    assert printed(tmp_path)["target"]["app"] == {
        "context": ".",
        "dockerfile": "Dockerfile",
        "tags": ["app:1"],
        "platforms": ["linux/amd64"],
    }


def _copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(AWESOME / name, tmp_path / name))


def test_awesome_compose_nginx_flask_mysql(tmp_path: Path) -> None:
    data = printed(_copy("nginx-flask-mysql", tmp_path))
    assert data == {
        "group": {"default": {"targets": ["backend", "proxy"]}},
        "target": {
            "backend": {"context": "backend", "dockerfile": "Dockerfile", "target": "builder"},
            "proxy": {"context": "proxy", "dockerfile": "Dockerfile"},
        },
    }


def test_awesome_compose_react_express_mysql(tmp_path: Path) -> None:
    data = printed(_copy("react-express-mysql", tmp_path))
    assert data == {
        "group": {"default": {"targets": ["backend", "frontend"]}},
        "target": {
            "backend": {
                "context": "backend",
                "dockerfile": "Dockerfile",
                "args": {"NODE_ENV": "development"},
                "target": "development",
            },
            "frontend": {
                "context": "frontend",
                "dockerfile": "Dockerfile",
                "target": "development",
            },
        },
    }


def test_awesome_compose_nginx_wsgi_flask(tmp_path: Path) -> None:
    data = printed(_copy("nginx-wsgi-flask", tmp_path), ["nginx-proxy"])
    assert data == {
        "group": {"default": {"targets": ["nginx-proxy"]}},
        "target": {"nginx-proxy": {"context": "nginx", "dockerfile": "Dockerfile"}},
    }
