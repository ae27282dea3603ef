"""dpkg: `/var/lib/dpkg/status`, and `/var/lib/dpkg/status.d/*` (distroless images).

Licenses come from `/usr/share/doc/PKG/copyright` when it is in Debian's
machine-readable format (its `License:` fields); other copyright files are
free text and give none.
"""

from __future__ import annotations

from collections.abc import Mapping

from builder.attest.packages.control import paragraphs
from builder.attest.packages.model import Package, purl
from builder.attest.packages.osrelease import Distro

STATUS = "var/lib/dpkg/status"
STATUS_D = "var/lib/dpkg/status.d/"
_COPYRIGHT_FORMAT = "copyright-format/1.0"


def read(files: Mapping[str, bytes], distro: Distro) -> list[Package]:
    sources = [STATUS] if STATUS in files else []
    sources += sorted(
        p for p in files if p.startswith(STATUS_D) and not p.endswith((".md5sums", ".list"))
    )
    found: list[Package] = []
    for source in sources:
        for fields in paragraphs(files[source].decode("utf-8", "replace")):
            package = _package(fields, source, distro, files)
            if package is not None:
                found.append(package)
    return found


def _package(
    fields: dict[str, str], source: str, distro: Distro, files: Mapping[str, bytes]
) -> Package | None:
    name, version = fields.get("Package", ""), fields.get("Version", "")
    status = fields.get("Status")
    if not name or not version or (status is not None and status.split()[-1:] != ["installed"]):
        return None
    arch = fields.get("Architecture", "")
    upstream = fields.get("Source", "").split(" ")[0]
    return Package(
        type="deb",
        name=name,
        version=version,
        purl=purl(
            "deb",
            distro.id or "debian",
            name,
            version,
            arch=arch,
            upstream=upstream if upstream != name else "",
            distro=distro.qualifier,
        ),
        location="/" + source,
        licenses=copyright_licenses(files.get(f"usr/share/doc/{name}/copyright", b"")),
        arch=arch,
        supplier=fields.get("Maintainer", ""),
        homepage=fields.get("Homepage", ""),
        description=fields.get("Description", "").split("\n")[0],
    )


def copyright_licenses(data: bytes) -> tuple[str, ...]:
    """The `License:` short names of a machine-readable copyright file, in first-seen order."""
    text = data.decode("utf-8", "replace")
    if _COPYRIGHT_FORMAT not in text.split("\n", 1)[0]:
        return ()
    found: dict[str, None] = {}
    for fields in paragraphs(text):
        name = fields.get("License", "").split("\n")[0].strip()
        if name:
            found[name] = None
    return tuple(found)
