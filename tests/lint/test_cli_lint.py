"""`pybuild lint` as CI pipelines and pre-commit run it: options, config, exit codes, output."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from builder.cli.lint import lint_command

REPO = Path(__file__).resolve().parents[2]

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
app.command("lint")(lint_command)


@app.command("other")
def _other() -> None:  # a second command, so `lint` stays a subcommand as in pybuild
    pass


BAD = "FROM alpine:3.19\nRUN echo $X\n"  # SC2086 (info)
CLEAN = "FROM alpine:3.19\nRUN echo hi\n"
BROKEN = "FROM alpine:3.19\nFOO bar\n"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("HADOLINT_") or name in ("NO_COLOR", "XDG_CONFIG_HOME"):
            monkeypatch.delenv(name)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["lint", *args], input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def write(name: str, text: str) -> str:
    Path(name).write_text(text)
    return name


def test_findings_fail_and_clean_files_pass() -> None:
    code, out, err = invoke(write("Dockerfile", BAD))
    assert code == 1 and err == ""
    assert out == "Dockerfile:2 SC2086 info: Double quote to prevent globbing and word splitting.\n"
    assert invoke(write("clean", CLEAN)) == (0, "", "")


def test_several_files_and_a_parse_error() -> None:
    code, out, _ = invoke(write("a", BAD), write("b", BROKEN), write("c", CLEAN))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("a:2 SC2086 info:")
    assert lines[1].startswith("b:2:1 unexpected 'F' unknown instruction: FOO")
    assert len(lines) == 2


def test_stdin_is_dash() -> None:
    code, out, _ = invoke("-", stdin=BAD)
    assert code == 1 and out.startswith("-:2 SC2086 info:")


def test_no_arguments_lints_the_dockerfile_here() -> None:
    code, out, err = invoke()
    assert code == 1 and out == ""
    assert err.startswith("pybuild lint: no Dockerfile given, and there is no ./Dockerfile\n")
    write("Dockerfile", BAD)
    code, out, _ = invoke()
    assert code == 1 and out.startswith("Dockerfile:2 SC2086")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((), 1),
        (("--no-fail",), 0),
        (("-t", "warning"), 0),
        (("--failure-threshold", "info"), 1),
        (("-t", "none"), 1),
        (("--error", "SC2086", "-t", "error"), 1),
        (("--style", "SC2086", "-t", "info"), 0),
        (("--ignore", "SC2086"), 0),
        (("-f", "codeclimate"), 0),
        (("-f", "codacy"), 0),
        (("-f", "json"), 1),
    ],
)
def test_exit_codes(args: tuple[str, ...], code: int) -> None:
    assert invoke(*args, write("Dockerfile", BAD))[0] == code


def test_severity_options_change_the_report() -> None:
    _, out, _ = invoke("--warning", "SC2086", "--style", "SC2086", write("Dockerfile", BAD))
    assert " SC2086 warning: " in out


def test_json_format() -> None:
    code, out, _ = invoke("-f", "json", write("Dockerfile", BAD))
    assert code == 1
    assert json.loads(out) == [
        {
            "code": "SC2086",
            "column": 1,
            "file": "Dockerfile",
            "level": "info",
            "line": 2,
            "message": "Double quote to prevent globbing and word splitting.",
        }
    ]


def test_output_file(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code, out, _ = invoke("-f", "json", "-o", str(report), write("Dockerfile", BAD))
    assert code == 1 and out == ""
    assert json.loads(report.read_text())[0]["code"] == "SC2086"


def test_config_file_in_the_working_directory() -> None:
    write(".hadolint.yaml", "ignored: [SC2086]\n")
    assert invoke(write("Dockerfile", BAD)) == (0, "", "")


def test_explicit_config_file_and_override(tmp_path: Path) -> None:
    cfg = tmp_path / "lint.yml"
    cfg.write_text("override:\n  error: [SC2086]\nformat: gnu\n")
    code, out, _ = invoke("-c", str(cfg), write("Dockerfile", BAD))
    assert code == 1
    assert out.startswith("hadolint:Dockerfile:2: SC2086 error: ")


def test_environment_and_command_line_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    write(".hadolint.yaml", "format: gnu\nfailure-threshold: error\n")
    monkeypatch.setenv("HADOLINT_FORMAT", "json")
    monkeypatch.setenv("HADOLINT_FAILURE_THRESHOLD", "info")
    code, out, _ = invoke(write("Dockerfile", BAD))
    assert code == 1 and out.startswith("[{")
    code, out, _ = invoke("-f", "tty", "-t", "warning", "Dockerfile")
    assert code == 0 and out.startswith("Dockerfile:2 SC2086")


def test_bad_config_file_is_one_line_and_exit_1() -> None:
    write(".hadolint.yaml", "ignored: DL3006\n")
    code, out, err = invoke(write("Dockerfile", BAD))
    assert code == 1 and out == ""
    assert err == (
        f"pybuild lint: {Path.cwd() / '.hadolint.yaml'}: key 'ignored' must be a list of strings\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-t", "bogus"), "--failure-threshold: invalid failure threshold 'bogus'"),
        (("-f", "xml"), "--format: unknown format 'xml'"),
        (("--require-label", "a:bogus"), "--require-label: invalid label type 'bogus'"),
        (("--require-label", "nolabel"), "invalid label schema 'nolabel'"),
        (("--context", "/nonexistent/dir"), "--context /nonexistent/dir: not a directory"),
        (("-c", "/nonexistent.yaml"), "config file /nonexistent.yaml does not exist"),
    ],
)
def test_bad_options_are_one_line_errors(args: tuple[str, ...], message: str) -> None:
    code, out, err = invoke(*args, write("Dockerfile", BAD))
    assert code == 1 and out == ""
    assert err.startswith("pybuild lint: ") and message in err
    assert "Traceback" not in err


def test_unreadable_dockerfile() -> None:
    code, _, err = invoke("missing.Dockerfile")
    assert code == 1
    assert err == "pybuild lint: cannot read missing.Dockerfile: no such file\n"


def test_missing_shellcheck(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, out, err = invoke(write("Dockerfile", BAD))
    assert code == 1 and out == ""
    first = err.splitlines()[0]
    assert first == (
        "pybuild lint: ShellCheck is not installed: 'shellcheck' was not found on PATH"
    )


def test_verbose_prints_the_configuration() -> None:
    write(".hadolint.yaml", "ignored: [DL3000]\n")
    code, _, err = invoke("-V", write("Dockerfile", CLEAN))
    assert code == 0
    assert f"config file: {Path.cwd() / '.hadolint.yaml'}" in err
    assert "ignored: DL3000" in err
    assert "linted 1 file(s)" in err


def test_buildkit_checks_option() -> None:
    text = "FROM alpine:3.19 as Build\nRUN echo hi\n"
    assert invoke(write("Dockerfile", text)) == (0, "", "")
    code, out, _ = invoke("--buildkit-checks", "Dockerfile")
    assert code == 1
    assert "Dockerfile:1 FromAsCasing warning:" in out
    assert "Dockerfile:1 StageNameCasing warning:" in out


def test_file_path_in_report() -> None:
    _, out, _ = invoke(
        "-f", "checkstyle", "--file-path-in-report", "ci/Df", write("Dockerfile", BAD)
    )
    assert '<file name="ci/Df">' in out


# --- as a real process, on a terminal ---------------------------------------------

SCRIPT = """
import sys, typer
from builder.cli.lint import lint_command
app = typer.Typer(add_completion=False)
app.command("lint")(lint_command)
app.command("other")(lambda: None)
sys.argv[0] = "pybuild"
app()
"""


def run_on_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """stdout of the command when stdout is a terminal."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "lint", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(REPO)},
        stdout=slave,
        stderr=subprocess.PIPE,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal_and_not_with_no_color(isolated: Path) -> None:
    write("Dockerfile", BAD)
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert "\x1b[92minfo\x1b[0m" in run_on_terminal(["Dockerfile"], isolated, env)
    assert "\x1b[" not in run_on_terminal(["--no-color", "Dockerfile"], isolated, env)
    assert "\x1b[" not in run_on_terminal(["Dockerfile"], isolated, {**env, "NO_COLOR": "1"})
    assert "\x1b[" not in run_on_terminal(["-f", "gnu", "Dockerfile"], isolated, env)
    # not a terminal: no colour
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, "lint", "Dockerfile"],
        cwd=isolated,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "\x1b[" not in proc.stdout and proc.stdout


def test_module_import_is_light() -> None:
    code = (
        "import sys\nimport builder.cli.lint\n"
        "heavy = [m for m in ('yaml', 'rich', 'lark', 'builder.lint.engine',"
        " 'builder.dockerfile.parser') if m in sys.modules]\nprint(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert out.returncode == 0 and out.stdout.strip() == "", out.stdout + out.stderr


def test_pybuild_lint_is_registered(isolated: Path) -> None:
    """`pybuild lint` itself (builder.cli.main registers lint_command)."""
    write("Dockerfile", BAD)
    proc = subprocess.run(
        [sys.executable, "-m", "builder.cli.main", "lint", "-f", "json", "Dockerfile"],
        cwd=isolated,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)[0]["code"] == "SC2086"


def test_pre_commit_hook() -> None:
    import yaml

    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert hook["id"] == "pybuild-lint"
    assert hook["language"] == "python"
    assert hook["entry"] == "pybuild lint"
    assert hook["types"] == ["dockerfile"]
