"""DL3053: Label `<label>` is not a valid time format - must conform to RFC3339.

A time label must be an RFC 3339 timestamp, with date, time and time zone,
so that tools can compare it.

Settings:

    label_schema: created=rfc3339

Fails:

    FROM debian:12
    LABEL created="2024-05-01 12:00"

Passes:

    FROM debian:12
    LABEL created="2024-05-01T12:00:00Z"
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c
from builder.lint.rules.hadolint._labels import check_values

CODE: Final = "DL3053"
MESSAGE: Final = "Label `<label>` is not a valid time format - must conform to RFC3339."
TAIL: Final = "is not a valid time format - must conform to RFC3339."


def check(ctx: LintContext) -> Iterator[Violation]:
    return check_values(ctx, "rfc3339", lambda label: f"Label `{label}` {TAIL}")


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
