"""`pybuild bake --print` on the examples of buildx's documentation.

Each case is a documented bake setup (docker/buildx docs/bake-reference.md,
docs/reference/buildx_bake.md, and docs.docker.com/build/bake/compose-file)
with the JSON the documentation says `docker buildx bake --print` shows,
written out here by hand. Where the documentation's example predates
buildx's current output, the expected value follows the current code, and
the case says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.bake.printing import printed, write_files


def _target(**attrs: Any) -> dict[str, Any]:
    """A printed target: context and dockerfile default to buildx's defaults."""
    out: dict[str, Any] = {"context": ".", "dockerfile": "Dockerfile"}
    for key, value in attrs.items():
        out[key.replace("_", "-")] = value
    return out


def test_merged_files_tags_are_overridden(tmp_path: Path) -> None:
    """bake-reference.md, "File format": docker-bake.hcl's tags win over compose.yaml's."""
    write_files(
        tmp_path,
        {
            "compose.yaml": """
                services:
                  webapp:
                    build:
                      context: .
                      tags:
                        - bar
            """,
            "docker-bake.hcl": 'target "webapp" {\n  tags = ["foo"]\n}\n',
        },
    )
    assert printed(tmp_path, ["webapp"]) == {
        "group": {"default": {"targets": ["webapp"]}},
        "target": {"webapp": _target(tags=["foo"])},
    }


def test_merged_files_labels_are_merged(tmp_path: Path) -> None:
    """bake-reference.md: labels of both files are kept, the later file's value wins."""
    write_files(
        tmp_path,
        {
            "compose.yaml": """
                services:
                  webapp:
                    build:
                      context: .
                      labels:
                        com.example.foo: "foo"
                        com.example.name: "Alice"
            """,
            "docker-bake.hcl": """
                target "webapp" {
                  labels = {
                    "com.example.bar" = "bar"
                    "com.example.name" = "Bob"
                  }
                }
            """,
        },
    )
    assert printed(tmp_path, ["webapp"]) == {
        "group": {"default": {"targets": ["webapp"]}},
        "target": {
            "webapp": _target(
                labels={
                    "com.example.foo": "foo",
                    "com.example.bar": "bar",
                    "com.example.name": "Bob",
                }
            )
        },
    }


def test_empty_target_gets_the_defaults(tmp_path: Path) -> None:
    """bake-reference.md, target.context/target.dockerfile: `target "default" {}`.

    The documentation shows no `group` key; buildx's ReadTargets adds the
    names asked for to a `default` group, so current buildx prints it.
    """
    write_files(tmp_path, {"bake.hcl": 'target "default" {}\n'})
    data = printed(tmp_path, files=["bake.hcl"])
    assert data["target"] == {"default": {"context": ".", "dockerfile": "Dockerfile"}}
    assert data["group"] == {"default": {"targets": ["default"]}}


INHERITS = """
target "app-dev" {
  args = {
    GO_VERSION = "1.20"
    BUILDX_EXPERIMENTAL = 1
  }
  tags = ["docker.io/username/myapp"]
  dockerfile = "app.Dockerfile"
  labels = {
    "org.opencontainers.image.source" = "https://github.com/username/myapp"
  }
}

target "_release" {
  args = {
    BUILDKIT_CONTEXT_KEEP_GIT_DIR = 1
    BUILDX_EXPERIMENTAL = 0
  }
}

target "app-release" {
  inherits = ["app-dev", "_release"]
  platforms = ["linux/amd64", "linux/arm64"]
}
"""


def test_inherits_from_several_targets(tmp_path: Path) -> None:
    """bake-reference.md, target.inherits: the last parent wins (BUILDX_EXPERIMENTAL=0)."""
    write_files(tmp_path, {"docker-bake.hcl": INHERITS})
    assert printed(tmp_path, ["app-release"]) == {
        "group": {"default": {"targets": ["app-release"]}},
        "target": {
            "app-release": {
                "context": ".",
                "dockerfile": "app.Dockerfile",
                "args": {
                    "BUILDKIT_CONTEXT_KEEP_GIT_DIR": "1",
                    "BUILDX_EXPERIMENTAL": "0",
                    "GO_VERSION": "1.20",
                },
                "labels": {"org.opencontainers.image.source": "https://github.com/username/myapp"},
                "tags": ["docker.io/username/myapp"],
                "platforms": ["linux/amd64", "linux/arm64"],
            }
        },
    }


