"""FromPlatformFlagConstDisallowed: `FROM --platform` should not be a constant.

A constant platform pins the stage to one architecture whatever the build
targets, so a multi-platform build quietly produces the wrong binaries. Use
`$BUILDPLATFORM` / `$TARGETPLATFORM`. A stage whose name mentions the
platform's OS or architecture (`AS build-arm64`) is taken as deliberate.

Bad::

    FROM --platform=linux/amd64 golang:1.22 AS builder

Good::

    FROM --platform=$BUILDPLATFORM golang:1.22 AS builder
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.dockerfile.text import go_quote
from builder.image.platform import parse_platform
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import docs_url, global_args, stage_views

NAME = "FromPlatformFlagConstDisallowed"


def check(ctx: LintContext) -> Iterator[Violation]:
    for view in stage_views(ctx, global_args(ctx)):
        platform = view.platform
        if platform is None or platform.value is None or platform.matched or platform.unmatched:
            continue
        try:
            parsed = parse_platform(platform.value)
        except ValueError:
            continue  # the build fails on it anyway
        name = view.stage.name or ""
        if parsed.os in name or parsed.architecture in name:
            continue
        yield Violation(
            view.stage.from_instruction.start_line,
            f"FROM --platform flag should not use constant value {go_quote(platform.value)}",
        )


RULE = Rule(
    NAME,
    Severity.WARNING,
    "FROM --platform flag should not use a constant value",
    check,
    docs_url(NAME),
)
