"""DL1001: Please refrain from using inline ignore pragmas.

Off by default, as in hadolint. Teams that want every exception to a rule
recorded in one place (the configuration file) turn it on to find the
`# hadolint ignore=...` comments scattered through Dockerfiles. Global
pragmas (`# hadolint global ignore=...`) are not reported.

Fails:

    # hadolint ignore=DL3006
    FROM debian

Passes:

    # Pinned in the build script.
    FROM debian:12
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL1001"
MESSAGE: Final = "Please refrain from using inline ignore pragmas `# hadolint ignore=DLxxxx`."

_CODES: Final = r"[DLSC0-9]+"
#: `hadolint ignore=DL3000,SC2086`, a trailing `# reason` allowed.
PRAGMA_RE: Final = re.compile(
    rf"[ \t]*hadolint[ \t]+ignore[ \t]*=[ \t]*{_CODES}(?:[ \t]*,[ \t]*{_CODES})*[ \t]*(?:#.*)?"
)


def check(ctx: LintContext) -> Iterator[Violation]:
    for comment in ctx.dockerfile.comments:
        if not comment.in_continuation and PRAGMA_RE.fullmatch(comment.text):
            yield Violation(comment.line)


RULE: Final = Rule(CODE, Severity.IGNORE, MESSAGE, check, c.url(CODE))
