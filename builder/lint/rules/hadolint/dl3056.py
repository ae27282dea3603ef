"""DL3056: Label `<label>` does not conform to semantic versioning.

A version label must be a semantic version, `MAJOR.MINOR.PATCH` with
optional pre-release and build parts.

Settings:

    label_schema: version=semver

Fails:

    FROM debian:12
    LABEL version="v1.4"

Passes:

    FROM debian:12
    LABEL version="1.4.2"
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c
from builder.lint.rules.hadolint._labels import check_values

CODE: Final = "DL3056"
MESSAGE: Final = "Label `<label>` does not conform to semantic versioning."
TAIL: Final = "does not conform to semantic versioning."


def check(ctx: LintContext) -> Iterator[Violation]:
    return check_values(ctx, "semver", lambda label: f"Label `{label}` {TAIL}")


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
