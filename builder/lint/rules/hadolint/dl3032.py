"""DL3032: `yum clean all` missing after yum command.

yum keeps downloaded packages and metadata in /var/cache/yum; a RUN that
installs without cleaning up afterwards bakes that cache into its layer.

Fails:

    FROM centos:7
    RUN yum install -y httpd-2.4.6

Passes:

    FROM centos:7
    RUN yum install -y httpd-2.4.6 && yum clean all
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3032"
MESSAGE: Final = "`yum clean all` missing after yum command."


def _install(cmd: shell.Command) -> bool:
    return shell.cmd_has_args(cmd, "yum", ["install"])


def _clean(cmd: shell.Command) -> bool:
    return shell.cmd_has_args(cmd, "yum", ["clean", "all"]) or shell.cmd_has_args(
        cmd, "rm", ["-rf", "/var/cache/yum/*"]
    )


def _ok(inst: Instruction) -> bool:
    return c.installs_then_cleans(c.run_commands(inst), _install, _clean)


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
