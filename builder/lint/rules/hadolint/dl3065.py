"""DL3065: FROM --platform=$TARGETPLATFORM is redundant.

Stages are built for the target platform by default; saying so explicitly
adds nothing and suggests that the other stages differ.

Fails:

    FROM --platform=$TARGETPLATFORM debian:12

Passes:

    FROM debian:12
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3065"
MESSAGE: Final = (
    "Setting `FROM --platform` to predefined `$TARGETPLATFORM` is redundant "
    "as this is the default behavior"
)


def _ok(inst: Instruction) -> bool:
    return inst.keyword != "from" or inst.get_flag("platform") not in (
        "$TARGETPLATFORM",
        "${TARGETPLATFORM}",
    )


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple(c.instructions(ctx), _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
