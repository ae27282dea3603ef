"""DL3062: Pin versions in go install.

`go install pkg` (and `go get`, `go run pkg`) fetch the latest version
at build time. Pin with `pkg@version` (not `@latest`); local packages
(`.`, `./cmd/app`) need no version.

Fails:

    FROM golang:1.22
    RUN go install golang.org/x/tools/gopls

Passes:

    FROM golang:1.22
    RUN go install golang.org/x/tools/gopls@v0.16.1
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3062"
MESSAGE: Final = (
    "Pin versions in go. Instead of `go install <package>` use `go install <package>@<version>`"
)


def packages(inst: Instruction) -> list[str]:
    commands = c.run_commands(inst)
    run = [
        arg
        for cmd in commands
        if shell.cmd_has_args(cmd, "go", ["run"])
        for index, arg in enumerate(shell.args_without_flags(cmd))
        if arg != "run" and index <= 1
    ]
    if run:
        return run
    return [
        arg
        for cmd in commands
        if shell.cmd_has_args(cmd, "go", ["install", "get"])
        for arg in shell.args_without_flags(cmd)
        if arg not in ("install", "get", "tool")
    ]


def is_pinned(package: str) -> bool:
    if package.startswith((".", "/")):
        return True
    return "@" in package and not package.endswith(("@latest", "@none"))


def _ok(inst: Instruction) -> bool:
    return all(is_pinned(p) for p in packages(inst))


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
