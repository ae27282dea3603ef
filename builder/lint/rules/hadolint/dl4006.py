"""DL4006: Set the SHELL option -o pipefail before RUN with a pipe in it.

A pipeline's status is that of its last command: `curl ... | tar -x`
succeeds when the download fails, and the build goes on with a broken
step. Set `SHELL ["/bin/bash", "-o", "pipefail", "-c"]` (bash, zsh or
ash) first. With /bin/sh from busybox (Alpine), use /bin/ash, which
supports the option, or turn the rule off. RUNs after a SHELL of
PowerShell or cmd are not checked.

Fails:

    FROM debian:12
    RUN curl -fsSL https://example.com/app.tar.gz | tar -xz

Passes:

    FROM debian:12
    SHELL ["/bin/bash", "-o", "pipefail", "-c"]
    RUN curl -fsSL https://example.com/app.tar.gz | tar -xz
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL4006"
MESSAGE: Final = (
    "Set the SHELL option -o pipefail before RUN with a pipe in it. "
    "Where /bin/sh is busybox (Alpine), use SHELL with /bin/ash, or turn this check off"
)
NON_POSIX: Final = ("pwsh", "powershell", "cmd")
PIPEFAIL_SHELLS: Final = frozenset({"/bin/bash", "/bin/zsh", "/bin/ash", "bash", "zsh", "ash"})


def sets_pipefail(inst: Instruction) -> bool:
    """A SHELL that is not POSIX (never checked) or a POSIX one with `-o pipefail`."""
    if c.script_text(inst).startswith(NON_POSIX):
        return True
    return any(
        cmd.name in PIPEFAIL_SHELLS and shell.has_flag(cmd, "o") and "pipefail" in cmd.args
        for cmd in c.script(inst).commands
    )


def check(ctx: LintContext) -> Iterator[Violation]:
    pipefail = False
    for inst in c.instructions(ctx):
        if inst.keyword == "from":
            pipefail = False
        elif inst.keyword == "shell":
            pipefail = sets_pipefail(inst)
        elif inst.keyword == "run" and not pipefail and c.script(inst).has_pipes:
            yield Violation(inst.start_line)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
