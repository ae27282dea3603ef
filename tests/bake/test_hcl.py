"""HCL and JSON bake files: variables, expressions, functions, and the errors they give."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import BakeFileError, UsageError
from tests.bake.printing import printed, write_files


def _one(tmp_path: Path, hcl: str, target: str = "t", **kw: object) -> dict[str, object]:
    write_files(tmp_path, {"docker-bake.hcl": hcl})
    return printed(tmp_path, [target], **kw)["target"][target]  # type: ignore[arg-type,no-any-return]


def test_expressions_and_types(tmp_path: Path) -> None:
    target = _one(
        tmp_path,
        """
        variable "TAG" { default = "v1" }
        variable "DEBUG" { default = false }
        variable "BASE" { default = "reg.example/${TAG}" }
        target "t" {
          args = {
            SUM = 1 + 2 * 3
            TEXT = "${TAG}-${1 + 1}"
            ALONE = "${2}"
            COND = DEBUG ? "yes" : "no"
            NOT = !DEBUG
            UP = upper(TAG)
            JOINED = join(",", ["a", "b"])
            LITERAL = "$${TAG}"
            ESCAPES = "a\\tb\\"c\\""
            BASE = BASE
            NESTED = "${lower("X${TAG}")}"
            IDX = ["x", "y"][1]
            ATTR = {a = {b = "deep"}}.a.b
            FMT = format("%s-%03d", "n", 7)
            EQ = equal(TAG, "v1") && notequal(TAG, "v2")
            OR = or(false, true)
          }
          tags = [for t in ["a", "", "b"]: "r/${t}" if t != ""]
          platforms = notequal("", TAG) ? ["linux/amd64"] : []
          no-cache = DEBUG
          dockerfile-inline = <<EOT
        FROM busybox
        RUN echo ${TAG}
        EOT
        }
        """,
    )
    assert target["args"] == {
        "SUM": "7", "TEXT": "v1-2", "ALONE": "2", "COND": "no", "NOT": "true", "UP": "V1",
        "JOINED": "a,b", "LITERAL": "$${TAG}", "ESCAPES": 'a\tb"c"', "BASE": "reg.example/v1",
        "NESTED": "xv1", "IDX": "y", "ATTR": "deep", "FMT": "n-007", "EQ": "true", "OR": "true",
    }  # fmt: skip
    assert target["tags"] == ["r/a", "r/b"]
    assert target["platforms"] == ["linux/amd64"]
    assert target["no-cache"] is False
    assert target["dockerfile-inline"] == "FROM busybox\nRUN echo v1\n"


def test_environment_overrides_convert_to_the_default_type(tmp_path: Path) -> None:
    hcl = """
        variable "DEBUG" { default = false }
        variable "COUNT" { default = 1 }
        variable "NAME" {}
        FIXED = "top"
        target "t" {
          args = {
            D = DEBUG ? "on" : "off"
            C = COUNT + 1
            N = NAME
            F = FIXED
          }
        }
    """
    env = {"DEBUG": "true", "COUNT": "41", "NAME": "x", "FIXED": "ignored"}
    assert _one(tmp_path, hcl, environ=env)["args"] == {"D": "on", "C": "42", "N": "x", "F": "top"}
    assert _one(tmp_path, hcl)["args"] == {"D": "off", "C": "2", "N": "", "F": "top"}
    with pytest.raises(BakeFileError, match="COUNT"):
        _one(tmp_path, hcl, environ={"COUNT": "many"})


def test_json_strings_are_templates(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "docker-bake.json": """
                {
                  "variable": {"V": {"default": "2"}},
                  "target": {
                    "t": {
                      "args": {"A": "${add(V, 1)}", "B": "x-${V}", "C": "$${V}"},
                      "no-cache": true
                    }
                  }
                }
            """
        },
    )
    target = printed(tmp_path, ["t"])["target"]["t"]
    assert target["args"] == {"A": "3", "B": "x-2", "C": "$${V}"}
    assert target["no-cache"] is True


def test_files_share_variables_and_merge_blocks(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "docker-bake.json": '{"variable": {"REGISTRY": {"default": "reg.example"}}}',
            "docker-bake.hcl": """
                target "t" {
                  tags = ["${REGISTRY}/app"]
                  args = { A = "1" }
                }
            """,
            "docker-bake.override.hcl": """
                target "t" {
                  args = { B = "2" }
                  target = "final"
                }
            """,
        },
    )
    target = printed(tmp_path, ["t"])["target"]["t"]
    assert target["tags"] == ["reg.example/app"]
    assert target["args"] == {"A": "1", "B": "2"}
    assert target["target"] == "final"


def test_inherits_chain_and_order(tmp_path: Path) -> None:
    target = _one(
        tmp_path,
        """
        target "root" {
          args = { LEVEL = "root", ROOT = "1" }
          tags = ["root"]
          cache-from = ["type=local,src=a"]
        }
        target "middle" {
          inherits = ["root"]
          args = { LEVEL = "middle" }
          cache-from = ["type=local,src=b"]
        }
        target "t" {
          inherits = ["middle"]
          tags = ["leaf"]
        }
        """,
    )
    assert target["args"] == {"LEVEL": "middle", "ROOT": "1"}
    assert target["tags"] == ["leaf"]
    assert target["cache-from"] == [
        {"src": "a", "type": "local"},
        {"src": "b", "type": "local"},
    ]


def test_entries_as_objects_and_strings(tmp_path: Path) -> None:
    target = _one(
        tmp_path,
        """
        target "t" {
          cache-to = [{ type = "registry", ref = "r/cache", mode = "max" }]
          secret = [{ type = "env", id = "KUBECONFIG" }, "id=aws,src=/root/.aws/credentials"]
          ssh = [{ id = "default" }, "key=/k1,/k2"]
          output = "/tmp/out"
          extra-hosts = { my_hostname = "8.8.8.8" }
        }
        """,
    )
    assert target["cache-to"] == [{"mode": "max", "ref": "r/cache", "type": "registry"}]
    assert target["secret"] == [
        {"id": "KUBECONFIG"},
        {"id": "aws", "src": "/root/.aws/credentials"},
    ]
    assert target["ssh"] == [{"id": "default"}, {"id": "key", "paths": ["/k1", "/k2"]}]
    assert target["output"] == [{"dest": "/tmp/out", "type": "local"}]
    assert target["extra-hosts"] == {"my_hostname": "8.8.8.8"}


def test_network_host_adds_its_entitlement(tmp_path: Path) -> None:
    target = _one(tmp_path, 'target "t" {\n  network = "host"\n}\n')
    assert target["network"] == "host"
    assert target["entitlements"] == ["network.host"]


def test_glob_names_and_nested_groups(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "docker-bake.hcl": """
                group "all" { targets = ["front", "back"] }
                group "back" { targets = ["api", "worker"] }
                target "front" {}
                target "api" {}
                target "worker" {}
                target "app-1" {}
                target "app-2" {}
            """
        },
    )
    data = printed(tmp_path, ["all"])
    assert sorted(data["target"]) == ["api", "front", "worker"]
    assert data["group"]["all"] == {"targets": ["front", "back"]}
    assert data["group"]["back"] == {"targets": ["api", "worker"]}
    assert sorted(printed(tmp_path, ["app-*"])["target"]) == ["app-1", "app-2"]


@pytest.mark.parametrize(
    "hcl,message,line",
    [
        ('target "t" {\n  tags = ["${NOPE}"]\n}\n', "There is no variable named 'NOPE'", 2),
        ('variable "A" { default = B }\nvariable "B" { default = A }\n'
         'target "t" {\n  tags = [A]\n}\n', "variable cycle", 1),
        ('target "t" {\n  colour = "red"\n}\n', "Unsupported argument 'colour'", 2),
        ('target "t" {\n  tags = [nope(1)]\n}\n', "no function named 'nope'", 2),
        ('target "t" {\n  name = "x"\n}\n', "name requires matrix", 2),
        ('target "bad name" {}\n', "invalid target name", 1),
        ('target "t" {\n  tags = ["%{ if true }x%{ endif }"]\n}\n', "template directives", 2),
        ('target "t" {\n  tags = [\n}\n', "invalid HCL", 3),
        ('thing "t" {}\n', "Unsupported block type", 1),
    ],
)  # fmt: skip
def test_errors_name_the_file_and_line(tmp_path: Path, hcl: str, message: str, line: int) -> None:
    write_files(tmp_path, {"docker-bake.hcl": hcl})
    with pytest.raises(BakeFileError) as caught:
        printed(tmp_path, ["t"])
    assert message in caught.value.message
    assert caught.value.location is not None
    assert caught.value.location.path == "docker-bake.hcl"
    assert caught.value.location.line == line


def test_unknown_target_is_a_usage_error(tmp_path: Path) -> None:
    write_files(tmp_path, {"docker-bake.hcl": 'target "t" {}\n'})
    with pytest.raises(UsageError, match="failed to find target nope"):
        printed(tmp_path, ["nope"])
    with pytest.raises(UsageError, match="could not find any target matching"):
        printed(tmp_path, ["no-*"])


def test_builtin_variables(tmp_path: Path) -> None:
    from builder.image.platform import host_platform

    target = _one(tmp_path, 'target "t" {\n  platforms = [BAKE_LOCAL_PLATFORM]\n}\n')
    assert target["platforms"] == [str(host_platform())]


def test_attributes_across_files_and_target_references(tmp_path: Path) -> None:
    """A top-level attribute in one file sets the variable of another; `target.NAME.ATTR`."""
    write_files(
        tmp_path,
        {
            "c1.hcl": """
                variable "FOO" {
                  default = "abc"
                }
                target "app" {
                  dockerfile = "app.Dockerfile"
                  args = { v1 = "pre-${FOO}" }
                }
                target "other" {
                  dockerfile = target.app.dockerfile
                  tags = ["x-${target.app.args.v1}"]
                }
            """,
            "c2.hcl": 'FOO = "def"\n',
        },
    )
    files = ["c1.hcl", "c2.hcl"]
    data = printed(tmp_path, ["app", "other"], files=files)["target"]
    assert data["app"]["args"] == {"v1": "pre-def"}
    assert data["other"]["dockerfile"] == "app.Dockerfile"
    assert data["other"]["tags"] == ["x-pre-def"]
    overridden = printed(tmp_path, ["app"], files=files, environ={"FOO": "ghi"})["target"]
    assert overridden["app"]["args"] == {"v1": "pre-ghi"}


def test_matrix_names_must_differ(tmp_path: Path) -> None:
    hcl = 'target "t" {\n  matrix = { v = ["a", "b"] }\n  name = "same"\n}\n'
    write_files(tmp_path, {"docker-bake.hcl": hcl})
    with pytest.raises(BakeFileError, match="gives the name 'same' twice"):
        printed(tmp_path, ["t"])


def test_json_functions_and_attributes(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "docker-bake.json": """
                {
                  "FOO": "abc",
                  "function": {"wrap": {"params": ["inp"], "result": "<${upper(inp)}-${FOO}>"}},
                  "target": {"app": {"args": {"v1": "pre-${wrap(\\"foo\\")}"}}}
                }
            """
        },
    )
    assert printed(tmp_path, ["app"])["target"]["app"]["args"] == {"v1": "pre-<FOO-abc>"}


def test_typed_and_null_variables(tmp_path: Path) -> None:
    hcl = """
        variable "TYPED" { type = list(string) }
        variable "NULL" { default = null }
        variable "EMPTY" {}
        target "t" {
          args = {
            typed_is_null = equal(TYPED, null)
            empty_is_empty = equal(EMPTY, "")
            null = NULL
          }
        }
    """
    assert _one(tmp_path, hcl)["args"] == {"typed_is_null": "true", "empty_is_empty": "true"}
    with_env = _one(tmp_path, hcl, environ={"NULL": "bar", "TYPED": "a,b"})
    assert with_env["args"] == {"typed_is_null": "false", "empty_is_empty": "true", "null": "bar"}


def test_group_and_target_of_the_same_name(tmp_path: Path) -> None:
    hcl = 'group "foo" {\n  targets = ["foo"]\n}\ntarget "foo" {\n  target = "x"\n}\n'
    write_files(tmp_path, {"docker-bake.hcl": hcl})
    data = printed(tmp_path, ["foo"])
    assert data["group"] == {"default": {"targets": ["foo"]}, "foo": {"targets": ["foo"]}}
    assert data["target"]["foo"]["target"] == "x"


def test_deep_nesting_is_an_error_not_a_crash(tmp_path: Path) -> None:
    deep = "(" * 3000 + "1" + ")" * 3000
    write_files(tmp_path, {"docker-bake.hcl": f'target "t" {{\n  args = {{ A = {deep} }}\n}}\n'})
    with pytest.raises(BakeFileError):
        printed(tmp_path, ["t"])


def test_secret_and_ssh_entries_are_one_per_id(tmp_path: Path) -> None:
    target = _one(
        tmp_path,
        """
        target "base" {
          secret = ["id=aws,src=/base", "id=npm,env=NPM"]
          ssh = ["default"]
        }
        target "t" {
          inherits = ["base"]
          secret = ["id=aws,src=/child"]
          ssh = ["default=/key"]
        }
        """,
    )
    assert target["secret"] == [{"id": "aws", "src": "/child"}, {"id": "npm", "env": "NPM"}]
    assert target["ssh"] == [{"id": "default", "paths": ["/key"]}]
