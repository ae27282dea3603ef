"""`pybuild build --call outline|targets|check|build`: buildx's call methods, nothing built."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_image_commands import run

DOCKERFILE = """\
# syntax=docker/dockerfile:1

# GO_VERSION sets the Go version for the build
ARG GO_VERSION=1.22
ARG unused=x
# base-builder is the base stage for building the project
FROM busybox:${GO_VERSION} AS base-builder
# this is not a description
ARG FOO=123
# BAR is a number
ARG BAR=456
RUN --mount=type=secret,id=token,required --mount=type=ssh echo $FOO

FROM alpine:${unused} AS other

# app is the application
FROM base-builder AS app
RUN --mount=type=secret,target=/run/keys/passwd --mount=type=ssh,id=deploy,required true
"""


@pytest.fixture
def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    return ctx


def test_targets_lists_stages_with_descriptions_and_the_default(
    tmp_path: Path, context: Path
) -> None:
    proc = run(tmp_path / "store", "build", "--call", "targets", str(context))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "TARGET        DESCRIPTION\n"
        "base-builder  is the base stage for building the project\n"
        "other         \n"
        "app (default) is the application\n"
    )
    assert not (tmp_path / "store").exists()  # nothing was built


def test_outline_of_the_default_target(tmp_path: Path, context: Path) -> None:
    proc = run(tmp_path / "store", "build", "--call=outline", str(context))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "TARGET:      app\n"
        "DESCRIPTION: is the application\n"
        "\n"
        "BUILD ARG    VALUE   DESCRIPTION\n"
        "GO_VERSION   1.22    sets the Go version for the build\n"
        "FOO          123     \n"
        "BAR          456     is a number\n"
        "\n"
        "SECRET   REQUIRED\n"
        "token    true\n"
        "passwd   \n"
        "\n"
        "SSH       REQUIRED\n"
        "default   \n"
        "deploy    true\n"
        "\n"
    )


def test_outline_follows_target_and_build_args(tmp_path: Path, context: Path) -> None:
    proc = run(
        tmp_path / "store", "build", "--call", "outline", "--target", "base-builder",
        "--build-arg", "BAR=678", "--build-arg", "GO_VERSION=1.23", str(context),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "TARGET:      base-builder\n"
        "DESCRIPTION: is the base stage for building the project\n"
        "\n"
        "BUILD ARG    VALUE   DESCRIPTION\n"
        "GO_VERSION   1.23    sets the Go version for the build\n"
        "FOO          123     \n"
        "BAR          678     is a number\n"
        "\n"
        "SECRET   REQUIRED\n"
        "token    true\n"
        "\n"
        "SSH       REQUIRED\n"
        "default   \n"
        "\n"
    )


def test_outline_of_a_plain_file_has_no_sections(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN true\n")
    proc = run(tmp_path / "store", "build", "--call", "outline", str(tmp_path))
    assert (proc.returncode, proc.stdout) == (0, "")
    proc = run(tmp_path / "store", "build", "--call", "targets", str(tmp_path))
    assert (proc.returncode, proc.stdout) == (0, "TARGET    DESCRIPTION\n(default) \n")


def test_call_check_is_build_check(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine AS Base\nCMD echo hi\n")
    proc = run(tmp_path / "store", "build", "--call", "check", str(tmp_path))
    assert proc.returncode == 1
    assert proc.stdout.rstrip().endswith("Check complete, 2 warnings have been found!")
    (tmp_path / "Dockerfile").write_text('FROM alpine AS base\nCMD ["echo", "hi"]\n')
    proc = run(tmp_path / "store", "build", "--call=check", str(tmp_path))
    assert (proc.returncode, proc.stdout) == (0, "Check complete, no warnings found.\n")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nope", 'invalid value "nope" for "--call" flag: unknown call method \'nope\''),
        ("outline,format=yaml", "invalid print field: format=yaml"),
        ("outline,targets", "invalid print value: outline,targets"),
    ],
)
def test_a_bad_call_is_a_usage_error(tmp_path: Path, value: str, message: str) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    proc = run(tmp_path / "store", "build", "--call", value, str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == message
