"""DL3014: Use the `-y` switch with apt-get install.

Without `-y` (or `-qq`, `--yes`, `--assume-yes`) apt-get asks for
confirmation; a build has nobody to answer and fails, or hangs.

Fails:

    FROM debian:12
    RUN apt-get install --no-install-recommends curl=7.88.1-10+deb12u5

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

CODE: Final = "DL3014"
MESSAGE: Final = "Use the `-y` switch to avoid manual input `apt-get -y install <package>`"


def forgot_yes(cmd: shell.Command) -> bool:
    if not shell.cmd_has_args(cmd, "apt-get", ["install"]):
        return False
    return not (
        shell.has_any_flag(cmd, ["y", "yes", "qq", "assume-yes"])
        or shell.flag_count(cmd, "q") == 2
        or shell.flag_count(cmd, "quiet") == 2
        or "-q=2" in cmd.args
    )


def _ok(inst: Instruction) -> bool:
    return c.no_run_command(inst, forgot_yes)


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
