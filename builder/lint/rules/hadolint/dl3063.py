"""DL3063: Stage name should not be a reserved word.

`scratch` is the empty image and `context` is what BuildKit calls the
build context: a stage with either name makes `FROM` and `COPY --from`
references ambiguous to readers and tools. The check is case-sensitive,
as in hadolint.

Fails:

    FROM debian:12 AS scratch

Passes:

    FROM debian:12 AS base
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3063"
MESSAGE: Final = "stage name should not be a reserved word"
RESERVED: Final = frozenset({"scratch", "context"})


def _ok(inst: Instruction) -> bool:
    return inst.keyword != "from" or c.base_image(inst).alias not in RESERVED


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple(c.instructions(ctx), _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
