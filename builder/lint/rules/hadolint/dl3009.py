"""DL3009: Delete the apt lists after installing something.

`apt-get update` downloads package lists into /var/lib/apt/lists; left in
the layer they add tens of megabytes that the image never uses. Remove
them in the same RUN (`rm -rf /var/lib/apt/lists/*`), or keep them out of
the layer with a cache mount on /var/lib/apt/lists. Only stages that end
up in the image are reported: the last one, and any stage another stage
builds FROM.

Fails:

    FROM debian:12
    RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5

Passes:

    FROM debian:12
    RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5 \\
        && rm -rf /var/lib/apt/lists/*
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3009"
MESSAGE: Final = "Delete the apt lists (/var/lib/apt/lists) after installing something"


def _forgot_cleanup(inst: Instruction) -> bool:
    commands = c.run_commands(inst)
    updates = any(
        shell.cmd_has_args(cmd, tool, ["update"])
        for cmd in commands
        for tool in ("apt", "apt-get", "aptitude")
    )
    if not updates:
        return False
    if any(shell.cmd_has_args(cmd, "rm", ["-rf", "/var/lib/apt/lists/*"]) for cmd in commands):
        return False
    if c.has_cache_mount_with(inst, "/var/lib/apt/lists"):
        return False
    lists = c.has_cache_mount_with(inst, "/var/lib/apt")
    return not (lists and c.has_cache_mount_with(inst, "/var/cache/apt"))


def check(ctx: LintContext) -> Iterator[Violation]:
    for sequence in c.with_onbuild(ctx):
        yield from c.forgotten_cleanups(sequence, _forgot_cleanup)


RULE: Final = Rule(CODE, Severity.INFO, MESSAGE, check, c.url(CODE))
