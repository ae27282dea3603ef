"""DL4000: MAINTAINER is deprecated.

MAINTAINER sets a field that the image specification no longer has. Use
a label, such as `org.opencontainers.image.authors`.

Fails:

    FROM debian:12
    MAINTAINER team@example.com

Passes:

    FROM debian:12
    LABEL org.opencontainers.image.authors="team@example.com"
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL4000"
MESSAGE: Final = "MAINTAINER is deprecated"


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple(c.instructions(ctx), lambda inst: inst.keyword != "maintainer")


RULE: Final = Rule(CODE, Severity.ERROR, MESSAGE, check, c.url(CODE))
