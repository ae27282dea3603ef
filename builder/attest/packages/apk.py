"""apk (Alpine): `/lib/apk/db/installed`, one `X:value` line per field."""

from __future__ import annotations

from collections.abc import Mapping

from builder.attest.packages.model import Package, purl
from builder.attest.packages.osrelease import Distro

INSTALLED = "lib/apk/db/installed"


def read(files: Mapping[str, bytes], distro: Distro) -> list[Package]:
    data = files.get(INSTALLED)
    if data is None:
        return []
    found: list[Package] = []
    for block in data.decode("utf-8", "replace").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep and len(key) == 1 and key not in fields:  # F:/R: repeat: only the first counts
                fields[key] = value
        name, version = fields.get("P", ""), fields.get("V", "")
        if not name or not version:
            continue
        arch, origin = fields.get("A", ""), fields.get("o", "")
        found.append(
            Package(
                type="apk",
                name=name,
                version=version,
                purl=purl(
                    "apk",
                    distro.id or "alpine",
                    name,
                    version,
                    arch=arch,
                    upstream=origin if origin != name else "",
                    distro=distro.qualifier,
                ),
                location="/" + INSTALLED,
                licenses=(fields["L"],) if fields.get("L") else (),
                arch=arch,
                supplier=fields.get("m", ""),
                homepage=fields.get("U", ""),
                description=fields.get("T", ""),
            )
        )
    return found
