"""DL3006: Always tag the version of an image explicitly.

An untagged image means `latest`, whatever that is on the day of the
build. Exempt: `scratch`, images pinned by digest, images named by a
variable, and earlier stages used as a base.

Fails:

    FROM debian

Passes:

    FROM debian:12 AS base
    FROM base
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3006"
MESSAGE: Final = "Always tag the version of an image explicitly"


def check(ctx: LintContext) -> Iterator[Violation]:
    aliases: set[str] = set()
    for inst in c.instructions(ctx):
        if inst.keyword != "from":
            continue
        image = c.base_image(inst)
        ok = (
            image.name == "scratch"
            or image.digest is not None
            or image.tag is not None
            or image.name.startswith("$")
            or image.name in aliases
        )
        if image.alias is not None:
            aliases.add(image.alias)
        if not ok:
            yield Violation(inst.start_line)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
