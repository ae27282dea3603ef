"""DL3058: Label `<label>` is not a valid email format - must conform to RFC5322.

An e-mail label must hold an RFC 5322 address so that tools can write to it.

Settings:

    label_schema: maintainer=email

Fails:

    FROM debian:12
    LABEL maintainer="team at example.com"

Passes:

    FROM debian:12
    LABEL maintainer="team@example.com"
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c
from builder.lint.rules.hadolint._labels import check_values

CODE: Final = "DL3058"
MESSAGE: Final = "Label `<label>` is not a valid email format - must conform to RFC5322."
TAIL: Final = "is not a valid email format - must conform to RFC5322."


def check(ctx: LintContext) -> Iterator[Violation]:
    return check_values(ctx, "email", lambda label: f"Label `{label}` {TAIL}")


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
