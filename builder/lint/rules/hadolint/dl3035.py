"""DL3035: Do not use `zypper dist-upgrade`.

A distribution upgrade inside an image build changes the base image's
release behind the tag it was pinned to. Take a newer base image instead.

Fails:

    FROM opensuse/leap:15.6
    RUN zypper dist-upgrade -y

Passes:

    FROM opensuse/leap:15.6
    RUN zypper patch -y && zypper clean
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3035"
MESSAGE: Final = "Do not use `zypper dist-upgrade`."


def _ok(inst: Instruction) -> bool:
    return c.no_run_command(
        inst, lambda cmd: shell.cmd_has_args(cmd, "zypper", ["dist-upgrade", "dup"])
    )


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
