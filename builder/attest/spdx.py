"""SPDX 2.3 JSON documents of an image's packages.

The image is the document's one described package (purpose CONTAINER); it
CONTAINS every package found. Each package has its purl as a
PACKAGE-MANAGER external reference, its recorded licenses as
`licenseDeclared`, and the database it was read from as `sourceInfo`.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from typing import Any

from builder.attest.licenses import LicenseRefs, expression
from builder.attest.packages.model import Package
from builder.attest.subject import ImageSubject

SPDX_VERSION = "SPDX-2.3"
_NOT_ID = re.compile(r"[^A-Za-z0-9.-]+")


def spdx_document(
    subject: ImageSubject, packages: Sequence[Package], *, created: str, tool: str
) -> dict[str, Any]:
    """The document; `created` is an RFC 3339 UTC time, `tool` `pybuild-<version>`."""
    refs = LicenseRefs()
    seed = f"{subject.manifest_digest} {created}"
    image_id = "SPDXRef-image"
    doc_packages: list[dict[str, Any]] = [
        {
            "SPDXID": image_id,
            "name": subject.title,
            "versionInfo": subject.manifest_digest,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "CONTAINER",
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": p,
                }
                for p in subject.purls()
                if p != "_"
            ],
        }
    ]
    relationships = [
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": image_id,
        }
    ]
    seen: set[str] = set()
    for package in packages:
        spdx_id = _package_id(package, seen)
        entry: dict[str, Any] = {
            "SPDXID": spdx_id,
            "name": package.name,
            "versionInfo": package.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": expression(package.licenses, refs),
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "LIBRARY"
            if package.type in ("pypi", "npm")
            else "APPLICATION",
            "sourceInfo": f"acquired package info from {package.location}",
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": package.purl,
                }
            ],
        }
        if package.type in ("pypi", "npm"):
            entry["primaryPackagePurpose"] = "LIBRARY"
        if package.supplier:
            entry["supplier"] = _agent(package.supplier)
        if package.homepage:
            entry["homepage"] = package.homepage
        if package.description:
            entry["summary"] = package.description
        if package.layer:
            entry["comment"] = f"layerID: {package.layer}"
        doc_packages.append(entry)
        relationships.append(
            {
                "spdxElementId": image_id,
                "relationshipType": "CONTAINS",
                "relatedSpdxElement": spdx_id,
            }
        )
    doc: dict[str, Any] = {
        "spdxVersion": SPDX_VERSION,
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": subject.title,
        "documentNamespace": "https://spdx.org/spdxdocs/pybuild/"
        + str(uuid.uuid5(uuid.NAMESPACE_URL, seed)),
        "creationInfo": {"created": created, "creators": [f"Tool: {tool}"]},
        "packages": doc_packages,
        "relationships": relationships,
    }
    if refs.texts:
        doc["hasExtractedLicensingInfos"] = [
            {"licenseId": ident, "extractedText": text, "name": text}
            for ident, text in sorted(refs.texts.items())
        ]
    return doc


def _package_id(package: Package, seen: set[str]) -> str:
    digest = hashlib.sha256(f"{package.purl} {package.location}".encode()).hexdigest()[:16]
    ident = _NOT_ID.sub("-", f"SPDXRef-Package-{package.type}-{package.name}-{digest}")
    while ident in seen:
        ident += "-1"
    seen.add(ident)
    return ident


def _agent(text: str) -> str:
    """`Person: NAME (EMAIL)` from `NAME <EMAIL>`; an SPDX supplier is a person or organization."""
    match = re.fullmatch(r"\s*(.*?)\s*<([^>]*)>\s*", text)
    if match:
        return f"Person: {match.group(1)} ({match.group(2)})"
    return f"Person: {text.strip()}"
