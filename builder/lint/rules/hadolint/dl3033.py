"""DL3033: Specify version with `yum install -y <package>-<version>`.

Unpinned packages install whatever the repositories hold at build time.
See `_rpm_versions` for what counts as pinned.

Fails:

    FROM centos:7
    RUN yum install -y httpd && yum clean all

Passes:

    FROM centos:7
    RUN yum install -y httpd-2.4.6 && yum clean all
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c
from builder.lint.rules.hadolint._rpm_versions import check_versions

CODE: Final = "DL3033"
MESSAGE: Final = "Specify version with `yum install -y <package>-<version>`."


def _module(cmd: shell.Command) -> bool:
    return shell.cmd_has_args(cmd, "yum", ["module"])


def check(ctx: LintContext) -> Iterator[Violation]:
    return check_versions(ctx, ("yum",), _module)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
