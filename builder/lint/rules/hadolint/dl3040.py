"""DL3040: `dnf clean all` missing after dnf command.

dnf (and microdnf) keep metadata and packages in their cache directory;
clean it in the RUN that installs or upgrades, or keep it out of the layer
with a cache mount on /var/cache/libdnf5.

Fails:

    FROM fedora:40
    RUN dnf install -y httpd-2.4.62

Passes:

    FROM fedora:40
    RUN dnf install -y httpd-2.4.62 && dnf clean all
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3040"
MESSAGE: Final = "`dnf clean all` missing after dnf command."
INSTALLS: Final = (
    "install", "in", "upgrade", "up", "upgrade-minimal", "up-min", "reinstall", "rei",
)  # fmt: skip


def _cleans_up(inst: Instruction, tool: str) -> bool:
    def install(cmd: shell.Command) -> bool:
        return shell.cmd_has_args(cmd, tool, INSTALLS)

    def clean(cmd: shell.Command) -> bool:
        return shell.cmd_has_args(cmd, tool, ["clean", "all"]) or shell.cmd_has_args(
            cmd, "rm", ["-rf", "/var/cache/libdnf5*"]
        )

    return c.installs_then_cleans(c.run_commands(inst), install, clean)


def _ok(inst: Instruction) -> bool:
    if inst.keyword != "run":
        return True
    if c.has_cache_mount_with(inst, "/var/cache/libdnf5") or c.has_cache_mount_with(
        inst, ".cache/libdnf5"
    ):
        return True
    return _cleans_up(inst, "dnf") and _cleans_up(inst, "microdnf")


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
