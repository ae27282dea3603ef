"""npm: `package.json` of each package under a `node_modules` directory."""

from __future__ import annotations

import json
from collections.abc import Mapping

from builder.attest.packages.model import Package, purl
from builder.attest.packages.osrelease import Distro


def read(files: Mapping[str, bytes], distro: Distro) -> list[Package]:
    found: list[Package] = []
    for path in sorted(files):
        if not path.endswith("/package.json") or "node_modules/" not in path:
            continue
        try:
            doc = json.loads(files[path])
        except ValueError:
            continue
        if not isinstance(doc, dict):
            continue
        name, version = doc.get("name"), doc.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
            continue
        scope, _, short = name.rpartition("/")
        found.append(
            Package(
                type="npm",
                name=name,
                version=version,
                purl=purl("npm", scope or None, short, version),
                location="/" + path,
                licenses=_licenses(doc),
                supplier=_person(doc.get("author")),
                homepage=_text(doc.get("homepage")),
                description=_text(doc.get("description")),
            )
        )
    return found


def _licenses(doc: dict[str, object]) -> tuple[str, ...]:
    """`license` (a string, or the old `{type}` object), else the old `licenses` list."""
    value = doc.get("license")
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return (value["type"],)
    items = doc.get("licenses")
    if isinstance(items, list):
        return tuple(
            str(i["type"]) if isinstance(i, dict) and "type" in i else str(i)
            for i in items
            if isinstance(i, str | dict)
        )
    return ()


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _person(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        email = value.get("email")
        return value["name"] + (f" <{email}>" if isinstance(email, str) else "")
    return ""
