"""RedundantTargetPlatform: `FROM --platform=$TARGETPLATFORM` is the default.

Every stage is built for the target platform unless told otherwise, so the
flag adds nothing. (`--platform=$BUILDPLATFORM` is the useful one: it runs a
stage natively for cross-compiling.)

Bad::

    FROM --platform=$TARGETPLATFORM alpine

Good::

    FROM alpine
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import docs_url, global_args, stage_views

NAME = "RedundantTargetPlatform"


def check(ctx: LintContext) -> Iterator[Violation]:
    gargs = global_args(ctx)
    for view in stage_views(ctx, gargs):
        platform = view.platform
        if platform is None or platform.value is None or platform.unmatched:
            continue
        if platform.matched == {"TARGETPLATFORM"} and platform.value == gargs.values.get(
            "TARGETPLATFORM"
        ):
            flag = view.stage.from_instruction.get_flag("platform")
            yield Violation(
                view.stage.from_instruction.start_line,
                f"Setting platform to predefined {flag} in FROM is redundant as this is the "
                "default behavior",
            )


RULE = Rule(
    NAME,
    Severity.WARNING,
    "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the "
    "default behavior",
    check,
    docs_url(NAME),
)
