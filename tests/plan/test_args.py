"""ARG/ENV scoping and build args, checked through the steps of a plan."""

from __future__ import annotations

from typing import Any

import pytest

from builder.dockerfile.parser import parse
from builder.errors import PlanError
from builder.plan.args import (
    build_args_from_options,
    resolve_build_args,
    unused_build_args,
)
from builder.plan.graph import BuildPlan, plan
from builder.plan.model import Step


def make_plan(text: str, **options: Any) -> BuildPlan:
    options = {"platform": "linux/amd64", "build_platform": "linux/amd64", "environ": {}, **options}
    return plan(parse(text, path="Dockerfile"), **options)


def steps(text: str, stage: int = -1, **options: Any) -> list[Step]:
    return make_plan(text, **options).stages[stage].steps


def seen(step: Step) -> dict[str, str]:
    return {v.name: f"{v.source}:{v.value}" for v in step.variables}


# ---------------------------------------------------------------- meta args


def test_meta_arg_is_not_visible_in_the_stage_unless_redeclared() -> None:
    result = steps("ARG V=1\nFROM alpine\nRUN a\nARG V\nRUN b\nWORKDIR /v$V\n")
    assert seen(result[1]) == {}
    assert result[2].args == ["V=1"]
    assert seen(result[3]) == {"V": "arg:1"}
    assert result[4].args == ["/v1"]


def test_build_arg_overrides_meta_default_and_feeds_later_meta_args() -> None:
    result = make_plan("ARG VER=1\nARG IMG=alpine:${VER}\nFROM $IMG\n", build_args={"VER": "2"})
    assert result.stages[0].base.name == "alpine:2"
    assert result.global_args["IMG"] == "alpine:2"


def test_stage_arg_order_build_arg_then_default_then_global() -> None:
    text = "ARG G=global\nFROM alpine\nARG G\nARG D=default\nARG B=default\nARG NONE\nRUN x\n"
    result = steps(text, build_args={"B": "from-cli"})
    assert [s.args for s in result[1:5]] == [["G=global"], ["D=default"], ["B=from-cli"], ["NONE"]]
    assert seen(result[5]) == {"G": "arg:global", "D": "arg:default", "B": "arg:from-cli"}


def test_arg_default_is_not_expanded_when_a_build_arg_is_given() -> None:
    text = "FROM alpine\nARG X=${UNSET:?required}\n"
    assert steps(text, build_args={"X": "ok"})[1].args == ["X=ok"]
    with pytest.raises(PlanError) as info:
        make_plan(text)
    assert info.value.message == 'failed to process "${UNSET:?required}": UNSET: required'
    assert info.value.location is not None and info.value.location.line == 2


def test_arg_default_sees_earlier_args_and_env() -> None:
    result = steps("FROM alpine\nENV BASE=/opt\nARG A=x\nARG DIR=$BASE/$A\nWORKDIR $DIR\n")
    assert result[3].args == ["DIR=/opt/x"]
    assert result[4].args == ["/opt/x"]


def test_predefined_platform_args() -> None:
    text = "FROM --platform=$BUILDPLATFORM alpine\nARG TARGETPLATFORM TARGETARCH TARGETVARIANT BUILDOS\n"
    result = steps(text, platform="linux/arm/v7", build_platform="linux/amd64")
    assert result[1].args == [
        "TARGETPLATFORM=linux/arm/v7", "TARGETARCH=arm", "TARGETVARIANT=v7", "BUILDOS=linux",
    ]  # fmt: skip
    assert make_plan(text, platform="linux/arm/v7").stages[0].platform == "linux/amd64"


def test_platform_args_are_not_visible_without_declaration() -> None:
    result = steps("FROM alpine\nRUN echo $TARGETARCH\nWORKDIR /$TARGETARCH\n")
    assert seen(result[1]) == {}
    assert result[2].args == ["/"]


def test_build_arg_can_override_a_platform_arg() -> None:
    result = steps("FROM alpine\nARG TARGETARCH\n", build_args={"TARGETARCH": "riscv64"})
    assert result[1].args == ["TARGETARCH=riscv64"]


# ---------------------------------------------------------------- ENV and ARG together


def test_later_instruction_wins_between_env_and_arg() -> None:
    arg_last = steps("FROM alpine\nENV X=env\nARG X=arg\nRUN x\n")
    assert seen(arg_last[3]) == {"X": "arg:arg"}
    env_last = steps("FROM alpine\nARG X=arg\nENV X=env\nRUN x\n")
    assert seen(env_last[3]) == {"X": "env:env"}


def test_valueless_arg_does_not_hide_env() -> None:
    result = steps("FROM alpine\nENV X=env\nARG X\nRUN x\n")
    assert result[2].args == ["X"]
    assert seen(result[3]) == {"X": "env:env"}


def test_env_pairs_use_the_values_from_before_the_instruction() -> None:
    result = steps('FROM alpine\nENV A=old\nENV A=new B=$A C="${A} and more"\nRUN x\n')
    assert result[2].args == ["A=new", "B=old", "C=old and more"]
    assert seen(result[3]) == {"A": "env:new", "B": "env:old", "C": "env:old and more"}


def test_child_stage_inherits_env_and_args_of_its_base_stage() -> None:
    text = "FROM alpine AS base\nENV E=1\nARG A=2\nFROM base AS child\nRUN x\nFROM alpine\nRUN y\n"
    child = make_plan(text, target="child")
    assert seen(child.stages[1].steps[1]) == {"E": "env:1", "A": "arg:2"}
    sibling = make_plan(text)
    assert seen(sibling.stages[2].steps[1]) == {}
    assert [s.needed for s in sibling.stages] == [False, False, True]


