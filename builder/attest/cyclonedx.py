"""CycloneDX 1.5 JSON documents of an image's packages (`pybuild sbom --format cyclonedx-json`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from builder.attest.licenses import spdx_id
from builder.attest.packages.model import Package
from builder.attest.subject import ImageSubject

SPEC_VERSION = "1.5"


def cyclonedx_document(
    subject: ImageSubject, packages: Sequence[Package], *, created: str, tool: str
) -> dict[str, Any]:
    """The BOM; the image is `metadata.component` (type container), the packages `components`.

    `tool` is `name-version` (`pybuild-0.1.0`).
    """
    name, _, tool_version = tool.partition("-")
    components = []
    seen: set[str] = set()
    for package in packages:
        ref = package.purl if package.purl not in seen else f"{package.purl}#{package.location}"
        seen.add(ref)
        component: dict[str, Any] = {
            "type": "library" if package.type in ("pypi", "npm") else "application",
            "bom-ref": ref,
            "name": package.name,
            "version": package.version,
            "purl": package.purl,
            "properties": [
                {"name": "pybuild:package:type", "value": package.type},
                {"name": "pybuild:location", "value": package.location},
            ],
        }
        licenses = _licenses(package.licenses)
        if licenses:
            component["licenses"] = licenses
        if package.description:
            component["description"] = package.description
        if package.supplier:
            component["author"] = package.supplier
        if package.layer:
            component["properties"].append({"name": "pybuild:layer", "value": package.layer})
        components.append(component)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": "urn:uuid:"
        + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{subject.manifest_digest} {created}")),
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {
                "components": [{"type": "application", "name": name, "version": tool_version}]
            },
            "component": {
                "type": "container",
                "bom-ref": subject.manifest_digest,
                "name": subject.title,
                "version": subject.manifest_digest,
            },
        },
        "components": components,
    }


def _licenses(names: tuple[str, ...]) -> list[dict[str, Any]]:
    """A known single id as `license.id`, an expression as `expression`, else `license.name`."""
    out: list[dict[str, Any]] = []
    for name in names:
        known = spdx_id(name)
        if known:
            out.append({"license": {"id": known}})
        elif any(op in name for op in (" OR ", " AND ", " WITH ")):
            return [{"expression": name}]  # an expression must stand alone
        else:
            out.append({"license": {"name": name}})
    return out
