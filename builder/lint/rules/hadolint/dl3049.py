"""DL3049: Label `<label>` is missing.

With a label schema configured, every stage that ends up in an image must
set each schema label, itself or through the stage it builds on. Stages
only used by `COPY --from` in a stage that has the label are not reported.
The FROM of each stage missing the label is reported.

Settings:

    label_schema: maintainer=text

Fails:

    FROM debian:12

Passes:

    FROM debian:12
    LABEL maintainer="team@example.com"
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c
from builder.lint.rules.hadolint._labels import schema_labels

CODE: Final = "DL3049"
MESSAGE: Final = "Label `<label>` is missing."


@dataclass(frozen=True)
class _Stage:
    image: c.BaseImage
    line: int

    @property
    def name(self) -> str:
        return self.image.alias if self.image.alias is not None else self.image.name


def _missing(ctx: LintContext, label: str) -> Iterator[int]:
    current: _Stage | None = None
    good: list[_Stage] = []
    bad: list[_Stage] = []

    def silence(name: str) -> None:
        bad[:] = [s for s in bad if s.image.alias != name]

    for inst in c.instructions(ctx):
        if inst.keyword == "from":
            stage = _Stage(c.base_image(inst), inst.start_line)
            inherits = current is not None and any(g.image.alias == stage.image.name for g in good)
            (good if inherits else bad).append(stage)
            current = stage
        elif current is None:
            continue
        elif inst.keyword == "copy" and inst.get_flag("from") is not None:
            silence(inst.get_flag("from") or "")
        elif inst.keyword == "label" and any(k == label for k, _ in c.pairs(inst)):
            silence(current.name)
            good.append(current)
            bad[:] = [s for s in bad if s != current]
    for stage in bad:
        yield stage.line


def check(ctx: LintContext) -> Iterator[Violation]:
    for label in schema_labels(ctx):
        message = f"Label `{label}` is missing."
        for line in sorted(set(_missing(ctx, label))):
            yield Violation(line, message)


RULE: Final = Rule(CODE, Severity.INFO, MESSAGE, check, c.url(CODE))
