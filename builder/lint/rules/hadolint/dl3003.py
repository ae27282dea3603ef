"""DL3003: Use WORKDIR to switch to a directory.

`cd` in a RUN lasts for that RUN only, and hides from readers where the
later steps run. WORKDIR sets the directory for every following step and
creates it when missing.

Fails:

    FROM debian:12
    RUN cd /usr/src/app && make

Passes:

    FROM debian:12
    WORKDIR /usr/src/app
    RUN make
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3003"
MESSAGE: Final = "Use WORKDIR to switch to a directory"


def _ok(inst: Instruction) -> bool:
    return c.no_run_command(inst, lambda cmd: cmd.name == "cd")


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple(c.instructions(ctx), _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
