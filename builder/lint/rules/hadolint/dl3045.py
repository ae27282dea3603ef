"""DL3045: COPY to a relative destination without WORKDIR set.

A relative COPY destination is resolved against the working directory,
which comes from the base image when the stage has not set one: the files
land where the base image's author decided. Set WORKDIR first (in the
stage or the stage it builds on), or use an absolute destination.

Fails:

    FROM debian:12
    COPY app.py app/

Passes:

    FROM debian:12
    WORKDIR /opt
    COPY app.py app/
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c
from builder.lint.rules.hadolint.dl3000 import is_windows_absolute

CODE: Final = "DL3045"
MESSAGE: Final = "`COPY` to a relative destination without `WORKDIR` set."


def check(ctx: LintContext) -> Iterator[Violation]:
    workdir = c.InheritedStageFlag()  # WORKDIR set in the stage
    for inst in c.instructions(ctx):
        if inst.keyword == "from":
            workdir.enter(inst)
        elif inst.keyword == "workdir":
            workdir.set()
        elif inst.keyword == "copy":
            if workdir.is_set():
                continue
            dest = c.drop_quotes(c.copy_paths(inst)[1])
            if dest.startswith(("/", "$")) or is_windows_absolute(dest):
                continue
            yield Violation(inst.start_line)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
