"""DL4001: Either use Wget or Curl but not both.

Two tools that do the same job double what the image must install and
keep up to date. Once a stage has used both, each RUN that uses either
is reported.

Fails:

    FROM debian:12
    RUN curl -fsSLO https://example.com/a.tar.gz
    RUN wget -q https://example.com/b.tar.gz

Passes:

    FROM debian:12
    RUN curl -fsSLO https://example.com/a.tar.gz
    RUN curl -fsSLO https://example.com/b.tar.gz
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL4001"
MESSAGE: Final = "Either use Wget or Curl but not both"
TOOLS: Final = frozenset({"curl", "wget"})


def _check(sequence: Sequence[Instruction]) -> Iterator[Violation]:
    seen: set[str] = set()
    for inst in sequence:
        if inst.keyword == "from":
            seen.clear()
        elif inst.keyword == "run":
            used = {cmd.name for cmd in c.run_commands(inst)} & TOOLS
            seen |= used
            if used and len(seen) == 2:
                yield Violation(inst.start_line)


def check(ctx: LintContext) -> Iterator[Violation]:
    for sequence in c.with_onbuild(ctx):
        yield from _check(sequence)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
