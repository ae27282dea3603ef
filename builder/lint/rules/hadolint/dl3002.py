"""DL3002: Last USER should not be root.

A container runs as the last USER of its stage. A compromised process
running as root controls everything in the container, and more with a
misconfigured runtime. Switch to root for the steps that need it, then
back to an unprivileged user. Each stage whose last USER is root
is reported, at that USER.

Fails:

    FROM debian:12
    USER root
    RUN apt-get update

Passes:

    FROM debian:12
    USER root
    RUN apt-get update
    USER app
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3002"
MESSAGE: Final = "Last USER should not be root"


def is_root(user: str) -> bool:
    return user in ("root", "0") or user.startswith(("root:", "0:"))


def check(ctx: LintContext) -> Iterator[Violation]:
    stage_line: int | None = None
    root_user_line: dict[int, int] = {}  # stage line -> line of its last `USER root`
    for inst in c.instructions(ctx):
        if inst.keyword == "from":
            stage_line = inst.start_line
        elif inst.keyword == "user" and stage_line is not None:
            if is_root(c.user_text(inst)):
                root_user_line[stage_line] = inst.start_line
            else:
                root_user_line.pop(stage_line, None)
    for line in root_user_line.values():
        yield Violation(line)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
