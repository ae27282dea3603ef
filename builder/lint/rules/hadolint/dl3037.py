"""DL3037: Specify version with `zypper install -y <package>=<version>`.

Unpinned packages install whatever the repositories hold at build time.
Version constraints (`=`, `>=`, `<`...) and local `.rpm` files count as
pinned.

Fails:

    FROM opensuse/leap:15.6
    RUN zypper install -y httpd && zypper clean

Passes:

    FROM opensuse/leap:15.6
    RUN zypper install -y httpd=2.4.58 && zypper clean
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3037"
MESSAGE: Final = "Specify version with `zypper install -y <package>=<version>`."


def is_pinned(package: str) -> bool:
    return any(s in package for s in "=<>") or package.endswith(".rpm")


def _ok(inst: Instruction) -> bool:
    return all(
        is_pinned(p)
        for cmd in c.run_commands(inst)
        if shell.cmd_has_args(cmd, "zypper", ["install", "in"])
        for p in shell.args_without_flags(cmd)
        if p not in ("install", "in")
    )


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
