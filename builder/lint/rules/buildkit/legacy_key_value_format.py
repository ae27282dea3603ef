"""LegacyKeyValueFormat: write `ENV key=value`, not `ENV key value`.

The space-separated form sets one variable to the whole rest of the line,
which surprises readers (`ENV A 1 B 2` sets `A` to `1 B 2`).

Bad::

    FROM alpine
    ENV DEBUG true

Good::

    FROM alpine
    ENV DEBUG=true
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import docs_url

NAME = "LegacyKeyValueFormat"


def check(ctx: LintContext) -> Iterator[Violation]:
    for stage in ctx.stages:
        for inst in stage.instructions:
            if inst.keyword not in ("env", "label"):
                continue
            if any(kv.separator == "" for kv in inst.key_values):
                word = inst.written_keyword
                yield Violation(
                    inst.start_line,
                    f'"{word} key=value" should be used instead of legacy "{word} key value" '
                    "format",
                )


RULE = Rule(
    NAME,
    Severity.WARNING,
    "Legacy key/value format with whitespace separator should not be used",
    check,
    docs_url(NAME),
)
