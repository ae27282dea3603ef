"""StageNameCasing: stage names should be lowercase.

BuildKit lower-cases a stage name before it looks it up, so `AS Builder` and
`COPY --from=builder` name the same stage. Writing names in lower case keeps
the file consistent with how they are resolved.

Bad::

    FROM alpine AS BuilderBase

Good::

    FROM alpine AS builder-base
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import docs_url

NAME = "StageNameCasing"


def check(ctx: LintContext) -> Iterator[Violation]:
    for stage in ctx.stages:
        args = stage.from_instruction.args
        if len(args) == 3 and args[2] != args[2].lower():
            yield Violation(
                stage.from_instruction.start_line, f"Stage name '{args[2]}' should be lowercase"
            )


RULE = Rule(NAME, Severity.WARNING, "Stage names should be lowercase", check, docs_url(NAME))
