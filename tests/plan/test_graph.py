"""The stage graph: stage references, edges, errors, pruning and waves."""

from __future__ import annotations

from typing import Any

import pytest

from builder.dockerfile.parser import parse
from builder.errors import ParseError, PlanError
from builder.image.platform import host_platform
from builder.plan.graph import BuildPlan, plan


def make_plan(text: str, **options: Any) -> BuildPlan:
    options = {"platform": "linux/amd64", "build_platform": "linux/amd64", "environ": {}, **options}
    return plan(parse(text, path="Dockerfile"), **options)


def plan_error(text: str, **options: Any) -> PlanError:
    with pytest.raises(PlanError) as info:
        make_plan(text, **options)
    return info.value


# ---------------------------------------------------------------- base references


def test_from_a_stage_scratch_or_image() -> None:
    result = make_plan("FROM alpine:3.19 AS Base\nFROM base\nFROM scratch\nFROM BASE\n")
    kinds = [(s.base.kind, s.base.name, s.base.stage_index) for s in result.stages]
    assert kinds == [
        ("image", "alpine:3.19", None),
        ("stage", "base", 0),
        ("scratch", "scratch", None),
        ("stage", "base", 0),
    ]
    assert result.stages[3].depends_on == [0]


def test_from_a_later_stage_is_an_image_with_a_warning() -> None:
    result = make_plan("FROM final AS first\nRUN true\nFROM alpine AS final\n", target="first")
    assert result.stages[0].base.kind == "image"
    assert result.warnings == [
        "Dockerfile:1: FROM final names a stage defined later (line 3); it is used as an image"
    ]


def test_from_is_expanded_with_meta_args() -> None:
    result = make_plan("ARG IMG=debian TAG\nFROM ${IMG}:${TAG:-bookworm}\n")
    assert result.stages[0].base.name == "debian:bookworm"


def test_blank_base_name_is_an_error() -> None:
    err = plan_error("ARG BASE\nFROM ${BASE}\n")
    assert err.message == "base name (${BASE}) should not be blank"
    assert err.location is not None and err.location.line == 2


def test_meta_arg_only_visible_after_its_declaration() -> None:
    err = plan_error("FROM $LATER\nARG LATER=alpine\n")
    assert err.message == "base name ($LATER) should not be blank"


def test_bad_expansion_in_from_points_at_the_line() -> None:
    err = plan_error("ARG X\nFROM ${X:?required}\n")
    assert err.message == 'failed to process "${X:?required}": X: required'
    assert err.location is not None and err.location.line == 2


def test_stage_platform_is_expanded_and_normalized() -> None:
    result = make_plan(
        "FROM --platform=$BUILDPLATFORM golang AS b\nFROM --platform=linux/aarch64 alpine\n",
        build_platform="linux/arm64/v8",
    )
    assert [s.platform for s in result.stages] == ["linux/arm64", "linux/arm64"]
    err = plan_error("ARG P\nFROM --platform=$P alpine\n")
    assert err.message == "empty platform value from expression $P"
    err = plan_error("FROM --platform=beos/m68k alpine\n")
    assert err.message.startswith("failed to parse platform beos/m68k")


# ---------------------------------------------------------------- stage names


def test_duplicate_stage_names() -> None:
    err = plan_error("FROM alpine AS build\nFROM debian AS BUILD\n")
    assert err.message == 'duplicate stage name "build", stage names should be unique'
    assert err.hint == "first defined on line 1"
    assert err.location is not None and err.location.line == 2


@pytest.mark.parametrize("name", ["scratch", "context", "Scratch"])
def test_reserved_stage_names(name: str) -> None:
    err = plan_error(f"FROM alpine AS {name}\n")
    assert err.message == (
        f'Stage name should not use the same name as reserved stage "{name.lower()}"'
    )


def test_no_stage_at_all() -> None:
    assert plan_error("ARG A=1\n").message == "dockerfile contains no stages to build"


def test_parse_errors_pass_through() -> None:
    with pytest.raises(ParseError, match="unknown instruction: FORM"):
        make_plan("FORM alpine\n")


# ---------------------------------------------------------------- edges


def test_copy_from_name_index_and_image() -> None:
    result = make_plan(
        "FROM alpine AS a\nRUN true\n"
        "FROM alpine AS b\nRUN true\n"
        "FROM scratch\n"
        "COPY --from=A /x /x\n"
        "COPY --from=1 /y /y\n"
        "COPY --from=busybox:1.36 /bin/busybox /bin/\n"
        "COPY --from=busybox:1.36 /bin/sh /bin/\n"
    )
    final = result.stages[2]
    assert final.depends_on == [0, 1]
    assert final.images == ["busybox:1.36"]
    assert result.waves == [[0, 1], [2]]


def test_run_mount_from_makes_an_edge() -> None:
    result = make_plan(
        "FROM golang AS deps\nRUN go mod download\n"
        "FROM alpine AS tools\n"
        "FROM golang\n"
        "RUN --mount=type=cache,from=deps,source=/go/pkg/mod,target=/go/pkg/mod "
        "--mount=from=tools,target=/tools --mount=type=bind,from=node:20,target=/node "
        "--mount=type=tmpfs,target=/tmp go build\n"
    )
    assert result.stages[2].depends_on == [0, 1]
    assert result.stages[2].images == ["node:20"]
    assert result.waves == [[0, 1], [2]]


def test_copy_from_out_of_range_index() -> None:
    err = plan_error("FROM alpine\nCOPY --from=3 /a /b\n")
    assert err.message == "invalid stage index 3"
    assert err.hint == "this Dockerfile has stages 0 to 0"
    assert err.location is not None and err.location.line == 2
    assert plan_error("FROM alpine\nCOPY --from=-1 /a /b\n").message == "invalid stage index -1"


