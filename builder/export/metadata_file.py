"""`pybuild build --metadata-file FILE`: the build result as buildx writes it.

```json
{
  "containerimage.config.digest": "sha256:<config>",
  "containerimage.descriptor": {
    "annotations": {"config.digest": "sha256:<config>",
                    "org.opencontainers.image.created": "<created>"},
    "digest": "sha256:<manifest>",
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "size": 506
  },
  "containerimage.digest": "sha256:<manifest>",
  "image.name": "docker.io/library/app:1,localhost:5000/app:1"
}
```

Keys sorted and indented by two spaces, as Go's json.MarshalIndent of a map.
`image.name` (full names, comma-joined) is left out for an unnamed image;
the `created` annotation when the config has no `created`. buildx's own
keys (`buildx.build.ref`, provenance) have no meaning here and are not written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from builder.export.atomic_file import write_atomically

if TYPE_CHECKING:
    from builder.store import ImageRecord, IndexRecord, Store

__all__ = ["build_metadata", "write_metadata_file"]


def build_metadata(
    store: Store,
    record: ImageRecord | IndexRecord,
    *,
    names: Sequence[str] | None = None,
    pushed_digest: str | None = None,
) -> dict[str, Any]:
    """The metadata document for `record` (names default to the record's names).

    An image with attestations is described by its index [image, attestation
    manifest], as buildx does. For a multi-platform image (an index record) the
    descriptor is the index's, with no config digest, as BuildKit writes it.
    """
    from builder.store import IndexRecord

    if isinstance(record, IndexRecord):
        document: dict[str, Any] = {
            "containerimage.descriptor": {
                "digest": record.digest,
                "mediaType": record.media_type,
                "size": store.blob_size(record.digest),
            },
            "containerimage.digest": record.digest,
        }
        chosen_names = record.names if names is None else tuple(names)
        if chosen_names:
            document["image.name"] = ",".join(chosen_names)
        return document
    digest = pushed_digest or record.manifest_digest
    media_type, size = record.media_type, store.blob_size(record.manifest_digest)
    if record.attestations is not None:
        from builder.attest.generate import attested_image_index
        from builder.image.digest import sha256_digest

        index = attested_image_index(store, record)
        assert index is not None
        data = index.to_bytes()
        media_type, size, digest = index.media_type, len(data), sha256_digest(data)
    annotations = {"config.digest": record.config_digest}
    if record.created:
        annotations["org.opencontainers.image.created"] = record.created
    metadata: dict[str, Any] = {
        "containerimage.config.digest": record.config_digest,
        "containerimage.descriptor": {
            "annotations": annotations,
            "digest": digest,
            "mediaType": media_type,
            "size": size,
        },
        "containerimage.digest": digest,
    }
    chosen = record.names if names is None else tuple(names)
    if chosen:
        metadata["image.name"] = ",".join(chosen)
    return metadata


def write_metadata_file(
    path: Path | str,
    record: ImageRecord | IndexRecord,
    *,
    store: Store,
    pushed_digest: str | None = None,
    names: Sequence[str] | None = None,
) -> None:
    """Write the metadata document to `path` atomically (parent directories are made)."""
    document = build_metadata(store, record, names=names, pushed_digest=pushed_digest)
    data = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False).encode()

    def write(out: BinaryIO) -> None:
        out.write(data)

    write_atomically(Path(path), write)