def test_print_keeps_buildx_key_order(tmp_path: Path) -> None:
    """The printed text itself: buildx's attribute order, two-space indent, sorted maps."""
    from builder.bake.files import find_files, load_config
    from builder.bake.printing import render
    from builder.bake.resolve import resolve

    write_files(tmp_path, {"docker-bake.hcl": INHERITS})
    text = render(
        resolve(load_config(find_files([], tmp_path), {}, tmp_path), ["app-release"], [], {})
    )
    lines = text.splitlines()
    body = lines[lines.index('  "target": {') :]
    keys = [line.strip().split('"')[1] for line in body if line.startswith('      "')]
    assert keys == ["context", "dockerfile", "args", "labels", "tags", "platforms"]
    assert text.startswith(
        '{\n  "group": {\n    "default": {\n      "targets": [\n        "app-release"'
    )
    assert text.endswith("}\n")


def test_matrix_forks_a_target(tmp_path: Path) -> None:
    """bake-reference.md, target.matrix: `app` becomes app-foo and app-bar, and a group."""
    write_files(
        tmp_path,
        {
            "docker-bake.hcl": """
                target "app" {
                  name = "app-${tgt}"
                  matrix = {
                    tgt = ["foo", "bar"]
                  }
                  target = tgt
                }
            """
        },
    )
    assert printed(tmp_path, ["app"]) == {
        "group": {
            "app": {"targets": ["app-foo", "app-bar"]},
            "default": {"targets": ["app"]},
        },
        "target": {
            "app-bar": _target(target="bar"),
            "app-foo": _target(target="foo"),
        },
    }


def test_matrix_with_several_axes(tmp_path: Path) -> None:
    """bake-reference.md, "Multiple axes": four targets, names from replace()."""
    write_files(
        tmp_path,
        {
            "docker-bake.hcl": """
                target "app" {
                  name = "app-${tgt}-${replace(version, ".", "-")}"
                  matrix = {
                    tgt = ["foo", "bar"]
                    version = ["1.0", "2.0"]
                  }
                  target = tgt
                  args = {
                    VERSION = version
                  }
                }
            """
        },
    )
    data = printed(tmp_path, ["app"])
    assert data["group"]["app"]["targets"] == [
        "app-foo-1-0", "app-foo-2-0", "app-bar-1-0", "app-bar-2-0"
    ]  # fmt: skip
    assert data["target"]["app-bar-2-0"] == _target(args={"VERSION": "2.0"}, target="bar")
    assert sorted(data["target"]) == ["app-bar-1-0", "app-bar-2-0", "app-foo-1-0", "app-foo-2-0"]


def test_matrix_of_maps(tmp_path: Path) -> None:
    """bake-reference.md, "Multiple values per matrix target": item.tgt, item.version."""
    write_files(
        tmp_path,
        {
            "docker-bake.hcl": """
                target "app" {
                  name = "app-${item.tgt}-${replace(item.version, ".", "-")}"
                  matrix = {
                    item = [
                      {
                        tgt = "foo"
                        version = "1.0"
                      },
                      {
                        tgt = "bar"
                        version = "2.0"
                      }
                    ]
                  }
                  target = item.tgt
                  args = {
                    VERSION = item.version
                  }
                }
            """
        },
    )
    assert printed(tmp_path, ["app"])["target"] == {
        "app-bar-2-0": _target(args={"VERSION": "2.0"}, target="bar"),
        "app-foo-1-0": _target(args={"VERSION": "1.0"}, target="foo"),
    }


