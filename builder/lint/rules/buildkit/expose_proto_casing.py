"""ExposeProtoCasing: write EXPOSE protocols in lower case.

`EXPOSE 80/TCP` works, but the image config stores `80/tcp`; writing it that
way keeps the Dockerfile and the image in agreement.

Bad::

    FROM alpine
    EXPOSE 80/TcP

Good::

    FROM alpine
    EXPOSE 80/tcp
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import docs_url
from builder.lint.rules.buildkit._expose import port_specs

NAME = "ExposeProtoCasing"


def check(ctx: LintContext) -> Iterator[Violation]:
    for spec in port_specs(ctx):
        if spec.protocol != spec.protocol.lower():
            yield Violation(
                spec.line,
                f"Defined protocol '{spec.raw}' in EXPOSE instruction should be lowercase",
            )


RULE = Rule(
    NAME,
    Severity.WARNING,
    "Protocol in EXPOSE instruction should be lowercase",
    check,
    docs_url(NAME),
)
