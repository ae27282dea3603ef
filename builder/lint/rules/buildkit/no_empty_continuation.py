"""NoEmptyContinuation: no empty lines inside a continued instruction.

An empty line after a trailing `\\` is silently dropped today; BuildKit warns
that it will become an error. The warning points at the last line of the
instruction, as BuildKit's does.

Bad::

    RUN apk add \\

        gnupg

Good::

    RUN apk add \\
        gnupg
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import docs_url, logical_end_line

NAME = "NoEmptyContinuation"


def check(ctx: LintContext) -> Iterator[Violation]:
    for inst in ctx.dockerfile.instructions:
        if inst.empty_continuation_lines:
            yield Violation(logical_end_line(inst), "Empty continuation line")


RULE = Rule(
    NAME,
    Severity.WARNING,
    "Empty continuation lines will become errors in a future release",
    check,
    docs_url(NAME),
)
