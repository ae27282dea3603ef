"""`pybuild bake --list targets|variables`: what a bake definition offers, as buildx lists it.

`--list targets` shows every target and group but the private ones (a
name starting with `_`), sorted, with its description (a group's lists its
targets: `binaries`, or `desc (a, b)`). `--list variables` shows each
`variable` block: name, type, value (`<null>` for null) and description.
`type=targets,format=json` gives buildx's JSON instead of the table.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from typing import Any, Literal

from builder.bake.model import Config
from builder.errors import UsageError


@dataclass(frozen=True)
class ListRequest:
    type: Literal["targets", "variables"]
    format: Literal["table", "json"] = "table"


def parse_list(text: str) -> ListRequest:
    """`targets`, `variables`, or `type=...,format=table|json` (UsageError otherwise)."""
    fields = next(csv.reader([text])) if text else []
    kind, fmt = "", "table"
    if len(fields) == 1 and "=" not in fields[0]:
        kind = fields[0]
    else:
        for item in fields:
            key, _, value = item.partition("=")
            if key == "type":
                kind = value
            elif key == "format":
                fmt = value
            else:
                raise UsageError(f"--list {text!r}: unexpected key {key!r}")
    if kind not in ("targets", "variables"):
        raise UsageError(
            f"--list {text!r}: invalid list type {kind!r}, expected targets or variables"
        )
    if fmt not in ("table", "json"):
        raise UsageError(f"--list {text!r}: invalid list format {fmt!r}")
    return ListRequest(kind, fmt)  # type: ignore[arg-type]


def tab_table(rows: list[list[str]], tabwidth: int = 8) -> str:
    """Rows as Go's tabwriter aligns them with tab padding (minwidth 1, padding 1).

    Each column but the last is as wide as its widest cell plus one, rounded up
    to a multiple of `tabwidth`, and filled with tabs.
    """
    columns = max((len(r) for r in rows), default=0)
    widths = [
        max(len(r[i]) + 1 for r in rows if len(r) > i + 1)
        if any(len(r) > i + 1 for r in rows)
        else 0
        for i in range(columns - 1)
    ]
    widths = [-(-w // tabwidth) * tabwidth for w in widths]
    lines = []
    for row in rows:
        out = []
        for i, cell in enumerate(row):
            if i < len(row) - 1:
                out.append(cell + "\t" * -(-(widths[i] - len(cell)) // tabwidth))
            else:
                out.append(cell)
        lines.append("".join(out).rstrip("\t"))
    return "".join(line + "\n" for line in lines)


def render_list(config: Config, request: ListRequest) -> str:
    if request.type == "variables":
        variables = sorted(config.variables, key=lambda v: v.name)
        if request.format == "json":
            entries: list[dict[str, Any]] = []
            for v in variables:
                item: dict[str, Any] = {"name": v.name}
                if v.description:
                    item["description"] = v.description
                if v.type:
                    item["type"] = v.type
                if v.value is not None:
                    item["value"] = v.value
                entries.append(item)
            return json.dumps(entries, indent=2) + "\n"
        rows = [["VARIABLE", "TYPE", "VALUE", "DESCRIPTION"]]
        rows += [
            [v.name, v.type, v.value if v.value is not None else "<null>", v.description]
            for v in variables
        ]
        return tab_table(rows)
    items: list[tuple[str, str, bool]] = []
    for target in config.targets:
        items.append((target.name, target.description or "", False))
    for group in config.groups:
        names = ", ".join(sorted(group.targets))
        description = group.description or ""
        if names:
            description = f"{description} ({names})" if description else names
        items.append((group.name, description, True))
    items = sorted((i for i in items if not i[0].startswith("_")), key=lambda i: i[0])
    if request.format == "json":
        out: list[dict[str, Any]] = []
        for name, description, is_group in items:
            entry: dict[str, Any] = {"name": name}
            if description:
                entry["description"] = description
            if is_group:
                entry["group"] = True
            out.append(entry)
        return json.dumps(out, indent=2) + "\n"
    return tab_table([["TARGET", "DESCRIPTION"], *[[n, d] for n, d, _ in items]])
