"""FromAsCasing: the `AS` keyword should be cased like the `FROM` keyword.

`FROM alpine as build` mixes an upper-case instruction with a lower-case
keyword. BuildKit only checks FROM lines whose keyword is consistently cased
itself (ConsistentInstructionCasing reports the others).

Bad::

    FROM debian:12 as builder

Good::

    FROM debian:12 AS builder
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import docs_url

NAME = "FromAsCasing"


def check(ctx: LintContext) -> Iterator[Violation]:
    for stage in ctx.stages:
        inst = stage.from_instruction
        if len(inst.args) < 3 or inst.args[1].lower() != "as":
            continue
        keyword, as_word = inst.written_keyword, inst.args[1]
        if keyword == keyword.lower():
            ok = as_word == as_word.lower()
        elif keyword == keyword.upper():
            ok = as_word == as_word.upper()
        else:
            continue
        if not ok:
            yield Violation(
                inst.start_line, f"'{as_word}' and '{keyword}' keywords' casing do not match"
            )


RULE = Rule(
    NAME,
    Severity.WARNING,
    "The 'as' keyword should match the case of the 'from' keyword",
    check,
    docs_url(NAME),
)
