"""DL3052: Label `<label>` is not a valid URL.

A URL label must hold an absolute URI (with a scheme, such as `https:`) so
that tools can follow it.

Settings:

    label_schema: documentation=url

Fails:

    FROM debian:12
    LABEL documentation="docs.example.com"

Passes:

    FROM debian:12
    LABEL documentation="https://docs.example.com/app"
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c
from builder.lint.rules.hadolint._labels import check_values

CODE: Final = "DL3052"
MESSAGE: Final = "Label `<label>` is not a valid URL."
TAIL: Final = "is not a valid URL."


def check(ctx: LintContext) -> Iterator[Violation]:
    return check_values(ctx, "url", lambda label: f"Label `{label}` {TAIL}")


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
