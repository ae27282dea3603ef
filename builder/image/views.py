"""What `images`, `inspect` and `history` show, as Docker shows it.

Plain functions from stored documents to rows and JSON; the CLI prints
them. Sizes and ages use Docker's own wording (go-units): sizes in SI units
with three significant digits (`7.05MB`, `0B`), ages like `3 days ago`.
Sizes are content sizes: the compressed layers, as a registry and the
containerd image store count them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from builder.image.model import ImageConfig, Manifest
from builder.image.reference import parse_reference

_SI_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float, precision: int = 3) -> str:
    """go-units HumanSizeWithPrecision: 1000-based, `%.3g` plus the unit."""
    unit = 0
    while size >= 1000.0 and unit < len(_SI_UNITS) - 1:
        size /= 1000.0
        unit += 1
    return f"{size:.{precision}g}{_SI_UNITS[unit]}"


def human_duration(seconds: float) -> str:
    """go-units HumanDuration: `About an hour`, `3 days`, `2 years`."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time from a config (nanoseconds allowed); None if absent or invalid."""
    if not text:
        return None
    value = text.strip().replace("Z", "+00:00")
    # Python takes at most 6 fractional digits; Go writes up to 9.
    head, dot, rest = value.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        value = f"{head}.{digits[:6]}{zone}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def rfc3339(text: str) -> str:
    """Go's time.RFC3339 of a config time (whole seconds, `Z` for UTC); the text if unreadable."""
    when = parse_time(text)
    if when is None:
        return text
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(text: str, now: datetime | None = None) -> str:
    """`3 days ago` for a config time; `N/A` when unknown (as docker prints)."""
    when = parse_time(text)
    if when is None:
        return "N/A"
    now = now or datetime.now(UTC)
    return human_duration(max(0.0, (now - when).total_seconds())) + " ago"


def familiar_name(full: str) -> str:
    """`docker.io/library/debian:12` -> `debian:12`; other registries unchanged."""
    try:
        return parse_reference(full, default_tag=None).familiar
    except ValueError:
        return full


def split_name(full: str) -> tuple[str, str]:
    """(REPOSITORY, TAG) in familiar form, as `docker images` prints them."""
    ref = parse_reference(full, default_tag=None)
    repository = parse_reference(ref.name, default_tag=None).familiar
    return repository, ref.tag or "<none>"


@dataclass(frozen=True)
class HistoryRow:
    image: str  #: the image id on the newest row, `<missing>` elsewhere (as BuildKit images show)
    created: str
    created_by: str
    size: int
    comment: str
    empty_layer: bool


def history_rows(image_id: str, config: ImageConfig, manifest: Manifest) -> list[HistoryRow]:
    """Newest first; a non-empty history entry takes the next layer's size."""
    layer_sizes = [layer.size for layer in manifest.layers]
    rows: list[HistoryRow] = []
    layer_index = 0
    for entry in config.history:
        size = 0
        if not entry.empty_layer:
            if layer_index < len(layer_sizes):
                size = layer_sizes[layer_index]
            layer_index += 1
        rows.append(
            HistoryRow(
                image="<missing>",
                created=entry.created,
                created_by=entry.created_by,
                size=size,
                comment=entry.comment,
                empty_layer=entry.empty_layer,
            )
        )
    if not config.history:  # an image without history: one row per layer
        rows = [
            HistoryRow("<missing>", config.created, "", size, "", False) for size in layer_sizes
        ]
    rows.reverse()
    if rows:
        top = rows[0]
        rows[0] = HistoryRow(
            image_id, top.created, top.created_by, top.size, top.comment, top.empty_layer
        )
    return rows


#: Docker's container.Config fields in order, with their zero values (None: null);
#: the `omitempty` ones are left out when empty, as Docker leaves them out.
CONFIG_FIELDS: tuple[tuple[str, Any, bool], ...] = (
    ("Hostname", "", False), ("Domainname", "", False), ("User", "", False),
    ("AttachStdin", False, False), ("AttachStdout", False, False), ("AttachStderr", False, False),
    ("ExposedPorts", None, True), ("Tty", False, False), ("OpenStdin", False, False),
    ("StdinOnce", False, False), ("Env", None, False), ("Cmd", None, False),
    ("Healthcheck", None, True), ("ArgsEscaped", False, True), ("Image", "", False),
    ("Volumes", None, False), ("WorkingDir", "", False), ("Entrypoint", None, False),
    ("NetworkDisabled", False, True), ("MacAddress", "", True), ("OnBuild", None, False),
    ("Labels", None, False), ("StopSignal", "", True), ("StopTimeout", None, True),
    ("Shell", None, True),
)  # fmt: skip


def docker_config(config: dict[str, Any]) -> dict[str, Any]:
    """An image's `config` as Docker's inspect shows it: every field, in Docker's order."""
    out: dict[str, Any] = {}
    for name, zero, omit_empty in CONFIG_FIELDS:
        value = config.get(name, zero)
        if omit_empty and not value:
            continue
        out[name] = value
    for name, value in config.items():  # fields Docker's struct does not know
        out.setdefault(name, value)
    return out


def inspect_document(
    *,
    image_id: str,
    names: tuple[str, ...],
    repo_digests: tuple[str, ...],
    config: ImageConfig,
    manifest: Manifest,
    manifest_digest: str,
    manifest_size: int,
    size: int,
) -> dict[str, Any]:
    """The object `docker image inspect` prints for one image."""
    container_config = docker_config(config.config.to_json())
    doc: dict[str, Any] = {
        "Id": image_id,
        "RepoTags": [familiar_name(n) for n in names],
        "RepoDigests": [familiar_name(d) for d in repo_digests],
        "Parent": "",
        "Comment": config.history[-1].comment if config.history else "",
        "Created": config.created,
        "Container": "",
        "ContainerConfig": docker_config({}),
        "DockerVersion": "",
        "Author": config.author,
        "Config": container_config,
        "Architecture": config.architecture,
    }
    if config.variant:
        doc["Variant"] = config.variant
    doc["Os"] = config.os
    if config.os_version:
        doc["OsVersion"] = config.os_version
    doc["Size"] = size
    doc["VirtualSize"] = size
    doc["GraphDriver"] = {"Data": None, "Name": ""}
    doc["RootFS"] = {"Type": "layers", "Layers": list(config.diff_ids)}
    doc["Metadata"] = {"LastTagTime": "0001-01-01T00:00:00Z"}
    doc["Descriptor"] = {
        "mediaType": manifest.media_type,
        "digest": manifest_digest,
        "size": manifest_size,
    }
    return doc
