"""DL3023: COPY --from cannot reference its own FROM alias.

A stage cannot copy from itself: the reference is either a mistake for
another stage or makes BuildKit look for an image of that name.

Fails:

    FROM debian:12 AS app
    COPY --from=app /etc/hosts /tmp/

Passes:

    FROM debian:12 AS base
    FROM debian:12 AS app
    COPY --from=base /etc/hosts /tmp/
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3023"
MESSAGE: Final = "`COPY --from` cannot reference its own `FROM` alias"


def check(ctx: LintContext) -> Iterator[Violation]:
    alias: str | None = None
    for inst in c.instructions(ctx):
        if inst.keyword == "from":
            alias = c.base_image(inst).alias
        elif inst.keyword == "copy" and alias is not None and inst.get_flag("from") == alias:
            yield Violation(inst.start_line)


RULE: Final = Rule(CODE, Severity.ERROR, MESSAGE, check, c.url(CODE))