def test_group_wins_over_target_of_the_same_name(tmp_path: Path) -> None:
    """bake-reference.md, Group: the `default` group is built, the `default` target ignored."""
    write_files(
        tmp_path,
        {
            "docker-bake.hcl": """
                target "default" {
                  dockerfile-inline = "FROM ubuntu"
                }

                group "default" {
                  targets = ["alpine", "debian"]
                }
                target "alpine" {
                  dockerfile-inline = "FROM alpine"
                }
                target "debian" {
                  dockerfile-inline = "FROM debian"
                }
            """
        },
    )
    assert printed(tmp_path) == {
        "group": {"default": {"targets": ["alpine", "debian"]}},
        "target": {
            "alpine": _target(dockerfile_inline="FROM alpine"),
            "debian": _target(dockerfile_inline="FROM debian"),
        },
    }


JSON_FILE = """
{
  "variable": {
    "TAG": {
      "default": "latest"
    }
  },
  "group": {
    "default": {
      "targets": ["webapp"]
    }
  },
  "target": {
    "webapp": {
      "dockerfile": "Dockerfile",
      "tags": ["docker.io/username/webapp:${TAG}"]
    }
  }
}
"""

HCL_FILE = """
variable "TAG" {
  default = "latest"
}

group "default" {
  targets = ["webapp"]
}

target "webapp" {
  dockerfile = "Dockerfile"
  tags = ["docker.io/username/webapp:${TAG}"]
}
"""


@pytest.mark.parametrize(
    "name,text", [("docker-bake.json", JSON_FILE), ("docker-bake.hcl", HCL_FILE)]
)
@pytest.mark.parametrize("environ,tag", [({}, "latest"), ({"TAG": "dev"}, "dev")])
def test_json_and_hcl_say_the_same(
    tmp_path: Path, name: str, text: str, environ: dict[str, str], tag: str
) -> None:
    """bake-reference.md, Syntax: one definition in JSON and in HCL; TAG=dev overrides."""
    write_files(tmp_path, {name: text})
    assert printed(tmp_path, environ=environ) == {
        "group": {"default": {"targets": ["webapp"]}},
        "target": {"webapp": _target(tags=[f"docker.io/username/webapp:{tag}"])},
    }


def test_typed_list_variable_from_the_environment(tmp_path: Path) -> None:
    """bake-reference.md, Variable typing: TAGS=dev,latest,2 gives three tags."""
    write_files(
        tmp_path,
        {
            "docker-bake.hcl": """
                variable "TAGS" {
                  default = ["latest"]
                  type = list(string)
                }

                target "webapp-dev" {
                  dockerfile = "Dockerfile.webapp"
                  tags = [for tag in TAGS: "docker.io/username/webapp:${tag}"]
                }
            """
        },
    )
    image = "docker.io/username/webapp"
    default = printed(tmp_path, ["webapp-dev"])["target"]["webapp-dev"]
    assert default["tags"] == [f"{image}:latest"]
    overridden = printed(tmp_path, ["webapp-dev"], environ={"TAGS": "dev,latest,2"})
    assert overridden["target"]["webapp-dev"] == {
        "context": ".",
        "dockerfile": "Dockerfile.webapp",
        "tags": [f"{image}:dev", f"{image}:latest", f"{image}:2"],
    }
    as_json = printed(tmp_path, ["webapp-dev"], environ={"TAGS_JSON": '["a","b"]'})
    assert as_json["target"]["webapp-dev"]["tags"] == [f"{image}:a", f"{image}:b"]


def test_functions_stdlib_and_user_defined(tmp_path: Path) -> None:
    """bake-reference.md, Function: add(123, 1) and a user function `increment`."""
    write_files(
        tmp_path,
        {
            "docker-bake.hcl": """
                function "increment" {
                  params = [number]
                  result = number + 1
                }

                target "webapp-dev" {
                  dockerfile = "Dockerfile.webapp"
                  tags = ["docker.io/username/webapp:latest"]
                  args = {
                    buildno = "${add(123, 1)}"
                    next = "${increment(123)}"
                  }
                }
            """
        },
    )
    target = printed(tmp_path, ["webapp-dev"])["target"]["webapp-dev"]
    assert target["args"] == {"buildno": "124", "next": "124"}


