"""DL3060: `yarn cache clean` missing after `yarn install` was run.

yarn keeps every downloaded package in its cache; cleaned in the same RUN
(or kept on a cache mount) it never reaches the layer. Only stages that
end up in the image are reported.

Fails:

    FROM node:20
    RUN yarn install --frozen-lockfile

Passes:

    FROM node:20
    RUN yarn install --frozen-lockfile && yarn cache clean
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3060"
MESSAGE: Final = "`yarn cache clean` missing after `yarn install` was run."


def _install(cmd: shell.Command) -> bool:
    return shell.cmd_has_args(cmd, "yarn", ["install"])


def _clean(cmd: shell.Command) -> bool:
    return shell.cmd_has_args(cmd, "yarn", ["cache", "clean"])


def _forgot_clean(inst: Instruction) -> bool:
    commands = c.run_commands(inst)
    install = c.first_index(commands, _install)
    if install < 0:
        return False
    clean = c.first_index(commands, _clean)
    if clean < 0:
        return not c.has_cache_mount_with(inst, ".cache/yarn")
    return clean < install


def check(ctx: LintContext) -> Iterator[Violation]:
    for sequence in c.with_onbuild(ctx):
        yield from c.forgotten_cleanups(sequence, _forgot_clean)


RULE: Final = Rule(CODE, Severity.INFO, MESSAGE, check, c.url(CODE))
