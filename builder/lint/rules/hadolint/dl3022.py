"""DL3022: COPY --from should reference a previously defined FROM alias.

`COPY --from=name` copies from the stage called `name`; when no earlier
stage has that name, BuildKit pulls an image of that name instead, which
is rarely what a typo meant. Image references (with a `:`) and stage
numbers below the current stage count are accepted.

Fails:

    FROM golang:1.22 AS build
    FROM debian:12
    COPY --from=biuld /out/app /usr/local/bin/

Passes:

    FROM golang:1.22 AS build
    FROM debian:12
    COPY --from=build /out/app /usr/local/bin/
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3022"
MESSAGE: Final = "`COPY --from` should reference a previously defined `FROM` alias"


def check(ctx: LintContext) -> Iterator[Violation]:
    stages = 0
    names: set[str] = set()
    for inst in c.instructions(ctx):
        if inst.keyword == "from":
            stages += 1
            alias = c.base_image(inst).alias
            if alias is not None:
                names.add(alias)
        elif inst.keyword == "copy":
            source = inst.get_flag("from")
            if source is None or ":" in c.drop_quotes(source) or source in names:
                continue
            digits = ""
            for char in source:
                if not char.isascii() or not char.isdigit():
                    break
                digits += char
            if digits and int(digits) < stages:
                continue
            yield Violation(inst.start_line)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
