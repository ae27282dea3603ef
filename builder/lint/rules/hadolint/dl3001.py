"""DL3001: Avoid commands that make no sense in a container.

A build step runs without a terminal, an init system or other processes:
`ssh`, `vim`, `shutdown`, `service`, `ps`, `free`, `top`, `kill`, `mount`
and the like either hang, fail or report on the build container rather
than on anything the image will ship.

Fails:

    FROM debian:12
    RUN service nginx start

Passes:

    FROM debian:12
    RUN nginx -t
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3001"
MESSAGE: Final = (
    "Avoid commands that make no sense in a container, like "
    "`ssh`, `vim`, `shutdown`, `service`, `ps`, `free`, `top`, `kill`, `mount`, `ifconfig`"
)
#: What hadolint checks (its message also names ifconfig, which it does not check).
COMMANDS: Final = frozenset(
    {"free", "kill", "mount", "ps", "service", "shutdown", "ssh", "top", "vim"}
)


def _ok(inst: Instruction) -> bool:
    return c.no_run_command(inst, lambda cmd: cmd.name in COMMANDS)


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.INFO, MESSAGE, check, c.url(CODE))
