"""DL3059: Multiple consecutive RUN instructions. Consider consolidation.

Each RUN makes a layer. Two RUNs in a row that each run a single command
are usually one step split in two, and cost a layer (and a cache entry).
A RUN that chains several commands, and RUNs with different flags
(mounts, network), are left alone: those splits look deliberate.

Fails:

    FROM debian:12
    RUN mkdir -p /app
    RUN chown nobody /app

Passes:

    FROM debian:12
    RUN mkdir -p /app && chown nobody /app
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3059"
MESSAGE: Final = "Multiple consecutive `RUN` instructions. Consider consolidation."


def check(ctx: LintContext) -> Iterator[Violation]:
    previous: tuple[c.RunFlags, int] | None = None  # the RUN before, if the last instruction
    for inst in c.instructions(ctx):
        if inst.keyword != "run":
            previous = None
            continue
        flags = c.run_flags(inst)
        count = len(c.run_commands(inst))
        if previous is not None and previous[0] == flags and count <= 1 and previous[1] <= 1:
            yield Violation(inst.start_line)
        else:
            previous = (flags, count)


RULE: Final = Rule(CODE, Severity.INFO, MESSAGE, check, c.url(CODE))
