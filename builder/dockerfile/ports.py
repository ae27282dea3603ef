"""EXPOSE port specifications: `80`, `80/udp`, `8000-8001/tcp`, `127.0.0.1:80:80`.

BuildKit checks them after expansion (Docker's `nat.ParsePortSpecs`); the
plan does the same through `ExposeCommand.expand`, so a dry run and the
linter refuse what a build refuses.
"""

from __future__ import annotations

from typing import Final

from builder.dockerfile.flags import InvalidCommand

PROTOCOLS: Final = ("tcp", "udp", "sctp")


def port_range(spec: str) -> tuple[int, int, str]:
    """The first and last container port of a specification, and its protocol.

    Raises InvalidCommand with Docker's message for an invalid one.
    """
    port, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOCOLS:
        raise InvalidCommand(f"invalid proto: {proto}")
    port = port.rsplit(":", 1)[-1]  # ip:host:container: only the container port is exposed
    if not port:
        raise InvalidCommand(f"no port specified: {spec}<empty>")
    low, dash, high = port.partition("-")
    if not _digits(low) or (dash and not _digits(high)):
        raise InvalidCommand(f"invalid containerPort: {port}")
    first = int(low)
    last = int(high) if dash else first
    if not 0 <= first <= last <= 65535:
        raise InvalidCommand(f"invalid containerPort: {port}")
    return first, last, proto


def exposed_ports(spec: str) -> list[str]:
    """The container ports a specification exposes, as `port/proto` (a range gives each)."""
    first, last, proto = port_range(spec)
    return [f"{p}/{proto}" for p in range(first, last + 1)]


def _digits(text: str) -> bool:
    return 0 < len(text) <= 5 and text.isascii() and text.isdigit()
