"""MaintainerDeprecated: use a label instead of MAINTAINER.

MAINTAINER only sets the image's `author` field; the OCI annotation
`org.opencontainers.image.authors` is the supported way.

Bad::

    MAINTAINER Jane <jane@example.com>

Good::

    LABEL org.opencontainers.image.authors="jane@example.com"
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import docs_url

NAME = "MaintainerDeprecated"


def check(ctx: LintContext) -> Iterator[Violation]:
    for inst in ctx.dockerfile.instructions:
        if inst.keyword == "maintainer":
            yield Violation(
                inst.start_line, "Maintainer instruction is deprecated in favor of using label"
            )


RULE = Rule(
    NAME,
    Severity.WARNING,
    "The MAINTAINER instruction is deprecated, use a label instead to define an image author",
    check,
    docs_url(NAME),
)