def test_file_flag_with_targets(tmp_path: Path) -> None:
    """buildx_bake.md, --file: `-f docker-bake.dev.hcl db webapp-release`."""
    write_files(
        tmp_path,
        {
            "docker-bake.dev.hcl": """
                group "default" {
                  targets = ["db", "webapp-dev"]
                }

                target "webapp-dev" {
                  dockerfile = "Dockerfile.webapp"
                  tags = ["docker.io/username/webapp"]
                }

                target "webapp-release" {
                  inherits = ["webapp-dev"]
                  platforms = ["linux/amd64", "linux/arm64"]
                }

                target "db" {
                  dockerfile = "Dockerfile.db"
                  tags = ["docker.io/username/db"]
                }
            """
        },
    )
    data = printed(tmp_path, ["db", "webapp-release"], files=["docker-bake.dev.hcl"])
    assert data == {
        "group": {"default": {"targets": ["db", "webapp-release"]}},
        "target": {
            "db": {
                "context": ".",
                "dockerfile": "Dockerfile.db",
                "tags": ["docker.io/username/db"],
            },
            "webapp-release": {
                "context": ".",
                "dockerfile": "Dockerfile.webapp",
                "tags": ["docker.io/username/webapp"],
                "platforms": ["linux/amd64", "linux/arm64"],
            },
        },
    }
    default = printed(tmp_path, files=["docker-bake.dev.hcl"])
    assert default["group"] == {"default": {"targets": ["db", "webapp-dev"]}}
    assert sorted(default["target"]) == ["db", "webapp-dev"]


def test_compose_file(tmp_path: Path) -> None:
    """docs.docker.com/build/bake/compose-file: anchors, x-bake platforms, registry caches."""
    write_files(
        tmp_path,
        {
            "compose.yaml": """
                services:
                  webapp-dev:
                    build: &build-dev
                      dockerfile: Dockerfile.webapp
                      tags:
                        - docker.io/username/webapp:latest
                      cache_from:
                        - docker.io/username/webapp:cache
                      cache_to:
                        - docker.io/username/webapp:cache

                  webapp-release:
                    build:
                      <<: *build-dev
                      x-bake:
                        platforms:
                          - linux/amd64
                          - linux/arm64

                  db:
                    image: docker.io/username/db
                    build:
                      dockerfile: Dockerfile.db
            """
        },
    )
    cache = [{"ref": "docker.io/username/webapp:cache", "type": "registry"}]
    webapp = {
        "context": ".",
        "dockerfile": "Dockerfile.webapp",
        "tags": ["docker.io/username/webapp:latest"],
        "cache-from": cache,
        "cache-to": cache,
    }
    assert printed(tmp_path) == {
        "group": {"default": {"targets": ["db", "webapp-dev", "webapp-release"]}},
        "target": {
            "db": {
                "context": ".",
                "dockerfile": "Dockerfile.db",
                "tags": ["docker.io/username/db"],
            },
            "webapp-dev": webapp,
            "webapp-release": {**webapp, "platforms": ["linux/amd64", "linux/arm64"]},
        },
    }


