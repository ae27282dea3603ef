"""DL3015: Avoid additional packages by specifying `--no-install-recommends`.

By default apt-get also installs the packages that the requested ones
merely recommend: documentation, optional tools, sometimes hundreds of
megabytes the image does not need.

Fails:

    FROM debian:12
    RUN apt-get install -y curl=7.88.1-10+deb12u5

Passes:

    FROM debian:12
    RUN apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3015"
MESSAGE: Final = "Avoid additional packages by specifying `--no-install-recommends`"


def forgot_no_recommends(cmd: shell.Command) -> bool:
    return shell.cmd_has_args(cmd, "apt-get", ["install"]) and not (
        shell.has_flag(cmd, "no-install-recommends")
        or shell.has_arg(cmd, "APT::Install-Recommends=false")
    )


def _ok(inst: Instruction) -> bool:
    return c.no_run_command(inst, forgot_no_recommends)


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.INFO, MESSAGE, check, c.url(CODE))
