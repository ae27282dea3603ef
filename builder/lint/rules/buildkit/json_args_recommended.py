"""JSONArgsRecommended: write CMD and ENTRYPOINT in exec (JSON) form.

In shell form the program runs under `/bin/sh -c`, which does not forward
signals: `docker stop` waits for its timeout and then kills the container.
A stage that sets SHELL (itself or in a parent stage) chose the shell on
purpose and is not reported.

Bad::

    FROM alpine
    ENTRYPOINT my-server --port 80

Good::

    FROM alpine
    ENTRYPOINT ["my-server", "--port", "80"]
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import docs_url, walk_stages

NAME = "JSONArgsRecommended"


def check(ctx: LintContext) -> Iterator[Violation]:
    for _, steps in walk_stages(ctx):
        for step in steps:
            inst = step.inst
            if inst.keyword in ("cmd", "entrypoint") and not inst.json and not step.shell_set:
                yield Violation(
                    inst.start_line,
                    f"JSON arguments recommended for {inst.written_keyword} to prevent "
                    "unintended behavior related to OS signals",
                )


RULE = Rule(
    NAME,
    Severity.WARNING,
    "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to "
    "OS signals",
    check,
    docs_url(NAME),
)
