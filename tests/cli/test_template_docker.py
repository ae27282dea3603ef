"""pybuild's templates against outputs recorded from Docker 20.10 (no Docker needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builder.cli.template import HISTORY_HEADERS, IMAGE_HEADERS, format_rows, render_inspect

CASES: dict[str, Any] = json.loads(
    (Path(__file__).parent / "docker_template_cases.json").read_text()
)
#: `{{.Metadata}}` prints a Go time struct: not reproduced.
SKIP = {"{{.Metadata}}"}


@pytest.mark.parametrize("case", CASES["inspect_cases"], ids=lambda c: c["template"])
def test_inspect_template_matches_docker(case: dict[str, Any]) -> None:
    if case["template"] in SKIP:
        pytest.skip("Go struct printing")
    assert render_inspect(case["template"], CASES["inspect"]) + "\n" == case["stdout"]


def _same_table(got: str, want: str) -> None:
    """Docker's row order is its sort; compare the header and the set of rows."""
    got_lines, want_lines = got.splitlines(), want.splitlines()
    assert got_lines[0] == want_lines[0]
    assert sorted(got_lines[1:]) == sorted(want_lines[1:])


@pytest.mark.parametrize("case", CASES["images"], ids=lambda c: c["template"])
def test_images_format_matches_docker(case: dict[str, Any]) -> None:
    got = format_rows(case["template"], CASES["images_rows"], IMAGE_HEADERS)
    if case["template"].startswith("table"):
        _same_table(got, case["stdout"])
    else:
        assert sorted(got.splitlines()) == sorted(case["stdout"].splitlines())


@pytest.mark.parametrize("case", CASES["history"], ids=lambda c: c["template"])
def test_history_format_matches_docker(case: dict[str, Any]) -> None:
    assert format_rows(case["template"], CASES["history_rows"], HISTORY_HEADERS) == case["stdout"]
