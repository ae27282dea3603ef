"""DL3046: `useradd` without flag `-l` and high UID will result in excessively large Image.

useradd records every user in /var/log/lastlog and /var/log/faillog,
sparse files indexed by UID; with a large UID the layer gets a file of
gigabytes (sparse files are not kept sparse in layers). `-l`
(`--no-log-init`) skips them.

Fails:

    FROM debian:12
    RUN useradd -u 123456 app

Passes:

    FROM debian:12
    RUN useradd -l -u 123456 app
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3046"
MESSAGE: Final = "`useradd` without flag `-l` and high UID will result in excessively large Image."


def forgot_no_log_init(cmd: shell.Command) -> bool:
    return (
        cmd.name == "useradd"
        and not shell.has_any_flag(cmd, ["l", "no-log-init"])
        and shell.has_any_flag(cmd, ["u", "uid"])
        and any(len(uid) > 5 for uid in shell.flag_values(cmd, "u"))
    )


def _ok(inst: Instruction) -> bool:
    return c.no_run_command(inst, forgot_no_log_init)


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
