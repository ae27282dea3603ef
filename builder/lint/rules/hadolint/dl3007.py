"""DL3007: Do not use the `latest` tag.

`latest` moves: two builds of the same Dockerfile can start from
different images, and nothing in the file says which. Pin a release tag
(or a digest).

Fails:

    FROM debian:latest

Passes:

    FROM debian:12
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3007"
MESSAGE: Final = (
    "Using latest is prone to errors if the image will ever update. "
    "Pin the version explicitly to a release tag"
)


def _ok(inst: Instruction) -> bool:
    if inst.keyword != "from":
        return True
    image = c.base_image(inst)
    return image.tag != "latest" or image.digest is not None


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple(c.instructions(ctx), _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
