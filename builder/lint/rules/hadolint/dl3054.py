"""DL3054: Label `<label>` is not a valid SPDX identifier.

A license label must be one SPDX license identifier (`MIT`, `Apache-2.0`),
spelled as SPDX does, so that license scanners recognize it.

Settings:

    label_schema: license=spdx

Fails:

    FROM debian:12
    LABEL license="Apache 2"

Passes:

    FROM debian:12
    LABEL license="Apache-2.0"
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c
from builder.lint.rules.hadolint._labels import check_values

CODE: Final = "DL3054"
MESSAGE: Final = "Label `<label>` is not a valid SPDX identifier."
TAIL: Final = "is not a valid SPDX identifier."


def check(ctx: LintContext) -> Iterator[Violation]:
    return check_values(ctx, "spdx", lambda label: f"Label `{label}` {TAIL}")


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
