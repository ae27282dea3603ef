"""`-v SRC:DST[:ro|rw]` bind mounts."""

from __future__ import annotations

from pathlib import Path

from builder.errors import ContainerError
from builder.runtime.spec import Mount


def parse_volume(text: str) -> Mount:
    """One `-v`: an existing host path bound at an absolute container path."""
    parts = text.split(":")
    if len(parts) == 2:
        source, destination, mode = parts[0], parts[1], "rw"
    elif len(parts) == 3 and parts[2] in ("ro", "rw"):
        source, destination, mode = parts
    else:
        raise ContainerError(
            f"invalid volume specification: {text!r}", hint="use -v /host/path:/container/path[:ro]"
        )
    if not source.startswith("/"):
        raise ContainerError(
            f"invalid volume specification: {text!r}: named volumes are not supported",
            hint="give an absolute host path",
        )
    if not destination.startswith("/") or destination == "/":
        raise ContainerError(f"invalid volume specification: {text!r}: bad destination")
    host = Path(source)
    if not host.exists():
        raise ContainerError(f"bind source path does not exist: {source}")
    return Mount(destination, "bind", str(host.resolve()), ("rbind", mode))
