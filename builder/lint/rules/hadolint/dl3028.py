"""DL3028: Pin versions in gem install.

`gem install name` takes the newest release at build time. Pin with
`name:version` or `-v version`.

Fails:

    FROM ruby:3.3
    RUN gem install bundler

Passes:

    FROM ruby:3.3
    RUN gem install bundler:2.5.11
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3028"
MESSAGE: Final = (
    "Pin versions in gem install. Instead of `gem install <gem>` use `gem install <gem>:<version>`"
)


def gems(cmd: shell.Command) -> list[str]:
    """The gem names of a `gem install` without a version option."""
    if not shell.cmd_has_args(cmd, "gem", ["install", "i"]):
        return []
    if "-v" in cmd.args or "--version" in cmd.args:
        return []
    if shell.cmd_has_prefix_arg(cmd, "gem", "--version="):
        return []
    words = list(cmd.args)
    if "--" in words:
        words = words[: words.index("--")]
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("-"):
            i += 2  # an option and its value
            continue
        if word not in ("install", "i"):
            out.append(word)
        i += 1
    return out


def _ok(inst: Instruction) -> bool:
    return all(":" in gem for cmd in c.run_commands(inst) for gem in gems(cmd))


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
