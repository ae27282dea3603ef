"""DL3019: Use the `--no-cache` switch with apk add.

`apk add --no-cache` fetches the index, installs and leaves nothing in
/var/cache/apk; without it the index stays in the layer, unless a cache
mount on /var/cache/apk keeps it out.

Fails:

    FROM alpine:3.20
    RUN apk add curl=8.9.1-r1

Passes:

    FROM alpine:3.20
    RUN apk add --no-cache curl=8.9.1-r1
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3019"
MESSAGE: Final = (
    "Use the `--no-cache` switch to avoid the need to use `--update` and remove "
    "`/var/cache/apk/*` when done installing packages"
)


def forgot_no_cache(cmd: shell.Command) -> bool:
    return shell.cmd_has_args(cmd, "apk", ["add"]) and not shell.has_flag(cmd, "no-cache")


def _ok(inst: Instruction) -> bool:
    if inst.keyword == "run" and c.has_cache_mount_with(inst, "/var/cache/apk"):
        return True
    return c.no_run_command(inst, forgot_no_cache)


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.INFO, MESSAGE, check, c.url(CODE))
