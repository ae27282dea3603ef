"""DL3057: HEALTHCHECK instruction missing.

Off by default, as in hadolint. Without a HEALTHCHECK the runtime only
knows whether the main process is alive, not whether it still serves. A
stage counts as checked when it, or a stage it builds on, has a
HEALTHCHECK; the FROM of every unchecked stage is reported.

Fails:

    FROM nginx:1.27

Passes:

    FROM nginx:1.27
    HEALTHCHECK CMD ["curl", "-f", "http://localhost/"]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3057"
MESSAGE: Final = "`HEALTHCHECK` instruction missing."


@dataclass(frozen=True)
class _Stage:
    source: str  #: the image it builds on
    name: str  #: alias, else image name
    line: int


def _built_on(bad: set[_Stage], stage: _Stage) -> set[_Stage]:
    """The unchecked stages built (directly or not) on `stage`'s image name."""
    found: set[_Stage] = set()
    frontier = [stage]
    remaining = set(bad)
    while frontier:
        current = frontier.pop()
        children = {b for b in remaining if b.name == current.source}
        remaining -= children
        found |= children
        frontier.extend(children)
    return found


def check(ctx: LintContext) -> Iterator[Violation]:
    current: _Stage | None = None
    good: set[_Stage] = set()
    bad: set[_Stage] = set()
    for inst in c.instructions(ctx):
        if inst.keyword == "from":
            image = c.base_image(inst)
            name = image.alias if image.alias is not None else image.name
            stage = _Stage(image.name, name, inst.start_line)
            if current is not None and any(g.name == image.name for g in good):
                good.add(stage)
            else:
                bad.add(stage)
            current = stage
        elif inst.keyword == "healthcheck" and current is not None:
            healed = _built_on(bad, current)
            good |= healed | {current}
            bad -= healed | {current}
    for stage in sorted(bad, key=lambda s: s.line):
        yield Violation(stage.line)


RULE: Final = Rule(CODE, Severity.IGNORE, MESSAGE, check, c.url(CODE))
