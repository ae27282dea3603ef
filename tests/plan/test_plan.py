"""Snapshots of the plan of each fixture Dockerfile, as text and as JSON.

The snapshots under `__snapshots__/` are a contract: read the diff when one
changes (`pytest --snapshot-update` rewrites them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from builder.dockerfile.parser import parse
from builder.errors import PlanError
from builder.plan.graph import BuildPlan, plan
from builder.plan.render import render_json, render_text

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "plan"
#: Fixed platforms so the snapshots do not depend on the machine running them.
FIXED = {"platform": "linux/amd64", "build_platform": "linux/amd64", "environ": {}}

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "go-app": (
        "go-app.Dockerfile",
        {
            "platform": "linux/arm64/v8",
            "build_args": {
                "VERSION": "1.4.2",
                "BUILD_DATE": None,
                "HTTPS_PROXY": "http://proxy:3128",
            },
            "environ": {"BUILD_DATE": "2024-05-01"},
        },
    ),
    "fan-in": ("fan-in.Dockerfile", {}),
    "meta-args": ("meta-args.Dockerfile", {"build_args": {"ALPINE_VERSION": "3.20"}}),
    "target-default": ("target.Dockerfile", {}),
    "target-test": ("target.Dockerfile", {"target": "test"}),
}


def plan_case(case: str) -> BuildPlan:
    name, options = CASES[case]
    path = FIXTURES / name
    dockerfile = parse(path.read_text(), path=f"fixtures/plan/{name}")
    return plan(dockerfile, **{**FIXED, **options})


def test_every_fixture_is_used() -> None:
    used = {name for name, _ in CASES.values()} | {"cycle.Dockerfile"}
    assert used == {p.name for p in FIXTURES.glob("*.Dockerfile")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_render_text(case: str, snapshot: SnapshotAssertion) -> None:
    assert render_text(plan_case(case)) == snapshot


@pytest.mark.parametrize("case", sorted(CASES))
def test_render_json(case: str, snapshot: SnapshotAssertion) -> None:
    text = render_json(plan_case(case))
    assert text == render_json(plan_case(case)), "JSON must be stable from run to run"
    assert json.loads(text)["path"] == f"fixtures/plan/{CASES[case][0]}"
    assert text == snapshot


def test_cycle_fixture_fails_like_buildkit() -> None:
    path = FIXTURES / "cycle.Dockerfile"
    dockerfile = parse(path.read_text(), path="fixtures/plan/cycle.Dockerfile")
    with pytest.raises(PlanError) as info:
        plan(dockerfile, **FIXED)
    assert info.value.render().splitlines() == [
        "fixtures/plan/cycle.Dockerfile:3:1: circular dependency detected on stage: one",
        "     3 | COPY --from=three /out /in",
        "       | ^",
        "hint: cycle: one -> three -> two -> one",
    ]


def test_fan_in_runs_the_four_builds_in_one_wave() -> None:
    result = plan_case("fan-in")
    assert result.waves == [[0, 1, 2, 3], [4]]
    assert result.target_stage.depends_on == [0, 1, 2, 3]
    assert result.pruned == []


def test_target_prunes_what_it_does_not_need() -> None:
    default = plan_case("target-default")
    assert [s.display_name for s in default.pruned] == ["test", "lint"]
    assert default.waves == [[0], [3]]
    test = plan_case("target-test")
    assert test.target_stage.name == "test"
    assert [s.display_name for s in test.pruned] == ["lint", "release"]
    assert test.waves == [[0], [1]]
    assert all(s.steps == [] for s in test.pruned)
