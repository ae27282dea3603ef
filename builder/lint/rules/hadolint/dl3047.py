"""DL3047: Avoid use of wget without progress bar.

Without a terminal wget prints a line every few kilobytes: a large
download floods the build log. Use `--progress=dot:giga`, or `-q` / `-nv`,
or send the log elsewhere with `-o`.

Fails:

    FROM debian:12
    RUN wget https://example.com/big.tar.gz

Passes:

    FROM debian:12
    RUN wget --progress=dot:giga https://example.com/big.tar.gz
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3047"
MESSAGE: Final = (
    "Avoid use of wget without progress bar. Use `wget --progress=dot:giga <url>`, "
    "or quiet it with `-q` (`--quiet`) or `-nv` (`--no-verbose`)."
)
QUIET_FLAGS: Final = ("q", "quiet", "o", "output-file", "a", "append-output", "no-verbose")


def forgot_progress(cmd: shell.Command) -> bool:
    return (
        cmd.name == "wget"
        and not shell.has_flag(cmd, "progress")
        and not shell.has_any_flag(cmd, QUIET_FLAGS)
        and "-nv" not in cmd.args
    )


def _ok(inst: Instruction) -> bool:
    return c.no_run_command(inst, forgot_progress)


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.INFO, MESSAGE, check, c.url(CODE))
