"""`pybuild bake --print`: the resolved definition as buildx prints it.

`{"group": {...}, "target": {...}}` indented by two spaces; groups and
targets sorted by name, a target's attributes in buildx's order
(`builder.bake.model.FIELDS`) with unset and empty ones left out, map keys
sorted, `${` in args, labels, annotations, extra-hosts and
dockerfile-inline written `$${` (so the output reads back as a bake file),
and `<`, `>`, `&` escaped as Go's encoder does. `group` is left out when
there is none.
"""

from __future__ import annotations

import json
from typing import Any

from builder.bake.model import FIELDS, Target
from builder.bake.resolve import Resolved

_ESCAPED = ("args", "labels", "annotations", "extra-hosts", "dockerfile-inline")


def _escape(text: str) -> str:
    return text.replace("${", "$${").replace("%{", "%%{")


def _entry(key: str, item: dict[str, Any]) -> dict[str, Any]:
    if key == "secret":
        return {k: item[k] for k in ("id", "src", "env") if item.get(k)}
    if key == "ssh":
        return {k: item[k] for k in ("id", "paths") if item.get(k)}
    return {k: item[k] for k in sorted(item)}


def target_json(target: Target) -> dict[str, Any]:
    """One target as buildx's JSON object."""
    out: dict[str, Any] = {}
    for spec in FIELDS:
        if spec.key == "inherits":
            continue
        value = getattr(target, spec.attr)
        if value is None or (spec.kind in ("list", "map", "entries") and not value):
            continue
        if spec.key == "description" and not value:
            continue
        escape = spec.key in _ESCAPED
        if spec.kind == "map":
            value = {
                k: (_escape(v) if escape and v is not None else v) for k, v in sorted(value.items())
            }
        elif spec.kind == "entries":
            value = [_entry(spec.key, item) for item in value]
        elif escape and isinstance(value, str):
            value = _escape(value)
        elif escape and isinstance(value, list):
            value = [_escape(v) for v in value]
        out[spec.key] = value
    return out


def definition_json(resolved: Resolved) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if resolved.groups:
        out["group"] = {}
        for name in sorted(resolved.groups):
            group = resolved.groups[name]
            body: dict[str, Any] = {}
            if group.description:
                body["description"] = group.description
            body["targets"] = list(group.targets)
            out["group"][name] = body
    out["target"] = {name: target_json(resolved.targets[name]) for name in sorted(resolved.targets)}
    return out


def render(resolved: Resolved) -> str:
    """The text `--print` writes (a final newline included)."""
    text = json.dumps(definition_json(resolved), indent=2, ensure_ascii=False)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, code)
    return text + "\n"
