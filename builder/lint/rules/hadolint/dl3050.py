"""DL3050: Superfluous label(s) present.

With `strict_labels` on, a LABEL may only set labels of the label schema
(with an empty schema, no label at all).

Settings:

    label_schema: maintainer=text
    strict_labels: true

Fails:

    FROM debian:12
    LABEL maintainer="team@example.com" build-host=ci-7

Passes:

    FROM debian:12
    LABEL maintainer="team@example.com"
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c
from builder.lint.rules.hadolint._labels import label_pairs

CODE: Final = "DL3050"
MESSAGE: Final = "Superfluous label(s) present."


def check(ctx: LintContext) -> Iterator[Violation]:
    if not ctx.settings.strict_labels:
        return
    schema = ctx.settings.label_schema
    for line, pairs in label_pairs(ctx):
        if any(key not in schema for key, _ in pairs):
            yield Violation(line)


RULE: Final = Rule(CODE, Severity.INFO, MESSAGE, check, c.url(CODE))
