"""DL3004: Do not use sudo.

RUN steps already run as the current USER, root unless changed. `sudo`
depends on a terminal, PAM and sudoers settings that vary between images,
and passes the environment on only in part. Use USER to change users, or
a tool such as gosu in entrypoints.

Fails:

    FROM debian:12
    RUN sudo apt-get update

Passes:

    FROM debian:12
    RUN apt-get update
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3004"
MESSAGE: Final = (
    "Do not use sudo as it leads to unpredictable behavior. Use a tool like gosu to enforce root"
)


def _ok(inst: Instruction) -> bool:
    return c.no_run_command(inst, lambda cmd: cmd.name == "sudo")


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.ERROR, MESSAGE, check, c.url(CODE))
