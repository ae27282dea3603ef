"""DuplicateStageName: every stage name must be unique.

Names are compared case-insensitively. With two stages called `build`,
`COPY --from=build` and `--target build` can only reach one of them.

Bad::

    FROM debian:12 AS builder
    FROM golang:1.22 AS builder

Good::

    FROM debian:12 AS deb-builder
    FROM golang:1.22 AS go-builder
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.dockerfile.text import go_quote
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import docs_url

NAME = "DuplicateStageName"


def check(ctx: LintContext) -> Iterator[Violation]:
    seen: set[str] = set()
    for stage in ctx.stages:
        if not stage.name:
            continue
        if stage.name in seen:
            yield Violation(
                stage.from_instruction.start_line,
                f"Duplicate stage name {go_quote(stage.name)}, stage names should be unique",
            )
        seen.add(stage.name)


RULE = Rule(NAME, Severity.WARNING, "Stage names should be unique", check, docs_url(NAME))
