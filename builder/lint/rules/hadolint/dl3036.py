"""DL3036: `zypper clean` missing after zypper use.

zypper keeps repository metadata and packages in /var/cache/zypp; clean it
in the RUN that installs, or keep it out of the layer with a cache mount.

Fails:

    FROM opensuse/leap:15.6
    RUN zypper install -y httpd=2.4.58

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

CODE: Final = "DL3036"
MESSAGE: Final = "`zypper clean` missing after zypper use."


def _install(cmd: shell.Command) -> bool:
    return shell.cmd_has_args(cmd, "zypper", ["install", "in"])


def _clean(cmd: shell.Command) -> bool:
    return shell.cmd_has_args(cmd, "zypper", ["clean", "cc"])


def _ok(inst: Instruction) -> bool:
    if inst.keyword == "run" and c.has_cache_mount_with(inst, "/var/cache/zypp"):
        return True
    return c.installs_then_cleans(c.run_commands(inst), _install, _clean)


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
