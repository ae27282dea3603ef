"""`pybuild ps` rows: a container as docker ps's formatter shows it to a template."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from builder.image.views import ago, human_size, parse_time

if TYPE_CHECKING:
    from builder.containers.record import Container

#: docker ps's `table` headers.
PS_HEADERS = {
    "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
    "Size": "SIZE", "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS",
    "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES",
}  # fmt: skip


@dataclass(frozen=True)
class Sizes:
    """A container's writable layer and the image below it, in bytes."""

    rw: int
    image: int


def ellipsis(text: str, limit: int) -> str:
    """docker's `formatter.Ellipsis`: cut to `limit` characters, the last one `…`."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def go_quote(text: str) -> str:
    """Go's `strconv.Quote` for printable text (backslash, quote, control characters)."""
    return json.dumps(text, ensure_ascii=False).replace("\\u007f", "\\x7f")


def quoted_command(container: Container, trunc: bool = True) -> str:
    """COMMAND as docker ps shows it: arguments with spaces in '', cut to 20, quoted."""
    path, *args = container.command or [""]
    text = " ".join([path, *(f"'{a}'" if " " in a else a for a in args)]) if args else path
    return go_quote(ellipsis(text, 20) if trunc else text)


def status(container: Container) -> str:
    """STATUS: `Up 3 minutes`, `Created`, `Exited (0) 2 seconds ago`."""
    if container.running:
        return "Up " + ago(container.created).removesuffix(" ago")
    if container.state == "created":
        return "Created"
    code = container.exit_code if container.exit_code is not None else 128
    when = ago(container.finished) if container.finished else ""
    return f"Exited ({code}) {when}".rstrip()


def state(container: Container) -> str:
    """STATE: created, running or exited (a killed `pybuild run`'s container has exited)."""
    if container.state == "running" and not container.running:
        return "exited"
    return container.state


def go_time(text: str) -> str:
    """Go's `time.Time.String()` of a record time, whole seconds, in local time."""
    when = parse_time(text)
    if when is None:
        return ""
    local = when.astimezone()
    zone = local.strftime("%Z") or local.strftime("%z")
    return local.strftime("%Y-%m-%d %H:%M:%S %z ") + zone


def size_text(sizes: Sizes) -> str:
    """SIZE: `12B (virtual 4.26MB)` as docker ps --size prints it."""
    rw = human_size(sizes.rw)
    if sizes.rw + sizes.image > 0:
        return f"{rw} (virtual {human_size(sizes.rw + sizes.image)})"
    return rw


def ps_row(
    container: Container, *, trunc: bool = True, sizes: Sizes | None = None
) -> dict[str, Any]:
    """One row: docker ps's template fields (all strings, as docker's formatter makes them)."""
    mounts = [ellipsis(m, 15) if trunc else m for m in container.mounts]
    created = parse_time(container.created)
    return {
        "ID": container.short_id if trunc else container.id,
        "Image": container.image_name,
        "Command": quoted_command(container, trunc),
        "CreatedAt": go_time(container.created),
        "RunningFor": ago(container.created) if isinstance(created, datetime) else "N/A",
        "Ports": "",
        "State": state(container),
        "Status": status(container),
        "Size": size_text(sizes) if sizes is not None else "",
        "Names": container.name,
        "Labels": "",
        "Mounts": ",".join(mounts),
        "Networks": container.network,
        "LocalVolumes": "0",
    }
