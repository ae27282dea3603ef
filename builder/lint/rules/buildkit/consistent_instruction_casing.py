"""ConsistentInstructionCasing: write every instruction in the same case.

Instructions are case-insensitive, but a file that mixes `RUN` and `run` is
harder to read. The majority case of the file's instructions wins (upper case
on a tie); an instruction written in mixed case (`Run`) is always reported.
ARG lines before the first FROM are not counted, as in BuildKit.

Bad::

    FROM alpine
    run echo hello

Good::

    FROM alpine
    RUN echo hello
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import docs_url

NAME = "ConsistentInstructionCasing"


def _instructions(ctx: LintContext) -> list[Instruction]:
    out: list[Instruction] = []
    for stage in ctx.stages:
        out.append(stage.from_instruction)
        out.extend(stage.instructions)
    return [inst for inst in out if inst.is_known]


def check(ctx: LintContext) -> Iterator[Violation]:
    instructions = _instructions(ctx)
    lower = upper = 0
    for inst in instructions:
        word = inst.written_keyword
        if word == word.lower():
            lower += 1
        elif word == word.upper():
            upper += 1
    majority_lower = lower > upper
    for inst in instructions:
        word = inst.written_keyword
        if majority_lower and word != word.lower():
            casing = "lowercase"
        elif not majority_lower and word != word.upper():
            casing = "uppercase"
        else:
            continue
        yield Violation(
            inst.start_line,
            f"Command '{word}' should match the case of the command majority ({casing})",
        )


RULE = Rule(
    NAME,
    Severity.WARNING,
    "All commands within the Dockerfile should use the same casing (either upper or lower)",
    check,
    docs_url(NAME),
)
