"""ShellCheck findings for RUN scripts, made and reported the way hadolint does (real ShellCheck)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from builder.dockerfile.parser import parse
from builder.lint import LintConfig, RuleSet, ShellcheckError, Source, lint, lint_text
from builder.lint.model import Severity
from builder.lint.pragmas import collect
from builder.lint.shellcheck import (
    DEFAULT_VARIABLES,
    Comment,
    check_scripts,
    collect_scripts,
    pick,
    script_header,
)

NO_RULES = RuleSet()


def scripts(text: str, *, final_newline: bool = True) -> list[tuple[int, str]]:
    dockerfile = parse(text)
    found = collect_scripts(dockerfile, collect(dockerfile.comments), final_newline=final_newline)
    return [(s.line, s.text) for s in found]


def sc(text: str, config: LintConfig | None = None) -> list[tuple[str, int]]:
    result = lint_text(text, "Dockerfile", config or LintConfig(), rules=NO_RULES)
    return [(f.code, f.line) for f in result.all_findings()]


# --- the scripts ShellCheck gets -------------------------------------------------


def test_script_is_shebang_exports_of_used_variables_and_the_command() -> None:
    text = (
        "FROM a\nARG VERSION=1\nENV HOME_DIR=/x OTHER=2\nRUN echo $VERSION $HOME_DIR $http_proxy\n"
    )
    assert scripts(text) == [
        (
            4,
            "#!/bin/sh\nexport HOME_DIR=1\nexport VERSION=1\nexport http_proxy=1\n"
            "echo $VERSION $HOME_DIR $http_proxy",
        )
    ]


def test_header_sorts_export_lines_as_hadolint_and_keeps_odd_names() -> None:
    header = script_header("/bin/bash -c", ["A0", "A", "my-var", "unused"], "echo $A $A0")
    assert header == "#!/bin/bash\nexport A0=1\nexport A=1\nexport my-var=1\n"
    full = script_header("/bin/sh -c", DEFAULT_VARIABLES)
    assert full.count("export ") == 8 and full.startswith("#!/bin/sh\nexport FTP_PROXY=1\n")


def test_exec_form_and_empty_runs_are_not_checked() -> None:
    assert scripts('FROM a\nRUN ["sh", "-c", "echo $X"]\n') == []


def test_shell_instruction_and_reset_at_from() -> None:
    text = 'FROM a\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\nRUN one\nFROM b\nRUN two\n'
    assert [t.split("\n")[0] for _, t in scripts(text)] == ["#!/bin/bash", "#!/bin/sh"]


def test_variables_reset_at_from_but_not_for_a_stage_built_on_another() -> None:
    text = (
        "ARG META\nFROM a AS base\nENV FOO=1\nRUN echo $FOO $META\n"
        "FROM base AS child\nRUN echo $FOO\n"
        "FROM other\nRUN echo $FOO\n"
        "FROM Base\nRUN echo $FOO\n"
    )
    found = scripts(text)
    assert ["export FOO=1" in t for _, t in found] == [True, True, False, False]
    assert all("export META=1" not in t for _, t in found)


def test_stage_built_on_another_keeps_its_shell() -> None:
    text = 'FROM a AS base\nSHELL ["/bin/bash", "-c"]\nENV X=1\nFROM base\nRUN [[ -f x ]]\n'
    assert scripts(text)[0][1].startswith("#!/bin/bash\n")


@pytest.mark.parametrize(
    "shell",
    [
        '["pwsh", "-c"]',
        '["powershell", "-Command"]',
        '["cmd", "/S", "/C"]',
        '["C:\\\\cmd.exe", "/c"]',
    ],
)
def test_non_posix_shells_are_not_checked(shell: str) -> None:
    assert scripts(f"FROM a\nSHELL {shell}\nRUN echo $X\n") == []


def test_shell_pragma_before_the_first_from_holds_for_every_stage() -> None:
    text = "# hadolint shell=powershell\nFROM a\nRUN echo $X\nFROM b\nRUN echo $X\n"
    assert scripts(text) == []


def test_shell_pragma_in_a_stage_holds_until_the_next_from_or_shell() -> None:
    text = (
        "FROM a\nRUN one\n# hadolint shell=/bin/bash\nRUN two\n"
        'SHELL ["/bin/dash", "-c"]\nRUN three\nFROM b\nRUN four\n'
    )
    shebangs = [t.split("\n")[0] for _, t in scripts(text)]
    assert shebangs == ["#!/bin/sh", "#!/bin/bash", "#!/bin/dash", "#!/bin/sh"]


def test_onbuild_run_is_checked_at_its_line() -> None:
    assert scripts("FROM a\nONBUILD RUN echo $X\n") == [(2, "#!/bin/sh\necho $X")]


def test_heredoc_body_is_the_script() -> None:
    text = "FROM a\nRUN <<EOF\nset -e\necho $X\nEOF\n"
    assert scripts(text) == [(2, "#!/bin/sh\nset -e\necho $X\n")]


def test_command_with_heredocs_gets_them_written_out() -> None:
    text = "FROM a\nRUN cat <<'EOT' > /x\n$Y\nEOT\n"
    assert scripts(text) == [(2, "#!/bin/sh\ncat <<'EOT' > /x\n$Y\nEOT\n")]


def test_continuation_lines_are_joined_without_their_indentation() -> None:
    text = "FROM a\nRUN echo a \\\n          b \\\n  # comment\n\n    c\n"
    assert scripts(text) == [(2, "#!/bin/sh\necho a b c")]
    # with blanks between the escape and the newline, the indentation stays
    assert scripts("FROM a\nRUN echo a \\  \n  b\n") == [(2, "#!/bin/sh\necho a   b")]


def test_trailing_escape_at_the_end_of_a_file_without_newline_is_kept() -> None:
    assert scripts("FROM a\nRUN echo \\", final_newline=False) == [(2, "#!/bin/sh\necho \\")]
    assert scripts("FROM a\nRUN echo \\\n") == [(2, "#!/bin/sh\necho")]


def test_run_flags_are_not_part_of_the_script() -> None:
    text = "FROM a\nRUN --mount=type=cache,target=/root/.cache \\\n    --network=none echo $X\n"
    assert scripts(text) == [(2, "#!/bin/sh\necho $X")]


# --- picking the finding hadolint reports ----------------------------------------


def test_pick_keeps_the_last_comment_in_shellcheck_order() -> None:
    c = [
        Comment(2086, "info", "quote", 3, 6),
        Comment(2164, "warning", "cd", 3, 14),
        Comment(2034, "warning", "unused", 3, 1),
    ]
    assert pick(c) == c[1]
    same_place = [Comment(1000, "style", "s", 2, 1), Comment(1001, "error", "e", 2, 1)]
    assert pick(same_place) == same_place[0]  # style sorts after error
    assert pick([]) is None


# --- real ShellCheck ------------------------------------------------------------------


def test_one_finding_per_run_reported_at_the_run_line() -> None:
    text = "FROM a:1\nRUN echo $A && \\\n    cd /tmp\nRUN x=$(echo $B)\n"
    assert sc(text) == [("SC2164", 2), ("SC2086", 4)]


def test_severities_and_messages_come_from_shellcheck() -> None:
    result = lint_text("FROM a:1\nRUN echo $X\n", config=LintConfig(), rules=NO_RULES)
    (finding,) = result.findings
    assert finding.severity == Severity.INFO and finding.column == 1
    assert finding.message == "Double quote to prevent globbing and word splitting."


def test_dockerfile_variables_count_as_defined() -> None:
    assert sc('FROM a:1\nARG lower\nRUN echo "$lower"\n') == []
    assert sc('FROM a:1\nRUN echo "$lower"\n') == [("SC2154", 2)]


def test_hadolint_exclusions() -> None:
    assert sc('FROM a:1\nRUN . "$FILE"\nRUN . ./lib.sh\nRUN cat f | wc -l\n') == []
    ash = 'FROM a:1\nSHELL ["/bin/ash", "-c"]\nRUN echo hi\n'
    assert sc(ash) == []


def test_dialect_follows_the_shell() -> None:
    assert sc("FROM a:1\nRUN [[ -f x ]]\n") == [("SC3010", 2)]
    assert sc('FROM a:1\nSHELL ["/bin/bash", "-c"]\nRUN [[ -f x ]]\n') == []
    assert sc('FROM a:1\nSHELL ["/bin/zsh", "-c"]\nRUN echo hi\n') == [("SC1071", 3)]


def test_overrides_ignores_and_pragmas_apply_to_shellcheck_codes() -> None:
    text = "FROM a:1\nRUN echo $X\n# hadolint ignore=SC2086\nRUN echo $Y\n"
    assert sc(text) == [("SC2086", 2)]
    config = LintConfig(overrides={"SC2086": Severity.ERROR})
    result = lint_text("FROM a:1\nRUN echo $X\n", config=config, rules=NO_RULES)
    assert [f.severity for f in result.findings] == [Severity.ERROR]
    assert sc("FROM a:1\nRUN echo $X\n", LintConfig(ignored=frozenset({"SC2086"}))) == []


def test_shellcheckrc_and_shellcheck_opts_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".shellcheckrc").write_text("disable=SC2086\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SHELLCHECK_OPTS", "-e SC2086")
    monkeypatch.chdir(tmp_path)
    assert sc("FROM a:1\nRUN echo $X\n") == [("SC2086", 2)]


def test_many_files_in_parallel_give_the_same_results() -> None:
    sources = [
        Source(f"FROM a:1\nRUN echo ${'X' * (i % 7 + 1)} && cd /x{i}\n", f"f{i}") for i in range(60)
    ]
    serial = lint(sources, LintConfig(jobs=1), rules=NO_RULES)
    parallel = lint(sources, LintConfig(jobs=4), rules=NO_RULES)
    assert serial.findings == parallel.findings
    assert len(serial.findings) == 60 and {f.code for f in serial.findings} == {"SC2164"}


def test_missing_shellcheck_is_one_clear_error() -> None:
    config = LintConfig(shellcheck_program="no-such-shellcheck-program")
    with pytest.raises(ShellcheckError) as info:
        lint(Source("FROM a:1\nRUN echo hi\n"), config, rules=NO_RULES)
    assert str(info.value) == (
        "ShellCheck is not installed: 'no-such-shellcheck-program' was not found on PATH"
    )
    assert "apt-get install shellcheck" in info.value.render()
    # not needed, not required
    assert lint(Source("FROM a:1\n"), config, rules=NO_RULES).findings == []


def _fake_shellcheck(tmp_path: Path, exit_code: int, stderr: str = "") -> str:
    fake = tmp_path / "fake-shellcheck"
    fake.write_text(f"#!/bin/sh\necho '{stderr}' >&2\nexit {exit_code}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return str(fake)


def test_shellcheck_failure_is_reported(tmp_path: Path) -> None:
    program = _fake_shellcheck(tmp_path, 3, "bad option")
    with pytest.raises(ShellcheckError, match=r"shellcheck failed \(exit code 3\): bad option"):
        check_scripts(["#!/bin/sh\necho hi\n"], program)


def test_cache_reuses_results_between_runs(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    wrapper = tmp_path / "counting-shellcheck"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec shellcheck "$@"\n')
    wrapper.chmod(0o755)
    cache = tmp_path / "cache"
    script = "#!/bin/sh\necho $X && cd /tmp\n"
    first = check_scripts([script, script], str(wrapper), cache_dir=cache)
    assert [[c.code for c in found] for found in first] == [[2086, 2164], [2086, 2164]]
    assert len(log.read_text().splitlines()) == 1
    assert len([p for p in cache.rglob("*") if p.is_file()]) == 1
    again = check_scripts([script, "#!/bin/sh\necho $Y\n"], str(wrapper), cache_dir=cache)
    assert again[0] == first[0] and [c.code for c in again[1]] == [2086]
    calls = log.read_text().splitlines()
    assert len(calls) == 2 and calls[1].count(" s") == 1  # only the new script was checked
    check_scripts([script], str(wrapper), cache_dir=cache)
    assert len(log.read_text().splitlines()) == 2
