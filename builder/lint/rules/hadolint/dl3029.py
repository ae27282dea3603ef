"""DL3029: Do not use --platform flag with FROM.

A fixed platform makes the image build (under emulation) for that
platform whatever the builder was asked for. `--platform=$BUILDPLATFORM`
and `$TARGETPLATFORM`, the usual multi-platform idioms, are accepted.

Fails:

    FROM --platform=linux/amd64 debian:12

Passes:

    FROM --platform=$BUILDPLATFORM golang:1.22 AS build
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3029"
MESSAGE: Final = "Do not use --platform flag with FROM"


def _ok(inst: Instruction) -> bool:
    if inst.keyword != "from":
        return True
    platform = inst.get_flag("platform")
    return platform is None or "BUILDPLATFORM" in platform or "TARGETPLATFORM" in platform


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple(c.instructions(ctx), _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
