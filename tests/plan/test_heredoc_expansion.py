"""Heredoc bodies expand once, in the plan, against the step's ARG/ENV state (BuildKit's rules).

COPY/ADD bodies with an unquoted delimiter expand every `${...}` form with
the ARG and ENV values of their point in the stage, quotes kept as written;
a quoted delimiter leaves the body alone. RUN bodies are the shell's: the
plan keeps them as written and hands the values over as the environment.
"""

from __future__ import annotations

from typing import Any

import pytest

from builder.dockerfile.commands import AddCommand, CopyCommand, RunCommand
from builder.dockerfile.parser import parse
from builder.errors import PlanError
from builder.plan.graph import plan
from builder.plan.model import Step

ISSUE_DOCKERFILE = """\
FROM scratch
ARG A=fromarg
ENV B=fromenv
COPY <<EOF /x
a=$A b=$B c=${A:-dflt}
EOF
"""


def _steps(text: str, **options: Any) -> list[Step]:
    options = {"platform": "linux/amd64", "build_platform": "linux/amd64", "environ": {}, **options}
    return plan(parse(text, path="Dockerfile"), **options).target_stage.steps


def _body(text: str, kind: type = CopyCommand, **options: Any) -> str:
    [cmd] = [s.command for s in _steps(text, **options) if isinstance(s.command, kind)]
    assert isinstance(cmd, CopyCommand | AddCommand | RunCommand)
    return cmd.heredocs[0].content


def test_the_issue_example_sees_arg_and_env() -> None:
    assert _body(ISSUE_DOCKERFILE) == "a=fromarg b=fromenv c=fromarg\n"


def test_a_build_arg_overrides_the_default() -> None:
    assert _body(ISSUE_DOCKERFILE, build_args={"A": "cli"}) == "a=cli b=fromenv c=cli\n"


@pytest.mark.parametrize("delimiter", ['"EOF"', "'EOF'"])
def test_a_quoted_delimiter_leaves_the_body_as_written(delimiter: str) -> None:
    text = ISSUE_DOCKERFILE.replace("<<EOF", f"<<{delimiter}")
    assert _body(text) == "a=$A b=$B c=${A:-dflt}\n"


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("$A", "fromarg"),
        ("${A}", "fromarg"),
        ("${U}", ""),
        ("${A:-x}", "fromarg"),
        ("${U:-x}", "x"),
        ("${E:-x}", "x"),
        ("${E-x}", ""),
        ("${U-x}", "x"),
        ("${A:+y}", "y"),
        ("${U:+y}", ""),
        ("${E+y}", "y"),
        ("${A#from}", "arg"),
        ("${A##f*r}", "g"),
        ("${A%arg}", "from"),
        ("${A%%r*}", "f"),
        ("${A/r/R}", "fRomarg"),
        ("${A//r/R}", "fRomaRg"),
        ("${B}-${A}", "fromenv-fromarg"),
        ("${A:-$B}", "fromarg"),
        ("${U:-$B}", "fromenv"),
        ('"$A"', '"fromarg"'),  # quotes are kept, as written
        ("'$A'", "'fromarg'"),  # single quotes do not protect in a heredoc body
        ("\\$A", "$A"),  # an escaped dollar is literal
        ("$", "$"),
        ("cost: 5$", "cost: 5$"),
    ],
)
def test_every_expansion_form_in_a_copy_heredoc(form: str, expected: str) -> None:
    text = f"FROM scratch\nARG A=fromarg\nARG E=\nENV B=fromenv\nCOPY <<EOF /x\n{form}\nEOF\n"
    assert _body(text) == expected + "\n"


def test_add_heredocs_expand_the_same_way() -> None:
    text = ISSUE_DOCKERFILE.replace("COPY", "ADD")
    assert _body(text, AddCommand) == "a=fromarg b=fromenv c=fromarg\n"


def test_only_what_is_declared_before_the_copy_is_seen() -> None:
    text = "FROM scratch\nCOPY <<EOF /x\n[$A]\nEOF\nARG A=late\n"
    assert _body(text) == "[]\n"


def test_chomped_bodies_lose_their_leading_tabs_then_expand() -> None:
    text = "FROM scratch\nARG A=v\nCOPY <<-EOF /x\n\t\tone $A\n\ttwo\nEOF\n"
    assert _body(text) == "one v\ntwo\n"


def test_several_heredocs_in_one_copy_each_expand_or_not() -> None:
    text = "FROM scratch\nARG A=v\nCOPY <<ONE <<'TWO' /d/\n1 $A\nONE\n2 $A\nTWO\n"
    [step] = [s for s in _steps(text) if s.kind == "copy"]
    assert isinstance(step.command, CopyCommand)
    assert [h.content for h in step.command.heredocs] == ["1 v\n", "2 $A\n"]


def test_global_args_are_seen_only_when_redeclared() -> None:
    text = "ARG G=global\nFROM scratch\nCOPY <<EOF /x\n[$G]\nEOF\n"
    assert _body(text) == "[]\n"
    text = "ARG G=global\nFROM scratch\nARG G\nCOPY <<EOF /x\n[$G]\nEOF\n"
    assert _body(text) == "[global]\n"


def test_a_bad_expansion_in_a_body_is_a_plan_error_at_its_line() -> None:
    with pytest.raises(PlanError) as info:
        _steps("FROM scratch\nARG A=v\nCOPY <<EOF /x\n${A\nEOF\n")
    assert info.value.location is not None and info.value.location.line == 3


def test_run_heredocs_stay_the_shells_and_see_args_in_their_environment() -> None:
    text = "FROM scratch\nARG A=fromarg\nENV B=fromenv\nRUN <<EOF\necho $A ${B:-x}\nEOF\n"
    [step] = [s for s in _steps(text, build_args={"A": "cli"}) if s.kind == "run"]
    assert _body(text, RunCommand) == "echo $A ${B:-x}\n"
    assert {v.name: v.value for v in step.variables} == {"A": "cli", "B": "fromenv"}


def test_copy_paths_and_flags_are_typed_and_expanded() -> None:
    text = (
        "FROM scratch\nARG D=/dst U=1000 M=640 X=*.tmp\n"
        "COPY --chown=$U:$U --chmod=$M --exclude=$X src/ ${D}/\n"
    )
    [step] = [s for s in _steps(text) if s.kind == "copy"]
    cmd = step.command
    assert isinstance(cmd, CopyCommand)
    assert (cmd.sources, cmd.dest, cmd.chown, cmd.chmod, cmd.excludes) == (
        ["src/"], "/dst/", "1000:1000", "640", ["*.tmp"]
    )  # fmt: skip
    assert step.flags == ["--chown=1000:1000", "--chmod=640", "--exclude=*.tmp"]


def test_run_mounts_are_typed_and_expanded() -> None:
    text = "FROM scratch\nARG T=/cache ID=pip\nRUN --mount=type=cache,target=$T,id=$ID true\n"
    [step] = [s for s in _steps(text) if s.kind == "run"]
    cmd = step.command
    assert isinstance(cmd, RunCommand)
    mount = cmd.mounts[0]
    assert (mount.type, mount.target, mount.id) == ("cache", "/cache", "pip")
    assert step.flags == ["--mount=type=cache,target=/cache,id=pip"]
