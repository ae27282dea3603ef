"""DL4005: Use SHELL to change the default shell.

Replacing /bin/sh with a link changes the shell for every program in the
image that calls `system()`, not just for the build. The SHELL
instruction changes the shell of the following RUN instructions only.

Fails:

    FROM debian:12
    RUN ln -sf /bin/bash /bin/sh

Passes:

    FROM debian:12
    SHELL ["/bin/bash", "-c"]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL4005"
MESSAGE: Final = "Use SHELL to change the default shell"


def _ok(inst: Instruction) -> bool:
    return c.no_run_command(inst, lambda cmd: shell.cmd_has_args(cmd, "ln", ["/bin/sh"]))


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
