"""Attestations of stored images: SBOMs made, statements attached, and read back.

    files = rootfs.from_layers(store, manifest.layers)
    att = sbom_attestation(subject, files, created=...)
    record = attach(store, record, [att, provenance_attestation(facts)])

`attach` stores the statements, their attestation manifest and the index
listing image and attestations, and links them to the image's record, so
push, `-o type=oci` and `pybuild attestations` find them.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from builder.attest import manifest as am
from builder.attest.provenance import BuildFacts, provenance_predicate
from builder.attest.rootfs import RootFiles
from builder.attest.statement import SLSA_V02_PREDICATE, SPDX_PREDICATE, statement
from builder.attest.subject import ImageSubject
from builder.image.model import Descriptor, Index, Manifest

if TYPE_CHECKING:
    from builder.store import ImageRecord, Store


def tool_name() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"pybuild-{version('pybuild')}"
    except PackageNotFoundError:
        return "pybuild"


def rfc3339(epoch: float | None = None) -> str:
    """UTC time in whole seconds: `epoch` (SOURCE_DATE_EPOCH), else now."""
    moment = (
        datetime.datetime.now(datetime.UTC)
        if epoch is None
        else datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def image_subject(store: Store, record: ImageRecord) -> ImageSubject:
    platform = store.config(record).platform
    return ImageSubject(record.manifest_digest, str(platform), record.names)


def image_files(store: Store, record: ImageRecord) -> RootFiles:
    from builder.attest.rootfs import from_layers

    return from_layers(store, store.manifest(record).layers)


def sbom_document(
    subject: ImageSubject, files: RootFiles, *, fmt: str = "spdx-json", created: str
) -> dict[str, Any]:
    """The SBOM of a root filesystem: `spdx-json` or `cyclonedx-json`."""
    from builder.attest.packages import find_packages

    packages = find_packages(files, files.origin)
    tool = tool_name()
    if fmt == "cyclonedx-json":
        from builder.attest.cyclonedx import cyclonedx_document

        return cyclonedx_document(subject, packages, created=created, tool=tool)
    from builder.attest.spdx import spdx_document

    return spdx_document(subject, packages, created=created, tool=tool)


def sbom_attestation(
    subject: ImageSubject, files: RootFiles, *, created: str, stage: str = ""
) -> am.Attestation:
    """The SPDX statement of the image (or, with `stage`, of a stage built for it)."""
    document = sbom_document(subject, files, created=created)
    if stage:  # local outputs name its file `sbom-<stage>.spdx.json` (`attestation_files`)
        document["comment"] = f"stage: {stage}"
        document["name"] = f"{document['name']} (stage {stage})"
    return am.Attestation(SPDX_PREDICATE, statement(subject, SPDX_PREDICATE, document))


def provenance_attestation(facts: BuildFacts) -> am.Attestation:
    data = statement(facts.subject, SLSA_V02_PREDICATE, provenance_predicate(facts))
    return am.Attestation(SLSA_V02_PREDICATE, data)


def image_descriptor(store: Store, record: ImageRecord) -> Descriptor:
    """The image manifest's descriptor with its platform, as an index lists it."""
    platform = store.config(record).platform
    return Descriptor(
        record.media_type,
        record.manifest_digest,
        store.blob_size(record.manifest_digest),
        platform=platform if platform.os and platform.architecture else None,
    )


def attach(
    store: Store, record: ImageRecord, attestations: Sequence[am.Attestation]
) -> ImageRecord:
    """Store `attestations` as the image's attestation manifest; return the updated record."""
    made = am.attestation_manifest(attestations)
    with store.lease():
        for _, data in made.layers:
            store.put_blob(data)
        store.put_blob(made.config)
        store.put_blob(made.manifest)
        index = am.attested_index(
            [(image_descriptor(store, record), made.descriptor(record.manifest_digest))]
        )
        index_digest = store.put_blob(index.to_bytes())
        return store.set_attestations(record.id, made.digest, extra_blobs=(index_digest,))


def attestation_descriptor(store: Store, record: ImageRecord) -> Descriptor | None:
    """The index entry of an image's attestation manifest; None without attestations."""
    if record.attestations is None:
        return None
    return Descriptor(
        "application/vnd.oci.image.manifest.v1+json",
        record.attestations,
        store.blob_size(record.attestations),
        annotations={
            am.REFERENCE_TYPE: am.ATTESTATION_MANIFEST,
            am.REFERENCE_DIGEST: record.manifest_digest,
        },
        platform=am.UNKNOWN_PLATFORM,
    )


def attested_image_index(store: Store, record: ImageRecord) -> Index | None:
    """The index [image manifest, attestation manifest] of an image; None without attestations."""
    attestation = attestation_descriptor(store, record)
    if attestation is None:
        return None
    return am.attested_index([(image_descriptor(store, record), attestation)])


@dataclass(frozen=True)
class StoredAttestation:
    """One statement of an image's attestation manifest."""

    descriptor: Descriptor
    data: bytes

    @property
    def predicate_type(self) -> str:
        return self.descriptor.annotations.get(am.PREDICATE_TYPE, "")

    def document(self) -> dict[str, Any]:
        return am.parse_statement(self.data, f"attestation {self.descriptor.digest}")


def attestation_blobs(store: Store, record: ImageRecord) -> list[tuple[str, int]]:
    """(digest, size) of the attestation manifest, its config and statements ([] if none)."""
    if record.attestations is None:
        return []
    manifest = Manifest.from_bytes(store.read_blob(record.attestations))
    blobs = [(record.attestations, store.blob_size(record.attestations))]
    blobs += [(d.digest, d.size) for d in (manifest.config, *manifest.layers)]
    return blobs


def stored_attestations(store: Store, record: ImageRecord) -> list[StoredAttestation]:
    """The statements attached to an image, in manifest order ([] if none)."""
    if record.attestations is None:
        return []
    manifest = Manifest.from_bytes(store.read_blob(record.attestations))
    return [StoredAttestation(d, store.read_blob(d.digest)) for d in am.statements_of(manifest)]


def attestation_files(store: Store, record: ImageRecord) -> dict[str, bytes]:
    """File name -> statement JSON, for `-o type=local|tar` (BuildKit's names)."""
    files: dict[str, bytes] = {}
    for item in stored_attestations(store, record):
        doc = item.document()
        if item.predicate_type == SLSA_V02_PREDICATE:
            name = am.PROVENANCE_FILE
        else:
            stage = _stage_of(doc)
            name = f"sbom-{stage}.spdx.json" if stage else am.SBOM_FILE
        files[name] = json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n"
    return files


def _stage_of(doc: dict[str, Any]) -> str:
    """The stage an SBOM statement describes (the `pybuild:stage` name of its document)."""
    predicate = doc.get("predicate")
    if isinstance(predicate, dict):
        comment = predicate.get("comment")
        if isinstance(comment, str) and comment.startswith("stage: "):
            return comment[len("stage: ") :]
    return ""