def test_run_text_is_not_expanded() -> None:
    result = steps("FROM alpine\nARG V=1\nRUN echo $V ${V}\n")
    assert result[2].args == ["echo $V ${V}"]
    assert result[2].name == "[2/2] RUN echo $V ${V}"


# ---------------------------------------------------------------- expansion of other steps


def test_copy_words_and_flags_are_expanded() -> None:
    text = (
        "FROM alpine\nARG U=app SRC=dist MODE=0644\n"
        "COPY --chown=$U:$U --chmod=$MODE --exclude=$SRC/*.map --link ${SRC}/ /srv/$U/\n"
    )
    step = steps(text)[2]
    assert step.flags == ["--chown=app:app", "--chmod=0644", "--link", "--exclude=dist/*.map"]
    assert step.args == ["dist/", "/srv/app/"]
    assert (
        step.name
        == "[2/2] COPY --chown=app:app --chmod=0644 --link --exclude=dist/*.map dist/ /srv/app/"
    )


def test_label_user_volume_expose_stopsignal_are_expanded() -> None:
    text = (
        "FROM alpine\nARG N=web P=8080 SIG=SIGTERM\n"
        'LABEL "name.$N"="$N server"\nUSER $N\nVOLUME /data/$N\nEXPOSE $P "1$P/udp"\n'
        "STOPSIGNAL $SIG\nCMD echo $N\n"
    )
    result = steps(text)
    assert [s.args for s in result[2:7]] == [
        ["name.web=web server"], ["web"], ["/data/web"], ["8080", "18080/udp"], ["SIGTERM"],
    ]  # fmt: skip
    assert result[7].args == ["echo $N"]


def test_mount_values_are_expanded_and_checked() -> None:
    text = "FROM alpine\nARG CACHE=/root/.cache KIND=cache\nRUN --mount=type=$KIND,target=$CACHE true\n"
    assert steps(text)[2].flags == ["--mount=type=cache,target=/root/.cache"]
    with pytest.raises(PlanError) as info:
        make_plan(text, build_args={"KIND": "volume"})
    assert info.value.message == 'unsupported mount type "volume"'
    assert info.value.location is not None and info.value.location.line == 3


def test_mount_value_with_comma_is_quoted_back() -> None:
    text = 'FROM alpine\nARG T="/a,b"\nRUN --mount=type=cache,target=$T true\n'
    assert steps(text)[2].flags == ['--mount=type=cache,"target=/a,b"']


def test_expansion_error_in_a_step_has_its_location() -> None:
    with pytest.raises(PlanError) as info:
        make_plan("FROM alpine\n\nWORKDIR ${DIR:?no workdir}\n", target=None)
    assert info.value.message == 'failed to process "${DIR:?no workdir}": DIR: no workdir'
    assert str(info.value.location) == "Dockerfile:3:1"


def test_pruned_stages_are_not_expanded() -> None:
    result = make_plan("FROM alpine AS broken\nWORKDIR ${X:?}\nFROM alpine\n")
    assert result.stages[0].steps == []


# ---------------------------------------------------------------- build args


def test_build_args_from_options_and_environment() -> None:
    options = build_args_from_options(["A=1", "B", "C=", "D=x=y", "MISSING"])
    assert options == {"A": "1", "B": None, "C": "", "D": "x=y", "MISSING": None}
    resolved = resolve_build_args(options, {"B": "from-env"})
    assert resolved == {"A": "1", "B": "from-env", "C": "", "D": "x=y"}


def test_bare_build_arg_reads_the_environ_option() -> None:
    result = steps("FROM alpine\nARG TOKEN\n", build_args={"TOKEN": None}, environ={"TOKEN": "t0k"})
    assert result[1].args == ["TOKEN=t0k"]


def test_unused_build_args_warning() -> None:
    text = (
        "ARG USED_IN_FROM=alpine\nFROM $USED_IN_FROM AS a\nARG USED\nFROM alpine AS b\nARG PRUNED\n"
    )
    result = make_plan(
        text,
        target="a",
        build_args={
            "USED": "1", "USED_IN_FROM": "alpine", "PRUNED": "1", "EXTRA": "1", "ANOTHER": "2",
            "TARGETARCH": "amd64", "http_proxy": "http://p", "NO_PROXY": "localhost",
        },
    )  # fmt: skip
    assert result.warnings == ["One or more build-args [ANOTHER EXTRA PRUNED] were not consumed"]
    assert unused_build_args({"A": "1"}, ["A"]) == []


def test_proxy_args_reach_run_without_declaration() -> None:
    result = steps(
        "FROM alpine\nRUN apk add curl\nWORKDIR /$HTTP_PROXY\nARG no_proxy\nRUN x\n",
        build_args={"HTTP_PROXY": "http://proxy:3128", "no_proxy": "localhost"},
    )
    assert seen(result[1]) == {
        "HTTP_PROXY": "proxy:http://proxy:3128", "no_proxy": "proxy:localhost",
    }  # fmt: skip
    assert result[2].args == ["/"], "proxy args are not ARGs: no expansion without ARG"
    assert seen(result[4]) == {"no_proxy": "arg:localhost", "HTTP_PROXY": "proxy:http://proxy:3128"}
