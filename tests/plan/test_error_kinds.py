"""Which PlanError a plan raises: ArgValueError when ARG values decide, StageGraphError
when stages do not fit together, and none of them by exhausting the stack."""

from __future__ import annotations

import pytest

from builder.dockerfile.parser import parse
from builder.errors import ArgValueError, PlanError, StageGraphError
from builder.plan.graph import plan


def _plan(text: str) -> None:
    plan(parse(text), build_args={}, environ={})


@pytest.mark.parametrize(
    "text",
    [
        "ARG IMAGE\nFROM $IMAGE\n",
        "FROM busybox\nENV X=${UNSET:?}\n",
        "ARG P\nFROM --platform=$P busybox\n",
    ],
)
def test_arg_values_decide(text: str) -> None:
    with pytest.raises(ArgValueError):
        _plan(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM busybox\nENV X=${a\n", 'failed to process "\\$\\{a"'),
        ('FROM ""\n', "should not be blank"),
        ("FROM --platform=linux/nope/x/y busybox\n", "failed to parse platform"),
        ("FROM busybox\nEXPOSE 80/xtp\n", "invalid proto: xtp"),
        ("FROM busybox\nEXPOSE 1-x\n", "invalid containerPort: 1-x"),
    ],
)
def test_the_file_decides(text: str, message: str) -> None:
    with pytest.raises(PlanError, match=message) as caught:
        _plan(text)
    assert not isinstance(caught.value, ArgValueError | StageGraphError)


@pytest.mark.parametrize(
    "text",
    [
        "FROM busybox AS a\nFROM busybox AS a\n",
        "FROM busybox AS scratch\n",
        "FROM busybox AS a\nCOPY --from=b / /\nFROM busybox AS b\nFROM busybox\nCOPY --from=a / /\n",
    ],
)
def test_stages_do_not_fit(text: str) -> None:
    with pytest.raises(StageGraphError):
        _plan(text)


def test_a_cycle_through_thousands_of_stages_is_found_without_recursion() -> None:
    n = 3000
    text = "".join(f"FROM busybox AS s{i}\nCOPY --from=s{(i + 1) % n} / /\n" for i in range(n))
    with pytest.raises(StageGraphError, match="circular dependency detected on stage: s0"):
        _plan(text)


def test_expansion_nested_past_the_limit_is_an_error() -> None:
    word = "${a:+" * 101 + "x" + "}" * 101
    with pytest.raises(PlanError, match="nested more than 100 levels deep"):
        _plan(f"FROM busybox\nENV a=1\nENV X={word}\n")
    inner = "${a:+" * 100 + "x" + "}" * 100
    _plan(f"FROM busybox\nENV a=1\nENV X={inner}\n")
