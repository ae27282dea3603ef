"""DL3012: Multiple HEALTHCHECK instructions.

Only the last HEALTHCHECK of a stage takes effect; the others are dead
text that a reader may take for the real check. Every HEALTHCHECK after
the first of its stage is reported.

Fails:

    FROM debian:12
    HEALTHCHECK CMD ["curl", "-f", "http://localhost/"]
    HEALTHCHECK CMD ["wget", "-q", "http://localhost/"]

Passes:

    FROM debian:12
    HEALTHCHECK CMD ["curl", "-f", "http://localhost/"]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3012"
MESSAGE: Final = "Multiple `HEALTHCHECK` instructions"


def check(ctx: LintContext) -> Iterator[Violation]:
    seen = False
    for inst in c.instructions(ctx):
        if inst.keyword == "from":
            seen = False
        elif inst.keyword == "healthcheck":
            if seen:
                yield Violation(inst.start_line)
            seen = True


RULE: Final = Rule(CODE, Severity.ERROR, MESSAGE, check, c.url(CODE))