def test_compose_x_bake_fields(tmp_path: Path) -> None:
    """The x-bake example of buildx's compose guide (entries printed as buildx prints them now)."""
    write_files(
        tmp_path,
        {
            "docker-compose.yml": """
                services:
                  addon:
                    image: ct-addon:bar
                    build:
                      context: .
                      dockerfile: ./Dockerfile
                      args:
                        CT_ECR: foo
                        CT_TAG: bar
                      x-bake:
                        tags:
                          - ct-addon:foo
                          - ct-addon:alp
                        platforms:
                          - linux/amd64
                          - linux/arm64
                        cache-from:
                          - user/app:cache
                          - type=local,src=path/to/cache
                        cache-to: type=local,dest=path/to/cache
                        pull: true

                  aws:
                    image: ct-fake-aws:bar
                    build:
                      dockerfile: ./aws.Dockerfile
                      args:
                        CT_ECR: foo
                        CT_TAG: bar
                      x-bake:
                        secret:
                          - id=mysecret,src=./secret
                          - id=mysecret2,src=./secret2
                        platforms: linux/arm64
                        output: type=docker
                        no-cache: true
            """
        },
    )
    assert printed(tmp_path) == {
        "group": {"default": {"targets": ["addon", "aws"]}},
        "target": {
            "addon": {
                "context": ".",
                "dockerfile": "./Dockerfile",
                "args": {"CT_ECR": "foo", "CT_TAG": "bar"},
                "tags": ["ct-addon:foo", "ct-addon:alp"],
                "cache-from": [
                    {"ref": "user/app:cache", "type": "registry"},
                    {"src": "path/to/cache", "type": "local"},
                ],
                "cache-to": [{"dest": "path/to/cache", "type": "local"}],
                "platforms": ["linux/amd64", "linux/arm64"],
                "pull": True,
            },
            "aws": {
                "context": ".",
                "dockerfile": "./aws.Dockerfile",
                "args": {"CT_ECR": "foo", "CT_TAG": "bar"},
                "tags": ["ct-fake-aws:bar"],
                "secret": [
                    {"id": "mysecret", "src": "./secret"},
                    {"id": "mysecret2", "src": "./secret2"},
                ],
                "platforms": ["linux/arm64"],
                "output": [{"type": "docker"}],
                "no-cache": True,
            },
        },
    }


def test_load_keeps_a_tar_output(tmp_path: Path) -> None:
    """buildx_bake.md, --load: a `tar` output stays as it is."""
    write_files(
        tmp_path,
        {"docker-bake.hcl": 'target "default" {\n  output = ["type=tar,dest=hi.tar"]\n}\n'},
    )
    data = printed(tmp_path, set_values=["*.load=true"])
    assert data["target"]["default"]["output"] == [{"dest": "hi.tar", "type": "tar"}]


def test_push_adds_an_image_output(tmp_path: Path) -> None:
    """buildx_bake.md, --push: no output gives `type=image,push=true`."""
    write_files(tmp_path, {"docker-bake.hcl": 'target "default" {\n  tags = ["r/app"]\n}\n'})
    data = printed(tmp_path, set_values=["*.push=true"])
    assert data["target"]["default"]["output"] == [{"push": "true", "type": "image"}]


def test_the_examples_of_docs_bake_md_resolve(tmp_path: Path) -> None:
    """Every HCL and compose example of docs/bake.md reads and resolves."""
    import re

    from tests.conftest import REPO

    text = (REPO / "docs" / "bake.md").read_text()
    hcl = re.findall(r"```hcl\n(.*?)```", text, re.S)
    compose = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if b.startswith("services:")]
    assert len(hcl) == 2 and len(compose) == 1
    first = printed(write_files(tmp_path / "one", {"docker-bake.hcl": hcl[0]}), ["default", "tool"])
    assert sorted(first["target"]) == ["api", "tool-lint", "tool-test", "web"]
    assert first["target"]["web"]["tags"] == ["registry.example.com/team/web:latest"]
    tagged = printed(tmp_path / "one", ["web"], environ={"TAG": "v2"})["target"]["web"]
    assert tagged["tags"] == [
        "registry.example.com/team/web:v2",
        "registry.example.com/team/web:latest",
    ]
    ci = printed(write_files(tmp_path / "ci", {"docker-bake.hcl": hcl[1]}), environ={"TAG": "abc"})
    assert ci["target"]["api"]["tags"] == ["registry.example.com/team/api:abc"]
    assert ci["target"]["api"]["cache-from"] == [
        {"ref": "registry.example.com/team/cache:main", "type": "registry"},
        {"ref": "registry.example.com/team/cache:api", "type": "registry"},
    ]
    from_compose = printed(write_files(tmp_path / "compose", {"compose.yaml": compose[0]}))
    assert from_compose["target"]["api"]["cache-to"] == [
        {"mode": "max", "ref": "registry.example.com/team/cache:api", "type": "registry"}
    ]
