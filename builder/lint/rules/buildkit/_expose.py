"""EXPOSE port specs, split the way BuildKit splits them: `[ip:][hostPort:]port[/proto]`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from builder.lint.model import LintContext
from builder.lint.rules.buildkit._common import expand_words, walk_stages

PROTOCOLS = frozenset({"tcp", "udp", "sctp"})


@dataclass(frozen=True)
class PortSpec:
    line: int
    raw: str  #: the spec after variable expansion
    ip: str
    host_port: str
    protocol: str  #: as written ("" when absent)


def _split(raw: str) -> tuple[str, str, str]:
    parts = raw.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def port_specs(ctx: LintContext) -> Iterator[PortSpec]:
    """Every well-formed EXPOSE spec (the ones BuildKit gets to lint before parsing ports)."""
    for _, steps in walk_stages(ctx):
        for step in steps:
            inst = step.inst
            if inst.keyword != "expose":
                continue
            for word in inst.args:
                specs = expand_words(ctx.dockerfile, word, step.env)
                for raw in specs if specs is not None else [word]:
                    ip, host_port, container = _split(raw)
                    port, _, protocol = container.partition("/")
                    if not port or (protocol and protocol.lower() not in PROTOCOLS):
                        continue
                    yield PortSpec(inst.start_line, raw, ip, host_port, protocol)
