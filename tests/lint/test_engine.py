"""The lint engine with small rules of the tests' own: what it runs, filters, sorts, reports."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.lint import (
    FileResult,
    LintConfig,
    LintInputError,
    LintResult,
    Rule,
    RuleSet,
    Severity,
    Source,
    Violation,
    default_rules,
    lint,
    lint_text,
)
from builder.lint.engine import RULE_PACKAGES
from builder.lint.model import CheckFunction, LintContext

# --- rules of the tests' own ------------------------------------------------


def _every(keyword: str) -> CheckFunction:
    def check(ctx: LintContext) -> Iterator[Violation]:
        for inst in ctx.dockerfile.instructions:
            if inst.keyword == keyword:
                yield Violation(inst.start_line)

    return check


def _untagged(ctx: LintContext) -> Iterator[Violation]:
    for stage in ctx.stages:
        image = stage.from_instruction.args[0]
        if ":" not in image and "@" not in image and image != "scratch":
            yield Violation(stage.from_instruction.start_line, f"Tag {image} explicitly")


def _crash(ctx: LintContext) -> Iterator[Violation]:
    yield Violation(1)
    raise RuntimeError("boom")


def _context_rule(ctx: LintContext) -> Iterator[Violation]:
    assert ctx.settings.context_dir is not None
    yield Violation(1, f"context is {ctx.settings.context_dir.name}")


UNTAGGED = Rule("DL3006", Severity.WARNING, "Always tag the version", _untagged)
USER = Rule("DL3002", Severity.WARNING, "Last USER should not be root", _every("user"))
WORKDIR = Rule("DL3000", Severity.ERROR, "Use absolute WORKDIR", _every("workdir"))
PRAGMA_RULE = Rule("DL1001", Severity.IGNORE, "No inline ignore pragmas", _every("run"))
CMD_CHECK = Rule("JSONArgsRecommended", Severity.WARNING, "JSON args for CMD", _every("cmd"))
MAINT_CHECK = Rule("MaintainerDeprecated", Severity.WARNING, "no MAINTAINER", _every("maintainer"))
CONTEXT = Rule("CTX001", Severity.INFO, "context rule", _context_rule)
CRASH = Rule("DL9999", Severity.WARNING, "crashes", _crash)

RULES = RuleSet(
    hadolint=(UNTAGGED, USER, WORKDIR, PRAGMA_RULE),
    buildkit=(CMD_CHECK, MAINT_CHECK),
    context=(CONTEXT,),
)
NO_SC = LintConfig(shellcheck=False)


def run(text: str, config: LintConfig = NO_SC, rules: RuleSet = RULES) -> FileResult:
    return lint_text(text, "Dockerfile", config, rules=rules)


def codes(result: FileResult) -> list[tuple[str, int]]:
    return [(f.code, f.line) for f in result.all_findings()]


# --- running rules, severities, messages ------------------------------------


def test_findings_carry_rule_code_severity_message_and_line() -> None:
    result = run("FROM alpine\nUSER root\nWORKDIR app\n")
    assert [(f.code, f.severity, f.message, f.path, f.line, f.column) for f in result.findings] == [
        ("DL3006", Severity.WARNING, "Tag alpine explicitly", "Dockerfile", 1, 1),
        ("DL3002", Severity.WARNING, "Last USER should not be root", "Dockerfile", 2, 1),
        ("DL3000", Severity.ERROR, "Use absolute WORKDIR", "Dockerfile", 3, 1),
    ]


def test_findings_are_sorted_by_line_then_code() -> None:
    result = run("FROM alpine:3\nWORKDIR a\nUSER root\nUSER x\nWORKDIR b\n")
    assert codes(result) == [("DL3000", 2), ("DL3002", 3), ("DL3002", 4), ("DL3000", 5)]


def test_severity_overrides_and_ignored_rules() -> None:
    config = LintConfig(
        shellcheck=False,
        overrides={"DL3006": Severity.ERROR, "DL3000": Severity.STYLE},
        ignored=frozenset({"DL3002"}),
    )
    result = run("FROM alpine\nUSER root\nWORKDIR app\n", config)
    assert [(f.code, f.severity) for f in result.findings] == [
        ("DL3006", Severity.ERROR),
        ("DL3000", Severity.STYLE),
    ]


def test_a_rule_at_severity_ignore_reports_only_when_overridden() -> None:
    text = "FROM alpine:3\nRUN true\n"
    assert codes(run(text)) == []
    config = LintConfig(shellcheck=False, overrides={"DL1001": Severity.INFO})
    assert codes(run(text, config)) == [("DL1001", 2)]


# --- pragmas -------------------------------------------------------------------


def test_ignore_pragma_applies_to_the_next_line_only() -> None:
    text = "FROM alpine:3\n# hadolint ignore=DL3002\nUSER root\nUSER root\n"
    assert codes(run(text)) == [("DL3002", 4)]


def test_ignore_pragma_separated_by_a_blank_or_comment_line_does_nothing() -> None:
    assert codes(run("FROM alpine:3\n# hadolint ignore=DL3002\n\nUSER root\n")) == [("DL3002", 4)]
    text = "FROM alpine:3\n# hadolint ignore=DL3002\n# why\nUSER root\n"
    assert codes(run(text)) == [("DL3002", 4)]


def test_ignore_pragma_with_several_rules_spaces_and_a_trailing_comment() -> None:
    text = "FROM alpine\n# hadolint ignore=DL3002 , DL3000 # both fine\nUSER root\nWORKDIR x\n"
    assert codes(run(text)) == [("DL3006", 1), ("DL3000", 4)]


def test_ignore_pragma_with_an_invalid_rule_name_is_not_a_pragma() -> None:
    text = "FROM alpine:3\n# hadolint ignore=crazy,DL3002\nUSER root\n"
    assert codes(run(text)) == [("DL3002", 3)]


def test_ignore_pragma_names_buildkit_checks_too() -> None:
    text = "FROM alpine:3\n# hadolint ignore=JSONArgsRecommended\nCMD echo\nCMD echo\n"
    config = LintConfig(shellcheck=False, buildkit_checks=True)
    assert codes(run(text, config)) == [("JSONArgsRecommended", 4)]


def test_global_ignore_pragma_covers_the_whole_file() -> None:
    text = "FROM alpine\nUSER root\n# hadolint global ignore=DL3006,DL3002\nUSER x\n"
    assert codes(run(text)) == []


def test_disable_ignore_pragma() -> None:
    text = "# hadolint global ignore=DL3006\nFROM alpine\n# hadolint ignore=DL3002\nUSER root\n"
    config = LintConfig(shellcheck=False, disable_ignore_pragma=True)
    assert codes(run(text, config)) == [("DL3006", 2), ("DL3002", 4)]


# --- parse errors ---------------------------------------------------------------


def test_unknown_instruction_is_dl1000_and_nothing_else() -> None:
    result = run("FROM alpine\nUSER root\nFOO bar\n")
    assert codes(result) == [("DL1000", 3)]
    assert result.findings == []
    err = result.parse_error
    assert err is not None and (err.line, err.column) == (3, 1)
    assert err.message.startswith("unexpected 'F'\nunknown instruction: FOO")
    assert err.pretty("Dockerfile").startswith("Dockerfile:3:1:\n  |\n3 | FOO bar\n  | ^\n")


def test_parser_error_becomes_dl1000_with_the_parsers_message() -> None:
    result = run("FROM alpine\nLABEL a\n")
    err = result.parse_error
    assert err is not None
    assert (err.line, err.column) == (2, 7)
    assert err.message == "unexpected 'a'\nLABEL must have two arguments"
    finding = result.all_findings()[0]
    assert (finding.code, finding.severity, finding.line, finding.column) == (
        "DL1000",
        Severity.ERROR,
        2,
        7,
    )


def test_unterminated_heredoc_is_dl1000() -> None:
    result = run("FROM alpine\nRUN <<EOF\necho hi\n")
    assert codes(result) == [("DL1000", 3)]


def test_empty_and_comment_only_files_have_no_findings() -> None:
    assert codes(run("")) == []
    assert codes(run("# just a comment\n\n")) == []


def test_parse_error_fails_whatever_the_threshold() -> None:
    config = LintConfig(shellcheck=False, failure_threshold=Severity.ERROR)
    result = lint(Source("FROM a\nBOGUS x\n"), config, rules=RULES)
    assert result.failed and result.exit_code == 1


# --- BuildKit checks and context rules -------------------------------------------


def test_buildkit_checks_are_off_by_default() -> None:
    assert codes(run("FROM alpine:3\nCMD echo\nMAINTAINER me\n")) == []


def test_buildkit_checks_with_the_option() -> None:
    config = LintConfig(shellcheck=False, buildkit_checks=True)
    result = run("FROM alpine:3\nCMD echo\nMAINTAINER me\n", config)
    assert codes(result) == [("JSONArgsRecommended", 2), ("MaintainerDeprecated", 3)]


def test_check_directive_turns_checks_on_and_skips_some() -> None:
    text = "# check=skip=JSONArgsRecommended\nFROM alpine:3\nCMD echo\nMAINTAINER me\n"
    result = run(text)
    assert [(f.code, f.severity) for f in result.findings] == [
        ("MaintainerDeprecated", Severity.WARNING)
    ]


def test_check_directive_skip_all() -> None:
    config = LintConfig(shellcheck=False, buildkit_checks=True)
    assert codes(run("# check=skip=all\nFROM alpine:3\nCMD echo\n", config)) == []


def test_check_directive_error_true_makes_checks_errors() -> None:
    result = run("# check=error=true\nFROM alpine:3\nCMD echo\n")
    assert [(f.code, f.severity) for f in result.findings] == [
        ("JSONArgsRecommended", Severity.ERROR)
    ]
    config = LintConfig(shellcheck=False, overrides={"JSONArgsRecommended": Severity.INFO})
    result = run("# check=error=true\nFROM alpine:3\nCMD echo\n", config)
    assert [f.severity for f in result.findings] == [Severity.INFO]


def test_invalid_check_directive_is_a_parse_error() -> None:
    result = run("# check=nonsense\nFROM alpine:3\n")
    assert result.parse_error is not None
    assert result.parse_error.line == 1
    assert "invalid check directive" in result.parse_error.message


def test_context_rules_run_only_with_a_context(tmp_path: Path) -> None:
    assert codes(run("FROM alpine:3\n")) == []
    config = LintConfig(shellcheck=False, context_dir=tmp_path)
    result = run("FROM alpine:3\n", config)
    assert [(f.code, f.message) for f in result.findings] == [
        ("CTX001", f"context is {tmp_path.name}")
    ]


def test_a_crashing_rule_is_reported_and_fails_the_run() -> None:
    rules = RuleSet(hadolint=(CRASH, USER))
    result = lint(Source("FROM alpine:3\nUSER root\n"), NO_SC, rules=rules)
    assert codes(result.files[0]) == [("DL9999", 1), ("DL3002", 2)]
    assert len(result.internal_errors) == 1
    assert (
        "DL9999" in result.internal_errors[0] and "RuntimeError: boom" in result.internal_errors[0]
    )
    assert result.exit_code == 1


# --- exit status -----------------------------------------------------------------


def _result(config: LintConfig, text: str = "FROM alpine:3\nUSER root\n") -> LintResult:
    return lint(Source(text), config, rules=RULES)


@pytest.mark.parametrize(
    ("threshold", "fails"),
    [
        (Severity.ERROR, False),
        (Severity.WARNING, True),
        (Severity.INFO, True),
        (Severity.STYLE, True),
        (Severity.IGNORE, True),
    ],
)
def test_failure_threshold(threshold: Severity, fails: bool) -> None:
    result = _result(LintConfig(shellcheck=False, failure_threshold=threshold))
    assert result.failed is fails
    assert result.exit_code == (1 if fails else 0)


def test_clean_files_succeed_and_no_fail_always_succeeds() -> None:
    assert _result(NO_SC, "FROM alpine:3\n").exit_code == 0
    assert _result(LintConfig(shellcheck=False, no_fail=True)).exit_code == 0


@pytest.mark.parametrize(("fmt", "code"), [("codeclimate", 0), ("codacy", 0), ("json", 1)])
def test_codeclimate_and_codacy_never_fail_as_in_hadolint(fmt: str, code: int) -> None:
    assert _result(LintConfig(shellcheck=False, format=fmt)).exit_code == code


# --- inputs ----------------------------------------------------------------------


def test_several_files_keep_their_order_and_paths(tmp_path: Path) -> None:
    one = tmp_path / "one.Dockerfile"
    one.write_text("FROM alpine\n")
    two = tmp_path / "two"
    two.write_text("FROM alpine:3\nUSER root\n")
    result = lint([str(two), one, Source("FROM x\n", "inline")], NO_SC, rules=RULES)
    assert [r.path for r in result.files] == [str(two), str(one), "inline"]
    assert [(f.path, f.code) for f in result.findings] == [
        (str(two), "DL3002"),
        (str(one), "DL3006"),
        ("inline", "DL3006"),
    ]


def test_stdin_is_named_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BytesIO(b"FROM alpine\n"))
    monkeypatch.setattr(sys, "stdin", fake)
    result = lint(["-", "-"], NO_SC, rules=RULES)
    assert [(f.path, f.code) for f in result.findings] == [("-", "DL3006"), ("-", "DL3006")]


def test_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LintInputError) as info:
        lint([str(tmp_path / "nope")], NO_SC, rules=RULES)
    assert str(info.value) == f"cannot read {tmp_path / 'nope'}: no such file"
    with pytest.raises(LintInputError, match="is a directory"):
        lint([str(tmp_path)], NO_SC, rules=RULES)


def test_bytes_with_invalid_utf8_and_a_bom() -> None:
    result = lint(Source(b"\xef\xbb\xbfFROM alpine\nLABEL x=\xff\n"), NO_SC, rules=RULES)
    assert codes(result.files[0]) == [("DL3006", 1)]


# --- the rule packages -------------------------------------------------------------


def test_default_rules_come_from_the_three_packages() -> None:
    import importlib

    rules = default_rules()
    for family, package in RULE_PACKAGES.items():
        module = importlib.import_module(package)
        expected = tuple(getattr(module, "RULES", ()))
        assert getattr(rules, family) == expected
    codes_seen = [r.code for r in rules.hadolint + rules.buildkit + rules.context]
    assert len(codes_seen) == len(set(codes_seen)), "a rule code is defined twice"
    for rule in rules.hadolint + rules.buildkit + rules.context:
        assert isinstance(rule, Rule) and rule.code and rule.message and callable(rule.check)


# --- robustness ----------------------------------------------------------------------

LINES = [
    "FROM alpine",
    "FROM alpine:3 AS build",
    "FROM build",
    "RUN apt-get install -y curl && echo $X",
    "RUN <<EOF",
    "EOF",
    'CMD ["a", "b"]',
    "ENV A=1 B",
    "ARG V",
    "USER root",
    "WORKDIR app",
    "LABEL a=b",
    "# hadolint ignore=DL3006",
    "# hadolint global ignore=SC2086, DL3002",
    "# hadolint shell=pwsh",
    "# check=skip=all",
    "COPY --from=build /a /b",
    "ONBUILD RUN echo $Y",
    'SHELL ["/bin/bash", "-c"]',
    "HEALTHCHECK CMD true",
    "EXPOSE 80/tcp",
    "  \\",
    "",
    "BOGUS x",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(LINES), max_size=12), st.booleans())
def test_any_mix_of_lines_lints_without_crashing(lines: list[str], buildkit: bool) -> None:
    config = LintConfig(shellcheck=False, buildkit_checks=buildkit)
    result = lint(Source("\n".join(lines) + "\n"), config)
    assert result.internal_errors == []
    for f in result.findings:
        assert f.line >= 1 and f.code and f.message


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_pragma_parsing_never_crashes(text: str) -> None:
    from builder.lint.pragmas import (
        parse_global_ignore_pragma,
        parse_ignore_pragma,
        parse_shell_pragma,
    )

    for parser in (parse_ignore_pragma, parse_global_ignore_pragma, parse_shell_pragma):
        parser(text)
