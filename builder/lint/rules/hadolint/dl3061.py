"""DL3061: Invalid instruction order. Dockerfile must begin with FROM, ARG or comment.

Before the first FROM only ARG (and comments and parser directives) may
appear; Docker rejects anything else.

Fails:

    LABEL maintainer="team@example.com"
    FROM debian:12

Passes:

    ARG DEBIAN_TAG=12
    FROM debian:${DEBIAN_TAG}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3061"
MESSAGE: Final = "Invalid instruction order. Dockerfile must begin with `FROM`, `ARG` or comment."


def check(ctx: LintContext) -> Iterator[Violation]:
    for inst in c.instructions(ctx):
        if inst.keyword == "from":
            return
        if inst.keyword != "arg":
            yield Violation(inst.start_line)


RULE: Final = Rule(CODE, Severity.ERROR, MESSAGE, check, c.url(CODE))
