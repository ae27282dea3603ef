"""DL4003: Multiple CMD instructions found.

Only the last CMD of a stage takes effect; the earlier ones are dead text.
Every CMD after the first of its stage is reported.

Fails:

    FROM debian:12
    CMD ["nginx"]
    CMD ["nginx", "-g", "daemon off;"]

Passes:

    FROM debian:12
    CMD ["nginx", "-g", "daemon off;"]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL4003"
MESSAGE: Final = (
    "Multiple `CMD` instructions found. "
    "If you list more than one `CMD` then only the last `CMD` will take effect"
)


def repeated(ctx: LintContext, keyword: str) -> Iterator[Violation]:
    """Every `keyword` instruction after the first of its stage."""
    seen = False
    for inst in c.instructions(ctx):
        if inst.keyword == "from":
            seen = False
        elif inst.keyword == keyword:
            if seen:
                yield Violation(inst.start_line)
            seen = True


def check(ctx: LintContext) -> Iterator[Violation]:
    return repeated(ctx, "cmd")


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
