"""DL3055: Label `<label>` is not a valid git hash.

A revision label must be a short (7 characters) or full (40 characters)
lower-case git commit hash, not a branch or tag that moves.

Settings:

    label_schema: git-revision=hash

Fails:

    FROM debian:12
    LABEL git-revision="main"

Passes:

    FROM debian:12
    LABEL git-revision="0b1f4c2"
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c
from builder.lint.rules.hadolint._labels import check_values

CODE: Final = "DL3055"
MESSAGE: Final = "Label `<label>` is not a valid git hash."
TAIL: Final = "is not a valid git hash."


def check(ctx: LintContext) -> Iterator[Violation]:
    return check_values(ctx, "hash", lambda label: f"Label `{label}` {TAIL}")


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
