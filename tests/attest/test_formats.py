"""SBOM documents, license expressions, provenance predicates and the attestation options."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from builder.attest.cyclonedx import cyclonedx_document
from builder.attest.licenses import LicenseRefs, expression
from builder.attest.manifest import Attestation, attestation_manifest, attested_index
from builder.attest.options import AttestOptions, parse_attest_options
from builder.attest.packages.model import Package
from builder.attest.provenance import BuildFacts, Material, StepRecord, provenance_predicate
from builder.attest.spdx import spdx_document
from builder.attest.statement import SLSA_V02_PREDICATE, SPDX_PREDICATE, statement
from builder.attest.subject import ImageSubject
from builder.errors import UsageError
from builder.image.model import Descriptor, Index, Manifest
from builder.image.platform import Platform

SUBJECT = ImageSubject("sha256:" + "ab" * 32, "linux/amd64", ("docker.io/library/sshd:latest",))
SSH = Package(
    type="deb",
    name="openssh-server",
    version="1:9.2p1-2",
    purl="pkg:deb/debian/openssh-server@1:9.2p1-2?arch=amd64&distro=debian-12",
    location="/var/lib/dpkg/status",
    licenses=("BSD-2-clause", "public-domain"),
    supplier="Debian OpenSSH Maintainers <debian-ssh@lists.debian.org>",
)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("GPL-2+",), "GPL-2.0-or-later"),
        (("LGPL-2.1",), "LGPL-2.1-only"),
        (("BSD-3-clause", "Expat"), "BSD-3-Clause AND MIT"),
        (("MIT OR Apache-2.0",), "MIT OR Apache-2.0"),
        (("GPL-2+ or Artistic",), "GPL-2.0-or-later OR Artistic-1.0-Perl"),
        (("public-domain",), "LicenseRef-public-domain"),
        (("Some License",), "LicenseRef-Some-License"),
        (("GPL-2 with OpenSSL exception",), "LicenseRef-GPL-2-with-OpenSSL-exception"),
        ((), "NOASSERTION"),
    ],
)
def test_license_expressions(names: tuple[str, ...], expected: str) -> None:
    assert expression(names, LicenseRefs()) == expected


def test_spdx_document() -> None:
    doc = spdx_document(SUBJECT, [SSH], created="2026-01-01T00:00:00Z", tool="pybuild-0.1.0")
    assert doc["spdxVersion"] == "SPDX-2.3"
    assert doc["dataLicense"] == "CC0-1.0"
    assert doc["creationInfo"]["creators"] == ["Tool: pybuild-0.1.0"]
    image, ssh = doc["packages"]
    assert image["primaryPackagePurpose"] == "CONTAINER"
    assert ssh["versionInfo"] == "1:9.2p1-2"
    assert ssh["licenseDeclared"] == "BSD-2-Clause AND LicenseRef-public-domain"
    assert ssh["externalRefs"] == [
        {
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": SSH.purl,
        }
    ]
    assert ssh["supplier"] == "Person: Debian OpenSSH Maintainers (debian-ssh@lists.debian.org)"
    assert {"spdxElementId": image["SPDXID"], "relationshipType": "CONTAINS",
            "relatedSpdxElement": ssh["SPDXID"]} in doc["relationships"]  # fmt: skip
    assert doc["hasExtractedLicensingInfos"][0]["licenseId"] == "LicenseRef-public-domain"
    again = spdx_document(SUBJECT, [SSH], created="2026-01-01T00:00:00Z", tool="pybuild-0.1.0")
    assert again == doc  # the same image and time: the same document, namespace included


def test_cyclonedx_document() -> None:
    doc = cyclonedx_document(SUBJECT, [SSH], created="2026-01-01T00:00:00Z", tool="pybuild-0.1.0")
    assert (doc["bomFormat"], doc["specVersion"]) == ("CycloneDX", "1.5")
    assert doc["metadata"]["component"]["type"] == "container"
    (component,) = doc["components"]
    assert component["purl"] == SSH.purl
    assert component["licenses"] == [
        {"license": {"id": "BSD-2-Clause"}},
        {"license": {"name": "public-domain"}},
    ]


def test_statement_subject_names_the_image_manifest() -> None:
    doc = json.loads(statement(SUBJECT, SPDX_PREDICATE, {"x": 1}))
    assert doc["_type"] == "https://in-toto.io/Statement/v0.1"
    assert doc["subject"] == [
        {"name": "pkg:docker/docker.io/library/sshd@latest?platform=linux/amd64",
         "digest": {"sha256": "ab" * 32}}
    ]  # fmt: skip
    assert doc["predicateType"] == SPDX_PREDICATE


def facts(mode: str) -> BuildFacts:
    return BuildFacts(
        subject=SUBJECT,
        mode="max" if mode == "max" else "min",
        started="2026-01-01T00:00:00Z",
        finished="2026-01-01T00:01:00Z",
        invocation_id="x",
        build_platform="linux/amd64",
        dockerfile_name="Dockerfile",
        dockerfile=b"FROM debian\n",
        build_args={"VERSION": "1.2"},
        target="final",
        materials=[
            Material("pkg:docker/debian@bookworm?platform=linux%2Famd64", {"sha256": "cd" * 32})
        ],
        steps=[StepRecord("step0", "0", "FROM debian", 1)],
        secrets=("token",),
    )


def test_provenance_min_leaves_out_values() -> None:
    predicate = provenance_predicate(facts("min"))
    assert predicate["buildType"].startswith("urn:pybuild:")
    parameters = predicate["invocation"]["parameters"]
    assert parameters["frontend"] == "dockerfile.v0"
    assert parameters["args"] == {"target": "final"}
    assert "secrets" not in parameters
    assert "buildConfig" not in predicate
    assert predicate["metadata"]["completeness"]["parameters"] is False
    assert predicate["materials"][0]["digest"] == {"sha256": "cd" * 32}


def test_provenance_max_has_args_steps_and_dockerfile() -> None:
    predicate = provenance_predicate(facts("max"))
    parameters = predicate["invocation"]["parameters"]
    assert parameters["args"] == {"build-arg:VERSION": "1.2", "target": "final"}
    assert parameters["secrets"] == [{"id": "token", "optional": False}]
    assert predicate["buildConfig"]["steps"][0]["instruction"] == "FROM debian"
    source = predicate["metadata"]["https://mobyproject.org/buildkit@v1#metadata"]["source"]
    assert base64.b64decode(source["infos"][0]["data"]) == b"FROM debian\n"


def test_attestation_manifest_and_index_layout() -> None:
    made = attestation_manifest(
        [
            Attestation(SPDX_PREDICATE, b'{"a": 1}'),
            Attestation(SLSA_V02_PREDICATE, b'{"b": 2}'),
        ]
    )
    manifest = Manifest.from_bytes(made.manifest)
    assert manifest.config.media_type == "application/vnd.oci.image.config.v1+json"
    assert json.loads(made.config)["rootfs"]["diff_ids"] == [d.digest for d in manifest.layers]
    assert [d.media_type for d in manifest.layers] == ["application/vnd.in-toto+json"] * 2
    assert [d.annotations["in-toto.io/predicate-type"] for d in manifest.layers] == [
        SPDX_PREDICATE, SLSA_V02_PREDICATE,
    ]  # fmt: skip
    image = Descriptor("application/vnd.oci.image.manifest.v1+json", SUBJECT.manifest_digest, 500,
                       platform=Platform("linux", "amd64"))  # fmt: skip
    index = Index.from_bytes(attested_index([(image, made.descriptor(image.digest))]).to_bytes())
    first, second = index.manifests
    assert first.digest == image.digest
    assert second.platform == Platform("unknown", "unknown")
    assert second.annotations == {
        "vnd.docker.reference.type": "attestation-manifest",
        "vnd.docker.reference.digest": image.digest,
    }


@pytest.mark.parametrize(
    ("sbom", "provenance", "attest", "expected"),
    [
        (None, None, [], AttestOptions()),
        ("true", None, [], AttestOptions(sbom=True, provenance="min")),
        ("true", "false", [], AttestOptions(sbom=True)),
        (None, "true", [], AttestOptions(provenance="min")),
        (None, "mode=max", [], AttestOptions(provenance="max")),
        ("false", "max", [], AttestOptions(provenance="max")),
        (None, None, ["type=sbom"], AttestOptions(sbom=True, provenance="min")),
        (
            None,
            None,
            ["type=provenance,mode=max,builder-id=ci"],
            AttestOptions(provenance="max", builder_id="ci"),
        ),
        (None, None, ["type=sbom", "type=sbom,disabled=true"], AttestOptions()),
    ],
)
def test_options(
    sbom: str | None, provenance: str | None, attest: list[str], expected: AttestOptions
) -> None:
    assert parse_attest_options(sbom, provenance, attest) == expected


@pytest.mark.parametrize(
    ("sbom", "provenance", "attest", "message"),
    [
        ("generator=docker/scout-sbom-indexer", None, [], "generator images are not supported"),
        (None, "mode=huge", [], "mode must be min or max"),
        (None, "mode=max,version=v1", [], "only SLSA provenance version v0.2"),
        (None, None, ["type=vex"], "type must be sbom or provenance"),
        (None, None, ["type=sbom,what=1"], "unknown key 'what'"),
        ("maybe", None, [], "is not KEY=VALUE"),
    ],
)
def test_bad_options(
    sbom: str | None, provenance: str | None, attest: list[str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        parse_attest_options(sbom, provenance, attest)


def rich_tree(root: Path) -> Path:
    """A root filesystem with every kind of package database."""
    from tests.attest.test_packages import COPYRIGHT, DEBIAN_OS_RELEASE, DPKG_STATUS, make_tree

    return make_tree(
        root,
        {
            "etc/os-release": DEBIAN_OS_RELEASE,
            "var/lib/dpkg/status": DPKG_STATUS,
            "usr/share/doc/openssh-server/copyright": COPYRIGHT,
            "lib/apk/db/installed": "P:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT OR Weird-License\n\n",
            "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA": (
                "Name: six\nVersion: 1.16.0\nClassifier: License :: OSI Approved :: MIT License\n"
            ),
            "srv/node_modules/@babel/core/package.json": json.dumps(
                {
                    "name": "@babel/core",
                    "version": "7.24.0",
                    "license": "MIT",
                    "author": {"name": "Sebastian", "email": "s@example.com"},
                }
            ),
        },
    )


def test_documents_pass_the_spdx_and_cyclonedx_validators(tmp_path: Path) -> None:
    """The reference validators (spdx-tools, cyclonedx-python-lib) accept what pybuild writes."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    from builder.attest.generate import sbom_document
    from builder.attest.rootfs import from_directory

    files = from_directory(rich_tree(tmp_path / "root"))
    spdx = sbom_document(SUBJECT, files, fmt="spdx-json", created="2026-01-01T00:00:00Z")
    assert len(spdx["packages"]) == 1 + 5  # the image, then base-files, openssh-server, musl...
    path = tmp_path / "sbom.spdx.json"
    path.write_text(json.dumps(spdx))
    problems = validate_full_spdx_document(parse_file(str(path)))
    assert [p.validation_message for p in problems] == []
    cdx = sbom_document(SUBJECT, files, fmt="cyclonedx-json", created="2026-01-01T00:00:00Z")
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(json.dumps(cdx)) is None
