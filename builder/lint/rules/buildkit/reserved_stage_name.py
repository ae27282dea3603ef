"""ReservedStageName: `scratch` and `context` are not stage names.

`scratch` is the empty image and `context` names the build context in
`--build-context`; a stage with either name shadows them.

Bad::

    FROM alpine AS scratch

Good::

    FROM alpine AS base
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.dockerfile.text import go_quote
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import docs_url

NAME = "ReservedStageName"
RESERVED = frozenset({"context", "scratch"})


def check(ctx: LintContext) -> Iterator[Violation]:
    for stage in ctx.stages:
        if stage.name in RESERVED:
            yield Violation(
                stage.from_instruction.start_line,
                "Stage name should not use the same name as reserved stage " + go_quote(stage.name),
            )


RULE = Rule(
    NAME,
    Severity.WARNING,
    "Reserved words should not be used as stage names",
    check,
    docs_url(NAME),
)
