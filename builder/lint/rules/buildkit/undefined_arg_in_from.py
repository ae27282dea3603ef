"""UndefinedArgInFrom: a FROM line may only use ARGs declared before the first FROM.

FROM sees the predefined platform ARGs (`TARGETPLATFORM`, `BUILDARCH`...) and
the ARGs declared before the first FROM, nothing else: an ARG declared inside
a stage, or a typo, expands to an empty string.

Bad::

    FROM node:${NODE_VERSION}-alpine

Good::

    ARG NODE_VERSION=20
    FROM node:${NODE_VERSION}-alpine
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import docs_url, global_args, stage_views, suggest

NAME = "UndefinedArgInFrom"


def check(ctx: LintContext) -> Iterator[Violation]:
    gargs = global_args(ctx)
    for view in stage_views(ctx, gargs):
        names: list[str] = []
        for expansion in (view.base, view.platform):
            if expansion is None:
                continue
            for name in sorted(expansion.unmatched - gargs.declared):
                if name not in names:
                    names.append(name)
        for name in names:
            message = f"FROM argument '{name}' is not declared"
            hint = suggest(name, gargs.declared)
            if hint:
                message += f" (did you mean {hint}?)"
            yield Violation(view.stage.from_instruction.start_line, message)


RULE = Rule(NAME, Severity.WARNING, "FROM command must use declared ARGs", check, docs_url(NAME))
