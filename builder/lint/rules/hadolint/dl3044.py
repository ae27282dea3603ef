"""DL3044: Do not refer to an environment variable within the ENV that defines it.

All the pairs of one ENV are expanded with the values from before the
ENV: `ENV A=1 B=$A` sets B to the old A (often empty), not to 1. Split the
ENV, or refer to a variable set earlier.

Fails:

    FROM debian:12
    ENV APP_HOME=/app APP_BIN=$APP_HOME/bin

Passes:

    FROM debian:12
    ENV APP_HOME=/app
    ENV APP_BIN=$APP_HOME/bin
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3044"
MESSAGE: Final = (
    "Do not refer to an environment variable within the same `ENV` statement where it is defined."
)


def _name_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


def refers_to(name: str, text: str) -> bool:
    """`${name}` or `$name` not followed by a name character."""
    if "${" + name + "}" in text:
        return True
    return any(not rest[:1] or not _name_char(rest[0]) for rest in text.split("$" + name)[1:])


def self_references(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Names of the ENV referred to by another value of the same ENV."""
    return [
        name
        for i, (name, _) in enumerate(pairs)
        if any(refers_to(name, value) for j, (_, value) in enumerate(pairs) if j != i)
    ]


def check(ctx: LintContext) -> Iterator[Violation]:
    defined: set[str] = set()
    for inst in c.instructions(ctx):
        if inst.keyword == "env":
            pairs = c.pairs(inst)
            if any(name not in defined for name in self_references(pairs)):
                yield Violation(inst.start_line)
            defined.update(name for name, _ in pairs)
        elif inst.keyword == "arg":
            defined.add(c.arg_name(inst))


RULE: Final = Rule(CODE, Severity.ERROR, MESSAGE, check, c.url(CODE))
