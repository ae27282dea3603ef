"""ExposeInvalidFormat: EXPOSE takes a port, not an address or a port mapping.

EXPOSE documents which ports the container listens on. `127.0.0.1:80:80` or
`8080:80` are `docker run -p` mappings: the host part is ignored today and
BuildKit will reject it in a future release.

Bad::

    FROM alpine
    EXPOSE 127.0.0.1:80:80

Good::

    FROM alpine
    EXPOSE 80
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import docs_url
from builder.lint.rules.buildkit._expose import port_specs

NAME = "ExposeInvalidFormat"


def check(ctx: LintContext) -> Iterator[Violation]:
    for spec in port_specs(ctx):
        if spec.ip or spec.host_port:
            yield Violation(
                spec.line,
                "EXPOSE instruction should not define an IP address or host-port mapping, "
                f"found '{spec.raw}'",
            )


RULE = Rule(
    NAME,
    Severity.WARNING,
    "IP address and host-port mapping should not be used in EXPOSE instruction. This will "
    "become an error in a future release",
    check,
    docs_url(NAME),
)
