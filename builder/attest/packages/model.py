"""A package as an SBOM lists it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Package:
    """One installed package, as its package manager recorded it."""

    type: str  #: the purl type: deb, apk, rpm, pypi, npm
    name: str
    version: str
    purl: str  #: package URL (`pkg:deb/debian/openssh-server@1:9.2p1-2?arch=amd64&...`)
    location: str  #: the file it was read from, absolute in the image (`/var/lib/dpkg/status`)
    licenses: tuple[str, ...] = ()  #: as recorded (Debian short names, SPDX ids, free text)
    arch: str = ""
    supplier: str = ""  #: maintainer or author, as recorded
    homepage: str = ""
    description: str = ""  #: the one-line summary
    layer: str = ""  #: digest of the layer that wrote `location`, when known


def purl(type_: str, namespace: str | None, name: str, version: str, **qualifiers: str) -> str:
    """A package URL string (packageurl-python does the escaping)."""
    from packageurl import PackageURL

    kept = {k: v for k, v in qualifiers.items() if v}
    return str(
        PackageURL(
            type=type_, namespace=namespace or None, name=name, version=version or None,
            qualifiers=kept or None,
        ).to_string()
    )  # fmt: skip
