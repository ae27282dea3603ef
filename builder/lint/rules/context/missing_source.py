"""PB1001: a COPY/ADD source that is not in the build context.

BuildKit resolves a source against the context root (`../` cannot leave it,
a leading `/` means the root) and fails the build with `not found` when it is
missing. A wildcard source that matches nothing does not fail the build (the
instruction copies nothing), which is almost always a mistake too; the
common "optional file" idiom, a single trailing `*` (`COPY poetry.lock* ./`),
is left alone. Sources excluded by .dockerignore are PB1002's business;
`COPY --from`, ADD URLs and git sources, heredocs and sources whose variables
depend on build args are not checked.

Bad (no `requirements.txt` in the context)::

    FROM python:3.12-slim
    COPY requirements.txt /app/

Good::

    FROM python:3.12-slim
    COPY requirements.lock /app/
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.context.dockerignore import IgnoreMatcher
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.context._support import (
    ContextSource,
    context_dir,
    context_ignore,
    context_sources,
    glob_context,
)

CODE = "PB1001"


def _optional(path: str) -> bool:
    """`name*`: a single trailing star, the idiom for "copy it if it exists"."""
    return path.endswith("*") and path.count("*") == 1 and "?" not in path and "[" not in path


def _shown(source: ContextSource) -> str:
    if "$" in source.word:
        return f"'{source.word}' (resolves to '{source.path or '.'}')"
    return f"'{source.word}'"


def check(ctx: LintContext) -> Iterator[Violation]:
    root = context_dir(ctx)
    if root is None:
        return
    matcher = context_ignore(ctx) or IgnoreMatcher()
    for source in context_sources(ctx):
        if not source.path:
            continue
        line = source.inst.start_line
        if source.wildcard:
            if _optional(source.path):
                continue
            found = glob_context(root, source.path)
            if found == []:
                yield Violation(
                    line,
                    f"{source.verb} source {_shown(source)} matches nothing in the build "
                    "context, so the instruction copies nothing",
                )
            continue
        if matcher.matches(source.path) or (root / source.path).exists():
            continue
        yield Violation(
            line,
            f"{source.verb} source {_shown(source)} does not exist in the build context; "
            "the build fails with 'not found'",
        )


RULE = Rule(CODE, Severity.WARNING, "COPY/ADD source does not exist in the build context", check)
