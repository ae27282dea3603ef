"""DL3008: Pin versions in apt-get install.

Unpinned packages install whatever the archive holds at build time, so the
same Dockerfile builds different images, and a rebuild can pull in a
breaking upgrade. Pin with `package=version`; packages given as paths
(`./x.deb`) or with a release (`pkg/bookworm`) count as pinned.

Fails:

    FROM debian:12
    RUN apt-get install -y --no-install-recommends curl

Passes:

    FROM debian:12
    RUN apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3008"
MESSAGE: Final = (
    "Pin versions in apt get install. Instead of `apt-get install <package>` "
    "use `apt-get install <package>=<version>`"
)


def packages(inst: Instruction) -> list[str]:
    out: list[str] = []
    for cmd in c.run_commands(inst):
        if shell.cmd_has_args(cmd, "apt-get", ["install"]):
            dropped = shell.drop_flag_args(cmd, ["t", "target-release"])
            out.extend(a for a in shell.args_without_flags(dropped) if a != "install")
    return out


def is_pinned(package: str) -> bool:
    return "=" in package or "/" in package or package.endswith(".deb")


def _ok(inst: Instruction) -> bool:
    return all(is_pinned(p) for p in packages(inst))


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
