"""Python distributions: `*.dist-info/METADATA` (wheels, pip) and `*.egg-info` (setuptools).

Found anywhere in the image: site-packages and dist-packages of every
interpreter, virtual environments. Licenses: `License-Expression` (PEP 639),
else the `License` field when it is a short name, else the
`License :: ...` classifiers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.parser import HeaderParser

from builder.attest.packages.model import Package, purl
from builder.attest.packages.osrelease import Distro

_LONG_LICENSE = 80  #: a License field longer than this is the license text, not its name


def read(files: Mapping[str, bytes], distro: Distro) -> list[Package]:
    found: list[Package] = []
    for path in sorted(files):
        # an .egg-info may be a single file (old setuptools, Debian's python3-* packages)
        if not path.endswith((".dist-info/METADATA", ".egg-info/PKG-INFO", ".egg-info")):
            continue
        package = _package(files[path], "/" + path)
        if package is not None:
            found.append(package)
    return found


def normalize(name: str) -> str:
    """PEP 503's normal form, as pypi purls spell names."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _package(data: bytes, location: str) -> Package | None:
    meta = HeaderParser().parsestr(data.decode("utf-8", "replace"))
    name, version = (meta.get("Name") or "").strip(), (meta.get("Version") or "").strip()
    if not name or not version:
        return None
    return Package(
        type="pypi",
        name=name,
        version=version,
        purl=purl("pypi", None, normalize(name), version),
        location=location,
        licenses=_licenses(
            meta.get("License-Expression"), meta.get("License"), meta.get_all("Classifier") or []
        ),
        supplier=(meta.get("Author") or meta.get("Author-email") or "").strip(),
        homepage=(meta.get("Home-page") or "").strip(),
        description=(meta.get("Summary") or "").strip(),
    )


def _licenses(expression: str | None, field: str | None, classifiers: list[str]) -> tuple[str, ...]:
    if expression and expression.strip():
        return (expression.strip(),)
    if field and field.strip() and field.strip() != "UNKNOWN" and len(field) <= _LONG_LICENSE:
        return (field.strip(),)
    found = [
        c.rsplit("::", 1)[1].strip()
        for c in classifiers
        if c.startswith("License ::") and c.count("::") >= 2
    ]
    return tuple(dict.fromkeys(found))
