"""DL4004: Multiple ENTRYPOINT instructions found.

Only the last ENTRYPOINT of a stage takes effect; the earlier ones are
dead text. Every ENTRYPOINT after the first of its stage is reported.

Fails:

    FROM debian:12
    ENTRYPOINT ["/bin/sh"]
    ENTRYPOINT ["/usr/local/bin/app"]

Passes:

    FROM debian:12
    ENTRYPOINT ["/usr/local/bin/app"]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c
from builder.lint.rules.hadolint.dl4003 import repeated

CODE: Final = "DL4004"
MESSAGE: Final = (
    "Multiple `ENTRYPOINT` instructions found. "
    "If you list more than one `ENTRYPOINT` then only the last `ENTRYPOINT` will take effect"
)


def check(ctx: LintContext) -> Iterator[Violation]:
    return repeated(ctx, "entrypoint")


RULE: Final = Rule(CODE, Severity.ERROR, MESSAGE, check, c.url(CODE))
