"""DL3027: Do not use apt; use apt-get or apt-cache.

`apt` is made for people at a terminal: its output and behaviour change
between releases and it warns that its interface is not stable for
scripts. `apt-get` and `apt-cache` are.

Fails:

    FROM debian:12
    RUN apt install -y curl

Passes:

    FROM debian:12
    RUN apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3027"
MESSAGE: Final = (
    "Do not use apt as it is meant to be an end-user tool, use apt-get or apt-cache instead"
)


def _ok(inst: Instruction) -> bool:
    return c.no_run_command(inst, lambda cmd: cmd.name == "apt")


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
