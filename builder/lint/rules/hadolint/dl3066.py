"""DL3066: Non-numeric user-id may not be resolvable by host system.

A user name is looked up in the image's /etc/passwd at run time; the
host, volume owners and policies such as Kubernetes `runAsNonRoot` only
see numbers. Use a numeric UID (and GID), or a build argument.

Fails:

    FROM debian:12
    USER app

Passes:

    FROM debian:12
    USER 10001:10001
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3066"
MESSAGE: Final = "Non-numeric user-id may not be resolvable by host system"


def check(ctx: LintContext) -> Iterator[Violation]:
    args: set[str] = set()
    for inst in c.instructions(ctx):
        if inst.keyword == "arg":
            args.add(c.arg_name(inst))
        elif inst.keyword == "user":
            user = c.user_text(inst)
            uid = user.split(":", 1)[0]
            if all(ch.isdigit() for ch in uid):
                continue
            if any("${" + a + "}" in user or "$" + a in user for a in args):
                continue
            yield Violation(inst.start_line)


RULE: Final = Rule(CODE, Severity.INFO, MESSAGE, check, c.url(CODE))
