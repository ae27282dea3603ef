"""InvalidDefaultArgInFrom: FROM must name a valid image with the ARG defaults.

When a build runs without `--build-arg`, the defaults of the ARGs before the
first FROM must produce a valid image reference: `ARG TAG` with no default
turns `FROM alpine:${TAG}` into `alpine:`, which fails. Only FROM lines that
use a variable are checked (a literal bad name is a parse error already).

Bad::

    ARG TAG
    FROM busybox:${TAG}

Good::

    ARG TAG=1.36
    FROM busybox:${TAG}
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.image.reference import parse_reference
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import (
    docs_url,
    global_args,
    stage_name_words,
    stage_views,
)

NAME = "InvalidDefaultArgInFrom"


def check(ctx: LintContext) -> Iterator[Violation]:
    gargs = global_args(ctx)
    if not gargs.valid:
        return
    for view in stage_views(ctx, gargs):
        raw, _ = stage_name_words(view.stage)
        if "$" not in raw:
            continue
        if view.base.value is None:
            return  # BuildKit gives up on this check when a FROM cannot be expanded
        try:
            parse_reference(view.base.value)
        except ValueError:
            yield Violation(
                view.stage.from_instruction.start_line,
                f"Default value for ARG {raw} results in empty or invalid base image name",
            )


RULE = Rule(
    NAME,
    Severity.WARNING,
    "Default value for global ARG results in an empty or invalid base image name",
    check,
    docs_url(NAME),
)
