"""CopyIgnoredFile (experimental): do not COPY or ADD what .dockerignore excludes.

An excluded file is never sent to the builder, so copying it fails (or,
through a wildcard, silently copies nothing). Like BuildKit this check is
experimental: it runs only with `# check=experimental=CopyIgnoredFile` (or
`all`), only with a build context (`--context DIR`), and not at all when the
ignore file has `!` exceptions, which BuildKit cannot judge statically.
The context rule PB1002 reports the same mistake, exceptions included.

Bad (with `.dockerignore` holding `*.env`)::

    FROM alpine
    COPY prod.env /etc/app/

Good::

    FROM alpine
    COPY config/ /etc/app/
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.context.dockerignore import go_clean
from builder.dockerfile.text import go_quote
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import (
    context_ignore,
    copy_sources,
    docs_url,
    expand,
    experimental_enabled,
    is_remote_source,
    walk_stages,
)

NAME = "CopyIgnoredFile"


def check(ctx: LintContext) -> Iterator[Violation]:
    if not experimental_enabled(ctx, NAME):
        return
    matcher = context_ignore(ctx)
    if matcher is None or not matcher.patterns or matcher.has_exceptions:
        return
    for _, steps in walk_stages(ctx):
        for step in steps:
            inst = step.inst
            if inst.keyword == "copy" and inst.get_flag("from") is None:
                verb = "Copy"
            elif inst.keyword == "add":
                verb = "Add"
            else:
                continue
            for word in copy_sources(inst):
                value = expand(ctx.dockerfile, word, step.env).value
                if value is None or (verb == "Add" and is_remote_source(value)):
                    continue
                source = go_clean(value)
                if matcher.matches(source):
                    yield Violation(
                        inst.start_line,
                        f"Attempting to {verb} file {go_quote(source)} that is excluded by "
                        ".dockerignore",
                    )


RULE = Rule(
    NAME,
    Severity.WARNING,
    "Attempting to Copy file that is excluded by .dockerignore",
    check,
    docs_url(NAME),
)
