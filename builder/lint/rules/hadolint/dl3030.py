"""DL3030: Use the -y switch with yum install.

Without `-y` (`--assumeyes`) yum asks for confirmation, which a build
cannot give.

Fails:

    FROM rockylinux:9
    RUN yum install httpd-2.4.57

Passes:

    FROM rockylinux:9
    RUN yum install -y httpd-2.4.57 && yum clean all
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3030"
MESSAGE: Final = "Use the -y switch to avoid manual input `yum install -y <package>`"


def forgot_yes(cmd: shell.Command) -> bool:
    return shell.cmd_has_args(
        cmd, "yum", ["install", "groupinstall", "localinstall"]
    ) and not shell.has_any_flag(cmd, ["y", "assumeyes"])


def _ok(inst: Instruction) -> bool:
    return c.no_run_command(inst, forgot_yes)


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
