"""Differential test: our parser against BuildKit's Go parser.

The `dockerfile` package on PyPI wraps BuildKit's parser (Go, via cgo). Every
Dockerfile in the corpus must give the same instructions, flags, values,
line spans and heredocs, or fail in both. The corpus: the conformance files
($PYBUILD_CONFORMANCE_DIR, see tests/conftest.py), our fixtures, and the real-world Dockerfiles that Debian ships with Docker's
and openshift/imagebuilder's sources (installed by tests/install-deps.sh).

Three differences are known and checked for precisely, not waved through:
- the wrapped BuildKit is older and reads a JSON array with trailing text
  (`CMD ["a"]x`) as exec form; current BuildKit (and pybuild) rejects that
  JSON and keeps the shell form;
- the wrapper does not report heredocs of `ONBUILD RUN <<EOF`;
- the wrapper passes strings through C, so a NUL cuts a string short.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dockerfile as buildkit
import pytest

from builder.dockerfile.dump import instruction_to_dict
from builder.dockerfile.parser import parse
from builder.errors import ParseError
from tests.conftest import DEBIAN_CORPUS_ROOTS, FIXTURES, conformance_dir, require_dir

KEYS = ("cmd", "sub_cmd", "json", "flags", "value", "start_line", "end_line", "heredocs")
SKIP_SUFFIXES = {".go", ".md", ".tar", ".txt", ".json", ".yaml", ".yml", ".sh"}


def _is_dockerfile(path: Path) -> bool:
    name = path.name.lower()
    return (
        path.is_file()
        and path.suffix.lower() not in SKIP_SUFFIXES
        and ("dockerfile" in name or "containerfile" in name)
    )


def corpus() -> list[Path]:
    conformance = conformance_dir()
    files = [p for p in conformance.rglob("*") if _is_dockerfile(p)] if conformance else []
    files += [p for p in FIXTURES.rglob("*") if _is_dockerfile(p)]
    for root in DEBIAN_CORPUS_ROOTS:
        if root.is_dir():
            files += [p for p in root.rglob("*") if _is_dockerfile(p)]
    return sorted(files)


def test_corpus_is_installed() -> None:
    for root in DEBIAN_CORPUS_ROOTS:
        require_dir(root, "run tests/install-deps.sh (Debian golang-*-dev packages)")
    assert len(corpus()) >= 100


def test_corpus_has_the_conformance_files(conformance: Path) -> None:
    assert sum(p.is_relative_to(conformance) for p in corpus()) >= 30


def _theirs(text: str) -> list[dict[str, Any]]:
    out = []
    for c in buildkit.parse_string(text):
        out.append(
            {
                "cmd": c.cmd.lower(),
                "sub_cmd": c.sub_cmd.lower() if c.sub_cmd else None,
                "json": c.json,
                "flags": list(c.flags),
                "value": list(c.value),
                "start_line": c.start_line,
                "end_line": c.end_line,
                "heredocs": [
                    {"name": h.name, "file_descriptor": h.file_descriptor, "content": h.content}
                    for h in c.heredocs
                ],
            }
        )
    return out


def _json_with_trailing_text(value: list[str]) -> bool:
    if len(value) != 1 or not value[0].lstrip().startswith("["):
        return False
    text = value[0].lstrip()
    try:
        _, end = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return False
    return text[end:].strip() != ""


def _explained(theirs: dict[str, Any], ours: dict[str, Any]) -> bool:
    if theirs["json"] and not ours["json"] and _json_with_trailing_text(ours["value"]):
        return True
    if ours["cmd"] == "onbuild" and not theirs["heredocs"]:
        return {k: theirs[k] for k in KEYS if k != "heredocs"} == {
            k: ours[k] for k in KEYS if k != "heredocs"
        }
    cut = [v.split("\x00", 1)[0] for v in ours["value"]]
    return cut != ours["value"] and cut == theirs["value"]


@pytest.mark.parametrize("path", corpus(), ids=lambda p: str(p).split("/src/")[-1][-70:])
def test_same_as_buildkit(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    try:
        theirs: list[dict[str, Any]] | None = _theirs(text)
    except Exception:
        theirs = None
    try:
        ours: list[dict[str, Any]] | None = [instruction_to_dict(i) for i in parse(text)]
    except ParseError:
        ours = None
    if theirs is None or ours is None:
        assert theirs is None and ours is None, "one parser rejects what the other accepts"
        return
    assert len(ours) == len(theirs)
    for t, o in zip(theirs, ours, strict=True):
        same = {k: t[k] for k in KEYS} == {k: o[k] for k in KEYS}
        assert same or _explained(t, o), (t, o)
