"""DL3018: Pin versions in apk add.

`apk add package` installs whatever the repository holds at build time.
Pin with `package=version` (or `~`, `<`, `>` constraints); local `.apk`
files count as pinned.

Fails:

    FROM alpine:3.20
    RUN apk add --no-cache curl

Passes:

    FROM alpine:3.20
    RUN apk add --no-cache curl=8.9.1-r1
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3018"
MESSAGE: Final = (
    "Pin versions in apk add. Instead of `apk add <package>` use `apk add <package>=<version>`"
)


def packages(inst: Instruction) -> list[str]:
    out: list[str] = []
    for cmd in c.run_commands(inst):
        if shell.cmd_has_args(cmd, "apk", ["add"]):
            dropped = shell.drop_flag_args(cmd, ["t", "virtual", "repository", "X"])
            out.extend(a for a in shell.args_without_flags(dropped) if a != "add")
    return out


def is_pinned(package: str) -> bool:
    return any(s in package for s in "=~><") or package.endswith(".apk")


def _ok(inst: Instruction) -> bool:
    return all(is_pinned(p) for p in packages(inst))


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
