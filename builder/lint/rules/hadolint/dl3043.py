"""DL3043: ONBUILD, FROM or MAINTAINER triggered from within ONBUILD.

Docker does not accept these as ONBUILD triggers: the build fails.

Fails:

    FROM debian:12
    ONBUILD FROM alpine:3.20

Passes:

    FROM debian:12
    ONBUILD COPY . /app/
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3043"
MESSAGE: Final = "`ONBUILD`, `FROM` or `MAINTAINER` triggered from within `ONBUILD` instruction."


def _ok(inst: Instruction) -> bool:
    return inst.sub_keyword not in ("onbuild", "from", "maintainer")


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple(c.instructions(ctx), _ok)


RULE: Final = Rule(CODE, Severity.ERROR, MESSAGE, check, c.url(CODE))
