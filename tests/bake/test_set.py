"""`--set TARGET.KEY=VALUE`: what each key does, globs, `+=`, and the usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import UsageError
from tests.bake.printing import printed, run_bake, write_files

BAKE = """
target "base" {
  args = { FROM_BASE = "1" }
  tags = ["r/base"]
}
target "foo-1" {
  inherits = ["base"]
  tags = ["r/foo-1"]
  secret = ["id=aws,src=/a"]
}
target "foo-2" {
  tags = ["r/foo-2"]
}
target "bar" {
  tags = ["r/bar"]
}
"""


@pytest.fixture
def bake_dir(tmp_path: Path) -> Path:
    return write_files(tmp_path, {"docker-bake.hcl": BAKE})


def _targets(bake_dir: Path, *sets: str, env: dict[str, str] | None = None) -> dict[str, dict]:  # type: ignore[type-arg]
    names = ["foo-1", "foo-2", "bar"]
    return printed(bake_dir, names, set_values=list(sets), environ=env)["target"]  # type: ignore[no-any-return]


def test_scalars_maps_and_globs(bake_dir: Path) -> None:
    targets = _targets(
        bake_dir,
        "foo*.args.MODE=fast",
        "*.platform=linux/arm64",
        "bar.context=sub",
        "bar.dockerfile=Other.Dockerfile",
        "bar.target=final",
        "bar.labels.team=build",
        "bar.no-cache=true",
        "foo-2.pull",
        "bar.contexts.src=../src",
        "bar.extra-hosts.db=10.0.0.2",
        "bar.shm-size=64m",
        "bar.network=none",
    )
    assert targets["foo-1"]["args"] == {"FROM_BASE": "1", "MODE": "fast"}
    assert targets["foo-2"]["args"] == {"MODE": "fast"}
    assert targets["foo-2"]["pull"] is True
    assert "args" not in targets["bar"]
    assert all(t["platforms"] == ["linux/arm64"] for t in targets.values())
    assert targets["bar"] == {
        "context": "sub",
        "contexts": {"src": "../src"},
        "dockerfile": "Other.Dockerfile",
        "labels": {"team": "build"},
        "tags": ["r/bar"],
        "target": "final",
        "platforms": ["linux/arm64"],
        "no-cache": True,
        "network": "none",
        "shm-size": "64m",
        "extra-hosts": {"db": "10.0.0.2"},
    }


def test_lists_replace_repeat_and_append(bake_dir: Path) -> None:
    targets = _targets(
        bake_dir,
        "foo-1.tags=r/one",
        "foo-1.tags=r/two",
        "foo-2.tags+=r/extra",
        "bar.cache-from=user/app:cache",
        "bar.cache-to=type=local,dest=/tmp/c",
        "bar.output=type=oci,dest=/tmp/o.tar",
        "foo-1.secret.aws=env=AWS_CREDS",
    )
    assert targets["foo-1"]["tags"] == ["r/one", "r/two"]
    assert targets["foo-2"]["tags"] == ["r/foo-2", "r/extra"]
    assert targets["bar"]["cache-from"] == [{"ref": "user/app:cache", "type": "registry"}]
    assert targets["bar"]["cache-to"] == [{"dest": "/tmp/c", "type": "local"}]
    assert targets["bar"]["output"] == [{"dest": "/tmp/o.tar", "type": "oci"}]
    assert targets["foo-1"]["secret"] == [{"id": "aws", "env": "AWS_CREDS"}]


def test_a_parents_override_reaches_the_child(bake_dir: Path) -> None:
    targets = _targets(bake_dir, "base.args.FROM_BASE=2")
    assert targets["foo-1"]["args"] == {"FROM_BASE": "2"}


def test_args_without_a_value_come_from_the_environment(bake_dir: Path) -> None:
    targets = _targets(bake_dir, "bar.args.TOKEN", "bar.args.UNSET", env={"TOKEN": "t0k"})
    assert targets["bar"]["args"] == {"TOKEN": "t0k"}


@pytest.mark.parametrize(
    "value,message",
    [
        ("nope.tags=x", "could not find any target matching 'nope'"),
        ("bar.colour=red", "unknown key 'colour'"),
        ("bar", "invalid override key"),
        ("bar.tags", "expected TARGET.KEY=VALUE"),
        ("bar.args=x", "args requires a name"),
        ("bar.target+=x", r"does not support \+="),
        ("bar.no-cache=maybe", "invalid value 'maybe' for boolean key no-cache"),
        ("bar.secret.nope=env=X", "must be declared"),
    ],
)
def test_bad_overrides_are_usage_errors(bake_dir: Path, value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _targets(bake_dir, value)


def test_cli_exit_codes(bake_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "store"
    unknown_target = run_bake(bake_dir, "--print", "--set", "nope.tags=x", root=root)
    assert unknown_target.returncode == 2
    assert "could not find any target matching 'nope'" in unknown_target.stderr
    assert "Traceback" not in unknown_target.stderr
    unknown_key = run_bake(bake_dir, "--print", "bar", "--set", "bar.colour=red", root=root)
    assert unknown_key.returncode == 2
    assert "unknown key 'colour'" in unknown_key.stderr
    missing = run_bake(bake_dir, "--print", "nothing-here", root=root)
    assert missing.returncode == 2
    assert "failed to find target nothing-here" in missing.stderr
    bad_file = run_bake(bake_dir, "--print", "-f", "absent.hcl", root=root)
    assert bad_file.returncode == 2
    assert "bake file 'absent.hcl': no such file" in bad_file.stderr
    flags = run_bake(bake_dir, "--print", "bar", "--no-cache", "--pull", "--push", root=root)
    assert flags.returncode == 0, flags.stderr
    assert '"no-cache": true' in flags.stdout
    assert '"pull": true' in flags.stdout
    assert '"push": "true"' in flags.stdout


def test_cli_var_and_bake_file_variable(tmp_path: Path) -> None:
    project = write_files(
        tmp_path / "p",
        {
            "ci.hcl": 'variable "TAG" { default = "dev" }\ntarget "app" { tags = ["app:${TAG}"] }\n',
        },
    )
    root = tmp_path / "store"
    env = {"BUILDX_BAKE_FILE": "ci.hcl", "TAG": "from-env"}
    from_env = run_bake(project, "--print", "app", root=root, env=env)
    assert from_env.returncode == 0, from_env.stderr
    assert '"app:from-env"' in from_env.stdout
    from_var = run_bake(project, "--print", "app", "--var", "TAG=v9", root=root, env=env)
    assert '"app:v9"' in from_var.stdout
    bad = run_bake(project, "--print", "app", "--var", "TAG", root=root, env=env)
    assert bad.returncode == 2 and "invalid --var 'TAG'" in bad.stderr


LIST_BAKE = """
variable "REGISTRY" {
  type = string
  default = "docker.io/username"
  description = "Registry and namespace"
}
variable "GO_VERSION" {
  default = null
}
variable "TAGS" {
  type = list(string)
  default = ["a", "b"]
}
group "default" { targets = ["binaries"] }
target "binaries" {}
target "validate" { description = "Validate the sources" }
target "_private" {}
"""


def test_list_targets_and_variables(tmp_path: Path) -> None:
    """buildx_bake.md, --list: private targets hidden, groups described by their targets."""
    import json

    project = write_files(tmp_path / "p", {"docker-bake.hcl": LIST_BAKE})
    root = tmp_path / "store"
    targets = run_bake(project, "--list", "targets", root=root)
    assert targets.returncode == 0, targets.stderr
    rows = [line.split("\t") for line in targets.stdout.splitlines()]
    assert [[c for c in row if c] for row in rows] == [
        ["TARGET", "DESCRIPTION"],
        ["binaries"],
        ["default", "binaries"],
        ["validate", "Validate the sources"],
    ]
    variables = run_bake(project, "--list", "variables", root=root)
    rows = [[c for c in line.split("\t") if c] for line in variables.stdout.splitlines()]
    assert rows == [
        ["VARIABLE", "TYPE", "VALUE", "DESCRIPTION"],
        ["GO_VERSION", "<null>"],
        ["REGISTRY", "string", "docker.io/username", "Registry and namespace"],
        ["TAGS", "list of string", '["a","b"]'],
    ]
    as_json = run_bake(project, "--list", "type=targets,format=json", root=root)
    assert json.loads(as_json.stdout)[1] == {
        "name": "default",
        "description": "binaries",
        "group": True,
    }
    bad = run_bake(project, "--list", "things", root=root)
    assert bad.returncode == 2 and "invalid list type 'things'" in bad.stderr


def test_a_missing_dockerfile_is_refused_before_building(tmp_path: Path) -> None:
    project = write_files(
        tmp_path / "p",
        {
            "compose.yaml": "services:\n  a:\n    build: ./a\n  b:\n    build: ./b\n",
            "a/.keep": "",
            "b/Containerfile": "FROM busybox\n",
        },
    )
    proc = run_bake(project, root=tmp_path / "store")
    assert proc.returncode == 2
    assert "target 'a': cannot read Dockerfile 'a/Dockerfile': no such file" in proc.stderr
    assert "#1" not in proc.stderr  # nothing started
    from builder.bake.files import find_files, load_config
    from builder.bake.requests import build_request
    from builder.bake.resolve import resolve

    config = load_config(find_files([], project), {}, project)
    target = resolve(config, ["b"], [], {}).targets["b"]
    request = build_request(target, cwd=project).request
    assert request.dockerfile == project / "b" / "Containerfile"
    assert request.dockerfile_name == "b/Containerfile"
