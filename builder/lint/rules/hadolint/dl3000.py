"""DL3000: Use absolute WORKDIR.

A relative WORKDIR is resolved against the previous one, so its meaning
depends on every WORKDIR before it (and on the base image's). An absolute
path says where the build is. Paths starting with a variable and Windows
paths (`C:\\app`) count as absolute.

Fails:

    FROM debian:12
    WORKDIR app

Passes:

    FROM debian:12
    WORKDIR /app
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3000"
MESSAGE: Final = "Use absolute WORKDIR"


def is_windows_absolute(path: str) -> bool:
    return len(path) >= 2 and path[0].isalpha() and path[1] == ":"


def _ok(inst: Instruction) -> bool:
    if inst.keyword != "workdir":
        return True
    path = c.drop_quotes(" ".join(inst.args))
    return path.startswith(("$", "/")) or is_windows_absolute(path)


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple(c.instructions(ctx), _ok)


RULE: Final = Rule(CODE, Severity.ERROR, MESSAGE, check, c.url(CODE))
