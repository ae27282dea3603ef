"""DL3021: COPY with more than 2 arguments requires the last argument to end with /.

With several sources the destination must be a directory, and the build
fails unless it is written with a trailing slash.

Fails:

    FROM debian:12
    COPY app.py lib.py /opt/app

Passes:

    FROM debian:12
    COPY app.py lib.py /opt/app/
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3021"
MESSAGE: Final = "COPY with more than 2 arguments requires the last argument to end with /"


def _ok(inst: Instruction) -> bool:
    if inst.keyword != "copy":
        return True
    sources, target = c.copy_paths(inst)
    return len(sources) <= 1 or c.drop_quotes(target).endswith("/")


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple(c.instructions(ctx), _ok)


RULE: Final = Rule(CODE, Severity.ERROR, MESSAGE, check, c.url(CODE))
