"""WorkdirRelativePath: the first WORKDIR of a build should be absolute.

A relative WORKDIR is resolved against the base image's working directory,
which can change when the image is updated. Only the first WORKDIR of a stage
(and of the stages it builds on) is checked: later relative ones are
relative to a directory this Dockerfile chose.

Bad::

    FROM alpine
    WORKDIR app

Good::

    FROM alpine
    WORKDIR /app
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from builder.dockerfile.text import go_quote
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import docs_url, expand, walk_stages

NAME = "WorkdirRelativePath"
#: Absolute on Linux, or on Windows (`C:\\app`, `\\app`) for Windows stages.
_ABSOLUTE = re.compile(r"^(?:/|\\|[A-Za-z]:[\\/])")


def check(ctx: LintContext) -> Iterator[Violation]:
    for _, steps in walk_stages(ctx):
        for step in steps:
            inst = step.inst
            if inst.keyword != "workdir" or step.workdir_set or not inst.args:
                continue
            path = expand(ctx.dockerfile, inst.args[0], step.env).value
            if path is None:
                path = inst.args[0]
            if not _ABSOLUTE.match(path):
                yield Violation(
                    inst.start_line,
                    f"Relative workdir {go_quote(path)} can have unexpected results if the base "
                    "image changes",
                )


RULE = Rule(
    NAME,
    Severity.WARNING,
    "Relative workdir without an absolute workdir declared within the build can have "
    "unexpected results if the base image changes",
    check,
    docs_url(NAME),
)
