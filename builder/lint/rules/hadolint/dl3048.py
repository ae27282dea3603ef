"""DL3048: Invalid label key.

Docker's guidelines for label keys: lower-case letters, digits, `.` and
`-` (hadolint also allows `_` and `/`), starting with a letter and ending
with a letter or digit, no `..` or `--`, and none of the namespaces Docker
reserves (`com.docker.`, `io.docker.`, `org.dockerproject.`).

Fails:

    FROM debian:12
    LABEL Maintainer=team@example.com

Passes:

    FROM debian:12
    LABEL org.opencontainers.image.authors=team@example.com
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3048"
MESSAGE: Final = "Invalid label key."
_LOWER: Final = frozenset("abcdefghijklmnopqrstuvwxyz")
_DIGITS: Final = frozenset("0123456789")
_VALID: Final = _LOWER | _DIGITS | frozenset(".-_/")
RESERVED: Final = ("com.docker.", "io.docker.", "org.dockerproject.")


def is_valid_key(key: str) -> bool:
    return (
        bool(key)
        and key[0] in _LOWER
        and key[-1] in _LOWER | _DIGITS
        and set(key) <= _VALID
        and not key.startswith(RESERVED)
        and ".." not in key
        and "--" not in key
    )


def _ok(inst: Instruction) -> bool:
    return inst.keyword != "label" or all(is_valid_key(k) for k, _ in c.pairs(inst))


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple(c.instructions(ctx), _ok)


RULE: Final = Rule(CODE, Severity.STYLE, MESSAGE, check, c.url(CODE))
