"""DL3034: Non-interactive switch missing from `zypper` command.

zypper asks before installing or removing; a build cannot answer. Use
`-y` (`--no-confirm`) or the global `-n` (`--non-interactive`).

Fails:

    FROM opensuse/leap:15.6
    RUN zypper install httpd=2.4.58

Passes:

    FROM opensuse/leap:15.6
    RUN zypper install -y httpd=2.4.58 && zypper clean
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3034"
MESSAGE: Final = "Non-interactive switch missing from `zypper` command: `zypper install -y`"
SUBCOMMANDS: Final = ("install", "in", "remove", "rm", "source-install", "si", "patch")


def forgot_yes(cmd: shell.Command) -> bool:
    return shell.cmd_has_args(cmd, "zypper", SUBCOMMANDS) and not shell.has_any_flag(
        cmd, ["non-interactive", "n", "no-confirm", "y"]
    )


def _ok(inst: Instruction) -> bool:
    return c.no_run_command(inst, forgot_yes)


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
