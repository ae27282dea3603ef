"""DL3038: Use the -y switch with dnf install.

Without `-y` (`--assumeyes`) dnf and microdnf ask for confirmation, which
a build cannot give.

Fails:

    FROM fedora:40
    RUN dnf install httpd-2.4.62 && dnf clean all

Passes:

    FROM fedora:40
    RUN dnf install -y httpd-2.4.62 && dnf clean all
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3038"
MESSAGE: Final = "Use the -y switch to avoid manual input `dnf install -y <package>`"


def forgot_yes(cmd: shell.Command) -> bool:
    return (
        cmd.name in ("dnf", "microdnf")
        and any(a in ("install", "groupinstall", "localinstall") for a in cmd.args)
        and not shell.has_any_flag(cmd, ["y", "assumeyes"])
    )


def _ok(inst: Instruction) -> bool:
    return c.no_run_command(inst, forgot_yes)


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