def test_copy_from_variable_is_refused() -> None:
    err = plan_error("FROM alpine\nARG SRC=builder\nCOPY --from=$SRC /a /b\n")
    assert err.message == "'from' doesn't support variable expansion, define alias stage instead"


def test_self_copy_is_a_cycle() -> None:
    err = plan_error("FROM busybox AS stage0\nCOPY --from=stage0 f1 /sub/\n")
    assert err.message == "circular dependency detected on stage: stage0"
    assert err.hint == "cycle: stage0 -> stage0"


def test_cycle_through_index_and_mount() -> None:
    err = plan_error(
        "FROM busybox\nCOPY --from=1 /a /a\nFROM busybox\nRUN --mount=from=0,target=/m true\n"
    )
    assert err.message == "circular dependency detected on stage: stage-0"
    assert err.hint == "cycle: stage-0 -> stage-1 -> stage-0"


def test_cycle_in_a_pruned_stage_still_fails_like_buildkit() -> None:
    err = plan_error(
        "FROM alpine AS loop\nCOPY --from=loop /a /a\nFROM alpine AS app\n", target="app"
    )
    assert err.message == "circular dependency detected on stage: loop"


def test_copy_from_a_later_stage() -> None:
    err = plan_error(
        "FROM alpine AS app\nCOPY --from=assets /a /a\nFROM alpine AS assets\n", target="app"
    )
    assert err.message == (
        'cannot copy from stage "assets", it needs to be defined before current stage "app"'
    )
    assert err.hint == "move stage assets (line 3) above this one"
    assert err.location is not None and err.location.line == 2


def test_mount_from_a_later_stage() -> None:
    err = plan_error(
        "FROM alpine AS app\nRUN --mount=from=1,target=/t true\nFROM alpine\n", target="app"
    )
    assert err.message == (
        'cannot mount from stage "1" to "/t", stage needs to be defined before current command'
    )


def test_later_stage_is_fine_when_pruned() -> None:
    result = make_plan(
        "FROM alpine AS app\nRUN true\nFROM alpine AS tool\nCOPY --from=late /a /a\n"
        "FROM alpine AS late\n",
        target="app",
    )
    assert [s.display_name for s in result.pruned] == ["tool", "late"]


# ---------------------------------------------------------------- target and waves


def test_target_is_case_insensitive_and_defaults_to_the_last() -> None:
    text = "FROM alpine AS one\nFROM alpine AS two\n"
    assert make_plan(text).target == 1
    assert make_plan(text, target="ONE").target == 0


def test_unknown_target() -> None:
    err = plan_error("FROM alpine AS build\nFROM alpine AS release\n", target="relase")
    assert err.message == 'target stage "relase" could not be found'
    assert err.hint == "did you mean release?"
    err = plan_error("FROM alpine AS build\n", target="zzz")
    assert err.hint == "stages: build"
    err = plan_error("FROM alpine\n", target="x")
    assert err.hint == "no stage has a name (FROM image AS name)"


def test_waves_are_topological_levels() -> None:
    result = make_plan(
        "FROM alpine AS a\n"
        "FROM a AS b\n"
        "FROM alpine AS c\n"
        "FROM alpine AS d\nCOPY --from=b / /\nCOPY --from=c / /\n"
        "FROM alpine AS unused\n"
        "FROM d AS e\nCOPY --from=a / /\n"
    )
    assert result.waves == [[0, 2], [1], [3], [5]]
    assert [s.display_name for s in result.pruned] == ["unused"]
    assert [s.needed for s in result.stages] == [True, True, True, True, False, True]


def test_single_stage_has_no_stage_prefix() -> None:
    steps = make_plan("FROM alpine\nWORKDIR /app\nRUN true\n").stages[0].steps
    assert [s.name for s in steps] == ["[1/3] FROM alpine", "[2/3] WORKDIR /app", "[3/3] RUN true"]


def test_step_numbers_are_padded_like_buildkit() -> None:
    text = "FROM alpine AS s\n" + "RUN true\n" * 10
    names = [s.name for s in make_plan(text + "FROM s\n").stages[0].steps]
    assert names[0] == "[s  1/11] FROM alpine"
    assert names[-1] == "[s 11/11] RUN true"


def test_vertices_are_numbered_across_needed_stages() -> None:
    result = make_plan("FROM alpine AS a\nRUN one\nFROM alpine AS skip\nRUN x\nFROM a\nRUN two\n")
    vertices = [(s.vertex, s.name) for st in result.stages for s in st.steps if s.vertex]
    assert vertices == [
        (1, "[a 1/2] FROM alpine"),
        (2, "[a 2/2] RUN one"),
        (3, "[stage-2 1/1] RUN two"),
    ]


def test_run_heredoc_name_summarizes_the_script() -> None:
    steps = make_plan("FROM alpine\nRUN <<EOF\napk add curl\napk add git\nEOF\n").stages[0].steps
    assert steps[1].name == "[2/2] RUN <<EOF (apk add curl...)"


# ---------------------------------------------------------------- platforms and options


def test_default_platforms_come_from_the_host() -> None:
    result = plan(parse("FROM alpine\n"), environ={})
    assert result.platform == str(host_platform())
    assert result.build_platform == str(host_platform())


def test_bad_platform_option() -> None:
    err = plan_error("FROM alpine\n", platform="linux/")
    assert err.message == "invalid platform 'linux/': \"linux/\": invalid platform specifier"
