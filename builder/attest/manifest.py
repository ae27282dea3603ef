"""Attestation manifests, and the index that lists one beside its image (BuildKit's layout).

An attestation manifest is an OCI image manifest whose layers are in-toto
statements (`application/vnd.in-toto+json`, each annotated with
`in-toto.io/predicate-type`) and whose config is a tiny image config of
platform unknown/unknown listing the statements' digests as diff IDs
(BuildKit's default, `oci-artifact=false`). The index lists every image
manifest first, then one attestation manifest per image, with platform
unknown/unknown and the annotations `vnd.docker.reference.type:
attestation-manifest` and `vnd.docker.reference.digest: <image manifest>`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from builder.errors import ImageError
from builder.image import mediatypes
from builder.image.digest import sha256_digest
from builder.image.model import Descriptor, Index, Manifest
from builder.image.platform import Platform

IN_TOTO = "application/vnd.in-toto+json"
PREDICATE_TYPE = "in-toto.io/predicate-type"
REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"
ATTESTATION_MANIFEST = "attestation-manifest"
UNKNOWN_PLATFORM = Platform("unknown", "unknown")
#: where `-o type=local|tar` writes each kind of statement (BuildKit's names)
SBOM_FILE = "sbom.spdx.json"
PROVENANCE_FILE = "provenance.json"


@dataclass(frozen=True)
class Attestation:
    """One in-toto statement to attach."""

    predicate_type: str
    data: bytes  #: the statement's JSON


@dataclass(frozen=True)
class AttestationManifest:
    """The documents of one attestation manifest, ready to store or push."""

    manifest: bytes
    config: bytes
    layers: tuple[tuple[Descriptor, bytes], ...]  #: each statement's descriptor and bytes

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)

    def descriptor(self, image_manifest: str) -> Descriptor:
        """The index entry of this manifest, for the image manifest `image_manifest`."""
        return Descriptor(
            mediatypes.OCI_MANIFEST,
            self.digest,
            len(self.manifest),
            annotations={REFERENCE_TYPE: ATTESTATION_MANIFEST, REFERENCE_DIGEST: image_manifest},
            platform=UNKNOWN_PLATFORM,
        )


def attestation_manifest(attestations: Sequence[Attestation]) -> AttestationManifest:
    """The manifest carrying `attestations` (in order) and its config."""
    layers = []
    for item in attestations:
        descriptor = Descriptor(
            IN_TOTO,
            sha256_digest(item.data),
            len(item.data),
            annotations={PREDICATE_TYPE: item.predicate_type},
        )
        layers.append((descriptor, item.data))
    config = json.dumps(
        {
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [d.digest for d, _ in layers]},
        },
        separators=(",", ":"),
    ).encode()
    manifest = Manifest(
        config=Descriptor(mediatypes.OCI_CONFIG, sha256_digest(config), len(config)),
        layers=tuple(d for d, _ in layers),
        media_type=mediatypes.OCI_MANIFEST,
    )
    return AttestationManifest(manifest.to_bytes(), config, tuple(layers))


def attested_index(entries: Sequence[tuple[Descriptor, Descriptor | None]]) -> Index:
    """THE index of images and their attestations: [(image manifest, attestation manifest)].

    Image manifests come first, in order, then the attestation manifest of
    each image that has one (BuildKit's order). Descriptors are given with
    their platform; an attestation descriptor comes from
    `AttestationManifest.descriptor` (platform unknown/unknown, reference
    annotations).
    """
    images = [image for image, _ in entries]
    attestations = [att for _, att in entries if att is not None]
    return Index(manifests=(*images, *attestations), media_type=mediatypes.OCI_INDEX)


def is_attestation(descriptor: Descriptor) -> bool:
    """An index entry that is an attestation manifest (not something to run)."""
    return descriptor.annotations.get(REFERENCE_TYPE) == ATTESTATION_MANIFEST


def statements_of(manifest: Manifest) -> list[Descriptor]:
    """The in-toto layers of an attestation manifest (other media types are ignored)."""
    return [layer for layer in manifest.layers if layer.media_type == IN_TOTO]


def parse_statement(data: bytes, where: str) -> dict[str, object]:
    try:
        doc = json.loads(data)
    except ValueError as err:
        raise ImageError(f"{where}: not a JSON in-toto statement ({err})") from None
    if not isinstance(doc, dict) or "predicateType" not in doc:
        raise ImageError(f"{where}: not an in-toto statement")
    return doc
