"""Supply-chain attestations: SBOMs read from package databases, SLSA provenance,
and the in-toto attestation manifests that carry them beside an image.

- `rootfs`: the files package managers record, gathered from an image's layers
  (or from a directory) without unpacking the image;
- `packages`: one reader per package database (dpkg, apk, rpm, Python, npm);
- `spdx`, `cyclonedx`: SBOM documents; `provenance`: the SLSA v0.2 predicate;
- `statement`: in-toto statements; `manifest`: the attestation manifest and
  the index that lists it next to its image; `options`: `--sbom`,
  `--provenance` and `--attest`; `generate`: all of it for a built image,
  stored and linked to the image's record.
"""
