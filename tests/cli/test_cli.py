"""The `pybuild` command as a user runs it: real processes, real exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

PYBUILD = [sys.executable, "-m", "builder.cli.main"]


def run(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*PYBUILD, *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "100"},
        timeout=60,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_installed_entry_point_and_fast_help() -> None:
    exe = shutil.which("pybuild")
    assert exe, "the pybuild console script is not installed (pip install -e .)"
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30)
        timings.append(time.perf_counter() - start)
        assert proc.returncode == 0
    assert "parse" in proc.stdout and "build" in proc.stdout
    assert min(timings) < 0.3, timings


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; sys.argv=['pybuild','--help']\n"
        "from builder.cli.main import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('lark', 'rich', 'builder.dockerfile.parser', 'pydantic')"
        " if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY=", out.stdout


def test_version() -> None:
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("pybuild ")


@pytest.mark.parametrize("command", ["parse", "build"])
def test_subcommand_help(command: str) -> None:
    proc = run(command, "--help")
    assert proc.returncode == 0 and "Usage:" in proc.stdout


def test_parse_buildkit_format_from_file_and_stdin() -> None:
    path = FIXTURES / "parse" / "legacy-forms.Dockerfile"
    by_file = run("parse", "--format", "buildkit", str(path))
    by_flag = run("parse", "--format", "buildkit", "-f", str(path))
    by_stdin = run("parse", "--format", "buildkit", "-", stdin=path.read_bytes())
    assert by_file.returncode == by_flag.returncode == by_stdin.returncode == 0
    assert by_file.stdout == by_flag.stdout == by_stdin.stdout
    assert by_file.stdout.splitlines()[1] == '(maintainer "Jane Doe <jane@example.com>")'


def test_parse_json_is_the_default() -> None:
    proc = run("parse", str(FIXTURES / "sshd" / "Dockerfile"))
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    assert [d["cmd"] for d in data] == ["from", "env", "label", "run", "run", "run", "user", "cmd"]
    assert data[-1]["json"] is True and data[-1]["value"] == ["/usr/sbin/sshd", "-D"]


def test_parse_reads_Dockerfile_in_current_directory(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    proc = run("parse", "--format", "buildkit", cwd=tmp_path)
    assert proc.stdout == '(from "scratch")\n'


def test_parse_error_exit_code_and_message(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text('FROM a\nCMD [ "echo", [ "nested" ] ]\n')
    proc = run("parse", str(bad))
    assert proc.returncode == 1
    first, source, caret, hint = proc.stderr.splitlines()
    assert first == (
        f"{bad}:2:5: when using JSON array syntax, arrays must be comprised of strings only"
    )
    assert source.endswith('CMD [ "echo", [ "nested" ] ]') and caret.endswith("    ^")
    assert hint.startswith("hint: ")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("parse", "/nonexistent/Dockerfile"), "no such file"),
        (("parse", "--format", "yaml", "x"), "unknown --format"),
        (("build", "--dry-run", "/nonexistent-context"), "is not a directory"),
        (("build", "--network", "bridge", "fixtures/sshd"), "--network"),
        (("build", "--secret", "id=x,src=/nonexistent/secret", "fixtures/sshd"), "secret"),
        (("build", "--progress", "fancy", "fixtures/sshd"), "--progress"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...], needle: str) -> None:
    proc = run(*args)
    assert proc.returncode == 2
    assert needle in proc.stderr


def test_build_dry_run_plans_the_sshd_example() -> None:
    proc = run("build", "--dry-run", "-t", "sshd", str(FIXTURES / "sshd"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "tags: sshd:latest"
    assert "stage 0 FROM debian:bookworm-slim (image)" in lines
    assert any(line.strip().startswith("#4 [4/4] RUN chmod u+s /usr/sbin/sshd") for line in lines)


def test_build_dry_run_json_with_target_and_build_args() -> None:
    dockerfile = FIXTURES / "parse" / "multistage.Dockerfile"
    proc = run(
        "build", "--dry-run", "--plan-format", "json", "-f", str(dockerfile),
        "--target", "build", "--build-arg", "GO_VERSION=1.23", "-t", "app:dev", str(FIXTURES),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["tags"] == ["app:dev"]
    text = json.dumps(data)
    assert "golang:1.23" in text and "distroless" in text


@pytest.mark.parametrize(
    ("dockerfile", "message", "code"),
    [
        ("FROM a AS one\nCOPY --from=two /x /y\nFROM b AS two\nCOPY --from=one /x /y\n",
         "circular dependency detected on stage: one", 1),
        ("FROM a\nRUNN echo\n", "unknown instruction: RUNN", 1),
        ("FROM a\nCOPY --form=b x y\n", "unknown flag: --form", 1),
    ],
)  # fmt: skip
def test_build_dry_run_rejects_bad_dockerfiles(
    tmp_path: Path, dockerfile: str, message: str, code: int
) -> None:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    proc = run("build", "--dry-run", str(tmp_path))
    assert proc.returncode == code
    assert message in proc.stderr.splitlines()[0]
    assert proc.stderr.splitlines()[0].startswith(str(tmp_path / "Dockerfile") + ":")


def test_build_rejects_undefined_target_and_bad_tag(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM a AS base\n")
    proc = run("build", "--dry-run", "--target", "nope", str(tmp_path))
    assert proc.returncode == 1 and 'target stage "nope" could not be found' in proc.stderr
    proc = run("build", "--dry-run", "-t", "Bad Name", str(tmp_path))
    assert proc.returncode == 2 and "invalid reference" in proc.stderr


def test_build_check_reports_buildkit_checks_and_stops(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine AS Base\nCMD echo hi\n")
    proc = run("build", "--check", str(tmp_path))
    assert proc.returncode == 1
    assert "WARN: StageNameCasing" in proc.stdout and "WARN: JSONArgsRecommended" in proc.stdout
    assert proc.stdout.rstrip().endswith("Check complete, 2 warnings have been found!")
    (tmp_path / "Dockerfile").write_text('FROM alpine AS base\nCMD ["echo", "hi"]\n')
    proc = run("build", "--check", str(tmp_path))
    assert (proc.returncode, proc.stdout) == (0, "Check complete, no warnings found.\n")


def test_lint_is_a_subcommand(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM debian\nRUN apt-get install -y curl\n")
    proc = run("lint", "-f", "json", str(tmp_path / "Dockerfile"))
    codes = {item["code"] for item in json.loads(proc.stdout)}
    assert codes == {"DL3006", "DL3008", "DL3015"}  # what hadolint 2.15 reports here
    assert proc.returncode == 1
