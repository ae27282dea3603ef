"""Config-only instructions and history text, against what BuildKit wrote."""

from __future__ import annotations

import json

import pytest

from builder.dockerfile.commands import AddCommand, CopyCommand, RunCommand
from builder.dockerfile.parser import parse
from builder.errors import BuildError
from builder.image.model import ImageConfig
from builder.plan.graph import plan
from builder.solve.gofmt import go_duration, go_rune
from builder.solve.metadata import (
    CONFIG_ONLY_KINDS,
    apply_config_step,
    copy_history,
    parse_exposed,
    resolve_workdir,
    run_history,
    start_stage,
)
from tests.conftest import FIXTURES

REFERENCE = FIXTURES / "buildkit-reference"


def _replay(case: str) -> tuple[ImageConfig, list[str]]:
    path = REFERENCE / case / "Dockerfile"
    build = plan(parse(path.read_bytes(), str(path)), environ={})
    state = start_stage(ImageConfig(architecture="amd64", os="linux"))
    history = []
    for step in build.target_stage.steps[1:]:
        if step.kind in CONFIG_ONLY_KINDS:
            text = apply_config_step(state, step, f"Dockerfile:{step.line}")
            if text is not None:
                history.append(text)
        elif step.kind == "run":
            cmd = step.command
            assert isinstance(cmd, RunCommand)
            args = [*state.shell, cmd.cmd_line[0]] if cmd.prepend_shell else cmd.cmd_line
            history.append(run_history(state, step, args))
        elif step.kind in ("copy", "add"):
            assert isinstance(step.command, CopyCommand | AddCommand)
            history.append(copy_history(step.command))
        elif step.kind == "workdir":
            state.image.config.working_dir = resolve_workdir(
                state.image.config.working_dir, step.args[0]
            )
            history.append(f"WORKDIR {state.image.config.working_dir}")
    return state.image, history


def test_config_and_history_match_buildkit() -> None:
    expected = json.loads((REFERENCE / "config-all" / "buildkit.json").read_text())
    image, history = _replay("config-all")
    wanted_history = [h["created_by"] for h in expected["history"]]
    # BuildKit v0.8 predates --start-interval: the one difference, on purpose.
    wanted_history = [
        h.replace("\"0s\" '\\x02'", '"0s" "0s" \'\\x02\'') if h.startswith("HEALTHCHECK") else h
        for h in wanted_history
    ]
    assert history == wanted_history
    config = image.config.to_json()
    bk = {k: v for k, v in expected["config"].items() if v not in (None, "", False, {})}
    for key in ("Hostname", "Domainname", "Image", "AttachStdin"):
        bk.pop(key, None)
    assert config == bk
    assert image.author == expected["author"]


def test_entrypoint_resets_an_inherited_cmd_but_not_one_set_in_the_stage() -> None:
    text = b'FROM scratch\nCMD ["a"]\nENTRYPOINT ["e"]\n'
    build = plan(parse(text, "Dockerfile"), environ={})
    base = ImageConfig(architecture="amd64", os="linux")
    base.config.cmd = ["inherited"]
    state = start_stage(base)
    steps = build.target_stage.steps
    apply_config_step(state, steps[2], "Dockerfile:3")  # ENTRYPOINT only
    assert state.image.config.cmd is None
    state = start_stage(base)
    apply_config_step(state, steps[1], "Dockerfile:2")
    apply_config_step(state, steps[2], "Dockerfile:3")
    assert state.image.config.cmd == ["a"]
    assert state.image.config.entrypoint == ["e"]


def test_env_replaces_in_place_and_path_is_defaulted() -> None:
    base = ImageConfig(architecture="amd64", os="linux")
    base.config.env = ["A=1", "B=2"]
    state = start_stage(base)
    assert state.image.config.env[-1].startswith("PATH=/usr/local/sbin")  # appended, as BuildKit
    build = plan(parse(b"FROM scratch\nENV A=3 C=4\n", "Dockerfile"), environ={})
    apply_config_step(state, build.target_stage.steps[1], "Dockerfile:2")
    assert state.image.config.env == ["A=3", "B=2", state.image.config.env[2], "C=4"]


@pytest.mark.parametrize(
    ("spec", "ports"),
    [
        ("80", ["80/tcp"]),
        ("53/UDP", ["53/udp"]),
        ("8000-8002", ["8000/tcp", "8001/tcp", "8002/tcp"]),
        ("127.0.0.1:8080:80", ["80/tcp"]),
    ],
)
def test_exposed_ports(spec: str, ports: list[str]) -> None:
    assert parse_exposed(spec, "Dockerfile:1") == ports


@pytest.mark.parametrize("spec", ["http", "80/icmp", "90-80", "70000"])
def test_bad_exposed_ports_are_build_errors(spec: str) -> None:
    with pytest.raises(BuildError):
        parse_exposed(spec, "Dockerfile:1")


@pytest.mark.parametrize(
    ("current", "path", "result"),
    [
        ("", "/app", "/app"),
        ("/app", "sub", "/app/sub"),
        ("/app", "../x/./y/", "/x/y"),
        ("", "rel", "/rel"),
    ],
)
def test_workdir(current: str, path: str, result: str) -> None:
    assert resolve_workdir(current, path) == result


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (5_000_000_000, "5s"),
        (1_500_000_000, "1.5s"),
        (90_000_000_000, "1m30s"),
        (3_600_000_000_000, "1h0m0s"),
        (300_000_000, "300ms"),
        (1_500, "1.5µs"),
    ],
)
def test_go_duration(ns: int, text: str) -> None:
    assert go_duration(ns) == text


@pytest.mark.parametrize(
    ("n", "text"), [(0, "'\\x00'"), (2, "'\\x02'"), (65, "'A'"), (10, "'\\n'")]
)
def test_go_rune(n: int, text: str) -> None:
    assert go_rune(n) == text
