"""DL3011: Valid UNIX ports range from 0 to 65535.

EXPOSE documents the ports a container listens on; a number past 65535
cannot be one. Port ranges are checked at both ends; ports given by a
variable are not checked.

Fails:

    FROM debian:12
    EXPOSE 80 80000

Passes:

    FROM debian:12
    EXPOSE 80 8000-8080/udp
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3011"
MESSAGE: Final = "Valid UNIX ports range from 0 to 65535"


def _ok(inst: Instruction) -> bool:
    return inst.keyword != "expose" or all(p <= 65535 for p in c.exposed_ports(inst))


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple(c.instructions(ctx), _ok)


RULE: Final = Rule(CODE, Severity.ERROR, MESSAGE, check, c.url(CODE))
