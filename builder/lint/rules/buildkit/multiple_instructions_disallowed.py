"""MultipleInstructionsDisallowed: one CMD, ENTRYPOINT and HEALTHCHECK per stage.

Only the last one of each takes effect; the earlier ones are dead code that
misleads readers. The finding points at the instruction that is ignored.

Bad::

    FROM alpine
    CMD ["echo", "one"]
    CMD ["echo", "two"]

Good::

    FROM alpine
    CMD ["echo", "two"]
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import docs_url

NAME = "MultipleInstructionsDisallowed"
ONCE = ("cmd", "entrypoint", "healthcheck")


def check(ctx: LintContext) -> Iterator[Violation]:
    for stage in ctx.stages:
        last: dict[str, Instruction] = {}
        for inst in stage.instructions:
            if inst.keyword not in ONCE:
                continue
            previous = last.get(inst.keyword)
            if previous is not None:
                yield Violation(
                    previous.start_line,
                    f"Multiple {inst.written_keyword} instructions should not be used in the same "
                    "stage because only the last one will be used",
                )
            last[inst.keyword] = inst


RULE = Rule(
    NAME,
    Severity.WARNING,
    "Multiple instructions of the same type should not be used in the same stage",
    check,
    docs_url(NAME),
)
