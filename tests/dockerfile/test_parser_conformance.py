"""BuildKit's own parser test files: our dump must equal theirs byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.dockerfile.dump import dump_buildkit
from builder.dockerfile.parser import parse
from builder.errors import ParseError
from tests.conftest import CONFORMANCE

PARSER = CONFORMANCE / "buildkit" / "parser"


def _cases(folder: str) -> list[Path]:
    root = PARSER / folder
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def test_conformance_data_is_present() -> None:
    assert len(_cases("testfiles")) >= 30, f"BuildKit parser cases missing under {PARSER}"
    assert len(_cases("testfiles-negative")) >= 4


@pytest.mark.parametrize("case", _cases("testfiles"), ids=lambda p: p.name)
def test_dump_matches_buildkit(case: Path) -> None:
    dockerfile = parse((case / "Dockerfile").read_bytes(), path=str(case / "Dockerfile"))
    assert dump_buildkit(dockerfile) == (case / "result").read_text(encoding="utf-8")


@pytest.mark.parametrize("case", _cases("testfiles-negative"), ids=lambda p: p.name)
def test_negative_case_is_rejected(case: Path) -> None:
    with pytest.raises(ParseError) as info:
        parse((case / "Dockerfile").read_bytes(), path="Dockerfile")
    rendered = info.value.render()
    assert rendered.startswith("Dockerfile:")
    assert "Traceback" not in rendered
