"""SecretsUsedInArgOrEnv: do not pass secrets through ARG or ENV.

ARG and ENV values are stored in the image (history and config): anyone who
can pull it can read them. A name is suspicious when one of its `_`-separated
words is `password`, `secret`, `token`, `key`, `auth`, `apikey`,
`credential(s)`, `passwd` or `pword`, unless a word is `public`, `file` or
`version` (BuildKit's own lists). Use `RUN --mount=type=secret` instead.

Bad::

    FROM alpine
    ARG GITHUB_TOKEN

Good::

    FROM alpine
    RUN --mount=type=secret,id=github_token ./fetch.sh
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from builder.dockerfile.text import go_quote
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import arg_definitions, docs_url, expand, walk_stages

NAME = "SecretsUsedInArgOrEnv"
_DENY = re.compile(
    r"(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)"
    r"(?:_|\Z)"
)
_ALLOW = re.compile(r"(?i)(?:_|^)(?:public|file|version)(?:_|\Z)")


def is_secret_name(name: str) -> bool:
    return bool(_DENY.search(name)) and not _ALLOW.search(name)


def check(ctx: LintContext) -> Iterator[Violation]:
    for _, steps in walk_stages(ctx):
        for step in steps:
            inst = step.inst
            if inst.keyword == "arg":
                names = [name for name, _ in arg_definitions(inst)]
            elif inst.keyword == "env":
                names = [
                    expand(ctx.dockerfile, kv.key, step.env).value or kv.key
                    for kv in inst.key_values
                ]
            else:
                continue
            label = inst.keyword.upper()
            for name in names:
                if is_secret_name(name):
                    yield Violation(
                        inst.start_line,
                        "Do not use ARG or ENV instructions for sensitive data "
                        f"({label} {go_quote(name)})",
                    )


RULE = Rule(
    NAME,
    Severity.WARNING,
    "Sensitive data should not be used in the ARG or ENV commands",
    check,
    docs_url(NAME),
)
