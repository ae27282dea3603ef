"""BuildKit's own parser test files: our dump must equal theirs byte for byte.

The files are read from $PYBUILD_CONFORMANCE_DIR/buildkit/parser (tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.dockerfile.dump import dump_buildkit
from builder.dockerfile.parser import parse
from builder.errors import ParseError
from tests.conftest import conformance_dir, missing_conformance

PARSER = Path("buildkit") / "parser"


def _cases(folder: str, root: Path | None) -> list[Path]:
    cases = root / PARSER / folder if root is not None else None
    return sorted(p for p in cases.iterdir() if p.is_dir()) if cases and cases.is_dir() else []


def _params(folder: str) -> list[object]:
    root = conformance_dir()
    if root is None:
        return missing_conformance(None)
    return [pytest.param(p, id=p.name) for p in _cases(folder, root)]


def test_conformance_data_is_present(conformance: Path) -> None:
    where = conformance / PARSER
    assert len(_cases("testfiles", conformance)) >= 30, (
        f"BuildKit parser cases missing under {where}"
    )
    assert len(_cases("testfiles-negative", conformance)) >= 4


@pytest.mark.usefixtures("conformance")
@pytest.mark.parametrize("case", _params("testfiles"))
def test_dump_matches_buildkit(case: Path) -> None:
    dockerfile = parse((case / "Dockerfile").read_bytes(), path=str(case / "Dockerfile"))
    assert dump_buildkit(dockerfile) == (case / "result").read_text(encoding="utf-8")


@pytest.mark.usefixtures("conformance")
@pytest.mark.parametrize("case", _params("testfiles-negative"))
def test_negative_case_is_rejected(case: Path) -> None:
    with pytest.raises(ParseError) as info:
        parse((case / "Dockerfile").read_bytes(), path="Dockerfile")
    rendered = info.value.render()
    assert rendered.startswith("Dockerfile:")
    assert "Traceback" not in rendered
