"""DL3041: Specify version with `dnf install -y <package>-<version>`.

Unpinned packages install whatever the repositories hold at build time.
See `_rpm_versions` for what counts as pinned; `dnf group` commands are
not checked.

Fails:

    FROM fedora:40
    RUN dnf install -y httpd && dnf clean all

Passes:

    FROM fedora:40
    RUN dnf install -y httpd-2.4.62 && dnf clean all
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c
from builder.lint.rules.hadolint._rpm_versions import check_versions

CODE: Final = "DL3041"
MESSAGE: Final = "Specify version with `dnf install -y <package>-<version>`."


def _module(cmd: shell.Command) -> bool:
    return cmd.name in ("dnf", "microdnf") and any(a in ("module", "group") for a in cmd.args)


def check(ctx: LintContext) -> Iterator[Violation]:
    return check_versions(ctx, ("dnf", "microdnf"), _module)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
