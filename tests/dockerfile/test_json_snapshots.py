"""`pybuild parse --format json` of every fixture Dockerfile is a contract: snapshot it."""

from __future__ import annotations

from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from builder.dockerfile.dump import dump_buildkit, to_json
from builder.dockerfile.parser import parse
from tests.conftest import FIXTURES

CASES = sorted([*(FIXTURES / "parse").glob("*.Dockerfile"), FIXTURES / "sshd" / "Dockerfile"])


def test_fixtures_exist() -> None:
    assert len(CASES) >= 6


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.parent.name + "/" + p.name)
def test_json(path: Path, snapshot: SnapshotAssertion) -> None:
    dockerfile = parse(path.read_bytes(), path=path.name)
    assert to_json(dockerfile) == snapshot(name="json")
    assert dump_buildkit(dockerfile) == snapshot(name="buildkit")
