"""DL3020: Use COPY instead of ADD for files and folders.

ADD also downloads URLs and unpacks archives; for plain files it does what
COPY does, with surprises when a file happens to look like an archive.
Keep ADD for archives and URLs.

Fails:

    FROM debian:12
    ADD app.py /opt/app/

Passes:

    FROM debian:12
    COPY app.py /opt/app/
    ADD rootfs.tar.xz /
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3020"
MESSAGE: Final = "Use COPY instead of ADD for files and folders"


def _is_url(path: str) -> bool:
    return c.drop_quotes(path).startswith(("https://", "http://"))


def _ok(inst: Instruction) -> bool:
    if inst.keyword != "add":
        return True
    sources, _ = c.copy_paths(inst)
    return all(c.is_archive(s) or _is_url(s) for s in sources)


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple(c.instructions(ctx), _ok)


RULE: Final = Rule(CODE, Severity.ERROR, MESSAGE, check, c.url(CODE))
