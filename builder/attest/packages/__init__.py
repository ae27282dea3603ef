"""What package managers recorded in a root filesystem: one reader per database.

`find_packages(files)` runs them all over a `RootFiles` and returns the
packages sorted by type and name. Each reader takes the files and the
distribution (`osrelease.Distro`, for package URLs) and returns `Package`s;
a damaged record is skipped, never fatal: an SBOM lists what can be read.
"""

from __future__ import annotations

from collections.abc import Mapping

from builder.attest.packages.model import Package
from builder.attest.packages.osrelease import Distro, read_distro

__all__ = ["Distro", "Package", "find_packages", "read_distro"]


def find_packages(
    files: Mapping[str, bytes], origin: Mapping[str, str] | None = None
) -> list[Package]:
    """Every package the databases in `files` list; `origin` maps paths to layer digests."""
    from builder.attest.packages import apk, dpkg, npm, python, rpm

    distro = read_distro(files)
    found: list[Package] = []
    for reader in (dpkg.read, apk.read, rpm.read, python.read, npm.read):
        found.extend(reader(files, distro))
    if origin:
        from dataclasses import replace

        found = [replace(p, layer=origin.get(p.location.lstrip("/"), "")) for p in found]
    return sorted(found, key=lambda p: (p.type, p.name, p.version, p.location))
