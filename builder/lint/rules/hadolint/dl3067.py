"""DL3067: Do not copy an entire filesystem from another stage.

`COPY --from=stage / /` copies the whole root filesystem of a stage over
the current one: the result is the other stage with extra steps, and the
layer duplicates it. Copy the directories you need.

Fails:

    FROM debian:12 AS build
    FROM debian:12
    COPY --from=build / /

Passes:

    FROM debian:12 AS build
    FROM debian:12
    COPY --from=build /usr/local/bin/ /usr/local/bin/
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3067"
MESSAGE: Final = "Do not copy an entire filesystem from another stage"


def _ok(inst: Instruction) -> bool:
    if inst.keyword != "copy" or inst.get_flag("from") is None:
        return True
    sources, target = c.copy_paths(inst)
    return not (any(c.drop_quotes(s) == "/" for s in sources) and c.drop_quotes(target) == "/")


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple(c.instructions(ctx), _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
