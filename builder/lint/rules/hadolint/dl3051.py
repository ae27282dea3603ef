"""DL3051: Label `<label>` is empty.

A schema label set to the empty string says nothing; it usually comes
from an unset build argument.

Settings:

    label_schema: version=text

Fails:

    FROM debian:12
    LABEL version=""

Passes:

    FROM debian:12
    LABEL version="1.4.2"
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c
from builder.lint.rules.hadolint._labels import label_pairs, schema_labels

CODE: Final = "DL3051"
MESSAGE: Final = "Label `<label>` is empty."


def check(ctx: LintContext) -> Iterator[Violation]:
    for label in schema_labels(ctx):
        message = f"label `{label}` is empty."
        for line, pairs in label_pairs(ctx):
            if any(key == label and not value for key, value in pairs):
                yield Violation(line, message)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
