"""DL3024: FROM aliases (stage names) must be unique.

`COPY --from=name` and `FROM name` pick one of the stages with that name;
which one is not what the reader expects. Each repeated name is reported
at the later FROM.

Fails:

    FROM debian:12 AS build
    FROM debian:12 AS build

Passes:

    FROM debian:12 AS build
    FROM debian:12 AS test
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3024"
MESSAGE: Final = "FROM aliases (stage names) must be unique"


def check(ctx: LintContext) -> Iterator[Violation]:
    seen: set[str] = set()
    for inst in c.instructions(ctx):
        if inst.keyword != "from":
            continue
        alias = c.base_image(inst).alias
        if alias is None:
            continue
        if alias in seen:
            yield Violation(inst.start_line)
        seen.add(alias)


RULE: Final = Rule(CODE, Severity.ERROR, MESSAGE, check, c.url(CODE))
