"""DL3025: Use arguments JSON notation for CMD and ENTRYPOINT arguments.

In shell form the command runs under `/bin/sh -c`: the shell becomes PID 1
and does not pass signals on, so `docker stop` waits and then kills.
The exec (JSON) form runs the program directly. HEALTHCHECK CMD is
checked too.

Fails:

    FROM debian:12
    CMD nginx -g "daemon off;"

Passes:

    FROM debian:12
    CMD ["nginx", "-g", "daemon off;"]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3025"
MESSAGE: Final = "Use arguments JSON notation for CMD and ENTRYPOINT arguments"


def _ok(inst: Instruction) -> bool:
    if inst.keyword in ("cmd", "entrypoint"):
        return c.exec_form(inst)
    if inst.keyword == "healthcheck" and inst.args and inst.args[0].upper() == "CMD":
        return c.exec_form(inst)
    return True


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple(c.instructions(ctx), _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
